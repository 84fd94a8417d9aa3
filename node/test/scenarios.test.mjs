// Runs every shared scenario file of tests/scenarios through the Node binding,
// with the same semantics as the Rust runner (core/tests/scenarios.rs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { DxForge } from 'dxforge'
import { SCENARIOS, TOOLS, reservePort, tempDir } from './helpers.mjs'

function parse(text, vars) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      for (const [k, v] of Object.entries(vars)) line = line.replaceAll('${' + k + '}', v)
      const [step, expect = ''] = line.split('=>')
      return { line, words: step.trim().split(/\s+/), expect: expect.trim().split(/\s+/).filter(Boolean) }
    })
}

const keys = (words) => Object.fromEntries(words.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]))
const list = (v) => (v ? v.split(',').filter(Boolean) : [])

function definition(name, k) {
  const def = {
    name,
    binaryPath: k.bin,
    args: list(k.args),
    dependencies: list(k.deps),
    healthIntervalMs: 50,
    stopTimeoutMs: 2000,
    startupTimeoutMs: 10000,
  }
  if (k.priority) def.priority = Number(k.priority)
  if (k.health_tcp) def.health = { tcp: k.health_tcp }
  if (k.restart) def.restart = k.restart
  if (k.max_restarts) def.maxRestarts = Number(k.max_restarts)
  if (k.startup_timeout_ms) def.startupTimeoutMs = Number(k.startup_timeout_ms)
  if (k.stop_timeout_ms) def.stopTimeoutMs = Number(k.stop_timeout_ms)
  return def
}

/** Checks one call's outcome against the words after `=>`. */
async function check(step, call, onOk) {
  const where = step.line
  let value
  try {
    value = await call()
  } catch (e) {
    if (step.expect[0] !== 'error') throw new Error(`${where}: unexpected error ${e.code}: ${e.message}`)
    assert.equal(e.code, step.expect[1], `${where}: wrong error: ${e.message}`)
    return
  }
  if (step.expect[0] === 'error') assert.fail(`${where}: expected error ${step.expect[1]}, got success`)
  onOk?.(value, step.expect)
}

async function runFile(t, file) {
  const vars = { TOOLS, PORT1: String(await reservePort(t)), PORT2: String(await reservePort(t)) }
  const forge = new DxForge(tempDir(t))
  const pids = new Map()
  try {
    for (const step of parse(readFileSync(file, 'utf8'), vars)) {
      const [op, name] = step.words
      const w = step.line
      switch (op) {
        case 'tool':
          await check(step, () => forge.registerTool(definition(name, keys(step.words.slice(2)))))
          break
        case 'ensure_running':
          await check(step, () => forge.ensureRunning(name), (s, x) => assert.equal(s.status, x[0], w))
          break
        case 'status':
          await check(step, () => forge.status(name), (s, x) => assert.equal(s.status, x[0], w))
          break
        case 'stop':
          await check(step, () => forge.stop(name))
          break
        case 'execute': {
          const args = list(keys(step.words.slice(2)).args)
          await check(step, () => forge.executeTool(name, args), (out, x) => {
            assert.equal(out.exitCode, Number(x[1]), w)
            const text = keys(x.slice(2)).stdout
            if (text !== undefined) assert.ok(out.stdout.toString().includes(text), `${w}: stdout ${out.stdout}`)
          })
          break
        }
        case 'remember_pid': {
          const pid = forge.state(name).pid
          assert.ok(pid, `${w}: a running tool has a pid`)
          pids.set(name, pid)
          break
        }
        case 'same_pid':
          assert.equal(forge.state(name).pid, pids.get(name), w)
          break
        default:
          assert.fail(`${file}: unknown step \`${op}\``)
      }
    }
  } finally {
    await forge.close()
  }
}

const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.scn')).sort()

test('the shared scenario files exist', () => {
  assert.ok(files.length >= 4, `scenario files missing: ${files}`)
})

for (const f of files) {
  test(`scenario ${f}`, (t) => runFile(t, join(SCENARIOS, f)))
}
