'use strict';
// The plain-data fast path of `{copy: true}` (native/src/transfer/plain.rs):
// a clone of plain data is read with JSON.parse, or made from its packed
// form when large (test/copy-packed.test.js), instead of by the
// deserializer. Every case is copied with the fast paths off and on
// (test/support/copies.js).
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const native = require('../lib/native');
const { setup } = require('./support/isolate');

const { intoGuest, fromGuest } = require('./support/copies');

const many = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const WEIRD_KEYS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '"); process.exit(1); //', "'); throw 1; //", '', ' ', 'é', '\u2028', '😀', 'a\ud800', '\\', '"', '\n', 'length'];

// Values that take the fast path, as Node values (guest expressions follow).
const PLAIN = {
  'nested objects and arrays': () => ({ a: 1, b: 'x', c: [1, 2, { d: null, e: true }], f: false, g: many(20, (i) => i) }),
  'the benchmark graph': () => ({ items: many(300, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) }),
  'integer-like keys and their order': () => ({ b: 1, 2: 2, a: 3, 1: 4, '-1': 5, '01': 6, 4294967295: 7, 4294967294: 8, 2147483648: 9 }),
  'an own __proto__ key': () => {
    const o = { a: 1 };
    Object.defineProperty(o, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
    return { o, list: many(20, () => 0) };
  },
  'weird keys': () => Object.fromEntries(WEIRD_KEYS.map((k, i) => [k, i])),
  'strings: escapes, Latin-1, lone surrogates, emoji': () => ({
    s: ['\u0000\u001f"\\/\b\f\n\r\t', 'é\u00ff', '\ud800', 'x\udc00y', '\udbff\udfff', '😀', '\u2028\u2029', 'x'.repeat(1 << 12)].concat(many(10, String)),
  }),
  'numbers: -0, extremes, fractions': () => ({ n: [-0, 0, 1e300, -1e-300, 5e-324, Number.MAX_VALUE, 0.1, 2 ** 53 + 2, -(2 ** 31), 2 ** 32, 1.5, -7].concat(many(10, (i) => -i)) }),
  'a holey array that was filled': () => {
    const a = new Array(20);
    for (let i = 0; i < 20; i++) a[i] = i;
    return { a };
  },
  'deep nesting (500)': () => {
    let v = { end: true };
    for (let i = 0; i < 500; i++) v = i % 2 ? { v } : [v];
    return v;
  },
  'symbol-keyed properties (ignored)': () => ({ a: 1, [Symbol('s')]: 2 }),
  'non-enumerable properties (ignored)': () => Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false }),
};

// Values the fast path must leave to the deserializer.
const LOSSY = {
  'NaN': () => ({ a: NaN }),
  'Infinity': () => ({ a: Infinity }),
  '-Infinity': () => ({ a: [-Infinity] }),
  'undefined in an object': () => ({ a: undefined }),
  'undefined in an array': () => ({ a: many(20, (i) => (i === 5 ? undefined : i)) }),
  'a hole': () => ({ a: [1, , 3] }), // eslint-disable-line no-sparse-arrays
  'a sparse array': () => {
    const a = [];
    a[100] = 1;
    return { a };
  },
  'an array with an extra property': () => ({ a: Object.assign(many(20, (i) => i), { extra: 1 }) }),
  'a shared object': () => {
    const o = { x: 1 };
    return { a: o, b: o };
  },
  'a cycle': () => {
    const o = { x: 1 };
    o.self = o;
    return o;
  },
  'deep nesting (3000)': () => {
    let v = { end: true };
    for (let i = 0; i < 3000; i++) v = { v };
    return v;
  },
  'a BigInt': () => ({ a: 1n }),
  'boxed primitives': () => ({ a: new Number(1), b: new String('s'), c: new Boolean(false) }), // eslint-disable-line no-new-wrappers
  'a Date': () => ({ a: new Date(0) }),
  'a Map and a Set': () => ({ a: new Map([[1, 2]]), b: new Set([1]) }),
  'a RegExp': () => ({ a: /x/g }),
  'an Error': () => ({ a: new RangeError('r') }),
  'a typed array': () => ({ a: new Uint8Array([1, 2]) }),
};

// Large clones with few objects and arrays (long strings, many doubles, one
// wide object) are left to the deserializer, which reads them as fast.
const SPARSE = {
  'long strings': () => many(200, (i) => 'x'.repeat(1000) + i),
  'many doubles': () => many(20_000, (i) => i * 1.1),
  'a wide object': () => Object.fromEntries(many(20_000, (i) => [`k${i}`, i])),
};

// Copies that fail the same way with or without the fast path.
const FAILING = {
  'a function': () => ({ f() {} }),
  'a symbol value': () => ({ s: Symbol('s') }),
  'a proxy': () => ({ p: new Proxy({}, {}) }),
  'a toJSON method': () => ({ a: 1, toJSON() { return 'x'; } }),
};

for (const [name, make] of Object.entries(PLAIN)) {
  test(`Node -> guest, plain data: ${name}`, (t) => {
    const r = intoGuest(t, make);
    assert.equal(r.taken, 1, 'the fast path was taken');
  });
}
for (const [name, make] of Object.entries(LOSSY)) {
  test(`Node -> guest, left to the deserializer: ${name}`, (t) => {
    const r = intoGuest(t, make);
    assert.equal(r.taken, 0, 'the fast path was not taken');
  });
}
for (const [name, make] of Object.entries(SPARSE)) {
  test(`Node -> guest, few objects, left to the deserializer: ${name}`, (t) => {
    assert.equal(intoGuest(t, make).taken, 0);
  });
  test(`guest -> Node, few objects, left to the deserializer: ${name}`, (t) => {
    assert.equal(fromGuest(t, 'v', `globalThis.v = ${JSON.stringify(make())}`).taken, 0);
  });
}
for (const [name, make] of Object.entries(FAILING)) {
  test(`Node -> guest, same error: ${name}`, (t) => {
    const r = intoGuest(t, make);
    assert.ok(r.ref.error, 'the structured clone refuses it');
  });
}

test('Node -> guest: class instances and null-prototype objects copy as the clone makes them', (t) => {
  class A {
    constructor() {
      this.x = 1;
    }
  }
  intoGuest(t, () => ({ a: new A(), b: Object.assign(Object.create(null), { y: 2 }), c: Object.setPrototypeOf(many(20, (i) => i), null) }));
  const { context, global } = setup(t);
  global.setSync('v', { b: Object.assign(Object.create(null), { y: 2 }) }, { copy: true });
  assert.equal(context.evalSync('Object.getPrototypeOf(v.b) === Object.prototype'), true);
});

test('Node -> guest: an Error with a cause (the cause, plain, travels apart)', (t) => {
  intoGuest(t, () => ({ a: new Error('e', { cause: { x: 1 } }) }));
});

test('Node -> guest: getters run as many times as without the fast path', (t) => {
  const counts = [];
  let n = 0;
  intoGuest(t, () => {
    if (n > 0) counts.push(n);
    n = 0;
    return {
      get a() {
        n++;
        return 1;
      },
      b: many(20, (i) => i),
    };
  });
  counts.push(n);
  assert.equal(counts.length, 2);
  assert.equal(counts[0], counts[1]);
});

test('Node -> guest: a getter that throws fails the same way', (t) => {
  const r = intoGuest(t, () => ({
    get a() {
      throw new TypeError('nope');
    },
  }));
  assert.ok(r.ref.error);
});

test('Node -> guest: Object.prototype.toJSON in Node changes nothing', (t) => {
  Object.prototype.toJSON = () => 'x'; // eslint-disable-line no-extend-native
  try {
    const r = intoGuest(t, PLAIN['nested objects and arrays']);
    assert.equal(r.taken, 1);
  } finally {
    delete Object.prototype.toJSON;
  }
});

test("Node -> guest: the guest's JSON.parse and prototype setters are not used", (t) => {
  const r = intoGuest(
    t,
    () => ({ a: 1, list: many(20, (i) => ({ a: i })) }),
    `JSON.parse = () => 'evil';
     Object.defineProperty(Object.prototype, 'a', { set(v) { throw new Error('setter ran'); }, configurable: true });
     Object.defineProperty(Array.prototype, '0', { set(v) { throw new Error('index setter ran'); }, configurable: true });`,
  );
  assert.equal(r.taken, 1);
  assert.equal(r.context.evalSync('Object.hasOwn(got, "a") && got.list[0].a === 0 && Object.hasOwn(got.list, 0)'), true);
});

test('Node -> guest: handles inside a copy keep their own path', (t) => {
  const { context, global } = setup(t);
  const before = native.plainCopy();
  global.setSync('v', { r: new ivm.Reference({ x: 1 }), e: new ivm.ExternalCopy({ y: 2 }), list: many(20, (i) => i) }, { copy: true });
  assert.equal(native.plainCopy() - before, 0);
  assert.equal(context.evalSync('v.r.typeof + " " + v.list.length'), 'object 20');
});

test('Node -> guest: a huge plain graph into a small isolate fails with the same memory limit error', { timeout: 60_000 }, () => {
  const big = { items: many(400_000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) };
  const outcomes = [];
  let taken = 0;
  for (const on of [false, true]) {
    native.plainCopy(on);
    const iso = new ivm.Isolate({ memoryLimit: 16 });
    try {
      const ctx = iso.createContextSync();
      const before = native.plainCopy();
      try {
        ctx.global.setSync('g', big, { copy: true });
      } finally {
        taken = native.plainCopy() - before;
      }
      outcomes.push('copied');
    } catch (e) {
      outcomes.push(`${e.constructor.name}: ${e.message}`);
    } finally {
      native.plainCopy(true);
      if (!iso.isDisposed) iso.dispose();
    }
  }
  assert.equal(outcomes[1], outcomes[0]);
  assert.equal(outcomes[1], 'MemoryLimitError: Isolate was disposed during execution due to memory limit');
  // JSON.parse serves no interrupt, so the memory limit could not stop it:
  // a clone too large for the heap's headroom goes to the deserializer.
  assert.equal(taken, 0);
});

test('Node -> guest: a plain graph well inside a small limit still takes the fast path', (t) => {
  const { context, global } = setup(t, { memoryLimit: 16 });
  const before = native.plainCopy();
  global.setSync('g', { items: many(2000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) }, { copy: true });
  assert.equal(native.plainCopy() - before, 1);
  assert.equal(context.evalSync('g.items[1999].name'), 'n1999');
});

// Guest -> Node. Arrays of at most 16 primitives cross without a clone, so
// the cases use longer ones.
const GUEST_PLAIN = {
  'nested objects and arrays': '({ a: 1, b: "x", c: [1, 2, { d: null, e: true }], f: false, g: Array.from({ length: 20 }, (_, i) => i) })',
  'the benchmark graph': '({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) })',
  'integer-like keys and their order': '({ b: 1, 2: 2, a: 3, 1: 4, "-1": 5, "01": 6, 4294967295: 7, 4294967294: 8, 2147483648: 9 })',
  'an own __proto__ key': 'JSON.parse(\'{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "x": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}\')',
  'weird keys': `Object.fromEntries(${JSON.stringify(WEIRD_KEYS)}.map((k, i) => [k, i]))`,
  'strings: escapes, Latin-1, lone surrogates, emoji':
    '({ s: ["\\u0000\\u001f\\"\\\\/\\b\\f\\n\\r\\t", "é\\u00ff", "\\ud800", "x\\udc00y", "\\udbff\\udfff", "😀", "\\u2028", "x".repeat(1 << 12), ...Array.from({ length: 10 }, String)] })',
  'numbers: -0, extremes, fractions': '({ n: [-0, 0, 1e300, -1e-300, 5e-324, Number.MAX_VALUE, 0.1, 2 ** 53 + 2, -(2 ** 31), 2 ** 32, 1.5, -7, ...Array.from({ length: 10 }, (_, i) => -i)] })',
  'a holey array that was filled': '(() => { const a = new Array(20); for (let i = 0; i < 20; i++) a[i] = i; return { a }; })()',
  'deep nesting (500)': '(() => { let v = { end: true }; for (let i = 0; i < 500; i++) v = i % 2 ? { v } : [v]; return v; })()',
  'symbol-keyed properties (ignored)': '({ a: 1, [Symbol("s")]: 2, list: Array.from({ length: 20 }, (_, i) => i) })',
  // Objects that share no shape, or have many keys, reach Node as JSON text
  // rather than rows.
  'many distinct shapes': '({ list: Array.from({ length: 300 }, (_, i) => ({ ["a" + i]: i, __proto__: null, b: [i] })) })',
  'an object with many keys': '({ o: Object.fromEntries(Array.from({ length: 100 }, (_, i) => ["k" + i, i])), list: Array.from({ length: 20 }, (_, i) => i) })',
  'class instances (copied as plain objects)': '(() => { class A { constructor() { this.x = 1; } get y() { return 2; } } return { a: new A(), b: Object.assign(Object.create(null), { y: 2 }) }; })()',
};

const GUEST_LOSSY = {
  'NaN and infinities': '({ a: NaN, b: Infinity, c: -Infinity })',
  'undefined in an object': '({ a: undefined })',
  'undefined in an array': '({ a: Array.from({ length: 20 }, (_, i) => (i === 5 ? undefined : i)) })',
  'a hole': '({ a: [1, , 3] })',
  'an array with an extra property': '({ a: Object.assign(Array.from({ length: 20 }, (_, i) => i), { extra: 1 }) })',
  'a shared object': '(() => { const o = { x: 1 }; return { a: o, b: o }; })()',
  'a cycle': '(() => { const o = { x: 1 }; o.self = o; return o; })()',
  'deep nesting (3000)': '(() => { let v = { end: true }; for (let i = 0; i < 3000; i++) v = { v }; return v; })()',
  'a BigInt': '({ a: 1n })',
  'boxed primitives, Date, Map, Set, RegExp, Error': '({ a: new Number(1), b: new Date(0), c: new Map([[1, 2]]), d: new Set([1]), e: /x/g, f: new RangeError("r") })',
  'an Error with a cause': '({ a: new Error("e", { cause: { x: 1 } }) })',
  'a typed array': '({ a: new Uint8Array([1, 2]) })',
};

const GUEST_FAILING = {
  'a function': '({ f() {} })',
  'a proxy': '({ p: new Proxy({}, {}) })',
  'a getter that throws': '({ get a() { throw new TypeError("nope"); } })',
};

for (const [name, expr] of Object.entries(GUEST_PLAIN)) {
  test(`guest -> Node, plain data: ${name}`, (t) => {
    const r = fromGuest(t, expr);
    assert.equal(r.taken, 1, 'the fast path was taken');
  });
}
for (const [name, expr] of Object.entries(GUEST_LOSSY)) {
  test(`guest -> Node, left to the deserializer: ${name}`, (t) => {
    const r = fromGuest(t, expr);
    assert.equal(r.taken, 0, 'the fast path was not taken');
  });
}
for (const [name, expr] of Object.entries(GUEST_FAILING)) {
  test(`guest -> Node, same error: ${name}`, (t) => {
    const r = fromGuest(t, expr);
    assert.ok(r.ref.error, 'the structured clone refuses it');
  });
}

test('guest -> Node: an own __proto__ key stays a key and pollutes nothing', (t) => {
  const r = fromGuest(t, GUEST_PLAIN['an own __proto__ key']);
  const v = r.got.value;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.ok(Object.hasOwn(v, '__proto__'));
  assert.deepEqual(Object.getOwnPropertyDescriptor(v, '__proto__').value, { polluted: true });
  assert.equal({}.polluted, undefined);
  assert.equal(Object.prototype.polluted, undefined);
});

test('guest -> Node: weird keys are data, never code', (t) => {
  const r = fromGuest(t, GUEST_PLAIN['weird keys']);
  assert.deepEqual(Object.keys(r.got.value), WEIRD_KEYS);
});

test('guest -> Node: getters that change the graph while it is copied', (t) => {
  fromGuest(t, '(() => { const o = { a: 1, get b() { delete this.c; o.d = 4; o.e = o; return 2; }, c: 3 }; return o; })()');
  fromGuest(t, '(() => { const list = Array.from({ length: 20 }, (_, i) => i); const o = { get a() { list.length = 5; return 1; }, list }; return o; })()');
  // A property added by a getter is not copied...
  fromGuest(t, '(() => { const o = { get x() { o.y = o; return 1; } }; return o; })()');
  // ...but a later one set to a cycle is, as a reference the fast path leaves alone.
  const r = fromGuest(t, '(() => { const o = { get x() { o.z = o; return 1; }, z: 0 }; return o; })()');
  assert.equal(r.taken, 0, 'a cycle made by a getter is a reference in the clone');
  assert.equal(r.got.value.z, r.got.value);
});

test("guest -> Node: the guest's prototypes, toJSON and JSON do not matter", (t) => {
  const r = fromGuest(
    t,
    GUEST_PLAIN['nested objects and arrays'],
    `Object.prototype.toJSON = function () { return 'x'; };
     JSON.stringify = () => 'evil';
     Object.defineProperty(Array.prototype, '3', { get() { throw new Error('index getter ran'); }, configurable: true });`,
  );
  assert.equal(r.taken, 1);
});

test('guest -> Node: JSON.parse replaced in Node changes nothing', (t) => {
  const parse = JSON.parse;
  JSON.parse = () => 'evil';
  try {
    const { context } = setup(t);
    assert.deepEqual(context.evalSync(GUEST_PLAIN['nested objects and arrays'], { copy: true }).c, [1, 2, { d: null, e: true }]);
  } finally {
    JSON.parse = parse;
  }
});

test('the fast path serves results, arguments, async calls and ExternalCopy', async (t) => {
  const { context, global } = setup(t);
  const plain = { list: many(20, (i) => ({ i })) };
  const count = () => native.plainCopy();
  let c = count();
  assert.deepEqual(await context.eval('({ list: Array.from({ length: 20 }, (_, i) => ({ i })) })', { copy: true }), plain);
  assert.equal(count() - c, 1, 'async eval result');
  c = count();
  const fn = context.evalSync('(function (v) { return v; })', { reference: true });
  assert.deepEqual(fn.applySync(undefined, [plain], { arguments: { copy: true }, result: { copy: true } }), plain);
  assert.equal(count() - c, 2, 'argument and result');
  c = count();
  await global.set('p', plain, { copy: true });
  assert.deepEqual(await global.get('p', { copy: true }), plain);
  assert.equal(count() - c, 2, 'async set and get');
  c = count();
  assert.deepEqual(new ivm.ExternalCopy(plain).copy(), plain);
  assert.equal(count() - c, 1, 'ExternalCopy.copy()');
});

// Node's copies read a value once: a getter runs once per copy, as in
// isolated-vm (before, a walk looking for handles read the value first and
// the serializer read it again). Handles inside a copy are still found.
test('copying a Node value runs its getters once', (t) => {
  const { isolate, context } = setup(t);
  let runs = 0;
  const value = () => ({ get x() { runs++; return runs; }, list: [1, 'two', { three: 3 }], n: null });
  const once = (what, f) => {
    runs = 0;
    f(value());
    assert.equal(runs, 1, `${what}: the getter ran ${runs} times`);
  };
  once('setSync', (v) => context.global.setSync('v', v, { copy: true }));
  assert.equal(context.evalSync('v.x'), 1);
  once('ExternalCopy', (v) => new ivm.ExternalCopy(v).release());
  once('evalClosure arguments', (v) => context.evalClosureSync('return $0.x', [v], { arguments: { copy: true } }));
  const fn = context.evalSync('(o) => o.list[2].three', { reference: true });
  once('apply arguments', (v) => assert.equal(fn.applySync(undefined, [v], { arguments: { copy: true } }), 3));
  once('script run result in Node', (v) => context.global.setSync('w', v, { copy: true }));
  // A handle inside plain data still travels as a handle.
  const ref = new ivm.Reference({ a: 1 });
  context.global.setSync('h', { ref, list: [ref] }, { copy: true });
  assert.equal(context.evalSync('h.ref.typeof + " " + (h.list[0] instanceof Object)'), 'object true');
  assert.ok(!isolate.isDisposed);
});
