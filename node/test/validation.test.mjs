// Issue 10, class 9: every definition is validated when it is registered.
// Numbers never wrap or truncate: a negative, fractional, NaN, infinite or
// out-of-range value is a RangeError naming the field, as Python raises and C
// refuses; a bad health target fails here, not after the tool was spawned.
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { EXIT_WITH, tempForge } from './helpers.mjs'

/** Asserts `fn` throws an error of `cls` with code INVALID_ARGUMENT naming `field` and the tool. */
function assertRefused(fn, cls, field, tool) {
  let error
  try {
    fn()
  } catch (e) {
    error = e
  }
  assert.ok(error instanceof cls, `expected a ${cls.name}, got ${error}`)
  assert.equal(error.code, 'INVALID_ARGUMENT', error.message)
  assert.ok(error.message.includes(field), `${error.message} should name ${field}`)
  assert.ok(error.message.includes(`tool \`${tool}\``), `${error.message} should name the tool`)
  return error
}

test('numbers that used to wrap or truncate are a RangeError naming the field, and nothing is registered', (t) => {
  const forge = tempForge(t)
  const cases = [
    ['maxRestarts', -1], // wrapped to 4294967295
    ['stopTimeoutMs', -5], // wrapped to 4294967291
    ['startupTimeoutMs', NaN], // became 0
    ['healthIntervalMs', 1e300], // became 0
    ['stopTimeoutMs', 1.5], // truncated to 1
    ['priority', 0.25],
    ['priority', -1],
    ['priority', 2 ** 32], // one beyond u32
    ['maxRestarts', Infinity],
    ['healthIntervalMs', -Infinity],
    ['maxRestarts', 10_001], // whole but beyond the range
    ['stopTimeoutMs', 3_600_001],
    ['healthIntervalMs', 0],
  ]
  for (const [field, value] of cases) {
    const e = assertRefused(
      () => forge.registerTool({ name: 't', binaryPath: EXIT_WITH, [field]: value }),
      RangeError,
      field,
      't',
    )
    assert.match(e.message, /must be a whole number from \d+ to \d+/)
    assert.deepEqual(forge.toolNames(), [], `${field}=${value} registered nothing`)
  }
  // The bounds themselves are fine and read back exactly.
  forge.registerTool({ name: 'ok', binaryPath: EXIT_WITH, priority: 2 ** 32 - 1, maxRestarts: 10_000, stopTimeoutMs: 0 })
  const def = forge.tool('ok')
  assert.equal(def.priority, 2 ** 32 - 1)
  assert.equal(def.maxRestarts, 10_000)
  assert.equal(def.stopTimeoutMs, 0)
})

test('a TCP health target that is not host:port is refused at registration naming health.tcp', (t) => {
  const forge = tempForge(t)
  for (const tcp of ['localhost', '127.0.0.1:0', '127.0.0.1:65536', '::1:80', 'db host:5432', '']) {
    const e = assertRefused(
      () => forge.registerTool({ name: 't', binaryPath: EXIT_WITH, health: { tcp } }),
      Error,
      'health.tcp',
      't',
    )
    assert.ok(!(e instanceof RangeError), 'a bad target is not a number')
    assert.deepEqual(forge.toolNames(), [])
  }
  forge.registerTool({ name: 'ok', binaryPath: EXIT_WITH, health: { tcp: '[::1]:5432' } })
  assert.deepEqual(forge.toolNames(), ['ok'])
})

test('an HTTP health target that is not a usable http:// URL is refused naming health.http', (t) => {
  const forge = tempForge(t)
  for (const http of ['127.0.0.1:8080/health', 'https://127.0.0.1/', 'http://', 'http://x:0/', 'http://x/a b']) {
    assertRefused(
      () => forge.registerTool({ name: 't', binaryPath: EXIT_WITH, health: { http } }),
      Error,
      'health.http',
      't',
    )
    assert.deepEqual(forge.toolNames(), [])
  }
})
