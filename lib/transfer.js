'use strict';
// How values leave Node: each value becomes a (kind, payload) pair that the
// native layer decodes. Structured clones use Node's own ValueSerializer; our
// V8 reads its (older) format. Clones coming back are written by our V8
// (format 16); only buffer lengths above 4 GiB differ from Node's format, so
// they are relabelled with Node's version before Node reads them.
const v8 = require('v8');
const native = require('./native');
const { decodePlain, templateMaker } = require('./plain-decode');
const { smallClone } = require('./small-clone');

const KIND_PRIMITIVE = 0;
const KIND_SERIALIZED = 1;
const KIND_REFERENCE = 2;
const KIND_CALLBACK = 3;
const KIND_DEREF = 4;
const KIND_HOST_REF = 5;
const KIND_EXTERNAL_COPY = 6;
const KIND_COPY_INTO = 7;
const KIND_PROMISE = 8;
const KIND_LIBRARY = 9;
const KIND_ISOLATE = 10;
const KIND_CONTEXT = 11;
const KIND_SCRIPT = 12;
const KIND_MODULE = 13;
const KIND_ERROR_CAUSE = 14;

// Transfer mode codes shared with native code.
const MODE_DEFAULT = 0;
const MODE_COPY = 1;
const MODE_EXTERNAL_COPY = 2;
const MODE_REFERENCE = 3;
// A flag added to the above: `{promise: true}`.
const MODE_PROMISE = 4;
// Internal: a copy in which functions still cross as functions (the results
// of guest functions called from Node, as isolated-vm's Callback results).
const MODE_COPY_CALLABLE = 8;

const NODE_FORMAT = v8.serialize(0)[1];
const NON_TRANSFERABLE = 'A non-transferable value was passed';

// Handles (References, ExternalCopies, Callbacks..., and SharedArrayBuffers)
// inside a cloned value
// travel as host objects whose record is an index into a list of handles
// sent next to the bytes (native/src/transfer/serde.rs does the same in
// isolates). The library's classes carry `HANDLE` on their prototypes; the
// encoder for one handle is set by index.js.
const HANDLE = Symbol('v8-isolates handle');
let encodeHandle = null;
function setHandleEncoder(fn) {
  encodeHandle = fn;
}

const { isAnyArrayBuffer, isSharedArrayBuffer, isDate, isRegExp, isNativeError, isBoxedPrimitive, isMap, isSet } = require('util').types;
const OBJECT_PROTO = Object.prototype;

// Shared memory: a SharedArrayBuffer or a view of one.
function isShared(v) {
  return isSharedArrayBuffer(v) || (ArrayBuffer.isView(v) && isSharedArrayBuffer(v.buffer));
}

// Values the serializer writes without looking at their properties.
function isLeaf(v) {
  return ArrayBuffer.isView(v) || isAnyArrayBuffer(v) || isDate(v) || isRegExp(v) || isNativeError(v) || isBoxedPrimitive(v);
}

// Whether a handle is reachable from `value` the way the serializer walks it
// (own enumerable properties, array elements, Map and Set entries). A first
// walk keeps no visited set, which costs a quarter of one with a set: it is
// exact for trees and DAGs, and gives up on a path deeper than DEPTH (a
// cycle, or a very deep list) or after BUDGET objects (a DAG that shares a
// lot); the walk then starts again with a set.
const DEPTH = 128;
const BUDGET = 1 << 20;
function hasHandle(value) {
  if (typeof value !== 'object' || value === null) return false;
  budget = BUDGET;
  const found = walkTree(value, 0);
  return found === GAVE_UP ? walk(value) : found === FOUND;
}

// An Error with an own `cause`: Node's V8 writes the cause before the stack
// and ours reads it after, so such errors travel like handles (index.js
// sends the error without its cause, and the cause, apart).
function hasCause(v) {
  // `in` first: a cheap look (no getter runs) before the native check.
  return 'cause' in v && isNativeError(v) && Object.hasOwn(v, 'cause');
}

let budget = 0;
const NONE = 0;
const FOUND = 1;
const GAVE_UP = 2;

// A walk without a visited set (recursive: the depth is the path length).
function walkTree(v, depth) {
  if (--budget < 0 || depth > DEPTH) return GAVE_UP;
  if (v[HANDLE] === true || hasCause(v)) return FOUND;
  let r = NONE;
  if (Array.isArray(v)) {
    // Each index costs the budget: a sparse array's length says nothing of
    // its size (`a[2 ** 32 - 2] = 1` has one element), and the walk with a
    // visited set reads only the elements there are.
    budget -= v.length;
    if (budget < 0) return GAVE_UP;
    for (let i = 0; i < v.length && r === NONE; i++) {
      const e = v[i];
      if (typeof e === 'object' && e !== null) r = walkTree(e, depth + 1);
    }
  } else if (Object.getPrototypeOf(v) === OBJECT_PROTO) {
    // `for...in` reads the enum cache without allocating (Object.prototype
    // has no enumerable properties).
    for (const k in v) {
      const e = v[k];
      if (typeof e === 'object' && e !== null) r = walkTree(e, depth + 1);
      if (r !== NONE) break;
    }
  } else if (isLeaf(v)) {
    if (isShared(v)) r = FOUND;
  } else {
    for (const e of children(v)) {
      if (typeof e === 'object' && e !== null) r = walkTree(e, depth + 1);
      if (r !== NONE) break;
    }
  }
  return r;
}

// What the serializer reads of a Map, a Set or another object.
function children(v) {
  if (isMap(v)) {
    const out = [];
    for (const [k, e] of v) out.push(k, e);
    return out;
  }
  if (isSet(v)) return [...v];
  return Object.keys(v).map((k) => v[k]);
}

// The same walk with a visited set, for graphs with cycles.
function walk(value) {
  const seen = new Set([value]);
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v[HANDLE] === true || isShared(v) || hasCause(v)) return true;
    const list = Array.isArray(v) || Object.getPrototypeOf(v) === OBJECT_PROTO ? Object.values(v) : isLeaf(v) ? [] : children(v);
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (typeof e === 'object' && e !== null && !seen.has(e)) {
        seen.add(e);
        stack.push(e);
      }
    }
  }
  return false;
}

function put(obj, key, value) {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

// A copy of `value`'s graph (what the serializer would read of it) in which
// each handle is replaced by a placeholder the serializer sees as a host
// object: a `v8.Serializer` instance, which has internal fields.
function substitute(value, placeholders, handles) {
  const memo = new Map();
  const visit = (v) => {
    if (typeof v !== 'object' || v === null) return v;
    let c = memo.get(v);
    if (c !== undefined) return c;
    if (v[HANDLE] === true || isShared(v) || hasCause(v)) {
      // Node's deserializer cannot read SharedArrayBuffers: they travel as
      // handles (each side makes its SharedArrayBuffer for the memory).
      c = new v8.Serializer();
      placeholders.set(c, handles.length);
      handles.push(v);
    } else if (Array.isArray(v)) {
      c = new Array(v.length);
      memo.set(v, c);
      for (const k of Object.keys(v)) put(c, k, visit(v[k]));
    } else if (isLeaf(v)) {
      c = v;
    } else if (isMap(v)) {
      c = new Map();
      memo.set(v, c);
      for (const [k, e] of v) c.set(visit(k), visit(e));
    } else if (isSet(v)) {
      c = new Set();
      memo.set(v, c);
      for (const e of v) c.add(visit(e));
    } else {
      c = {};
      memo.set(v, c);
      for (const k of Object.keys(v)) put(c, k, visit(v[k]));
    }
    memo.set(v, c);
    return c;
  };
  return visit(value);
}

class HandleSerializer extends v8.Serializer {
  constructor(placeholders) {
    super();
    this.placeholders = placeholders;
  }

  _writeHostObject(obj) {
    const i = this.placeholders.get(obj);
    if (i === undefined) throw new TypeError(`Unserializable host object: ${Object.prototype.toString.call(obj)}`);
    this.writeUint32(i);
  }
}

function write(s, value) {
  s.writeHeader();
  try {
    s.writeValue(value);
  } catch (e) {
    // A graph too deep for Node's serializer stays a RangeError (as in
    // isolated-vm); what cannot be cloned is a TypeError.
    if (e instanceof RangeError) throw new RangeError(e.message);
    throw new TypeError(e && e.message ? e.message : String(e));
  }
  return s.releaseBuffer();
}

// The clone's bytes and the handles it refers to (null when none). With
// `pack` (a clone for an isolate), a large plain clone comes as its packed
// form (a native box) instead of the bytes: the check for handles reads
// the bytes anyway, and the isolate then need not read them again.
function serializeParts(value, pack) {
  // Serialize first: plain data without an empty object cannot hold a
  // handle (handle objects are frozen with no own keys, so each clones as
  // `{}`), and then the value was read once, its getters run once, as in
  // isolated-vm. Otherwise walk it for handles (running getters again).
  let first;
  if (typeof value === 'object' && value !== null) {
    const small = smallClone(value, NODE_FORMAT);
    if (small !== undefined) return [small, null];
    try {
      first = write(new v8.Serializer(), value);
    } catch {
      // Reported by the second attempt below, after the walk.
    }
    if (first !== undefined) {
      const plain = native.plainNoHandles(first, pack);
      if (plain === true) return [first, null];
      if (plain !== false) return [plain, null];
    }
  }
  let found = false;
  try {
    found = hasHandle(value);
  } catch {
    // A proxy or a throwing getter: the serializer reports it.
  }
  if (!found) return [first ?? write(new v8.Serializer(), value), null];
  const placeholders = new Map();
  const handles = [];
  const copy = substitute(value, placeholders, handles);
  return [write(new HandleSerializer(placeholders), copy), handles];
}

// The payload of a KIND_SERIALIZED value: the bytes (or their packed
// form), or `[bytes, kind0, payload0, ...]` when handles are inside.
function serialize(value) {
  const [buf, handles] = serializeParts(value, true);
  if (handles === null) return buf;
  const out = [buf];
  for (const h of handles) out.push(...encodeHandle(h));
  return out;
}

class HandleDeserializer extends v8.Deserializer {
  constructor(buf, handles) {
    super(buf);
    this.handles = handles;
  }

  _readHostObject() {
    return this.handles[this.readUint32()];
  }
}

// Captured at load: user code replacing JSON.parse later does not change how
// copies arrive.
const jsonParse = JSON.parse;
const jsonStringify = JSON.stringify;
const defineProperty = Object.defineProperty;

const apply = Reflect.apply;
const bufferToString = Buffer.prototype.toString;
const bufferFrom = Buffer.from;
const arraySlice = Array.prototype.slice;

// A plain-data clone in its packed form (native/src/transfer/packed.rs
// `node_buffer`: a header of u32 words, then the sections it points to),
// made by lib/plain-decode.js. Short strings are cut from one string of
// them all (V8 copies substrings this short); longer ones are read alone,
// so none keeps another's text alive.
const SLICE_MIN = 13;
function decodePacked(ab, shapesText) {
  const h = new Uint32Array(ab, 0, 16);
  const tags = new Uint8Array(ab, h[1], h[0]);
  const nums = new Float64Array(ab, h[3], h[2]);
  const ints = new Uint32Array(ab, h[5], h[4]);
  const count = h[6];
  const lens = new Uint32Array(ab, h[7], count);
  const buf = bufferFrom(ab);
  const short1 = h[9] === 0 ? '' : apply(bufferToString, buf, ['latin1', h[8], h[8] + h[9]]);
  const short2 = h[11] === 0 ? '' : apply(bufferToString, buf, ['utf16le', h[10], h[10] + h[11]]);
  let long1 = h[12];
  let long2 = h[13];
  let c1 = 0;
  let c2 = 0;
  const strs = new Array(count);
  for (let k = 0; k < count; k++) {
    const d = lens[k];
    const n = d >>> 1;
    if ((d & 1) === 0) {
      if (n < SLICE_MIN) {
        strs[k] = short1.substring(c1, c1 + n);
        c1 += n;
      } else {
        strs[k] = apply(bufferToString, buf, ['latin1', long1, long1 + n]);
        long1 += n;
      }
    } else if (n < SLICE_MIN) {
      strs[k] = short2.substring(c2, c2 + n);
      c2 += n;
    } else {
      strs[k] = apply(bufferToString, buf, ['utf16le', long2, long2 + 2 * n]);
      long2 += 2 * n;
    }
  }
  const keys = jsonParse(shapesText);
  const uses = new Uint32Array(ab, h[15], keys.length);
  const makers = new Array(keys.length);
  const widths = new Array(keys.length);
  let budget = MAKER_COMPILES;
  for (let s = 0; s < keys.length; s++) {
    const names = keys[s];
    widths[s] = names.length;
    let maker;
    if (uses[s] >= MAKER_USES) {
      maker = compiledMaker(names, budget > 0);
      if (maker !== undefined && maker.fresh) budget--;
    }
    makers[s] = maker === undefined ? templateMaker(template(names), names) : maker.fn;
  }
  return decodePlain(h[0], tags, nums, ints, strs, makers, widths, [], list);
}

function list(stack, base, len) {
  return apply(arraySlice, stack, [base, base + len]);
}

function template(names) {
  const t = {};
  for (let k = 0; k < names.length; k++) defineProperty(t, names[k], { value: null, writable: true, enumerable: true, configurable: true });
  return t;
}

// Shapes of at least MAKER_USES objects in a clone get a maker compiled
// for their keys (an object literal: several times as fast as filling a
// copied template, whose stores see every shape's keys), at most
// MAKER_COMPILES new ones per clone, kept in a bounded cache. The keys are
// written as JSON string literals, which cannot end early; `__proto__` as a
// computed key, which defines a property instead of setting the prototype.
// Without code generation (`--disallow-code-generation-from-strings`) every
// shape uses a template.
const MAKER_USES = 16;
const MAKER_COMPILES = 4;
const MAKER_CACHE = 512;
const makers = new Map();
let codegen = true;
function compiledMaker(names, mayCompile) {
  if (!codegen) return undefined;
  let body = '';
  for (let k = 0; k < names.length; k++) {
    const key = names[k] === '__proto__' ? '["__proto__"]' : jsonStringify(names[k]);
    body += `${k > 0 ? ', ' : ''}${key}: s[t + ${k}]`;
  }
  const cached = makers.get(body);
  if (cached !== undefined) return { fn: cached, fresh: false };
  if (!mayCompile) return undefined;
  let fn;
  try {
    fn = new Function('s', 't', `return { ${body} };`); // eslint-disable-line no-new-func
  } catch {
    codegen = false;
    return undefined;
  }
  if (makers.size >= MAKER_CACHE) makers.clear();
  makers.set(body, fn);
  return { fn, fresh: true };
}

// Clone bytes, JSON text when the clone was small plain data, or the packed
// form (with its shapes' JSON text).
function deserialize(buf, handles, shapes) {
  if (typeof buf === 'string') return jsonParse(buf);
  if (shapes !== undefined) return decodePacked(buf, shapes);
  if (buf[1] > NODE_FORMAT) buf[1] = NODE_FORMAT;
  const d = handles === undefined ? new v8.Deserializer(buf) : new HandleDeserializer(buf, handles);
  d.readHeader();
  return d.readValue();
}

// A structured clone of a Node value for Node itself: handles inside stay
// the same objects.
function copyLocal(value) {
  if (typeof value === 'symbol') throw new TypeError('Unsupported type');
  const [buf, handles] = serializeParts(value, false);
  return deserialize(buf, handles === null ? undefined : handles);
}

function isPrimitive(value) {
  const t = typeof value;
  return value === null || (t !== 'object' && t !== 'function' && t !== 'symbol');
}

function optionError(name, what) {
  return new TypeError(`\`${name}\` must be ${what}`);
}

// A boolean option: absent (undefined or null) is false; anything else but a
// boolean is a TypeError, as in isolated-vm.
function boolOption(options, name) {
  if (options === undefined || options === null) return false;
  const v = options[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw optionError(name, 'a boolean');
  return v;
}

// Reads {copy, externalCopy, reference} (and validates `promise`).
function transferMode(options, name = 'options') {
  if (options === undefined || options === null) return MODE_DEFAULT;
  if (typeof options !== 'object') throw optionError(name, 'an object');
  const copy = boolOption(options, 'copy');
  const externalCopy = boolOption(options, 'externalCopy');
  const reference = boolOption(options, 'reference');
  const promise = boolOption(options, 'promise');
  const n = (copy ? 1 : 0) + (externalCopy ? 1 : 0) + (reference ? 1 : 0);
  if (n > 1) throw new TypeError('Only one of `copy`, `externalCopy`, or `reference` may be set');
  const p = promise ? MODE_PROMISE : 0;
  if (copy) return MODE_COPY | p;
  if (externalCopy) return MODE_EXTERNAL_COPY | p;
  if (reference) return MODE_REFERENCE | p;
  return MODE_DEFAULT | p;
}

// A number that is a 32-bit signed integer (isolated-vm's option type).
function isInt32(v) {
  return typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
}

function readTimeout(options) {
  if (options === undefined || options === null) return undefined;
  const t = options.timeout;
  if (t === undefined || t === null) return undefined;
  if (!isInt32(t)) throw new TypeError('`timeout` must be a 32-bit number');
  // isolated-vm accepts negative values (as no timeout); we refuse them.
  if (t < 0) throw new TypeError('`timeout` must be a non-negative 32-bit number');
  return t;
}

module.exports = {
  isInt32,
  KIND_PRIMITIVE,
  KIND_SERIALIZED,
  KIND_REFERENCE,
  KIND_CALLBACK,
  KIND_DEREF,
  KIND_HOST_REF,
  KIND_EXTERNAL_COPY,
  KIND_COPY_INTO,
  KIND_PROMISE,
  KIND_LIBRARY,
  KIND_ISOLATE,
  KIND_CONTEXT,
  KIND_SCRIPT,
  KIND_MODULE,
  KIND_ERROR_CAUSE,
  hasCause,
  MODE_DEFAULT,
  MODE_COPY,
  MODE_EXTERNAL_COPY,
  MODE_REFERENCE,
  MODE_PROMISE,
  MODE_COPY_CALLABLE,
  NON_TRANSFERABLE,
  HANDLE,
  setHandleEncoder,
  isShared,
  serialize,
  deserialize,
  copyLocal,
  isPrimitive,
  transferMode,
  readTimeout,
  optionError,
  boolOption,
};
