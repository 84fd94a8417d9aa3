// onStatusChange / unsubscribe and watch mode.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'

import { DxForge } from 'dxforge'
import { EXIT_WITH, expectCode, serverTool, tempDir, tempForge, waitFor } from './helpers.mjs'

test('status changes reach the callback on the JS thread, in order', async (t) => {
  const forge = tempForge(t)
  forge.registerTool(await serverTool(t, 'srv'))
  const events = []
  const id = forge.onStatusChange((e) => events.push(e))
  assert.equal(typeof id, 'number')
  await forge.ensureRunning('srv')
  assert.ok(await waitFor(() => events.some((e) => e.new.status === 'healthy')), JSON.stringify(events))
  const { pid } = forge.state('srv')
  await forge.stop('srv')
  assert.ok(await waitFor(() => events.at(-1)?.new.status === 'stopped'), JSON.stringify(events))

  const path = events.map((e) => e.new.status)
  assert.equal(path[0], 'starting', path.join(' > '))
  assert.ok(path.indexOf('healthy') > 0, path.join(' > '))
  for (const e of events) assert.equal(e.tool, 'srv')
  for (let i = 1; i < events.length; i++) assert.deepEqual(events[i].old, events[i - 1].new, 'each change starts where the last ended')
  assert.ok(events.some((e) => e.pid === pid), 'events carry the pid')
})

test('unsubscribe stops delivery; other subscriptions keep theirs', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'sleeper', binaryPath: '/bin/sleep', args: ['30'], stopTimeoutMs: 1000 })
  const first = []
  const second = []
  const a = forge.onStatusChange((e) => first.push(e.new.status))
  const b = forge.onStatusChange((e) => second.push(e.new.status))
  assert.notEqual(a, b)
  await forge.ensureRunning('sleeper')
  assert.ok(await waitFor(() => first.includes('running') && second.includes('running')))
  forge.unsubscribe(a)
  const seen = first.length
  await forge.stop('sleeper')
  assert.ok(await waitFor(() => second.at(-1) === 'stopped'), second.join(','))
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(first.length, seen, `no events after unsubscribe: ${first}`)
  forge.unsubscribe(a) // unknown ids are ignored
  forge.unsubscribe(999999)
})

test('watch mode restarts a running tool whose watched file changes; unwatch stops that', async (t) => {
  const dir = tempDir(t)
  mkdirSync(`${dir}/src`)
  writeFileSync(`${dir}/src/app.txt`, 'v1')
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  forge.registerTool({ name: 'dev', binaryPath: '/bin/sleep', args: ['60'], watch: ['src/**'], stopTimeoutMs: 1000 })
  await forge.ensureRunning('dev')
  const before = forge.state('dev').pid
  forge.watch(50) // returns once the project is watched: no wait needed
  writeFileSync(`${dir}/src/app.txt`, 'v2')
  assert.ok(
    await waitFor(() => {
      const s = forge.state('dev')
      return s.pid && s.pid !== before && s.status.status === 'running'
    }),
    `restarted: ${JSON.stringify(forge.state('dev'))}`,
  )
  // Let any restart still debounced from the same change finish first.
  await new Promise((r) => setTimeout(r, 300))
  forge.unwatch()
  const after = forge.state('dev').pid
  writeFileSync(`${dir}/src/app.txt`, 'v3')
  await new Promise((r) => setTimeout(r, 400))
  assert.equal(forge.state('dev').pid, after, 'no restart once unwatched')
})

test('onStatusChange rejects a non-function and subscribes nothing', async (t) => {
  const forge = tempForge(t)
  assert.throws(() => forge.onStatusChange(42), /Function/)
  await expectCode(() => forge.status('nope'), 'NOT_FOUND')
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH })
})
