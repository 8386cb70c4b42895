'use strict';
// The `promise` transfer option: guest promises become Node promises.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

test('evalSync(code, {promise: true}) returns a Promise of the settled value', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  const p = context.evalSync('Promise.resolve(5)', { promise: true });
  assert.ok(p instanceof Promise);
  assert.equal(await p, 5);
  // A non-promise value is wrapped in a resolved promise.
  assert.equal(await context.evalSync('7', { promise: true }), 7);
});

test('a pending guest promise settles later, with the other flags applied', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  const p = context.eval('new Promise((r) => { globalThis.resolveIt = r })', { promise: true, copy: true });
  // Queued after the first call (async calls run in order).
  await context.eval('resolveIt({ a: [1, 2] })');
  assert.deepEqual(await p, { a: [1, 2] });
});

test('a rejected guest promise rejects with the same error class', { timeout: 10000 }, async (t) => {
  const { context } = setup(t);
  await assert.rejects(context.evalSync('Promise.reject(new TypeError("bad"))', { promise: true }), {
    name: 'TypeError',
    message: 'bad',
  });
  await assert.rejects(context.eval('(async () => { throw new RangeError("r") })()', { promise: true }), RangeError);
});

test('apply with {result: {promise: true}} awaits an async guest function', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.triple = async (x) => x * 3');
  const fn = global.getSync('triple', { reference: true });
  assert.equal(await fn.apply(undefined, [5], { result: { promise: true } }), 15);
  assert.equal(await fn.applySync(undefined, [6], { result: { promise: true } }), 18);
});

test('a promise whose isolate is disposed rejects with "Promise was abandoned"', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  const p = context.evalSync('new Promise(() => {})', { promise: true });
  isolate.dispose();
  await assert.rejects(p, { message: 'Promise was abandoned' });
});

test('Node promises sent with {promise: true} arrive as guest promises', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  let resolveLater;
  global.setSync('p', new Promise((r) => { resolveLater = r; }), { promise: true, copy: true });
  const settled = context.eval('p.then((v) => v.n * 2)', { promise: true });
  resolveLater({ n: 21 });
  assert.equal(await settled, 42);
  // A plain value is wrapped in a resolved promise; arguments take the option too.
  const fn = await context.eval('(async (a, b) => (await a) + (await b))', { reference: true });
  assert.equal(await fn.apply(undefined, [Promise.resolve(1), 2], { arguments: { promise: true }, result: { promise: true } }), 3);
  // Rejections keep their class; a value that cannot be transferred rejects.
  global.setSync('bad', Promise.reject(new RangeError('no')), { promise: true });
  assert.equal(await context.eval('bad.catch((e) => e.name + ":" + e.message)', { promise: true }), 'RangeError:no');
  global.setSync('obj', Promise.resolve({ a: 1 }), { promise: true });
  assert.equal(await context.eval('obj.catch((e) => e.message)', { promise: true }), 'A non-transferable value was passed');
  // Without the option a promise is not transferable.
  assert.throws(() => global.setSync('plain', Promise.resolve(1)), { message: 'A non-transferable value was passed' });
});

test('a Node promise pending when the isolate is disposed is dropped safely', { timeout: 10000 }, async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  let resolveLater;
  context.global.setSync('p', new Promise((r) => { resolveLater = r; }), { promise: true });
  isolate.dispose();
  resolveLater(1);
  await new Promise(setImmediate);
});

test('guests send promises with {promise: true} to other isolates and get promised results', { timeout: 20000 }, async (t) => {
  const { context, global } = setup(t);
  global.setSync('ivm', ivm);
  // A guest passes its own pending promise to a function in a nested isolate.
  const r = await context.eval(`
    (async () => {
      const inner = new ivm.Isolate();
      const ctx = await inner.createContext();
      const fn = await ctx.eval('(async (p) => (await p).n * 2)', { reference: true });
      let resolveIt;
      const p = new Promise((r) => { resolveIt = r; });
      const result = fn.apply(undefined, [p], { arguments: { promise: true, copy: true }, result: { promise: true } });
      resolveIt({ n: 21 });
      const v = await result;
      inner.dispose();
      return v;
    })()
  `, { promise: true });
  assert.equal(r, 42);
  // Results with {promise: true} between isolates: values, rejections, compile errors.
  const r2 = await context.eval(`
    (async () => {
      const inner = new ivm.Isolate();
      const ctx = await inner.createContext();
      const out = [await ctx.eval('Promise.resolve(5)', { promise: true })];
      try { await ctx.eval('Promise.reject(new RangeError("no"))', { promise: true }); } catch (e) { out.push(e.name + ':' + e.message); }
      try { await ctx.eval('(', { promise: true }); } catch (e) { out.push(e.name); }
      const pending = ctx.eval('new Promise(() => {})', { promise: true });
      inner.dispose();
      try { await pending; } catch (e) { out.push(e.message); }
      return out.join();
    })()
  `, { promise: true });
  assert.match(r2, /^5,RangeError:no,SyntaxError,.*(abandoned|disposed)/);
});
