'use strict';
// Engine-core behaviour matched to isolated-vm 5.0.4 by differential testing
// (scripts/conformance/core.js runs the battery against both libraries):
// which failures throw and which reject, option parsing, return values,
// boundary lines, and how thrown values are copied across.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const BOUNDARY = '    at (<isolated-vm boundary>)';
const NOT_AN_ERROR =
  'An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.';

// What fn throws synchronously (fails if it returns, e.g. a promise).
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a synchronous throw');
}

test('async methods throw a parameter of the wrong type; bad option contents reject', async (t) => {
  const { isolate, context } = setup(t);
  const script = isolate.compileScriptSync('1');
  const mod = isolate.compileModuleSync('export default 1');
  const parameter = { name: 'TypeError', message: /^`\w+` requires parameter \d to be / };
  for (const call of [
    () => context.eval(1),
    () => context.eval('1', 5),
    () => context.evalClosure(1),
    () => context.evalClosure('1', 'not an array'),
    () => isolate.compileScript(1),
    () => isolate.compileModule(1),
    () => isolate.createContext(1),
    () => script.run({}),
    () => mod.instantiate({}, () => mod),
    () => mod.instantiate(context, 'nope'),
    () => mod.evaluate(5),
  ]) {
    assert.throws(call, parameter);
  }
  assert.equal(thrown(() => context.evalClosure('1', 5)).message, '`evalClosure` requires parameter 2 to be an array');
  // Option contents, transfers and everything after are the promise's.
  await assert.rejects(context.eval('1', { timeout: 'soon' }), { name: 'TypeError', message: '`timeout` must be a 32-bit number' });
  await assert.rejects(context.eval('1', { filename: 1 }), { name: 'TypeError', message: '`filename` must be a string' });
  await assert.rejects(context.evalClosure('1', [{}]), { name: 'TypeError', message: 'A non-transferable value was passed' });
  await assert.rejects(isolate.createContext({ inspector: 'yes' }), { name: 'TypeError', message: '`inspector` must be a boolean' });
});

test('options: null is absent; booleans and 32-bit numbers are checked with isolated-vm messages', (t) => {
  const { isolate, context } = setup(t);
  for (const opts of [{ memoryLimit: null }, { snapshot: null }, { onCatastrophicError: null }, () => {}]) {
    new ivm.Isolate(opts).dispose();
  }
  assert.equal(isolate.compileScriptSync('1', { filename: null, lineOffset: null, columnOffset: null, cachedData: null }).runSync(context), 1);
  assert.equal(context.evalSync('2', { filename: null }), 2);
  const type = (message) => ({ name: 'TypeError', message });
  assert.throws(() => new ivm.Isolate({ inspector: 'yes' }), type('`inspector` must be a boolean'));
  assert.throws(() => isolate.createContextSync({ inspector: 1 }), type('`inspector` must be a boolean'));
  assert.throws(() => isolate.compileScriptSync('1', { produceCachedData: 'yes' }), type('`produceCachedData` must be a boolean'));
  assert.throws(() => isolate.compileScriptSync('1', { lineOffset: 1.5 }), type('`lineOffset` must be a 32-bit number'));
  assert.throws(() => isolate.compileScriptSync('1', { columnOffset: '1' }), type('`columnOffset` must be a 32-bit number'));
  assert.throws(() => context.evalSync('1', { timeout: 0.5 }), type('`timeout` must be a 32-bit number'));
  assert.throws(() => context.evalSync('1', { timeout: 2 ** 40 }), type('`timeout` must be a 32-bit number'));
  assert.throws(() => new ivm.Isolate({ snapshot: 1 }), type('`snapshot` must be an object'));
  assert.throws(() => context.evalSync('1', { cachedData: 1 }), type('`cachedData` must be an object'));
});

test('Script#release returns undefined', (t) => {
  const { isolate } = setup(t);
  const script = isolate.compileScriptSync('1');
  assert.equal(script.release(), undefined);
  assert.equal(script.release(), undefined);
});

test('ignored calls throw what is refused before the call is queued', (t) => {
  const { isolate, context } = setup(t);
  const other = setup(t).context;
  const script = isolate.compileScriptSync('1');
  assert.throws(() => script.runIgnored(other), { message: 'Invalid context' });
  const released = isolate.createContextSync();
  released.release();
  assert.throws(() => released.evalIgnored('1'), { message: 'Context is released' });
  assert.throws(() => released.evalClosureIgnored('1'), { message: 'Context is released' });
  assert.throws(() => script.runIgnored(released), { message: 'Context is released' });
  script.release();
  assert.throws(() => script.runIgnored(context), { message: 'Script has been released' });
});

test('calls refused before reaching the isolate carry no boundary line; failures inside it do', async (t) => {
  const { isolate, context } = setup(t);
  const released = isolate.createContextSync();
  released.release();
  const refused = [
    thrown(() => released.evalSync('1')),
    await released.eval('1').catch((e) => e),
    thrown(() => isolate.compileModuleSync('export default 1').namespace),
  ];
  const other = setup(t);
  refused.push(thrown(() => isolate.compileScriptSync('1').runSync(other.context)));
  other.isolate.dispose();
  refused.push(thrown(() => other.context.evalSync('1')));
  refused.push(await other.context.eval('1').catch((e) => e));
  for (const e of refused) {
    assert.ok(e instanceof Error, String(e));
    assert.ok(!e.stack.includes(BOUNDARY), e.stack);
    assert.ok(e.stack.split('\n').length > 1, `caller frames in ${e.stack}`);
  }
  const inside = thrown(() => context.evalSync('for (;;);', { timeout: 10 }));
  assert.ok(inside.stack.includes(BOUNDARY), inside.stack);
});

test('thrown guest values are copied by isolated-vm rules', (t) => {
  const { context } = setup(t);
  const err = (code) => thrown(() => context.evalSync(`{ ${code} }`, { filename: 'guest.js' }));
  // A standard class keeps its class; a changed name is not carried.
  let e = err('const e = new TypeError("m"); e.name = "Other"; throw e');
  assert.ok(e instanceof TypeError);
  assert.equal(e.name, 'TypeError');
  assert.ok(!Object.hasOwn(e, 'name'));
  assert.match(e.stack, /^TypeError: m\n    at guest\.js:1:\d+\n/);
  // The stack's first line is rebuilt from name and message.
  e = err('const e = new Error("m"); e.message = 42; throw e');
  assert.equal(e.message, '42');
  assert.match(e.stack, /^Error: 42\n    at guest\.js/);
  assert.match(err('throw new Error()').stack, /^Error: \n    at guest\.js/);
  e = err('const e = new Error("m"); e.stack = "custom"; throw e');
  assert.equal(e.stack.split('\n')[0], 'Error: m');
  assert.equal(e.stack.split('\n')[1], BOUNDARY);
  // Objects with a message or stack count as errors; others do not.
  e = err('throw { name: "X", message: "m" }');
  assert.equal(Object.getPrototypeOf(e), Error.prototype);
  assert.equal(e.name, 'X');
  assert.equal(e.message, 'm');
  assert.equal(err('throw Object.create(RangeError.prototype, { message: { value: "r" } })').constructor, RangeError);
  assert.equal(err('throw { a: 1 }').message, NOT_AN_ERROR);
  assert.equal(err('throw { message: undefined }').message, NOT_AN_ERROR);
  // A message that cannot be made a string: an object is then no error, an Error has "".
  assert.equal(err('throw { message: { toString() { throw 1 } } }').message, NOT_AN_ERROR);
  assert.equal(err('const e = new Error("m"); e.message = { toString() { throw 1 } }; throw e').message, '');
  // Another constructor: Error, carrying the name; none without one.
  e = err('class MyErr extends Error {}; throw new MyErr("m")');
  assert.equal(e.name, 'Error');
  assert.ok(Object.hasOwn(e, 'name'));
  e = err('const e = new Error("m"); Object.setPrototypeOf(e, null); throw e');
  assert.ok(!Object.hasOwn(e, 'name'));
});

test('values thrown by Node functions reach guests by the same rules', (t) => {
  const { context, global } = setup(t);
  global.setSync('fail', (what) => {
    if (what === 'object') throw { a: 1 };
    if (what === 'like') throw { name: 'Custom', message: 'like an error' };
    if (what === 'renamed') throw Object.assign(new RangeError('r'), { name: 'Other' });
    throw 7;
  });
  const seen = (what) =>
    context.evalSync(`try { fail(${JSON.stringify(what)}) } catch (e) {
      typeof e === 'object' ? [e instanceof Error, e.constructor.name, e.name, e.message, Object.hasOwn(e, 'name')].join('|') : e }`);
  assert.equal(seen('object'), `true|Error|Error|${NOT_AN_ERROR}|false`);
  assert.equal(seen('like'), 'true|Error|Custom|like an error|true');
  assert.equal(seen('renamed'), 'true|RangeError|RangeError|r|false');
  assert.equal(seen('primitive'), 7);
});

test('inside a guest, every failure of code run in a nested isolate has a boundary line', (t) => {
  const { context } = withLibrary(t);
  const stacks = context.evalSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const out = [];
    const take = (fn) => { try { fn(); out.push('no throw'); } catch (e) { out.push(e.stack); } };
    take(() => ctx.evalSync('(', { filename: 'nested.js' }));
    take(() => ctx.evalSync('throw { a: 1 }'));
    take(() => ctx.evalSync('throw new RangeError("r")'));
    ctx.global.setSync('kill', new ivm.Callback(() => iso.dispose()));
    take(() => ctx.evalSync('kill(); for (;;);'));
    JSON.stringify(out);`);
  const list = JSON.parse(stacks);
  assert.equal(list.length, 4);
  assert.match(list[0], /^SyntaxError: Unexpected end of input \[nested\.js:1:2\]\n/);
  assert.match(list[1], /^Error: An object was thrown/);
  assert.match(list[3], /^Error: Isolate was disposed during execution\n/);
  for (const s of list) assert.ok(s.includes(BOUNDARY), s);
});

test('Isolate() without new is a TypeError with isolated-vm message; the class still works', () => {
  assert.throws(() => ivm.Isolate(), { name: 'TypeError', message: '`Isolate` must be called with `new`' });
  const isolate = new ivm.Isolate();
  assert.ok(isolate instanceof ivm.Isolate);
  assert.equal(isolate.constructor, ivm.Isolate);
  assert.equal(typeof ivm.Isolate.createSnapshot, 'function');
  // Inside a guest too.
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync('try { ivm.Isolate(); "no throw" } catch (e) { e.constructor.name + ": " + e.message }'), 'TypeError: `Isolate` must be called with `new`');
  assert.equal(context.evalSync('const i = new ivm.Isolate(); [i instanceof ivm.Isolate, i.constructor === ivm.Isolate].join()'), 'true,true');
  isolate.dispose();
});

test('{promise: true} results that cannot be transferred reject instead of becoming undefined', async (t) => {
  const { context } = setup(t);
  const refused = { name: 'TypeError', message: 'A non-transferable value was passed' };
  await assert.rejects(context.evalSync('Promise.resolve({ a: 1 })', { promise: true }), refused);
  await assert.rejects(context.eval('Promise.resolve(Symbol())', { promise: true }), refused);
  await assert.rejects(context.evalSync('({ then(r) { r({}) } })', { promise: true }), refused);
  await assert.rejects(context.evalClosureSync('return Promise.resolve({})', [], { result: { promise: true } }), refused);
  // Transferable values and explicit modes are unchanged.
  assert.equal(await context.evalSync('Promise.resolve(5)', { promise: true }), 5);
  assert.deepEqual(await context.evalSync('Promise.resolve({ a: 1 })', { promise: true, copy: true }), { a: 1 });
});

test('inside a guest: refused ignored calls throw, failures raised in the nested isolate have a boundary line', (t) => {
  const { context } = withLibrary(t);
  const out = JSON.parse(context.evalSync(`
    const a = new ivm.Isolate();
    const b = new ivm.Isolate();
    const script = a.compileScriptSync('1');
    const ctx = a.createContextSync();
    const take = (fn) => { try { fn(); return 'no throw'; } catch (e) { return e.stack; } };
    JSON.stringify([
      take(() => script.runIgnored(b.createContextSync())),
      take(() => ctx.evalClosureSync('return {}')),
      take(() => a.compileModuleSync('export default 1').evaluateSync()),
      take(() => a.createContextSync({ inspector: 'yes' })),
    ]);`));
  assert.match(out[0], /^Error: Invalid context\n/);
  assert.ok(!out[0].includes(BOUNDARY), out[0]);
  assert.match(out[1], /^TypeError: A non-transferable value was passed\n/);
  assert.ok(out[1].includes(BOUNDARY), out[1]);
  assert.match(out[2], /^Error: Module is uninstantiated\n/);
  assert.ok(out[2].includes(BOUNDARY), out[2]);
  assert.match(out[3], /^TypeError: `inspector` must be a boolean\n/);
});

test('a guest promise rejection keeps the guest stack as it was, without a boundary line', async (t) => {
  const { context } = setup(t);
  const reason = (code) => context.eval(code, { filename: 'guest.js', promise: true }).then(() => assert.fail('resolved'), (e) => e);
  let e = await reason('(async () => { const e = new TypeError("m"); e.name = "Other"; throw e })()');
  assert.ok(e instanceof TypeError);
  assert.match(e.stack, /^Other: m\n    at guest\.js:1:\d+/);
  assert.ok(!e.stack.includes(BOUNDARY), e.stack);
  e = await reason('(async () => { const e = new Error("m"); e.stack = "custom stack"; throw e })()');
  assert.equal(e.stack, 'custom stack');
  e = await reason('Promise.reject({ a: 1 })');
  assert.equal(e.stack, `Error: ${NOT_AN_ERROR}`);
  // A thrown error (not a rejection) still crosses with the boundary line.
  e = await context.eval('throw new TypeError("t")', { filename: 'guest.js' }).catch((x) => x);
  assert.ok(e.stack.includes(BOUNDARY), e.stack);
});

test('inside a guest running async: parameter errors throw, the sync-from-async refusal has no boundary line', async (t) => {
  const { context } = withLibrary(t);
  const out = await context.eval(`(async () => {
    const iso = new ivm.Isolate();
    const ctx = await iso.createContext();
    const r = [];
    try { ctx.evalClosure('1', 5); r.push('no throw'); } catch (e) { r.push(e.message); }
    try { await ctx.evalSync('1'); r.push('no throw'); } catch (e) { r.push(e.stack); }
    return JSON.stringify(r);
  })()`, { promise: true });
  const [closure, refused] = JSON.parse(out);
  assert.equal(closure, '`evalClosure` requires parameter 2 to be an array');
  assert.match(refused, /^Error: Calling a synchronous isolated-vm function on a non-default isolate from within an asynchronous isolated-vm function is not allowed\./);
  assert.ok(!refused.includes(BOUNDARY), refused);
});

test('copying a thrown value runs under the call timeout (a message getter that never returns)', (t) => {
  const { context } = setup(t);
  for (const code of [
    'throw { get message() { for (;;); } }',
    'const e = new Error("m"); Object.defineProperty(e, "stack", { get() { for (;;); } }); throw e',
  ]) {
    assert.throws(() => context.evalSync(`{ ${code} }`, { timeout: 50 }), { message: 'Script execution timed out.' });
  }
  assert.throws(() => context.evalSync('{ const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy }'), { message: NOT_AN_ERROR });
  assert.equal(context.evalSync('1 + 1'), 2);
});

test('too few arguments: isolated-vm\'s "requires at least N parameter(s)", thrown at once (Node and guests)', (t) => {
  const { isolate, context } = withLibrary(t);
  const mod = isolate.compileModuleSync('export default 1');
  const script = isolate.compileScriptSync('1');
  const arity = (name, n) => ({ name: 'TypeError', message: `\`${name}\` requires at least ${n} parameter${n === 1 ? '' : 's'}` });
  assert.throws(() => context.evalSync(), arity('eval', 1));
  assert.throws(() => context.eval(), arity('eval', 1));
  assert.throws(() => context.evalClosure(), arity('evalClosure', 1));
  assert.throws(() => isolate.compileScript(), arity('compileScript', 1));
  assert.throws(() => isolate.compileModuleSync(), arity('compileModule', 1));
  assert.throws(() => script.run(), arity('run', 1));
  assert.throws(() => mod.instantiate(context), arity('instantiate', 2));
  assert.throws(() => ivm.Isolate.createSnapshot(), arity('createSnapshot', 1));
  // An argument given as undefined is a wrong type, not a missing one.
  assert.throws(() => context.evalSync(undefined), { message: '`eval` requires parameter 1 to be a string' });
  const inGuest = context.evalSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const m = iso.compileModuleSync('export default 1');
    const r = [];
    for (const f of [() => ctx.eval(), () => iso.compileScriptSync(), () => m.instantiate(ctx), () => m.instantiate({}, () => {})]) {
      try { r.push(f() instanceof Promise ? 'promise' : 'value'); } catch (e) { r.push(e.message); }
    }
    r.join(' / ')`);
  assert.equal(inGuest, [
    '`eval` requires at least 1 parameter',
    '`compileScript` requires at least 1 parameter',
    '`instantiate` requires at least 2 parameters',
    '`instantiate` requires parameter 1 to be a Context',
  ].join(' / '));
});
