'use strict';
// The Isolate / Context / Script / Reference surface.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const NON_TRANSFERABLE = 'A non-transferable value was passed';
const RELEASED = 'Reference has been released';
const MiB = 1024 * 1024;

const { setup } = require('./support/isolate');

// ---------------------------------------------------------------------------
// Context: eval / evalClosure

test('eval: sync, async and ignored variants', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  assert.equal(context.evalSync('1 + 2'), 3);
  const p = context.eval('"a" + "b"');
  assert.ok(p instanceof Promise);
  assert.equal(await p, 'ab');
  assert.equal(context.evalIgnored('globalThis.ignored = 42'), undefined);
  assert.equal(await context.eval('globalThis.ignored'), 42);
  // Script-level declarations persist across evals in one context.
  context.evalSync('var declared = 7; let lexical = 8');
  assert.equal(context.evalSync('declared + lexical'), 15);
});

test('evalClosure: $0..$N, return, and the global as receiver', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  assert.equal(context.evalClosureSync('return $0 + $1 * $2', [1, 2, 3]), 7);
  assert.equal(context.evalClosureSync('return arguments.length', ['a', 'b', 'c', 'd']), 4);
  assert.equal(context.evalClosureSync('return $3', [0, 0, 0, 'fourth']), 'fourth');
  assert.equal(context.evalClosureSync('$0 + 1', [1]), undefined, 'no return gives undefined');
  assert.equal(context.evalClosureSync('return this === globalThis'), true);
  assert.equal(context.evalClosureSync('"use strict"; return this === globalThis'), true);
  assert.equal(await context.evalClosure('return $0 * 2', [21]), 42);
  assert.equal(context.evalClosureIgnored('globalThis.fromIgnored = $0', ['yes']), undefined);
  assert.equal(await context.evalClosure('return globalThis.fromIgnored'), 'yes');
});

// ---------------------------------------------------------------------------
// Script

test('compileScript / run: sync, async, ignored, and {release:true}', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  const counter = isolate.compileScriptSync('globalThis.n = (globalThis.n || 0) + 1');
  assert.ok(counter instanceof ivm.Script);
  assert.equal(counter.runSync(context), 1);
  assert.equal(await counter.run(context), 2);
  assert.equal(counter.runIgnored(context), undefined);
  assert.equal(await context.eval('n'), 3);

  const once = await isolate.compileScript('"once"');
  assert.ok(once instanceof ivm.Script);
  assert.equal(once.runSync(context, { release: true }), 'once');
  assert.throws(() => once.runSync(context), { message: 'Script has been released' });

  const onceAsync = isolate.compileScriptSync('"again"');
  assert.equal(await onceAsync.run(context, { release: true }), 'again');
  await assert.rejects(onceAsync.run(context), { message: 'Script has been released' });
});

test('compileScript honours filename, lineOffset and columnOffset', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  // Positions checked against isolated-vm 5.0.4.
  const s1 = isolate.compileScriptSync('new Error("x").stack', { filename: 'off.js', lineOffset: 10, columnOffset: 5 });
  assert.equal(s1.runSync(context), 'Error: x\n    at off.js:11:6');
  const s2 = isolate.compileScriptSync('\nnew Error("y").stack', { filename: 'off.js', lineOffset: 10, columnOffset: 5 });
  assert.equal(s2.runSync(context), 'Error: y\n    at off.js:12:1');
  const s3 = await isolate.compileScript('new Error("w").stack', { filename: 'as.js', lineOffset: 1, columnOffset: 2 });
  assert.equal(await s3.run(context), 'Error: w\n    at as.js:2:3');
  assert.equal(context.evalSync('new Error("d").stack'), 'Error: d\n    at <isolated-vm>:1:1');
  assert.equal(
    context.evalClosureSync('\nreturn new Error("c").stack', [], { filename: 'cl.js', lineOffset: 2 }),
    'Error: c\n    at cl.js:4:8',
  );
});

// ---------------------------------------------------------------------------
// Contexts

test('createContext: contexts have separate globals', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  const other = await isolate.createContext();
  assert.ok(other instanceof ivm.Context);
  context.evalSync('globalThis.mine = 1');
  assert.equal(other.evalSync('typeof mine'), 'undefined');
  other.evalSync('globalThis.mine = 2');
  assert.equal(context.evalSync('mine'), 1);
  assert.equal(context.evalSync('Object === globalThis.Object'), true);
  const third = isolate.createContextSync();
  assert.equal(third.evalSync('typeof mine'), 'undefined');
});

test('context.global is a cached Reference; release() drops it', { timeout: 10000 }, (t) => {
  const { isolate } = setup(t);
  const ctx = isolate.createContextSync();
  const g = ctx.global;
  assert.ok(g instanceof ivm.Reference);
  assert.equal(g, ctx.global);
  assert.equal(g.typeof, 'object');
  assert.equal(g.getSync('Math', { reference: true }).typeof, 'object');
  assert.equal(ctx.release(), true);
  assert.equal(ctx.release(), false);
  assert.equal(ctx.global, undefined);
  assert.throws(() => g.typeof, { message: RELEASED });
});

// ---------------------------------------------------------------------------
// Reference into an isolate

test('Reference get: sync and async, own properties only', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.o = { a: 1, nested: { b: 2 } }; globalThis.arr = [10, 20]');
  const o = global.getSync('o');
  assert.equal(o.getSync('a'), 1);
  assert.equal(await o.get('a'), 1);
  assert.equal(o.getSync('missing'), undefined);
  assert.equal(o.getSync('toString'), undefined, 'inherited properties are not visible');
  const nested = await o.get('nested');
  assert.ok(nested instanceof ivm.Reference);
  assert.equal(nested.getSync('b'), 2);
  assert.equal(global.getSync('arr').getSync(1), 20);
  assert.deepEqual(o.getSync('nested', { copy: true }), { b: 2 });
});

test('Reference set: sync, async and ignored variants', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  global.setSync('s1', 1);
  await global.set('s2', 'two');
  global.setIgnored('s3', 3n);
  assert.deepEqual(await context.eval('[s1, s2, s3]', { copy: true }), [1, 'two', 3n]);
  global.setSync(0, 'index');
  assert.equal(context.evalSync('globalThis[0]'), 'index');
});

test('Reference set defines a data property and never calls a setter', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  context.evalSync(`globalThis.calls = 0;
    globalThis.target = { set s(v) { calls++ }, get g() { calls++; return 1 } };
    Object.defineProperty(globalThis, 'viaGlobal', { set(v) { calls++ }, configurable: true });`);
  const target = global.getSync('target');
  target.setSync('s', 5);
  target.setSync('g', 6);
  global.setSync('viaGlobal', 7);
  assert.equal(context.evalSync('calls'), 0);
  assert.equal(
    context.evalSync('JSON.stringify(Object.getOwnPropertyDescriptor(target, "s"))'),
    '{"value":5,"writable":true,"enumerable":true,"configurable":true}',
  );
  assert.equal(context.evalSync('target.g'), 6);
  assert.equal(context.evalSync('viaGlobal'), 7);
});

test('Reference delete: sync, async and ignored variants', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.d1 = 1; globalThis.d2 = 2; globalThis.d3 = 3');
  global.deleteSync('d1');
  await global.delete('d2');
  global.deleteIgnored('d3');
  assert.deepEqual(await context.eval('["d1" in globalThis, "d2" in globalThis, "d3" in globalThis]', { copy: true }), [
    false, false, false,
  ]);
  assert.throws(() => global.deleteSync('undefined'), { message: 'Delete failed' });
});

test(
  'Reference delete failure is a TypeError',
  { timeout: 10000 },
  (t) => {
    const { global } = setup(t);
    assert.throws(() => global.deleteSync('undefined'), { constructor: TypeError, message: 'Delete failed' });
  },
);

test('Reference apply: sync, async, ignored, receiver and transfer options', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync(`globalThis.calls = [];
    globalThis.add = function (a, b) { 'use strict'; calls.push([this === undefined, a, b]); return a + b };
    globalThis.make = function () { return { made: true } };`);
  const add = global.getSync('add', { reference: true });
  assert.equal(add.typeof, 'function');
  assert.equal(add.applySync(undefined, [1, 2]), 3);
  assert.equal(await add.apply(undefined, [3, 4]), 7);
  assert.equal(add.applyIgnored(undefined, [5, 6]), undefined);
  assert.deepEqual(await context.eval('calls', { copy: true }), [[true, 1, 2], [true, 3, 4], [true, 5, 6]]);
  assert.equal(add.applySync(null, ['x', 'y']), 'xy');

  const make = global.getSync('make', { reference: true });
  const made = make.applySync(undefined, []);
  assert.ok(made instanceof ivm.Reference, 'object results come back as a Reference');
  assert.equal(made.getSync('made'), true);
  assert.deepEqual(make.applySync(undefined, [], { result: { copy: true } }), { made: true });
  assert.equal(
    global.getSync('JSON', { reference: true }).getSync('stringify', { reference: true })
      .applySync(undefined, [{ q: [1] }], { arguments: { copy: true } }),
    '{"q":[1]}',
  );
  assert.throws(() => add.applySync(undefined, [{}]), { constructor: TypeError, message: NON_TRANSFERABLE });
});

test('Reference apply with {timeout}', { timeout: 15000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.spin = function () { for (;;); }; globalThis.quick = () => "done"');
  const spin = global.getSync('spin', { reference: true });
  assert.throws(() => spin.applySync(undefined, [], { timeout: 20 }), { message: 'Script execution timed out.' });
  await assert.rejects(spin.apply(undefined, [], { timeout: 20 }), { message: 'Script execution timed out.' });
  assert.equal(global.getSync('quick', { reference: true }).applySync(undefined, [], { timeout: 1000 }), 'done');
});

test('Reference copy: sync and async', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.data = { list: [1, 2], when: new Date(5), m: new Map([[1, 2]]) }');
  const data = global.getSync('data');
  const expected = { list: [1, 2], when: new Date(5), m: new Map([[1, 2]]) };
  assert.deepEqual(data.copySync(), expected);
  assert.deepEqual(await data.copy(), expected);
});

test('Reference get of a getter throws "Property is getter"', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.hits = 0; globalThis.acc = { get g() { hits++; return "got" } }');
  const acc = global.getSync('acc');
  assert.throws(() => acc.getSync('g'), { constructor: TypeError, message: 'Property is getter' });
  await assert.rejects(acc.get('g'), { constructor: TypeError, message: 'Property is getter' });
  assert.equal(context.evalSync('hits'), 0);
  assert.equal(acc.getSync('g', { accessors: true }), 'got');
});

test('Reference on a Proxy throws "Object is or has proxy"', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.px = new Proxy({ a: 1 }, {})');
  const px = global.getSync('px');
  const hasProxy = { constructor: TypeError, message: 'Object is or has proxy' };
  assert.throws(() => px.getSync('a'), hasProxy);
  await assert.rejects(px.get('a'), hasProxy);
  assert.throws(() => px.setSync('a', 2), hasProxy);
});

test(
  'Reference get with a Proxy in the prototype chain throws "Object is or has proxy"',
  { timeout: 10000 },
  (t) => {
    const { context, global } = setup(t);
    context.evalSync('globalThis.inh = Object.create(new Proxy({ a: 1 }, {}))');
    assert.throws(() => global.getSync('inh').getSync('a'), { constructor: TypeError, message: 'Object is or has proxy' });
  },
);

test('Reference apply on a non-function throws "Reference is not a function"', { timeout: 10000 }, async (t) => {
  const { global } = setup(t);
  const notFn = { constructor: TypeError, message: 'Reference is not a function' };
  assert.throws(() => global.applySync(undefined, []), notFn);
  await assert.rejects(global.apply(undefined, []), notFn);
  assert.throws(() => new ivm.Reference({}).applySync(undefined, []), notFn);
});

test('a Reference into an isolate cannot be dereferenced from Node', { timeout: 10000 }, (t) => {
  const { global } = setup(t);
  assert.throws(() => global.deref(), { constructor: TypeError, message: 'Cannot dereference this from current isolate' });
});

test(
  'a Reference can be passed back into its isolate as an argument',
  { timeout: 10000 },
  (t) => {
    const { context, global } = setup(t);
    assert.equal(context.evalClosureSync('return $0.typeof', [global]), 'object');
  },
);

// ---------------------------------------------------------------------------
// Ordering

test('async and ignored operations on one isolate run in queue order', { timeout: 10000 }, async (t) => {
  const { isolate, context, global } = setup(t);
  context.evalSync('globalThis.log = []; globalThis.note = (x) => { log.push(x); return x }');
  const note = global.getSync('note', { reference: true });
  const script = isolate.compileScriptSync('log.push("run")');
  const results = [
    context.eval('log.push("eval")'),
    context.evalClosure('log.push($0)', ['closure']),
    script.run(context),
    note.apply(undefined, ['apply']),
    global.set('k', 1),
    context.eval('log.push("k=" + globalThis.k)'),
    global.delete('k'),
    context.eval('log.push("k=" + globalThis.k)'),
  ];
  context.evalIgnored('log.push("evalIgnored")');
  context.evalClosureIgnored('log.push($0)', ['closureIgnored']);
  note.applyIgnored(undefined, ['applyIgnored']);
  script.runIgnored(context);
  global.setIgnored('k', 2);
  results.push(context.eval('log.push("k=" + globalThis.k)'));
  global.deleteIgnored('k');
  results.push(global.get('k'));
  const settled = await Promise.all(results);
  assert.equal(settled[settled.length - 1], undefined, 'get after deleteIgnored');
  assert.deepEqual(context.evalSync('log', { copy: true }), [
    'eval', 'closure', 'run', 'apply', 'k=1', 'k=undefined',
    'evalIgnored', 'closureIgnored', 'applyIgnored', 'run', 'k=2',
  ]);
});

test('many async evals settle in the order they were queued', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  context.evalSync('globalThis.seq = 0');
  const order = [];
  const all = [];
  for (let i = 0; i < 50; i++) all.push(context.eval('++seq').then((v) => order.push([i, v])));
  await Promise.all(all);
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => [i, i + 1]));
});

// ---------------------------------------------------------------------------
// Isolate statistics and counters

const HEAP_FIELDS = [
  'total_heap_size', 'total_heap_size_executable', 'total_physical_size', 'total_available_size',
  'used_heap_size', 'heap_size_limit', 'malloced_memory', 'peak_malloced_memory', 'does_zap_garbage',
  'externally_allocated_size',
];

test('getHeapStatistics(Sync): V8 fields plus externally_allocated_size', { timeout: 10000 }, async (t) => {
  for (const memoryLimit of [16, 128]) {
    const { isolate, context } = setup(t, { memoryLimit });
    for (const stats of [isolate.getHeapStatisticsSync(), await isolate.getHeapStatistics()]) {
      for (const f of HEAP_FIELDS) assert.equal(typeof stats[f], 'number', `${f} is a number`);
      assert.ok(stats.used_heap_size > 0);
      assert.ok(stats.used_heap_size <= stats.total_heap_size);
      const limitMiB = stats.heap_size_limit / MiB;
      assert.ok(limitMiB >= memoryLimit && limitMiB <= memoryLimit * 1.25 + 4, `heap_size_limit ${limitMiB} MiB for ${memoryLimit}`);
    }
    const before = isolate.getHeapStatisticsSync().externally_allocated_size;
    context.evalSync('globalThis.buf = new ArrayBuffer(4 * 1024 * 1024)');
    const after = isolate.getHeapStatisticsSync().externally_allocated_size;
    assert.ok(after - before >= 4 * MiB, `externally_allocated_size grew by ${after - before}`);
  }
});

test('getHeapSpaceStatistics(Sync): one entry per space', { timeout: 10000 }, async (t) => {
  const { isolate } = setup(t);
  for (const spaces of [isolate.getHeapSpaceStatisticsSync(), await isolate.getHeapSpaceStatistics()]) {
    assert.ok(Array.isArray(spaces));
    const names = spaces.map((s) => s.space_name);
    for (const n of ['new_space', 'old_space', 'code_space', 'large_object_space']) {
      assert.ok(names.includes(n), `${n} in ${names}`);
    }
    assert.equal(new Set(names).size, names.length, 'names are unique');
    for (const s of spaces) {
      for (const f of ['space_size', 'space_used_size', 'space_available_size', 'physical_space_size']) {
        assert.equal(typeof s[f], 'number', `${s.space_name}.${f}`);
      }
    }
    assert.ok(spaces.find((s) => s.space_name === 'old_space').space_used_size > 0);
  }
});

const BUSY_50MS = 'const end = Date.now() + 50; while (Date.now() < end);';

test('cpuTime and wallTime are bigints; wallTime grows after a busy loop', { timeout: 10000 }, (t) => {
  const { isolate, context } = setup(t);
  const cpu0 = isolate.cpuTime;
  const wall0 = isolate.wallTime;
  assert.equal(typeof cpu0, 'bigint');
  assert.equal(typeof wall0, 'bigint');
  context.evalSync(BUSY_50MS);
  const cpu1 = isolate.cpuTime;
  const wall1 = isolate.wallTime;
  assert.ok(cpu1 >= cpu0, `cpuTime went backwards: ${cpu0} -> ${cpu1}`);
  assert.ok(wall1 - wall0 >= 25_000_000n, `wallTime grew by ${wall1 - wall0} ns`);
});

test(
  'cpuTime grows after a busy loop',
  { timeout: 15000 },
  async (t) => {
    // One attempt can get lucky, so measure several sync and async runs.
    for (let i = 0; i < 6; i++) {
      const { isolate, context } = setup(t);
      const cpu0 = isolate.cpuTime;
      if (i % 2) await context.eval(BUSY_50MS);
      else context.evalSync(BUSY_50MS);
      const cpu1 = isolate.cpuTime;
      assert.ok(cpu1 > cpu0, `attempt ${i}: cpuTime ${cpu0} -> ${cpu1}`);
      isolate.dispose();
    }
  },
);

test('referenceCount is a number that counts live handles', { timeout: 10000 }, (t) => {
  const { isolate, global } = setup(t);
  const before = isolate.referenceCount;
  assert.equal(typeof before, 'number');
  const refs = Array.from({ length: 5 }, () => global.getSync('Math', { reference: true }));
  assert.ok(isolate.referenceCount >= before + 5, `${before} -> ${isolate.referenceCount}`);
  for (const r of refs) r.release();
});

// ---------------------------------------------------------------------------
// Frozen API

test('the module, classes, prototypes and instances are frozen', { timeout: 10000 }, (t) => {
  const { isolate, context, global } = setup(t);
  assert.ok(Object.isFrozen(ivm));
  for (const C of [ivm.Isolate, ivm.Context, ivm.Script, ivm.Reference]) {
    assert.ok(Object.isFrozen(C), `${C.name} class`);
    assert.ok(Object.isFrozen(C.prototype), `${C.name}.prototype`);
  }
  const instances = [isolate, context, global, isolate.compileScriptSync('1'), new ivm.Reference({})];
  for (const obj of instances) {
    assert.ok(Object.isFrozen(obj), `${obj.constructor.name} instance`);
    assert.throws(() => {
      obj.extra = 1;
    }, TypeError);
    assert.throws(() => Object.setPrototypeOf(obj, {}), TypeError);
  }
  assert.throws(() => {
    ivm.Isolate.prototype.dispose = () => {};
  }, TypeError);
});

// ---------------------------------------------------------------------------
// Dispose

test('after dispose: isDisposed, sync throws, async rejects, ignored is silent', { timeout: 10000 }, async (t) => {
  const { isolate, context, global } = setup(t);
  context.evalSync('globalThis.o = {}');
  const o = global.getSync('o');
  assert.equal(isolate.isDisposed, false);
  assert.equal(isolate.dispose(), undefined);
  assert.equal(isolate.isDisposed, true);

  const disposed = (e) => {
    assert.ok(e instanceof ivm.IsolateDisposedError, `got ${e && e.constructor.name}: ${e && e.message}`);
    assert.equal(e.message, 'Isolate is disposed');
    return true;
  };
  const syncCalls = [
    () => context.evalSync('1'),
    () => context.evalClosureSync('return 1'),
    () => isolate.compileScriptSync('1'),
    () => isolate.createContextSync(),
    () => isolate.getHeapStatisticsSync(),
    () => isolate.cpuTime,
    () => isolate.wallTime,
    () => isolate.referenceCount,
    () => o.getSync('x'),
    () => o.copySync(),
  ];
  for (const call of syncCalls) assert.throws(call, disposed, String(call));

  const asyncCalls = [
    () => context.eval('1'),
    () => context.evalClosure('return 1'),
    () => isolate.compileScript('1'),
    () => isolate.createContext(),
    () => isolate.getHeapStatistics(),
    () => o.get('x'),
    () => o.copy(),
  ];
  for (const call of asyncCalls) await assert.rejects(call(), disposed, String(call));

  assert.equal(context.evalIgnored('1'), undefined);
  assert.equal(o.setIgnored('x', 1), undefined);
  assert.throws(() => isolate.dispose(), { message: 'Isolate is already disposed' });
});

test('async calls queued behind running work reject when the isolate is disposed', { timeout: 10000 }, async (t) => {
  const { isolate, context, global } = setup(t);
  // The first call keeps the isolate busy, so the others are still queued
  // when dispose() runs.
  const first = context.eval('const end = Date.now() + 200; while (Date.now() < end);');
  first.catch(() => {}); // observed below
  async function queuedCaller() {
    return await context.eval('2');
  }
  const queued = [queuedCaller(), isolate.getHeapStatistics(), global.get('Math'), isolate.createContext()];
  isolate.dispose();
  await assert.rejects(first, (e) => e instanceof ivm.IsolateDisposedError);
  for (const [i, p] of queued.entries()) {
    await assert.rejects(p, (e) => {
      assert.ok(e instanceof ivm.IsolateDisposedError, `queued #${i}: ${e && e.constructor.name}`);
      assert.equal(e.message, 'Isolate is disposed');
      return true;
    });
  }
  const e = await queued[0].catch((err) => err);
  assert.ok(
    e.stack.split('\n').some((l) => l.includes('queuedCaller') && l.includes(__filename)),
    `caller frame in:\n${e.stack}`,
  );
});

// ---------------------------------------------------------------------------
// Host-side References (`new ivm.Reference(value)`)

test('host Reference: typeof and deref', { timeout: 10000 }, () => {
  const cases = [
    [{}, 'object'], [[1], 'object'], [null, 'null'], [undefined, 'undefined'], [1, 'number'],
    ['s', 'string'], [true, 'boolean'], [() => 1, 'function'], [Symbol('s'), 'object'], [1n, 'object'],
  ];
  for (const [value, type] of cases) {
    const ref = new ivm.Reference(value);
    assert.equal(ref.typeof, type, String(type));
    assert.equal(ref.deref(), value);
  }
  const obj = { a: 1 };
  const ref = new ivm.Reference(obj);
  assert.equal(ref.deref({ release: true }), obj);
  assert.throws(() => ref.typeof, { message: RELEASED });
});

test('host Reference: get/set/delete/apply/copy, sync and async', { timeout: 10000 }, async () => {
  const obj = { a: 1, nested: { b: 2 }, get g() { return 3 } };
  const ref = new ivm.Reference(obj);
  assert.equal(ref.getSync('a'), 1);
  assert.equal(await ref.get('a'), 1);
  assert.equal(ref.getSync('toString'), undefined, 'own properties only');
  const nested = ref.getSync('nested');
  assert.ok(nested instanceof ivm.Reference);
  assert.equal(nested.deref(), obj.nested);
  assert.deepEqual(ref.getSync('nested', { copy: true }), { b: 2 });
  assert.throws(() => ref.getSync('g'), { constructor: TypeError, message: 'Property is getter' });
  assert.equal(ref.getSync('g', { accessors: true }), 3);

  ref.setSync('c', 'see');
  await ref.set('d', 4);
  assert.equal(obj.c, 'see');
  assert.equal(obj.d, 4);
  ref.setSync('e', { deep: [1] }, { copy: true });
  assert.deepEqual(obj.e, { deep: [1] });

  ref.deleteSync('c');
  await ref.delete('d');
  assert.equal('c' in obj, false);
  assert.equal('d' in obj, false);

  assert.deepEqual(ref.copySync(), { a: 1, nested: { b: 2 }, g: 3, e: { deep: [1] } });
  assert.deepEqual(await new ivm.Reference([1, new Map([[1, 2]])]).copy(), [1, new Map([[1, 2]])]);
  const copied = new ivm.Reference(obj).copySync();
  assert.notEqual(copied.nested, obj.nested, 'copy is a clone');

  const mul = new ivm.Reference(function (a, b) {
    'use strict';
    return [this, a * b];
  });
  assert.equal(mul.typeof, 'function');
  assert.deepEqual(mul.applySync(undefined, [6, 7], { result: { copy: true } }), [undefined, 42]);
  assert.deepEqual(await mul.apply(null, [2, 3], { result: { copy: true } }), [null, 6]);
  const made = new ivm.Reference(() => ({ z: 1 })).applySync(undefined, []);
  assert.ok(made instanceof ivm.Reference);
  assert.deepEqual(made.deref(), { z: 1 });
});

test('host Reference set never calls a setter', { timeout: 10000 }, () => {
  let calls = 0;
  const obj = {
    set s(v) {
      calls++;
    },
  };
  new ivm.Reference(obj).setSync('s', 5);
  assert.equal(calls, 0);
  assert.deepEqual(Object.getOwnPropertyDescriptor(obj, 's'), { value: 5, writable: true, enumerable: true, configurable: true });
});

test(
  'host Reference: setSync of an object without options throws non-transferable',
  { timeout: 10000 },
  () => {
    const obj = {};
    assert.throws(() => new ivm.Reference(obj).setSync('o', {}), { constructor: TypeError, message: NON_TRANSFERABLE });
    assert.equal('o' in obj, false);
  },
);

test(
  'host Reference: applySync with an object argument throws non-transferable',
  { timeout: 10000 },
  () => {
    assert.throws(() => new ivm.Reference((x) => x).applySync(undefined, [{}]), {
      constructor: TypeError,
      message: NON_TRANSFERABLE,
    });
  },
);

test(
  'host Reference: get on a Proxy throws "Object is or has proxy"',
  { timeout: 10000 },
  () => {
    assert.throws(() => new ivm.Reference(new Proxy({ a: 1 }, {})).getSync('a'), {
      constructor: TypeError,
      message: 'Object is or has proxy',
    });
  },
);

// Every member of a released Reference; `ignored` members must throw too.
function releasedMembers(ref) {
  return {
    sync: {
      typeof: () => ref.typeof,
      deref: () => ref.deref(),
      release: () => ref.release(),
      getSync: () => ref.getSync('a'),
      setSync: () => ref.setSync('a', 1),
      deleteSync: () => ref.deleteSync('a'),
      applySync: () => ref.applySync(undefined, []),
      copySync: () => ref.copySync(),
    },
    async: {
      get: () => ref.get('a'),
      set: () => ref.set('a', 1),
      delete: () => ref.delete('a'),
      apply: () => ref.apply(undefined, []),
      copy: () => ref.copy(),
    },
    ignored: {
      setIgnored: () => ref.setIgnored('a', 1),
      deleteIgnored: () => ref.deleteIgnored('a'),
      applyIgnored: () => ref.applyIgnored(undefined, []),
    },
  };
}

test('host Reference: after release every sync and async member throws', { timeout: 10000 }, async () => {
  const ref = new ivm.Reference({ a: 1 });
  assert.equal(ref.release(), undefined);
  const { sync, async: asyncMembers } = releasedMembers(ref);
  for (const [name, call] of Object.entries(sync)) assert.throws(call, { message: RELEASED }, name);
  for (const [name, call] of Object.entries(asyncMembers)) await assert.rejects(call(), { message: RELEASED }, name);
});

test(
  'released References: the Ignored members throw too',
  { timeout: 10000 },
  (t) => {
    const { context } = setup(t);
    const host = new ivm.Reference({ a: 1 });
    host.release();
    const guest = context.evalSync('({ a: 1 })', { reference: true });
    guest.release();
    for (const ref of [host, guest]) {
      for (const [name, call] of Object.entries(releasedMembers(ref).ignored)) {
        assert.throws(call, { message: RELEASED }, name);
      }
    }
  },
);

// ---------------------------------------------------------------------------
// Loading

// Guards against V8 rejecting the addon's flag string, which prints
// "unrecognized flag ..." and silently drops the remaining flags.
test('loading the library and running an isolate writes nothing to stderr', { timeout: 20000 }, () => {
  const code = `const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    const iso = new ivm.Isolate(); iso.createContextSync().evalSync('1'); iso.dispose();`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

// ---------------------------------------------------------------------------
// Repeated eval of the same source (the isolate remembers the last script)

test('eval of the same code again runs it again, in its own context and origin', { timeout: 10000 }, (t) => {
  const { isolate, context } = setup(t);
  const other = isolate.createContextSync();
  t.after(() => other.release());
  const code = 'globalThis.n = (globalThis.n || 0) + 1';
  assert.equal(context.evalSync(code), 1);
  assert.equal(context.evalSync(code), 2);
  assert.equal(other.evalSync(code), 1, 'bound to the context it runs in');
  assert.equal(context.evalSync(code), 3);
  const thrower = 'null.x';
  const where = (opts) => {
    try {
      context.evalSync(thrower, opts);
    } catch (e) {
      return e.stack.split('\n')[1];
    }
    assert.fail('expected a throw');
  };
  assert.match(where({ filename: 'a.js' }), /a\.js:1:/);
  assert.match(where({ filename: 'b.js' }), /b\.js:1:/);
  assert.match(where({ filename: 'b.js', lineOffset: 4 }), /b\.js:5:/);
  assert.match(where({ filename: 'b.js' }), /b\.js:1:/);
  // A compile error is not remembered.
  assert.throws(() => context.evalSync('(('), SyntaxError);
  assert.throws(() => context.evalSync('(('), SyntaxError);
});

test('applySync(undefined, args) with 0 to 6 arguments, holes and handles', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const f = context.evalSync('(...a) => JSON.stringify(a.map((x) => (x === undefined ? "u" : typeof x === "object" ? x.constructor.name : x)))', { reference: true });
  assert.equal(f.applySync(undefined, []), '[]');
  assert.equal(f.applySync(undefined, [1]), '[1]');
  assert.equal(f.applySync(undefined, [1, 'b']), '[1,"b"]');
  assert.equal(f.applySync(undefined, [1, , 3]), '[1,"u",3]'); // eslint-disable-line no-sparse-arrays
  assert.equal(f.applySync(undefined, [1, 2, 3, 4]), '[1,2,3,4]');
  assert.equal(f.applySync(undefined, [1, 2, 3, 4, 5, 6]), '[1,2,3,4,5,6]');
  const r = context.evalSync('({})', { reference: true });
  assert.equal(f.applySync(undefined, [r, true]), '["Reference",true]'); // handles travel as themselves
  assert.throws(() => f.applySync(undefined, [{}]), { name: 'TypeError', message: 'A non-transferable value was passed' });
});

test('apply(undefined, args) with 0 to 6 arguments, holes and handles', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  const f = context.evalSync('(...a) => JSON.stringify(a.map((x) => (x === undefined ? "u" : typeof x === "object" ? x.constructor.name : x)))', { reference: true });
  const cases = [[[], '[]'], [[1], '[1]'], [[1, 'b'], '[1,"b"]'], [[1, , 3], '[1,"u",3]'], [[1, 2, 3, 4], '[1,2,3,4]'], [[1, 2, 3, 4, 5, 6], '[1,2,3,4,5,6]']]; // eslint-disable-line no-sparse-arrays
  for (const [args, expected] of cases) assert.equal(await f.apply(undefined, args), expected);
  // All at once (calls in flight together) and in order.
  assert.deepEqual(await Promise.all(cases.map(([args]) => f.apply(undefined, args))), cases.map(([, e]) => e));
  const r = context.evalSync('({})', { reference: true });
  assert.equal(await f.apply(undefined, [r, true]), '["Reference",true]');
  await assert.rejects(f.apply(undefined, [{}]), { name: 'TypeError', message: 'A non-transferable value was passed' });
  const thrower = context.evalSync('(a) => { throw new RangeError("no " + a) }', { reference: true });
  await assert.rejects(thrower.apply(undefined, [1]), (e) => e instanceof RangeError && e.message === 'no 1' && e.stack.includes('(<isolated-vm boundary>)'));
  thrower.release();
  await assert.rejects(thrower.apply(undefined, [1]), { message: 'Reference has been released' });
});
