'use strict';
// Handles (References, ExternalCopies, Callbacks...) nested inside values that
// are structured-cloned keep being handles, in every direction, as in
// isolated-vm.
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const { setup, withLibrary } = require('./support/isolate');

test('Node -> guest: a Reference and an ExternalCopy nested in a {copy: true} value', (t) => {
  const { context, global } = withLibrary(t);
  global.setSync('x', { r: new ivm.Reference({ a: 1 }), e: new ivm.ExternalCopy({ b: 2 }) }, { copy: true });
  assert.equal(context.evalSync('x.r instanceof ivm.Reference'), true);
  assert.equal(context.evalSync('x.r.typeof'), 'object');
  assert.equal(context.evalSync('x.r.copySync().a'), 1);
  assert.equal(context.evalSync('x.e instanceof ivm.ExternalCopy'), true);
  assert.equal(context.evalSync('x.e.copy().b'), 2);
});

test('Node -> guest: a Reference to a guest value comes home as a Reference; Callbacks arrive as functions', (t) => {
  const { context, global } = withLibrary(t);
  const r = context.evalSync('globalThis.target = {q: 7}; target', { reference: true });
  global.setSync('x', { r, f: new ivm.Callback((n) => n * 2), list: [r] }, { copy: true });
  assert.equal(context.evalSync('x.r.deref() === target'), true);
  assert.equal(context.evalSync('x.list[0] === x.r'), true);
  assert.equal(context.evalSync('x.f(21)'), 42);
  // Maps, Sets and arrays carry them too; a handle as the whole value too.
  global.setSync('m', new Map([[1, new ivm.Reference(1)]]), { copy: true });
  assert.equal(context.evalSync('m.get(1).typeof'), 'number');
  global.setSync('s', [new ivm.Reference('s'), new ivm.ExternalCopy(2)], { copy: true });
  assert.equal(context.evalSync('s[0].typeof + s[1].copy()'), 'string2');
  global.setSync('whole', new ivm.Reference(5), { copy: true });
  assert.equal(context.evalSync('whole instanceof ivm.Reference'), true);
});

test('ExternalCopy contents keep nested handles, copied any number of times', (t) => {
  const inner = new ivm.ExternalCopy(5);
  const ec = new ivm.ExternalCopy({ e: inner, r: new ivm.Reference({ z: 3 }) });
  assert.equal(ec.copy().e.copy(), 5);
  assert.equal(ec.copy().e.copy(), 5);
  assert.deepEqual(ec.copy().r.deref(), { z: 3 });
  const { context, global } = withLibrary(t);
  global.setSync('ec', ec);
  assert.equal(context.evalSync('ec.copy().e.copy() + ec.copy().e.copy()'), 10);
  assert.equal(context.evalSync('ec.copy().r.typeof'), 'object');
  // Made by the guest, read by the guest and by Node.
  assert.equal(context.evalSync('new ivm.ExternalCopy({e: new ivm.ExternalCopy({z: 1})}).copy().e.copy().z'), 1);
  const out = context.evalSync('new ivm.ExternalCopy({e: new ivm.ExternalCopy({z: 1})})');
  assert.deepEqual(out.copy().e.copy(), { z: 1 });
});

test('guest -> Node: results, Callback arguments and Callback results carry handles', (t) => {
  const { context, global } = withLibrary(t);
  const v = context.evalSync('({r: new ivm.Reference({z: 1}), e: new ivm.ExternalCopy({z: 2})})', { copy: true });
  assert.ok(v.r instanceof ivm.Reference);
  assert.deepEqual(v.r.copySync(), { z: 1 });
  assert.ok(v.e instanceof ivm.ExternalCopy);
  assert.deepEqual(v.e.copy(), { z: 2 });
  global.setSync('cb', new ivm.Callback((o) => (o.r instanceof ivm.Reference ? o.r.typeof : 'plain')));
  assert.equal(context.evalSync('cb({r: new ivm.Reference(1)})'), 'number');
  global.setSync('cb2', new ivm.Callback(() => ({ r: new ivm.Reference({ a: 1 }) })));
  assert.equal(context.evalSync('cb2().r.typeof'), 'object');
  const f = context.evalSync('() => ({r: new ivm.Reference(3)})', { reference: true });
  assert.ok(f.applySync(undefined, [], { result: { copy: true } }).r instanceof ivm.Reference);
  const g = context.evalSync('(o) => o.r.typeof', { reference: true });
  assert.equal(g.applySync(undefined, [{ r: new ivm.Reference(3) }], { arguments: { copy: true } }), 'number');
  // A guest calling a Node function through a Reference, arguments copied.
  global.setSync('hf', new ivm.Reference((o) => (o.r instanceof ivm.Reference ? `ref ${o.r.typeof}` : 'plain')));
  assert.equal(context.evalSync('hf.applySync(undefined, [{r: new ivm.Reference(1)}], {arguments: {copy: true}})'), 'ref number');
});

test('guest -> guest: a nested isolate receives and returns nested handles', (t) => {
  const { context } = withLibrary(t);
  const out = context.evalSync(`
    const inner = new ivm.Isolate();
    const c = inner.createContextSync();
    c.global.setSync('ivm', ivm);
    c.global.setSync('w', {r: new ivm.Reference({a: 4}), e: new ivm.ExternalCopy('x')}, {copy: true});
    const a = c.evalSync('w.r.copySync().a + w.e.copy()');
    const v = c.evalSync('({r: new ivm.Reference({a: 5})})', {copy: true});
    const b = v.r.copySync().a;
    inner.dispose();
    a + ' ' + b
  `);
  assert.equal(out, '4x 5');
});

test('a Reference from isolate A nested in a copy sent to isolate B is usable in B', (t) => {
  const a = setup(t);
  const b = withLibrary(t);
  a.context.evalSync('globalThis.v = {k: 9}');
  const r = a.global.getSync('v');
  b.global.setSync('ab', { r, again: { r } }, { copy: true });
  assert.equal(b.context.evalSync('ab.r.getSync("k")'), 9);
  assert.equal(b.context.evalSync('ab.again.r === ab.r'), true);
  b.context.evalSync('ab.r.setSync("k", 10)');
  assert.equal(a.context.evalSync('v.k'), 10);
});

test('cycles and deep graphs holding handles keep their shape', (t) => {
  const { context, global } = withLibrary(t);
  const o = { r: new ivm.Reference(5) };
  o.self = o;
  o.r2 = o.r;
  global.setSync('cy', o, { copy: true });
  assert.equal(context.evalSync('cy.self === cy && cy.r === cy.r2 && cy.r.typeof'), 'number');
  let deep = { leaf: new ivm.ExternalCopy('bottom') };
  for (let i = 0; i < 2000; i++) deep = { next: deep };
  global.setSync('deep', deep, { copy: true });
  assert.equal(context.evalSync('let d = deep; while (d.next) d = d.next; d.leaf.copy()'), 'bottom');
  // The other way, a cycle through a handle made by the guest.
  const back = context.evalSync('const b = {r: new ivm.Reference(1)}; b.me = b; b.list = [b.r, b.r]; b', { copy: true });
  assert.equal(back.me, back);
  assert.equal(back.list[0], back.r);
  assert.ok(back.r instanceof ivm.Reference);
});

test('a released handle nested in a copy fails like one passed directly', (t) => {
  const { context, global } = withLibrary(t);
  const r = new ivm.Reference(1);
  r.release();
  assert.throws(() => global.setSync('z', r), { message: 'Reference has been released' });
  assert.throws(() => global.setSync('z', { r }, { copy: true }), { message: 'Reference has been released' });
  const e = new ivm.ExternalCopy(1);
  e.release();
  assert.throws(() => global.setSync('z', e), { message: 'Copy has been released' });
  assert.throws(() => global.setSync('z', { e }, { copy: true }), { message: 'Copy has been released' });
  assert.throws(() => new ivm.ExternalCopy({ e }), { message: 'Copy has been released' });
  // In the guest: out to Node, into an ExternalCopy, into another isolate.
  assert.throws(() => context.evalSync('const rr = new ivm.Reference(1); rr.release(); ({r: rr})', { copy: true }), {
    message: 'Reference has been released',
  });
  assert.throws(() => context.evalSync('const ee = new ivm.ExternalCopy(1); ee.release(); new ivm.ExternalCopy([ee])'), {
    message: 'Copy has been released',
  });
  assert.equal(context.evalSync('[typeof rr, typeof ee].join()'), 'object,object');
});

test('handles of a disposed isolate nested in a copy fail cleanly when used', (t) => {
  const { context, global } = withLibrary(t);
  const other = new ivm.Isolate();
  const c = other.createContextSync();
  const r = c.global;
  other.dispose();
  global.setSync('z', { r }, { copy: true });
  assert.equal(context.evalSync('z.r.typeof'), 'object');
  assert.equal(context.evalSync('try { z.r.getSync("a"); "no" } catch (e) { e.message }'), 'Isolate is disposed');
  const ec = new ivm.ExternalCopy({ r });
  assert.throws(() => ec.copy().r.getSync('a'), { message: 'Isolate is disposed' });
});

test('a disposed guest with handles out in copies never crashes the host', { timeout: 60000 }, () => {
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      let failures = 0;
      for (let i = 0; i < 30; i++) {
        const iso = new ivm.Isolate({ memoryLimit: 16 });
        const ctx = iso.createContextSync();
        ctx.global.setSync('ivm', ivm);
        const out = ctx.evalSync('const o = {r: new ivm.Reference({n: 1}), e: new ivm.ExternalCopy([1])}; o.o = o; new ivm.ExternalCopy(o)');
        const p = ctx.eval('for (;;) { new ivm.ExternalCopy({r: new ivm.Reference(1), e: new ivm.ExternalCopy(2)}).copy() }').catch(() => {});
        if (i % 2) await new Promise(setImmediate);
        iso.dispose();
        await p;
        const v = out.copy();
        if (v.o !== v || v.e.copy()[0] !== 1) throw new Error('bad copy');
        try { v.r.copySync(); } catch (e) { if (/disposed/.test(e.message)) failures++; else throw e; }
      }
      console.log('ok', failures);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok 30/);
});

test('handles inside a copy stay handles for Node-side References too', () => {
  const seen = [];
  const inner = new ivm.Reference({ a: 1 });
  const ref = new ivm.Reference((o) => seen.push(o));
  ref.applySync(undefined, [{ inner }], { arguments: { copy: true } });
  assert.equal(seen[0].inner, inner);
});

test('ExternalCopies nested in a guest-made ExternalCopy count against its memory limit', { timeout: 20000 }, (t) => {
  const { context } = withLibrary(t, { memoryLimit: 16 });
  // Releasing the inner copies must not free budget while the outer keeps
  // their memory alive.
  const out = context.evalSync(`
    let outer = null, i = 0;
    try {
      for (; i < 200; i++) {
        const inner = new ivm.ExternalCopy(new ArrayBuffer(1 << 20));
        outer = new ivm.ExternalCopy([inner, outer]);
        inner.release();
      }
      'no limit';
    } catch (e) { e.name + ' ' + i }
  `);
  assert.match(out, /^RangeError \d+$/);
  assert.ok(Number(out.split(' ')[1]) < 32, out);
});
