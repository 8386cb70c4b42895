'use strict';
// Small plain values cloned without Node's `v8.Serializer`. Making one costs
// more than the clone of a small value (a C++ object per copy, a zone for its
// identity map, a Buffer, and the garbage of all three: ~5 µs for
// `{a: 1, b: 'two', c: [3]}`), so a value made of plain objects, arrays,
// strings, numbers, booleans, null and undefined is written here, in the
// serializer's own format, into a pooled buffer.
//
// What is read is what the serializer reads (own enumerable string keys in
// their order, array elements), read through property descriptors: no getter
// or proxy trap runs, so the writer can give up at any point (anything else,
// an accessor, a hole, a proxy, a limit reached) and leave the value to the
// serializer, which then reads it the only time it is read (getters still
// run once per copy). The result is what the serializer would have written
// for the same data, up to the encoding of numbers and keys, which the
// deserializer reads the same way.
const { isProxy, isArgumentsObject } = require('util').types;

const OBJECT_PROTO = Object.prototype;
const ARRAY_PROTO = Array.prototype;
const { getPrototypeOf, getOwnPropertyDescriptor, keys: objectKeys } = Object;
const { isArray } = Array;

// Limits: past them the serializer is as fast (and the packed paths faster).
const CAPACITY = 4096;
// At 32 objects and arrays, clones into isolates are packed on Node's thread
// (native/src/transfer/plain.rs PACKED_FROM), which pays off from there.
const MAX_OBJECTS = 32;
const MAX_DEPTH = 64;

// Clones are written straight into a pool (as Buffer.allocUnsafe does),
// each returned as a view of its bytes. A pool is replaced when less than
// CAPACITY plus the slack is left: the slack takes the end tags of objects
// closed after the last check (at most MAX_DEPTH of them, 11 bytes each).
const POOL = 64 * 1024;
const SLACK = 1024;
let pool = null;
let view = null;
let base = POOL;
let pos = 0;
let end = 0;
// Objects and arrays written so far, in the order the deserializer numbers
// them (a second visit is a back reference to that number).
const seen = [];
let seenCount = 0;
const ENV = process.env;

function varint(n) {
  while (n >= 0x80) {
    pool[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  pool[pos++] = n;
}

function string(s) {
  const n = s.length;
  if (pos + 2 * n + 12 > end) return false;
  const start = pos;
  pool[pos++] = 0x22; // '"' one-byte string
  varint(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      pos = start;
      pool[pos++] = 0x63; // 'c' two-byte string
      varint(2 * n);
      for (let j = 0; j < n; j++) {
        const u = s.charCodeAt(j);
        pool[pos++] = u & 0xff;
        pool[pos++] = u >>> 8;
      }
      return true;
    }
    pool[pos++] = c;
  }
  return true;
}

function value(v, depth) {
  if (pos > end - 16) return false;
  switch (typeof v) {
    case 'number':
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        pool[pos++] = 0x49; // 'I' zigzag int32
        varint(((v << 1) ^ (v >> 31)) >>> 0);
      } else {
        pool[pos++] = 0x4e; // 'N' double
        view.setFloat64(pos, v, true);
        pos += 8;
      }
      return true;
    case 'string':
      return string(v);
    case 'boolean':
      pool[pos++] = v ? 0x54 : 0x46; // 'T' / 'F'
      return true;
    case 'undefined':
      pool[pos++] = 0x5f; // '_'
      return true;
    case 'object':
      if (v === null) {
        pool[pos++] = 0x30; // '0'
        return true;
      }
      return object(v, depth);
    default:
      // bigint, symbol, function: the serializer's.
      return false;
  }
}

function object(o, depth) {
  for (let id = 0; id < seenCount; id++) {
    if (seen[id] === o) {
      pool[pos++] = 0x5e; // '^' back reference
      varint(id);
      return true;
    }
  }
  if (seenCount >= MAX_OBJECTS || depth >= MAX_DEPTH || isProxy(o)) return false;
  const proto = getPrototypeOf(o);
  if (proto === ARRAY_PROTO) return isArray(o) && array(o, depth);
  // Objects with Object.prototype that the serializer does not read as
  // plain: arrays and `arguments`, and process.env (a host object).
  if (proto !== OBJECT_PROTO || isArray(o) || isArgumentsObject(o) || o === ENV) return false;
  seen[seenCount++] = o;
  pool[pos++] = 0x6f; // 'o'
  const ks = objectKeys(o);
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i];
    const d = getOwnPropertyDescriptor(o, k);
    if (d === undefined || d.get !== undefined || d.set !== undefined) return false;
    if (!string(k) || !value(d.value, depth + 1)) return false;
  }
  pool[pos++] = 0x7b; // '{' with the property count
  varint(ks.length);
  return true;
}

// A dense array: every index present, no other property. Its keys say both
// (indices come first, in order, then names). Elements are read directly:
// a descriptor per element costs more than the serializer (see the note on
// element accessors in docs/DECISIONS.md).
function array(a, depth) {
  const n = a.length;
  if (n > MAX_OBJECTS * 8 || pos + n + 16 > end) return false;
  const ks = objectKeys(a);
  if (ks.length !== n || (n > 0 && ks[n - 1] !== `${n - 1}`)) return false;
  seen[seenCount++] = a;
  pool[pos++] = 0x41; // 'A'
  varint(n);
  for (let i = 0; i < n; i++) {
    if (!value(a[i], depth + 1)) return false;
  }
  pool[pos++] = 0x24; // '$' with no property, then the length
  pool[pos++] = 0;
  varint(n);
  return true;
}

// Tests turn the writer off to compare with the serializer's result, and
// count the values it took.
let enabled = true;
let taken = 0;
function setEnabled(on) {
  enabled = on;
}

// The clone bytes of `v` (an object), or undefined to leave it to the
// serializer. `format` is the version Node's serializer writes.
function smallClone(v, format) {
  if (!enabled) return undefined;
  if (base + CAPACITY + SLACK > POOL) {
    pool = Buffer.allocUnsafeSlow(POOL);
    view = new DataView(pool.buffer, pool.byteOffset, POOL);
    base = 0;
  }
  pos = base;
  end = base + CAPACITY;
  pool[pos++] = 0xff;
  pool[pos++] = format;
  let ok = false;
  try {
    ok = object(v, 0);
  } finally {
    for (let i = 0; i < seenCount; i++) seen[i] = undefined;
    seenCount = 0;
  }
  if (!ok || pos > end) return undefined;
  const out = pool.subarray(base, pos);
  base = (pos + 7) & ~7;
  taken++;
  return out;
}

module.exports = { smallClone, setEnabled, taken: () => taken };
