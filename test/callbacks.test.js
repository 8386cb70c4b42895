'use strict';
// Node functions called from guests (Callbacks), re-entrant sync calls,
// guest functions handed to Node, and derefInto.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

test('a plain function passed in becomes a sync Callback', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  const seen = [];
  global.setSync('log', (...args) => {
    seen.push(args);
    return args.length;
  });
  assert.equal(context.evalSync('log(1, "two", { three: [3] })'), 3);
  assert.deepEqual(seen, [[1, 'two', { three: [3] }]]);
});

test('a Callback keeps name and length and is not constructible', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('add', new ivm.Callback(function add(a, b) { return a + b; }));
  assert.equal(context.evalSync('add(2, 3)'), 5);
  assert.equal(context.evalSync('add.name + ":" + add.length'), 'add:2');
  assert.equal(context.evalSync('try { new add(1, 2); "constructed" } catch (e) { e instanceof TypeError }'), true);
});

test('arguments are structured clones and results are copies', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('echo', (v) => v);
  const r = context.evalSync(
    'const d = new Date(5); const m = new Map([[1, { a: 1 }]]); const o = echo({ d, m, s: new Set([1]) }); ' +
      'o.d instanceof Date && o.d.getTime() === 5 && o.m.get(1).a === 1 && o.s.has(1) && o.d !== d',
  );
  assert.equal(r, true);
  global.setSync('fn', () => 1);
  assert.match(
    context.evalSync('try { fn(() => 1); "passed" } catch (e) { e.message }'),
    /could not be cloned/,
  );
});

test('an error thrown by the Node function is thrown in the guest', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('boom', () => {
    throw new RangeError('nope');
  });
  assert.equal(context.evalSync('try { boom() } catch (e) { e.constructor.name + ": " + e.message }'), 'RangeError: nope');
  global.setSync('throwsPrimitive', () => {
    throw 42;
  });
  assert.equal(context.evalSync('try { throwsPrimitive() } catch (e) { e }'), 42);
  // Uncaught in the guest, it reaches the Node caller as the same class.
  assert.throws(() => context.evalSync('boom()'), (e) => e instanceof RangeError && e.message === 'nope');
});

test('Node can call back into the isolate from inside a Callback (re-entrancy)', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('reenter', (n) => context.evalSync(`${n} + 1`));
  assert.equal(context.evalSync('reenter(41)'), 42);
  // Deeper: guest -> Node -> guest -> Node -> guest.
  global.setSync('down', (n) => (n === 0 ? 0 : context.evalSync(`down(${n - 1}) + 1`)));
  assert.equal(context.evalSync('down(5)'), 5);
  // Many times over, no deadlock.
  for (let i = 0; i < 100; i++) assert.equal(context.evalSync(`reenter(${i})`), i + 1);
});

test('sync calls chain across three isolates through Callbacks, 100 times', { timeout: 30000 }, (t) => {
  const a = setup(t);
  const b = setup(t);
  const c = setup(t);
  c.global.setSync('leaf', (x) => x * 2);
  b.global.setSync('mid', (x) => c.context.evalSync(`leaf(${x}) + 1`));
  a.global.setSync('top', (x) => b.context.evalSync(`mid(${x}) + 1`));
  for (let i = 0; i < 100; i++) assert.equal(a.context.evalSync(`top(${i})`), 2 * i + 2);
});

test('dispose() from inside a Callback during a sync call', { timeout: 10000 }, (t) => {
  for (let i = 0; i < 20; i++) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.global.setSync('kill', () => isolate.dispose());
    assert.throws(
      () => context.evalSync('kill(); for (;;);'),
      (e) => e instanceof ivm.IsolateDisposedError && e.message === 'Isolate was disposed during execution',
    );
    assert.equal(isolate.isDisposed, true);
  }
});

test('async Callbacks return promises; ignored ones return undefined', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  global.setSync('later', new ivm.Callback(async (x) => x * 2, { async: true }));
  const seen = [];
  let done;
  const called = new Promise((r) => (done = r));
  global.setSync('note', new ivm.Callback((x) => { seen.push(x); done(); return 'ignored'; }, { ignored: true }));
  assert.equal(context.evalSync('note("n")'), undefined);
  await called;
  assert.deepEqual(seen, ['n']);
  assert.equal(context.evalSync('later(21) instanceof Promise'), true);
  await context.eval('later(21).then((v) => { globalThis.r = v; })');
  // The async callback settles through the isolate's queue: poll until set.
  for (let i = 0; i < 1000 && context.evalSync('typeof globalThis.r') === 'undefined'; i++) {
    await new Promise(setImmediate);
  }
  assert.equal(context.evalSync('globalThis.r'), 42);
});

test('a Callback called from async guest code runs on the Node thread', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const calls = [];
  global.setSync('log', (x) => calls.push(x));
  await context.eval('log("a"); log("b")');
  assert.deepEqual(calls, ['a', 'b']);
});

test('a guest function returned without options is a callable Node function', { timeout: 10000 }, (t) => {
  const { context } = setup(t);
  const f = context.evalSync('(function twice(x) { return { v: x * 2 } })');
  assert.equal(typeof f, 'function');
  assert.equal(f.name, 'twice');
  assert.equal(f.length, 1);
  assert.deepEqual(f(21), { v: 42 });
});

test('derefInto() puts the referenced value itself into its isolate, once', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('global', global.derefInto());
  assert.equal(context.evalSync('global === globalThis'), true);
  const d = global.derefInto();
  assert.equal(context.evalClosureSync('return $0 === globalThis', [d]), true);
  assert.throws(() => context.evalClosureSync('return 1', [d]), {
    message: 'The return value of `derefInto()` should only be used once',
  });
  const other = setup(t);
  assert.throws(() => other.global.setSync('x', global.derefInto()), {
    name: 'TypeError',
    message: 'Cannot dereference this into target isolate',
  });
});

test('a Reference to a Node value works from inside the guest', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const calls = [];
  global.setSync('logRef', new ivm.Reference(function (...a) {
    calls.push(a);
    return a.length;
  }));
  assert.equal(context.evalSync('logRef.typeof'), 'function');
  assert.equal(context.evalSync('logRef.applySync(undefined, [1, "x"])'), 2);
  assert.deepEqual(calls, [[1, 'x']]);
  const config = { a: 1, nested: { b: 2 } };
  global.setSync('cfg', new ivm.Reference(config));
  assert.equal(context.evalSync('cfg.getSync("a")'), 1);
  assert.equal(context.evalSync('cfg.getSync("nested").typeof'), 'object');
  assert.equal(context.evalSync('cfg.getSync("nested").getSync("b")'), 2);
  assert.equal(context.evalSync('cfg.copySync().nested.b'), 2);
  context.evalSync('cfg.setSync("c", 3)');
  assert.equal(config.c, 3);
  await context.eval('logRef.apply(undefined, ["later"]).then((n) => { globalThis.n = n })');
  for (let i = 0; i < 1000 && context.evalSync('typeof globalThis.n') === 'undefined'; i++) {
    await new Promise(setImmediate);
  }
  assert.equal(context.evalSync('globalThis.n'), 1);
  assert.equal(
    context.evalSync('try { cfg.deref() } catch (e) { e instanceof TypeError && e.message }'),
    'Cannot dereference this from current isolate',
  );
  context.evalSync('cfg.release()');
  assert.equal(context.evalSync('try { cfg.getSync("a") } catch (e) { e.message }'), 'Reference has been released');
});

test('a Reference into an isolate sent back in is a Reference object there', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const math = global.getSync('Math');
  assert.equal(context.evalClosureSync('return $0.typeof + ":" + $0.getSync("PI")', [math]), `object:${Math.PI}`);
  context.evalSync('globalThis.mul = (a, b) => a * b');
  const mul = global.getSync('mul', { reference: true });
  assert.equal(context.evalClosureSync('return $0.applySync(undefined, [6, 7])', [mul]), 42);
  await context.evalClosure('$0.apply(undefined, [2, 3]).then((v) => { globalThis.pv = v })', [mul]);
  assert.equal(context.evalSync('pv'), 6);
  const num = context.evalSync('7', { reference: true });
  assert.equal(context.evalClosureSync('try { $0.getSync("x") } catch (e) { return e.message }', [num]), 'Reference is not an object');
});

test('a callable Proxy from a guest crosses as a function, running no trap until it is called', { timeout: 10000 }, (t) => {
  // V8 aborted the process when its name was read: a proxy is no JSFunction.
  const { context } = setup(t);
  context.evalSync(`
    globalThis.traps = [];
    globalThis.p = new Proxy(function target(a, b) { return a + b; }, {
      get(t, k) { traps.push('get ' + String(k)); return Reflect.get(t, k); },
      apply(t, self, args) { traps.push('apply'); return Reflect.apply(t, self, args); },
    });
  `);
  const fromEval = context.evalSync('p');
  assert.equal(typeof fromEval, 'function');
  assert.equal(fromEval.name, '');
  assert.equal(fromEval.length, 0);
  const fromGet = context.global.getSync('p');
  assert.equal(typeof fromGet, 'function');
  assert.deepEqual(context.evalSync('traps', { copy: true }), []);
  assert.equal(fromGet(2, 3), 5);
  assert.deepEqual(context.evalSync('traps', { copy: true }), ['apply']);
  // As a Reference it is a function too, and apply runs the trap.
  const ref = context.global.getSync('p', { reference: true });
  assert.equal(ref.typeof, 'function');
  assert.equal(ref.applySync(undefined, [4, 5]), 9);
  // Copied, it is refused like any proxy.
  assert.throws(() => context.evalSync('p', { copy: true }));
  // A revoked one crosses the same way; calling it throws in the guest.
  context.evalSync('const r = Proxy.revocable(function () {}, {}); globalThis.rp = r.proxy; r.revoke();');
  const revoked = context.evalSync('rp');
  assert.equal(typeof revoked, 'function');
  assert.throws(() => revoked(), TypeError);
});
