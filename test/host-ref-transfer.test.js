'use strict';
// What crosses when guest code uses a Reference to a Node value without
// options (isolated-vm's defaults): primitives are copied, functions become
// callable functions, library handles pass as themselves, anything else is
// refused. And what set/delete return: nothing, in every direction.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const NON_TRANSFERABLE = 'A non-transferable value was passed';

function describe(a) {
  return a.map((x) => (typeof x === 'object' && x !== null ? x.constructor.name : typeof x));
}

test('apply arguments from a guest: primitives, functions and handles pass; the rest is refused', (t) => {
  const { context, global } = withLibrary(t);
  const seen = [];
  global.setSync('f', new ivm.Reference((...a) => {
    seen.push(a);
    return describe(a).join(',');
  }));
  // Every arity of the short path (0-4 arguments) and the general one (5+).
  for (let n = 0; n <= 6; n++) {
    const args = Array.from({ length: n }, (_, i) => i);
    assert.equal(context.evalSync(`f.applySync(undefined, ${JSON.stringify(args)})`), args.map(() => 'number').join(','));
    assert.deepEqual(seen.pop(), args);
  }
  assert.equal(context.evalSync('f.applySync()'), '');
  assert.equal(context.evalSync('f.applySync(undefined, [undefined, null, "s", true])'), 'undefined,object,string,boolean');
  assert.equal(context.evalSync('f.applySync(undefined, [1n, -0, NaN, "\u00e9"])'), 'bigint,number,number,string');
  assert.deepEqual(seen.pop(), [1n, -0, NaN, '\u00e9']);
  // Holes read as undefined.
  assert.equal(context.evalSync('f.applySync(undefined, [, 1])'), 'undefined,number');
  // A guest function arrives as a function Node can call.
  assert.equal(context.evalSync('f.applySync(undefined, [(x) => x * 2])'), 'function');
  assert.equal(seen.pop()[0](21), 42);
  assert.equal(context.evalSync('f.applySync(undefined, [1, 2, 3, 4, (x) => x + 1])'), 'number,number,number,number,function');
  assert.equal(seen.pop()[4](1), 2);
  // A Reference made in the guest arrives as a Reference (0-4 and 5+).
  assert.equal(context.evalSync('f.applySync(undefined, [new ivm.Reference({ k: 1 })])'), 'Reference');
  assert.equal(seen.pop()[0].getSync('k'), 1);
  assert.equal(context.evalSync('f.applySync(undefined, [1, 2, 3, 4, new ivm.Reference({ k: 2 })])'), 'number,number,number,number,Reference');
  assert.equal(seen.pop()[4].getSync('k'), 2);
  for (const bad of ['{}', '[1]', 'new Date()', 'Promise.resolve(1)', 'Symbol()', 'new ArrayBuffer(2)']) {
    for (const call of [`f.applySync(undefined, [${bad}])`, `f.applySync(undefined, [1, 2, 3, 4, 5, ${bad}])`]) {
      assert.throws(() => context.evalSync(call), { name: 'TypeError', message: NON_TRANSFERABLE }, call);
    }
  }
});

test('apply receivers from a guest follow the same rules', (t) => {
  const { context, global } = setup(t);
  let self;
  global.setSync('f', new ivm.Reference(function () {
    self = this;
    return typeof this;
  }));
  assert.equal(context.evalSync('f.applySync(function () { return 7 }, [])'), 'function');
  assert.equal(self(), 7);
  assert.equal(context.evalSync('f.applySync(5, [])'), 'number');
  for (const bad of ['{}', 'Symbol()']) {
    assert.throws(() => context.evalSync(`f.applySync(${bad}, [])`), { name: 'TypeError', message: NON_TRANSFERABLE });
  }
});

test('a guest sets a function on a Node object: Node can call it', (t) => {
  const { context, global } = setup(t);
  const o = {};
  global.setSync('o', new ivm.Reference(o));
  assert.equal(context.evalSync('o.setSync("double", function double(x) { return x * 2 })'), undefined);
  assert.equal(typeof o.double, 'function');
  assert.equal(o.double(4), 8);
  for (const bad of ['Symbol()', '{ a: 1 }']) {
    assert.throws(() => context.evalSync(`o.setSync("b", ${bad})`), { name: 'TypeError', message: NON_TRANSFERABLE });
  }
  assert.equal('b' in o, false);
  // With options the value follows them.
  context.evalSync('o.setSync("c", { a: 1 }, { copy: true })');
  assert.deepEqual(o.c, { a: 1 });
});

test('the short path keeps the checks of the general one', (t) => {
  const { context, global } = setup(t);
  global.setSync('notFn', new ivm.Reference({}));
  assert.throws(() => context.evalSync('notFn.applySync(undefined, [1])'), { name: 'TypeError', message: 'Reference is not a function' });
  global.setSync('thrower', new ivm.Reference((a) => {
    throw new RangeError(`bad ${a}`);
  }));
  assert.throws(() => context.evalSync('thrower.applySync(undefined, [3])'), { name: 'RangeError', message: 'bad 3' });
  assert.equal(context.evalSync('try { thrower.applySync(undefined, [3]) } catch (e) { e instanceof RangeError }'), true);
  // Objects come back as References, functions as callables (the Node
  // function, called through a hop each time).
  global.setSync('make', new ivm.Reference((k) => (k === 'fn' ? (x) => x + 1 : { k })));
  assert.equal(context.evalSync('const r = make.applySync(undefined, ["obj"]); r.typeof + ":" + r.getSync("k")'), 'object:obj');
  assert.equal(context.evalSync('make.applySync(undefined, ["fn"])(1)'), 2);
  // A Reference the guest released refuses the call.
  assert.throws(() => context.evalSync('const m = make; m.release(); m.applySync(undefined, [1])'), { message: 'Reference has been released' });
});

test("releasing a Node Reference leaves the guest's copy working (as in isolated-vm)", (t) => {
  const { context, global } = setup(t);
  const ref = new ivm.Reference(() => 1);
  global.setSync('f', ref);
  assert.equal(context.evalSync('f.applySync(undefined, [])'), 1);
  ref.release();
  assert.throws(() => ref.applySync(undefined, []), { message: 'Reference has been released' });
  assert.equal(context.evalSync('f.applySync(undefined, [])'), 1);
  assert.equal(context.evalSync('f.applySync(undefined, [], {})'), 1);
  const obj = new ivm.Reference({ a: 2 });
  global.setSync('o', obj);
  obj.release();
  assert.equal(context.evalSync('o.getSync("a")'), 2);
  // A released Reference cannot be sent any more.
  assert.throws(() => global.setSync('g', ref), { message: 'Reference has been released' });
  // The guest's own release is its own.
  assert.throws(() => context.evalSync('f.release(); f.applySync(undefined, [])'), { message: 'Reference has been released' });
});

test('a guest calls a Node function directly with primitive arguments, and through the JS layer otherwise', (t) => {
  const { context, global } = withLibrary(t);
  const seen = [];
  global.setSync('f', new ivm.Reference(function (...a) {
    seen.push([this, a]);
    return a.length === 1 && typeof a[0] === 'string' ? { s: a[0] } : a.length;
  }));
  assert.equal(context.evalSync('f.applySync(undefined, [1, "x", true, null])'), 4);
  assert.deepEqual(seen.pop(), [undefined, [1, 'x', true, null]]);
  // A non-primitive result arrives as a Reference (apply's default).
  assert.equal(context.evalSync('const r = f.applySync(undefined, ["k"]); r.typeof + ":" + r.getSync("s")'), 'object:k');
  // A handle among the arguments goes through the general path.
  assert.equal(context.evalSync('f.applySync(undefined, [1, new ivm.Reference({})])'), 2);
  assert.ok(seen.pop()[1][1] instanceof ivm.Reference);
});

test('set and delete return undefined in every direction', async (t) => {
  const { context, global } = withLibrary(t);
  const guest = context.evalSync('({})', { reference: true });
  assert.deepEqual(
    [guest.setSync('a', 1), guest.deleteSync('a'), await guest.set('a', 1), await guest.delete('a'), guest.setIgnored('b', 1), guest.deleteIgnored('b')],
    Array(6).fill(undefined),
  );
  const local = new ivm.Reference({});
  assert.deepEqual([local.setSync('a', 1), local.deleteSync('a'), await local.set('a', 1), await local.delete('a')], Array(4).fill(undefined));
  global.setSync('o', local);
  const fromGuest = await context.eval(
    '(async () => JSON.stringify([o.setSync("a", 1), o.deleteSync("a"), await o.set("a", 1), await o.delete("a")].map((v) => typeof v)))()',
    { promise: true },
  );
  assert.equal(fromGuest, JSON.stringify(Array(4).fill('undefined')));
  const guestToGuest = context.evalSync(`(() => {
    const i = new ivm.Isolate();
    const r = i.createContextSync().evalSync('({})', { reference: true });
    const out = [r.setSync('a', 1), r.deleteSync('a')].map((v) => typeof v);
    i.dispose();
    return JSON.stringify(out);
  })()`);
  assert.equal(guestToGuest, JSON.stringify(['undefined', 'undefined']));
});

test('functions from get and apply on a Node value stay functions, in Node and in guests', (t) => {
  const { context, global } = setup(t);
  const inc = (x) => x + 1;
  const local = new ivm.Reference({ inc, o: {} });
  assert.equal(local.getSync('inc'), inc);
  assert.ok(local.getSync('o') instanceof ivm.Reference);
  assert.equal(new ivm.Reference(() => inc).applySync(undefined, []), inc);
  global.setSync('local', local);
  assert.equal(context.evalSync('typeof local.getSync("inc")'), 'function');
  assert.equal(context.evalSync('local.getSync("inc")(41)'), 42);
  assert.equal(context.evalSync('local.getSync("o").typeof'), 'object');
});
