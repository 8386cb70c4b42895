'use strict';
// WebAssembly memory counts against the isolate's memory limit, as
// ArrayBuffers do: V8 commits it outside the ArrayBuffer allocator, so
// without native/src/engine/reserved.rs a 32 MB isolate could commit
// gigabytes of the host's memory, one WebAssembly.Memory at a time.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

const MiB = 1 << 20;

// An unsigned LEB128 number (wasm's encoding of sizes).
function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

// A module with a memory of `pages` 64 KiB pages, exported as `mem`, and a
// function `grow(n)` that runs the `memory.grow` instruction.
function moduleBytes(pages) {
  const memory = [1, 0x00, ...leb(pages)];
  const exports = [2, 3, 0x6d, 0x65, 0x6d, 2, 0, 4, 0x67, 0x72, 0x6f, 0x77, 0, 0];
  const body = [0, 0x20, 0, 0x40, 0, 0x0b];
  return new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, // type: (i32) -> i32
    3, 2, 1, 0, // one function of type 0
    5, memory.length, ...memory,
    7, exports.length, ...exports,
    10, body.length + 2, 1, body.length, ...body,
  ]);
}

function withModule(t, pages, limit = 32) {
  const s = setup(t, { memoryLimit: limit });
  s.global.setSync('bytes', new ivm.ExternalCopy(moduleBytes(pages).buffer).copyInto());
  return s;
}

test('a WebAssembly.Memory over the limit is a catchable RangeError; the isolate lives', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  const r = context.evalSync(`
    const out = [];
    try { new WebAssembly.Memory({ initial: 1024 }); out.push('made 64 MiB'); } catch (e) { out.push(e.name); }
    try { new WebAssembly.Memory({ initial: 1024n, address: 'i64' }); out.push('made 64 MiB'); } catch (e) { out.push(e.name); }
    JSON.stringify(out);
  `);
  assert.deepEqual(JSON.parse(r), ['RangeError', 'RangeError']);
  assert.equal(isolate.isDisposed, false);
  assert.equal(context.evalSync('new WebAssembly.Memory({ initial: 16 }).buffer.byteLength'), 16 * 65536);
});

test('many memories cannot add up past the limit (the host keeps its memory)', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  const rss0 = process.memoryUsage.rss();
  const r = context.evalSync(`
    globalThis.kept = [];
    let error = 'none';
    try {
      for (let i = 0; i < 64; i++) {
        const m = new WebAssembly.Memory({ initial: 128 }); // 8 MiB each
        new Uint8Array(m.buffer).fill(1);
        kept.push(m);
      }
    } catch (e) {
      error = e.name;
    }
    JSON.stringify({ error, kept: kept.length });
  `);
  const { error, kept } = JSON.parse(r);
  assert.equal(error, 'RangeError');
  assert.ok(kept >= 2 && kept <= 4, `kept ${kept} memories of 8 MiB under a 32 MB limit`);
  assert.ok(process.memoryUsage.rss() - rss0 < 128 * MiB, 'the host did not commit the memories');
  const stats = isolate.getHeapStatisticsSync();
  assert.ok(stats.externally_allocated_size >= kept * 8 * MiB, 'wasm memory shows as external memory');
  assert.equal(isolate.isDisposed, false);
});

test('growing memory past the limit fails: grow() throws, memory.grow gives -1', { timeout: 30000 }, (t) => {
  const { context } = withModule(t, 1);
  const r = context.evalSync(`
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const steps = [];
    for (let i = 0; i < 12; i++) steps.push(inst.exports.grow(64)); // +4 MiB a step
    const m = new WebAssembly.Memory({ initial: 1, maximum: 4000 });
    let js = 'grew';
    try { m.grow(3000); } catch (e) { js = e.name; }
    let resizable = 'resized';
    try { new WebAssembly.Memory({ initial: 1, maximum: 4000 }).toResizableBuffer().resize(3000 * 65536); } catch (e) { resizable = e.name; }
    JSON.stringify({ steps, js, resizable, mb: inst.exports.mem.buffer.byteLength / ${MiB} });
  `);
  const { steps, js, resizable, mb } = JSON.parse(r);
  // Pages before each grow: 1, 65, 129, ... until the budget runs out.
  assert.deepEqual(steps.slice(0, 3), [1, 65, 129]);
  assert.ok(steps.includes(-1), `memory.grow never failed: ${steps}`);
  assert.equal(steps.indexOf(-1) > 3, true);
  assert.ok(steps.slice(steps.indexOf(-1)).every((s) => s === -1));
  assert.ok(mb <= 32, `${mb} MiB`);
  assert.equal(js, 'RangeError');
  assert.equal(resizable, 'RangeError');
});

test('a module declaring a memory over the limit fails to instantiate', { timeout: 30000 }, (t) => {
  const { isolate, context } = withModule(t, 2000);
  const r = context.evalSync(`
    const module = new WebAssembly.Module(bytes);
    const out = [];
    try { new WebAssembly.Instance(module); out.push('made'); } catch (e) { out.push(e.name); }
    out.push(typeof WebAssembly.instantiate);
    JSON.stringify(out);
  `);
  assert.deepEqual(JSON.parse(r), ['RangeError', 'function']);
  assert.equal(isolate.isDisposed, false);
});

test('freed wasm memory gives its share back (collected, and when the isolate goes)', { timeout: 30000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  // 20 MiB at a time, 30 times: only fits if each is given back.
  const r = context.evalSync(`
    let made = 0;
    for (let i = 0; i < 30; i++) {
      let m = new WebAssembly.Memory({ initial: 320 });
      new Uint8Array(m.buffer).fill(1);
      m = null;
      made++;
    }
    made;
  `);
  assert.equal(r, 30);
  // Shared memories are counted and given back the same way.
  assert.equal(
    context.evalSync(`
      let n = 0;
      for (let i = 0; i < 10; i++) { new WebAssembly.Memory({ initial: 320, maximum: 400, shared: true }); n++; }
      n;
    `),
    10,
  );
  for (let i = 0; i < 5; i++) {
    const iso = new ivm.Isolate({ memoryLimit: 32 });
    const ctx = iso.createContextSync();
    assert.equal(ctx.evalSync('globalThis.m = new WebAssembly.Memory({ initial: 400 }); m.buffer.byteLength'), 400 * 65536);
    iso.dispose();
  }
});

test('ArrayBuffers and wasm memory share one budget', { timeout: 30000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const r = context.evalSync(`
    globalThis.ab = new ArrayBuffer(24 << 20);
    const out = [];
    try { globalThis.m = new WebAssembly.Memory({ initial: 160 }); out.push('made'); } catch (e) { out.push(e.name); }
    ab = null;
    try { globalThis.m = new WebAssembly.Memory({ initial: 160 }); out.push('made'); } catch (e) { out.push(e.name); }
    try { globalThis.ab2 = new ArrayBuffer(24 << 20); out.push('made'); } catch (e) { out.push(e.name); }
    JSON.stringify(out);
  `);
  // The second memory fits once the buffer is collected (V8 collects
  // garbage before it gives up on an allocation).
  assert.deepEqual(JSON.parse(r), ['RangeError', 'made', 'RangeError']);
});

// A module whose only content is a custom section of `size` bytes, the last
// two of which `mark(u8, i)` changes (distinct bytes: V8 shares a compiled
// module between compiles of the same bytes).
function bigModule(size) {
  const name = [4, 0x6a, 0x75, 0x6e, 0x6b];
  const head = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0, ...leb(name.length + size), ...name];
  const bytes = new Uint8Array(head.length + size);
  bytes.set(head);
  return bytes;
}
const MARK = 'const mark = (u8, i) => { u8[u8.length - 1] = i & 255; u8[u8.length - 2] = i >> 8; };';

test('compiled modules count against the limit: holding many is refused, dropping them is not', { timeout: 60000 }, (t) => {
  // V8 keeps each module's bytes (and code) outside the heap: 300 distinct
  // modules of 1 MB held 300 MB in a 32 MB isolate.
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  context.global.setSync('bytes', new ivm.ExternalCopy(bigModule(MiB).buffer).copyInto());
  const rss0 = process.memoryUsage.rss();
  const held = JSON.parse(
    context.evalSync(`${MARK}
      const u8 = new Uint8Array(bytes);
      globalThis.mods = [];
      let error = 'none';
      try { for (let i = 0; i < 300; i++) { mark(u8, i); mods.push(new WebAssembly.Module(u8)); } } catch (e) { error = e.name + ': ' + e.message; }
      JSON.stringify({ held: mods.length, error });
    `),
  );
  assert.equal(held.error, 'CompileError: WebAssembly.Module(): Wasm code generation disallowed by embedder');
  assert.ok(held.held >= 5 && held.held <= 11, `${held.held} modules of 1 MB held`);
  assert.ok(process.memoryUsage.rss() - rss0 < 100 * MiB, 'the host did not keep the modules');
  assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size >= held.held * MiB);
  // Dropped modules give their share back: 100 more, none kept.
  const made = context.evalSync(`
    mods = null;
    let n = 0;
    for (let i = 0; i < 100; i++) { mark(u8, 1000 + i); let m = new WebAssembly.Module(u8); m = null; n++; }
    n;
  `);
  assert.equal(made, 100);
  // The same bytes share one compiled module, charged once.
  assert.equal(context.evalSync('mark(u8, 5000); const same = []; for (let i = 0; i < 50; i++) same.push(new WebAssembly.Module(u8)); same.length'), 50);
  assert.equal(isolate.isDisposed, false);
});
