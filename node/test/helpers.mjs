// Shared helpers of the node:test suite: temporary projects, free ports,
// the scenario tools of tests/scenarios/tools, polling.
import { mkdtempSync, rmSync, realpathSync } from 'node:fs'
import { createServer } from 'node:net'
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

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** A TCP server tool with a health check on its port (fast intervals for tests). */
export async function serverTool(name, extra = {}) {
  const port = await freePort()
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
