'use strict';
// The benchmark scenarios. Each entry runs unchanged against both
// implementations (v8-isolates and isolated-vm), in its own child process
// (`node --no-node-snapshot --expose-gc bench/scenario.js <impl> <name>`).
//
// Adding a scenario: append an object to the table below.
//
//   name       unique id, used on the command line (`node bench/run.js <name>`)
//   title      one-line description for the table
//   unit       unit of `value` ('us', 'ms', 'ops/s', 'MB', 'x', ...)
//   direction  'lower' or 'higher': which way `value` is better
//   target     the goal the run is judged against:
//                { on: 'ratio', op: '<=', value: 0.5 }  ours ÷ ivm must be <= 0.5
//                { on: 'ours',  op: '<=', value: 22 }   ours' own value must be <= 22
//              (op is '<=' or '>='); omit for a scenario that is only reported
//   run(ivm, opts)
//              async; `ivm` is the loaded module (either implementation, same
//              API), opts = { impl: 'ours' | 'ivm', quick: boolean }. Returns
//              { value, ...extra }: `value` is the metric, anything else is kept
//              in results.json for reference. One call is one repetition;
//              the runner alternates ours/ivm across repetitions and takes
//              the median of `value`.

const { now, msSince, median, sleep, settle, timeSyncLoop, timeAsyncLoop } = require('./util');

const ADD = 'globalThis.f = (a, b) => a + b';

// About `size` bytes of varied script: many small functions and one call.
function bigScript(size) {
  const parts = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const p = `function f${i}(a, b) { const x = a * ${i} + b; if (x > ${i % 97}) { return [x, "s${i}", { k: ${i} }]; } return x - ${i}; }\n`;
    parts.push(p);
    n += p.length;
  }
  parts.push('f1(1, 2);');
  return parts.join('');
}

// An isolate with one context, and the guest function `f` as a Reference.
function warmContext(ivm) {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.evalSync(ADD);
  const fn = context.global.getSync('f', { reference: true });
  return { isolate, context, fn };
}

// `step(global)` in a sync loop on a warm context (after `setupCode`), µs
// per step.
function globalLoop(ivm, quick, setupCode, step) {
  const { context } = warmContext(ivm);
  if (setupCode) context.evalSync(setupCode);
  const g = context.global;
  return { value: timeSyncLoop(() => step(g), 2000, quick ? 5000 : 20000) };
}

// A CPU-bound guest function; the work is fixed by `n`, not by the clock.
const WORK = `globalThis.work = function (n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i * i) % 1000003;
  return s;
}`;

// A guest loop calling a Node function `n` times: through a Reference
// (`hostFn.applySync`) or a Callback (`hostFn(...)`), inside a sync or an
// async outer call. The value is µs per guest -> host call.
function guestToHost(name, title, ratio, kind, asyncOuter) {
  return {
    name,
    title,
    unit: 'us',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: ratio },
    async run(ivm, { quick }) {
      const n = quick ? 5000 : 20000;
      const { context } = warmContext(ivm);
      const add = (a, b) => a + b;
      context.global.setSync('hostFn', kind === 'reference' ? new ivm.Reference(add) : new ivm.Callback(add));
      const call = kind === 'reference' ? 'hostFn.applySync(undefined, [i, 1])' : 'hostFn(i, 1)';
      context.evalSync(`globalThis.loop = (n) => { let s = 0; for (let i = 0; i < n; i++) s += ${call}; return s }`);
      const run = (code) => (asyncOuter ? context.eval(code) : context.evalSync(code));
      await run('loop(2000)');
      const t0 = now();
      await run(`loop(${n})`);
      return { value: (msSince(t0) * 1000) / n };
    },
  };
}

// A library that a guest environment loads before any request: 300 small
// functions and a 5000-entry table.
const LIBRARY = `globalThis.lib = (() => {
  const fns = {};
  ${Array.from({ length: 300 }, (_, i) => `fns.f${i} = (x) => x * ${i} + ${i};`).join('\n  ')}
  const table = Array.from({ length: 5000 }, (_, i) => ({ id: i, name: 'item' + i }));
  return { fns, table, check() { return fns.f299(1) + table.length; } };
})();`;

// Waits until `pool` has `n` isolates ready.
async function poolFilled(pool, n) {
  const end = Date.now() + 20000;
  while (pool.available < n && Date.now() < end) await sleep(2);
}

const scenarios = [
  {
    name: 'create',
    title: 'new Isolate() + createContextSync(), back to back',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 0.5 },
    async run(ivm, { quick }) {
      const n = quick ? 15 : 40;
      const create = [];
      const dispose = [];
      for (let i = 0; i < n + 3; i++) {
        let t0 = now();
        const isolate = new ivm.Isolate();
        isolate.createContextSync();
        const c = msSince(t0);
        t0 = now();
        isolate.dispose();
        const d = msSince(t0);
        if (i >= 3) {
          create.push(c);
          dispose.push(d);
        }
      }
      // Also with idle time between creations (a server that does not create
      // isolates back to back): kept as extra information, not judged.
      const spaced = [];
      for (let i = 0; i < (quick ? 5 : 10); i++) {
        await sleep(25);
        const t0 = now();
        const isolate = new ivm.Isolate();
        isolate.createContextSync();
        spaced.push(msSince(t0));
        isolate.dispose();
      }
      return { value: median(create), disposeMs: median(dispose), spacedMs: median(spaced) };
    },
  },
  {
    name: 'evalSync',
    title: "evalSync('1+1'), warm context",
    unit: 'us',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 1.0 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      return { value: timeSyncLoop(() => context.evalSync('1+1'), 2000, quick ? 5000 : 20000) };
    },
  },
  {
    name: 'applySync',
    title: 'Reference.applySync(undefined, [1, 2])',
    unit: 'us',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 1.0 },
    async run(ivm, { quick }) {
      const { fn } = warmContext(ivm);
      const args = [1, 2];
      return { value: timeSyncLoop(() => fn.applySync(undefined, args), 2000, quick ? 5000 : 20000) };
    },
  },
  {
    name: 'evalAsync',
    title: "sequential await ctx.eval('1+1')",
    unit: 'us',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 0.5 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      return { value: await timeAsyncLoop(() => context.eval('1+1'), 500, quick ? 2000 : 5000) };
    },
  },
  {
    name: 'concurrent',
    title: '1000 concurrent fn.apply (Promise.all), throughput',
    unit: 'ops/s',
    direction: 'higher',
    target: { on: 'ratio', op: '>=', value: 2.0 },
    async run(ivm, { quick }) {
      const { fn } = warmContext(ivm);
      const batch = () => {
        const ps = new Array(1000);
        for (let i = 0; i < 1000; i++) ps[i] = fn.apply(undefined, [1, 2]);
        return Promise.all(ps);
      };
      for (let i = 0; i < 3; i++) await batch();
      const batches = quick ? 5 : 20;
      const t0 = now();
      for (let i = 0; i < batches; i++) await batch();
      const ms = msSince(t0);
      return { value: (batches * 1000) / (ms / 1000), usPerOp: (ms * 1000) / (batches * 1000) };
    },
  },
  {
    name: 'rss',
    title: 'RSS per idle isolate + context (N=50)',
    unit: 'MB',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 1.0 },
    async run(ivm) {
      const N = 50;
      // One isolate first so one-time costs (platform, thread pools, code
      // loaded on first use) are in the baseline, not in the per-isolate share.
      const first = new ivm.Isolate();
      first.createContextSync();
      await settle();
      const before = process.memoryUsage.rss();
      const keep = [];
      for (let i = 0; i < N; i++) {
        const isolate = new ivm.Isolate();
        keep.push(isolate, isolate.createContextSync());
      }
      await settle();
      const after = process.memoryUsage.rss();
      keep.length = 0;
      return { value: (after - before) / N / (1024 * 1024), baselineMB: before / (1024 * 1024) };
    },
  },
  {
    name: 'parallel',
    title: '2 isolates x ~200 ms CPU loop, speedup seq/par',
    unit: 'x',
    direction: 'higher',
    target: { on: 'ours', op: '>=', value: 1.9 },
    async run(ivm, { quick }) {
      const a = new ivm.Isolate();
      const b = new ivm.Isolate();
      const ca = a.createContextSync();
      const cb = b.createContextSync();
      ca.evalSync(WORK);
      cb.evalSync(WORK);
      // Calibrate the loop to ~200 ms in this implementation: a short run to
      // warm up and estimate, then a full-size run (the function may tier up
      // further) to correct the estimate.
      const timeOne = async (n) => {
        const t = now();
        await ca.eval(`work(${n})`);
        return msSince(t);
      };
      await timeOne(2e6);
      let n = Math.max(1e5, Math.round((2e6 * 200) / Math.max(await timeOne(2e6), 1)));
      n = Math.max(1e5, Math.round((n * 200) / Math.max(await timeOne(n), 1)));
      const code = `work(${n})`;
      await Promise.all([ca.eval(code), cb.eval(code)]);
      let t0;
      const seq = [];
      const par = [];
      for (let r = 0; r < (quick ? 2 : 3); r++) {
        t0 = now();
        await ca.eval(code);
        await cb.eval(code);
        seq.push(msSince(t0));
        t0 = now();
        await Promise.all([ca.eval(code), cb.eval(code)]);
        par.push(msSince(t0));
      }
      const s = median(seq);
      const p = median(par);
      return { value: s / p, sequentialMs: s, parallelMs: p, iterations: n };
    },
  },
  {
    name: 'timeout',
    title: "evalSync('for(;;){}', {timeout: 20}), time to throw",
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ours', op: '<=', value: 22 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      const times = [];
      for (let i = 0; i < (quick ? 5 : 10); i++) {
        const t0 = now();
        let threw = false;
        try {
          context.evalSync('for(;;){}', { timeout: 20 });
        } catch {
          threw = true;
        }
        const ms = msSince(t0);
        if (!threw) throw new Error('infinite loop did not time out');
        times.push(ms);
      }
      return { value: median(times), maxMs: Math.max(...times), minMs: Math.min(...times) };
    },
  },
  {
    name: 'memoryBomb',
    title: '32 MB memoryLimit, allocate forever, time to reject',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 0.5 },
    async run(ivm, { quick }) {
      const times = [];
      for (let i = 0; i < (quick ? 2 : 3); i++) {
        const isolate = new ivm.Isolate({ memoryLimit: 32 });
        const context = isolate.createContextSync();
        const t0 = now();
        let rejected = false;
        await context.eval('const a = []; for (;;) a.push({ x: Math.random() })').catch(() => {
          rejected = true;
        });
        times.push(msSince(t0));
        if (!rejected) throw new Error('memory bomb did not reject');
        if (!isolate.isDisposed) isolate.dispose();
      }
      return { value: median(times), maxMs: Math.max(...times) };
    },
  },
  // --- Transfer model (issue 3) ---
  guestToHost('guestToHostSync', 'guest -> host sync call (Reference.applySync in the guest), outer call sync', 1.0, 'reference', false),
  guestToHost('guestToHostSyncAsync', 'guest -> host sync call (Reference.applySync in the guest), outer call async', 0.5, 'reference', true),
  guestToHost('callback', 'sync Callback called from the guest, outer call sync', 1.0, 'callback', false),
  {
    name: 'copy1MiB',
    title: 'a 1 MiB buffer copied in (ExternalCopy.copyInto) and out (copy: true)',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 1.0 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      const buf = new Uint8Array(1 << 20).fill(7);
      const reps = quick ? 20 : 50;
      const times = [];
      for (let i = 0; i < reps + 5; i++) {
        const t0 = now();
        context.global.setSync('b', new ivm.ExternalCopy(buf).copyInto());
        context.evalSync('b', { copy: true });
        if (i >= 5) times.push(msSince(t0));
      }
      return { value: median(times) };
    },
  },
  {
    name: 'transfer64MiB',
    title: 'a 64 MiB ArrayBuffer moved in and out with transferList (GB/s per round trip)',
    unit: 'GB/s',
    direction: 'higher',
    target: { on: 'ours', op: '>=', value: 5 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      const size = 64 << 20;
      let ab = new ArrayBuffer(size);
      // The guest reaches the ExternalCopy class through an instance.
      context.global.setSync('seed', new ivm.ExternalCopy(0));
      context.evalSync('globalThis.EC = seed.constructor');
      const reps = quick ? 10 : 30;
      const times = [];
      for (let i = 0; i < reps + 3; i++) {
        const t0 = now();
        const ec = new ivm.ExternalCopy(ab, { transferList: [ab] });
        context.global.setSync('x', ec.copyInto({ transferIn: true }));
        const out = context.evalSync('new Uint8Array(x)[0]++; new EC(x, { transferList: [x] })');
        ab = out.copy({ transferIn: true });
        if (i >= 3) times.push(msSince(t0));
      }
      if (new Uint8Array(ab)[0] !== (reps + 3) % 256) throw new Error('data lost in transfer');
      const ms = median(times);
      return { value: size / 1e9 / (ms / 1000), ms };
    },
  },
  {
    name: 'graph10k',
    title: 'a 10k-object graph copied in and out',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 0.5 },
    async run(ivm, { quick }) {
      const { context } = warmContext(ivm);
      const graph = { items: Array.from({ length: 10000 }, (_, i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) };
      const reps = quick ? 5 : 15;
      const times = [];
      for (let i = 0; i < reps + 2; i++) {
        const t0 = now();
        context.global.setSync('g', graph, { copy: true });
        context.evalSync('g', { copy: true });
        if (i >= 2) times.push(msSince(t0));
      }
      return { value: median(times) };
    },
  },
  // Small values, reported only (no target in the issues): the per-call
  // costs an embedder pays for world state, options and results.
  {
    name: 'smallCopyIn',
    title: "setSync('v', {a: 1, b: 'two', c: [3]}, {copy: true})",
    unit: 'us',
    direction: 'lower',
    async run(ivm, { quick }) {
      return globalLoop(ivm, quick, '', (g) => g.setSync('v', { a: 1, b: 'two', c: [3] }, { copy: true }));
    },
  },
  {
    name: 'smallCopyOut',
    title: "getSync('v', {copy: true}) of {a: 1, b: 'two', c: [3]}",
    unit: 'us',
    direction: 'lower',
    async run(ivm, { quick }) {
      return globalLoop(ivm, quick, "globalThis.v = { a: 1, b: 'two', c: [3] }", (g) => g.getSync('v', { copy: true }));
    },
  },
  {
    name: 'externalCopySmall',
    title: "new ExternalCopy({a: 1, b: 'two', c: [3]})",
    unit: 'us',
    direction: 'lower',
    async run(ivm, { quick }) {
      return { value: timeSyncLoop(() => new ivm.ExternalCopy({ a: 1, b: 'two', c: [3] }), 2000, quick ? 5000 : 20000) };
    },
  },
  {
    name: 'getSetSync',
    title: "global setSync('x', n) then getSync('x'), µs per pair",
    unit: 'us',
    direction: 'lower',
    async run(ivm, { quick }) {
      let n = 0;
      return globalLoop(ivm, quick, '', (g) => {
        g.setSync('x', n++);
        g.getSync('x');
      });
    },
  },
  // The same calls with the options and receivers embedders write (isolated-
  // vm's README passes `{result: {copy: true}}` and `null` receivers): each
  // form, µs per call. Reported only.
  {
    name: 'applySyncForms',
    title: 'applySync(null, [1, 2]); with {timeout}; with {result: {copy: true}}; guest function called from Node; runSync(ctx)',
    unit: 'us',
    direction: 'lower',
    printExtras: true,
    async run(ivm, { quick }) {
      const { isolate, context, fn } = warmContext(ivm);
      const args = [1, 2];
      const n = quick ? 5000 : 20000;
      const direct = context.global.getSync('f');
      const script = isolate.compileScriptSync('1 + 1');
      const forms = {
        nullReceiver: timeSyncLoop(() => fn.applySync(null, args), 2000, n),
        timeout: timeSyncLoop(() => fn.applySync(undefined, args, { timeout: 1000 }), 2000, n),
        resultCopy: timeSyncLoop(() => fn.applySync(undefined, args, { result: { copy: true } }), 2000, n),
        guestFunction: timeSyncLoop(() => direct(1, 2), 2000, n),
        runSync: timeSyncLoop(() => script.runSync(context), 2000, n),
      };
      // The value is their mean; each form is printed beside it.
      const values = Object.values(forms);
      return { value: values.reduce((a, b) => a + b, 0) / values.length, ...forms };
    },
  },
  {
    name: 'codeCache1MB',
    title: 'compiling a 1 MB script: uncached time / time with cachedData (speedup)',
    unit: 'x',
    direction: 'higher',
    target: { on: 'ours', op: '>=', value: 2 },
    async run(ivm, { quick }) {
      const base = bigScript(1 << 20);
      // V8 caches compiled sources per isolate: every compile below uses a
      // source text of its own, and the data comes from another isolate.
      const producer = new ivm.Isolate();
      const isolate = new ivm.Isolate();
      const reps = quick ? 8 : 20;
      const plain = [];
      const cached = [];
      for (let i = 0; i < reps + 2; i++) {
        const withCache = `${base}\n// cached ${i}`;
        const { cachedData } = producer.compileScriptSync(withCache, { produceCachedData: true });
        let t0 = now();
        isolate.compileScriptSync(`${base}\n// plain ${i}`);
        const tPlain = msSince(t0);
        t0 = now();
        const script = isolate.compileScriptSync(withCache, { cachedData });
        const tCached = msSince(t0);
        if (script.cachedDataRejected) throw new Error('cached data was rejected');
        if (i >= 2) {
          plain.push(tPlain);
          cached.push(tCached);
        }
      }
      const p = median(plain);
      const c = median(cached);
      return { value: p / c, uncachedMs: p, cachedMs: c };
    },
  },
  {
    name: 'snapshotCreate',
    title: 'isolate + context: ours from a snapshot (with a library), ivm new Isolate()',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ratio', op: '<=', value: 0.5 },
    // isolated-vm 5.0.4's snapshots do not reach its contexts under Node 20,
    // so its side is a plain cold create (and, as an extra, a create that
    // then runs the library, which is what a snapshot replaces).
    async run(ivm, { impl, quick }) {
      const n = quick ? 15 : 40;
      const snapshot = impl === 'ours' ? ivm.Isolate.createSnapshot([{ code: LIBRARY, filename: 'lib.js' }]) : undefined;
      const make = () => {
        const isolate = impl === 'ours' ? new ivm.Isolate({ snapshot }) : new ivm.Isolate();
        const context = isolate.createContextSync();
        return { isolate, context };
      };
      const backToBack = [];
      for (let i = 0; i < n + 3; i++) {
        const t0 = now();
        const { isolate } = make();
        const ms = msSince(t0);
        isolate.dispose();
        if (i >= 3) backToBack.push(ms);
      }
      const spaced = [];
      const withLibrary = [];
      for (let i = 0; i < (quick ? 5 : 10); i++) {
        await sleep(25);
        const t0 = now();
        const { isolate, context } = make();
        spaced.push(msSince(t0));
        if (impl !== 'ours') context.evalSync(LIBRARY);
        if (context.evalSync('lib.check()') !== 5598) throw new Error('library missing');
        withLibrary.push(msSince(t0));
        isolate.dispose();
      }
      return { value: median(backToBack), spacedMs: median(spaced), withLibraryMs: median(withLibrary) };
    },
  },
  {
    name: 'poolAcquire',
    title: 'IsolatePool.acquire() from a warm pool (ivm: new Isolate() + context)',
    unit: 'ms',
    direction: 'lower',
    target: { on: 'ours', op: '<=', value: 0.2 },
    async run(ivm, { quick }) {
      const n = quick ? 10 : 30;
      const times = [];
      // isolated-vm has no pool: its number is what acquire() replaces.
      const pool = ivm.IsolatePool ? new ivm.IsolatePool({ size: 4 }) : undefined;
      for (let i = 0; i < n + 3; i++) {
        if (pool) await poolFilled(pool, 4);
        else await sleep(5);
        const t0 = now();
        const { isolate, context } = pool ? pool.acquire() : ((iso) => ({ isolate: iso, context: iso.createContextSync() }))(new ivm.Isolate());
        const ms = msSince(t0);
        context.evalSync('1');
        isolate.dispose();
        if (i >= 3) times.push(ms);
      }
      if (pool) pool.dispose();
      return { value: median(times) };
    },
  },
];

module.exports = scenarios;
