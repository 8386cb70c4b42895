'use strict';
// Resizable ArrayBuffers and growable SharedArrayBuffers count against the
// isolate's memory limit: V8 reserves and commits them itself, outside the
// ArrayBuffer allocator (as wasm memory), so without
// native/src/engine/reserved.rs `new ArrayBuffer(0, {maxByteLength})` and
// `resize` let a 32 MB isolate commit gigabytes of the host's memory.
const test = require('node:test');
const assert = require('node:assert/strict');

const { setup } = require('./support/isolate');

const MiB = 1 << 20;

test('resize and grow past the limit are catchable RangeErrors; the host keeps its memory', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  const rss0 = process.memoryUsage.rss();
  const r = context.evalSync(`
    const out = {};
    const attempt = (name, f) => { try { out[name] = f(); } catch (e) { out[name] = e.name; } };
    globalThis.kept = [];
    attempt('resize', () => { const b = new ArrayBuffer(0, { maxByteLength: 256 << 20 }); kept.push(b); b.resize(256 << 20); return 'resized'; });
    attempt('grow', () => { const b = new SharedArrayBuffer(0, { maxByteLength: 256 << 20 }); kept.push(b); b.grow(256 << 20); return 'grew'; });
    attempt('initial', () => { kept.push(new ArrayBuffer(64 << 20, { maxByteLength: 256 << 20 })); return 'made'; });
    attempt('sharedInitial', () => { kept.push(new SharedArrayBuffer(64 << 20, { maxByteLength: 256 << 20 })); return 'made'; });
    attempt('many', () => {
      for (let i = 0; i < 64; i++) {
        const b = new ArrayBuffer(0, { maxByteLength: 8 << 20 });
        b.resize(8 << 20);
        new Uint8Array(b).fill(1);
        kept.push(b);
      }
      return 'all';
    });
    attempt('transfer', () => { const b = new ArrayBuffer(1 << 20, { maxByteLength: 256 << 20 }); return b.transfer(128 << 20).byteLength; });
    out.inLimit = kept.reduce((n, b) => n + b.byteLength, 0) <= (32 << 20);
    JSON.stringify(out);
  `);
  assert.deepEqual(JSON.parse(r), {
    resize: 'RangeError',
    grow: 'RangeError',
    initial: 'RangeError',
    sharedInitial: 'RangeError',
    many: 'RangeError',
    transfer: 'RangeError',
    inLimit: true,
  });
  assert.ok(process.memoryUsage.rss() - rss0 < 128 * MiB, 'the host did not commit the buffers');
  assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size >= 16 * MiB, 'resized buffers show as external memory');
  assert.equal(isolate.isDisposed, false);
});

test('buffers within the limit resize both ways and keep their contents', { timeout: 30000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const r = context.evalSync(`
    const b = new ArrayBuffer(1 << 20, { maxByteLength: 24 << 20 });
    const u = new Uint8Array(b);
    u[100] = 7;
    b.resize(20 << 20);
    u[(20 << 20) - 1] = 9;
    b.resize(2 << 20);
    b.resize(8 << 20);
    const s = new SharedArrayBuffer(1 << 20, { maxByteLength: 8 << 20 });
    s.grow(4 << 20);
    // A transfer that keeps the buffer resizable copies it (both count meanwhile).
    const moved = b.transfer();
    JSON.stringify([new Uint8Array(moved)[100], moved.byteLength, moved.resizable, b.detached, s.byteLength]);
  `);
  assert.deepEqual(JSON.parse(r), [7, 8 * MiB, true, true, 4 * MiB]);
});

test('dropped resizable buffers give their share back before a resize needs it', { timeout: 60000 }, (t) => {
  // V8 does not retry a failed resize after collecting garbage: a loop
  // resizing new buffers it drops must still run.
  const { context } = setup(t, { memoryLimit: 32 });
  const n = context.evalSync(`
    let k = 0;
    for (let i = 0; i < 40; i++) {
      let x = new ArrayBuffer(0, { maxByteLength: 64 << 20 });
      x.resize(20 << 20);
      new Uint8Array(x).fill(1);
      x = null;
      k++;
    }
    k;
  `);
  assert.equal(n, 40);
});

test('tiny resizable buffers cannot use up the process memory maps', { timeout: 60000 }, (t) => {
  // Each buffer is a memory map or two of the process, and the number of
  // maps is capped for the whole process (vm.max_map_count): each buffer is
  // charged at least 64 KiB, and at most 8192 are charged at once in the
  // process. Before, 40,000 of them (160 MB of a 256 MB budget) took 62,000
  // maps and the host's next mmap failed.
  const fs = require('node:fs');
  const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;
  const before = maps();
  const make = (context) =>
    JSON.parse(
      context.evalSync(`
        globalThis.keep = [];
        let error = 'none';
        try { for (let i = 0; i < 20000; i++) keep.push(new ArrayBuffer(1, { maxByteLength: 8192 })); } catch (e) { error = e.name; }
        JSON.stringify({ kept: keep.length, error });
      `),
    );
  const a = setup(t, { memoryLimit: 128 });
  assert.deepEqual(make(a.context), { kept: 2048, error: 'RangeError' });
  // Two isolates with room for 8,000 each share the process's 8,192.
  const b = setup(t, { memoryLimit: 512 });
  const c = setup(t, { memoryLimit: 512 });
  const rb = make(b.context);
  const rc = make(c.context);
  assert.equal(rb.error, 'RangeError');
  assert.equal(rc.error, 'RangeError');
  assert.equal(2048 + rb.kept + rc.kept, 8192);
  assert.ok(maps() - before < 20000, `${maps() - before} new maps`);
  for (const s of [a, b, c]) assert.equal(s.isolate.isDisposed, false);
  // Freed buffers give their places back.
  a.context.evalSync('keep = null; 1');
  a.isolate.dispose();
  assert.equal(JSON.parse(b.context.evalSync('keep.length = 0; JSON.stringify(1)')), 1);
});

// V8 reserves a resizable buffer's `maxByteLength` (a wasm memory's
// `maximum`) of address space up front without committing it: before the cap
// in reserved.rs a 32 MB isolate could reserve all 128 TB of the process's
// address space, leaving the host none for its own mappings.
const TiB = 2 ** 40;
const vmSize = () => Number(/VmSize:\s+(\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;

test('address space reserved for buffers is capped per isolate, and given back when they are freed', { timeout: 60000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const vm0 = vmSize();
  const made = () => context.evalSync(`{
    globalThis.kept = [];
    let n = 0, error = null;
    try { for (; n < 8; n++) kept.push(new ArrayBuffer(1, { maxByteLength: 2 ** 39 })); } catch (e) { error = e.name; }
    [n, error] }`, { copy: true });
  const [n, error] = made();
  assert.equal(error, 'RangeError');
  assert.equal(n, 2, 'two reservations of 512 GB fill the isolate\'s 1 TB');
  assert.ok(vmSize() - vm0 < 1.1 * TiB, `reserved ${(vmSize() - vm0) / TiB} TB`);
  // Dropped and collected, the reservations come back.
  context.evalSync('kept = null');
  context.evalSync('for (let i = 0; i < 4; i++) { const a = []; for (let j = 0; j < 1e5; j++) a.push({ j }); }');
  let again;
  for (let i = 0; i < 50; i++) {
    again = made();
    if (again[0] === 2) break;
    context.evalSync('kept = null; for (let i = 0; i < 4; i++) { const a = []; for (let j = 0; j < 1e5; j++) a.push({ j }); }');
  }
  assert.deepEqual(again, [2, 'RangeError']);
});

// Reservations under 1 MB are never refused (V8 maps its own heap pages the
// same way during a collection inside those calls, and cannot survive
// failing them), so small resizable buffers keep working at the cap.
test('at the address-space cap, small resizable buffers still work', { timeout: 60000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const r = context.evalSync(`{
    globalThis.big = [new ArrayBuffer(1, { maxByteLength: 2 ** 39 }), new ArrayBuffer(1, { maxByteLength: 2 ** 39 })];
    let refused = null;
    try { big.push(new ArrayBuffer(1, { maxByteLength: 2 ** 30 })); } catch (e) { refused = e.name; }
    const small = [];
    for (let i = 0; i < 100; i++) small.push(new ArrayBuffer(8, { maxByteLength: 4096 }));
    small[99].resize(4096);
    [refused, small.length, small[99].byteLength] }`, { copy: true });
  assert.deepEqual(r, ['RangeError', 100, 4096]);
});

test('wasm memories cannot reserve more than the isolate\'s share of address space', { timeout: 60000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const vm0 = vmSize();
  // 280 memories of up to 4 GB each: 1.1 TB of reservations without the cap.
  // Past the cap V8 makes them with smaller reservations or none.
  const n = context.evalSync(`
    globalThis.mems = [];
    let n = 0;
    try { for (; n < 280; n++) mems.push(new WebAssembly.Memory({ initial: 0, maximum: 65536 })); } catch (e) {}
    n`);
  assert.ok(n > 200, `made ${n}`);
  assert.ok(vmSize() - vm0 <= TiB + 16 * 2 ** 30, `reserved ${(vmSize() - vm0) / TiB} TB`);
  assert.equal(context.evalSync('new WebAssembly.Memory({ initial: 1 }).buffer.byteLength'), 65536);
});

test('all isolates together reserve at most 32 TB', { timeout: 120000 }, (t) => {
  const vm0 = vmSize();
  const results = [];
  for (let i = 0; i < 36; i++) {
    const { context } = setup(t, { memoryLimit: 8 });
    results.push(context.evalSync(`
      globalThis.kept = [];
      let n = 0;
      try { for (; n < 2; n++) kept.push(new ArrayBuffer(1, { maxByteLength: 2 ** 39 })); } catch (e) {}
      n`));
  }
  const grew = vmSize() - vm0;
  assert.ok(grew <= 32.5 * TiB, `reserved ${grew / TiB} TB`);
  assert.ok(results.some((n) => n < 2), 'some isolate was refused');
  // Isolates of earlier tests may still be giving theirs back.
  assert.ok(results.slice(0, 28).every((n) => n === 2), `${results}`);
});
