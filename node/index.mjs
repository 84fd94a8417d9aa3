// ESM entry of the `dxforge` package: the same native binding as `require('dxforge')`.
// esm.test.mjs checks that every export of index.js is re-exported here.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const {
  DxForge,
  errorCodes,
  // String enums as runtime objects, e.g. TrafficLight.Red === 'red' (the
  // TypeScript types are the string unions).
  BackgroundTaskKind,
  DependencyCondition,
  FileAction,
  Recovery,
  RestartPolicy,
  TaskReportKind,
  TaskStateKind,
  ToolStatusKind,
  TrafficLight,
} = binding
export default binding
