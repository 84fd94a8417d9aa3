// examples/node/global-setup.mjs, the documented vitest globalSetup / node:test
// hook: it starts real tools readiness-gated and stops them in teardown.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'

import { REPO, TCP_SERVER, reservePort, tempDir } from './helpers.mjs'

const SETUP = join(REPO, 'examples', 'node', 'global-setup.mjs')

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function project(t) {
  const dir = tempDir(t)
  const [db, web] = [await reservePort(t), await reservePort(t)]
  writeFileSync(
    join(dir, 'dxforge.toml'),
    `[tools.db]
binary_path = "${TCP_SERVER}"
args = ["${db}"]
health = { tcp = "127.0.0.1:${db}" }
health_interval_ms = 50
stop_timeout_ms = 2000

[tools.web]
binary_path = "${TCP_SERVER}"
args = ["${web}"]
dependencies = ["db"]
health = { tcp = "127.0.0.1:${web}" }
health_interval_ms = 50
stop_timeout_ms = 2000
`,
  )
  return { dir, db, web }
}

test('setup starts the tools and their dependencies ready; teardown stops them', async (t) => {
  const { dir, db, web } = await project(t)
  const env = { DXFORGE_PROJECT: process.env.DXFORGE_PROJECT, DXFORGE_TOOLS: process.env.DXFORGE_TOOLS }
  t.after(() => Object.assign(process.env, env))
  process.env.DXFORGE_PROJECT = dir
  process.env.DXFORGE_TOOLS = 'web'
  const { setup, teardown, handle } = await import(SETUP)
  const returned = await setup()
  assert.equal(returned, teardown, 'vitest runs the function setup returns at the end')
  assert.ok(await canConnect(db), 'db (a dependency of web) accepts connections when setup returns')
  assert.ok(await canConnect(web), 'web accepts connections when setup returns')
  const pids = ['db', 'web'].map((name) => handle().state(name).pid)
  assert.ok(pids.every((pid) => alive(pid)))
  await teardown()
  await teardown() // a second call is harmless
  assert.equal(handle(), undefined)
  assert.ok(pids.every((pid) => !alive(pid)), 'teardown stopped both tools')
})

test('setup without DXFORGE_TOOLS is an error naming the variable', async (t) => {
  const { dir } = await project(t)
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', `import { setup } from ${JSON.stringify(SETUP)}; await setup()`], {
    env: { ...process.env, DXFORGE_PROJECT: dir, DXFORGE_TOOLS: '' },
    encoding: 'utf8',
  })
  assert.notEqual(run.status, 0)
  assert.match(run.stderr, /set DXFORGE_TOOLS/)
})

test('as node:test hooks: before(setup) / after(teardown) in a real test run', async (t) => {
  const { dir, web } = await project(t)
  const file = join(dir, 'uses-web.test.mjs')
  writeFileSync(
    file,
    `import { before, after, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { setup, teardown } from ${JSON.stringify(SETUP)}
before(setup)
after(teardown)
test('web is ready', async () => {
  await new Promise((resolve, reject) => {
    const s = connect(${web}, '127.0.0.1', () => { s.destroy(); resolve() })
    s.once('error', reject)
  })
})
`,
  )
  // Without NODE_TEST_CONTEXT the inner runner reports on stdout (TAP), not
  // to this runner.
  const env = { ...process.env, DXFORGE_PROJECT: dir, DXFORGE_TOOLS: 'web' }
  delete env.NODE_TEST_CONTEXT
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(run.status, 0, run.stdout + run.stderr)
  assert.match(run.stdout, /# pass 1/)
  assert.equal(await canConnect(web), false, 'the tools stopped when the run ended')
})
