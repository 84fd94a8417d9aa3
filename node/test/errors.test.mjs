// Errors carry the core's stable `code`; bad input changes nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'

import { DxForge, errorCodes } from 'dxforge'
import { EXIT_WITH, expectCode, tempDir, tempForge } from './helpers.mjs'

test('errorCodes lists the 17 stable codes in the core order', () => {
  const codes = errorCodes()
  assert.equal(codes.length, 17)
  assert.equal(codes[0], 'OTHER')
  assert.equal(codes[3], 'NOT_FOUND')
  assert.equal(codes[13], 'CLOSED')
  assert.equal(codes[16], 'INTERNAL')
  assert.equal(new Set(codes).size, 17)
  for (const c of codes) assert.match(c, /^[A-Z_]+$/)
})

test('unknown tools are NOT_FOUND from sync and Promise methods alike', async (t) => {
  const forge = tempForge(t)
  for (const call of [
    () => forge.status('nope'),
    () => forge.state('nope'),
    () => forge.tool('nope'),
    () => forge.logs('nope'),
    () => forge.ensureRunning('nope'),
    () => forge.executeTool('nope', []),
    () => forge.stop('nope'),
  ]) {
    const e = await expectCode(call, 'NOT_FOUND', 'nope')
    assert.ok(errorCodes().includes(e.code))
  }
})

test('a Promise method rejects rather than throwing synchronously', async (t) => {
  const forge = tempForge(t)
  const p = forge.ensureRunning('nope')
  assert.ok(p instanceof Promise)
  await assert.rejects(p, { code: 'NOT_FOUND' })
})

test('dependency errors are DEPENDENCY and register nothing', async (t) => {
  const forge = tempForge(t)
  await expectCode(() => forge.registerTool({ name: 'web', binaryPath: EXIT_WITH, dependencies: ['db'] }), 'DEPENDENCY', 'db')
  assert.deepEqual(forge.toolNames(), [])
  await expectCode(() => forge.status('web'), 'NOT_FOUND')
})

test('invalid definitions are INVALID_ARGUMENT and change nothing', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'ok', binaryPath: EXIT_WITH })
  await expectCode(
    () => forge.registerTool({ name: 'h', binaryPath: EXIT_WITH, health: { tcp: '127.0.0.1:1', http: 'http://127.0.0.1:1/' } }),
    'INVALID_ARGUMENT',
    'health',
  )
  await expectCode(() => forge.registerTool({ name: 'h', binaryPath: EXIT_WITH, health: {} }), 'INVALID_ARGUMENT', 'health')
  await expectCode(() => forge.registerTool({ name: '', binaryPath: EXIT_WITH }), 'INVALID_ARGUMENT')
  assert.deepEqual(forge.toolNames(), ['ok'])
})

test('a binary that does not exist fails to start with TOOL_FAILED and leaves the tool degraded', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'ghost', binaryPath: '/nonexistent/dxforge-ghost', restart: 'never' })
  await expectCode(() => forge.ensureRunning('ghost'), 'TOOL_FAILED', 'ghost')
  assert.equal(forge.status('ghost').status, 'degraded')
  assert.ok(forge.state('ghost').lastError)
})

test('a malformed pipeline command is USAGE', async (t) => {
  const forge = tempForge(t)
  await expectCode(() => forge.runPipeline('frobnicate'), 'USAGE', 'frobnicate')
  await expectCode(() => forge.runPipeline("run 'unclosed"), 'USAGE')
})

test('opening a missing directory is IO; a malformed dxforge.toml is CONFIG naming the file', async (t) => {
  const dir = tempDir(t)
  await expectCode(() => new DxForge(`${dir}/missing`), 'IO', 'missing')
  await expectCode(() => DxForge.open(`${dir}/missing`), 'IO')
  writeFileSync(`${dir}/dxforge.toml`, '[tools.x]\nbinary_path = 5\n')
  await expectCode(() => new DxForge(dir), 'CONFIG', 'dxforge.toml')
})

test('wrong argument types throw a clear error naming the expected type and change nothing', (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'ok', binaryPath: EXIT_WITH })
  const cases = [
    [() => forge.status(42), /String/],
    [() => forge.registerTool({ name: 5, binaryPath: EXIT_WITH }), /DxToolDefinition\.name/],
    [() => forge.registerTool({ name: 'x' }), /binaryPath|binary_path/],
    [() => forge.registerTool('x'), /name|Object|object/],
    [() => forge.registerTool({ name: 'x', binaryPath: EXIT_WITH, restart: 'sometimes' }), /sometimes|RestartPolicy/],
    [() => forge.registerTool({ name: 'x', binaryPath: EXIT_WITH, args: 'a b' }), /Array|array/],
    [() => forge.logs('ok', 'ten'), /u32|Number|number/],
    [() => forge.onStatusChange('not a function'), /Function|function/],
    [() => forge.executeTool('ok', [1, 2]), /String/],
    [() => new DxForge(7), /String/],
  ]
  for (const [call, message] of cases) {
    assert.throws(call, (e) => e instanceof Error && typeof e.code === 'string' && message.test(e.message), String(call))
  }
  assert.deepEqual(forge.toolNames(), ['ok'])
})
