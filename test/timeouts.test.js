'use strict';
// `timeout` against hostile guest code: infinite loops, endless microtask
// chains and async loops must be stopped with an ivm.TimeoutError, and the
// isolate must stay usable, with its state, afterwards. No assertion here is
// about precise timing; "did not hang" is enforced by the per-test timeouts
// and, for sync calls that block the main thread, by the hang guard.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const { installHangGuard } = require('./fixtures/hang-guard');

installHangGuard({ ms: 60_000 });

const TIMEOUT_MESSAGE = 'Script execution timed out.';
const T = { timeout: 30_000 };

function assertTimeoutError(err) {
  assert.ok(err instanceof ivm.TimeoutError, `expected an ivm.TimeoutError, got ${err && err.stack}`);
  assert.ok(err instanceof Error);
  assert.equal(err.message, TIMEOUT_MESSAGE);
  assert.equal(err.code, 'ERR_ISOLATE_TIMEOUT');
  return true;
}

// Runs `fn(iso, ctx)` with a fresh isolate and always disposes it.
async function withIsolate(fn, options = { memoryLimit: 64 }) {
  const iso = new ivm.Isolate(options);
  try {
    const ctx = iso.createContextSync();
    return await fn(iso, ctx);
  } finally {
    if (!iso.isDisposed) iso.dispose();
  }
}

// Hostile bodies, as statements.
const HOSTILE = {
  'infinite loop': 'for (;;);',
  'endless microtask chain': '(function f() { Promise.resolve().then(f); })();',
  'async function loop': '(async () => { for (;;) await 0; })();',
};

// The eight entry points that take `timeout`. Each runs `body` (statements)
// with `opts` and returns (or resolves to) its result; `ok` is a body that
// completes and returns 'done'.
const METHODS = {
  evalSync: { sync: true, call: (iso, ctx, body, opts) => ctx.evalSync(body, opts) },
  eval: { sync: false, call: (iso, ctx, body, opts) => ctx.eval(body, opts) },
  evalClosureSync: { sync: true, call: (iso, ctx, body, opts) => ctx.evalClosureSync(body, [], opts) },
  evalClosure: { sync: false, call: (iso, ctx, body, opts) => ctx.evalClosure(body, [], opts) },
  runSync: { sync: true, call: (iso, ctx, body, opts) => iso.compileScriptSync(body).runSync(ctx, opts) },
  run: { sync: false, call: async (iso, ctx, body, opts) => (await iso.compileScript(body)).run(ctx, opts) },
  applySync: {
    sync: true,
    call: (iso, ctx, body, opts) => fnRef(ctx, body).applySync(undefined, [], opts),
  },
  apply: { sync: false, call: (iso, ctx, body, opts) => fnRef(ctx, body).apply(undefined, [], opts) },
};

// A Reference to a guest function whose body is `body`.
function fnRef(ctx, body) {
  return ctx.evalSync(`(function hostile() { ${body} })`, { reference: true });
}

// For eval/run the completion value is the result; for closures/functions it
// is the returned value. This makes `'done'` come back from every method.
function okBody(method) {
  const completionValue = (method.startsWith('eval') && !method.startsWith('evalClosure')) || method.startsWith('run');
  return completionValue ? '"done"' : 'return "done";';
}

async function callAndExpectTimeout(m, iso, ctx, body, timeout) {
  if (m.sync) {
    assert.throws(() => m.call(iso, ctx, body, { timeout }), assertTimeoutError);
  } else {
    await assert.rejects(m.call(iso, ctx, body, { timeout }), assertTimeoutError);
  }
}

for (const [name, m] of Object.entries(METHODS)) {
  for (const [what, body] of Object.entries(HOSTILE)) {
    test(`${name}: ${what} times out, the isolate stays usable and keeps its state`, T, async () => {
      await withIsolate(async (iso, ctx) => {
        ctx.evalSync('globalThis.counter = 41; globalThis.bump = () => ++globalThis.counter;');
        await callAndExpectTimeout(m, iso, ctx, body, 20);
        assert.equal(iso.isDisposed, false);
        // The next calls, without a timeout, complete: nothing of the killed
        // call (loop, microtask queue) is left to run.
        assert.equal(ctx.evalSync('bump()'), 42);
        assert.equal(await ctx.eval('bump()'), 43);
        // Microtasks still work after the flush.
        await ctx.eval('Promise.resolve().then(() => { globalThis.later = counter + 1; }); 0');
        assert.equal(ctx.evalSync('later'), 44);
        // The same entry point works again, with and without a timeout.
        assert.equal(await m.call(iso, ctx, okBody(name)), 'done');
        assert.equal(await m.call(iso, ctx, okBody(name), { timeout: 10_000 }), 'done');
      });
    });
  }
}

for (const [name, m] of Object.entries(METHODS)) {
  test(`${name}: a call that finishes before its timeout succeeds`, T, async () => {
    await withIsolate(async (iso, ctx) => {
      assert.equal(await m.call(iso, ctx, okBody(name), { timeout: 10_000 }), 'done');
      // Some real work, far below the timeout.
      const work = 'let s = 0; for (let i = 0; i < 1e5; i++) s += i;';
      const body = okBody(name).startsWith('return') ? `${work} return s;` : `${work} s`;
      assert.equal(await m.call(iso, ctx, body, { timeout: 10_000 }), 4999950000);
      // Microtasks that end are not mistaken for an endless chain.
      const mt = 'let n = 0; (function f() { if (++n < 1000) Promise.resolve().then(f); })();';
      await m.call(iso, ctx, mt, { timeout: 10_000 });
    });
  });
}

test('the deadline of a finished call does not kill a later call', T, async () => {
  await withIsolate(async (iso, ctx) => {
    for (let i = 0; i < 5; i++) {
      assert.equal(ctx.evalSync('1', { timeout: 10 }), 1);
      assert.equal(await ctx.eval('2', { timeout: 10 }), 2);
      // Runs well past the earlier 10 ms deadlines, without a timeout.
      const r = ctx.evalSync('(() => { const end = Date.now() + 40; let n = 0; while (Date.now() < end) n++; return n > 0; })()');
      assert.equal(r, true);
      const r2 = await ctx.eval('(() => { const end = Date.now() + 40; while (Date.now() < end); return "ok"; })()');
      assert.equal(r2, 'ok');
    }
  });
});

test('50 sync timeouts of 5 ms in a row never leak a termination into the next call', T, async () => {
  await withIsolate(async (iso, ctx) => {
    ctx.evalSync('globalThis.n = 0');
    for (let i = 0; i < 50; i++) {
      assert.throws(() => ctx.evalSync('for (;;);', { timeout: 5 }), assertTimeoutError);
      assert.equal(ctx.evalSync('++n'), i + 1, `call after timeout #${i} failed`);
      assert.equal(ctx.evalClosureSync('return $0 * 2', [i], { timeout: 10_000 }), i * 2);
    }
  });
});

test('50 async timeouts of 5 ms in a row never leak a termination into the next call', T, async () => {
  await withIsolate(async (iso, ctx) => {
    ctx.evalSync('globalThis.n = 0');
    for (let i = 0; i < 50; i++) {
      await assert.rejects(ctx.eval('for (;;);', { timeout: 5 }), assertTimeoutError);
      assert.equal(await ctx.eval('++n'), i + 1, `call after timeout #${i} failed`);
      assert.equal(await ctx.evalClosure('return $0 * 2', [i], { timeout: 10_000 }), i * 2);
    }
  });
});

test('50 alternating microtask-chain timeouts leave a clean queue every time', T, async () => {
  await withIsolate(async (iso, ctx) => {
    ctx.evalSync('globalThis.n = 0');
    for (let i = 0; i < 50; i++) {
      const body = HOSTILE[i % 2 ? 'endless microtask chain' : 'async function loop'];
      if (i % 3 === 0) assert.throws(() => ctx.evalSync(body, { timeout: 5 }), assertTimeoutError);
      else await assert.rejects(ctx.eval(body, { timeout: 5 }), assertTimeoutError);
      assert.equal(await ctx.eval('++n'), i + 1, `call after timeout #${i} failed`);
    }
  });
});

test('async: with several calls queued only the one that timed out is killed', T, async () => {
  await withIsolate(async (iso, ctx) => {
    ctx.evalSync('globalThis.log = []');
    const calls = [
      ctx.eval('log.push("a"); "a"'),
      ctx.eval('log.push("loop"); for (;;);', { timeout: 30 }),
      ctx.eval('log.push("b"); "b"', { timeout: 10_000 }),
      ctx.evalClosure('log.push("closure-loop"); for (;;);', [], { timeout: 30 }),
      ctx.evalClosure('log.push("c"); return "c"'),
      ctx.eval('log.push("mt"); (function f() { Promise.resolve().then(f); })();', { timeout: 30 }),
      ctx.eval('log.push("d"); "d"'),
    ];
    const settled = await Promise.allSettled(calls);
    const shape = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason));
    assert.equal(shape[0], 'a');
    assertTimeoutError(shape[1]);
    assert.equal(shape[2], 'b');
    assertTimeoutError(shape[3]);
    assert.equal(shape[4], 'c');
    assertTimeoutError(shape[5]);
    assert.equal(shape[6], 'd');
    // Everything ran, in queue order.
    assert.deepEqual(ctx.evalSync('log.join()'), 'a,loop,b,closure-loop,c,mt,d');
  });
});

test('async timeouts on several isolates at once only kill their own call', T, async () => {
  const isos = Array.from({ length: 4 }, () => new ivm.Isolate({ memoryLimit: 32 }));
  try {
    const ctxs = isos.map((iso) => iso.createContextSync());
    const results = await Promise.allSettled(
      ctxs.flatMap((ctx, i) => [
        ctx.eval('for (;;);', { timeout: 20 + i * 5 }),
        ctx.eval(`${i} * 10`),
      ]),
    );
    for (let i = 0; i < isos.length; i++) {
      assert.equal(results[2 * i].status, 'rejected');
      assertTimeoutError(results[2 * i].reason);
      assert.deepEqual(results[2 * i + 1], { status: 'fulfilled', value: i * 10 });
      assert.equal(isos[i].isDisposed, false);
    }
  } finally {
    for (const iso of isos) if (!iso.isDisposed) iso.dispose();
  }
});

test('a timeout in one context does not poison other contexts of the same isolate', T, async () => {
  await withIsolate(async (iso, ctx) => {
    const other = iso.createContextSync();
    other.evalSync('globalThis.x = "other"');
    assert.throws(() => ctx.evalSync('for (;;);', { timeout: 10 }), assertTimeoutError);
    assert.equal(other.evalSync('x'), 'other');
    await assert.rejects(other.eval('for (;;);', { timeout: 10 }), assertTimeoutError);
    assert.equal(await ctx.eval('typeof x'), 'undefined');
    assert.equal(await other.eval('x'), 'other');
  });
});

test('a guest that catches the termination cannot swallow the timeout', T, async () => {
  await withIsolate(async (iso, ctx) => {
    const body = 'for (;;) { try { for (;;); } catch (e) {} finally { globalThis.swallowed = true; } }';
    assert.throws(() => ctx.evalSync(body, { timeout: 20 }), assertTimeoutError);
    await assert.rejects(ctx.eval(body, { timeout: 20 }), assertTimeoutError);
    assert.equal(ctx.evalSync('1 + 1'), 2);
  });
});

test('timeout errors have the documented class shape', { timeout: 5_000 }, () => {
  const e = new ivm.TimeoutError();
  assert.equal(e.message, TIMEOUT_MESSAGE);
  assert.equal(e.code, 'ERR_ISOLATE_TIMEOUT');
  assert.ok(e instanceof Error);
  assert.ok(!(e instanceof ivm.IsolateDisposedError));
});

// Deadlines live in the frames of running calls, and the watchdog thread
// sleeps until the earliest one it knows (native/src/engine/watchdog.rs).

test('a short deadline set while the watchdog waits for a long one still fires on time', { timeout: 8_000 }, async () => {
  await withIsolate(async (a) => {
    await withIsolate(async (b) => {
      const ca = a.createContextSync();
      const cb = b.createContextSync();
      // The watchdog sleeps until this call's deadline, 6 s away...
      const long = ca.eval('for (;;);', { timeout: 6_000 });
      // ...and must wake for this one: waiting for the first deadline would
      // outlast the test's own timeout.
      for (let i = 0; i < 3; i++) {
        assert.throws(() => cb.evalSync('for (;;);', { timeout: 20 }), assertTimeoutError);
        await assert.rejects(cb.eval('for (;;);', { timeout: 20 }), assertTimeoutError);
      }
      a.dispose();
      await assert.rejects(long, /disposed/);
    });
  });
});

test('an isolate whose calls have ended leaves the watchdog and comes back with its next deadline', { timeout: 8_000 }, async () => {
  await withIsolate(async (x, cx) => {
    await withIsolate(async (y, cy) => {
      // x's deadline passes with its call long done: the watchdog wakes for
      // it before y's, finds nothing to kill in x, and drops x from its list.
      assert.equal(cx.evalSync('1', { timeout: 30 }), 1);
      assert.throws(() => cy.evalSync('for (;;);', { timeout: 60 }), assertTimeoutError);
      // x's next deadline has to bring it back.
      assert.throws(() => cx.evalSync('for (;;);', { timeout: 20 }), assertTimeoutError);
      await assert.rejects(cx.eval('for (;;);', { timeout: 20 }), assertTimeoutError);
    });
  });
});

test('nested calls each keep their own deadline', T, async () => {
  await withIsolate(async (iso, ctx) => {
    const inner = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ic = inner.createContextSync();
      ctx.global.setSync('spinInner', () => {
        assert.throws(() => ic.evalSync('for (;;);', { timeout: 20 }), assertTimeoutError);
        return 'inner timed out';
      });
      // The inner deadline fires inside the outer call, which goes on under
      // its own, longer one.
      assert.equal(ctx.evalSync('spinInner() + "; " + spinInner()', { timeout: 5_000 }), 'inner timed out; inner timed out');
      // The outer deadline passes while a nested call with a later one runs
      // (Node's thread is blocked in it): the outer call ends as timed out
      // once Node's function returns.
      ctx.global.setSync('waitInner', () => {
        try {
          ic.evalSync('for (;;);', { timeout: 200 });
        } catch {}
        return 'returned';
      });
      assert.throws(() => ctx.evalSync('waitInner(); for (;;);', { timeout: 30 }), assertTimeoutError);
      assert.equal(ctx.evalSync('waitInner()', { timeout: 5_000 }), 'returned');
    } finally {
      inner.dispose();
    }
  });
});

test('many isolates with deadlines of all lengths, set from several threads at once: each fires, none early', { timeout: 60_000 }, async () => {
  const { Worker } = require('node:worker_threads');
  // Each worker (and the main thread) runs rounds on its own isolates: an
  // endless loop under a short timeout must time out, a quick call under a
  // long one must not; deadlines of 5 ms to 10 s are set concurrently.
  const body = `
    const ivm = require(${JSON.stringify(require.resolve('../lib'))});
    const isolates = Array.from({ length: 4 }, () => new ivm.Isolate({ memoryLimit: 16 }));
    const contexts = isolates.map((i) => i.createContextSync());
    let timedOut = 0;
    let early = 0;
    for (let round = 0; round < 40; round++) {
      const c = contexts[round % 4];
      const short = 5 + (round % 7) * 5;
      try { c.evalSync('for (;;);', { timeout: short }); } catch (e) { if (e.message === 'Script execution timed out.') timedOut++; }
      try { c.evalSync('{ let s = 0; for (let i = 0; i < 1000; i++) s += i; }', { timeout: 10000 - round }); } catch { early++; }
    }
    isolates.forEach((i) => i.dispose());
    module.exports = { timedOut, early };
  `;
  const workers = Array.from({ length: 3 }, () => new Worker(`${body}; require('node:worker_threads').parentPort.postMessage(module.exports);`, { eval: true }));
  const results = workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  // The main thread meanwhile, with async calls.
  const iso = new ivm.Isolate({ memoryLimit: 16 });
  try {
    const ctx = iso.createContextSync();
    let mainTimedOut = 0;
    for (let round = 0; round < 20; round++) {
      await assert.rejects(ctx.eval('for (;;);', { timeout: 5 + (round % 5) * 7 }), assertTimeoutError);
      mainTimedOut++;
      assert.equal(await ctx.eval('2 + 2', { timeout: 20_000 }), 4);
    }
    assert.equal(mainTimedOut, 20);
  } finally {
    iso.dispose();
  }
  for (const r of await Promise.all(results)) assert.deepEqual(r, { timedOut: 40, early: 0 });
});
