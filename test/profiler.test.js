'use strict';
// The CPU profiler: profiles in Chrome's .cpuprofile format.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { setup } = require('./support/isolate');

const HOT = [
  'function busyGuestWork(ms) {',
  '  const end = Date.now() + ms;',
  '  let x = 0;',
  '  while (Date.now() < end) x += Math.sqrt(x + 1);',
  '  return x > 0;',
  '}',
].join('\n');

// A profile DevTools can open: nodes form a tree rooted at (root), samples
// name nodes, and there is one time delta per sample.
function assertCpuProfile(profile) {
  for (const k of ['nodes', 'startTime', 'endTime', 'samples', 'timeDeltas']) assert.ok(k in profile, `missing ${k}`);
  assert.ok(profile.endTime >= profile.startTime);
  assert.equal(profile.samples.length, profile.timeDeltas.length);
  const ids = new Set(profile.nodes.map((n) => n.id));
  for (const s of profile.samples) assert.ok(ids.has(s), `sample ${s} names no node`);
  for (const n of profile.nodes) for (const c of n.children ?? []) assert.ok(ids.has(c));
  assert.equal(profile.nodes[0].callFrame.functionName, '(root)');
  JSON.parse(JSON.stringify(profile));
}

test('profiler: guest functions and files appear in the profile', async (t) => {
  const { isolate, context } = setup(t);
  await context.eval(HOT, { filename: 'file:///hot-guest.js' });
  assert.equal(isolate.startCpuProfiler('run'), true);
  assert.equal(await context.eval('busyGuestWork(100)'), true);
  const profiles = await isolate.stopCpuProfiler('run');
  assert.equal(profiles.length, 1);
  const [{ threadId, profile }] = profiles;
  assert.equal(typeof threadId, 'number');
  assertCpuProfile(profile);
  assert.ok(profile.samples.length >= 20, `only ${profile.samples.length} samples in 100 ms`);
  const hot = profile.nodes.find((n) => n.callFrame.functionName === 'busyGuestWork');
  assert.ok(hot, 'busyGuestWork is in the profile');
  assert.equal(hot.callFrame.url, 'file:///hot-guest.js');
  const hotIds = new Set(profile.nodes.filter((n) => n.callFrame.url === 'file:///hot-guest.js').map((n) => n.id));
  assert.ok(profile.samples.some((s) => hotIds.has(s)), 'some samples land in guest code');
});

test('profiler: titles are independent; unknown titles give no profile', async (t) => {
  const { isolate, context } = setup(t);
  await context.eval(HOT, { filename: 'two.js' });
  isolate.startCpuProfiler('outer');
  await context.eval('busyGuestWork(20)');
  isolate.startCpuProfiler('inner');
  isolate.startCpuProfiler('inner'); // a second start of a running title does nothing
  await context.eval('busyGuestWork(20)');
  const inner = await isolate.stopCpuProfiler('inner');
  const outer = await isolate.stopCpuProfiler('outer');
  assert.equal(inner.length, 1);
  assert.equal(outer.length, 1);
  assert.ok(outer[0].profile.startTime < inner[0].profile.startTime);
  assert.deepEqual(await isolate.stopCpuProfiler('inner'), []);
  assert.deepEqual(await isolate.stopCpuProfiler('never started'), []);
});

test('profiler: bad arguments and disposed isolates', async (t) => {
  const { isolate } = setup(t);
  assert.throws(() => isolate.startCpuProfiler(), { name: 'TypeError', message: /`startCpuProfiler` requires parameter 1/ });
  assert.throws(() => isolate.startCpuProfiler(1), { name: 'TypeError' });
  assert.throws(() => isolate.stopCpuProfiler(), { name: 'TypeError', message: /`stopCpuProfiler` requires parameter 1/ });
  assert.equal(typeof isolate.stopCpuProfilerSync, 'undefined');
  isolate.startCpuProfiler('pending');
  const pending = isolate.stopCpuProfiler('pending');
  isolate.dispose();
  // Either it ran before the dispose or it fails with the isolate.
  await pending.then(
    (r) => assert.equal(r.length, 1),
    (e) => assert.match(e.message, /disposed/),
  );
  assert.throws(() => isolate.startCpuProfiler('late'), { message: 'Isolate is disposed' });
  await assert.rejects(isolate.stopCpuProfiler('late'), { message: 'Isolate is disposed' });
});

test('profiler: examples/profile.js runs and writes a profile', async () => {
  const { execFile } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'v8-isolates-profile-')), 'out.cpuprofile');
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, '..', 'examples', 'profile.js'), out], { timeout: 60_000 }, (err, so, se) =>
      err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so),
    );
  });
  assert.match(stdout, /sortMany file:\/\/\/workload\.js:2/);
  assertCpuProfile(JSON.parse(fs.readFileSync(out, 'utf8')));
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
});
