// close(): stops tools, later calls fail with CLOSED, and the process can exit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { DxForge } from 'dxforge'
import { EXIT_WITH, alive, expectCode, reservePort, serverTool, tempDir, waitFor } from './helpers.mjs'

test('close() stops running tools and every later call fails with CLOSED', async (t) => {
  const forge = new DxForge(tempDir(t))
  forge.registerTool(await serverTool(t, 'srv'))
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH })
  await forge.ensureRunning('srv')
  const { pid } = forge.state('srv')
  assert.ok(alive(pid))
  assert.equal(forge.isClosed, false)

  const closing = forge.close()
  assert.equal(forge.isClosed, true, 'closed as soon as close() returns')
  await expectCode(() => forge.status('srv'), 'CLOSED')
  await closing
  assert.ok(await waitFor(() => !alive(pid)), 'the tool was stopped')

  const sync = [
    () => forge.registerTool({ name: 'x', binaryPath: EXIT_WITH }),
    () => forge.tool('lint'),
    () => forge.toolNames(),
    () => forge.status('lint'),
    () => forge.state('lint'),
    () => forge.states(),
    () => forge.logs('lint'),
    () => forge.onStatusChange(() => {}),
    () => forge.unsubscribe(1),
    () => forge.watch(),
    () => forge.unwatch(),
    () => forge.enqueue('CacheCurrentState'),
    () => forge.task(1),
    () => forge.counters(),
  ]
  for (const call of sync) assert.throws(call, { code: 'CLOSED' }, String(call))
  const promised = [
    () => forge.ensureRunning('lint'),
    () => forge.ensureAllRunning(),
    () => forge.executeTool('lint', []),
    () => forge.stop('lint'),
    () => forge.stopAll(),
    () => forge.runPipeline('status'),
    () => forge.analyzeTrafficSafety('a.txt', 'x'),
    () => forge.check('a.txt', 'x'),
    () => forge.installPackage('button'),
    () => forge.installAllDependencies(),
    () => forge.update(),
    () => forge.removePackage('button'),
    () => forge.diff(),
    () => forge.recoverTraffic(),
    () => forge.wait(1),
    () => forge.snapshot(),
    () => forge.snapshots(),
    () => forge.restore('20200101T000000Z-00000000'),
    () => forge.gcSnapshots(),
    () => forge.push(),
    () => forge.pull('20200101T000000Z-00000000'),
    () => forge.analyze(),
    () => forge.prefetch('button'),
  ]
  for (const call of promised) await assert.rejects(call(), { code: 'CLOSED' }, String(call))
  await forge.close() // idempotent
  assert.ok(forge.root.length > 0, 'root stays readable')
})

const child = fileURLToPath(new URL('./fixtures/subscribe-and-close.mjs', import.meta.url))

function runChild(t, mode, ...rest) {
  return spawnSync(process.execPath, [child, tempDir(t), mode, ...rest], { encoding: 'utf8', timeout: 30000 })
}

test('a child process that subscribes, starts a tool and closes exits by itself', async (t) => {
  const r = runChild(t, 'close', String(await reservePort(t)))
  assert.equal(r.signal, null, `the child had to be killed: ${r.stderr}`)
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.ok(lines.includes('event srv starting'), r.stdout)
  assert.ok(lines.includes('event srv healthy'), r.stdout)
  assert.equal(lines.at(-1), 'closed', r.stdout)
})

test('an idle subscription does not keep the process alive', (t) => {
  const r = runChild(t, 'idle')
  assert.equal(r.signal, null, `the child had to be killed: ${r.stderr}`)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'subscribed')
})

test('a DxForge garbage-collected without close() stops its tools', (t) => {
  const gcChild = fileURLToPath(new URL('./fixtures/gc-stops-tools.mjs', import.meta.url))
  const r = spawnSync(process.execPath, ['--expose-gc', gcChild, tempDir(t)], { encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.match(lines[0], /^pid \d+$/)
  assert.equal(lines[1], 'stopped', r.stdout)
})

test('new DxForge() without a root opens the current directory', (t) => {
  const dir = tempDir(t)
  const entry = fileURLToPath(new URL('../index.js', import.meta.url))
  const code = `const { DxForge } = require(${JSON.stringify(entry)}); const f = new DxForge(); console.log(f.root); f.close()`
  const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), dir)
})
