'use strict';
// dispose() against running and queued work, use after dispose, races, and
// how isolates interact with process exit and worker_threads. Scenarios that
// can crash or hang the host run in a child process
// (test/fixtures/dispose-child.js) with a kill timeout.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');
const { installHangGuard } = require('./fixtures/hang-guard');

installHangGuard({ ms: 60_000 });

const FIXTURE = path.join(__dirname, 'fixtures', 'dispose-child.js');
// The child is a plain script, not a test file of this run.
const CHILD_ENV = { ...process.env };
delete CHILD_ENV.NODE_TEST_CONTEXT;
const RESULT_PREFIX = 'DISPOSE-CHILD-RESULT ';
const CHILD_TIMEOUT = 30_000;
const T = { timeout: 30_000 };
const CHILD_T = { timeout: CHILD_TIMEOUT + 15_000 };

const DURING = 'Isolate was disposed during execution';
const DISPOSED = 'Isolate is disposed';
const ALREADY = 'Isolate is already disposed';

// ---------------------------------------------------------------------------
// Helpers

function runChild(args, { nodeArgs = [], timeout = CHILD_TIMEOUT } = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeArgs, FIXTURE, ...args],
      { timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, cwd: __dirname, env: CHILD_ENV },
      (err, stdout, stderr) => {
        const results = stdout
          .split('\n')
          .filter((l) => l.startsWith(RESULT_PREFIX))
          .map((l) => JSON.parse(l.slice(RESULT_PREFIX.length)));
        resolve({
          code: err ? err.code : 0,
          signal: err ? err.signal : null,
          killed: Boolean(err && err.killed),
          ms: Date.now() - started,
          stdout,
          stderr,
          result: results[results.length - 1],
        });
      },
    );
  });
}

function describeChild(r) {
  return `code=${r.code} signal=${r.signal} killed=${r.killed} after ${r.ms} ms\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`;
}

// The child neither hung (per its own detector or our kill), crashed, nor
// failed in the harness.
function assertChildOk(r) {
  const info = describeChild(r);
  assert.ok(!(r.result && r.result.hang), `the child detected a hang:\n${info}`);
  assert.equal(r.killed, false, `the child was killed after ${CHILD_TIMEOUT} ms (hang):\n${info}`);
  assert.equal(r.signal, null, `the child died from a signal:\n${info}`);
  assert.equal(r.code, 0, `the child exited non-zero:\n${info}`);
  assert.ok(!(r.result && r.result.fatal), `the child harness failed:\n${info}`);
  return r.result;
}

function assertDisposedError(err, message) {
  assert.ok(err instanceof ivm.IsolateDisposedError, `expected an IsolateDisposedError, got ${err && err.stack}`);
  assert.ok(!(err instanceof ivm.MemoryLimitError), 'a plain dispose must not look like a memory-limit kill');
  assert.equal(err.message, message);
  assert.equal(err.code, 'ERR_ISOLATE_DISPOSED');
  return true;
}

const macrotask = () => new Promise((resolve) => setImmediate(resolve));

// Waits (on event-loop turns) until the isolate is visibly running guest code:
// its wall time only grows while a call executes. Bounded by the test timeout.
async function untilRunning(iso) {
  const w0 = iso.wallTime;
  while (iso.wallTime - w0 < 5_000_000n) await macrotask();
}

// A live isolate with a context, a script, and references to use.
function setup() {
  const iso = new ivm.Isolate({ memoryLimit: 32 });
  const ctx = iso.createContextSync();
  ctx.evalSync('globalThis.obj = { a: 1 }; globalThis.double = (x) => x * 2;');
  const script = iso.compileScriptSync('obj.a');
  const global = ctx.global;
  const fn = ctx.evalSync('double', { reference: true });
  const obj = global.getSync('obj', { reference: true });
  return { iso, ctx, script, global, fn, obj };
}

function disposeQuietly(iso) {
  if (!iso.isDisposed) iso.dispose();
}

// ---------------------------------------------------------------------------
// dispose() while code runs

const ENDLESS = {
  'eval(for(;;))': ({ ctx }) => ctx.eval('for (;;);'),
  'evalClosure(for(;;))': ({ ctx }) => ctx.evalClosure('for (;;);'),
  'run(for(;;))': ({ iso, ctx }) => iso.compileScriptSync('for (;;);').run(ctx),
  'apply(function with for(;;))': ({ ctx }) =>
    ctx.evalSync('(function () { for (;;); })', { reference: true }).apply(undefined, []),
  'eval(async loop in microtasks)': ({ ctx }) => ctx.eval('(async () => { for (;;) await 0; })(); 1'),
};

for (const [name, start] of Object.entries(ENDLESS)) {
  test(`dispose() during async ${name} rejects "${DURING}"`, T, async () => {
    const s = setup();
    try {
      const p = start(s);
      p.catch(() => {});
      await untilRunning(s.iso);
      s.iso.dispose();
      await assert.rejects(p, (e) => assertDisposedError(e, DURING));
      assert.equal(s.iso.isDisposed, true);
    } finally {
      disposeQuietly(s.iso);
    }
  });
}

test('dispose() right after queuing an endless call still settles it (child)', {
  ...CHILD_T,
}, async () => {
  const r = await runChild(['dispose-before-start', '30']);
  const res = assertChildOk(r);
  assert.equal(res.outcomes.length, 30);
  for (const o of res.outcomes) assert.ok(o === DURING || o === DISPOSED, `unexpected outcome ${o}`);
  assert.equal(res.quiet, true, 'an isolate thread is still running guest code');
});

test('queued async work after dispose rejects "Isolate is disposed"', T, async () => {
  const s = setup();
  try {
    const running = s.ctx.eval('for (;;);');
    running.catch(() => {});
    // Queued behind the endless call, before dispose.
    const queued = {
      eval: s.ctx.eval('1'),
      evalClosure: s.ctx.evalClosure('return 1'),
      run: s.script.run(s.ctx),
      apply: s.fn.apply(undefined, [1]),
      get: s.global.get('obj'),
      set: s.global.set('x', 1),
      delete: s.global.delete('obj'),
      copy: s.obj.copy(),
      createContext: s.iso.createContext(),
      compileScript: s.iso.compileScript('1'),
      getHeapStatistics: s.iso.getHeapStatistics(),
    };
    for (const p of Object.values(queued)) p.catch(() => {});
    await untilRunning(s.iso);
    s.iso.dispose();
    await assert.rejects(running, (e) => assertDisposedError(e, DURING));
    for (const [name, p] of Object.entries(queued)) {
      await assert.rejects(p, (e) => assertDisposedError(e, DISPOSED), `${name} did not reject as disposed`);
    }
  } finally {
    disposeQuietly(s.iso);
  }
});

test('async calls made after dispose reject "Isolate is disposed"', T, async () => {
  const s = setup();
  s.iso.dispose();
  const calls = {
    eval: () => s.ctx.eval('1'),
    evalClosure: () => s.ctx.evalClosure('return 1'),
    run: () => s.script.run(s.ctx),
    apply: () => s.fn.apply(undefined, [1]),
    get: () => s.global.get('obj'),
    set: () => s.global.set('x', 1),
    delete: () => s.global.delete('obj'),
    copy: () => s.obj.copy(),
    createContext: () => s.iso.createContext(),
    compileScript: () => s.iso.compileScript('1'),
    getHeapStatistics: () => s.iso.getHeapStatistics(),
    getHeapSpaceStatistics: () => s.iso.getHeapSpaceStatistics(),
  };
  for (const [name, call] of Object.entries(calls)) {
    let p;
    assert.doesNotThrow(() => {
      p = call();
    }, `${name} threw synchronously instead of rejecting`);
    assert.ok(p instanceof Promise, `${name} did not return a promise`);
    await assert.rejects(p, (e) => assertDisposedError(e, DISPOSED), `${name}`);
  }
});

test('every sync method after dispose throws "Isolate is disposed"', T, () => {
  const s = setup();
  s.iso.dispose();
  assert.equal(s.iso.isDisposed, true);
  const calls = {
    evalSync: () => s.ctx.evalSync('1'),
    evalClosureSync: () => s.ctx.evalClosureSync('return 1'),
    runSync: () => s.script.runSync(s.ctx),
    compileScriptSync: () => s.iso.compileScriptSync('1'),
    createContextSync: () => s.iso.createContextSync(),
    getHeapStatisticsSync: () => s.iso.getHeapStatisticsSync(),
    getHeapSpaceStatisticsSync: () => s.iso.getHeapSpaceStatisticsSync(),
    applySync: () => s.fn.applySync(undefined, [1]),
    getSync: () => s.global.getSync('obj'),
    setSync: () => s.global.setSync('x', 1),
    deleteSync: () => s.global.deleteSync('obj'),
    copySync: () => s.obj.copySync(),
    cpuTime: () => s.iso.cpuTime,
    wallTime: () => s.iso.wallTime,
    referenceCount: () => s.iso.referenceCount,
  };
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, (e) => assertDisposedError(e, DISPOSED), `${name} did not throw as disposed`);
  }
});

test('Ignored variants are silent no-ops after dispose', T, async () => {
  const s = setup();
  s.iso.dispose();
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    assert.equal(s.ctx.evalIgnored('1'), undefined);
    assert.equal(s.ctx.evalClosureIgnored('return 1'), undefined);
    assert.equal(s.script.runIgnored(s.ctx), undefined);
    assert.equal(s.global.setIgnored('x', 1), undefined);
    assert.equal(s.global.deleteIgnored('obj'), undefined);
    assert.equal(s.fn.applyIgnored(undefined, [1]), undefined);
    // Give a stray rejection a chance to surface.
    for (let i = 0; i < 5; i++) await macrotask();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('Ignored variants queued before dispose are dropped silently', T, async () => {
  const s = setup();
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const running = s.ctx.eval('for (;;);');
    running.catch(() => {});
    s.ctx.evalIgnored('globalThis.late = 1');
    s.fn.applyIgnored(undefined, [1]);
    s.global.setIgnored('y', 2);
    await untilRunning(s.iso);
    s.iso.dispose();
    await assert.rejects(running, (e) => assertDisposedError(e, DURING));
    for (let i = 0; i < 5; i++) await macrotask();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    disposeQuietly(s.iso);
  }
});

test('a second dispose() throws "Isolate is already disposed"', T, () => {
  const iso = new ivm.Isolate({ memoryLimit: 16 });
  assert.equal(iso.isDisposed, false);
  assert.equal(iso.dispose(), undefined);
  assert.equal(iso.isDisposed, true);
  assert.throws(() => iso.dispose(), (e) => assertDisposedError(e, ALREADY));
  assert.throws(() => iso.dispose(), (e) => assertDisposedError(e, ALREADY));
});

test('dispose() of one isolate does not affect another', T, async () => {
  const a = setup();
  const b = setup();
  try {
    const running = a.ctx.eval('for (;;);');
    running.catch(() => {});
    await untilRunning(a.iso);
    a.iso.dispose();
    await assert.rejects(running, (e) => assertDisposedError(e, DURING));
    assert.equal(b.ctx.evalSync('obj.a'), 1);
    assert.equal(await b.fn.apply(undefined, [21]), 42);
    assert.equal(b.iso.isDisposed, false);
  } finally {
    disposeQuietly(a.iso);
    disposeQuietly(b.iso);
  }
});

// ---------------------------------------------------------------------------
// Races (child processes)

const SEED = Number(process.env.DISPOSE_RACE_SEED) || 1 + Math.floor(Math.random() * 1e9);

test(`100 dispose-while-running races with finite work settle correctly (seed ${SEED})`, CHILD_T, async () => {
  const r = await runChild(['race', String(SEED), '100', 'finite']);
  const res = assertChildOk(r);
  assert.equal(res.rounds, 100);
  assert.deepEqual(res.problems, [], `seed ${SEED}: ${JSON.stringify(res.problems).slice(0, 2000)}`);
  assert.equal(res.quiet, true, 'an isolate thread is still running guest code');
});

test(`100 dispose-while-running races with endless work: no crash, no hang, every promise settles (seed ${SEED})`, {
  ...CHILD_T,
}, async () => {
  const r = await runChild(['race', String(SEED), '100']);
  const res = assertChildOk(r);
  assert.equal(res.rounds, 100);
  assert.deepEqual(res.problems, [], `seed ${SEED}: ${JSON.stringify(res.problems).slice(0, 2000)}`);
  assert.equal(res.quiet, true, 'an isolate thread is still running guest code');
});

// ---------------------------------------------------------------------------
// Process lifetime (child processes)

test('isolates whose handles are all dropped do not keep the process alive, and are freed by GC', CHILD_T, async () => {
  const r = await runChild(['dropped-handles'], { nodeArgs: ['--expose-gc'] });
  const res = assertChildOk(r);
  assert.ok(res.peak >= 10 || res.peak === -1, `expected at least 10 isolate threads, saw ${res.peak}`);
  assert.equal(res.collected, true, `dropped isolates were not freed: ${JSON.stringify(res)}`);
});

test('the process exits cleanly and promptly with live idle isolates', CHILD_T, async () => {
  const r = await runChild(['idle-isolates'], { timeout: 20_000 });
  const res = assertChildOk(r);
  assert.equal(res.live, 5);
});

test('pending async work keeps the event loop alive until it settles', CHILD_T, async () => {
  const expected = { eval: '2', chain: String(((1e7 - 1) * 1e7) / 2), timeout: 'Script execution timed out.' };
  for (const [which, out] of Object.entries(expected)) {
    const r = await runChild(['pending-work', which]);
    assertChildOk(r);
    assert.equal(r.stdout.trim(), out, `pending-work ${which}: ${describeChild(r)}`);
  }
});

// ---------------------------------------------------------------------------
// worker_threads (child processes)

test('the addon works in two worker_threads at once, each creating isolates', CHILD_T, async () => {
  const r = await runChild(['workers']);
  const res = assertChildOk(r);
  assert.equal(res.results.length, 2);
  res.results.forEach(({ code, msg }, i) => {
    const id = i + 1;
    assert.equal(code, 0, `worker ${id} exit code`);
    assert.deepEqual(msg, Array.from({ length: 20 }, (_, j) => (j % 2 ? 'Script execution timed out.' : 42 + id)));
  });
  assert.deepEqual(res.main, Array.from({ length: 10 }, (_, i) => i * 3));
});

test('terminating a worker whose isolate runs for(;;) in an async eval does not crash or hang the process', CHILD_T, async () => {
  const r = await runChild(['worker-terminate', 'async']);
  const res = assertChildOk(r);
  assert.equal(res.first, 'running');
  assert.equal(res.terminated, 'fulfilled');
  assert.equal(res.value, 3, 'the main thread could not use a new isolate afterwards');
  assert.equal(res.quiet, true, "the terminated worker's guest is still running");
});

for (const mode of ['loop', 'block', 'sync-block']) {
  test(`terminating a worker whose guest is in a sync call to the worker (${mode}) ends the guest's thread`, CHILD_T, async () => {
    const r = await runChild(['worker-terminate-in-call', mode], { timeout: 30_000 });
    const res = assertChildOk(r);
    assert.equal(res.first, 'calling');
    assert.equal(res.terminated, 'fulfilled');
    assert.equal(res.gone, true, `isolate threads left: ${res.threads} (before: ${res.before})`);
  });
}

test('terminating a worker blocked in evalSync(for(;;)) does not hang the process', {
  ...CHILD_T,
}, async () => {
  const r = await runChild(['worker-terminate', 'sync'], { timeout: 20_000 });
  const res = assertChildOk(r);
  assert.equal(res.first, 'blocking');
  assert.equal(res.terminated, 'fulfilled');
  assert.equal(res.value, 3);
  assert.equal(res.quiet, true);
});

test('workers terminated while busy in the library\'s calls never take the process down', { timeout: 120_000 }, async () => {
  const r = await runChild(['worker-terminate-busy', '6'], { timeout: 110_000 });
  const res = assertChildOk(r);
  assert.doesNotMatch(r.stderr, /panicked|internal error/, describeChild(r));
  for (const [name, n] of Object.entries(res.results)) assert.equal(n, 6, `${name}: ${describeChild(r)}`);
});

test('calls in flight keep their isolate alive when its objects are collected', CHILD_T, async () => {
  const r = await runChild(['collected-owners'], { nodeArgs: ['--expose-gc'] });
  const res = assertChildOk(r);
  assert.deepEqual(res.failures, [], describeChild(r));
  assert.equal(res.values, 16);
});
