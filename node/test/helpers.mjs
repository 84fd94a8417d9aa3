// Shared helpers of the node:test suite: temporary projects, reserved ports,
// the scenario tools of tests/scenarios/tools, polling.
import { mkdtempSync, rmSync, realpathSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

import { DxForge } from 'dxforge'

const here = dirname(fileURLToPath(import.meta.url))
export const REPO = realpathSync(join(here, '..', '..'))
export const SCENARIOS = join(REPO, 'tests', 'scenarios')
export const TOOLS = join(SCENARIOS, 'tools')
export const EXIT_WITH = join(TOOLS, 'exit-with')
export const TCP_SERVER = join(TOOLS, 'tcp-server')
const HOLD_PORT = join(here, 'fixtures', 'hold-port.py')

/** Removes a directory; retries while a background task still writes into it. */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
}

/** A fresh empty project directory, removed after the test. */
export function tempDir(t) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dxforge-node-')))
  t?.after(() => removeDir(dir))
  return dir
}

/** A DxForge on a fresh empty project, closed (then its directory removed) after the test. */
export function tempForge(t) {
  const dir = tempDir()
  const forge = new DxForge(dir)
  t.after(async () => {
    await forge.close()
    removeDir(dir)
  })
  return forge
}

/**
 * A loopback port reserved until the test ends, without a bind-drop-rebind
 * race: fixtures/hold-port.py keeps it bound (SO_REUSEPORT, never listening)
 * so no other test is given it; the tool binds beside it with SO_REUSEPORT
 * and, as the only listener, receives every connection.
 */
export function reservePort(t) {
  return new Promise((resolve, reject) => {
    const holder = spawn('python3', [HOLD_PORT], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise((done) => holder.once('exit', done))
    t.after(async () => {
      holder.stdin.end()
      await exited
    })
    let out = ''
    holder.once('error', reject)
    holder.once('exit', (code) => reject(new Error(`${HOLD_PORT} exited with ${code} before printing a port`)))
    holder.stdout.setEncoding('utf8')
    holder.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
  })
}

/** A TCP server tool with a health check on a port reserved for test `t` (fast intervals for tests). */
export async function serverTool(t, name, extra = {}) {
  const port = await reservePort(t)
  return {
    name,
    binaryPath: TCP_SERVER,
    args: [String(port)],
    health: { tcp: `127.0.0.1:${port}` },
    healthIntervalMs: 50,
    stopTimeoutMs: 2000,
    startupTimeoutMs: 10000,
    ...extra,
  }
}

/** Whether a process with this PID exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

/** Polls `cond` every 20 ms until it is true or `ms` pass; returns its last value. */
export async function waitFor(cond, ms = 10000) {
  const end = Date.now() + ms
  let v = await cond()
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20))
    v = await cond()
  }
  return v
}

/** Asserts that `fn()` throws (or rejects with) an Error whose `code` is `code`. */
export async function expectCode(fn, code, messagePart) {
  let error
  try {
    await fn()
  } catch (e) {
    error = e
  }
  if (!(error instanceof Error)) throw new Error(`expected an Error with code ${code}, got ${error}`)
  if (error.code !== code) throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`)
  if (messagePart && !error.message.includes(messagePart)) {
    throw new Error(`expected message containing ${JSON.stringify(messagePart)}, got ${JSON.stringify(error.message)}`)
  }
  return error
}
