// The package loads through both `import` and `require`, with the same class,
// and ships generated TypeScript definitions with the doc comments.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

import defaultExport, { DxForge, errorCodes } from 'dxforge'
import * as namespace from 'dxforge'

const require = createRequire(import.meta.url)

test('import and require give the same binding', () => {
  const cjs = require('dxforge')
  assert.equal(DxForge, cjs.DxForge)
  assert.equal(errorCodes, cjs.errorCodes)
  assert.equal(defaultExport.DxForge, DxForge)
  for (const name of Object.keys(cjs).filter((k) => !k.startsWith('__'))) {
    assert.ok(name in defaultExport, `${name} is reachable from ESM`)
    assert.ok(name in namespace, `${name} is a named ESM export (add it to index.mjs)`)
  }
  assert.equal(typeof DxForge.open, 'function')
  assert.equal(typeof DxForge.prototype.ensureRunning, 'function')
})

test('index.d.ts declares every method with its documentation', () => {
  const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
  for (const sig of [
    'export declare class DxForge',
    'constructor(root?: string | undefined | null)',
    'static open(root: string): DxForge',
    'registerTool(def: DxToolDefinition): void',
    'ensureRunning(name: string): Promise<ToolStatus>',
    'executeTool(name: string, args?: Array<string> | undefined | null): Promise<ExecOutput>',
    'status(name: string): ToolStatus',
    'onStatusChange(callback: (event: ToolEvent) => void): number',
    'close(): Promise<void>',
    'runPipeline(command: string): Promise<PipelineOutcome>',
    "export type ToolStatusKind = 'stopped' | 'starting' | 'running' | 'healthy' | 'degraded'",
    'stdout: Buffer',
  ]) {
    assert.ok(dts.includes(sig), `index.d.ts lacks: ${sig}`)
  }
  assert.match(dts, /\/\*\*[^/]*Starts `name` and its dependency closure/)
})
