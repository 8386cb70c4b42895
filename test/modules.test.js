'use strict';
const test = require('node:test');
const assert = require('node:assert');
const ivm = require('../lib');
const { setup } = require('./support/isolate');

// A resolver over a map of compiled modules.
function resolverOf(modules) {
  return (specifier) => {
    const m = modules[specifier];
    if (!m) throw new Error(`no module ${specifier}`);
    return m;
  };
}

test('compile, link, evaluate and read the namespace', async (t) => {
  const { isolate, context } = setup(t);
  const dep = isolate.compileModuleSync('export const b = 10; export default "dep";');
  const mod = await isolate.compileModule('import d, { b } from "./dep.mjs"; export const a = b + 1; export { d };', {
    filename: 'main.mjs',
  });
  assert.deepStrictEqual(mod.dependencySpecifiers, ['./dep.mjs']);
  assert.deepStrictEqual(dep.dependencySpecifiers, []);
  const seen = [];
  await mod.instantiate(context, (specifier, referrer) => {
    seen.push([specifier, referrer === mod]);
    return dep;
  });
  assert.deepStrictEqual(seen, [['./dep.mjs', true]]);
  assert.strictEqual(await mod.evaluate(), undefined);
  const ns = mod.namespace;
  assert.ok(ns instanceof ivm.Reference);
  assert.strictEqual(ns.getSync('a'), 11);
  assert.strictEqual(ns.getSync('d'), 'dep');
  assert.strictEqual(dep.namespace.getSync('default'), 'dep');
  assert.strictEqual(mod.namespace, ns);
});

test('a 100-module graph', async (t) => {
  const { isolate, context } = setup(t);
  const modules = {};
  for (let i = 0; i < 100; i++) {
    const imports = [];
    if (i + 1 < 100) imports.push(`import { v as v${i + 1} } from "m${i + 1}";`);
    if (i + 2 < 100) imports.push(`import { v as w${i + 2} } from "m${i + 2}";`);
    const expr = i + 1 < 100 ? `v${i + 1} + 1` : '0';
    modules[`m${i}`] = isolate.compileModuleSync(`${imports.join('\n')}\nexport const v = ${expr};`, { filename: `m${i}.mjs` });
  }
  let calls = 0;
  const resolve = resolverOf(modules);
  await modules.m0.instantiate(context, async (s, r) => {
    calls++;
    return resolve(s, r);
  });
  assert.strictEqual(calls, 197);
  await modules.m0.evaluate();
  assert.strictEqual(modules.m0.namespace.getSync('v'), 99);
  assert.strictEqual(modules.m50.namespace.getSync('v'), 49);
});

test('cycles link and evaluate', (t) => {
  const { isolate, context } = setup(t);
  const a = isolate.compileModuleSync('import { b } from "b"; export const a = "a"; export function get() { return b; }');
  const b = isolate.compileModuleSync('import { a, get } from "a"; export const b = "b"; export const both = () => a + get();');
  a.instantiateSync(context, resolverOf({ a, b }));
  a.evaluateSync();
  assert.strictEqual(context.evalClosureSync('return $0.both()', [b.namespace.derefInto()]), 'ab');
});

test('instantiating a linked module is a no-op; evaluate needs instantiate', async (t) => {
  const { isolate, context } = setup(t);
  const m = isolate.compileModuleSync('export default 1;');
  assert.throws(() => m.evaluateSync(), { message: 'Module is uninstantiated' });
  await assert.rejects(m.evaluate(), { message: 'Module is uninstantiated' });
  assert.throws(() => m.namespace, { message: 'Module has not been instantiated.' });
  m.instantiateSync(context, () => assert.fail('no imports to resolve'));
  assert.throws(() => m.namespace, { message: 'Module has not been instantiated.' });
  let called = false;
  m.instantiateSync(context, () => {
    called = true;
  });
  await m.instantiate(context, () => {
    called = true;
  });
  assert.strictEqual(called, false);
  m.evaluateSync();
  assert.strictEqual(m.namespace.getSync('default'), 1);
});

test('a resolver that throws synchronously rejects cleanly', async (t) => {
  const { isolate, context } = setup(t);
  const m = isolate.compileModuleSync('import x from "x"; export default x;');
  await assert.rejects(
    m.instantiate(context, () => {
      throw new RangeError('no such module');
    }),
    { name: 'RangeError', message: 'no such module' },
  );
  assert.throws(
    () =>
      m.instantiateSync(context, () => {
        throw new Error('sync no');
      }),
    { message: 'sync no' },
  );
  // Still usable: link it properly now.
  const x = isolate.compileModuleSync('export default 5;');
  m.instantiateSync(context, () => x);
  m.evaluateSync();
  assert.strictEqual(m.namespace.getSync('default'), 5);
});

test('a rejecting resolver, then a successful retry', async (t) => {
  const { isolate, context } = setup(t);
  const m = isolate.compileModuleSync('import { y } from "y"; export const z = y * 2;');
  await assert.rejects(m.instantiate(context, async () => Promise.reject(new Error('later no'))), { message: 'later no' });
  assert.throws(() => m.evaluateSync(), { message: 'Module is uninstantiated' });
  const y = isolate.compileModuleSync('export const y = 21;');
  await m.instantiate(context, async () => y);
  await m.evaluate();
  assert.strictEqual(m.namespace.getSync('z'), 42);
});

test('a resolver must return Modules', async (t) => {
  const { isolate, context } = setup(t);
  const m = isolate.compileModuleSync('import "a";');
  await assert.rejects(m.instantiate(context, () => ({})), { name: 'TypeError', message: 'Resolved dependency was not `Module`' });
  assert.throws(() => m.instantiateSync(context, async () => m), {
    name: 'TypeError',
    message: 'Resolved dependency was not `Module`',
  });
  const other = new ivm.Isolate();
  t.after(() => other.dispose());
  const foreign = other.compileModuleSync('export default 1;');
  await assert.rejects(m.instantiate(context, () => foreign), { name: 'TypeError' });
  assert.throws(() => m.instantiate({}, () => m), { name: 'TypeError' });
  assert.throws(() => m.instantiate(context, 'nope'), { name: 'TypeError' });
});

test('a missing export fails linking; a throwing module rejects evaluate', async (t) => {
  const { isolate, context } = setup(t);
  const dep = isolate.compileModuleSync('export const a = 1;');
  const m = isolate.compileModuleSync('import { nope } from "dep";');
  assert.throws(() => m.instantiateSync(context, () => dep), { name: 'SyntaxError', message: /nope/ });
  const bad = isolate.compileModuleSync('throw new TypeError("boom");');
  bad.instantiateSync(context, () => dep);
  await assert.rejects(bad.evaluate(), { name: 'TypeError', message: 'boom' });
  assert.throws(() => isolate.compileModuleSync('export const = 1;', { filename: 'broken.mjs' }), {
    name: 'SyntaxError',
    message: /broken\.mjs:1/,
  });
});

test('evaluation that times out leaves the isolate usable', async (t) => {
  const { isolate, context } = setup(t);
  const spin = isolate.compileModuleSync('for (;;) {}');
  spin.instantiateSync(context, () => null);
  assert.throws(() => spin.evaluateSync({ timeout: 50 }), { message: 'Script execution timed out.' });
  const wait = isolate.compileModuleSync('await new Promise(() => {}); export const never = 1;');
  wait.instantiateSync(context, () => null);
  await assert.rejects(wait.evaluate({ timeout: 50 }), { message: 'Script execution timed out.' });
  assert.strictEqual(context.evalSync('1 + 1'), 2);
  assert.strictEqual(await context.eval('2 + 2'), 4);
  const ok = isolate.compileModuleSync('export default await Promise.resolve(3);');
  ok.instantiateSync(context, () => null);
  await ok.evaluate({ timeout: 1000 });
  assert.strictEqual(ok.namespace.getSync('default'), 3);
});

test('top-level await waits for host callbacks and resolves after completion', async (t) => {
  const { isolate, context, global } = setup(t);
  global.setSync('later', new ivm.Callback((x) => new Promise((r) => setTimeout(() => r(x * 2), 20)), { async: true }));
  const m = isolate.compileModuleSync('export const v = await later(21); export const after = v + 1;');
  m.instantiateSync(context, () => null);
  assert.strictEqual(await m.evaluate({ timeout: 5000 }), undefined);
  assert.strictEqual(m.namespace.getSync('v'), 42);
  assert.strictEqual(m.namespace.getSync('after'), 43);
  // evaluateSync waits too, for what can settle while Node is blocked.
  global.setSync('now', (x) => x * 3);
  const n = isolate.compileModuleSync('export const w = await Promise.resolve(now(5)).then((x) => x + 1);');
  n.instantiateSync(context, () => null);
  n.evaluateSync();
  assert.strictEqual(n.namespace.getSync('w'), 16);
  // Node's event loop cannot run during evaluateSync: once the isolate has
  // nothing to do, evaluateSync returns (as isolated-vm's does) and the
  // evaluation goes on; evaluate() then waits for the rest.
  const blocked = isolate.compileModuleSync('export const w = await later(5);');
  blocked.instantiateSync(context, () => null);
  const start = Date.now();
  assert.strictEqual(blocked.evaluateSync({ timeout: 10000 }), undefined);
  assert.ok(Date.now() - start < 5000);
  assert.strictEqual(await blocked.evaluate({ timeout: 5000 }), undefined);
  assert.strictEqual(blocked.namespace.getSync('w'), 10);
  // Also with no timeout, for a promise nothing ever settles.
  const never = isolate.compileModuleSync('await new Promise(() => {}); export const n = 1;');
  never.instantiateSync(context, () => null);
  assert.strictEqual(never.evaluateSync(), undefined);
  assert.strictEqual(context.evalSync('1 + 1'), 2);
  // A rejected top-level await rejects evaluate.
  const r = isolate.compileModuleSync('await Promise.reject(new RangeError("tla no"));');
  r.instantiateSync(context, () => null);
  await assert.rejects(r.evaluate(), { name: 'RangeError', message: 'tla no' });
});

test('import.meta is filled by the meta callback', (t) => {
  const { isolate, context } = setup(t);
  const calls = [];
  const m = isolate.compileModuleSync('export const url = import.meta.url; export const again = import.meta.url;', {
    filename: 'file:///app/main.mjs',
    meta(meta) {
      calls.push(meta instanceof ivm.Reference);
      meta.setSync('url', 'file:///app/main.mjs');
    },
  });
  m.instantiateSync(context, () => null);
  m.evaluateSync();
  assert.deepStrictEqual(calls, [true]);
  assert.strictEqual(m.namespace.getSync('url'), 'file:///app/main.mjs');
  const plain = isolate.compileModuleSync('export const keys = Object.keys(import.meta).length;');
  plain.instantiateSync(context, () => null);
  plain.evaluateSync();
  assert.strictEqual(plain.namespace.getSync('keys'), 0);
  const throwing = isolate.compileModuleSync('let e; try { import.meta; } catch (x) { e = x.message; } export { e };', {
    meta() {
      throw new Error('meta failed');
    },
  });
  throwing.instantiateSync(context, () => null);
  throwing.evaluateSync();
  assert.strictEqual(throwing.namespace.getSync('e'), 'meta failed');
  assert.throws(() => isolate.compileModuleSync('1', { meta: 1 }), TypeError);
});

test('released modules', (t) => {
  const { isolate, context } = setup(t);
  const m = isolate.compileModuleSync('export default 1;');
  m.release();
  assert.throws(() => m.release(), { message: 'Module has been released' });
  assert.throws(() => m.dependencySpecifiers, { message: 'Module has been released' });
  assert.throws(() => m.namespace, { message: 'Module has been released' });
  assert.throws(() => m.instantiateSync(context, () => null), { message: 'Module has been released' });
  assert.throws(() => m.evaluateSync(), { message: 'Module has been released' });
  const user = isolate.compileModuleSync('import x from "x";');
  assert.throws(() => user.instantiateSync(context, () => m), { message: 'Module has been released' });
});

test('dynamic import() through importModuleDynamically', async (t) => {
  const requests = [];
  const sources = {
    lib: 'import { base } from "base"; export const value = base + 1;',
    base: 'export const base = 41;',
  };
  const cache = {};
  let main;
  const env = setup(t, {
    async importModuleDynamically(specifier, referrer) {
      requests.push([specifier, referrer === undefined ? 'none' : referrer === main ? 'main' : 'other']);
      if (!(specifier in sources)) throw new Error(`Cannot find module '${specifier}'`);
      cache[specifier] ??= env.isolate.compileModuleSync(sources[specifier]);
      return cache[specifier];
    },
  });
  const { isolate, context } = env;
  main = isolate.compileModuleSync(`
    const lib = await import('lib');
    let missing;
    try { await import('nope'); } catch (e) { missing = e.message; }
    export const value = lib.value;
    export { missing };
  `);
  main.instantiateSync(context, () => null);
  await main.evaluate({ timeout: 5000 });
  assert.strictEqual(main.namespace.getSync('value'), 42);
  assert.strictEqual(main.namespace.getSync('missing'), "Cannot find module 'nope'");
  assert.deepStrictEqual(requests, [
    ['lib', 'main'],
    ['base', 'other'],
    ['nope', 'main'],
  ]);
  // From a script: no referrer module.
  const v = await context.eval('import("lib").then((m) => m.value)', { promise: true });
  assert.strictEqual(v, 42);
  assert.deepStrictEqual(requests[3], ['lib', 'none']);
});

test('without importModuleDynamically, import() rejects in the guest', async (t) => {
  const { context } = setup(t);
  const msg = await context.eval('import("x").then(() => "loaded", (e) => e.message)', { promise: true });
  assert.strictEqual(msg, 'Not supported');
});

test('a non-Module from importModuleDynamically rejects the import', async (t) => {
  const { context } = setup(t, { importModuleDynamically: () => 42 });
  const msg = await context.eval('import("x").then(() => "loaded", (e) => e.constructor.name + ": " + e.message)', {
    promise: true,
  });
  assert.strictEqual(msg, 'TypeError: Resolved dependency was not `Module`');
});

test('onUnhandledRejection reports guest rejections instead of failing later calls', async (t) => {
  const reasons = [];
  let notify;
  const reported = new Promise((r) => {
    notify = r;
  });
  const { context } = setup(t, {
    onUnhandledRejection(reason) {
      reasons.push(reason);
      if (reasons.length === 2) notify();
    },
  });
  context.evalSync('Promise.reject(new TypeError("lost")); const p = Promise.reject(1); p.catch(() => {}); Promise.reject("two")');
  assert.strictEqual(context.evalSync('1 + 1'), 2);
  await reported;
  assert.ok(reasons[0] instanceof TypeError);
  assert.strictEqual(reasons[0].message, 'lost');
  assert.strictEqual(reasons[1], 'two');
  assert.throws(() => new ivm.Isolate({ onUnhandledRejection: 1 }), TypeError);
  assert.throws(() => new ivm.Isolate({ importModuleDynamically: 'x' }), TypeError);
});

test('examples/modules.js runs', { timeout: 30000 }, () => {
  const { spawnSync } = require('child_process');
  const path = require('path');
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'modules.js')], { encoding: 'utf8', timeout: 25000 });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /HELLO, MODULES from file:\/\/\/app\.mjs/);
  assert.match(r.stdout, /cached data rejected: false/);
});

test('dispose races with linking, top-level await and import() never crash the host', { timeout: 90000 }, () => {
  const { spawnSync } = require('child_process');
  const path = require('path');
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      let settled = 0;
      let completed = 0;
      for (let i = 0; i < 60; i++) {
        let isolate;
        const dep = () => isolate.compileModuleSync('export const d = await later(1);');
        isolate = new ivm.Isolate({
          memoryLimit: 16,
          importModuleDynamically: async () => { await new Promise(setImmediate); return dep(); },
          onUnhandledRejection: () => {},
        });
        const context = isolate.createContextSync();
        context.global.setSync('later', new ivm.Callback((x) => new Promise((r) => setImmediate(r, x)), { async: true }));
        const m = isolate.compileModuleSync('import { d } from "dep"; const x = await import("dyn"); Promise.reject(1); export const v = d + x.d;', {
          meta: (meta) => meta.setSync('i', i),
        });
        const work = (async () => {
          await m.instantiate(context, async () => { await new Promise(setImmediate); return dep(); });
          await m.evaluate({ timeout: 2000 });
        })().then(() => { completed++; return 1; }, (e) => {
          if (!/disposed|released/i.test(e.message)) throw e;
          return 1;
        });
        for (let k = 0; k < (i % 6) * 4; k++) await new Promise(setImmediate);
        if (i % 6 === 5) await Promise.race([work, new Promise((r) => setTimeout(r, 20 * (i % 4)))]);
        isolate.dispose();
        settled += await work;
      }
      console.log('settled', settled, 'completed', completed);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 80000 });
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  const [, settled, completed] = /settled (\d+) completed (\d+)/.exec(r.stdout);
  assert.strictEqual(Number(settled), 60);
  assert.ok(Number(completed) > 0, r.stdout);
});

test('evaluating a module from inside its own evaluation is refused (no V8 fatal error)', { timeout: 30000 }, () => {
  const { spawnSync } = require('child_process');
  const path = require('path');
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    let m;
    context.global.setSync('again', () => {
      try { m.evaluateSync(); return 'evaluated'; } catch (e) { return e.message; }
    });
    m = isolate.compileModuleSync('export const r = again();');
    m.instantiateSync(context, () => null);
    m.evaluateSync();
    console.log(JSON.stringify([m.namespace.getSync('r'), isolate.isDisposed, context.evalSync('1 + 1')]));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 25000 });
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.deepStrictEqual(JSON.parse(r.stdout), ['Module is already being evaluated', false, 2]);
});
