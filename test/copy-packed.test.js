'use strict';
// The packed form of large plain clones (native/src/transfer/plain.rs
// `Packed`, made into the value by lib/plain-decode.js in Node and inside
// isolates). Every case is copied with the fast paths off and on
// (test/support/copies.js) and must come out the same, made from the packed
// form.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');
const native = require('../lib/native');
const { setup } = require('./support/isolate');
const { SAME, same, both, intoGuest, fromGuest } = require('./support/copies');

const many = (n, f) => Array.from({ length: n }, (_, i) => f(i));

// Keys that must stay data: quotes and backslashes that would end a string
// literal, code, `__proto__` (a literal's prototype setter), integer-like
// keys, line terminators, lone surrogates.
const WEIRD_KEYS = [
  '__proto__', 'constructor', 'toString', '"); globalThis.ran = 1; //', "'); globalThis.ran = 1; //", '`${globalThis.ran = 1}`',
  '', ' ', 'é', '\u2028', '\u2029', '😀', 'a\ud800', '\udc00', '\\', '\\"', '"', '\n', '\u0000', 'length', '0', '1', '4294967295', '-1', '01',
];
const weirdObject = (i) => {
  const o = {};
  WEIRD_KEYS.forEach((k, j) => Object.defineProperty(o, k, { value: j + i, enumerable: true, writable: true, configurable: true }));
  return o;
};

// Strings around the length below which the decoder cuts them from one
// string (13), one-byte and two-byte (the 3000-long ones last).
const STRINGS = [];
for (const n of [0, 1, 2, 11, 12, 13, 14, 100, 3000]) {
  STRINGS.push('x'.repeat(n), 'é'.repeat(n), '€'.repeat(n), `${'a'.repeat(n)}\ud800`.slice(0, n), '\u00ff\u0100'.repeat(n).slice(0, n));
}

// Node values large enough for the packed form (32 objects and arrays, and
// 1 KB of clone: native/src/transfer/plain.rs PACKED_FROM, PACKED_BYTES).
const PACKED = {
  'the benchmark graph': () => ({ items: many(2000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) }),
  'weird keys, used often enough to get a compiled maker': () => ({ list: many(40, weirdObject) }),
  'weird keys, used once each (template makers)': () => ({ a: weirdObject(1), list: many(200, (i) => [i]) }),
  'strings of every length and width': () => ({ s: STRINGS, list: many(400, (i) => ({ i, t: STRINGS[i % 40] })) }),
  'numbers': () => ({ list: many(40, (i) => [-0, 0, 1e300, -1e-300, 5e-324, Number.MAX_VALUE, 0.1, 2 ** 53 + 2, -(2 ** 31), 2 ** 32, 1.5, -i]) }),
  'arrays of every length up to 40': () => ({ list: many(41, (i) => many(i, (j) => (j % 3 ? j : { j }))) }),
  'atoms': () => ({ list: many(40, (i) => ({ t: true, f: false, n: null, a: [true, false, null, i] })) }),
  'nesting 500 deep, 40 times': () =>
    many(40, () => {
      let v = { end: true };
      for (let i = 0; i < 500; i++) v = i % 2 ? { v } : [v];
      return v;
    }),
  'many shapes (more than a clone may compile)': () => ({ list: many(400, (i) => ({ [`k${i % 20}`]: i, b: [i] })) }),
  'empty objects and arrays': () => ({ list: many(120, () => ({ o: {}, a: [] })) }),
};

// Node's thread reads a clone's bytes for handles anyway, and packs it
// there; a clone with an empty object (a handle may be one) is walked for
// handles, then the isolate packs it.
const HAS_EMPTY = new Set(['empty objects and arrays']);

for (const [name, make] of Object.entries(PACKED)) {
  test(`Node -> guest, packed: ${name}`, (t) => {
    const r = intoGuest(t, make);
    assert.equal(r.packed, 1, 'made from the packed form');
    assert.equal(r.prepacked, HAS_EMPTY.has(name) ? 0 : 1, "packed on Node's thread");
    assert.equal(r.context.evalSync('typeof ran'), 'undefined', 'no key ran as code');
  });
  test(`guest -> Node, packed: ${name}`, (t) => {
    const r = fromGuest(t, 'v', inGuest(make()));
    assert.equal(r.packed, 1, 'made from the packed form');
    assert.equal(globalThis.ran, undefined, 'no key ran as code');
  });
}

// The same value made in a guest: from JSON.parse (which keeps an own
// `__proto__` key, where an object literal would set the prototype), with
// the -0 that JSON loses put back where the tests put it.
function inGuest(value) {
  return `globalThis.v = JSON.parse(${JSON.stringify(JSON.stringify(value))}); (function fix(v) {
    if (Array.isArray(v) && v.length === 12 && v[1] === 0 && v[0] === 0) v[0] = -0;
    if (v && typeof v === 'object') for (const k of Object.keys(v)) fix(v[k]);
  })(globalThis.v);`;
}

test('guest -> Node: the packed copy is the same as the deserializer\'s for a guest-built graph', (t) => {
  const r = fromGuest(t, '({ items: Array.from({ length: 3000 }, (_, i) => ({ id: i, name: "n" + i, tags: [i % 7], deep: { x: [i, -0, "é€"] } })) })');
  assert.equal(r.packed, 1);
});

test("Node -> guest, packed: the guest's prototypes, globals and builtins are never run or consulted", (t) => {
  const hooks = `
    globalThis.ranCount = 0;
    globalThis.ranWhat = '';
    const note = (what) => () => { globalThis.ranCount++; globalThis.ranWhat += what + ' '; };
    for (const k of ['id', 'name', 'tags', 'items', 'list', '__proto__x', '0', '1', '2', '3', '4', '5', '10']) {
      Object.defineProperty(Object.prototype, k, { set: note('Object.prototype.' + k), get: note('get ' + k), configurable: true });
    }
    for (const k of ['0', '1', '2', '3', '4', '5', '39']) {
      Object.defineProperty(Array.prototype, k, { set: note('Array.prototype.' + k), get: note('get Array ' + k), configurable: true });
    }
    const TA = Object.getPrototypeOf(Uint8Array.prototype);
    Object.defineProperty(TA, 'length', { get: note('TypedArray length'), configurable: true });
    Array.prototype.slice = note('slice');
    Array.prototype[Symbol.iterator] = note('iterator');
    Array.prototype.map = note('map');
    Function.prototype.call = note('call');
    Function.prototype.apply = note('apply');
    Object.defineProperty = note('defineProperty');
    Object.fromEntries = note('fromEntries');
    JSON.parse = note('JSON.parse');
    Map.prototype.get = note('Map.get');
    Map.prototype.set = note('Map.set');
    String.prototype.substring = note('substring');
    globalThis.Array = note('Array');
    globalThis.Object = note('Object');
  `;
  const { context, global } = setup(t);
  context.evalSync(hooks);
  const before = native.packedCopy();
  global.setSync('g', { items: many(100, (i) => ({ id: i, name: `n${i}`, tags: [i, i + 1, i + 2, i + 3, i + 4] })) }, { copy: true });
  global.setSync('w', { list: many(40, weirdObject) }, { copy: true });
  assert.equal(native.packedCopy() - before, 2);
  assert.equal(context.evalSync('ranCount'), 0, context.evalSync('ranWhat'));
  assert.equal(context.evalSync('Reflect.getOwnPropertyDescriptor(g.items[99], "id").value'), 99);
  assert.equal(context.evalSync('Reflect.getOwnPropertyDescriptor(Reflect.getOwnPropertyDescriptor(g.items[99], "tags").value, "4").value'), 103);
  assert.equal(context.evalSync('Reflect.getOwnPropertyDescriptor(w.list[3], "__proto__").value'), 3);
  assert.equal(context.evalSync('Reflect.getPrototypeOf(w.list[3]) === Reflect.getPrototypeOf(g)'), true);
});

test('Node -> guest, packed: each context of an isolate gets objects of its own realm', (t) => {
  const { isolate } = setup(t);
  const value = { items: many(100, (i) => ({ id: i, list: [i, i, i, i] })) };
  const contexts = [isolate.createContextSync(), isolate.createContextSync()];
  const before = native.packedCopy();
  for (const c of contexts) c.global.setSync('g', value, { copy: true });
  assert.equal(native.packedCopy() - before, 2);
  for (const c of contexts) {
    assert.equal(
      c.evalSync('Object.getPrototypeOf(g.items[5]) === Object.prototype && g.items[5].list instanceof Array && Array.isArray(g.items) && g.items instanceof Array'),
      true,
    );
  }
});

test('Node -> guest, packed: more shapes over time than the maker cache holds', (t) => {
  const { context, global } = setup(t);
  for (let n = 0; n < 600; n++) {
    global.setSync('g', { list: many(40, (i) => ({ [`shape${n}`]: i, i })) }, { copy: true });
  }
  assert.equal(context.evalSync('g.list[39].shape599 + g.list.length'), 79);
});

test('guest -> Node, packed: more shapes over time than the maker cache holds', (t) => {
  const { context } = setup(t);
  let last;
  for (let n = 0; n < 600; n++) {
    last = context.evalSync(`({ list: Array.from({ length: 40 }, (_, i) => ({ shape${n}: i, i })) })`, { copy: true });
  }
  assert.deepEqual(last.list[39], { shape599: 39, i: 39 });
});

test('guest -> Node, packed: Node builtins replaced after load change nothing', (t) => {
  const { context } = setup(t);
  const saved = [Buffer.prototype.toString, Array.prototype.slice, JSON.parse, JSON.stringify, Object.defineProperty];
  const before = native.packedCopy();
  let got;
  try {
    Buffer.prototype.toString = () => 'evil';
    Array.prototype.slice = () => ['evil']; // eslint-disable-line no-extend-native
    JSON.parse = () => 'evil';
    JSON.stringify = () => 'evil';
    Object.defineProperty = () => 'evil';
    got = context.evalSync('({ list: Array.from({ length: 40 }, (_, i) => ({ s: "s".repeat(i), long: [i, i, i, i, i] })), a: { odd: 1 } })', { copy: true });
  } finally {
    [Buffer.prototype.toString, Array.prototype.slice, JSON.parse, JSON.stringify, Object.defineProperty] = saved; // eslint-disable-line no-extend-native
  }
  assert.equal(native.packedCopy() - before, 1);
  assert.deepEqual(got.list[39], { s: 's'.repeat(39), long: [39, 39, 39, 39, 39] });
  assert.deepEqual(got.a, { odd: 1 });
});

test('guest -> Node, packed: without code generation in Node, shapes use templates', () => {
  const expr = '({ list: Array.from({ length: 40 }, (_, i) => ({ id: i, ["__proto__"]: i, [\'q"\\\\\']: [i] })) })';
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    const native = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native'))});
    const ctx = new ivm.Isolate().createContextSync();
    const before = native.packedCopy();
    const o = ctx.evalSync(${JSON.stringify(expr)}, { copy: true }).list[39];
    const ok = native.packedCopy() - before === 1 && o.id === 39 && Object.hasOwn(o, '__proto__') && o.__proto__ === 39
      && o['q"\\\\'][0] === 39 && Object.keys(o).length === 3;
    process.stdout.write(ok ? 'ok' : JSON.stringify(o));
  `;
  const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'ok');
});

test('lists longer than the packed form takes are copied all the same', { timeout: 60_000 }, (t) => {
  const { context, global } = setup(t);
  const big = { list: many(2 ** 20 + 1, (i) => (i % 2 ? [] : {})) };
  const before = native.packedCopy();
  global.setSync('big', big, { copy: true });
  assert.equal(native.packedCopy() - before, 0);
  assert.equal(context.evalSync('big.list.length + Array.isArray(big.list[1])'), 2 ** 20 + 2);
  const back = context.evalSync('big', { copy: true });
  assert.equal(native.packedCopy() - before, 0);
  assert.equal(same(back, big), '');
});

test("Node -> guest: a clone packed on Node's thread that the isolate has no room for is read from its bytes", (t) => {
  // Too large for the packed form's headroom check in an 8 MB isolate (its
  // bytes times 16), small enough for the deserializer.
  const { context, global } = setup(t, { memoryLimit: 8 });
  let n = 0;
  const r = both(() => global.setSync(n++ === 0 ? 'ref' : 'got', { list: many(40000, (i) => ({ i })) }, { copy: true }));
  assert.equal(r.ref.error, undefined);
  assert.equal(r.got.error, undefined);
  assert.equal(r.prepacked, 1, "packed on Node's thread");
  assert.equal(r.packed, 0, 'read from the bytes');
  // (`same` needs more room than this isolate has, for two such graphs.)
  assert.equal(context.evalSync('JSON.stringify(ref) === JSON.stringify(got) && Object.getPrototypeOf(got.list[5]) === Object.prototype'), true);
  assert.equal(context.evalSync('got.list.length + got.list[39999].i'), 79999);
});

test("ExternalCopy of a large plain value: packed on Node's thread, kept as bytes, copied out again and again", (t) => {
  const { context, global } = setup(t);
  const graph = { items: many(3000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) };
  const before = native.prepackedCopy();
  const copy = new ivm.ExternalCopy(graph);
  t.after(() => copy.release());
  assert.equal(native.prepackedCopy() - before, 1);
  assert.equal(same(copy.copy(), graph), '');
  assert.equal(same(copy.copy(), graph), '');
  global.setSync('c', copy.copyInto());
  global.setSync('d', copy.copyInto());
  context.evalSync(`globalThis.same = ${SAME}`);
  global.setSync('g', graph, { copy: true });
  assert.equal(context.evalSync('same(c, g) + same(d, g) + String(c !== d)'), 'true');
});

test("Node -> Node copies ({copy: true} results of Node's own values) are not packed for an isolate", async () => {
  const graph = { items: many(3000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) };
  const before = native.prepackedCopy();
  const ref = new ivm.Reference(graph);
  const copied = ref.copySync();
  assert.equal(native.prepackedCopy() - before, 0);
  assert.equal(same(copied, graph), '');
  assert.notEqual(copied, graph);
});

test("a clone packed on Node's thread is freed once the isolate has it, not when Node's GC gets to it", (t) => {
  // The packed form travels in a native box that Node's GC does not see
  // the size of: held until a GC, copies of a large value in a loop held
  // gigabytes.
  const { context, global } = setup(t);
  const graph = { items: many(3000, (i) => ({ id: i, name: `n${i}`, tags: [i % 7] })) };
  const live = native.prepackedCopy(true);
  const sent = native.prepackedCopy();
  for (let i = 0; i < 5; i++) global.setSync('g', graph, { copy: true });
  assert.equal(native.prepackedCopy() - sent, 5);
  assert.equal(native.prepackedCopy(true) - live, 0);
  assert.equal(context.evalSync('g.items.length'), 3000);
});
