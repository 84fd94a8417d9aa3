// ESM entry of the `dxforge` package: the same native binding as `require('dxforge')`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const { DxForge, errorCodes } = binding
export default binding
