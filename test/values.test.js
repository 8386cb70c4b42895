'use strict';
// Values crossing the isolate boundary in both directions: primitives,
// structured clones ({copy:true}) and the rules for non-transferable values.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const NON_TRANSFERABLE = 'A non-transferable value was passed';
const CONFLICT = 'Only one of `copy`, `externalCopy`, or `reference` may be set';

const { setup } = require('./support/isolate');

function throwsTypeError(fn, message) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TypeError, `expected TypeError, got ${e && e.constructor && e.constructor.name}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

// ---------------------------------------------------------------------------
// Primitives: [label, guest source, host value]

const LONG = 'abcdefghij'.repeat(1e5);
const PRIMITIVES = [
  ['-0', '-0', -0],
  ['NaN', 'NaN', NaN],
  ['Infinity', 'Infinity', Infinity],
  ['-Infinity', '-Infinity', -Infinity],
  ['uint32 0xdeadbeef', '0xdeadbeef', 0xdeadbeef],
  ['MAX_SAFE_INTEGER', 'Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
  ['fraction', '-1.5e-300', -1.5e-300],
  ['large BigInt', '2n ** 200n + 12345n', 2n ** 200n + 12345n],
  ['negative BigInt', '-(2n ** 100n) - 7n', -(2n ** 100n) - 7n],
  ['BigInt zero', '0n', 0n],
  ['empty string', '""', ''],
  ['long string (1e6 chars)', '"abcdefghij".repeat(1e5)', LONG],
  ['non-ASCII string', '"Grüße, Ελλάδα, 日本語"', 'Grüße, Ελλάδα, 日本語'],
  ['emoji string', '"😀👍🏽🇳🇿"', '😀👍🏽🇳🇿'],
  ['true', 'true', true],
  ['false', 'false', false],
  ['null', 'null', null],
  ['undefined', 'undefined', undefined],
];

for (const [label, source, value] of PRIMITIVES) {
  test(`primitive ${label} crosses the boundary both ways`, { timeout: 10000 }, async (t) => {
    const { isolate, context, global } = setup(t);

    // guest -> host
    assert.ok(Object.is(context.evalSync(source), value), 'evalSync result');
    assert.ok(Object.is(await context.eval(source), value), 'eval result');
    assert.ok(Object.is(isolate.compileScriptSync(source).runSync(context), value), 'runSync result');

    // host -> guest (checked inside the guest) and back again
    assert.equal(context.evalClosureSync(`return Object.is($0, ${source})`, [value]), true, 'evalClosureSync arg');
    assert.ok(Object.is(context.evalClosureSync('return $0', [value]), value), 'evalClosureSync echo');
    assert.ok(Object.is(await context.evalClosure('return $0', [value]), value), 'evalClosure echo');

    global.setSync('v', value);
    assert.equal(context.evalSync(`Object.is(globalThis.v, ${source})`), true, 'setSync then read in guest');
    assert.ok(Object.is(global.getSync('v'), value), 'setSync then getSync');
    assert.ok(Object.is(context.evalSync('globalThis.v'), value), 'setSync then evalSync');
  });
}

test('typeof of primitives read back through Reference.getSync', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.b = 1n; globalThis.n = 1; globalThis.s = "s"; globalThis.u = undefined');
  assert.equal(typeof global.getSync('b'), 'bigint');
  assert.equal(typeof global.getSync('n'), 'number');
  assert.equal(typeof global.getSync('s'), 'string');
  assert.equal(global.getSync('u'), undefined);
  assert.equal(global.getSync('missing'), undefined);
});

test(
  'strings with unpaired surrogates keep their code units',
  { timeout: 10000 },
  (t) => {
    const { context, global } = setup(t);
    assert.equal(context.evalSync('"\\ud800x"'), '\ud800x');
    assert.equal(context.evalClosureSync('return $0 === "\\udc00"', ['\udc00']), true);
    global.setSync('s', 'a\ud83d');
    assert.equal(context.evalSync('s === "a\\ud83d"'), true);
  },
);

// ---------------------------------------------------------------------------
// Structured clone, guest -> host ({copy:true} on the result)

test('copy: plain objects and nested arrays from the guest', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  const src = '({ a: 1, s: "x", n: null, u: undefined, nested: { deep: [1, [2, [3, { four: 4 }]]] }, big: 5n })';
  const expected = { a: 1, s: 'x', n: null, u: undefined, nested: { deep: [1, [2, [3, { four: 4 }]]] }, big: 5n };
  assert.deepEqual(context.evalSync(src, { copy: true }), expected);
  assert.deepEqual(await context.eval(src, { copy: true }), expected);
  assert.deepEqual(context.evalClosureSync(`return ${src}`, [], { result: { copy: true } }), expected);
});

test('copy: sparse arrays keep their holes and length (guest -> host)', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const a = context.evalSync('const a = [1, , 3]; a.length = 10; a', { copy: true });
  assert.ok(Array.isArray(a));
  assert.equal(a.length, 10);
  assert.equal(1 in a, false);
  assert.equal(9 in a, false);
  assert.equal(a[2], 3);
  assert.deepEqual(Object.keys(a), ['0', '2']);
});

test('copy: Date, RegExp, Map, Set from the guest', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const d = context.evalSync('new Date(1234567890123)', { copy: true });
  assert.ok(d instanceof Date);
  assert.equal(d.getTime(), 1234567890123);

  const re = context.evalSync('/ab+c\\//gimsuy', { copy: true });
  assert.ok(re instanceof RegExp);
  assert.equal(re.source, 'ab+c\\/');
  assert.equal(re.flags, 'gimsuy');

  const m = context.evalSync('new Map([[1, "a"], ["k", { x: 1 }], [null, [2]]])', { copy: true });
  assert.ok(m instanceof Map);
  assert.deepEqual([...m], [[1, 'a'], ['k', { x: 1 }], [null, [2]]]);

  const s = context.evalSync('new Set([1, "a", null, 1])', { copy: true });
  assert.ok(s instanceof Set);
  assert.deepEqual([...s], [1, 'a', null]);
});

test('copy: Error classes and messages from the guest', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  for (const C of [Error, RangeError, ReferenceError, SyntaxError, TypeError]) {
    const e = context.evalSync(`new ${C.name}("msg of ${C.name}")`, { copy: true });
    assert.ok(e instanceof C, `${C.name} instance`);
    assert.equal(e.constructor, C);
    assert.equal(e.message, `msg of ${C.name}`);
  }
});

test('copy: ArrayBuffer and DataView from the guest', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const ab = context.evalSync('new Uint8Array([1, 2, 3, 250]).buffer', { copy: true });
  assert.ok(ab instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(ab)], [1, 2, 3, 250]);

  const dv = context.evalSync(
    '(() => { const dv = new DataView(new ArrayBuffer(16), 2, 8); dv.setUint16(0, 0xabcd); dv.setInt32(4, -2); return dv })()',
    { copy: true },
  );
  assert.ok(dv instanceof DataView);
  assert.equal(dv.byteOffset, 2);
  assert.equal(dv.byteLength, 8);
  assert.equal(dv.buffer.byteLength, 16);
  assert.equal(dv.getUint16(0), 0xabcd);
  assert.equal(dv.getInt32(4), -2);
});

const TYPED_ARRAYS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];

test('copy: every typed array kind keeps type, offset and length (guest -> host)', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  for (const C of TYPED_ARRAYS) {
    const big = C.name.startsWith('Big');
    const ta = context.evalSync(
      `(() => { const t = new ${C.name}(new ArrayBuffer(64), 8, 3);
        for (let i = 0; i < 3; i++) t[i] = ${big ? 'BigInt(i + 1)' : 'i + 1'}; return t })()`,
      { copy: true },
    );
    assert.equal(ta.constructor, C, C.name);
    assert.equal(ta.byteOffset, 8, `${C.name} byteOffset`);
    assert.equal(ta.length, 3, `${C.name} length`);
    assert.equal(ta.buffer.byteLength, 64, `${C.name} buffer`);
    assert.deepEqual([...ta], big ? [1n, 2n, 3n] : [1, 2, 3], `${C.name} contents`);
  }
});

test('copy: cyclic and shared references keep their identity (guest -> host)', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const o = context.evalSync(
    `const o = { name: 'root' }; const shared = { s: 1 };
     o.self = o; o.list = [o, { back: o }]; o.a = shared; o.b = shared;
     o.map = new Map([['me', o]]); o`,
    { copy: true },
  );
  assert.equal(o.name, 'root');
  assert.equal(o.self, o);
  assert.equal(o.list[0], o);
  assert.equal(o.list[1].back, o);
  assert.equal(o.a, o.b);
  assert.equal(o.map.get('me'), o);
});

// ---------------------------------------------------------------------------
// Structured clone, host -> guest (evalClosure arguments:{copy:true}, setSync {copy:true})

function cyclic() {
  const c = { tag: 'c' };
  c.self = c;
  c.arr = [c];
  return c;
}

function makeSample() {
  const sparse = [1, , 3];
  sparse.length = 7;
  const ab = new Uint8Array([9, 8, 7]).buffer;
  return {
    plain: { a: 1, nested: [1, [2, [3]]], s: 'x' },
    sparse,
    date: new Date(86400000),
    re: /x+y/gi,
    map: new Map([['k', 2]]),
    set: new Set([3, 'z']),
    err: new RangeError('range!'),
    ab,
    dv: new DataView(new ArrayBuffer(16), 4, 6),
    cyc: cyclic(),
  };
}

// Checks a clone of makeSample() from inside the guest; every entry must be true.
const GUEST_CHECKS = `[
  JSON.stringify(v.plain) === '{"a":1,"nested":[1,[2,[3]]],"s":"x"}',
  Array.isArray(v.sparse) && v.sparse.length === 7 && !(1 in v.sparse) && !(6 in v.sparse) && v.sparse[2] === 3,
  v.date instanceof Date && v.date.getTime() === 86400000,
  v.re instanceof RegExp && v.re.source === 'x+y' && v.re.flags === 'gi',
  v.map instanceof Map && v.map.get('k') === 2,
  v.set instanceof Set && v.set.has(3) && v.set.has('z') && v.set.size === 2,
  v.err instanceof RangeError && v.err.message === 'range!',
  v.ab instanceof ArrayBuffer && new Uint8Array(v.ab).join() === '9,8,7',
  v.dv instanceof DataView && v.dv.byteOffset === 4 && v.dv.byteLength === 6 && v.dv.buffer.byteLength === 16,
  v.cyc.self === v.cyc && v.cyc.arr[0] === v.cyc && v.cyc.tag === 'c',
]`;
const CHECK_NAMES = ['plain', 'sparse', 'date', 're', 'map', 'set', 'err', 'ab', 'dv', 'cyc'];

function assertAllTrue(results) {
  assert.deepEqual(
    Object.fromEntries(CHECK_NAMES.map((n, i) => [n, results[i]])),
    Object.fromEntries(CHECK_NAMES.map((n) => [n, true])),
  );
}

test('copy: host values into the guest via evalClosure arguments:{copy:true}', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  const opts = { arguments: { copy: true }, result: { copy: true } };
  assertAllTrue(context.evalClosureSync(`const v = $0; return ${GUEST_CHECKS}`, [makeSample()], opts));
  assertAllTrue(await context.evalClosure(`const v = $0; return ${GUEST_CHECKS}`, [makeSample()], opts));
});

test('copy: host values into the guest via Reference.setSync {copy:true}', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('v', makeSample(), { copy: true });
  assertAllTrue(context.evalSync(GUEST_CHECKS, { copy: true }));
});

test('copy: every typed array kind keeps type, offset and length (host -> guest)', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  for (const C of TYPED_ARRAYS) {
    const big = C.name.startsWith('Big');
    const ta = new C(new ArrayBuffer(64), 16, 2);
    ta[0] = big ? 5n : 5;
    ta[1] = big ? 6n : 6;
    const r = context.evalClosureSync(
      'return [$0.constructor.name, $0.byteOffset, $0.length, $0.buffer.byteLength, String($0[0]), String($0[1])]',
      [ta],
      { arguments: { copy: true }, result: { copy: true } },
    );
    assert.deepEqual(r, [C.name, 16, 2, 64, '5', '6'], C.name);
  }
});

// ---------------------------------------------------------------------------
// Non-transferable values (no transfer options)

test('eval/run of a non-transferable value gives undefined', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  for (const src of ['({ a: 1 })', '[1, 2]', 'new Date(0)', 'Symbol("s")', 'Promise.resolve(1)', 'new Map()']) {
    assert.equal(context.evalSync(src), undefined, `evalSync ${src}`);
    assert.equal(await context.eval(src), undefined, `eval ${src}`);
    assert.equal(isolate.compileScriptSync(src).runSync(context), undefined, `runSync ${src}`);
    assert.equal(await isolate.compileScriptSync(src).run(context), undefined, `run ${src}`);
  }
});

test('Reference.getSync of an object gives a Reference', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.o = { x: 1 }; globalThis.arr = [1, 2]');
  const o = global.getSync('o');
  assert.ok(o instanceof ivm.Reference);
  assert.equal(o.typeof, 'object');
  assert.equal(o.getSync('x'), 1);
  const arr = global.getSync('arr');
  assert.ok(arr instanceof ivm.Reference);
  assert.equal(arr.typeof, 'object');
  assert.equal(arr.getSync(1), 2);
});

test('setSync of an object without options throws non-transferable', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  for (const v of [{}, [1], new Date(0), new Map(), Symbol('s')]) {
    throwsTypeError(() => global.setSync('x', v), NON_TRANSFERABLE);
  }
  assert.equal(context.evalSync('"x" in globalThis'), false);
});

test('evalClosure with an object argument throws non-transferable', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  throwsTypeError(() => context.evalClosureSync('return 1', [{ a: 1 }]), NON_TRANSFERABLE);
  throwsTypeError(() => context.evalClosureSync('return 1', [[1]]), NON_TRANSFERABLE);
  await assert.rejects(context.evalClosure('return 1', [{ a: 1 }]), (e) => {
    assert.ok(e instanceof TypeError);
    assert.equal(e.message, NON_TRANSFERABLE);
    return true;
  });
});

test('evalClosure returning an object throws non-transferable', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  throwsTypeError(() => context.evalClosureSync('return { a: 1 }'), NON_TRANSFERABLE);
  await assert.rejects(context.evalClosure('return [1]'), { name: 'TypeError', message: NON_TRANSFERABLE });
});

test('{copy:true, reference:true} throws the conflict TypeError', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const both = { copy: true, reference: true };
  throwsTypeError(() => context.evalSync('1', both), CONFLICT);
  throwsTypeError(() => global.setSync('x', 1, both), CONFLICT);
  throwsTypeError(() => global.getSync('Math', both), CONFLICT);
  throwsTypeError(() => context.evalClosureSync('return 1', [1], { arguments: both }), CONFLICT);
  throwsTypeError(() => context.evalClosureSync('return 1', [], { result: both }), CONFLICT);
  await assert.rejects(context.eval('1', both), { name: 'TypeError', message: CONFLICT });
});

test('cloning a function with copy throws "... could not be cloned."', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const isCloneError = (e) => {
    assert.ok(e instanceof TypeError, `expected TypeError, got ${e && e.constructor.name}`);
    assert.ok(e.message.endsWith('could not be cloned.'), e.message);
    return true;
  };
  assert.throws(() => context.evalSync('(function f() {})', { copy: true }), isCloneError);
  assert.throws(() => context.evalSync('({ m() {} })', { copy: true }), isCloneError);
  await assert.rejects(context.eval('[() => 1]', { copy: true }), isCloneError);
  assert.throws(() => global.setSync('x', { f() {} }, { copy: true }), isCloneError);
  assert.throws(() => context.evalClosureSync('return 1', [function g() {}], { arguments: { copy: true } }), isCloneError);
  assert.equal(context.evalSync('"x" in globalThis'), false);
});

test(
  'copying a Symbol throws "Unsupported type"',
  { timeout: 10000 },
  (t) => {
    const { context, global } = setup(t);
    throwsTypeError(() => context.evalSync('Symbol("s")', { copy: true }), 'Unsupported type');
    throwsTypeError(() => global.setSync('x', Symbol('s'), { copy: true }), 'Unsupported type');
  },
);

test(
  'a guest function returned without options is a callable function',
  { timeout: 10000 },
  (t) => {
    const { context } = setup(t);
    const add = context.evalSync('(function add(a, b) { return a + b })');
    assert.equal(typeof add, 'function');
    assert.equal(add(2, 3), 5);
  },
);
