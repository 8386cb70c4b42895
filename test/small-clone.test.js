'use strict';
// Small plain values copied out of Node are written by lib/small-clone.js
// instead of Node's v8.Serializer. Every value here is copied both ways (the
// writer on, and off: the serializer's result) and the results must be the
// same in every observable way; the writer must take the values it is for
// and leave everything else to the serializer without reading it first.
const test = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('v8');
const ivm = require('../lib');
const small = require('../lib/small-clone');
const { SAME, same } = require('./support/copies');
const { setup } = require('./support/isolate');

const FORMAT = v8.serialize(0)[1];

// `make()` copied into a guest with the writer off (`ref`) and on (`got`),
// compared there; returns how many values the writer took.
function intoGuest(t, make) {
  const { context, global } = setup(t);
  context.evalSync(`globalThis.same = ${SAME};`);
  const outcome = (f) => {
    try {
      f();
      return null;
    } catch (e) {
      return e;
    }
  };
  small.setEnabled(false);
  let refError;
  try {
    refError = outcome(() => global.setSync('ref', make(), { copy: true }));
  } finally {
    small.setEnabled(true);
  }
  const before = small.taken();
  const gotError = outcome(() => global.setSync('got', make(), { copy: true }));
  const taken = small.taken() - before;
  if (refError) {
    assert.ok(gotError, `expected ${refError.message}`);
    assert.equal(gotError.constructor, refError.constructor);
    assert.equal(gotError.message, refError.message);
  } else {
    assert.equal(gotError, null, gotError && gotError.message);
    assert.equal(context.evalSync('same(ref, got)'), '');
  }
  return taken;
}

const TAKEN = {
  'an empty object': () => ({}),
  'a small record': () => ({ a: 1, b: 'two', c: [3] }),
  'every primitive it writes': () => ({ u: undefined, n: null, t: true, f: false, i: -7, big: 2 ** 31, neg: -(2 ** 31), d: 0.5, nz: -0, nan: NaN, inf: -Infinity, max: Number.MAX_VALUE }),
  'int32 edges': () => [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2 ** 30, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32],
  'strings': () => ({ e: '', l: 'é ÿ \u0000', w: '€ 中文', p: '😀', lone: '\ud800x\udc00', k: 'x'.repeat(300) }),
  'keys that are indices, in order': () => ({ b: 1, 2: 'two', a: 3, 1: 'one', 4294967295: 'max', 4294967296: 'over' }),
  'an own __proto__ key': () => JSON.parse('{"__proto__": {"x": 1}, "y": 2}'),
  'non-ASCII and two-byte keys': () => ({ 'é': 1, '€': 2, '': 3 }),
  'shared objects': () => {
    const s = { s: 1 };
    const l = [s];
    return { a: s, b: s, l, m: l };
  },
  'a cycle': () => {
    const o = { name: 'o', list: [] };
    o.self = o;
    o.list.push(o, o.list);
    return o;
  },
  'nested arrays': () => [[], [[]], [1, [2, [3, [4]]]], ['a', { b: [null] }]],
  'a frozen object': () => Object.freeze({ a: Object.freeze([1]) }),
  'non-enumerable and symbol keys left out': () => {
    const o = { a: 1 };
    Object.defineProperty(o, 'hidden', { value: 2, enumerable: false });
    o[Symbol('s')] = 3;
    return o;
  },
  'a setter without a getter': () => {
    const o = { a: 1 };
    Object.defineProperty(o, 'w', { set() {}, enumerable: true });
    return o;
  },
};

for (const [name, make] of Object.entries(TAKEN)) {
  test(`small clone: ${name}`, (t) => {
    // Read back through Node's deserializer too: the same value as the
    // serializer's bytes give.
    const v = make();
    const bytes = small.smallClone(v, FORMAT);
    if (name !== 'a setter without a getter') {
      assert.ok(bytes, 'the writer took it');
      assert.equal(same(v8.deserialize(v8.serialize(v)), v8.deserialize(bytes)), '');
    }
    const taken = intoGuest(t, make);
    if (name !== 'a setter without a getter') assert.equal(taken, 1);
  });
}

// Byte for byte, but for index keys, which the serializer writes as numbers
// and the writer as strings (both read back as the same key).
test('small clone: the same bytes as the serializer for plain records', () => {
  for (const v of [{}, { a: 1, b: 'two', c: [3] }, { name: 'p', x: 1.5, tags: ['a', 'b'], ok: true, none: null }, [1, [2], { x: 'x' }], { s: '€', n: -0 }]) {
    assert.deepEqual(small.smallClone(v, FORMAT), v8.serialize(v));
  }
});

const LEFT = {
  'a Date': () => ({ when: new Date(0) }),
  'a Map and a Set': () => ({ m: new Map([[1, 2]]), s: new Set([1]) }),
  'a typed array': () => ({ b: new Uint8Array([1, 2]) }),
  'a BigInt': () => ({ n: 10n }),
  'a hole': () => [1, , 3], // eslint-disable-line no-sparse-arrays
  'an array with another property': () => Object.assign([1, 2], { extra: true }),
  'a null-prototype object': () => ({ inner: Object.assign(Object.create(null), { a: 1 }) }),
  'a class instance': () => ({ p: new (class P { constructor() { this.x = 1; } })() }),
  'an array subclass': () => ({ a: new (class L extends Array {})(3).fill(1) }),
  'an object with an array prototype': () => Object.setPrototypeOf({ a: 1 }, Array.prototype),
  'an array with Object.prototype': () => Object.setPrototypeOf([1, 2], Object.prototype),
  'a boxed primitive': () => ({ s: Object('x') }),
  'an error': () => ({ e: new RangeError('r') }),
  'a function': () => ({ f() {} }),
  'a symbol': () => ({ s: Symbol('x') }),
  'an arguments object': () => ({ args: (function () { return arguments; })(1, 2) }), // eslint-disable-line prefer-rest-params
  'process.env': () => process.env,
  'nesting deeper than the writer goes': () => {
    let o = { end: true };
    for (let i = 0; i < 100; i++) o = { o };
    return o;
  },
  'more than it writes': () => ({ list: Array.from({ length: 2000 }, (_, i) => i) }),
  'a long string': () => ({ s: 'x'.repeat(5000) }),
  'many objects': () => Array.from({ length: 40 }, (_, i) => ({ i })),
  'a Reference inside': () => ({ r: new ivm.Reference({ a: 1 }) }),
  'an ExternalCopy inside': () => ({ c: HELD }),
};
const HELD = new ivm.ExternalCopy([1]);

for (const [name, make] of Object.entries(LEFT)) {
  test(`small clone leaves to the serializer: ${name}`, (t) => {
    assert.equal(small.smallClone(make(), FORMAT), undefined);
    assert.equal(intoGuest(t, make), 0);
  });
}

// The writer reads through property descriptors: when it gives up, it has
// run no getter, and the serializer runs each once.
test('small clone: getters run once when the writer gives up', (t) => {
  const { context, global } = setup(t);
  let runs = 0;
  const value = () => ({ a: 1, list: [{ b: 2 }], get g() { runs++; return 'got'; }, after: 'x' });
  assert.equal(small.smallClone(value(), FORMAT), undefined);
  assert.equal(runs, 0);
  global.setSync('v', value(), { copy: true });
  assert.equal(runs, 1);
  assert.equal(context.evalSync('JSON.stringify(v)'), '{"a":1,"list":[{"b":2}],"g":"got","after":"x"}');
  runs = 0;
  new ivm.ExternalCopy(value()).release();
  assert.equal(runs, 1);
  // Given up after a getter deeper in the value, before any value after it.
  const nested = () => ({ first: { get g() { runs++; return 1; } }, then: new Map() });
  runs = 0;
  assert.equal(small.smallClone(nested(), FORMAT), undefined);
  assert.equal(runs, 0);
});

test('small clone: a proxy is never touched', (t) => {
  const { global } = setup(t);
  let traps = 0;
  const handler = {};
  for (const k of ['get', 'getPrototypeOf', 'ownKeys', 'getOwnPropertyDescriptor', 'has']) {
    handler[k] = (...a) => {
      traps++;
      return Reflect[k](...a);
    };
  }
  const p = new Proxy({ a: 1 }, handler);
  assert.equal(small.smallClone({ x: 1, p }, FORMAT), undefined);
  assert.equal(small.smallClone(p, FORMAT), undefined);
  assert.equal(small.smallClone([p], FORMAT), undefined);
  assert.equal(traps, 0);
  assert.throws(() => global.setSync('v', { x: 1, p }, { copy: true }), TypeError);
});

test('small clone: the writer serves copies in every direction that copies out of Node', async (t) => {
  const { context, global } = setup(t);
  const value = { a: 1, list: ['x', { y: 2 }] };
  const check = `(v) => JSON.stringify(v) === '{"a":1,"list":["x",{"y":2}]}'`;
  const fn = context.evalSync(check, { reference: true });
  const count = () => small.taken();
  let c = count();
  global.setSync('v', value, { copy: true });
  assert.equal(context.evalSync(`(${check})(v)`), true);
  assert.equal(fn.applySync(undefined, [value], { arguments: { copy: true } }), true);
  assert.equal(await fn.apply(undefined, [value], { arguments: { copy: true } }), true);
  assert.equal(context.evalClosureSync(`return (${check})($0)`, [value], { arguments: { copy: true } }), true);
  const ec = new ivm.ExternalCopy(value);
  assert.deepEqual(ec.copy(), value);
  global.setSync('e', ec.copyInto());
  assert.equal(context.evalSync(`(${check})(e)`), true);
  global.setSync('cb', new ivm.Callback(() => value));
  assert.equal(context.evalSync(`(${check})(cb())`), true);
  // setSync, applySync, apply, evalClosureSync, ExternalCopy, the Callback's
  // result (the ExternalCopy's copies read its stored bytes).
  assert.equal(count() - c, 6);
  c = count();
  // A Node Reference copied to Node.
  assert.deepEqual(new ivm.Reference(value).copySync(), value);
  assert.equal(count() - c, 1);
});

test('construction through the exported classes keeps classes and subclasses', () => {
  class MyCopy extends ivm.ExternalCopy {}
  const m = new MyCopy({ a: 1 });
  assert.ok(m instanceof MyCopy && m instanceof ivm.ExternalCopy);
  assert.deepEqual(m.copy(), { a: 1 });
  const c = new ivm.ExternalCopy(1);
  assert.equal(c.constructor, ivm.ExternalCopy);
  assert.equal(Object.getPrototypeOf(c), ivm.ExternalCopy.prototype);
  const r = new ivm.Reference(1);
  assert.equal(r.constructor, ivm.Reference);
  assert.equal(Reflect.construct(ivm.Reference, [2]).copySync(), 2);
  assert.throws(() => ivm.ExternalCopy(1), { name: 'TypeError', message: '`ExternalCopy` must be called with `new`' });
  assert.throws(() => ivm.Reference(1), { name: 'TypeError', message: '`Reference` must be called with `new`' });
});

// getSync and setSync without options take a shorter native path.
test('getSync and setSync without options', (t) => {
  const { context, global } = setup(t);
  global.setSync('u', undefined);
  assert.equal(context.evalSync('"u" in globalThis && u === undefined'), true);
  assert.throws(() => global.setSync('k'), { name: 'TypeError', message: '`setSync` requires at least 2 parameters' });
  global.setSync(3, 'three');
  assert.equal(global.getSync(3), 'three');
  assert.equal(global.getSync('3'), 'three');
  assert.throws(() => global.getSync(-1), { name: 'TypeError', message: 'Invalid `key`' });
  assert.throws(() => global.setSync(1.5, 1), { name: 'TypeError', message: 'Invalid `key`' });
  assert.throws(() => global.getSync({}), { name: 'TypeError', message: 'Invalid `key`' });
  const obj = context.evalSync('globalThis.obj = Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true } }); obj', { reference: true });
  assert.equal(obj.getSync('own'), 2);
  assert.equal(obj.getSync('inherited'), undefined);
  const g = context.evalSync('({ get x() { return 1; } })', { reference: true });
  assert.throws(() => g.getSync('x'), { name: 'TypeError', message: 'Property is getter' });
  assert.equal(g.getSync('x', { accessors: true }), 1);
  const objRef = global.getSync('obj');
  assert.ok(objRef instanceof ivm.Reference);
  assert.equal(objRef.typeof, 'object');
  const released = context.evalSync('({ a: 1 })', { reference: true });
  released.release();
  assert.throws(() => released.getSync('a'), { message: 'Reference has been released' });
  assert.throws(() => released.setSync('a', 1), { message: 'Reference has been released' });
  global.setSync('n', 1n);
  assert.equal(context.evalSync('typeof n'), 'bigint');
  assert.throws(() => global.setSync('s', Symbol('x')), TypeError);
});
