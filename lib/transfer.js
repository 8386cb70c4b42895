'use strict';
// How values leave Node: each value becomes a (kind, payload) pair that the
// native layer decodes. Structured clones use Node's own ValueSerializer; our
// V8 reads its (older) format. Clones coming back are written by our V8
// (format 16); only buffer lengths above 4 GiB differ from Node's format, so
// they are relabelled with Node's version before Node reads them.
const v8 = require('v8');

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

// Transfer mode codes shared with native code.
const MODE_DEFAULT = 0;
const MODE_COPY = 1;
const MODE_EXTERNAL_COPY = 2;
const MODE_REFERENCE = 3;
// A flag added to the above: `{promise: true}`.
const MODE_PROMISE = 4;

const NODE_FORMAT = v8.serialize(0)[1];
const NON_TRANSFERABLE = 'A non-transferable value was passed';

function serialize(value) {
  const s = new v8.Serializer();
  s.writeHeader();
  try {
    s.writeValue(value);
  } catch (e) {
    throw new TypeError(e && e.message ? e.message : String(e));
  }
  return s.releaseBuffer();
}

function deserialize(buf) {
  if (buf[1] > NODE_FORMAT) buf[1] = NODE_FORMAT;
  const d = new v8.Deserializer(buf);
  d.readHeader();
  return d.readValue();
}

function isPrimitive(value) {
  const t = typeof value;
  return value === null || (t !== 'object' && t !== 'function' && t !== 'symbol');
}

function optionError(name, what) {
  return new TypeError(`\`${name}\` must be ${what}`);
}

// Reads {copy, externalCopy, reference} (and validates `promise`).
function transferMode(options, name = 'options') {
  if (options === undefined || options === null) return MODE_DEFAULT;
  if (typeof options !== 'object') throw optionError(name, 'an object');
  const { copy, externalCopy, reference, promise } = options;
  const n = (copy ? 1 : 0) + (externalCopy ? 1 : 0) + (reference ? 1 : 0);
  if (n > 1) throw new TypeError('Only one of `copy`, `externalCopy`, or `reference` may be set');
  const p = promise ? MODE_PROMISE : 0;
  if (copy) return MODE_COPY | p;
  if (externalCopy) return MODE_EXTERNAL_COPY | p;
  if (reference) return MODE_REFERENCE | p;
  return MODE_DEFAULT | p;
}

function readTimeout(options) {
  if (options === undefined || options === null) return undefined;
  const t = options.timeout;
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0 || t > 0x7fffffff) {
    throw new TypeError('`timeout` must be a non-negative 32-bit number of milliseconds');
  }
  return t;
}

module.exports = {
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
  MODE_DEFAULT,
  MODE_COPY,
  MODE_EXTERNAL_COPY,
  MODE_REFERENCE,
  MODE_PROMISE,
  NON_TRANSFERABLE,
  serialize,
  deserialize,
  isPrimitive,
  transferMode,
  readTimeout,
  optionError,
};
