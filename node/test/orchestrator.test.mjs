// The orchestrator methods of DxForge against real child processes.
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { DxForge } from 'dxforge'
import { EXIT_WITH, alive, expectCode, serverTool, tempDir, tempForge, waitFor } from './helpers.mjs'

test('registerTool stores the definition and tool() returns it with every default filled in', (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH })
  assert.deepEqual(forge.tool('lint'), {
    name: 'lint',
    binaryPath: EXIT_WITH,
    args: [],
    priority: 0,
    dependencies: [],
    env: {},
    healthIntervalMs: 500,
    startupTimeoutMs: 30000,
    restart: 'on-failure',
    maxRestarts: 5,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5000,
    watch: [],
  })
})

test('every field of a definition round-trips', (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'base', binaryPath: EXIT_WITH })
  const def = {
    name: 'full',
    binaryPath: EXIT_WITH,
    args: ['0', 'x y'],
    priority: 7,
    dependencies: ['base'],
    dependencyConditions: { base: 'started' },
    cwd: 'sub',
    envFile: '.env.full',
    env: { A: '1', B: 'two' },
    health: { command: ['true'] },
    healthIntervalMs: 60,
    startupTimeoutMs: 1234,
    restart: 'always',
    maxRestarts: 1,
    stopSignal: 'SIGINT',
    stopTimeoutMs: 250,
    watch: ['src/**'],
  }
  forge.registerTool(def)
  assert.deepEqual(forge.tool('full'), def)
  assert.deepEqual(forge.tool('base').health, undefined)
})

test('toolNames lists tools in start order (dependencies first, then priority)', (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'db', binaryPath: EXIT_WITH, priority: 5 })
  forge.registerTool({ name: 'web', binaryPath: EXIT_WITH, dependencies: ['db'] })
  forge.registerTool({ name: 'early', binaryPath: EXIT_WITH, priority: 0 })
  const names = forge.toolNames()
  assert.deepEqual([...names].sort(), ['db', 'early', 'web'])
  assert.ok(names.indexOf('db') < names.indexOf('web'), names.join(','))
  assert.ok(names.indexOf('early') < names.indexOf('db'), names.join(','))
})

test('ensureRunning starts dependencies first, reports healthy, and is idempotent', async (t) => {
  const forge = tempForge(t)
  forge.registerTool(await serverTool('db'))
  forge.registerTool(await serverTool('web', { dependencies: ['db'] }))
  assert.deepEqual(await forge.ensureRunning('web'), { status: 'healthy' })
  assert.deepEqual(forge.status('db'), { status: 'healthy' })
  const { pid } = forge.state('web')
  assert.ok(pid > 0 && alive(pid))
  assert.deepEqual(await forge.ensureRunning('web'), { status: 'healthy' })
  assert.equal(forge.state('web').pid, pid, 'a running tool is left alone')

  const states = forge.states()
  assert.deepEqual(states.map((s) => s.name), ['db', 'web'])
  for (const s of states) {
    assert.equal(s.status.status, 'healthy')
    assert.equal(s.restarts, 0)
    assert.equal(s.lastError, undefined)
  }

  await forge.stop('db')
  assert.deepEqual(forge.status('web'), { status: 'stopped' }, 'dependents stop first')
  assert.deepEqual(forge.status('db'), { status: 'stopped' })
  assert.ok(await waitFor(() => !alive(pid)), 'the process is gone')
})

test('a tool without health check is running with its pid in status()', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'sleeper', binaryPath: '/bin/sleep', args: ['30'], stopTimeoutMs: 1000 })
  const status = await forge.ensureRunning('sleeper')
  assert.equal(status.status, 'running')
  assert.ok(status.pid > 0 && alive(status.pid))
  assert.deepEqual(forge.status('sleeper'), status)
  assert.equal(forge.state('sleeper').pid, status.pid)
  await forge.stopAll()
  assert.deepEqual(forge.status('sleeper'), { status: 'stopped' })
  assert.ok(await waitFor(() => !alive(status.pid)))
})

test('ensureAllRunning starts everything and stopAll stops everything', async (t) => {
  const forge = tempForge(t)
  forge.registerTool(await serverTool('a'))
  forge.registerTool(await serverTool('b', { dependencies: ['a'] }))
  await forge.ensureAllRunning()
  assert.deepEqual(forge.states().map((s) => s.status.status), ['healthy', 'healthy'])
  const pids = forge.states().map((s) => s.pid)
  await forge.stopAll()
  assert.deepEqual(forge.states().map((s) => s.status.status), ['stopped', 'stopped'])
  for (const pid of pids) assert.ok(await waitFor(() => !alive(pid)))
})

test('executeTool returns exit code, stdout and stderr as Buffers, and duration', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'lint', binaryPath: EXIT_WITH, args: ['5', 'registered-args'] })
  const out = await forge.executeTool('lint', ['4', 'héllo wörld'])
  assert.equal(out.exitCode, 4)
  assert.equal(out.signal, undefined)
  assert.ok(Buffer.isBuffer(out.stdout) && Buffer.isBuffer(out.stderr))
  assert.equal(out.stdout.toString('utf8'), 'héllo wörld\n')
  assert.equal(out.stderr.toString(), 'to-stderr\n')
  assert.equal(typeof out.durationMs, 'number')
  assert.ok(out.durationMs >= 0)
  const bare = await forge.executeTool('lint')
  assert.equal(bare.exitCode, 0, 'without args the call passes no arguments (not the registered ones)')
  assert.equal(bare.stdout.toString(), '\n')
})

test('executeTool reports a signal death as a result, not an error', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'selfkill', binaryPath: '/bin/sh', restart: 'never' })
  const out = await forge.executeTool('selfkill', ['-c', 'kill -9 $$'])
  assert.equal(out.exitCode, undefined)
  assert.equal(out.signal, 9)
})

test('logs returns the captured lines of a running tool', async (t) => {
  const forge = tempForge(t)
  const def = await serverTool('srv')
  forge.registerTool(def)
  await forge.ensureRunning('srv')
  const line = `listening on ${def.args[0]}`
  assert.ok(await waitFor(() => forge.logs('srv').some((l) => l.line === line)), JSON.stringify(forge.logs('srv')))
  const [last] = forge.logs('srv', 1)
  assert.deepEqual(last, { stream: 'stdout', line })
  assert.deepEqual(forge.logs('srv', 0), [])
})

test('long work does not block the event loop', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'slow', binaryPath: '/bin/sleep', restart: 'never' })
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  try {
    const out = await forge.executeTool('slow', ['0.3'])
    assert.equal(out.exitCode, 0)
  } finally {
    clearInterval(timer)
  }
  assert.ok(ticks > 0, 'timers ran while the tool executed')
})

test('Promises from several handles run concurrently', async (t) => {
  const forges = [tempForge(t), tempForge(t), tempForge(t)]
  for (const f of forges) f.registerTool({ name: 'echo', binaryPath: EXIT_WITH })
  const outs = await Promise.all(forges.map((f, i) => f.executeTool('echo', [String(i), `run-${i}`])))
  assert.deepEqual(outs.map((o) => [o.exitCode, o.stdout.toString()]), [[0, 'run-0\n'], [1, 'run-1\n'], [2, 'run-2\n']])
})

test('a project dxforge.toml registers its tools at open', async (t) => {
  const { writeFileSync } = await import('node:fs')
  const dir = tempDir(t)
  writeFileSync(`${dir}/dxforge.toml`, `[project]\nname = "p"\n\n[tools.lint]\nbinary_path = "${EXIT_WITH}"\nargs = ["0", "from-toml"]\n`)
  const forge = DxForge.open(dir)
  t.after(() => forge.close())
  assert.equal(forge.root, dir)
  assert.deepEqual(forge.toolNames(), ['lint'])
  assert.deepEqual(forge.tool('lint').args, ['0', 'from-toml'])
})

test('a completed_successfully dependency runs to exit 0 before its dependent starts', async (t) => {
  const forge = tempForge(t)
  forge.registerTool({ name: 'migrate', binaryPath: '/bin/sh', args: ['-c', 'sleep 0.2; exit 0'], restart: 'never' })
  forge.registerTool({
    name: 'web',
    binaryPath: '/bin/sh',
    args: ['-c', 'exec sleep 1000'],
    dependencies: ['migrate'],
    dependencyConditions: { migrate: 'completed_successfully' },
  })
  await forge.ensureRunning('web')
  assert.equal(forge.status('migrate').status, 'stopped')
  assert.throws(
    () => forge.registerTool({ name: 'bad', binaryPath: '/bin/sh', dependencies: ['migrate'], dependencyConditions: { migrate: 'done' } }),
    /done/,
  )
})
