'use strict';
// ExternalCopy inside guests, and ArrayBuffer memory moved between Node and
// isolates (transferList / transferOut / transferIn).
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

test('an ExternalCopy passed in is an ExternalCopy object in the guest', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const ec = new ivm.ExternalCopy({ rows: [1, 2, 3] });
  global.setSync('ec', ec);
  assert.equal(context.evalSync('const a = ec.copy(); const b = ec.copy(); a.rows.length + ":" + (a !== b) + ":" + (ec instanceof ec.constructor)'), '3:true:true');
  assert.equal(context.evalSync('Object.getOwnPropertyNames(Object.getPrototypeOf(ec)).sort().join()'), 'constructor,copy,copyInto,release');
  // As an argument, and as a Callback's result.
  const fn = context.evalSync('(function (c) { return c.copy().rows[2]; })', { reference: true });
  assert.equal(fn.applySync(undefined, [ec]), 3);
  global.setSync('give', () => new ivm.ExternalCopy('from a callback'));
  assert.equal(context.evalSync('give().copy()'), 'from a callback');
  // Node's handle and the guest's are separate: releasing one keeps the other.
  ec.release();
  assert.throws(() => ec.copy(), { message: 'Copy has been released' });
  assert.equal(context.evalSync('ec.copy().rows[0]'), 1);
  assert.equal(context.evalSync('ec.release(); try { ec.copy() } catch (e) { e.message }'), 'Copy has been released');
  assert.equal(context.evalSync('try { ec.release() } catch (e) { e.message }'), 'Copy has been released');
  assert.equal(context.evalSync('try { ec.copyInto() } catch (e) { e.message }'), 'Copy has been released');
});

test('guests construct ExternalCopies, and send them and copyInto results out', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  global.setSync('seed', new ivm.ExternalCopy(0));
  context.evalSync('globalThis.ExternalCopy = seed.constructor');
  assert.equal(context.evalSync('try { ExternalCopy(1) } catch (e) { e.name + ": " + e.message }'),
    'TypeError: `ExternalCopy` must be called with `new`');
  const out = context.evalSync('new ExternalCopy({ made: "inside", when: new Date(7) })');
  assert.ok(out instanceof ivm.ExternalCopy);
  const v = out.copy();
  assert.equal(v.made, 'inside');
  assert.equal(v.when.getTime(), 7);
  // A copyInto() result materialises where it arrives, once.
  const seen = [];
  global.setSync('take', (x) => { seen.push(x); });
  const r = context.evalSync(
    'const into = new ExternalCopy([1, 2]).copyInto(); take(into); try { take(into); "reused" } catch (e) { e.message }',
  );
  assert.equal(r, 'The return value of `copyInto()` should only be used once');
  assert.deepEqual(seen, [[1, 2]]);
  assert.equal(context.evalSync('typeof ExternalCopy.totalExternalSize'), 'number');
  assert.equal(context.evalSync('try { new ExternalCopy(Symbol()) } catch (e) { e.message }'), 'Unsupported type');
  assert.match(context.evalSync('try { new ExternalCopy(() => 1) } catch (e) { e.message }'), /could not be cloned/);
  assert.equal(context.evalSync('try { new ExternalCopy(1, { transferList: [1] }) } catch (e) { e.name + ": " + e.message }'),
    'TypeError: Non-ArrayBuffer passed in `transferList`');
  // A Node copyInto() result is single-use too.
  const into = new ivm.ExternalCopy({ n: 1 }).copyInto();
  global.setSync('once', into);
  assert.throws(() => global.setSync('twice', into), { message: 'The return value of `copyInto()` should only be used once' });
  assert.equal(context.evalSync('once.n'), 1);
});

// Until the guest library is installed, guests reach the constructor through
// an instance they were given.
function exposeConstructor(context, global) {
  global.setSync('seed', new ivm.ExternalCopy(0));
  context.evalSync('globalThis.ExternalCopy = seed.constructor; delete globalThis.seed');
}

test('typed arrays and DataViews keep type, offset and length both ways', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  exposeConstructor(context, global);
  const ab = new ArrayBuffer(32);
  new Uint8Array(ab).forEach((_, i, a) => { a[i] = i; });
  global.setSync('f32', new ivm.ExternalCopy(new Float32Array(ab, 8, 4)).copyInto());
  global.setSync('dv', new ivm.ExternalCopy(new DataView(ab, 4, 6)).copyInto());
  assert.equal(context.evalSync('[f32.constructor.name, f32.byteOffset, f32.length, f32.buffer.byteLength].join()'), 'Float32Array,8,4,32');
  assert.equal(context.evalSync('[dv.constructor.name, dv.byteOffset, dv.byteLength, dv.getUint8(0)].join()'), 'DataView,4,6,4');
  const back = context.evalSync('const u16 = new Uint16Array(new ArrayBuffer(20), 2, 3); u16[0] = 513; new ExternalCopy(u16)').copy();
  assert.ok(back instanceof Uint16Array);
  assert.deepEqual([back.byteOffset, back.length, back.buffer.byteLength, back[0]], [2, 3, 20, 513]);
  const big = context.evalSync('new ExternalCopy(new BigInt64Array([-5n, 6n]))').copy();
  assert.deepEqual([...big], [-5n, 6n]);
});

test('ArrayBuffers move between Node and a guest without staying in the source', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  exposeConstructor(context, global);
  const ab = new ArrayBuffer(1 << 20);
  new Uint8Array(ab)[12345] = 42;
  const ec = new ivm.ExternalCopy(ab, { transferList: [ab] });
  assert.equal(ab.byteLength, 0);
  global.setSync('moved', ec.copyInto({ transferIn: true }));
  assert.equal(context.evalSync('moved.byteLength + ":" + new Uint8Array(moved)[12345]'), `${1 << 20}:42`);
  assert.throws(() => ec.copy(), { message: 'Array buffer is invalid' });
  // Out again: the guest's buffer is detached, Node gets the memory.
  const out = context.evalSync('new Uint8Array(moved)[1] = 7; const o = new ExternalCopy(moved, { transferOut: true }); o');
  assert.equal(context.evalSync('moved.byteLength'), 0);
  const back = out.copy({ transferIn: true });
  assert.equal(back.byteLength, 1 << 20);
  assert.deepEqual([new Uint8Array(back)[1], new Uint8Array(back)[12345]], [7, 42]);
  assert.throws(() => out.copy(), { message: 'Array buffer is invalid' });
  // And back in once more (Node hands back memory that came from us).
  const again = new ivm.ExternalCopy(back, { transferOut: true });
  assert.equal(back.byteLength, 0);
  global.setSync('again', again.copyInto({ transferIn: true }));
  assert.equal(context.evalSync('new Uint8Array(again)[12345]'), 42);
  // transferList inside an object graph detaches too; a copy leaves the source.
  const copySource = new Uint8Array([1, 2, 3]);
  const copied = new ivm.ExternalCopy(copySource);
  copySource[0] = 9;
  assert.deepEqual([...copied.copy()], [1, 2, 3]);
  assert.equal(context.evalSync('const x = new ArrayBuffer(8); new ExternalCopy({ x }, { transferList: [x] }); x.byteLength'), 0);
  // transferOut on a view moves its buffer (offset kept).
  const vb = new ArrayBuffer(8);
  const moveView = new ivm.ExternalCopy(new Uint8Array(vb, 2, 3), { transferOut: true });
  assert.equal(vb.byteLength, 0);
  assert.equal(moveView.copy().byteOffset, 2);
  assert.equal(context.evalSync('const y = new ArrayBuffer(8); new ExternalCopy(new DataView(y, 1), { transferOut: true }); y.byteLength'), 0);
});

test('a SharedArrayBuffer is shared between guests, not copied', { timeout: 10000 }, async (t) => {
  const a = setup(t);
  const b = setup(t);
  exposeConstructor(a.context, a.global);
  const ec = a.context.evalSync('globalThis.sab = new SharedArrayBuffer(16); new ExternalCopy(new Int32Array(sab, 4, 2))');
  b.global.setSync('view', ec.copyInto());
  b.context.evalSync('Atomics.store(view, 1, 99)');
  assert.equal(a.context.evalSync('new Int32Array(sab)[2]'), 99);
  assert.equal(b.context.evalSync('view.buffer instanceof SharedArrayBuffer'), true);
  // Node gets a copy (Node-API cannot share memory with another V8).
  const inNode = ec.copy();
  assert.ok(inNode.buffer instanceof SharedArrayBuffer);
  assert.equal(inNode[1], 99);
});

test('materialised data counts against the memory limit: RangeError, no crash', { timeout: 30000 }, (t) => {
  const { context, global } = setup(t, { memoryLimit: 8 });
  const huge = new ivm.ExternalCopy(new Uint8Array(64 << 20));
  global.setSync('huge', huge);
  assert.equal(context.evalSync('try { huge.copy(); "copied" } catch (e) { e.name + ": " + e.message }'),
    'RangeError: Array buffer allocation failed');
  assert.equal(context.evalSync('try { huge.copy({ transferIn: true }); "moved" } catch (e) { e.name }'), 'RangeError');
  // The failed move left the data in place.
  assert.equal(huge.copy().byteLength, 64 << 20);
  global.setSync('text', new ivm.ExternalCopy({ s: 'x'.repeat(32 << 20) }));
  assert.equal(context.evalSync('try { text.copy(); "copied" } catch (e) { e.name }'), 'RangeError');
  assert.throws(() => global.setSync('direct', huge.copyInto()), RangeError);
  assert.equal(context.evalSync('1 + 1'), 2);
});

test('ExternalCopy races with dispose never crash the host', { timeout: 60000 }, () => {
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      const ec = new ivm.ExternalCopy(new Uint8Array(1 << 16));
      for (let i = 0; i < 100; i++) {
        const isolate = new ivm.Isolate({ memoryLimit: 16 });
        const context = isolate.createContextSync();
        context.global.setSync('ec', ec);
        const p = context.eval('for (let j = 0; j < 50; j++) { const c = ec.copy(); new ec.constructor(c, { transferList: [c.buffer] }).copy({ transferIn: true }); }').catch((e) => {
          if (!/disposed/.test(e.message)) throw e;
        });
        if (i % 2) await new Promise(setImmediate);
        isolate.dispose();
        await p;
      }
      console.log('ok', ec.copy().byteLength);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok 65536/);
});

test('{copy: true} buffers keep their type; a pooled Buffer sends only its own bytes', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  const pooled = Buffer.from('secret-free');
  assert.ok(pooled.buffer.byteLength > pooled.length); // a slice of Node's pool
  global.setSync('b', pooled, { copy: true });
  assert.equal(context.evalSync('[b.constructor.name, b.byteOffset, b.length, b.buffer.byteLength].join()'), 'Uint8Array,0,11,11');
  global.setSync('ec', new ivm.ExternalCopy(pooled));
  assert.equal(context.evalSync('ec.copy().buffer.byteLength'), 11);
  const out = context.evalSync('const f = new Float64Array(new ArrayBuffer(40), 8, 2); f[1] = 1.5; f', { copy: true });
  assert.ok(out instanceof Float64Array);
  assert.deepEqual([out.byteOffset, out.length, out[1], out.buffer.byteLength], [8, 2, 1.5, 40]);
  const dv = context.evalSync('new DataView(new ArrayBuffer(4))', { copy: true });
  assert.ok(dv instanceof DataView);
  const ab = context.evalSync('new Uint8Array([1, 2, 3]).buffer', { copy: true });
  assert.deepEqual([...new Uint8Array(ab)], [1, 2, 3]);
  // The source stays usable after a copy.
  assert.equal(context.evalSync('const keep = new Uint8Array([5]); globalThis.keep = keep; keep'), undefined);
  context.evalSync('keep', { copy: true });
  assert.equal(context.evalSync('keep[0]'), 5);
});

test('{externalCopy: true} gives the receiving side an ExternalCopy, both ways', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const r = context.evalSync('new Uint8Array([1, 2, 3])', { externalCopy: true });
  assert.ok(r instanceof ivm.ExternalCopy);
  assert.deepEqual([...r.copy()], [1, 2, 3]);
  assert.equal(context.evalSync('"text"', { externalCopy: true }).copy(), 'text');
  const p = await context.eval('Promise.resolve({ a: 1 })', { externalCopy: true, promise: true });
  assert.deepEqual(p.copy(), { a: 1 });
  global.setSync('ec', { n: 5 }, { externalCopy: true });
  assert.equal(context.evalSync('ec.constructor.name + ":" + ec.copy().n'), 'ExternalCopy:5');
  const fn = context.evalSync('(x) => x.copy().n + 1', { reference: true });
  assert.equal(fn.applySync(undefined, [{ n: 1 }], { arguments: { externalCopy: true } }), 2);
  // Node-side References follow the same rule.
  const local = new ivm.Reference({ k: [1] });
  assert.ok(local.getSync('k', { externalCopy: true }) instanceof ivm.ExternalCopy);
});

test('views over detached or resized buffers copy safely', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  exposeConstructor(context, global);
  const r = context.evalSync(`
    const ab = new ArrayBuffer(16); const view = new Float64Array(ab, 8, 1);
    new ExternalCopy(ab, { transferOut: true });                 // detaches ab and view
    const a = new ExternalCopy(view).copy();
    const rab = new ArrayBuffer(16, { maxByteLength: 32 }); const tracking = new Uint8Array(rab, 4);
    rab.resize(8);
    const b = new ExternalCopy(tracking).copy();
    [a.length, a.byteOffset, b.length, b.byteOffset].join()
  `);
  assert.equal(r, '0,0,4,4');
});

test('an ExternalCopy held by a Node value reaches the guest through a Reference', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  const holder = { data: new ivm.ExternalCopy({ deep: [1, 2] }) };
  global.setSync('holder', new ivm.Reference(holder));
  assert.equal(context.evalSync('const d = holder.getSync("data"); d.constructor.name + ":" + d.copy().deep[1]'), 'ExternalCopy:2');
  // Node-side get on a local Reference hands the ExternalCopy itself back too.
  assert.ok(new ivm.Reference(holder).getSync('data') instanceof ivm.ExternalCopy);
});

test('ExternalCopies a guest makes count against its memory limit while it holds them', { timeout: 30000 }, (t) => {
  const { context, global } = setup(t, { memoryLimit: 8 });
  exposeConstructor(context, global);
  const r = context.evalSync(`
    const ab = new ArrayBuffer(1 << 20);
    const kept = [];
    let error;
    try { for (let i = 0; i < 100; i++) kept.push(new ExternalCopy(ab)); } catch (e) { error = e; }
    const heldAtLimit = kept.length;
    for (const c of kept) c.release();
    kept.length = 0;
    // Released copies give their share back; dropped ones do once collected.
    for (let i = 0; i < 50; i++) new ExternalCopy(ab);
    [error && error.name, heldAtLimit > 0 && heldAtLimit < 8, new ExternalCopy(ab).copy().byteLength].join()
  `);
  assert.equal(r, `RangeError,true,${1 << 20}`);
});
