'use strict';
// Errors with a `cause` copied from Node into guests. Node's V8 writes an
// error's cause before its stack and ours reads it after, so these travel
// apart and are joined on arrival (lib/index.js errorCauseParts).
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const { setup } = require('./support/isolate');

const DESCRIBE = `[e instanceof Error, e.constructor.name, e.message, typeof e.cause === 'object' ? JSON.stringify(e.cause) : String(e.cause),
  Object.keys(e).length, Object.getOwnPropertyDescriptor(e, 'cause').enumerable, e.stack.split('\\n')[0]]`;

test('an Error with a cause crosses into a guest with its class, message, stack and cause', (t) => {
  const { context, global } = setup(t);
  const cases = [
    [new Error('m', { cause: 5 }), [true, 'Error', 'm', '5', 0, false, 'Error: m']],
    [new RangeError('r', { cause: { a: 1 } }), [true, 'RangeError', 'r', '{"a":1}', 0, false, 'RangeError: r']],
    [new TypeError('t', { cause: undefined }), [true, 'TypeError', 't', 'undefined', 0, false, 'TypeError: t']],
  ];
  for (const [err, expected] of cases) {
    global.setSync('e', err, { copy: true });
    assert.deepEqual(context.evalSync(DESCRIBE, { copy: true }), expected);
  }
  const withStack = new Error('s', { cause: 1 });
  global.setSync('e', withStack, { copy: true });
  assert.equal(context.evalSync('e.stack'), withStack.stack);
});

test('errors with causes nested in values, in causes, in cycles, and in ExternalCopies', (t) => {
  const { context, global } = setup(t);
  global.setSync('n', { list: [new TypeError('t', { cause: new Error('inner', { cause: 'deep' }) })] }, { copy: true });
  assert.deepEqual(context.evalSync('[n.list[0].message, n.list[0].cause.message, n.list[0].cause.cause]', { copy: true }), ['t', 'inner', 'deep']);
  // An error that is its own cause arrives (its copy's cause is the error
  // without a cause) instead of failing.
  const cyc = new Error('cyc');
  cyc.cause = cyc;
  global.setSync('c', cyc, { copy: true });
  assert.deepEqual(context.evalSync('[c.message, c.cause instanceof Error, c.cause.message]', { copy: true }), ['cyc', true, 'cyc']);
  const ec = new ivm.ExternalCopy(new Error('x', { cause: [1, 2] }));
  assert.deepEqual(ec.copy().cause, [1, 2]);
  global.setSync('ec', ec);
  assert.deepEqual(context.evalSync('const x = ec.copy(); [x.message, x.cause]', { copy: true }), ['x', [1, 2]]);
  assert.deepEqual(context.evalSync('const y = ec.copy(); [y.message, y.cause]', { copy: true }), ['x', [1, 2]]);
});

test('errors with causes as Callback arguments and results', (t) => {
  const { context, global } = setup(t);
  global.setSync('make', new ivm.Callback(() => new SyntaxError('bad', { cause: { code: 7 } })));
  assert.deepEqual(context.evalSync('const r = make(); [r.constructor.name, r.message, r.cause.code]', { copy: true }), ['SyntaxError', 'bad', 7]);
  const back = context.evalSync('new Error("g", { cause: { k: 1 } })', { copy: true });
  assert.equal(back.message, 'g');
  assert.deepEqual(back.cause, { k: 1 });
});
