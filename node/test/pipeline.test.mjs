// runPipeline runs the CLI's command strings in-process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'

import { DxForge } from 'dxforge'
import { EXIT_WITH, tempDir, tempForge } from './helpers.mjs'

test('status prints one line per tool and the same as JSON', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH })
  const out = await forge.runPipeline('status')
  assert.equal(out.exitCode, 0)
  assert.match(out.text, /^lint\s+stopped/m)
  assert.ok(Array.isArray(out.json.tools), JSON.stringify(out.json))
  assert.equal(out.json.tools[0].name, 'lint')
})

test('run passes arguments and returns the tool exit code as a result', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH })
  const out = await forge.runPipeline("run lint -- 3 'two words'")
  assert.equal(out.exitCode, 3)
  assert.match(out.text, /two words/)
  const dxforgePrefixed = await forge.runPipeline('dxforge run lint -- 0 ok')
  assert.equal(dxforgePrefixed.exitCode, 0)
})

test('init writes a starter dxforge.toml and .dxforge/', async (t) => {
  const dir = tempDir(t)
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  const out = await forge.runPipeline('init --name demo-node')
  assert.equal(out.exitCode, 0)
  assert.ok(existsSync(`${dir}/dxforge.toml`))
  assert.ok(existsSync(`${dir}/.dxforge`))
  assert.match(readFileSync(`${dir}/dxforge.toml`, 'utf8'), /demo-node/)
})

test('up starts tools and resolves; stop stops them', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'sleeper', binaryPath: '/bin/sleep', args: ['30'], stopTimeoutMs: 1000 })
  const up = await forge.runPipeline('up')
  assert.equal(up.exitCode, 0)
  assert.equal(forge.status('sleeper').status, 'running')
  const stop = await forge.runPipeline('stop sleeper')
  assert.equal(stop.exitCode, 0)
  assert.equal(forge.status('sleeper').status, 'stopped')
})
