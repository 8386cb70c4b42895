'use strict';
// Memory-limit guarantees against hostile guest code.
//
// Every bomb runs in a child process (test/fixtures/memory-bomb.js) so that a
// host crash shows up as the child's exit code or signal instead of taking the
// test runner down. The child prints one JSON line describing what happened.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const FIXTURE = path.join(__dirname, 'fixtures', 'memory-bomb.js');
// The child is a plain script, not a test file of this run.
const CHILD_ENV = { ...process.env };
delete CHILD_ENV.NODE_TEST_CONTEXT;
const RESULT_PREFIX = 'MEMORY-BOMB-RESULT ';
const CHILD_TIMEOUT = 60_000;
const TEST_TIMEOUT = 90_000;
// The bombs are bounded by the isolate limit; a child that grows past this is
// exhausting the machine rather than being stopped.
const MAX_CHILD_RSS_MB = 2048;

const MEMORY_LIMIT_MESSAGE = 'Isolate was disposed during execution due to memory limit';

function runChild(args) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [FIXTURE, ...args],
      { timeout: CHILD_TIMEOUT, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, cwd: __dirname, env: CHILD_ENV },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
        resolve({
          code: err ? err.code : 0,
          signal: err ? err.signal : null,
          killed: Boolean(err && err.killed),
          stdout,
          stderr,
          result: line ? JSON.parse(line.slice(RESULT_PREFIX.length)) : undefined,
        });
      },
    );
  });
}

// The child must not have crashed, hung, or failed in the harness itself.
function assertChildOk(r, label) {
  const info = `${label}: code=${r.code} signal=${r.signal}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
  assert.equal(r.killed, false, `child timed out (killed after ${CHILD_TIMEOUT} ms). ${info}`);
  assert.equal(r.signal, null, `child died from a signal. ${info}`);
  assert.equal(r.code, 0, `child exited non-zero. ${info}`);
  assert.ok(r.result, `child printed no result. ${info}`);
  assert.equal(r.result.fatal, undefined, `child harness failed. ${info}`);
  assert.ok(r.result.maxRssMB < MAX_CHILD_RSS_MB, `child used ${r.result.maxRssMB} MB of RSS`);
  assert.equal(r.result.hostStillWorks, true, 'the host could not create and use a new isolate afterwards');
  return r.result;
}

function assertMemoryLimitKill(res) {
  assert.ok(res.error, `expected the bomb to fail, it returned ${JSON.stringify(res.result)}`);
  assert.equal(res.error.message, MEMORY_LIMIT_MESSAGE);
  assert.equal(res.error.isMemoryLimitError, true, 'not an ivm.MemoryLimitError');
  assert.equal(res.error.isDisposedError, true, 'not an ivm.IsolateDisposedError');
  assert.equal(res.error.code, 'ERR_ISOLATE_MEMORY_LIMIT');
  assert.equal(res.disposedEventually, true, 'isolate.isDisposed is not true after a memory-limit kill');
  assert.equal(res.afterKill.message, 'Isolate is disposed', 'a call on the killed isolate did not fail as disposed');
  assert.equal(res.afterKill.isDisposedError, true);
  assert.equal(res.secondDispose.message, 'Isolate is already disposed');
}

// Either outcome the contract allows for this bomb: a memory-limit kill, or a
// RangeError that leaves the isolate usable.
function assertKillOrRangeError(res) {
  assert.ok(res.error, `expected the bomb to fail, it returned ${JSON.stringify(res.result)}`);
  if (res.error.isMemoryLimitError) {
    assertMemoryLimitKill(res);
  } else {
    assert.equal(res.error.isRangeError, true, `expected MemoryLimitError or RangeError, got ${JSON.stringify(res.error)}`);
    assert.equal(res.disposedEventually, false, 'a RangeError must not dispose the isolate');
    assert.equal(res.stillUsable, true, 'the isolate is not usable after the RangeError');
  }
}

// A result computed inside the guest, with the isolate still alive.
function assertGuestResult(expected) {
  return (res) => {
    assert.equal(res.error, undefined, `the guest did not catch it: ${JSON.stringify(res.error)}`);
    assert.equal(res.result, expected);
    assert.equal(res.disposedEventually, false, 'the isolate was disposed');
    assert.equal(res.stillUsable, true, 'the isolate is not usable afterwards');
  };
}

const CASES = [
  { name: 'growing array of objects', kind: 'objects', check: assertMemoryLimitKill },
  { name: 'doubling strings (s += s)', kind: 'strings', check: assertKillOrRangeError },
  { name: 'JSON.parse loop retaining results', kind: 'json', check: assertMemoryLimitKill },
  { name: "[...'.'.repeat(1e9)]", kind: 'spread', check: assertKillOrRangeError },
  { name: 'new Array(1e9).fill(0)', kind: 'fill', check: assertKillOrRangeError },
  { name: 'retained 1 MiB ArrayBuffers', kind: 'buffers', check: assertKillOrRangeError },
  { name: 'createContext in a loop on a 32 MB isolate', kind: 'contexts', check: assertMemoryLimitKill },
  {
    name: 'huge new ArrayBuffer(2**31) throws a RangeError catchable inside the guest',
    kind: 'hugeBuffer',
    check: assertGuestResult(true),
  },
  {
    name: 'unbounded recursion throws a RangeError catchable inside the guest',
    kind: 'recursion',
    check: assertGuestResult(true),
  },
  {
    name: 'uncaught unbounded recursion reaches the host as a RangeError, isolate survives',
    kind: 'recursionUncaught',
    check: (res) => {
      assert.ok(res.error, 'expected a RangeError');
      assert.equal(res.error.isRangeError, true, JSON.stringify(res.error));
      assert.equal(res.error.message, 'Maximum call stack size exceeded');
      assert.equal(res.disposedEventually, false);
      assert.equal(res.stillUsable, true);
    },
  },
];

// Children run two at a time: each is bounded by its isolate's limit.
for (const mode of ['sync', 'async']) {
  describe(`memory bombs (${mode})`, { concurrency: 2 }, () => {
    for (const c of CASES) {
      const opts = { timeout: TEST_TIMEOUT };
      test(`${c.name} [${mode}]`, opts, async () => {
        const r = await runChild([c.kind, mode, '32']);
        const res = assertChildOk(r, `${c.kind} ${mode}`);
        c.check(res);
      });
    }
  });
}

test(
  'isolate.isDisposed is already true when a memory-limit error reaches the caller',
  {
    timeout: TEST_TIMEOUT,
  },
  async () => {
    const r = await runChild(['disposed-flag', '20', '32']);
    const res = assertChildOk(r, 'disposed-flag');
    assert.deepEqual(res.messages, Array(20).fill(MEMORY_LIMIT_MESSAGE));
    assert.equal(res.eventually, true, 'isDisposed never became true');
    assert.deepEqual(res.immediate, Array(20).fill(true), `immediate isDisposed per round: ${res.immediate}`);
  },
);

test('the memory limit error classes have the documented shape', { timeout: 10_000 }, () => {
  const e = new ivm.MemoryLimitError();
  assert.equal(e.message, MEMORY_LIMIT_MESSAGE);
  assert.equal(e.code, 'ERR_ISOLATE_MEMORY_LIMIT');
  assert.ok(e instanceof ivm.IsolateDisposedError);
  assert.ok(e instanceof Error);
});

test('a small limit still runs ordinary code in-process', { timeout: 10_000 }, async () => {
  const iso = new ivm.Isolate({ memoryLimit: 16 });
  try {
    const ctx = await iso.createContext();
    // About 4 MB of live data: well inside the limit.
    const n = await ctx.eval('const a = []; for (let i = 0; i < 1e5; i++) a.push({ i }); a.length');
    assert.equal(n, 1e5);
    assert.equal(ctx.evalSync('try { new ArrayBuffer(1024 * 1024).byteLength } catch (e) { -1 }'), 1024 * 1024);
    assert.equal(iso.isDisposed, false);
  } finally {
    iso.dispose();
  }
});
