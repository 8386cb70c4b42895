'use strict';
// Deep graphs in every direction: a graph deeper than the serializers go is
// a RangeError ("Maximum call stack size exceeded", as in isolated-vm), never
// a crash, and the isolate stays usable; a moderately deep one copies whole.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { withLibrary } = require('./support/isolate');

const TOO_DEEP = 200000;
const nested = (n) => {
  let v = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const depth = (v) => {
  let d = 0;
  while (Array.isArray(v)) {
    v = v[0];
    d++;
  }
  return d;
};
const GUEST_NESTED = (n) => `(() => { let v = 1; for (let i = 0; i < ${n}; i++) v = [v]; return v; })()`;
const tooDeep = (e) => e instanceof RangeError && e.message === 'Maximum call stack size exceeded';

test('too deep a graph is a RangeError in every direction; the isolate stays usable', { timeout: 60000 }, async (t) => {
  const { isolate, context } = withLibrary(t);
  const deep = nested(TOO_DEEP);
  assert.throws(() => context.global.setSync('x', deep, { copy: true }), tooDeep, 'Node -> guest');
  assert.throws(() => new ivm.ExternalCopy(deep), tooDeep, 'ExternalCopy in Node');
  assert.throws(() => context.evalSync(GUEST_NESTED(TOO_DEEP), { copy: true }), tooDeep, 'guest -> Node');
  await assert.rejects(context.eval(GUEST_NESTED(TOO_DEEP), { copy: true }), tooDeep, 'guest -> Node, async');
  assert.throws(() => context.evalSync(GUEST_NESTED(TOO_DEEP), { externalCopy: true }), tooDeep, 'ExternalCopy of a guest value');
  const inGuest = (code) => context.evalSync(`(() => { try { ${code}; return 'ok'; } catch (e) { return e.name + ': ' + e.message; } })()`);
  const refused = 'RangeError: Maximum call stack size exceeded';
  assert.equal(inGuest(`new ivm.ExternalCopy(${GUEST_NESTED(TOO_DEEP)})`), refused, 'ExternalCopy in a guest');
  assert.equal(
    inGuest(`const i = new ivm.Isolate(); i.createContextSync().global.setSync('y', ${GUEST_NESTED(TOO_DEEP)}, { copy: true })`),
    refused,
    'guest -> guest',
  );
  const seen = [];
  context.global.setSync('hostFn', new ivm.Callback((v) => seen.push(v)));
  assert.equal(inGuest(`hostFn(${GUEST_NESTED(TOO_DEEP)})`), refused, 'Callback argument');
  assert.equal(seen.length, 0);
  assert.equal(context.evalSync('1 + 1'), 2);
  assert.equal(isolate.isDisposed, false);
});

test('a graph 1,000 deep copies whole in every direction', { timeout: 60000 }, (t) => {
  const { context } = withLibrary(t);
  context.global.setSync('x', nested(1000), { copy: true });
  assert.equal(context.evalSync('(() => { let d = 0, v = x; while (Array.isArray(v)) { v = v[0]; d++; } return d; })()'), 1000);
  assert.equal(depth(context.evalSync(GUEST_NESTED(1000), { copy: true })), 1000);
  assert.equal(depth(context.evalSync(GUEST_NESTED(1000), { externalCopy: true }).copy()), 1000);
  assert.equal(depth(new ivm.ExternalCopy(nested(1000)).copy()), 1000);
  const seen = [];
  context.global.setSync('hostFn', new ivm.Callback((v) => seen.push(depth(v))));
  context.evalSync(`hostFn(${GUEST_NESTED(1000)})`);
  assert.deepEqual(seen, [1000]);
});
