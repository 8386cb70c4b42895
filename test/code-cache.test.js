'use strict';
const test = require('node:test');
const assert = require('node:assert');
const ivm = require('../lib');
const { setup } = require('./support/isolate');

const SOURCE = `
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
const table = [];
for (let i = 0; i < 10; i++) table.push(fib(i));
table.join(',');
`;

test('produceCachedData gives an ExternalCopy of an ArrayBuffer', (t) => {
  const { isolate, context } = setup(t);
  const script = isolate.compileScriptSync(SOURCE, { produceCachedData: true });
  assert.ok(script.cachedData instanceof ivm.ExternalCopy);
  assert.ok(script.cachedData.copy() instanceof ArrayBuffer);
  assert.ok(script.cachedData.copy().byteLength > 0);
  assert.strictEqual('cachedDataRejected' in script, false);
  assert.strictEqual(script.runSync(context), '0,1,1,2,3,5,8,13,21,34');
  const plain = isolate.compileScriptSync(SOURCE);
  assert.strictEqual('cachedData' in plain, false);
  assert.ok(Object.isFrozen(script));
});

test('cached data is accepted by another isolate for the same source', async (t) => {
  const { isolate } = setup(t);
  const first = await isolate.compileScript(SOURCE, { produceCachedData: true, filename: 'fib.js' });
  const other = setup(t);
  const script = await other.isolate.compileScript(SOURCE, { cachedData: first.cachedData, filename: 'fib.js' });
  assert.strictEqual(script.cachedDataRejected, false);
  assert.strictEqual('cachedData' in script, false);
  assert.strictEqual(script.runSync(other.context), '0,1,1,2,3,5,8,13,21,34');
  // Supplied and produced: new data only when the supplied data is rejected.
  const both = other.isolate.compileScriptSync(SOURCE, { cachedData: first.cachedData, produceCachedData: true });
  assert.strictEqual(both.cachedDataRejected, false);
  assert.strictEqual('cachedData' in both, false);
});

test('cached data from a different source is rejected and the code still runs', (t) => {
  const { isolate, context } = setup(t);
  const a = isolate.compileScriptSync('1 + 1', { produceCachedData: true });
  // Same length: V8 alone would accept it (and run "1 + 1").
  const b = isolate.compileScriptSync('2 + 2', { cachedData: a.cachedData, produceCachedData: true });
  assert.strictEqual(b.cachedDataRejected, true);
  assert.strictEqual(b.runSync(context), 4);
  assert.ok(b.cachedData instanceof ivm.ExternalCopy);
  const c = isolate.compileScriptSync('"a different, longer source"', { cachedData: a.cachedData });
  assert.strictEqual(c.cachedDataRejected, true);
  assert.strictEqual(c.runSync(context), 'a different, longer source');
  const garbage = new ivm.ExternalCopy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]).buffer);
  const d = isolate.compileScriptSync('3 + 3', { cachedData: garbage });
  assert.strictEqual(d.cachedDataRejected, true);
  assert.strictEqual(d.runSync(context), 6);
});

test('cachedData must be an ExternalCopy to ArrayBuffer', (t) => {
  const { isolate } = setup(t);
  const message = '`cachedData` must be an ExternalCopy to ArrayBuffer';
  for (const bad of [new ArrayBuffer(8), Buffer.alloc(8), new ivm.ExternalCopy('text'), new ivm.ExternalCopy({ a: 1 })]) {
    assert.throws(() => isolate.compileScriptSync('1', { cachedData: bad }), { name: 'TypeError', message });
    assert.throws(() => isolate.compileModuleSync('1', { cachedData: bad }), { name: 'TypeError', message });
  }
  // Not an object at all: isolated-vm's message for that.
  assert.throws(() => isolate.compileScriptSync('1', { cachedData: 1 }), { name: 'TypeError', message: '`cachedData` must be an object' });
  return assert.rejects(isolate.compileScript('1', { cachedData: {} }), { name: 'TypeError', message });
});

test('modules produce and consume cached data', async (t) => {
  const { isolate, context } = setup(t);
  const code = 'export const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2); export default fib(12);';
  const first = await isolate.compileModule(code, { produceCachedData: true });
  assert.ok(first.cachedData instanceof ivm.ExternalCopy);
  const second = isolate.compileModuleSync(code, { cachedData: first.cachedData });
  assert.strictEqual(second.cachedDataRejected, false);
  second.instantiateSync(context, () => null);
  second.evaluateSync();
  assert.strictEqual(second.namespace.getSync('default'), 144);
  const other = isolate.compileModuleSync(code.replace('12', '11'), { cachedData: first.cachedData });
  assert.strictEqual(other.cachedDataRejected, true);
  other.instantiateSync(context, () => null);
  other.evaluateSync();
  assert.strictEqual(other.namespace.getSync('default'), 89);
  // Script data is not module data (V8 refuses it: same text, other kind).
  const text = 'globalThis.x = 1;';
  const script = isolate.compileScriptSync(text, { produceCachedData: true });
  const m = isolate.compileModuleSync(text, { cachedData: script.cachedData });
  assert.strictEqual(m.cachedDataRejected, true);
});

test('a released ExternalCopy cannot be used as cached data', (t) => {
  const { isolate } = setup(t);
  const s = isolate.compileScriptSync('1', { produceCachedData: true });
  const copy = new ivm.ExternalCopy(s.cachedData.copy());
  copy.release();
  assert.throws(() => isolate.compileScriptSync('1', { cachedData: copy }), { message: 'Copy has been released' });
});

test('Context.eval checks cachedData but does not use it', (t) => {
  const { context } = setup(t);
  assert.throws(() => context.evalSync('1', { cachedData: new ArrayBuffer(4) }), {
    name: 'TypeError',
    message: '`cachedData` must be an ExternalCopy to ArrayBuffer',
  });
  const data = new ivm.ExternalCopy(new ArrayBuffer(16));
  assert.strictEqual(context.evalSync('1 + 2', { cachedData: data, produceCachedData: true }), 3);
});

test('examples/code-cache.js runs: the cache is accepted, foreign data rejected', { timeout: 30000 }, () => {
  const { spawnSync } = require('child_process');
  const path = require('path');
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'code-cache.js')], { encoding: 'utf8', timeout: 25000 });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /cached compile .* rejected: false, result 9003/);
  assert.match(r.stdout, /other source: rejected true, result 42/);
});
