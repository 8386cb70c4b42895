'use strict';
// Code cache options inside guests: `compileScript`/`compileModule` take
// `{produceCachedData, cachedData}` as on the Node side, with the data as a
// guest ExternalCopy, and their results carry `cachedData` and
// `cachedDataRejected`.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { withLibrary } = require('./support/isolate');

const CODE = 'function f(a, b) { return a * b + 1; } f(6, 7)';
const MODULE = 'import x from "dep"; export default function g() { return x; }';

test('a guest produces cached data and compiles with it, sync', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  context.global.setSync('CODE', CODE);
  const r = context.evalSync(`
    const inner = new ivm.Isolate();
    const a = inner.compileScriptSync(CODE, { produceCachedData: true });
    const b = inner.compileScriptSync(CODE, { cachedData: a.cachedData });
    const other = inner.compileScriptSync(CODE + ';', { cachedData: a.cachedData });
    const plain = inner.compileScriptSync(CODE);
    const desc = Object.getOwnPropertyDescriptor(b, 'cachedDataRejected');
    const out = JSON.stringify({
      aKeys: Object.keys(a),
      isCopy: a.cachedData instanceof ivm.ExternalCopy,
      bytes: a.cachedData.copy() instanceof ArrayBuffer && a.cachedData.copy().byteLength > 12,
      bKeys: Object.keys(b),
      bRejected: b.cachedDataRejected,
      desc: [desc.writable, desc.enumerable, desc.configurable],
      otherRejected: other.cachedDataRejected,
      plainKeys: Object.keys(plain),
      ran: b.runSync(inner.createContextSync()),
      frozen: Object.isFrozen(a) && Object.isFrozen(b),
    });
    inner.dispose();
    out;
  `);
  assert.deepEqual(JSON.parse(r), {
    aKeys: ['cachedData'],
    isCopy: true,
    bytes: true,
    bKeys: ['cachedDataRejected'],
    bRejected: false,
    desc: [false, true, false],
    otherRejected: true,
    plainKeys: [],
    ran: 43,
    frozen: true,
  });
});

test('a guest uses code cache options with the async compiles', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  context.global.setSync('CODE', CODE);
  context.global.setSync('MODULE', MODULE);
  const r = await context.eval(
    `(async () => {
      const inner = new ivm.Isolate();
      const a = await inner.compileScript(CODE, { produceCachedData: true });
      const b = await inner.compileScript(CODE, { cachedData: a.cachedData, produceCachedData: true });
      const m = await inner.compileModule(MODULE, { produceCachedData: true });
      const m2 = await inner.compileModule(MODULE, { cachedData: m.cachedData });
      const m3 = await inner.compileModule(MODULE + ' ', { cachedData: m.cachedData });
      const out = JSON.stringify({
        a: Object.keys(a), b: [b.cachedDataRejected, 'cachedData' in b],
        m: [Object.keys(m), m.cachedData instanceof ivm.ExternalCopy, m.dependencySpecifiers],
        m2: [m2.cachedDataRejected, m2.dependencySpecifiers, Object.isFrozen(m2)],
        m3: m3.cachedDataRejected,
      });
      inner.dispose();
      return out;
    })()`,
    { promise: true },
  );
  assert.deepEqual(JSON.parse(r), {
    a: ['cachedData'],
    // Accepted data is not produced again (as on the Node side).
    b: [false, false],
    m: [['cachedData'], true, ['dep']],
    m2: [false, ['dep'], true],
    m3: true,
  });
});

test('bad code cache options inside a guest get TypeErrors; a released copy an Error', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  context.global.setSync('CODE', CODE);
  const r = context.evalSync(`
    const inner = new ivm.Isolate();
    globalThis.inner = inner;
    const released = new ivm.ExternalCopy(new ArrayBuffer(16));
    released.release();
    globalThis.released = released;
    const probe = (options, module) => {
      try {
        module ? inner.compileModuleSync('export {}', options) : inner.compileScriptSync(CODE, options);
        return 'ok';
      } catch (e) {
        return e.name + ': ' + e.message;
      }
    };
    JSON.stringify([
      probe({ cachedData: 1 }),
      probe({ cachedData: {} }),
      probe({ cachedData: new ivm.ExternalCopy('text') }),
      probe({ cachedData: new ivm.ExternalCopy(new Uint8Array(4)) }),
      probe({ produceCachedData: 'yes' }),
      probe({ cachedData: released }),
      probe({ cachedData: {} }, true),
      probe({ cachedData: null, produceCachedData: null }),
      probe({ cachedData: new ivm.ExternalCopy(new ArrayBuffer(3)) }),
    ]);
  `);
  const TYPE = 'TypeError: `cachedData` must be an ExternalCopy to ArrayBuffer';
  assert.deepEqual(JSON.parse(r), [
    'TypeError: `cachedData` must be an object',
    TYPE,
    TYPE,
    TYPE,
    'TypeError: `produceCachedData` must be a boolean',
    'Error: Copy has been released',
    TYPE,
    'ok',
    // Data that is not cached data at all is rejected, not an error.
    'ok',
  ]);
  // The async variant rejects (the options are not a parameter type error).
  const e = await context.eval('inner.compileScript(CODE, { cachedData: released }).then(() => "ok", (e) => e.message)', { promise: true });
  assert.equal(e, 'Copy has been released');
  assert.equal(context.evalSync('inner.compileScriptSync(CODE, { cachedData: new ivm.ExternalCopy(new ArrayBuffer(3)) }).cachedDataRejected'), true);
});

test('cached data crosses between Node and guests both ways', { timeout: 10000 }, (t) => {
  const { isolate, context } = withLibrary(t);
  context.global.setSync('CODE', CODE);
  // Made in Node for the guest's own isolate, used inside the guest.
  const fromNode = isolate.compileScriptSync(CODE, { produceCachedData: true }).cachedData;
  context.global.setSync('fromNode', fromNode);
  assert.equal(context.evalSync('ivm.Isolate && globalThis.fromNode instanceof ivm.ExternalCopy'), true);
  const guestIso = context.evalSync(`
    const inner = new ivm.Isolate();
    globalThis.inner = inner;
    const a = inner.compileScriptSync(CODE, { cachedData: fromNode });
    globalThis.made = inner.compileScriptSync(CODE, { produceCachedData: true }).cachedData;
    a.cachedDataRejected;
  `);
  assert.equal(guestIso, false);
  // Made inside the guest, used in Node.
  const made = context.global.getSync('made');
  assert.ok(made instanceof ivm.ExternalCopy);
  const other = new ivm.Isolate();
  t.after(() => other.dispose());
  const s = other.compileScriptSync(CODE, { cachedData: made });
  assert.equal(s.cachedDataRejected, false);
  assert.equal(s.runSync(other.createContextSync()), 43);
});

test('a guest cannot feed V8 cached data it wrote itself', { timeout: 10000 }, (t) => {
  // V8 checks little of its code cache data (no checksum in release builds):
  // Node may supply any bytes (it can run any code anyway), but data from a
  // guest is used only if this process produced it for that very source.
  const { isolate, context } = withLibrary(t);
  context.global.setSync('CODE', CODE);
  const r = context.evalSync(`
    const inner = new ivm.Isolate();
    const made = inner.compileScriptSync(CODE, { produceCachedData: true }).cachedData;
    const bytes = new Uint8Array(made.copy());
    const edited = (at) => {
      const b = bytes.slice();
      b[at] ^= 0x5a;
      return new ivm.ExternalCopy(b.buffer);
    };
    const use = (data, code = CODE) => {
      const s = inner.compileScriptSync(code, { cachedData: data });
      return [s.cachedDataRejected, s.runSync(inner.createContextSync())];
    };
    const out = JSON.stringify({
      sameBytes: use(new ivm.ExternalCopy(bytes.slice().buffer)),
      lastByte: use(edited(bytes.length - 1)),
      middle: use(edited(bytes.length >> 1)),
      tag: use(edited(15)),
      otherSource: use(made, CODE.replace('6, 7', '7, 6')),
    });
    inner.dispose();
    out;
  `);
  assert.deepEqual(JSON.parse(r), {
    sameBytes: [false, 43],
    lastByte: [true, 43],
    middle: [true, 43],
    tag: [true, 43],
    otherSource: [true, 43],
  });
  // The same edit is Node's to make: Node's data is trusted as it is.
  const made = isolate.compileScriptSync(CODE, { produceCachedData: true }).cachedData;
  const bytes = new Uint8Array(made.copy());
  bytes[15] ^= 0x5a;
  assert.equal(isolate.compileScriptSync(CODE, { cachedData: new ivm.ExternalCopy(bytes.buffer) }).cachedDataRejected, false);
});
