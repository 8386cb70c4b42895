'use strict';
// ES modules inside guests: a guest holding `ivm` compiles modules in an
// isolate it holds, links them with its own resolver (answers gathered before
// V8 links, as on the Node side), evaluates them and reads their namespaces.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup, withLibrary, ASYNC_TO_SYNC } = require('./support/isolate');

test('a guest compiles, links and evaluates two modules in its nested isolate (sync)', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const inner = new ivm.Isolate();
    const c = inner.createContextSync();
    const lib = inner.compileModuleSync('export const n = 20; export function twice(x) { return 2 * x; }', { filename: 'lib.mjs' });
    const main = inner.compileModuleSync('import { n, twice } from "./lib"; export const out = twice(n) + 2; globalThis.ran = out;');
    const asked = [];
    main.instantiateSync(c, (specifier, referrer) => {
      asked.push([specifier, referrer === main]);
      return lib;
    });
    const before = (() => { try { return main.namespace; } catch (e) { return e.message; } })();
    const result = main.evaluateSync();
    JSON.stringify({
      isModule: main instanceof ivm.Module,
      specifiers: main.dependencySpecifiers,
      libSpecifiers: lib.dependencySpecifiers,
      asked,
      before,
      result: result === undefined,
      out: main.namespace.getSync('out'),
      n: lib.namespace.getSync('n'),
      same: main.namespace === main.namespace,
      ran: c.global.getSync('ran'),
      relink: main.instantiateSync(c, () => { throw new Error('not asked again'); }) === undefined,
    });
  `);
  assert.deepEqual(JSON.parse(r), {
    isModule: true,
    specifiers: ['./lib'],
    libSpecifiers: [],
    asked: [['./lib', true]],
    before: 'Module has not been instantiated.',
    result: true,
    out: 42,
    n: 20,
    same: true,
    ran: 42,
    relink: true,
  });
});

test('the async variants, and the namespace read afterwards from async code', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  const r = await context.eval(
    `(async () => {
      const inner = new ivm.Isolate();
      const c = await inner.createContext();
      const dep = await inner.compileModule('export default await Promise.resolve("tla");');
      const main = await inner.compileModule('import d from "dep"; export const v = d + "!";');
      await main.instantiate(c, async (s) => { await null; return dep; });
      const result = await main.evaluate({ timeout: 1000 });
      // Reading a namespace is sync; after evaluate() it needs no call.
      return JSON.stringify([result === undefined, await main.namespace.get('v')]);
    })()`,
    { promise: true },
  );
  assert.deepEqual(JSON.parse(r), [true, 'tla!']);
  // The *Sync methods follow the async-to-sync rule of the other guest calls.
  context.evalSync('globalThis.b = new ivm.Isolate(); globalThis.bc = b.createContextSync();');
  await assert.rejects(context.eval('b.compileModuleSync("export default 1")'), { message: ASYNC_TO_SYNC });
  context.evalSync('globalThis.m = b.compileModuleSync("export default 1")');
  await assert.rejects(context.eval('m.instantiateSync(bc, () => {})'), { message: ASYNC_TO_SYNC });
  assert.equal(context.evalSync('m.instantiateSync(bc, () => {}); m.evaluateSync(); m.namespace.getSync("default")'), 1);
});

test('resolver errors: a non-Module, a throw, a rejection, a module of another isolate', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  context.evalSync(`
    globalThis.inner = new ivm.Isolate();
    globalThis.other = new ivm.Isolate();
    globalThis.c = inner.createContextSync();
    globalThis.main = inner.compileModuleSync('import x from "x"; export default x;');
    globalThis.dep = inner.compileModuleSync('export default 5;');
    globalThis.stranger = other.compileModuleSync('export default 6;');
    globalThis.attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
  `);
  const sync = JSON.parse(
    context.evalSync(`JSON.stringify([
      attempt(() => main.instantiateSync(c, () => ({}))),
      attempt(() => main.instantiateSync(c, () => { throw new RangeError('no way'); })),
      attempt(() => main.instantiateSync(c, () => stranger)),
      attempt(() => main.instantiateSync(c)),
      attempt(() => main.instantiateSync({}, () => dep)),
      attempt(() => main.evaluateSync()),
    ])`),
  );
  assert.deepEqual(sync, [
    'TypeError: Resolved dependency was not `Module`',
    'RangeError: no way',
    'TypeError: Resolved dependency belongs to another isolate',
    'TypeError: `instantiateSync` requires at least 2 parameters',
    'TypeError: `instantiateSync` requires parameter 1 to be a Context',
    'Error: Module is uninstantiated',
  ]);
  await assert.rejects(context.eval('main.instantiate(c, async () => 42)', { promise: true }), {
    name: 'TypeError',
    message: 'Resolved dependency was not `Module`',
  });
  await assert.rejects(context.eval('main.instantiate(c, () => Promise.reject(new Error("later")))', { promise: true }), {
    message: 'later',
  });
  // The failures left the module unlinked: linking can be retried.
  assert.equal(context.evalSync('main.instantiateSync(c, () => dep); main.evaluateSync(); main.namespace.getSync("default")'), 5);
});

test('a released module errors; evaluation errors and timeouts reach the guest', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
    const inner = new ivm.Isolate();
    const c = inner.createContextSync();
    const m = inner.compileModuleSync('export default 1;');
    const released = [m.release() === undefined];
    released.push(
      attempt(() => m.dependencySpecifiers),
      attempt(() => m.namespace),
      attempt(() => m.instantiateSync(c, () => m)),
      attempt(() => m.evaluateSync()),
      attempt(() => m.release()),
    );
    const thrower = inner.compileModuleSync('throw new SyntaxError("at top level");');
    thrower.instantiateSync(c, () => {});
    const loop = inner.compileModuleSync('for (;;) {}');
    loop.instantiateSync(c, () => {});
    JSON.stringify({
      released,
      syntax: attempt(() => inner.compileModuleSync('export default (')).split(':')[0],
      thrown: attempt(() => thrower.evaluateSync()),
      timeout: attempt(() => loop.evaluateSync({ timeout: 50 })),
      alive: c.evalSync('1 + 1'),
      meta: attempt(() => inner.compileModuleSync('', { meta: () => {} })),
      primitive: attempt(() => inner.compileScriptSync('1').runSync(42)),
    });
  `);
  assert.deepEqual(JSON.parse(r), {
    released: [
      true,
      'Error: Module has been released',
      'Error: Module has been released',
      'Error: Module has been released',
      'Error: Module has been released',
      'Error: Module has been released',
    ],
    syntax: 'SyntaxError',
    thrown: 'SyntaxError: at top level',
    timeout: 'Error: Script execution timed out.',
    alive: 2,
    meta: 'Error: `meta` is not available inside isolates',
    primitive: 'TypeError: `run` requires parameter 1 to be a Context',
  });
});

test('a guest compiles modules in an isolate Node handed it', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const b = setup(t);
  context.global.setSync('b', b.isolate);
  context.global.setSync('bc', b.context);
  const r = context.evalSync(`
    const m = b.compileModuleSync('export const x = globalThis.seed * 2;');
    m.instantiateSync(bc, () => {});
    m.evaluateSync();
    m.namespace.getSync('x');
  `);
  assert.equal(r, NaN);
  b.context.global.setSync('seed', 21);
  assert.equal(
    context.evalSync(`
      const m2 = b.compileModuleSync('export const y = globalThis.seed * 2;');
      m2.instantiateSync(bc, () => {});
      m2.evaluateSync();
      m2.namespace.getSync('y');
    `),
    42,
  );
  // Guest-made Modules cross to Node as Modules (test/module-transfer.test.js).
  const back = context.evalSync('m2');
  assert.equal(back.constructor.name, 'Module');
  assert.equal(back.namespace.getSync('y'), 42);
});
