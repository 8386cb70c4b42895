'use strict';
// The library inside guests: `ivm` transferred into an isolate gives its code
// the whole API, so guests create isolates, contexts and scripts, and call
// into other isolates (sync, async, ignored) with isolated-vm's rules.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const ivm = require('../lib');

const { setup, withLibrary, ASYNC_TO_SYNC } = require('./support/isolate');

test('a guest gets the library: the classes, frozen', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const names = ['Isolate', 'Context', 'Script', 'Reference', 'Callback', 'ExternalCopy'];
    JSON.stringify({
      names: names.filter((n) => typeof ivm[n] === 'function'),
      frozenLib: Object.isFrozen(ivm),
      frozenClasses: names.every((n) => Object.isFrozen(ivm[n]) && Object.isFrozen(ivm[n].prototype)),
      assign: (() => { 'use strict'; try { ivm.Isolate.prototype.evil = 1; return 'assigned'; } catch (e) { return e.constructor.name; } })(),
      replace: (() => { 'use strict'; try { ivm.Isolate = null; return 'assigned'; } catch (e) { return e.constructor.name; } })(),
      ctor: (() => { try { new ivm.Context(); return 'made'; } catch (e) { return e.constructor.name; } })(),
    });
  `);
  assert.deepEqual(JSON.parse(r), {
    names: ['Isolate', 'Context', 'Script', 'Reference', 'Callback', 'ExternalCopy'],
    frozenLib: true,
    frozenClasses: true,
    assign: 'TypeError',
    replace: 'TypeError',
    ctor: 'TypeError',
  });
  // Each context gets its own copy; the same context always sees the same one.
  assert.equal(context.evalSync('ivm'), ivm);
  context.global.setSync('again', ivm);
  assert.equal(context.evalSync('again === ivm'), true);
});

test('the host-side classes, their prototypes and the module object are frozen', () => {
  assert.ok(Object.isFrozen(ivm));
  for (const name of ['Isolate', 'Context', 'Script', 'Reference', 'Callback', 'ExternalCopy']) {
    assert.ok(Object.isFrozen(ivm[name]), name);
    assert.ok(Object.isFrozen(ivm[name].prototype), `${name}.prototype`);
  }
  assert.throws(() => {
    'use strict';
    ivm.Isolate.prototype.evil = 1;
  }, TypeError);
});

test('a guest creates an isolate and a context and runs code there (sync)', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const inner = new ivm.Isolate({ memoryLimit: 32 });
    const c = inner.createContextSync();
    const script = inner.compileScriptSync('6 * 7', { filename: 'inner.js' });
    c.evalSync('globalThis.x = 20');
    JSON.stringify([
      c.evalSync('x + 1'),
      c.evalClosureSync('return $0 + $1 + x', [1, 2]),
      script.runSync(c),
      c.global.getSync('x'),
      c.evalSync('({ a: 1 })', { copy: true }),
      c.evalSync('({ a: 1 })'),
      inner.getHeapStatisticsSync().heap_size_limit > 0 && inner.getHeapSpaceStatisticsSync().length > 0,
      typeof inner.cpuTime,
      inner.isDisposed,
    ]);
  `);
  assert.deepEqual(JSON.parse(r), [21, 23, 42, 20, { a: 1 }, null, true, 'bigint', false]);
});

test('ExternalCopies made by a guest pass into its nested isolates and out to Node', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const sum = context.evalSync(`
    const inner = new ivm.Isolate().createContextSync();
    globalThis.ec = new ivm.ExternalCopy({ rows: [1, 2, 3] });
    inner.global.setSync('ec', ec);
    ec instanceof ivm.ExternalCopy && inner.evalSync('ec.copy().rows.reduce((a, b) => a + b)');
  `);
  assert.equal(sum, 6);
  const out = context.evalSync('ec');
  assert.ok(out instanceof ivm.ExternalCopy);
  assert.deepEqual(out.copy(), { rows: [1, 2, 3] });
});

test('a guest uses the async and ignored variants; promises settle in the guest', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  const r = await context.eval(
    `(async () => {
      const inner = new ivm.Isolate();
      const c = await inner.createContext();
      const s = await inner.compileScript('"s"');
      c.evalIgnored('globalThis.n = 1');
      c.evalClosureIgnored('globalThis.n += $0', [2]);
      const parts = [
        await c.eval('n + 1'),
        await c.evalClosure('return $0 * 2', [21]),
        await s.run(c),
        await c.global.get('n'),
        (await inner.getHeapStatistics()).used_heap_size > 0,
      ];
      let rejected;
      try { await c.eval('throw new RangeError("nope")'); } catch (e) { rejected = e instanceof RangeError && e.message; }
      parts.push(rejected);
      return JSON.stringify(parts);
    })()`,
    { promise: true },
  );
  assert.deepEqual(JSON.parse(r), [4, 42, 's', 3, true, 'nope']);
});

test('References between two guests: sync and async calls hop to the owner', { timeout: 10000 }, async (t) => {
  const a = withLibrary(t);
  const b = setup(t);
  b.context.evalSync('globalThis.calls = 0; globalThis.mul = (x, y) => { calls++; return x * y; }');
  // A Reference made in Node into B, used in A.
  a.global.setSync('mul', b.global.getSync('mul', { reference: true }));
  assert.equal(a.context.evalSync('mul.typeof + ":" + mul.applySync(undefined, [6, 7])'), 'function:42');
  assert.equal(
    await a.context.eval('mul.apply(undefined, [2, 3]).then((v) => { globalThis.got = v; })').then(() =>
      waitFor(() => a.context.evalSync('globalThis.got')),
    ),
    6,
  );
  a.context.evalSync('mul.applyIgnored(undefined, [1, 1])');
  await waitFor(() => b.context.evalSync('calls === 3'));
  // A's own value, referenced by A's code and sent into B's context.
  a.global.setSync('bctx', b.context);
  assert.equal(
    a.context.evalSync(`
      globalThis.acc = [];
      const push = new ivm.Reference((v) => { acc.push(v); return acc.length; });
      bctx.global.setSync('push', push);
      bctx.evalSync('push.applySync(undefined, ["from b"]) + push.applySync(undefined, [typeof mul])');
    `),
    3,
  );
  assert.deepEqual(a.context.evalSync('acc', { copy: true }), ['from b', 'function']);
  // A reference back in its own isolate dereferences to the value.
  assert.equal(
    a.context.evalSync(`
      const own = new ivm.Reference({ k: 1 });
      bctx.global.setSync('own', own);
      const back = bctx.global.getSync('own');
      back.deref() === own.deref() && back.deref().k;
    `),
    1,
  );
});

test('{promise: true} on calls a guest makes gives it a promise settled there', { timeout: 10000 }, async (t) => {
  const { context } = withLibrary(t);
  context.evalSync(`
    globalThis.out = [];
    const bc = new ivm.Isolate().createContextSync();
    const p = bc.evalSync('Promise.resolve(5)', { promise: true });
    out.push(p instanceof Promise);
    p.then((v) => out.push(v));
    bc.eval('new Promise((r) => r({ a: 7 }))', { promise: true, copy: true }).then((v) => out.push(v.a));
    bc.evalSync('globalThis.f = async (x) => { throw new RangeError("r" + x) }');
    bc.global.getSync('f', { reference: true })
      .apply(undefined, [1], { result: { promise: true } })
      .catch((e) => out.push(e.constructor.name + ':' + e.message));
  `);
  await waitFor(() => context.evalSync('out.length === 4'));
  assert.deepEqual(context.evalSync('out', { copy: true }), [true, 5, 7, 'RangeError:r1']);
});

test('a three-level chain: Node -> A -> B -> back into A, synchronously', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    globalThis.counter = 0;
    const b = new ivm.Isolate();
    const bc = b.createContextSync();
    bc.global.setSync('bump', new ivm.Reference((n) => { counter += n; return counter; }));
    bc.global.setSync('aGlobal', new ivm.Reference(globalThis));
    const seen = bc.evalSync(
      'const x = bump.applySync(undefined, [5]); const y = bump.applySync(undefined, [1]); ' +
      'x + ":" + y + ":" + aGlobal.getSync("counter")'
    );
    seen + ":" + counter;
  `);
  assert.equal(r, '5:6:6:6');
  // Deeper: A -> B -> A -> B (each a sync wait that serves the calls coming back).
  const deep = context.evalSync(`
    const b2 = new ivm.Isolate();
    const c2 = b2.createContextSync();
    globalThis.down = (n) => (n === 0 ? 0 : c2.evalSync('up(' + (n - 1) + ') + 1'));
    c2.global.setSync('upRef', new ivm.Reference(down));
    c2.evalSync('globalThis.up = (n) => upRef.applySync(undefined, [n]) + 1');
    down(4);
  `);
  assert.equal(deep, 8);
});

test('a sync call into another isolate from async code is refused, never hangs', { timeout: 30000 }, async (t) => {
  const { context } = withLibrary(t);
  context.evalSync('globalThis.b = new ivm.Isolate(); globalThis.bc = b.createContextSync();');
  for (let i = 0; i < 100; i++) {
    await assert.rejects(context.eval('bc.evalSync("1")'), { message: ASYNC_TO_SYNC });
  }
  // In a continuation of a sync call (microtasks run after the call returns).
  await assert.rejects(context.eval('Promise.resolve().then(() => bc.evalSync("1"))', { promise: true }), {
    message: ASYNC_TO_SYNC,
  });
  // Inside an isolate reached by an async call, calling back synchronously.
  const r = await context.eval(
    `(async () => {
       globalThis.me = new ivm.Reference(() => 1);
       await bc.global.set('me', me);
       return bc.eval('try { me.applySync(); "called" } catch (e) { e.message }');
     })()`,
    { promise: true },
  );
  assert.equal(r, ASYNC_TO_SYNC);
  // Calls into Node and into its own isolate stay allowed from async code.
  context.global.setSync('hostFn', () => 7);
  assert.equal(await context.eval('hostFn() + new ivm.Reference(() => 1).applySync()'), 8);
  // Async calls work from anywhere.
  assert.equal(await context.eval('bc.eval("2 + 2")', { promise: true }), 4);
});

test('errors carry stitched stacks across nested isolates', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  context.evalSync('globalThis.bc = new ivm.Isolate().createContextSync()');
  let err;
  try {
    context.evalSync(
      `function outer() { return bc.evalSync('function inner() { throw new TypeError("deep") } inner()', { filename: 'b.js' }); }
       outer();`,
      { filename: 'a.js' },
    );
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof TypeError);
  assert.equal(err.message, 'deep');
  const lines = err.stack.split('\n');
  assert.equal(lines[0], 'TypeError: deep');
  assert.ok(lines.slice(1).every((l) => l.startsWith('    at ')), err.stack);
  const inner = lines.findIndex((l) => l.includes('inner (b.js'));
  const boundaries = lines.map((l, i) => (l === '    at (<isolated-vm boundary>)' ? i : -1)).filter((i) => i >= 0);
  const outer = lines.findIndex((l) => l.includes('outer (a.js'));
  const here = lines.findIndex((l) => l.includes(__filename));
  assert.equal(boundaries.length, 2, err.stack);
  assert.ok(inner < boundaries[0] && boundaries[0] < outer && outer < boundaries[1] && boundaries[1] < here, err.stack);
  assert.ok(!err.stack.includes('v8-isolates:guest-library'), err.stack);
});

test('timeouts and memory limits hold for nested isolates', { timeout: 20000 }, (t) => {
  const { context } = withLibrary(t);
  context.evalSync('globalThis.b = new ivm.Isolate({ memoryLimit: 16 }); globalThis.bc = b.createContextSync();');
  // The nested call's own timeout.
  assert.equal(
    context.evalSync('try { bc.evalSync("for (;;) {}", { timeout: 50 }) } catch (e) { e.message }'),
    'Script execution timed out.',
  );
  // The outer call's timeout stops the nested call it waits for.
  const start = Date.now();
  assert.throws(() => context.evalSync('bc.evalSync("for (;;) {}")', { timeout: 100 }), {
    message: 'Script execution timed out.',
  });
  assert.ok(Date.now() - start < 5000);
  assert.equal(context.evalSync('bc.evalSync("1 + 1")'), 2);
  // Also when the wait is in a call nested inside the one that times out
  // (Node -> guest -> Node -> guest -> nested isolate).
  context.global.setSync('reenter', (code) => context.evalSync(code));
  assert.throws(() => context.evalSync('reenter("bc.evalSync(\'for (;;) {}\')")', { timeout: 100 }), {
    message: 'Script execution timed out.',
  });
  assert.equal(context.evalSync('bc.evalSync("2 + 2")'), 4);
  assert.equal(context.evalSync('1 + 1'), 2);
  // The nested isolate's memory limit.
  assert.equal(
    context.evalSync(
      'try { bc.evalSync("const a = []; for (;;) a.push(new Array(1000).fill(1))") } catch (e) { e.message + ":" + b.isDisposed }',
    ),
    'Isolate was disposed during execution due to memory limit:true',
  );
});

test('nested isolates take twice their memory limit from their creator', { timeout: 20000 }, async (t) => {
  const { context } = withLibrary(t, { memoryLimit: 64 });
  assert.equal(
    context.evalSync(`
      globalThis.kids = [new ivm.Isolate({ memoryLimit: 16 }), new ivm.Isolate({ memoryLimit: 16 })];
      let third;
      try { new ivm.Isolate({ memoryLimit: 8 }); } catch (e) { third = e.constructor.name + ': ' + e.message; }
      third;
    `),
    "RangeError: Not enough memory left for a nested isolate: it takes twice its `memoryLimit` from its creator's memory limit",
  );
  // The creator's own ArrayBuffers share that budget.
  assert.equal(context.evalSync('try { new ArrayBuffer(1 << 20); "allocated" } catch (e) { e.constructor.name }'), 'RangeError');
  // Given back once a nested isolate is gone.
  context.evalSync('kids.pop().dispose()');
  let made = false;
  for (let i = 0; i < 2000 && !made; i++) {
    made = context.evalSync('try { kids.push(new ivm.Isolate({ memoryLimit: 16 })); true } catch { false }');
    if (!made) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(made);
  // Without a limit, a nested isolate gets what fits (here: nothing is left).
  assert.match(context.evalSync('try { new ivm.Isolate(); "made" } catch (e) { e.message }'), /Not enough memory/);
});

test('guests dispose the isolates they made; nested isolates go with their creator', { timeout: 10000 }, (t) => {
  const { isolate, context } = withLibrary(t);
  assert.equal(
    context.evalSync(`
      const c = new ivm.Isolate(); const cc = c.createContextSync(); c.dispose();
      let m1, m2, m3;
      try { cc.evalSync('1') } catch (e) { m1 = e.message }
      try { c.dispose() } catch (e) { m2 = e.message }
      try { c.cpuTime } catch (e) { m3 = e.message }
      [c.isDisposed, m1, m2, m3].join('|');
    `),
    'true|Isolate is disposed|Isolate is already disposed|Isolate is disposed',
  );
  // A nested isolate handed to Node is an ivm.Isolate there.
  const nested = context.evalSync('globalThis.n = new ivm.Isolate(); n');
  assert.ok(nested instanceof ivm.Isolate);
  const nctx = context.evalSync('n.createContextSync()');
  assert.ok(nctx instanceof ivm.Context);
  assert.equal(nctx.evalSync('"hi from node"'), 'hi from node');
  assert.equal(nested.isDisposed, false);
  isolate.dispose();
  assert.equal(nested.isDisposed, true);
  assert.throws(() => nctx.evalSync('1'), { message: /disposed/ });
});

test('handles in the wrong isolate give clear errors', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const x = new ivm.Isolate(); const y = new ivm.Isolate();
    const s = x.compileScriptSync('1'); const yc = y.createContextSync(); const xc = x.createContextSync();
    const out = [];
    try { s.runSync(yc) } catch (e) { out.push(e.message) }
    const ref = xc.evalSync('({ v: 5 })', { reference: true });
    try { ref.deref() } catch (e) { out.push(e.constructor.name + ': ' + e.message) }
    try { yc.evalClosureSync('return $0', [ref.derefInto()]) } catch (e) { out.push(e.constructor.name + ': ' + e.message) }
    out.push(xc.evalClosureSync('return $0.v', [ref.derefInto()]));
    xc.release();
    try { xc.evalSync('1') } catch (e) { out.push(e.message) }
    s.release();
    try { s.runSync(yc) } catch (e) { out.push(e.message) }
    ref.release();
    try { ref.typeof } catch (e) { out.push(e.message) }
    out;
  `, { copy: true });
  assert.deepEqual(r, [
    'Invalid context',
    'TypeError: Cannot dereference this from current isolate',
    'TypeError: Cannot dereference this into target isolate',
    5,
    'Context is released',
    'Script has been released',
    'Reference has been released',
  ]);
});

test('contexts, scripts and isolates pass between Node and guests', { timeout: 10000 }, (t) => {
  const { context, global } = withLibrary(t);
  const other = setup(t);
  const script = other.isolate.compileScriptSync('globalThis.tag = "ran"; 40 + 2');
  global.setSync('otherCtx', other.context);
  global.setSync('otherScript', script);
  global.setSync('otherIso', other.isolate);
  assert.equal(context.evalSync('otherScript.runSync(otherCtx)'), 42);
  assert.equal(other.context.evalSync('tag'), 'ran');
  assert.equal(context.evalSync('otherIso.createContextSync().evalSync("typeof tag")'), 'undefined');
  assert.equal(context.evalSync('otherCtx instanceof ivm.Context && otherIso instanceof ivm.Isolate'), true);
  // Back out to Node: the same kinds of objects.
  const s2 = context.evalSync('otherIso.compileScriptSync("7")');
  assert.ok(s2 instanceof ivm.Script);
  assert.equal(s2.runSync(other.context), 7);
});

test('functions and Callbacks passed between guests call their home isolate', { timeout: 10000 }, (t) => {
  const { context } = withLibrary(t);
  const r = context.evalSync(`
    const bc = new ivm.Isolate().createContextSync();
    globalThis.log = [];
    bc.global.setSync('cb', new ivm.Callback((a, b) => { log.push([a, b]); return { sum: a + b }; }));
    bc.global.setSync('plain', function named(x) { return x * 2; });
    JSON.stringify([
      bc.evalSync('cb(1, 2).sum'),
      bc.evalSync('plain(21)'),
      bc.evalSync('plain.name + plain.length'),
      log,
    ]);
  `);
  assert.deepEqual(JSON.parse(r), [3, 42, 'named1', [[1, 2]]]);
});

test('disposing an outer isolate while its nested isolate runs (child process)', { timeout: 60000 }, async () => {
  const fixture = path.join(__dirname, 'fixtures', 'guest-library-child.js');
  for (const scenario of ['dispose-outer-from-nested', 'dispose-outer-async', 'dispose-races']) {
    const { code, signal, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, [fixture, scenario], { timeout: 45000 }, (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, signal: err ? err.signal : null, stdout, stderr });
      });
    });
    assert.equal(signal, null, `${scenario}: killed by ${signal}\n${stderr}`);
    assert.equal(code, 0, `${scenario}: exit ${code}\n${stdout}\n${stderr}`);
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `${scenario}: no result\n${stdout}\n${stderr}`);
    const result = JSON.parse(line.slice(7));
    assert.equal(result.ok, true, `${scenario}: ${line}`);
  }
});

async function waitFor(fn) {
  for (let i = 0; i < 10000; i++) {
    const v = fn();
    if (v) return v;
    await new Promise(setImmediate);
  }
  throw new Error('condition never became true');
}
