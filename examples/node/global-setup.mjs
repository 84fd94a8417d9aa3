// A test-runner global setup that starts the project's tools once for a whole
// test run and stops them at the end, with the dxforge addon. Works as a
// vitest `globalSetup` file and with node:test hooks:
//
//   vitest.config.mjs:  export default { test: { globalSetup: ['./global-setup.mjs'] } }
//   node:test:          import { before, after } from 'node:test'
//                       import { setup, teardown } from './global-setup.mjs'
//                       before(setup); after(teardown)
//
// Configured by the environment (vitest calls setup() without our arguments):
//   DXFORGE_PROJECT  directory of the dxforge.toml (default: the current directory)
//   DXFORGE_TOOLS    comma-separated tools to start, each with its dependencies
//
// setup() returns only when every tool is ready (its health check passed), so
// no test races a server that is still starting. In a project that installed
// the package, import from 'dxforge' instead of the repository path below.
import { DxForge } from '../../node/index.mjs'

let forge

/** Starts DXFORGE_TOOLS of DXFORGE_PROJECT, readiness-gated; returns teardown (vitest calls it). */
export async function setup() {
  const root = process.env.DXFORGE_PROJECT || process.cwd()
  const tools = (process.env.DXFORGE_TOOLS ?? '').split(',').map((t) => t.trim()).filter(Boolean)
  if (tools.length === 0) {
    throw new Error('global-setup.mjs: set DXFORGE_TOOLS to the tools to start, e.g. DXFORGE_TOOLS=db,web')
  }
  forge = DxForge.open(root)
  try {
    for (const tool of tools) await forge.ensureRunning(tool)
  } catch (e) {
    await teardown()
    throw e
  }
  return teardown
}

/** Stops every tool setup() started. Safe to call twice. */
export async function teardown() {
  const handle = forge
  forge = undefined
  if (handle) await handle.close()
}

/** The handle setup() opened (for tests running in the same process). */
export function handle() {
  return forge
}
