'use strict';
// Startup snapshots: Isolate.createSnapshot and new Isolate({snapshot}).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const ivm = require('../lib');

const LIB = JSON.stringify(path.join(__dirname, '..', 'lib'));
const MiB = 1024 * 1024;

const LIBRARY = {
  code: `globalThis.counter = 41;
    function next() { return ++counter; }
    globalThis.lib = { greet(name) { return 'hello ' + name; }, list: [1, 2, 3] };`,
  filename: 'library.js',
};

let shared;
function snapshot() {
  shared ??= ivm.Isolate.createSnapshot([LIBRARY]);
  return shared;
}

function isolateFrom(t, snap, options) {
  const isolate = new ivm.Isolate({ ...options, snapshot: snap });
  t.after(() => {
    if (!isolate.isDisposed) isolate.dispose();
  });
  return isolate;
}

// Runs `code` in a child process; returns {status, signal, stdout, stderr}.
function child(code) {
  return spawnSync(process.execPath, ['-e', `const ivm = require(${LIB});\n${code}`], {
    encoding: 'utf8',
    timeout: 60000,
  });
}

test('createSnapshot returns an ExternalCopy of an ArrayBuffer', () => {
  const snap = snapshot();
  assert.ok(snap instanceof ivm.ExternalCopy);
  const buf = snap.copy();
  assert.ok(buf instanceof ArrayBuffer);
  assert.ok(buf.byteLength > 1000);
});

test('snapshot state is visible in a new isolate and in every context it creates', async (t) => {
  const isolate = isolateFrom(t, snapshot());
  const a = isolate.createContextSync();
  assert.equal(a.evalSync('next()'), 42);
  assert.equal(a.evalSync('lib.greet("a")'), 'hello a');
  const b = isolate.createContextSync();
  // Each context starts from the snapshot's heap, independently.
  assert.equal(b.evalSync('next()'), 42);
  assert.equal(a.evalSync('next()'), 43);
  const c = await isolate.createContext();
  assert.equal(await c.eval('lib.list.length'), 3);
  // Scripts compiled in the isolate run against the snapshot's globals.
  const script = isolate.compileScriptSync('next() * 2');
  assert.equal(script.runSync(c), 84);
});

test('an isolate without a snapshot does not see the snapshot state', (t) => {
  snapshot();
  const isolate = new ivm.Isolate();
  t.after(() => isolate.dispose());
  assert.equal(isolate.createContextSync().evalSync('typeof next'), 'undefined');
});

test('several scripts run in order, with their own file names', (t) => {
  const snap = ivm.Isolate.createSnapshot([
    { code: 'globalThis.a = 1', filename: 'a.js' },
    { code: 'globalThis.b = a + 1', filename: 'b.js' },
  ]);
  const ctx = isolateFrom(t, snap).createContextSync();
  assert.equal(ctx.evalSync('a + b'), 3);
});

test('a snapshot made in one isolate can be copied out and wrapped again in this process', (t) => {
  const again = new ivm.ExternalCopy(snapshot().copy());
  assert.equal(isolateFrom(t, again).createContextSync().evalSync('next()'), 42);
});

test('the warm-up script runs and is discarded; the functions it ran still work', (t) => {
  const snap = ivm.Isolate.createSnapshot(
    [{ code: 'function sum(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s }', filename: 'sum.js' }],
    'globalThis.leftover = sum(1000);',
  );
  const ctx = isolateFrom(t, snap).createContextSync();
  assert.equal(ctx.evalSync('typeof leftover'), 'undefined');
  assert.equal(ctx.evalSync('sum(10)'), 45);
});

test('the warm-up keeps the compiled functions in the snapshot (it grows by their bytecode)', () => {
  const code = Array.from({ length: 50 }, (_, i) => `function g${i}(x) { let s = 0; for (let j = 0; j < x; j++) s += j * ${i}; return s }`).join('\n');
  const calls = Array.from({ length: 50 }, (_, i) => `g${i}(10);`).join('');
  const cold = ivm.Isolate.createSnapshot([{ code }]).copy().byteLength;
  const warm = ivm.Isolate.createSnapshot([{ code }], calls).copy().byteLength;
  assert.ok(warm > cold + 2000, `cold ${cold} bytes, warm ${warm} bytes`);
});

// ---------------------------------------------------------------------------
// Errors in snapshot scripts

test('an error thrown by a snapshot script names its file and line', () => {
  assert.throws(
    () =>
      ivm.Isolate.createSnapshot([
        { code: 'globalThis.ok = 1', filename: 'first.js' },
        { code: 'let x = 1;\nthrow new TypeError("broken")', filename: 'second.js' },
      ]),
    (e) => e instanceof TypeError && /broken/.test(e.message) && /second\.js:2/.test(e.message),
  );
});

test('line offsets count, and a thrown non-Error still names the file', () => {
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: '\nthrow 7', filename: 'prim.js', lineOffset: 10 }]),
    (e) => e instanceof Error && /prim\.js:12/.test(e.message),
  );
});

test('a syntax error in a snapshot script names its file', () => {
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: 'let = ;', filename: 'syntax.js' }]),
    (e) => e instanceof SyntaxError && /syntax\.js/.test(e.message),
  );
});

test('an error in the warm-up script is reported', () => {
  assert.throws(() => ivm.Isolate.createSnapshot([], 'throw new Error("warm")'), /warm.*<warm-up>:1/);
});

test('snapshot scripts are bounded in time and memory', () => {
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: 'for (;;) {}' }], undefined, { timeout: 50 }),
    (e) => e instanceof ivm.TimeoutError,
  );
  assert.throws(
    () =>
      ivm.Isolate.createSnapshot([{ code: 'const a = []; for (;;) a.push({ x: Math.random() })' }], undefined, {
        memoryLimit: 16,
      }),
    (e) => e instanceof ivm.MemoryLimitError,
  );
  // Still usable afterwards.
  assert.ok(ivm.Isolate.createSnapshot([{ code: 'globalThis.z = 1' }]) instanceof ivm.ExternalCopy);
});

// ---------------------------------------------------------------------------
// Argument checks

test('createSnapshot checks its arguments', () => {
  const C = ivm.Isolate;
  assert.throws(() => C.createSnapshot(), { name: 'TypeError', message: '`createSnapshot` requires at least 1 parameter' });
  assert.throws(() => C.createSnapshot('x'), { name: 'TypeError', message: /parameter 1 to be an array/ });
  assert.throws(() => C.createSnapshot([1]), { name: 'TypeError', message: '`scripts[0]` must be an object' });
  assert.throws(() => C.createSnapshot([{}]), { name: 'TypeError', message: '`scripts[0].code` must be a string' });
  assert.throws(() => C.createSnapshot([{ code: '1', filename: 3 }]), { name: 'TypeError', message: /filename/ });
  assert.throws(() => C.createSnapshot([{ code: '1', lineOffset: 'a' }]), { name: 'TypeError', message: /lineOffset/ });
  assert.throws(() => C.createSnapshot([], 5), { name: 'TypeError', message: /parameter 2 to be a string/ });
  assert.throws(() => C.createSnapshot([], undefined, 5), { name: 'TypeError', message: /parameter 3/ });
  assert.throws(() => C.createSnapshot([], undefined, { timeout: -1 }), { name: 'TypeError', message: /timeout/ });
  assert.throws(() => C.createSnapshot([], undefined, { memoryLimit: 4 }), { name: 'RangeError', message: /memoryLimit/ });
});

test('`snapshot` must be an ExternalCopy to ArrayBuffer', () => {
  const message = '`snapshot` must be an ExternalCopy to ArrayBuffer';
  for (const bad of [{}, new ArrayBuffer(8), snapshot().copy(), new ivm.ExternalCopy({ a: 1 }), new ivm.ExternalCopy(5)]) {
    assert.throws(() => new ivm.Isolate({ snapshot: bad }), { name: 'TypeError', message });
  }
  // Not an object at all: isolated-vm's message for that.
  for (const bad of ['x', 1]) {
    assert.throws(() => new ivm.Isolate({ snapshot: bad }), { name: 'TypeError', message: '`snapshot` must be an object' });
  }
  const released = new ivm.ExternalCopy(snapshot().copy());
  released.release();
  assert.throws(() => new ivm.Isolate({ snapshot: released }), /released/);
});

test('blobs this process did not make are refused', () => {
  const junk = new ivm.ExternalCopy(new ArrayBuffer(64));
  assert.throws(() => new ivm.Isolate({ snapshot: junk }), { message: /^Invalid snapshot: not a snapshot made by v8-isolates/ });
  const bytes = new Uint8Array(snapshot().copy());
  bytes[bytes.length - 100] ^= 1;
  assert.throws(() => new ivm.Isolate({ snapshot: new ivm.ExternalCopy(bytes.buffer) }), {
    message: /^Invalid snapshot: it was not made by this process or has been modified/,
  });
});

test('a corrupted or foreign blob is refused without crashing (child process)', (t) => {
  // One process makes a snapshot; another (with its own key) must refuse it,
  // and corrupted variants of it, and still work.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'v8i-snap-')), 'blob');
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  const made = child(`
    const s = ivm.Isolate.createSnapshot([{ code: 'globalThis.v = 1' }]);
    require('fs').writeFileSync(${JSON.stringify(file)}, Buffer.from(s.copy()));`);
  assert.equal(made.status, 0, made.stderr);
  const r = child(`
    const bytes = require('fs').readFileSync(${JSON.stringify(file)});
    const variants = {
      foreign: bytes,
      flipped: (() => { const b = Buffer.from(bytes); b[b.length >> 1] ^= 0xff; return b; })(),
      truncated: bytes.subarray(0, bytes.length >> 1),
      zeroed: Buffer.alloc(bytes.length),
    };
    for (const [name, b] of Object.entries(variants)) {
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
      try { new ivm.Isolate({ snapshot: new ivm.ExternalCopy(ab) }); console.log(name, 'accepted'); }
      catch (e) { console.log(name, e.message.slice(0, 17)); }
    }
    const own = ivm.Isolate.createSnapshot([{ code: 'globalThis.v = 2' }]);
    console.log('own', new ivm.Isolate({ snapshot: own }).createContextSync().evalSync('v'));`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    ['foreign', 'flipped', 'truncated', 'zeroed'].map((n) => `${n} Invalid snapshot:`).join('\n') + '\nown 2\n',
  );
});

test('a heap V8 cannot serialize fails with an error, not a crash (child process)', () => {
  const r = child(`
    try {
      ivm.Isolate.createSnapshot([{ code: 'globalThis.f = new FinalizationRegistry(() => {}); f.register({}, 1)' }]);
      console.log('made');
    } catch (e) { console.log(e.message.slice(0, 25)); }
    console.log(new ivm.Isolate().createContextSync().evalSync('1 + 1'));`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Snapshot creation failed:\n2\n');
});

test('isolates from an older snapshot still start after a newer one was used (child process)', () => {
  // Regression: V8 rebuilt its shared read-only heap from whichever snapshot
  // came first once no isolate was left, and isolates from other snapshots
  // then aborted the process while deserializing.
  const r = child(`
    const a = ivm.Isolate.createSnapshot([{ code: 'globalThis.v = "a"' }]);
    const b = ivm.Isolate.createSnapshot([{ code: 'globalThis.v = "b"' }]);
    const ib = new ivm.Isolate({ snapshot: b });
    const ia = new ivm.Isolate({ snapshot: a });
    console.log(ib.createContextSync().evalSync('v') + ia.createContextSync().evalSync('v'));`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ba\n');
});

// ---------------------------------------------------------------------------
// Limits still hold in isolates made from a snapshot

test('an isolate made from a snapshot enforces timeouts', (t) => {
  const ctx = isolateFrom(t, snapshot()).createContextSync();
  assert.throws(() => ctx.evalSync('for (;;) next()', { timeout: 50 }), /Script execution timed out/);
  assert.equal(ctx.evalSync('typeof next'), 'function');
});

test('an isolate made from a snapshot enforces its memory limit', async (t) => {
  const isolate = isolateFrom(t, snapshot(), { memoryLimit: 16 });
  const ctx = isolate.createContextSync();
  await assert.rejects(ctx.eval('const a = []; for (;;) a.push({ x: next() })'), (e) => e instanceof ivm.MemoryLimitError);
  assert.equal(isolate.isDisposed, true);
});

test('500 contexts from a snapshot in a 32 MB isolate stay under the limit', { timeout: 120000 }, (t) => {
  const big = ivm.Isolate.createSnapshot([
    { code: 'globalThis.table = Array.from({ length: 20000 }, (_, i) => ({ i, s: "item" + i }));', filename: 'big.js' },
  ]);
  const isolate = isolateFrom(t, big, { memoryLimit: 32 });
  let peak = 0;
  for (let i = 0; i < 500; i++) {
    const ctx = isolate.createContextSync();
    assert.equal(ctx.evalSync('table.length'), 20000);
    ctx.release();
    if (i % 100 === 99) {
      const s = isolate.getHeapStatisticsSync();
      peak = Math.max(peak, s.used_heap_size);
    }
  }
  assert.equal(isolate.isDisposed, false);
  assert.ok(peak < 32 * MiB, `used_heap_size peaked at ${(peak / MiB).toFixed(1)} MiB`);
  assert.equal(isolate.referenceCount, 0);
});

test('examples/snapshot.js runs', { timeout: 60000 }, () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'snapshot.js')], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /10 EUR in USD: 10\.8/);
  assert.match(r.stdout, /snapshot failed: .*\[broken\.js:2\]/);
  assert.match(r.stdout, /tampered snapshot: Invalid snapshot/);
});
