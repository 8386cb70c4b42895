'use strict';
// Transfer-model behaviour found different from isolated-vm 5.0.4 by the
// differential run (scripts/conformance/run.js), each checked against it.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const NON_TRANSFERABLE = { name: 'TypeError', message: 'A non-transferable value was passed' };

test('a Node SharedArrayBuffer sent to a guest in an ExternalCopy arrives as a SharedArrayBuffer (it aborted the process)', () => {
  // Run in a child: before the fix V8 failed a fatal check.
  const code = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    const iso = new ivm.Isolate(); const ctx = iso.createContextSync();
    const sab = new SharedArrayBuffer(4); new Uint8Array(sab)[1] = 7;
    ctx.global.setSync('y', new ivm.ExternalCopy(sab).copyInto());
    ctx.global.setSync('z', new ivm.ExternalCopy(new Int16Array(sab, 2, 1)));
    process.stdout.write(ctx.evalSync('Object.prototype.toString.call(y) + new Uint8Array(y)[1] + " " + z.copy().constructor.name'));
    iso.dispose();`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '[object SharedArrayBuffer]7 Int16Array');
});

test('{reference: true} gives a Reference for primitives too', (t) => {
  const { context, global } = setup(t);
  global.setSync('r', 5, { reference: true });
  assert.equal(context.evalSync('r.typeof + ":" + r.copySync()'), 'number:5');
  const f = context.evalSync('(a) => a.typeof', { reference: true });
  assert.equal(f.applySync(undefined, ['s'], { arguments: { reference: true } }), 'string');
  assert.equal(context.evalClosureSync('return $0.typeof', [null], { arguments: { reference: true } }), 'null');
});

test('{promise: true} on a value that is not a promise transfers it at once', async (t) => {
  const { context, global } = setup(t);
  // Refused now, not in a rejected promise later.
  assert.throws(() => global.setSync('p', { a: 1 }, { promise: true }), NON_TRANSFERABLE);
  assert.throws(() => global.setSync('p', () => 1, { promise: true, copy: true }), /could not be cloned/);
  const f = context.evalSync('(a) => 1', { reference: true });
  assert.throws(() => f.applySync(undefined, [{}], { arguments: { promise: true } }), NON_TRANSFERABLE);
  global.setSync('p', 5, { promise: true });
  assert.equal(context.evalSync('Object.prototype.toString.call(p)'), '[object Promise]');
  assert.equal(await context.eval('p', { promise: true }), 5);
  // A guest reading a Node value with {promise, copy}: a function fails now.
  global.setSync('n', new ivm.Reference({ f() {} }));
  assert.throws(() => context.evalSync('n.getSync("f", { promise: true, copy: true })'), { name: 'TypeError', message: /could not be cloned/ });
});

test('promised results that cannot be transferred: a Reference from get/apply, a rejection from eval/evalClosure', async (t) => {
  const { context, global } = setup(t);
  context.evalSync('globalThis.x = { a: 1 }');
  const got = await global.getSync('x', { promise: true });
  assert.ok(got instanceof ivm.Reference);
  assert.equal(got.typeof, 'object');
  const f = context.evalSync('() => ({})', { reference: true });
  assert.ok((await f.applySync(undefined, [], { result: { promise: true } })) instanceof ivm.Reference);
  await assert.rejects(context.evalSync('({})', { promise: true }), NON_TRANSFERABLE);
  await assert.rejects(context.evalSync('Promise.resolve(new Date())', { promise: true }), NON_TRANSFERABLE);
  await assert.rejects(context.evalClosureSync('return {}', [], { result: { promise: true } }), NON_TRANSFERABLE);
  await assert.rejects(context.eval('Promise.resolve([1])', { promise: true }), NON_TRANSFERABLE);
  // Transferable values still pass.
  assert.equal(await context.evalSync('Promise.resolve(3)', { promise: true }), 3);
});

test('guest functions arriving in Node are not constructors and have no prototype', (t) => {
  const { context, global } = setup(t);
  const f = context.evalSync('(function f(a, b) { return a + b })');
  assert.equal(f(1, 2), 3);
  assert.equal(f.name, 'f');
  assert.equal(f.length, 2);
  assert.equal(Object.hasOwn(f, 'prototype'), false);
  assert.throws(() => new f(), TypeError);
  let seen;
  global.setSync('n', new ivm.Reference((g) => { seen = g; }));
  context.evalSync('n.applySync(undefined, [function g(x) { return x }])');
  assert.equal(Object.hasOwn(seen, 'prototype'), false);
  assert.equal(seen(4), 4);
});

test('guest functions arriving in another guest are not constructors either', (t) => {
  const { context } = withLibrary(t);
  assert.equal(context.evalSync(`
    const i = new ivm.Isolate(); const c = i.createContextSync();
    const f = c.evalSync('(function f(a) { return a * 2 })');
    let constructible = true;
    try { new f(1) } catch (e) { constructible = false }
    const r = [f(2), Object.hasOwn(f, 'prototype'), constructible].join();
    i.dispose();
    r`), '4,false,false');
});

test('Symbols: top-level copies say "Unsupported type", Callback arguments the clone message', (t) => {
  const { context, global } = setup(t);
  assert.throws(() => new ivm.Reference(Symbol('q')).copySync(), { name: 'TypeError', message: 'Unsupported type' });
  global.setSync('n', new ivm.Reference({ s: Symbol('q') }));
  assert.throws(() => context.evalSync('n.getSync("s", { copy: true })'), { name: 'TypeError', message: 'Unsupported type' });
  global.setSync('cb', new ivm.Callback(() => Symbol('r')));
  assert.throws(() => context.evalSync('cb()'), { name: 'TypeError', message: 'Unsupported type' });
  global.setSync('cb2', new ivm.Callback(() => 1));
  assert.throws(() => context.evalSync('cb2(Symbol("q"))'), { name: 'TypeError', message: 'Symbol(q) could not be cloned.' });
  global.setSync('pf', () => 1);
  assert.throws(() => context.evalSync('pf(Symbol("q"))'), { name: 'TypeError', message: 'Symbol(q) could not be cloned.' });
});

test('functions returned by Node functions that guests call are callable in the guest', (t) => {
  const { context, global } = setup(t);
  global.setSync('cb', new ivm.Callback(() => (x) => x * 3));
  assert.equal(context.evalSync('const g = cb(); typeof g + g(2)'), 'function6');
  global.setSync('pf', () => function named() { return 'n'; });
  assert.equal(context.evalSync('pf()()'), 'n');
});

test('a Node function that throws a non-Error object: the guest gets isolated-vm\'s Error', (t) => {
  const { context, global } = setup(t);
  const message = 'An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.';
  global.setSync('cb', new ivm.Callback(() => { throw { a: 1 }; }));
  assert.equal(context.evalSync('try { cb() } catch (e) { (e instanceof Error) + e.message }'), 'true' + message);
  global.setSync('n', new ivm.Reference(() => { throw [1]; }));
  assert.equal(context.evalSync('try { n.applySync() } catch (e) { e.constructor.name + e.message }'), 'Error' + message);
  // Primitives still pass as themselves.
  global.setSync('p', new ivm.Callback(() => { throw 'str'; }));
  assert.equal(context.evalSync('try { p() } catch (e) { e }'), 'str');
});

test("a Node function's error stack shows no frames of the library between the host function and its caller", (t) => {
  const { context, global } = setup(t);
  global.setSync('cb', new ivm.Callback(function hostFn() { throw new Error('boom'); }));
  global.setSync('n', new ivm.Reference(function hostFn2() { throw new Error('boom'); }));
  for (const call of ['cb()', 'n.applySync()']) {
    const stack = context.evalSync(`try { ${call} } catch (e) { e.stack }`);
    const lines = stack.split('\n');
    assert.match(lines[1], /at hostFn2? /);
    assert.doesNotMatch(stack, /lib[\\/]index\.js/);
    assert.match(stack, /at \(<isolated-vm boundary>\)/);
  }
});

test('applySyncPromise results follow the default transfer rules', async (t) => {
  const { context, global } = setup(t);
  global.setSync('obj', new ivm.Reference(async () => ({ a: 1 })));
  global.setSync('fn', new ivm.Reference(async () => (x) => x + 1));
  global.setSync('num', new ivm.Reference(async () => 5));
  const run = (code) => context.eval(`(async () => { try { return ${code} } catch (e) { return e.name + ': ' + e.message } })()`, { promise: true });
  assert.equal(await run('obj.applySyncPromise(undefined, [])'), 'TypeError: A non-transferable value was passed');
  assert.equal(await run('fn.applySyncPromise(undefined, [])(1)'), 2);
  assert.equal(await run('num.applySyncPromise(undefined, [])'), 5);
});

test('library constructors called without new, or without arguments, give isolated-vm\'s messages', () => {
  for (const name of ['Reference', 'ExternalCopy', 'Callback']) {
    assert.throws(() => ivm[name](() => 1), { name: 'TypeError', message: `\`${name}\` must be called with \`new\`` });
  }
  assert.throws(() => new ivm.Reference(), { name: 'TypeError', message: '`Reference` requires at least 1 parameter' });
  assert.throws(() => new ivm.ExternalCopy(), { name: 'TypeError', message: '`ExternalCopy` requires at least 1 parameter' });
  // Still the classes users see.
  const r = new ivm.Reference(1);
  assert.ok(r instanceof ivm.Reference);
  assert.equal(r.constructor, ivm.Reference);
  assert.equal(ivm.ExternalCopy.name, 'ExternalCopy');
  assert.equal(typeof ivm.ExternalCopy.totalExternalSize, 'number');
  assert.ok(new ivm.Callback(() => 1) instanceof ivm.Callback);
  class Sub extends ivm.Reference {}
  assert.equal(new Sub({}).typeof, 'object');
});

test('set without a value is a TypeError', (t) => {
  const { global } = setup(t);
  assert.throws(() => global.setSync('a'), { name: 'TypeError', message: /requires at least 2 parameters/ });
  assert.throws(() => global.setIgnored('a'), { name: 'TypeError', message: /requires at least 2 parameters/ });
  assert.equal(global.setSync('a', undefined), undefined);
});

test('boolean options must be booleans (or absent)', (t) => {
  const { context, global } = setup(t);
  const bad = (f, name) => assert.throws(f, { name: 'TypeError', message: `\`${name}\` must be a boolean` });
  bad(() => context.evalSync('1', { copy: 'yes' }), 'copy');
  bad(() => context.evalSync('1', { externalCopy: 1 }), 'externalCopy');
  bad(() => context.evalSync('1', { reference: 0 }), 'reference');
  bad(() => context.evalSync('1', { promise: 'x' }), 'promise');
  bad(() => context.evalClosureSync('return 1', [], { arguments: { copy: 'x' } }), 'copy');
  bad(() => global.getSync('Object', { accessors: 1 }), 'accessors');
  bad(() => new ivm.Reference(1).deref({ release: 'x' }), 'release');
  bad(() => new ivm.Reference(1, { unsafeInherit: 'x' }), 'unsafeInherit');
  bad(() => new ivm.ExternalCopy(1).copy({ transferIn: 'x' }), 'transferIn');
  bad(() => new ivm.ExternalCopy(1, { transferOut: 'x' }), 'transferOut');
  bad(() => new ivm.Callback(() => 1, { async: 'x' }), 'async');
  assert.equal(context.evalSync('1', { copy: null, promise: undefined }), 1);
  assert.deepEqual(context.evalSync('({a: 1})', { copy: true, promise: false }), { a: 1 });
});

test('ExternalCopy of a library handle copies the handle (a Callback arrives as a function)', (t) => {
  const { context, global } = setup(t);
  assert.equal(new ivm.ExternalCopy(new ivm.Reference(5)).copy().typeof, 'number');
  global.setSync('y', new ivm.ExternalCopy(new ivm.Callback((a) => a + 1)).copyInto());
  assert.equal(context.evalSync('typeof y + y(1)'), 'function2');
  assert.throws(() => new ivm.ExternalCopy(function f() {}), { name: 'TypeError', message: 'function f() {} could not be cloned.' });
});

test("derefInto() of a Node value fails when sent into an isolate, and gives the value to Node's own References", (t) => {
  const { global } = setup(t);
  const obj = { a: 1 };
  const d = new ivm.Reference(obj).derefInto();
  assert.throws(() => global.setSync('y', d), { name: 'TypeError', message: 'Cannot dereference this into target isolate' });
  const same = new ivm.Reference((x) => x === obj).applySync(undefined, [new ivm.Reference(obj).derefInto()]);
  assert.equal(same, true);
});

test('a guest function called from Node (or another guest) returns functions as functions', (t) => {
  const { context } = withLibrary(t);
  const f = context.evalSync('(function f() { return (a) => a + 1 })');
  const g = f();
  assert.equal(typeof g, 'function');
  assert.equal(g(1), 2);
  // Other results are still copies; function arguments still cannot be cloned.
  assert.deepEqual(context.evalSync('(function () { return { a: [1] } })')(), { a: [1] });
  assert.throws(() => context.evalSync('(function (x) { return 1 })')(() => 1), { name: 'TypeError', message: /could not be cloned/ });
  // A Callback made by the guest, called from Node.
  const cb = context.evalSync('new ivm.Callback(function gcb() { return function inner() { return 5 } })');
  assert.equal(cb()(), 5);
  assert.equal(context.evalSync(`
    const i = new ivm.Isolate(); const c = i.createContextSync();
    const r = c.evalSync('(function () { return (x) => x * 2 })')()(4);
    i.dispose();
    r`), 8);
});

test('a guest Reference to a Node value checks keys like other References', (t) => {
  const { context, global } = setup(t);
  global.setSync('n', new ivm.Reference({}));
  for (const call of ['n.getSync(Symbol())', 'n.setSync({}, 1)', 'n.deleteSync(1.5)']) {
    assert.throws(() => context.evalSync(call), { name: 'TypeError', message: 'Invalid `key`' }, call);
  }
});

test("a guest's derefInto() result sent to Node is refused", (t) => {
  const { context } = withLibrary(t);
  assert.throws(() => context.evalSync('new ivm.Reference({}).derefInto()'), { name: 'TypeError', message: 'Cannot dereference this into target isolate' });
});

test('ExternalCopy: a detached ArrayBuffer copies as an empty one; guest instances are frozen', (t) => {
  const ab = new ArrayBuffer(4);
  structuredClone(ab, { transfer: [ab] });
  const c = new ivm.ExternalCopy(ab).copy();
  assert.ok(c instanceof ArrayBuffer);
  assert.equal(c.byteLength, 0);
  const { context, global } = withLibrary(t);
  global.setSync('x', new ivm.ExternalCopy(5));
  assert.equal(context.evalSync('Object.isFrozen(x) && Object.isFrozen(new ivm.ExternalCopy({ a: 1 }))'), true);
});

test('SharedArrayBuffers in copies: guests share the memory, Node gets SharedArrayBuffers', (t) => {
  const { context, global } = withLibrary(t);
  // Node -> guest, nested and at the top: SharedArrayBuffers, identity kept.
  const sab = new SharedArrayBuffer(4);
  global.setSync('n', { s: sab, t: sab, v: new Int16Array(sab, 2, 1) }, { copy: true });
  assert.equal(context.evalSync('[Object.prototype.toString.call(n.s), n.s === n.t, Object.prototype.toString.call(n.v.buffer)].join()'), '[object SharedArrayBuffer],true,[object SharedArrayBuffer]');
  global.setSync('m', sab, { copy: true });
  assert.equal(context.evalSync('Object.prototype.toString.call(m)'), '[object SharedArrayBuffer]');
  // Guest -> Node at the top level: a SharedArrayBuffer (a copy of the memory).
  const top = context.evalSync('globalThis.g = new SharedArrayBuffer(4); new Uint8Array(g)[0] = 3; g', { copy: true });
  assert.equal(Object.prototype.toString.call(top), '[object SharedArrayBuffer]');
  assert.equal(new Uint8Array(top)[0], 3);
  const view = context.evalSync('new Int16Array(g, 2, 1)', { copy: true });
  assert.equal(Object.prototype.toString.call(view.buffer), '[object SharedArrayBuffer]');
  assert.equal(Object.prototype.toString.call(context.evalSync('g', { reference: true }).copySync()), '[object SharedArrayBuffer]');
  // Guest -> guest: the same memory, both ways.
  assert.equal(context.evalSync(`
    const i = new ivm.Isolate(); const c = i.createContextSync();
    const s = new SharedArrayBuffer(4);
    c.global.setSync('x', { s }, { copy: true });
    c.evalSync('new Uint8Array(x.s)[0] = 7');
    const back = c.evalSync('x', { copy: true });
    new Uint8Array(back.s)[1] = 8;
    const e = new ivm.ExternalCopy({ s });
    new Uint8Array(e.copy().s)[2] = 9;
    i.dispose();
    Array.from(new Uint8Array(s)).join()`), '7,8,9,0');
  // In Node: ExternalCopies and Node's own copies of objects holding one.
  assert.equal(Object.prototype.toString.call(new ivm.ExternalCopy({ s: sab }).copy().s), '[object SharedArrayBuffer]');
  assert.equal(Object.prototype.toString.call(new ivm.Reference({ s: sab }).copySync().s), '[object SharedArrayBuffer]');
  global.setSync('cb', new ivm.Callback((a) => Object.prototype.toString.call(a)));
  assert.equal(context.evalSync('cb(new SharedArrayBuffer(2))'), '[object SharedArrayBuffer]');
});

test('inside guests: boolean options, options objects, arity and `new` are checked as in Node', (t) => {
  const { context } = withLibrary(t);
  const message = (code) => context.evalSync(`try { ${code}; 'no error' } catch (e) { e.name + ': ' + e.message }`);
  assert.equal(message('new ivm.Reference(1, { unsafeInherit: "x" })'), 'TypeError: `unsafeInherit` must be a boolean');
  assert.equal(message('new ivm.Reference({ a: 1 }).getSync("a", { accessors: 1 })'), 'TypeError: `accessors` must be a boolean');
  assert.equal(message('new ivm.Callback(() => 1, { async: "x" })'), 'TypeError: `async` must be a boolean');
  assert.equal(message('new ivm.Reference(() => 1).applySync(undefined, [], { result: { copy: "x" } })'), 'TypeError: `copy` must be a boolean');
  assert.equal(message('new ivm.ExternalCopy(1, 5)'), 'TypeError: `ExternalCopy` requires parameter 2 to be an object');
  assert.equal(message('new ivm.ExternalCopy(1, { transferOut: 1 })'), 'TypeError: `transferOut` must be a boolean');
  assert.equal(message('new ivm.ExternalCopy(1).copy(5)'), 'TypeError: `copy` requires parameter 1 to be an object');
  assert.equal(message('new ivm.ExternalCopy(1).copyInto({ release: "x" })'), 'TypeError: `release` must be a boolean');
  assert.equal(message('new ivm.ExternalCopy()'), 'TypeError: `ExternalCopy` requires at least 1 parameter');
  assert.equal(message('new ivm.Reference()'), 'TypeError: `Reference` requires at least 1 parameter');
  assert.equal(message('new ivm.Reference({}).setSync("a")'), 'TypeError: `setSync` requires at least 2 parameters');
  assert.equal(message('ivm.Reference(1)'), 'TypeError: `Reference` must be called with `new`');
  assert.equal(message('ivm.Callback(() => 1)'), 'TypeError: `Callback` must be called with `new`');
  // The classes still work as classes.
  assert.equal(context.evalSync('const r = new ivm.Reference(1); [r instanceof ivm.Reference, r.constructor === ivm.Reference, r.copySync(), new ivm.ExternalCopy(2).copy({ release: true })].join()'), 'true,true,1,2');
});

test('{promise: true} on a value that is not a promise, sent by a guest: at once into an isolate, later into Node', async (t) => {
  const { context, global } = withLibrary(t);
  assert.equal(context.evalSync(`
    const i = new ivm.Isolate(); const c = i.createContextSync();
    const out = [];
    try { c.global.setSync('p', {}, { promise: true }) } catch (e) { out.push(e.message) }
    try { c.evalSync('(a) => 1', { reference: true }).applySync(undefined, [new Date()], { arguments: { promise: true } }) } catch (e) { out.push(e.message) }
    c.global.setSync('q', 5, { promise: true });
    out.push(c.evalSync('Object.prototype.toString.call(q)'));
    i.dispose();
    out.join('|')`), 'A non-transferable value was passed|A non-transferable value was passed|[object Promise]');
  // Into Node: the Node function gets a promise that rejects.
  let got;
  global.setSync('n', new ivm.Reference((p) => { got = p; }));
  context.evalSync('n.applySync(undefined, [{}], { arguments: { promise: true } })');
  await assert.rejects(got, NON_TRANSFERABLE);
});

test('{reference: true} and {externalCopy: true} apply to the library\'s handles too', (t) => {
  const { context, global } = setup(t);
  global.setSync('r', new ivm.Reference(1), { reference: true });
  assert.equal(context.evalSync('r.typeof'), 'object');
  global.setSync('c', new ivm.ExternalCopy(1), { reference: true });
  assert.equal(context.evalSync('c.constructor.name + c.typeof'), 'Referenceobject');
  global.setSync('e', new ivm.ExternalCopy({ a: 1 }), { externalCopy: true });
  assert.equal(context.evalSync('e.copy().constructor.name + JSON.stringify(e.copy().copy())'), 'ExternalCopy{"a":1}');
  global.setSync('x', new ivm.Reference(7), { externalCopy: true });
  assert.equal(context.evalSync('x.copy().copySync()'), 7);
  global.setSync('l', ivm, { reference: true });
  assert.equal(context.evalSync('l.typeof'), 'object');
  // Without options handles pass as themselves.
  global.setSync('y', new ivm.Reference(8));
  assert.equal(context.evalSync('y.copySync()'), 8);
});

test('derefInto({release: true}) releases the Reference at once; the result still works once', (t) => {
  const { context, global } = setup(t);
  const r = context.evalSync('globalThis.o = { a: 1 }', { reference: true });
  const d = r.derefInto({ release: true });
  const RELEASED = { message: 'Reference has been released' };
  assert.throws(() => r.typeof, RELEASED);
  assert.throws(() => r.getSync('a'), RELEASED);
  assert.throws(() => r.release(), RELEASED);
  assert.throws(() => global.setSync('z', r), RELEASED);
  global.setSync('y', d);
  assert.equal(context.evalSync('y === o'), true);
  assert.throws(() => global.setSync('w', d), { message: 'The return value of `derefInto()` should only be used once' });
  const n = new ivm.Reference({ q: 2 });
  const nd = n.derefInto({ release: true });
  assert.throws(() => n.typeof, RELEASED);
  assert.equal(new ivm.Reference((x) => x.q).applySync(undefined, [nd]), 2);
});
