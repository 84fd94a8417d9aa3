// Traffic Branching through the Node binding, on a registry written by the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { DxForge } from 'dxforge'
import { expectCode, tempDir } from './helpers.mjs'

const LINES = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`)
const text = (lines) => lines.join('\n') + '\n'
const edit = (n, value) => LINES.map((l, i) => (i === n - 1 ? value : l))

/** A registry with widget 1.0.0 (12 lines), 1.1.0 (line 11 changed), 2.0.0 (line 2 changed), and helper 1.0.0. */
function writeRegistry(dir) {
  const pkg = (name, version, files, deps = '') => {
    const base = join(dir, 'registry', name, version)
    mkdirSync(base, { recursive: true })
    writeFileSync(join(base, 'dxpkg.toml'), `name = "${name}"\nversion = "${version}"\ndescription = "test"\n${deps}`)
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(base, 'files', path, '..'), { recursive: true })
      writeFileSync(join(base, 'files', path), content)
    }
  }
  pkg('helper', '1.0.0', { 'lib/helper.txt': 'help\n' })
  const dep = '\n[dependencies]\nhelper = "^1"\n'
  pkg('widget', '1.0.0', { 'src/widget.txt': text(LINES) }, dep)
  pkg('widget', '1.1.0', { 'src/widget.txt': text(edit(11, 'line 11 upstream')) }, dep)
  pkg('widget', '2.0.0', { 'src/widget.txt': text(edit(2, 'line 2 upstream')) }, dep)
}

function project(t) {
  const dir = tempDir(t)
  writeRegistry(dir)
  writeFileSync(join(dir, 'dxforge.toml'), '[project]\nname = "t"\n\n[registry]\npath = "registry"\n')
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  return { dir, forge, read: (p) => readFileSync(join(dir, p), 'utf8'), write: (p, c) => writeFileSync(join(dir, p), c) }
}

const setDependency = (p, req) =>
  p.write('dxforge.toml', p.read('dxforge.toml').replace(/^widget = ".*"$/m, `widget = "${req}"`))

test('a dry run returns the plan and writes nothing', async (t) => {
  const p = project(t)
  const before = p.read('dxforge.toml')
  const plan = await p.forge.installPackage('widget', '=1.0.0', { dryRun: true })
  assert.equal(plan.dryRun, true)
  assert.deepEqual(plan.packages.map((x) => `${x.name}@${x.version}`).sort(), ['helper@1.0.0', 'widget@1.0.0'])
  assert.deepEqual(plan.files.map((f) => [f.path, f.light, f.action]).sort(), [
    ['lib/helper.txt', 'green', 'create'],
    ['src/widget.txt', 'green', 'create'],
  ])
  assert.equal(plan.hasRed, false)
  assert.equal(existsSync(join(p.dir, 'src/widget.txt')), false)
  assert.equal(existsSync(join(p.dir, 'dxforge.lock')), false)
  assert.equal(p.read('dxforge.toml'), before)
})

test('install copies the files with their dependency and records the package', async (t) => {
  const p = project(t)
  const report = await p.forge.installPackage('widget', '=1.0.0')
  assert.equal(report.dryRun, false)
  assert.equal(report.manifestUpdated, true)
  assert.equal(p.read('src/widget.txt'), text(LINES))
  assert.equal(p.read('lib/helper.txt'), 'help\n')
  assert.match(p.read('dxforge.toml'), /^widget = "=1\.0\.0"$/m)
  assert.match(p.read('dxforge.lock'), /widget/)
  assert.equal(await p.forge.recoverTraffic(), 'clean')
})

test('analyzeTrafficSafety gives green, yellow and red like the seed table', async (t) => {
  const p = project(t)
  await p.forge.installPackage('widget', '=1.0.0')
  const path = 'src/widget.txt'
  assert.equal(await p.forge.analyzeTrafficSafety(path, text(LINES)), 'green', 'identical content')
  assert.equal(await p.forge.analyzeTrafficSafety('src/new-file.txt', 'x'), 'green', 'a file that does not exist')

  p.write(path, text(edit(2, 'line 2 mine')))
  assert.equal(await p.forge.analyzeTrafficSafety(path, text(edit(11, 'line 11 upstream'))), 'yellow', 'clean merge')
  assert.equal(await p.forge.analyzeTrafficSafety(path, Buffer.from(text(edit(2, 'line 2 upstream')))), 'red', 'conflict')

  const report = await p.forge.check(path, text(edit(2, 'line 2 upstream')))
  assert.equal(report.light, 'red')
  assert.equal(report.path, path)
  assert.ok(report.reason.length > 0)
  assert.equal(report.conflicts.length, 1)
  const [c] = report.conflicts
  assert.equal(c.ours.start, 2)
  assert.equal(c.theirs.start, 2)
  assert.equal(p.read(path), text(edit(2, 'line 2 mine')), 'queries write nothing')
})

test('update merges a user edit (yellow); a conflicting upgrade keeps the user file and writes .new (red)', async (t) => {
  const p = project(t)
  await p.forge.installPackage('widget', '=1.0.0')
  const mine = text(edit(2, 'line 2 mine'))
  p.write('src/widget.txt', mine)

  setDependency(p, '~1.1')
  const planned = await p.forge.diff('widget')
  assert.equal(planned.dryRun, true)
  assert.equal(planned.files.find((f) => f.path === 'src/widget.txt').light, 'yellow')
  assert.equal(p.read('src/widget.txt'), mine, 'diff writes nothing')

  const up = await p.forge.update('widget')
  assert.deepEqual(up.packages.map((x) => [x.name, x.version, x.previous]), [['widget', '1.1.0', '1.0.0']])
  assert.equal(up.files.find((f) => f.path === 'src/widget.txt').light, 'yellow')
  const merged = p.read('src/widget.txt')
  assert.match(merged, /line 2 mine/)
  assert.match(merged, /line 11 upstream/)

  setDependency(p, '^2')
  const red = await p.forge.update()
  assert.equal(red.hasRed, true)
  const file = red.files.find((f) => f.path === 'src/widget.txt')
  assert.equal(file.light, 'red')
  assert.equal(file.action, 'write_new')
  assert.ok(file.conflicts.length > 0)
  assert.equal(p.read('src/widget.txt'), merged, 'the user file is byte-identical')
  assert.equal(p.read('src/widget.txt.new'), text(edit(2, 'line 2 upstream')))
})

test('installAllDependencies installs what dxforge.toml lists', async (t) => {
  const p = project(t)
  p.write('dxforge.toml', p.read('dxforge.toml') + '\n[dependencies]\nwidget = "^1"\n')
  const report = await p.forge.installAllDependencies()
  assert.deepEqual(report.packages.map((x) => `${x.name}@${x.version}`).sort(), ['helper@1.0.0', 'widget@1.1.0'])
  assert.equal(p.read('src/widget.txt'), text(edit(11, 'line 11 upstream')))
  const again = await p.forge.installAllDependencies({ dryRun: true })
  assert.ok(again.files.every((f) => f.action === 'none'), JSON.stringify(again.files))
})

test('removePackage deletes unmodified files and keeps the ones the user edited', async (t) => {
  const p = project(t)
  await p.forge.installPackage('widget', '=1.0.0')
  p.write('src/widget.txt', text(edit(5, 'mine')))
  const dry = await p.forge.removePackage('widget', { dryRun: true })
  assert.equal(dry.dryRun, true)
  assert.ok(existsSync(join(p.dir, 'src/widget.txt')))
  const removed = await p.forge.removePackage('widget')
  assert.equal(removed.package, 'widget')
  assert.equal(removed.version, '1.0.0')
  assert.equal(removed.files.find((f) => f.path === 'src/widget.txt').action, 'keep')
  assert.equal(p.read('src/widget.txt'), text(edit(5, 'mine')))
  assert.doesNotMatch(p.read('dxforge.toml'), /^widget =/m)
})

test('bad input is refused with a coded error and nothing written', async (t) => {
  const p = project(t)
  await expectCode(() => p.forge.analyzeTrafficSafety('../outside.txt', 'x'), 'UNSAFE_PATH', 'outside')
  await expectCode(() => p.forge.analyzeTrafficSafety('/etc/passwd', 'x'), 'UNSAFE_PATH')
  await expectCode(() => p.forge.installPackage('nope'), 'NOT_FOUND', 'nope')
  await expectCode(() => p.forge.installPackage('widget', 'not a version'), 'INVALID_ARGUMENT', 'not a version')
  await expectCode(() => p.forge.installPackage('../evil'), 'INVALID_ARGUMENT')
  await expectCode(() => p.forge.removePackage('widget'), 'NOT_FOUND')
  assert.equal(existsSync(join(p.dir, 'dxforge.lock')), false)
  assert.equal(existsSync(join(p.dir, 'src')), false)
  assert.throws(() => p.forge.analyzeTrafficSafety('x', 42), /String|Buffer|Either/)
})
