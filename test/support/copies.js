'use strict';
// Shared by the tests of the plain-data fast paths of `{copy: true}`: every
// copy is made twice, with the fast paths off (the structured clone's
// result) and on, and the two results must be the same in every observable
// way (prototypes, own keys and their order, descriptors, -0, shared
// objects), or fail with the same error.
const assert = require('node:assert/strict');
const native = require('../../lib/native');
const { setup } = require('./isolate');

// Compares two values; '' when they are the same, else where they differ.
// Also evaluated inside isolates.
const SAME = `(function same(a, b) {
  const seen = new Map();
  const seenB = new Set();
  const show = (v) => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'symbol' ? v.toString() : String(v));
  function cmp(a, b, path) {
    if (typeof a !== typeof b) return path + ': typeof ' + typeof a + ' vs ' + typeof b;
    if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b) ? '' : path + ': ' + show(a) + ' vs ' + show(b);
    if (seen.has(a)) return seen.get(a) === b ? '' : path + ': sharing differs';
    if (seenB.has(b)) return path + ': sharing differs';
    seen.set(a, b);
    seenB.add(b);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return path + ': prototype differs';
    if (Object.prototype.toString.call(a) !== Object.prototype.toString.call(b)) return path + ': class differs';
    if (Array.isArray(a) !== Array.isArray(b)) return path + ': array vs not';
    if (Array.isArray(a) && a.length !== b.length) return path + ': length ' + a.length + ' vs ' + b.length;
    const ka = Reflect.ownKeys(a);
    const kb = Reflect.ownKeys(b);
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return path + ': keys ' + ka.map(show).join() + ' vs ' + kb.map(show).join();
    for (const k of ka) {
      const da = Object.getOwnPropertyDescriptor(a, k);
      const db = Object.getOwnPropertyDescriptor(b, k);
      for (const f of ['enumerable', 'writable', 'configurable', 'get', 'set']) {
        if (da[f] !== db[f]) return path + '.' + show(k) + ': ' + f + ' differs';
      }
      const r = cmp(da.value, db.value, path + '.' + show(k));
      if (r) return r;
    }
    return '';
  }
  return cmp(a, b, '$');
})`;
// eslint-disable-next-line no-eval
const same = (0, eval)(SAME);

// Runs `fn` with the fast paths off, then on: both outcomes, and how many
// copies took a fast path the second time (`taken`), how many of those
// were made from the packed form (`packed`), and how many clones Node's
// thread packed (`prepacked`).
function both(fn) {
  const run = () => {
    try {
      return { value: fn() };
    } catch (e) {
      return { error: e };
    }
  };
  native.plainCopy(false);
  let ref;
  try {
    ref = run();
  } finally {
    native.plainCopy(true);
  }
  const before = native.plainCopy();
  const beforePacked = native.packedCopy();
  const beforePrepacked = native.prepackedCopy();
  const got = run();
  return {
    ref,
    got,
    taken: native.plainCopy() - before,
    packed: native.packedCopy() - beforePacked,
    prepacked: native.prepackedCopy() - beforePrepacked,
  };
}

function sameError(ref, got) {
  assert.ok(got.error, `expected an error like ${ref.error && ref.error.message}`);
  assert.equal(got.error.constructor, ref.error.constructor);
  assert.equal(got.error.message, ref.error.message);
}

// Node -> guest: the copies land in `ref` and `got` in the guest and are
// compared there.
function intoGuest(t, make, setupGuest = '') {
  const { context, global } = setup(t);
  context.evalSync(`globalThis.same = ${SAME}; ${setupGuest}`);
  let n = 0;
  const r = both(() => global.setSync(n++ === 0 ? 'ref' : 'got', make(), { copy: true }));
  if (r.ref.error) {
    sameError(r.ref, r.got);
  } else {
    assert.equal(r.got.error, undefined, r.got.error && r.got.error.message);
    assert.equal(context.evalSync('same(ref, got)'), '');
  }
  return { ...r, context };
}

// Guest -> Node: `expr` is evaluated afresh for each copy.
function fromGuest(t, expr, setupGuest = '') {
  const { context } = setup(t);
  if (setupGuest) context.evalSync(setupGuest);
  const r = both(() => context.evalSync(expr, { copy: true }));
  if (r.ref.error) {
    sameError(r.ref, r.got);
  } else {
    assert.equal(r.got.error, undefined, r.got.error && r.got.error.message);
    assert.equal(same(r.ref.value, r.got.value), '');
  }
  return r;
}

module.exports = { SAME, same, both, sameError, intoGuest, fromGuest };
