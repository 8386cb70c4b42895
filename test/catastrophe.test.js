'use strict';
// onCatastrophicError: V8 losing control of an isolate (a fatal out-of-memory
// inside one native loop). Runs in a child process: the worst outcome, a host
// abort, must show up as the child's exit status.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');

const CHILD_ENV = { ...process.env };
delete CHILD_ENV.NODE_TEST_CONTEXT;

test('onCatastrophicError is told about a fatal out-of-memory; the host lives on', { timeout: 150_000 }, async () => {
  const r = await new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(__dirname, 'fixtures', 'catastrophe-child.js'), 'oom'],
      { timeout: 120_000, killSignal: 'SIGKILL', env: CHILD_ENV, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ err, stdout, stderr }),
    );
  });
  const info = `exit: ${r.err && (r.err.code ?? r.err.signal)}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
  assert.equal(r.err, null, `the child failed. ${info}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('CATASTROPHE-RESULT '));
  assert.ok(line, `no result. ${info}`);
  const out = JSON.parse(line.slice('CATASTROPHE-RESULT '.length));
  assert.equal(out.fatal, undefined, out.fatal);
  assert.equal(out.error, 'Isolate was disposed during execution due to memory limit');
  assert.equal(out.callCount, 1, 'called exactly once');
  assert.equal(out.calls[0].message, 'Catastrophic out-of-memory error');
  assert.equal(out.calls[0].isMainThread, true);
  assert.equal(out.calls[0].isDisposed, true);
  assert.equal(out.isDisposed, true);
  assert.equal(out.hostStillWorks, true);
});

test('examples/catastrophic-error.js runs: a memory bomb is stopped by the limit', { timeout: 30000 }, () => {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'catastrophic-error.js')], {
    encoding: 'utf8',
    timeout: 25000,
    env: CHILD_ENV,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /MemoryLimitError \(ERR_ISOLATE_MEMORY_LIMIT\)/);
  assert.match(r.stdout, /isolate\.isDisposed: true/);
  assert.match(r.stdout, /host still runs: 2,4,6/);
});
