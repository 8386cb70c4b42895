'use strict';
// Modules are transferable, like Contexts and Scripts: each side gets a
// working Module for the same V8 module. Whether it is linked or evaluated is
// V8's state, seen by every copy; release() drops one copy only.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const { withLibrary } = require('./support/isolate');

// Node's library does not export Module (isolated-vm does not either).
const isModule = (v) => v !== null && typeof v === 'object' && v.constructor.name === 'Module' && typeof v.instantiateSync === 'function';
const guestMessage = (context, code) => context.evalSync(`(() => { try { ${code}; return 'no error'; } catch (e) { return e.message; } })()`);

test('Node -> guest: the guest gets a Module it can link, evaluate and read', (t) => {
  const { isolate, context, global } = withLibrary(t);
  const dep = isolate.compileModuleSync('export default 41;');
  const m = isolate.compileModuleSync('import d from "dep"; export const x = d + 1;');
  global.setSync('ctx', context);
  global.setSync('dep', dep);
  global.setSync('m', m);
  assert.equal(context.evalSync('m.constructor.name + " " + (m instanceof ivm.Module) + " " + typeof m.instantiateSync'), 'Module true function');
  assert.equal(context.evalSync('JSON.stringify(m.dependencySpecifiers)'), '["dep"]');
  assert.equal(context.evalSync('m.instantiateSync(ctx, (s, r) => s === "dep" && r === m ? dep : null); m.evaluateSync(); m.namespace.getSync("x")'), 42);
  // The module evaluated in the guest is evaluated for Node's handle too.
  assert.equal(m.namespace.getSync('x'), 42);
  assert.equal(dep.namespace.getSync('default'), 41);
});

test('guest -> Node: a module compiled in a nested isolate comes out as a Module', (t) => {
  const { context } = withLibrary(t);
  const m = context.evalSync('globalThis.inner = new ivm.Isolate(); inner.compileModuleSync("import a from \\"a\\"; export default a * 2")');
  assert.ok(isModule(m));
  assert.deepEqual(m.dependencySpecifiers, ['a']);
  // Nested inside a copied result, with a context of the same isolate.
  const [c, a] = context.evalSync('[inner.createContextSync(), inner.compileModuleSync("export default 21")]', { copy: true });
  assert.ok(c instanceof ivm.Context);
  assert.ok(isModule(a));
  m.instantiateSync(c, () => a);
  m.evaluateSync();
  assert.equal(m.namespace.getSync('default'), 42);
});

test('a transferred copy of a linked module does not link again; namespace follows evaluation', (t) => {
  const { isolate, context, global } = withLibrary(t);
  const dep = isolate.compileModuleSync('export default 1;');
  const m = isolate.compileModuleSync('import d from "dep"; export const y = d + 1;');
  m.instantiateSync(context, () => dep);
  global.setSync('ctx', context);
  global.setSync('m', m);
  // Linked through Node's handle: the guest's copy never asks its resolver.
  assert.equal(context.evalSync('m.instantiateSync(ctx, () => { throw new Error("resolver called"); })'), undefined);
  assert.equal(guestMessage(context, 'm.namespace'), 'Module has not been instantiated.');
  m.evaluateSync();
  assert.equal(context.evalSync('m.namespace.getSync("y")'), 2);
  // The other way round: a copy links, the original's resolver is not asked.
  const a = isolate.compileModuleSync('import d from "dep"; export default d;');
  global.setSync('a', a);
  global.setSync('dep', dep);
  context.evalSync('a.instantiateSync(ctx, () => dep)');
  let asked = false;
  a.instantiateSync(context, () => {
    asked = true;
    return dep;
  });
  assert.equal(asked, false);
  // A copy that comes back to Node is a new Module for the same module.
  const back = context.evalSync('a');
  assert.ok(isModule(back) && back !== a);
  back.evaluateSync();
  assert.equal(a.namespace.getSync('default'), 1);
});

test('async instantiate of a copy linked elsewhere resolves without asking', async (t) => {
  const { isolate, context, global } = withLibrary(t);
  const dep = isolate.compileModuleSync('export default 5;');
  const m = isolate.compileModuleSync('import d from "dep"; export default d;');
  global.setSync('m', m);
  const copy = context.evalSync('m');
  await copy.instantiate(context, async () => dep);
  await m.instantiate(context, () => Promise.reject(new Error('asked')));
  await m.evaluate();
  assert.equal(copy.namespace.getSync('default'), 5);
});

test('modules nested in structured clones and ExternalCopies, Node <-> guest', (t) => {
  const { isolate, context, global } = withLibrary(t);
  const m = isolate.compileModuleSync('export const z = 3;');
  global.setSync('o', { m, list: [m] }, { copy: true });
  assert.equal(context.evalSync('(o.m instanceof ivm.Module) + " " + (o.list[0] === o.m)'), 'true true');
  const ec = new ivm.ExternalCopy({ m });
  const c1 = ec.copy();
  const c2 = ec.copy();
  assert.ok(isModule(c1.m) && isModule(c2.m));
  global.setSync('ec', ec);
  assert.equal(context.evalSync('ec.copy().m.constructor.name'), 'Module');
  c1.m.instantiateSync(context, () => null);
  c2.m.evaluateSync();
  assert.equal(m.namespace.getSync('z'), 3);
  // Out of the guest inside a copy.
  const out = context.evalSync('({ mod: o.m })', { copy: true });
  assert.ok(isModule(out.mod));
  assert.equal(out.mod.namespace.getSync('z'), 3);
});

test('guest -> guest: a module crosses into a nested isolate, directly and in a copy', (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const owner = new ivm.Isolate();
    const oc = owner.createContextSync();
    const m = owner.compileModuleSync('export default "hi"');
    const other = new ivm.Isolate();
    const c = other.createContextSync();
    c.global.setSync('ivm', ivm);
    c.global.setSync('m', m);
    c.global.setSync('o', { m, oc }, { copy: true });
    c.global.setSync('oc', oc);
    const kinds = c.evalSync('m.constructor.name + " " + (o.m instanceof ivm.Module) + " " + JSON.stringify(o.m.dependencySpecifiers)');
    const ns = c.evalSync('o.m.instantiateSync(oc, () => null); o.m.evaluateSync(); m.namespace.getSync("default")');
    JSON.stringify({ kinds, ns, here: m.namespace.getSync('default') });
  `);
  assert.deepEqual(JSON.parse(r), { kinds: 'Module true []', ns: 'hi', here: 'hi' });
});

test('modules as Reference arguments and results', (t) => {
  const { isolate, context } = withLibrary(t);
  const m = isolate.compileModuleSync('import "x"; export default 1;');
  const fn = context.evalSync('(mod) => mod.constructor.name + ":" + mod.dependencySpecifiers.join()', { reference: true });
  assert.equal(fn.applySync(undefined, [m]), 'Module:x');
  const id = context.evalSync('(mod) => mod', { reference: true });
  const back = id.applySync(undefined, [m]);
  assert.ok(isModule(back));
  assert.deepEqual(back.dependencySpecifiers, ['x']);
  // A guest calling a Node function with a module it compiled.
  let got;
  context.global.setSync('take', new ivm.Reference((mod) => {
    got = mod;
  }));
  context.evalSync('take.applySync(undefined, [new ivm.Isolate().compileModuleSync("export {}")])');
  assert.ok(isModule(got));
});

test('release() drops one copy: the others keep working; a released copy refuses to cross', (t) => {
  const { isolate, context, global } = withLibrary(t);
  const m = isolate.compileModuleSync('export const v = 7;');
  global.setSync('m', m);
  const copy = context.evalSync('m');
  copy.release();
  assert.throws(() => copy.dependencySpecifiers, { message: 'Module has been released' });
  assert.throws(() => copy.namespace, { message: 'Module has been released' });
  assert.throws(() => global.setSync('x', copy), { message: 'Module has been released' });
  assert.throws(() => new ivm.ExternalCopy({ copy }), { message: 'Module has been released' });
  // The original and the guest's copy still work.
  m.instantiateSync(context, () => null);
  assert.equal(context.evalSync('m.evaluateSync(); m.namespace.getSync("v")'), 7);
  // The guest releases its copy: Node's stays.
  assert.equal(guestMessage(context, 'm.release(); m.dependencySpecifiers'), 'Module has been released');
  assert.equal(m.namespace.getSync('v'), 7);
  // Node releases its last handle while the guest has another.
  const n = isolate.compileModuleSync('export const w = 8;');
  global.setSync('n', n);
  n.release();
  global.setSync('ctx', context);
  assert.equal(context.evalSync('n.instantiateSync(ctx, () => null); n.evaluateSync(); n.namespace.getSync("w")'), 8);
  // A module released before the guest links with it is refused as a dependency.
  const dep = isolate.compileModuleSync('export default 1;');
  const top = isolate.compileModuleSync('import d from "d"; export default d;');
  dep.release();
  assert.throws(() => top.instantiateSync(context, () => dep), { message: 'Module has been released' });
});

test('a module of a disposed isolate fails cleanly in Node and in guests', (t) => {
  const { context, global } = withLibrary(t);
  const other = new ivm.Isolate();
  const oc = other.createContextSync();
  const m = other.compileModuleSync('import "q"; export default 1;');
  other.dispose();
  global.setSync('m', m);
  global.setSync('oc', oc);
  assert.deepEqual(m.dependencySpecifiers, ['q']);
  assert.equal(context.evalSync('m.dependencySpecifiers[0]'), 'q');
  assert.throws(() => m.instantiateSync(oc, () => m), { message: 'Isolate is disposed' });
  assert.throws(() => m.evaluateSync(), { message: 'Isolate is disposed' });
  assert.throws(() => m.namespace, { message: 'Isolate is disposed' });
  assert.equal(guestMessage(context, 'm.evaluateSync()'), 'Isolate is disposed');
  assert.equal(guestMessage(context, 'm.namespace'), 'Isolate is disposed');
  assert.equal(guestMessage(context, 'm.instantiateSync(oc, () => m)'), 'Isolate is disposed');
  assert.equal(guestMessage(context, 'm.release()'), 'no error');
});

test('a module used with a context of another isolate: "Invalid context", in Node and in guests', async (t) => {
  const { isolate, context, global } = withLibrary(t);
  const other = new ivm.Isolate();
  t.after(() => other.dispose());
  const oc = other.createContextSync();
  const m = isolate.compileModuleSync('export default 1;');
  global.setSync('m', m);
  const copy = context.evalSync('m');
  assert.throws(() => copy.instantiateSync(oc, () => null), { message: 'Invalid context' });
  await assert.rejects(copy.instantiate(oc, () => null), { message: 'Invalid context' });
  global.setSync('oc', oc);
  assert.equal(guestMessage(context, 'm.instantiateSync(oc, () => null)'), 'Invalid context');
  // A dependency of another isolate is refused too.
  const top = isolate.compileModuleSync('import x from "x"; export default x;');
  global.setSync('top', top);
  global.setSync('foreign', other.compileModuleSync('export default 2'));
  assert.equal(guestMessage(context, 'top.instantiateSync(oc, () => foreign)'), 'Invalid context');
  assert.throws(() => top.instantiateSync(context, () => context.evalSync('foreign')), { message: 'Resolved dependency belongs to another isolate' });
});

test('disposing an isolate while its modules are out in guests and being evaluated never crashes the host', { timeout: 60000 }, () => {
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      let failures = 0;
      for (let i = 0; i < 20; i++) {
        const host = new ivm.Isolate();
        const hc = host.createContextSync();
        hc.global.setSync('ivm', ivm);
        const owner = new ivm.Isolate({ memoryLimit: 16 });
        const oc = owner.createContextSync();
        const m = owner.compileModuleSync('for (;;) {}');
        m.instantiateSync(oc, () => null);
        hc.global.setSync('m', m);
        hc.global.setSync('o', { m, list: [m] }, { copy: true });
        const p = hc.eval('m.evaluate().then(() => "done", (e) => e.message)', { promise: true }).catch((e) => e.message);
        if (i % 2) await new Promise(setImmediate);
        owner.dispose();
        const r = await p;
        if (!/disposed/.test(r)) throw new Error('unexpected: ' + r);
        failures++;
        const after = hc.evalSync('(() => { try { o.m.evaluateSync(); return "ran"; } catch (e) { return e.message; } })()');
        if (after !== 'Isolate is disposed') throw new Error('after: ' + after);
        m.release();
        host.dispose();
      }
      console.log('ok', failures);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok 20/);
});
