'use strict';
// Differential battery for the engine core (Isolate, Context, Script, Module,
// errors, argument checks), from Node and from inside guests. See harness.js.
const { main } = require('./harness');

const cases = [];
const add = (name, fn) => cases.push([name, fn]);

// Runs every thunk with h.out and returns the outcomes keyed by label.
const all = async (h, thunks) => {
  const r = {};
  for (const [k, f] of Object.entries(thunks)) r[k] = await h.out(f);
  return r;
};

// ---------------------------------------------------------------------------
// Isolate constructor

add('Isolate: constructor options', (h, ivm) =>
  all(h, {
    none: () => h.iso() && 'ok',
    undef: () => h.iso(undefined) && 'ok',
    nul: () => h.iso(null) && 'ok',
    num: () => h.iso(1),
    str: () => h.iso('x'),
    fn: () => h.iso(() => {}) && 'ok',
    arr: () => h.iso([]) && 'ok',
    noNew: () => ivm.Isolate(),
  }));
add('Isolate: memoryLimit', (h) =>
  all(h, {
    m7: () => h.iso({ memoryLimit: 7 }),
    m8: () => h.iso({ memoryLimit: 8 }) && 'ok',
    m7_9: () => h.iso({ memoryLimit: 7.9 }),
    m0: () => h.iso({ memoryLimit: 0 }),
    neg: () => h.iso({ memoryLimit: -1 }),
    str: () => h.iso({ memoryLimit: '64' }),
    strBad: () => h.iso({ memoryLimit: 'x' }),
    nan: () => h.iso({ memoryLimit: NaN }),
    inf: () => h.iso({ memoryLimit: Infinity }),
    nul: () => h.iso({ memoryLimit: null }),
    bool: () => h.iso({ memoryLimit: true }),
    obj: () => h.iso({ memoryLimit: {} }),
    big: () => h.iso({ memoryLimit: 8n }),
    frac: () => h.iso({ memoryLimit: 64.5 }) && 'ok',
    huge: () => h.iso({ memoryLimit: 4096 }) && 'ok',
  }));
add('Isolate: other options', (h, ivm) =>
  all(h, {
    inspectorStr: () => h.iso({ inspector: 'yes' }) && 'ok',
    snapshotBad: () => h.iso({ snapshot: 1 }),
    snapshotAB: () => h.iso({ snapshot: new ArrayBuffer(8) }),
    snapshotCopyStr: () => h.iso({ snapshot: new ivm.ExternalCopy('x') }),
    // isolated-vm: a foreign blob kills the process (SIGTRAP); ours refuses it.
    snapshotNull: () => h.iso({ snapshot: null }) && 'ok',
    onCatNum: () => h.iso({ onCatastrophicError: 1 }) && 'ok',
    onCatFn: () => h.iso({ onCatastrophicError: () => {} }) && 'ok',
  }));
add('Isolate: instance shape', (h, ivm) => {
  const iso = h.iso();
  return all(h, {
    frozen: () => Object.isFrozen(iso),
    protoFrozen: () => Object.isFrozen(ivm.Isolate.prototype),
    ownKeys: () => Reflect.ownKeys(iso),
    isDisposed: () => iso.isDisposed,
    cpu: () => typeof iso.cpuTime,
    wall: () => typeof iso.wallTime,
    refCount: () => iso.referenceCount,
    setProp: () => {
      'use strict';
      iso.x = 1;
    },
    instanceofSelf: () => iso instanceof ivm.Isolate,
    toStringTag: () => Object.prototype.toString.call(iso),
    libFrozen: () => Object.isFrozen(ivm),
    ctorLength: () => ivm.Isolate.length,
    ctorName: () => ivm.Isolate.name,
    Context: () => typeof ivm.Context,
    // new ivm.Context() / new ivm.Script() abort isolated-vm's process.
  });
});
add('Isolate: referenceCount', async (h) => {
  const { iso, ctx } = h.ctx();
  const a = iso.referenceCount;
  const s = iso.compileScriptSync('1');
  const b = iso.referenceCount;
  const r = ctx.evalClosureSync('return {}', [], { result: { reference: true } });
  const c = iso.referenceCount;
  r.release();
  s.release();
  const d = iso.referenceCount;
  ctx.release();
  const e = iso.referenceCount;
  return { a, b, c, d, e };
});
add('Isolate: dispose', async (h) => {
  const iso = h.iso();
  const ctx = iso.createContextSync();
  const script = iso.compileScriptSync('1');
  const r = {};
  r['iso.dispose()'] = await h.out(() => iso.dispose());
  r['iso.isDisposed'] = await h.out(() => iso.isDisposed);
  r['dispose again'] = await h.out(() => iso.dispose());
  r['iso.cpuTime'] = await h.out(() => iso.cpuTime);
  r['iso.wallTime'] = await h.out(() => iso.wallTime);
  r['iso.referenceCount'] = await h.out(() => iso.referenceCount);
  r['iso.createContextSync()'] = await h.out(() => iso.createContextSync());
  r['iso.createContext()'] = await h.out(() => iso.createContext());
  r["iso.compileScriptSync('1')"] = await h.out(() => iso.compileScriptSync('1'));
  r["iso.compileScript('1')"] = await h.out(() => iso.compileScript('1'));
  r["iso.compileModuleSync('1')"] = await h.out(() => iso.compileModuleSync('1'));
  r["iso.compileModule('1')"] = await h.out(() => iso.compileModule('1'));
  r['iso.getHeapStatisticsSync()'] = await h.out(() => iso.getHeapStatisticsSync());
  r['iso.getHeapStatistics()'] = await h.out(() => iso.getHeapStatistics());
  r["ctx.evalSync('1')"] = await h.out(() => ctx.evalSync('1'));
  r["ctx.eval('1')"] = await h.out(() => ctx.eval('1'));
  r["ctx.evalIgnored('1')"] = await h.out(() => ctx.evalIgnored('1'));
  r["ctx.evalClosureSync('1')"] = await h.out(() => ctx.evalClosureSync('1'));
  r["ctx.evalClosure('1')"] = await h.out(() => ctx.evalClosure('1'));
  r['ctx.global'] = await h.out(() => ctx.global);
  r["ctx.global.getSync('x')"] = await h.out(() => ctx.global.getSync('x'));
  r["ctx.global.get('x')"] = await h.out(() => ctx.global.get('x'));
  r['ctx.release()'] = await h.out(() => ctx.release());
  r['script.runSync(ctx)'] = await h.out(() => script.runSync(ctx));
  r['script.run(ctx)'] = await h.out(() => script.run(ctx));
  r['script.release()'] = await h.out(() => script.release());
  r["iso.startCpuProfiler('x')"] = await h.out(() => iso.startCpuProfiler('x'));
  return r;
});
add('Isolate: dispose during sync execution', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  ctx.global.setSync('kill', new ivm.Callback(() => iso.dispose()));
  return all(h, {
    a: () => ctx.evalSync('kill(); for(;;);'),
    d: () => iso.isDisposed,
  });
});
add('Isolate: dispose during async execution', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  const p = ctx.eval('for(;;);');
  await new Promise((r) => setTimeout(r, 50));
  iso.dispose();
  return all(h, { a: () => p, d: () => iso.isDisposed });
});
add('Isolate: getHeapStatistics fields', async (h) => {
  const iso = h.iso({ memoryLimit: 128 });
  const s = iso.getHeapStatisticsSync();
  const a = await iso.getHeapStatistics();
  const types = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v]));
  return {
    keys: Object.keys(s).join(','),
    asyncKeys: Object.keys(a).join(','),
    types,
    proto: Object.getPrototypeOf(s) === Object.prototype,
    limitMiB: Math.round(s.heap_size_limit / 1048576 / 16),
  };
});
add('Isolate: getHeapStatistics args', (h) => {
  const iso = h.iso();
  return all(h, {
    extra: () => typeof iso.getHeapStatisticsSync(1),
  });
});
add('Isolate: cpuTime/wallTime', (h) => {
  const { iso, ctx } = h.ctx();
  ctx.evalSync('for (let i = 0; i < 1e6; i++);');
  return { cpu: typeof iso.cpuTime, wall: typeof iso.wallTime, pos: iso.cpuTime > 0n && iso.wallTime > 0n };
});

// ---------------------------------------------------------------------------
// compileScript

add('compileScript: argument checks', (h, ivm) => {
  const iso = h.iso();
  return all(h, {
    none: () => iso.compileScriptSync(),
    num: () => iso.compileScriptSync(1),
    strObj: () => iso.compileScriptSync(new String('1')) && 'ok',
    optsNum: () => iso.compileScriptSync('1', 1),
    optsNull: () => iso.compileScriptSync('1', null) && 'ok',
    optsStr: () => iso.compileScriptSync('1', 'x'),
    filenameNum: () => iso.compileScriptSync('1', { filename: 1 }),
    filenameNull: () => iso.compileScriptSync('1', { filename: null }) && 'ok',
    lineOffsetStr: () => iso.compileScriptSync('1', { lineOffset: '1' }),
    lineOffsetFrac: () => iso.compileScriptSync('1', { lineOffset: 1.5 }) && 'ok',
    lineOffsetNeg: () => iso.compileScriptSync('1', { lineOffset: -1 }) && 'ok',
    columnOffsetStr: () => iso.compileScriptSync('1', { columnOffset: 'x' }),
    cachedDataAB: () => iso.compileScriptSync('1', { cachedData: new ArrayBuffer(8) }),
    cachedDataStr: () => iso.compileScriptSync('1', { cachedData: new ivm.ExternalCopy('x') }),
    cachedDataNull: () => iso.compileScriptSync('1', { cachedData: null }),
    produceStr: () => Object.keys(iso.compileScriptSync('1', { produceCachedData: 'yes' })),
    asyncNum: () => iso.compileScript(1),
    asyncOpts: () => iso.compileScript('1', 1),
    asyncSyntax: () => iso.compileScript('1 +'),
  });
});
add('compileScript: syntax errors', (h) => {
  const iso = h.iso();
  return all(h, {
    plain: () => iso.compileScriptSync('let x = ;'),
    filename: () => iso.compileScriptSync('\n\n  let x = ;', { filename: 'guest.js' }),
    offsets: () => iso.compileScriptSync('let x = ;', { filename: 'guest.js', lineOffset: 10, columnOffset: 5 }),
    negOffsets: () => iso.compileScriptSync('let x = ;', { filename: 'guest.js', lineOffset: -1, columnOffset: -1 }),
    earlyRef: () => iso.compileScriptSync('1 = 2'),
    unterminated: () => iso.compileScriptSync('"abc'),
    regexp: () => iso.compileScriptSync('/(/'),
    asyncErr: () => iso.compileScript('}', { filename: 'guest.js' }),
  });
});
add('compileScript: cached data', async (h, ivm) => {
  const iso = h.iso();
  const code = 'function f() { return 1 } f()';
  const a = iso.compileScriptSync(code, { produceCachedData: true });
  const cd = a.cachedData;
  const b = iso.compileScriptSync(code, { cachedData: cd });
  const c = iso.compileScriptSync(code, { cachedData: cd, produceCachedData: true });
  const d = iso.compileScriptSync('function g() { return 2 } g()', { cachedData: cd, produceCachedData: true });
  const e = iso.compileScriptSync(code, { cachedData: new ivm.ExternalCopy(new ArrayBuffer(10)) });
  const f = iso.compileScriptSync(code);
  const g = await iso.compileScript(code, { produceCachedData: true });
  return {
    aKeys: Object.keys(a),
    cdCtor: cd && cd.constructor.name,
    cdCopy: cd && Object.prototype.toString.call(cd.copy()),
    bKeys: Object.keys(b),
    bRejected: b.cachedDataRejected,
    cKeys: Object.keys(c),
    dKeys: Object.keys(d),
    dRejected: d.cachedDataRejected,
    eRejected: e.cachedDataRejected,
    fKeys: Object.keys(f),
    gKeys: Object.keys(g),
    frozen: [Object.isFrozen(a), Object.isFrozen(f)],
    desc: Object.getOwnPropertyDescriptor(b, 'cachedDataRejected'),
  };
});

// ---------------------------------------------------------------------------
// createContext

add('createContext: options', (h) => {
  const iso = h.iso();
  return all(h, {
    num: () => iso.createContextSync(1),
    str: () => iso.createContextSync('x'),
    nul: () => iso.createContextSync(null) && 'ok',
    inspector: () => iso.createContextSync({ inspector: true }),
    inspectorAsync: () => iso.createContext({ inspector: true }),
    asyncNum: () => iso.createContext(1),
    result: () => iso.createContextSync(),
    resultAsync: () => iso.createContext(),
  });
});
add('Context: instance shape', (h, ivm) => {
  const { ctx } = h.ctx();
  return all(h, {
    frozen: () => Object.isFrozen(ctx),
    keys: () => Reflect.ownKeys(ctx),
    globalSame: () => ctx.global === ctx.global,
    globalCtor: () => ctx.global.constructor.name,
    globalTypeof: () => ctx.global.typeof,
    instanceOf: () => ctx instanceof ivm.Context,
    protoKeys: () => Object.getOwnPropertyNames(ivm.Context.prototype).sort().join(','),
  });
});

// ---------------------------------------------------------------------------
// Context.eval

add('eval: value kinds', (h) => {
  const { ctx } = h.ctx();
  const e = (code, o) => () => ctx.evalSync(code, o);
  return all(h, {
    undef: e('undefined'),
    nul: e('null'),
    num: e('1.5'),
    negZero: e('-0'),
    nan: e('NaN'),
    inf: e('-Infinity'),
    str: e('"héllo\\u{1F600}"'),
    lone: e('"\\ud800"'),
    bool: e('true'),
    bigint: e('10n ** 20n'),
    symbol: e('Symbol("s")'),
    obj: e('({a: 1})'),
    arr: e('[1, 2]'),
    fn: e('(function foo(a, b) { return a + b })'),
    arrow: e('(x) => x'),
    cls: e('(class A {})'),
    date: e('new Date(0)'),
    regexp: e('/x/g'),
    promise: e('Promise.resolve(1)'),
    map: e('new Map([[1, 2]])'),
    ab: e('new ArrayBuffer(4)'),
    u8: e('new Uint8Array([1, 2])'),
    err: e('new Error("x")'),
    proxy: e('new Proxy({}, {})'),
    globalThis: e('globalThis'),
    empty: e(''),
    decl: e('var zz = 1'),
    letDecl: e('let qq = 1; qq'),
    fnCall: e('(function foo(a, b) { return a + b })')(),
  });
});
add('eval: returned function', async (h) => {
  const { ctx } = h.ctx();
  const f = ctx.evalSync('(function foo(a, b) { return [a, b, this === globalThis] })');
  const g = ctx.evalSync('(function thrower() { throw new RangeError("bad") })');
  return all(h, {
    call: () => f(1, 2),
    callObj: () => f({ x: 1 }, [1]),
    callFn: () => f(() => 1),
    thrown: () => g(),
    isNew: () => {
      try {
        return new f();
      } catch (e) {
        return [e.constructor.name, e.message];
      }
    },
    fKeys: () => Reflect.ownKeys(f),
  });
});
add('eval: transfer options', (h) => {
  const { ctx } = h.ctx();
  const e = (code, o) => () => ctx.evalSync(code, o);
  return all(h, {
    copyObj: e('({a: [1, {b: 2}], d: new Date(0)})', { copy: true }),
    copyFn: e('(function f() {})', { copy: true }),
    copySym: e('Symbol()', { copy: true }),
    copyErr: e('new RangeError("r")', { copy: true }),
    copyPrim: e('1', { copy: true }),
    refObj: e('({a: 1})', { reference: true }),
    refPrim: e('1', { reference: true }),
    refTypeof: () => ctx.evalSync('({})', { reference: true }).typeof,
    extObj: e('({a: 1})', { externalCopy: true }),
    extPrim: e('1', { externalCopy: true }),
    extCopy: () => ctx.evalSync('({a: 1})', { externalCopy: true }).copy(),
    promiseSync: e('Promise.resolve(5)', { promise: true }),
    promisePlain: e('5', { promise: true }),
    promiseObj: e('Promise.resolve({a: 1})', { promise: true }),
    promiseObjCopy: e('Promise.resolve({a: 1})', { promise: true, copy: true }),
    promiseReject: e('Promise.reject(new TypeError("no"))', { promise: true }),
    both: e('1', { copy: true, reference: true }),
    all3: e('1', { copy: true, reference: true, externalCopy: true }),
    falsy: e('({})', { copy: false, reference: 0 }),
    copyStr: e('({})', { copy: 'yes' }),
  });
});
add('eval: async variants', async (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    val: () => ctx.eval('1 + 1'),
    obj: () => ctx.eval('({})'),
    copy: () => ctx.eval('({a: 1})', { copy: true }),
    promise: () => ctx.eval('new Promise((r) => r(3))', { promise: true }),
    throws: () => ctx.eval('throw new TypeError("t")'),
    syntax: () => ctx.eval('(', { filename: 'guest.js' }),
    ignored: () => ctx.evalIgnored('throw new Error("ignored")'),
    ignoredSyntax: () => ctx.evalIgnored('('),
    ignoredBadArg: () => ctx.evalIgnored(1),
    asyncBadArg: () => ctx.eval(1),
    asyncBadOpt: () => ctx.eval('1', 1),
  });
});
add('eval: argument checks', (h, ivm) => {
  const { ctx } = h.ctx();
  return all(h, {
    none: () => ctx.evalSync(),
    num: () => ctx.evalSync(1),
    optsNum: () => ctx.evalSync('1', 1),
    optsNull: () => ctx.evalSync('1', null),
    filenameNum: () => ctx.evalSync('1', { filename: 1 }),
    timeoutStr: () => ctx.evalSync('1', { timeout: '10' }),
    timeoutNeg: () => ctx.evalSync('1', { timeout: -1 }),
    timeoutFrac: () => ctx.evalSync('1', { timeout: 0.5 }),
    timeoutNaN: () => ctx.evalSync('1', { timeout: NaN }),
    timeoutNull: () => ctx.evalSync('1', { timeout: null }),
    timeoutBig: () => ctx.evalSync('1', { timeout: 2 ** 40 }),
    cachedDataBad: () => ctx.evalSync('1', { cachedData: 1 }),
    cachedDataOk: () => ctx.evalSync('1', { cachedData: new ivm.ExternalCopy(new ArrayBuffer(4)), produceCachedData: true }),
  });
});
add('eval: timeouts', async (h) => {
  const { iso, ctx } = h.ctx();
  return all(h, {
    sync: () => ctx.evalSync('for(;;);', { timeout: 20 }),
    syncStack: () => ctx.evalSync('function spin() { for(;;); }\nspin()', { timeout: 20, filename: 'guest.js' }),
    async: () => ctx.eval('for(;;);', { timeout: 20 }),
    after: () => ctx.evalSync('1'),
    disposed: () => iso.isDisposed,
    promiseTimeout: () => ctx.evalSync('new Promise(() => {})', { timeout: 20, promise: true }).then(() => 'settled'),
    closure: () => ctx.evalClosureSync('for(;;);', [], { timeout: 20 }),
    closureAsync: () => ctx.evalClosure('for(;;);', [], { timeout: 20 }),
  });
});
add('eval: timeout then microtask loop', async (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    micro: () => ctx.evalSync('(function f() { Promise.resolve().then(f) })(); 1', { timeout: 50 }),
    after: () => ctx.evalSync('2'),
  });
});
add('eval: filename/offsets in stacks', (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    def: () => ctx.evalSync('\nthrow new Error("a")'),
    named: () => ctx.evalSync('\nthrow new Error("a")', { filename: 'guest.js' }),
    offsets: () => ctx.evalSync('throw new Error("a")', { filename: 'guest.js', lineOffset: 3, columnOffset: 4 }),
    nested: () => ctx.evalSync('function a() { b() }\nfunction b() { throw new Error("deep") }\na()', { filename: 'guest.js' }),
    syntaxDefault: () => ctx.evalSync('\n  )'),
    syntaxNamed: () => ctx.evalSync('\n  )', { filename: 'guest.js', lineOffset: 2, columnOffset: 3 }),
  });
});

// ---------------------------------------------------------------------------
// Errors thrown by guests

const THROWS = {
  Error: 'throw new Error("m")',
  RangeError: 'throw new RangeError("m")',
  ReferenceError: 'nope',
  SyntaxError: 'JSON.parse("{")',
  TypeError: 'null.x',
  EvalError: 'throw new EvalError("m")',
  URIError: 'decodeURIComponent("%")',
  AggregateError: 'throw new AggregateError([1], "agg")',
  custom: 'class MyErr extends Error { constructor(m) { super(m); this.name = "MyErr"; } }; throw new MyErr("m")',
  customNoName: 'class MyErr extends Error {}; throw new MyErr("m")',
  customProps: 'const e = new Error("m"); e.code = "E1"; e.extra = {a: 1}; throw e',
  renamed: 'const e = new TypeError("m"); e.name = "Other"; throw e',
  msgNum: 'const e = new Error("m"); e.message = 42; throw e',
  noMessage: 'throw new Error()',
  stackless: 'const e = new Error("m"); delete e.stack; e.stack = undefined; throw e',
  stackString: 'const e = new Error("m"); e.stack = "custom stack"; throw e',
  errLike: 'throw {message: "m", name: "Error", stack: "x"}',
  plainObj: 'throw {a: 1}',
  arr: 'throw [1]',
  num: 'throw 1',
  str: 'throw "s"',
  nul: 'throw null',
  undef: 'throw undefined',
  bool: 'throw false',
  sym: 'throw Symbol("s")',
  big: 'throw 5n',
  fnThrown: 'throw function f() {}',
  proxyErr: 'throw new Proxy(new Error("p"), {})',
  nullProtoErr: 'const e = new Error("m"); Object.setPrototypeOf(e, null); throw e',
  stackOverflow: '(function f() { f() })()',
  domLike: 'throw Object.create(Error.prototype, {message: {value: "fake"}})',
  getterThrows: 'const e = new Error("m"); Object.defineProperty(e, "message", {get() { throw 1 }}); throw e',
  cause: 'throw new Error("m", {cause: new Error("c")})',
};
for (const [k, code] of Object.entries(THROWS)) {
  add(`throw ${k}: sync`, (h) => {
    const { ctx } = h.ctx();
    return h.out(() => ctx.evalSync(code, { filename: 'guest.js' }));
  });
  add(`throw ${k}: async`, (h) => {
    const { ctx } = h.ctx();
    return h.out(() => ctx.eval(code, { filename: 'guest.js' }));
  });
  add(`throw ${k}: rejected promise`, (h) => {
    const { ctx } = h.ctx();
    return h.out(() => ctx.eval(`(async () => { ${code} })()`, { filename: 'guest.js', promise: true }));
  });
}
add('throw: guest catches host errors', (h, ivm) => {
  const { ctx } = h.ctx();
  ctx.global.setSync('f', new ivm.Callback(() => {
    throw new RangeError('from host');
  }));
  ctx.global.setSync('g', new ivm.Callback(() => {
    throw 7;
  }));
  ctx.global.setSync('k', new ivm.Callback(() => {
    throw { a: 1 };
  }));
  const code = (c) => `try { ${c} } catch (e) { typeof e === 'object' && e ? [Object.prototype.toString.call(e), e.constructor.name, e.name, e.message, e instanceof Error, String(e.stack).split('\\n').map(l => l.includes('boundary') ? 'B' : l.includes('guest.js') ? 'G' : 'H').join('')].join('|') : typeof e + ':' + e }`;
  return all(h, {
    range: () => ctx.evalSync(code('f()'), { filename: 'guest.js' }),
    prim: () => ctx.evalSync(code('g()'), { filename: 'guest.js' }),
    obj: () => ctx.evalSync(code('k()'), { filename: 'guest.js' }),
    propagated: () => ctx.evalSync('f()', { filename: 'guest.js' }),
  });
});
add('throw: unhandled rejection in guest', (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    a: () => ctx.evalSync('Promise.reject(new Error("unhandled")); 1'),
    b: () => ctx.evalSync('2'),
  });
});

// ---------------------------------------------------------------------------
// evalClosure

add('evalClosure: basics', async (h, ivm) => {
  const { ctx } = h.ctx();
  const c = (code, args, o) => () => ctx.evalClosureSync(code, args, o);
  return all(h, {
    ret: c('return $0 + $1', [1, 2]),
    noReturn: c('$0 + 1', [1]),
    thisIsGlobal: c('return this === globalThis'),
    argsLength: c('return arguments.length', [1, 2, 3]),
    undefArgs: c('return arguments.length', undefined),
    nullArgs: c('return arguments.length', null),
    argsNotArray: c('return 1', 'abc'),
    argsObj: c('return 1', { length: 1, 0: 1 }),
    objArg: c('return $0', [{ a: 1 }]),
    objArgCopy: c('return $0', [{ a: 1 }], { arguments: { copy: true } }),
    objResult: c('return {a: 1}'),
    objResultCopy: c('return {a: 1}', [], { result: { copy: true } }),
    objResultRef: c('return {a: 1}', [], { result: { reference: true } }),
    objResultExt: c('return {a: 1}', [], { result: { externalCopy: true } }),
    fnResult: c('return function f(x) { return x * 2 }'),
    fnResultCall: () => ctx.evalClosureSync('return function f(x) { return x * 2 }')(21),
    fnArg: c('return $0(2)', [(x) => x + 1]),
    fnArgCopy: c('return typeof $0', [(x) => x + 1], { arguments: { copy: true } }),
    symResult: c('return Symbol()'),
    promiseResult: c('return Promise.resolve(1)'),
    promiseResultOpt: c('return Promise.resolve(1)', [], { result: { promise: true } }),
    promiseArg: c('return $0 instanceof Promise', [Promise.resolve(1)], { arguments: { promise: true } }),
    syntax: c('return (', [], { filename: 'guest.js' }),
    throws: c('throw new TypeError("t")', [], { filename: 'guest.js' }),
    refArg: c('return $0.typeof', [new ivm.Reference({})]),
    extArg: c('return $0.copy()', [new ivm.ExternalCopy({ a: 1 })]),
    dollarNames: c('return typeof $2', [1, 2]),
    arrowThis: c('return (() => this === globalThis)()'),
    strict: c('return (function () { return this })() === undefined'),
    optsNum: c('1', [], 1),
    argumentsOptBad: c('1', [], { arguments: 1 }),
    resultOptBad: c('1', [], { result: 'x' }),
    both: c('1', [], { result: { copy: true, reference: true } }),
    codeNum: () => ctx.evalClosureSync(1),
    asyncVal: () => ctx.evalClosure('return $0 * 2', [4]),
    asyncObj: () => ctx.evalClosure('return {}'),
    asyncObjCopy: () => ctx.evalClosure('return {b: 1}', [], { result: { copy: true } }),
    ignored: () => ctx.evalClosureIgnored('throw 1'),
    ignoredObj: () => ctx.evalClosureIgnored('return {}', [{}]),
  });
});

// ---------------------------------------------------------------------------
// Context release

add('Context: release', async (h) => {
  const { iso, ctx } = h.ctx();
  const g = ctx.global;
  const s = iso.compileScriptSync('1');
  return all(h, {
    first: () => ctx.release(),
    second: () => ctx.release(),
    global: () => ctx.global,
    oldGlobal: () => g.getSync('x'),
    oldGlobalTypeof: () => g.typeof,
    evalSync: () => ctx.evalSync('1'),
    eval: () => ctx.eval('1'),
    evalIgnored: () => ctx.evalIgnored('1'),
    closure: () => ctx.evalClosureSync('1'),
    run: () => s.runSync(ctx),
    runAsync: () => s.run(ctx),
    transfer: () => iso.createContextSync().global.setSync('c', ctx),
  });
});
add('Context: release with queued work', async (h) => {
  const { ctx } = h.ctx();
  const p = ctx.eval('1 + 1');
  const r = ctx.release();
  return all(h, { r: () => r, p: () => p });
});

// ---------------------------------------------------------------------------
// Script

add('Script: run variants', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  const s = iso.compileScriptSync('globalThis.n = (globalThis.n || 0) + 1; n');
  const o = iso.compileScriptSync('({a: 1})');
  const t = iso.compileScriptSync('throw new RangeError("r")', { filename: 'guest.js' });
  const loop = iso.compileScriptSync('for(;;);');
  return all(h, {
    sync: () => s.runSync(ctx),
    async: () => s.run(ctx),
    ignored: () => s.runIgnored(ctx),
    afterIgnored: () => s.runSync(ctx),
    obj: () => o.runSync(ctx),
    objCopy: () => o.runSync(ctx, { copy: true }),
    objRef: () => o.runSync(ctx, { reference: true }).typeof,
    objExt: () => o.runSync(ctx, { externalCopy: true }).copy(),
    objPromise: () => o.runSync(ctx, { promise: true }),
    throws: () => t.runSync(ctx),
    throwsAsync: () => t.run(ctx),
    timeout: () => loop.runSync(ctx, { timeout: 20 }),
    timeoutAsync: () => loop.run(ctx, { timeout: 20 }),
    noCtx: () => s.runSync(),
    badCtx: () => s.runSync({}),
    badCtxAsync: () => s.run({}),
    badCtxIgnored: () => s.runIgnored({}),
    optsNum: () => s.runSync(ctx, 1),
    keys: () => Reflect.ownKeys(s),
    frozen: () => Object.isFrozen(s),
    protoKeys: () => Object.getOwnPropertyNames(Object.getPrototypeOf(s)).sort().join(','),
  });
});
add('Script: release', async (h) => {
  const { iso, ctx } = h.ctx();
  const s = iso.compileScriptSync('1');
  const s2 = iso.compileScriptSync('2');
  return all(h, {
    runRelease: () => s2.runSync(ctx, { release: true }),
    afterRunRelease: () => s2.runSync(ctx),
    afterRunReleaseRelease: () => s2.release(),
    first: () => s.release(),
    second: () => s.release(),
    run: () => s.runSync(ctx),
    runAsync: () => s.run(ctx),
    runIgnored: () => s.runIgnored(ctx),
  });
});
add('Script: cross-isolate', async (h) => {
  const a = h.ctx();
  const b = h.ctx();
  const s = a.iso.compileScriptSync('1');
  return all(h, {
    sync: () => s.runSync(b.ctx),
    async: () => s.run(b.ctx),
    ignored: () => s.runIgnored(b.ctx),
    sameIsoOtherCtx: () => s.runSync(a.iso.createContextSync()),
    disposedOther: () => {
      b.iso.dispose();
      return s.runSync(b.ctx);
    },
  });
});

// ---------------------------------------------------------------------------
// Modules

add('Module: compile and shape', async (h) => {
  const iso = h.iso();
  const m = iso.compileModuleSync('import a from "a"; import {b} from "./b.js"; export * from "c"; export default 1;');
  return all(h, {
    specs: () => m.dependencySpecifiers,
    specsSame: () => m.dependencySpecifiers === m.dependencySpecifiers,
    keys: () => Reflect.ownKeys(m),
    frozen: () => Object.isFrozen(m),
    ctor: () => m.constructor.name,
    protoKeys: () => Object.getOwnPropertyNames(Object.getPrototypeOf(m)).sort().join(','),
    syntax: () => iso.compileModuleSync('export let = 1', { filename: 'mod.js' }),
    syntaxAsync: () => iso.compileModule('import', { filename: 'mod.js' }),
    badCode: () => iso.compileModuleSync(1),
    badOpts: () => iso.compileModuleSync('1', 1),
    metaBad: () => iso.compileModuleSync('1', { meta: 1 }),
    dynamicImportSpecs: () => iso.compileModuleSync('import("x")').dependencySpecifiers,
    asyncOk: () => iso.compileModule('export const x = 1').then((x) => x.dependencySpecifiers),
    produce: () => Object.keys(iso.compileModuleSync('export const y = 2', { produceCachedData: true })),
  });
});
const modSetup = (h) => {
  const { iso, ctx } = h.ctx();
  const dep = iso.compileModuleSync('export const x = 40;');
  const m = iso.compileModuleSync('import {x} from "dep"; export const y = x + 2; y;', { filename: 'mod.js' });
  return { iso, ctx, dep, m, link: () => m.instantiateSync(ctx, (spec) => (spec === 'dep' ? dep : undefined)) };
};
add('Module: evaluate before instantiate', (h) => h.out(() => modSetup(h).m.evaluateSync()));
add('Module: evaluate before instantiate async', (h) => h.out(() => modSetup(h).m.evaluate()));
add('Module: namespace before instantiate', (h) => h.out(() => modSetup(h).m.namespace));
add('Module: instantiateSync result', (h) => h.out(() => modSetup(h).link()));
add('Module: namespace after instantiate', (h) => {
  const s = modSetup(h);
  s.link();
  return h.out(() => s.m.namespace);
});
add('Module: instantiate again', (h) => {
  const s = modSetup(h);
  s.link();
  return h.out(() => s.m.instantiateSync(s.ctx, () => { throw new Error('not called'); }));
});
add('Module: evaluateSync result and namespace', async (h) => {
  const s = modSetup(h);
  s.link();
  return all(h, {
    ev: () => s.m.evaluateSync(),
    again: () => s.m.evaluateSync(),
    nsCtor: () => s.m.namespace.constructor.name,
    nsTypeof: () => s.m.namespace.typeof,
    nsY: () => s.m.namespace.getSync('y'),
    nsSame: () => s.m.namespace === s.m.namespace,
  });
});
add('Module: evaluate async result', (h) => {
  const s = modSetup(h);
  s.link();
  return h.out(() => s.m.evaluate());
});
add('Module: dependency evaluated', (h) => {
  const s = modSetup(h);
  s.link();
  s.m.evaluateSync();
  return h.out(() => s.dep.evaluate());
});
add('Module: release once', (h) => h.out(() => modSetup(h).m.release()));

add('Module: evaluate results', async (h) => {
  const { iso, ctx } = h.ctx();
  const mk = (code) => {
    const m = iso.compileModuleSync(code, { filename: 'mod.js' });
    m.instantiateSync(ctx, () => {});
    return m;
  };
  return all(h, {
    last: () => mk('1 + 1').evaluateSync(),
    lastAsync: () => mk('2 + 2').evaluate(),
    tla: () => mk('await 1; 5').evaluateSync(),
    tlaAsync: () => mk('await 1; 6').evaluate(),
    throws: () => mk('throw new TypeError("mod")').evaluateSync(),
    throwsAsync: () => mk('throw new TypeError("mod")').evaluate(),
    throwsAgain: () => {
      const m = mk('throw new TypeError("again")');
      try { m.evaluateSync(); } catch (e) { /* first */ }
      return m.evaluateSync();
    },
    tlaReject: () => mk('await Promise.reject(new RangeError("tla"))').evaluate(),
    timeout: () => mk('for(;;);').evaluateSync({ timeout: 20 }),
    timeoutAsync: () => mk('for(;;);').evaluate({ timeout: 20 }),
    optsNum: () => mk('1').evaluateSync(1),
    optsCopy: () => mk('({a: 1})').evaluateSync({ copy: true }),
  });
});
add('Module: resolver errors', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  const other = h.ctx();
  const mk = () => iso.compileModuleSync('import x from "x"; export default x;', { filename: 'mod.js' });
  const dep = iso.compileModuleSync('export default 1');
  return all(h, {
    retUndef: () => mk().instantiateSync(ctx, () => undefined),
    retObj: () => mk().instantiateSync(ctx, () => ({})),
    retPromiseSync: () => mk().instantiateSync(ctx, () => Promise.resolve(dep)),
    retPromiseAsync: () => mk().instantiate(ctx, () => Promise.resolve(dep)),
    retThenable: () => mk().instantiate(ctx, () => ({ then: (r) => r(dep) })),
    rejects: () => mk().instantiate(ctx, () => Promise.reject(new RangeError('nope'))),
    throwsSync: () => mk().instantiateSync(ctx, () => { throw new RangeError('sync throw'); }),
    asyncRetUndef: () => mk().instantiate(ctx, () => undefined),
    notFn: () => mk().instantiateSync(ctx, 1),
    noCtx: () => mk().instantiateSync(undefined, () => dep),
    badCtx: () => mk().instantiateSync({}, () => dep),
    otherIsoCtx: () => mk().instantiateSync(other.ctx, () => dep),
    otherIsoDep: () => mk().instantiateSync(ctx, () => other.iso.compileModuleSync('export default 2')),
    resolverArgs: () => {
      let seen;
      const m = mk();
      m.instantiateSync(ctx, (spec, referrer) => {
        seen = [spec, referrer === m, typeof referrer, arguments.length];
        return dep;
      });
      return seen;
    },
    returnValue: () => iso.compileModuleSync('export default 1').instantiateSync(ctx, () => dep),
    returnValueAsync: () => iso.compileModuleSync('export default 1').instantiate(ctx, () => dep),
    retryAfterFail: () => {
      const m = mk();
      try { m.instantiateSync(ctx, () => undefined); } catch (e) { /* first */ }
      m.instantiateSync(ctx, () => dep);
      return m.evaluateSync();
    },
  });
});
add('Module: use after release (isolated-vm crashes)', async (h) => {
  const { iso, ctx } = h.ctx();
  const m = iso.compileModuleSync('export default 1');
  return all(h, {
    first: () => m.release(),
    inst: () => m.instantiateSync(ctx, () => {}),
    instAsync: () => m.instantiate(ctx, () => {}),
    evaluate: () => m.evaluateSync(),
    ns: () => m.namespace,
  });
});
add('Module: import.meta', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  const m = iso.compileModuleSync('export default import.meta.url', {
    meta: (meta) => meta.url = 'x:y',
  });
  m.instantiateSync(ctx, () => {});
  return all(h, { r: () => m.evaluateSync(), ns: () => m.namespace.getSync('default') });
});

// ---------------------------------------------------------------------------
// Snapshots

add('createSnapshot: basics', async (h, ivm) => {
  const snap = ivm.Isolate.createSnapshot([{ code: 'globalThis.x = 41', filename: 'snap.js' }]);
  const iso = h.iso({ snapshot: snap });
  const ctx = iso.createContextSync();
  return all(h, {
    ctor: () => snap.constructor.name,
    x: () => ctx.evalSync('x + 1'),
    warm: () => typeof ivm.Isolate.createSnapshot([{ code: 'function f() {}' }], 'f()'),
  });
});
add('createSnapshot: errors', async (h, ivm) => {
  const cs = (...a) => () => ivm.Isolate.createSnapshot(...a);
  return all(h, {
    none: cs(),
    num: cs(1),
    obj: cs({}),
    arrNum: cs([1]),
    noCode: cs([{}]),
    codeNum: cs([{ code: 1 }]),
    filenameNum: cs([{ code: '1', filename: 1 }]),
    syntax: cs([{ code: 'let = ;', filename: 'snap.js' }]),
    throwErr: cs([{ code: 'throw new RangeError("in snap")', filename: 'snap.js' }]),
    throwPrim: cs([{ code: 'throw 1', filename: 'snap.js' }]),
    warmNum: cs([], 1),
    warmThrow: cs([], 'throw new Error("warm")'),
    empty: () => typeof ivm.Isolate.createSnapshot([]),
    instanceMethod: () => typeof h.iso().createSnapshot,
  });
});

// ---------------------------------------------------------------------------
// Memory limit

add('memory limit: heap bomb', async (h) => {
  const { iso, ctx } = h.ctx({ memoryLimit: 16 });
  return all(h, {
    sync: () => ctx.evalSync('const a = []; for (;;) a.push({x: Math.random()})'),
    disposed: () => iso.isDisposed,
    after: () => ctx.evalSync('1'),
    afterAsync: () => ctx.eval('1'),
  });
});
add('memory limit: async heap bomb', async (h) => {
  const { iso, ctx } = h.ctx({ memoryLimit: 16 });
  return all(h, {
    async: () => ctx.eval('const a = []; for (;;) a.push({x: Math.random()})'),
    disposed: () => iso.isDisposed,
  });
});
add('memory limit: ArrayBuffer', async (h) => {
  const { iso, ctx } = h.ctx({ memoryLimit: 16 });
  return all(h, {
    big: () => ctx.evalSync('try { new ArrayBuffer(64 * 1024 * 1024); "ok" } catch (e) { e.constructor.name + ": " + e.message }'),
    alive: () => iso.isDisposed,
  });
});

// ---------------------------------------------------------------------------
// From inside a guest (the library transferred in)

add('guest: library shape', (h) =>
  h.guestSync(`
    return {
      keys: Object.keys(ivm).sort().join(','),
      names: Object.getOwnPropertyNames(ivm).sort().join(','),
      frozen: Object.isFrozen(ivm),
      isolate: typeof ivm.Isolate,
      ctx: typeof ivm.Context,
      script: typeof ivm.Script,
      module: typeof ivm.Module,
      ref: typeof ivm.Reference,
      cb: typeof ivm.Callback,
      ec: typeof ivm.ExternalCopy,
    };`));
add('guest: nested isolate sync', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate({ memoryLimit: 8 });
    const ctx = iso.createContextSync();
    const s = iso.compileScriptSync('6 * 7');
    const r = {
      eval: out(() => ctx.evalSync('1 + 1')),
      obj: out(() => ctx.evalSync('({})')),
      copy: out(() => ctx.evalSync('({a: 1})', { copy: true })),
      run: out(() => s.runSync(ctx)),
      closure: out(() => ctx.evalClosureSync('return $0 + 1', [1])),
      throws: out(() => ctx.evalSync('throw new RangeError("in nested")', { filename: 'g2.js' })),
      throwPrim: out(() => ctx.evalSync('throw 5')),
      syntax: out(() => ctx.evalSync('(', { filename: 'g2.js' })),
      timeout: out(() => ctx.evalSync('for(;;);', { timeout: 20 })),
      heap: out(() => Object.keys(iso.getHeapStatisticsSync()).join(',')),
      cpu: out(() => typeof iso.cpuTime),
      refCount: out(() => typeof iso.referenceCount),
      memLow: out(() => new ivm.Isolate({ memoryLimit: 1 })),
      badOpts: out(() => new ivm.Isolate(1)),
      badCode: out(() => ctx.evalSync(1)),
      badFilename: out(() => ctx.evalSync('1', { filename: 2 })),
      ctxRelease: out(() => iso.createContextSync().release()),
      scriptRelease: out(() => s.release()),
      runReleased: out(() => s.runSync(ctx)),
      dispose: out(() => iso.dispose()),
      disposeAgain: out(() => iso.dispose()),
      afterDispose: out(() => ctx.evalSync('1')),
      isDisposed: out(() => iso.isDisposed),
      createAfter: out(() => iso.createContextSync()),
    };
    return r;`));
add('guest: nested isolate async', (h) =>
  h.guestAsync(`
    const iso = new ivm.Isolate({ memoryLimit: 8 });
    const ctx = await iso.createContext();
    const s = await iso.compileScript('6 * 7');
    return {
      eval: await out(() => ctx.eval('1 + 1')),
      obj: await out(() => ctx.eval('({})')),
      run: await out(() => s.run(ctx)),
      throws: await out(() => ctx.eval('throw new TypeError("t")', { filename: 'g2.js' })),
      timeout: await out(() => ctx.eval('for(;;);', { timeout: 20 })),
      syncRefused: await out(() => ctx.evalSync('1')),
      syncRefusedCompile: await out(() => iso.compileScriptSync('1')),
      syncRefusedCreate: await out(() => iso.createContextSync()),
      heapSync: await out(() => iso.getHeapStatisticsSync()),
      heap: await out(async () => Object.keys(await iso.getHeapStatistics()).length > 5),
    };`));
add('guest: nested modules', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const dep = iso.compileModuleSync('export const x = 1');
    const m = iso.compileModuleSync('import {x} from "d"; export const y = x + 1;');
    return {
      specs: out(() => m.dependencySpecifiers),
      inst: out(() => m.instantiateSync(ctx, () => dep)),
      ev: out(() => m.evaluateSync()),
      ns: out(() => m.namespace.getSync('y')),
      bad: out(() => iso.compileModuleSync('import x from "z"').instantiateSync(ctx, () => 1)),
    };`));
add('guest: snapshot from guest', (h) =>
  h.guestSync(`return { snap: out(() => typeof ivm.Isolate.createSnapshot([{ code: 'x = 1' }])) };`));
add('guest: errors from nested isolate', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const r = {};
    for (const [k, c] of Object.entries({
      Error: 'throw new Error("m")', Range: 'throw new RangeError("m")', Eval: 'throw new EvalError("m")',
      custom: 'class X extends Error {}; throw new X("m")', obj: 'throw {a: 1}', nul: 'throw null',
    })) r[k] = out(() => ctx.evalSync(c, { filename: 'g2.js' }));
    return r;`));
add('guest: dispose during nested sync', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    ctx.global.setSync('kill', new ivm.Callback(() => iso.dispose()));
    return { a: out(() => ctx.evalSync('kill(); 1')), d: out(() => iso.isDisposed) };`));
add('guest: nested memory limit', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate({ memoryLimit: 8 });
    const ctx = iso.createContextSync();
    return { a: out(() => ctx.evalSync('const a = []; for (;;) a.push({x: Math.random()})')), d: out(() => iso.isDisposed) };`));

// ---------------------------------------------------------------------------
// More: lifecycle after kills, promise results, guests' async calls

add('memory limit: state after kill', async (h) => {
  const { iso, ctx } = h.ctx({ memoryLimit: 16 });
  try { ctx.evalSync('const a = []; for (;;) a.push({x: Math.random()})'); } catch (e) { /* killed */ }
  return all(h, {
    disposed: () => iso.isDisposed,
    dispose: () => iso.dispose(),
    cpu: () => typeof iso.cpuTime,
    heap: () => iso.getHeapStatisticsSync(),
    create: () => iso.createContextSync(),
    compile: () => iso.compileScriptSync('1'),
  });
});
add('timeout: then state', async (h) => {
  const { iso, ctx } = h.ctx();
  return all(h, {
    t0: () => ctx.evalSync('1', { timeout: 0 }),
    loopAsyncFn: () => ctx.evalSync('(async () => { for(;;); })()', { timeout: 20 }),
    microtasks: () => ctx.evalSync('Promise.resolve().then(() => { for(;;); }); 1', { timeout: 20 }),
    after: () => ctx.evalSync('3'),
    refCount: () => typeof iso.referenceCount,
  });
});
add('eval: promise results', async (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    pending: () => { const p = ctx.evalSync('new Promise(() => {})', { promise: true }); p.catch(() => {}); return p instanceof Promise; },
    resolvesFn: () => ctx.evalSync('Promise.resolve(function f() {})', { promise: true }),
    resolvesSym: () => ctx.evalSync('Promise.resolve(Symbol())', { promise: true }),
    resolvesRef: () => ctx.evalSync('Promise.resolve({a: 1})', { promise: true, reference: true }).then((r) => r.typeof),
    resolvesExt: () => ctx.evalSync('Promise.resolve({a: 1})', { promise: true, externalCopy: true }).then((r) => r.copy()),
    rejectsPrim: () => ctx.evalSync('Promise.reject(5)', { promise: true }),
    rejectsObj: () => ctx.evalSync('Promise.reject({a: 1})', { promise: true }),
    asyncEval: () => ctx.eval('Promise.resolve(7)', { promise: true }),
    asyncEvalObj: () => ctx.eval('Promise.resolve({})', { promise: true }),
    thenable: () => ctx.evalSync('({ then(r) { r(9) } })', { promise: true }),
    closurePromise: () => ctx.evalClosureSync('return Promise.resolve({a: 1})', [], { result: { promise: true } }),
    closurePromiseCopy: () => ctx.evalClosureSync('return Promise.resolve({a: 1})', [], { result: { promise: true, copy: true } }),
    runPromise: () => h.lib && ctx.evalSync('Promise.resolve(8)', { promise: true }),
  });
});
add('script: run in several contexts', async (h) => {
  const { iso, ctx } = h.ctx();
  const s = iso.compileScriptSync('typeof x === "undefined" ? (globalThis.x = 1) : ++x');
  const c2 = iso.createContextSync();
  return all(h, {
    a: () => s.runSync(ctx),
    b: () => s.runSync(ctx),
    c: () => s.runSync(c2),
    rel: () => s.runSync(c2, { release: true }),
    after: () => s.runSync(ctx),
    relAsync: () => iso.compileScriptSync('5').run(ctx, { release: true }),
  });
});
add('guest: async calls validation', (h) =>
  h.guestAsync(`
    const iso = new ivm.Isolate();
    const ctx = await iso.createContext();
    const sync = (fn) => { try { const p = fn(); return p instanceof Promise ? 'promise' : 'value'; } catch (e) { return 'threw ' + e.constructor.name + ': ' + e.message; } };
    const s = await iso.compileScript('1');
    return {
      evalNum: sync(() => ctx.eval(1)),
      evalOpts: sync(() => ctx.eval('1', 1)),
      evalTimeoutStr: await out(() => ctx.eval('1', { timeout: 'x' })),
      closureArgs: sync(() => ctx.evalClosure('1', 5)),
      closureNonTransferable: await out(() => ctx.evalClosure('1', [{}])),
      compileNum: sync(() => iso.compileScript(1)),
      runBad: sync(() => s.run({})),
      moduleNum: sync(() => iso.compileModule(1)),
      ctxNum: sync(() => iso.createContext(1)),
      ignoredReleased: (() => { const c = iso.createContextSync ? 'n/a' : 'n/a'; return c; })(),
    };`));
add('guest: options parsing', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate({ memoryLimit: null });
    const ctx = iso.createContextSync(null);
    return {
      nullOpts: out(() => ctx.evalSync('1', { filename: null, timeout: null })),
      lineFrac: out(() => ctx.evalSync('1', { lineOffset: 1.5 })),
      timeoutFrac: out(() => ctx.evalSync('1', { timeout: 0.5 })),
      timeoutStr: out(() => ctx.evalSync('1', { timeout: 'x' })),
      inspectorStr: out(() => iso.createContextSync({ inspector: 'x' })),
      fnOpts: out(() => typeof new ivm.Isolate(() => {})),
      produce: out(() => Object.keys(iso.compileScriptSync('1', { produceCachedData: true }))),
      produceStr: out(() => iso.compileScriptSync('1', { produceCachedData: 'x' })),
      cachedBad: out(() => iso.compileScriptSync('1', { cachedData: 1 })),
    };`));
add('guest: release and global', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const g = ctx.global;
    const s = iso.compileScriptSync('1');
    return {
      globalSame: out(() => ctx.global === ctx.global),
      globalType: out(() => g.typeof),
      rel1: out(() => ctx.release()),
      rel2: out(() => ctx.release()),
      globalAfter: out(() => ctx.global),
      evalAfter: out(() => ctx.evalSync('1')),
      ignoredAfter: out(() => ctx.evalIgnored('1')),
      runAfter: out(() => s.runSync(ctx)),
      runIgnoredAfter: out(() => s.runIgnored(ctx)),
      other: out(() => s.runSync(new ivm.Isolate().createContextSync())),
      otherIgnored: out(() => s.runIgnored(new ivm.Isolate().createContextSync())),
    };`));
add('guest: value kinds from nested eval', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const r = {};
    for (const [k, c] of Object.entries({
      obj: '({a: 1})', fn: '(function f(a) { return a })', sym: 'Symbol()', big: '10n', date: 'new Date(0)',
      negZero: '-0', str: '"s"', promise: 'Promise.resolve(1)', undef: 'undefined', nul: 'null',
    })) r[k] = out(() => ctx.evalSync(c));
    r.fnCall = out(() => ctx.evalSync('(function f(a) { return a * 2 })')(21));
    r.copy = out(() => ctx.evalSync('({a: [1]})', { copy: true }));
    r.ref = out(() => ctx.evalSync('({a: [1]})', { reference: true }).typeof);
    r.closureObj = out(() => ctx.evalClosureSync('return {}'));
    return r;`));
add('guest: module errors', (h) =>
  h.guestSync(`
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    const m = iso.compileModuleSync('import x from "x"; export default x;');
    const dep = iso.compileModuleSync('export default 1');
    return {
      evalBefore: out(() => m.evaluateSync()),
      nsBefore: out(() => m.namespace),
      resolverThrows: out(() => m.instantiateSync(ctx, () => { throw new RangeError('res'); })),
      resolverUndef: out(() => m.instantiateSync(ctx, () => undefined)),
      inst: out(() => m.instantiateSync(ctx, () => dep)),
      ev: out(() => m.evaluateSync()),
      ns: out(() => m.namespace.getSync('default')),
      throwing: out(() => { const t = iso.compileModuleSync('throw new TypeError("tm")'); t.instantiateSync(ctx, () => {}); return t.evaluateSync(); }),
      syntax: out(() => iso.compileModuleSync('export default', { filename: 'mod.js' })),
      timeout: out(() => { const t = iso.compileModuleSync('for(;;);'); t.instantiateSync(ctx, () => {}); return t.evaluateSync({ timeout: 20 }); }),
      rel: out(() => dep.release()),
    };`));

// ---------------------------------------------------------------------------
// Batch 3: hostile errors, queued work at disposal, inspector option, hangs

const HOSTILE = {
  ctorGetterThrows: 'const e = new Error("m"); Object.defineProperty(e, "constructor", { get() { throw 1 } }); throw e',
  nameObject: 'const e = new Error("m"); e.name = { toString() { return "Obj" } }; throw e',
  nameThrows: 'class X extends Error { get name() { throw 2 } }; throw new X("m")',
  stackTraceLimit0: 'Error.stackTraceLimit = 0; throw new Error("m")',
  prepareStackTrace: 'Error.prepareStackTrace = () => "prepared"; throw new Error("m")',
  protoNamePatched: 'Error.prototype.name = "Patched"; throw new Error("m")',
  messageToStringThrows: 'throw { message: { toString() { throw 1 } } }',
  errorSubclassRange: 'class R extends RangeError {}; throw new R("m")',
  frozenError: 'throw Object.freeze(new TypeError("f"))',
  hugeMessage: 'throw new Error("x".repeat(100000))',
  deepStack: 'function f(n) { if (n === 0) throw new Error("deep"); f(n - 1) } f(50)',
};
for (const [k, code] of Object.entries(HOSTILE)) {
  add(`hostile throw ${k}`, (h) => {
    const { ctx } = h.ctx();
    return h.out(() => ctx.evalSync(code, { filename: 'guest.js' }));
  });
}
add('dispose with queued async calls', async (h) => {
  const { iso, ctx } = h.ctx();
  const a = ctx.eval('for(;;);');
  const b = ctx.eval('1');
  const c = ctx.evalClosure('return 2');
  const d = iso.compileScript('3');
  await new Promise((r) => setTimeout(r, 30));
  iso.dispose();
  return all(h, { a: () => a, b: () => b, c: () => c, d: () => d });
});
add('inspector option', async (h) => {
  const plain = h.iso();
  const insp = h.iso({ inspector: true });
  return all(h, {
    sessionPlain: () => plain.createInspectorSession(),
    ctxInspector: () => typeof insp.createContextSync({ inspector: true }),
    session: () => typeof insp.createInspectorSession(),
    disposedSession: () => { const i = h.iso({ inspector: true }); i.dispose(); return i.createInspectorSession(); },
  });
});
add('promise timeout: never settles', async (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    sync: () => { const p = ctx.evalSync('new Promise(() => {})', { promise: true, timeout: 20 }); p.catch(() => {}); return p instanceof Promise; },
  });
});
add('evalClosure runtime error positions', (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    plain: () => ctx.evalClosureSync('\nthrow new Error("c")', [], { filename: 'guest.js' }),
    offsets: () => ctx.evalClosureSync('throw new Error("c")', [], { filename: 'guest.js', lineOffset: 5, columnOffset: 7 }),
    syntax: () => ctx.evalClosureSync('\n)', [], { filename: 'guest.js' }),
  });
});
add('Script run positions', (h) => {
  const { iso, ctx } = h.ctx();
  const s = iso.compileScriptSync('\n\nthrow new Error("s")', { filename: 'guest.js', lineOffset: 10, columnOffset: 3 });
  return h.out(() => s.runSync(ctx));
});
add('globalThis results and intrinsics', (h) => {
  const { ctx } = h.ctx();
  return all(h, {
    keys: () => ctx.evalSync('Object.getOwnPropertyNames(globalThis).filter(k => !/^[A-Z]/.test(k)).sort().join(",")'),
    classes: () => ctx.evalSync('Object.getOwnPropertyNames(globalThis).filter(k => /^[A-Z]/.test(k)).sort().join(",")'),
    evalAllowed: () => ctx.evalSync('eval("1 + 1")'),
    fnCtor: () => ctx.evalSync('new Function("return 3")()'),
    wasm: () => ctx.evalSync('typeof WebAssembly'),
    sab: () => ctx.evalSync('typeof SharedArrayBuffer'),
    atomicsWait: () => ctx.evalSync('typeof Atomics.wait'),
    console: () => ctx.evalSync('typeof console'),
    intl: () => ctx.evalSync('typeof Intl'),
    date: () => ctx.evalSync('typeof Date.now()'),
    random: () => ctx.evalSync('typeof Math.random()'),
    gc: () => ctx.evalSync('typeof gc'),
    queueMicrotask: () => ctx.evalSync('typeof queueMicrotask'),
    setTimeout: () => ctx.evalSync('typeof setTimeout'),
    structuredClone: () => ctx.evalSync('typeof structuredClone'),
  });
});

// ---------------------------------------------------------------------------
// Batch 4: evalClosure value kinds both ways, under every result option

const KINDS = {
  undef: 'undefined', nul: 'null', num: '1.5', negZero: '-0', nan: 'NaN', str: '"s"', bool: 'true', big: '10n',
  sym: 'Symbol("s")', obj: '({a: 1})', arr: '[1, [2]]', fn: '(function f(a, b) { return a })', date: 'new Date(0)',
  err: 'new RangeError("r")', map: 'new Map([[1, 2]])', ab: 'new ArrayBuffer(2)', u8: 'new Uint8Array([1, 2])',
  promise: 'Promise.resolve(1)', proxy: 'new Proxy({}, {})', regexp: '/x/g', boxed: 'new Number(1)',
};
for (const [opt, o] of Object.entries({ none: undefined, copy: { copy: true }, reference: { reference: true }, externalCopy: { externalCopy: true } })) {
  add(`evalClosure result kinds: ${opt}`, async (h) => {
    const { ctx } = h.ctx();
    const r = {};
    for (const [k, code] of Object.entries(KINDS)) {
      r[k] = await h.out(() => {
        const v = ctx.evalClosureSync(`return ${code}`, [], o && { result: o });
        if (v && typeof v === 'object' && typeof v.copySync === 'function' && typeof v.typeof === 'string') return `Reference(${v.typeof})`;
        if (v && typeof v === 'object' && typeof v.copy === 'function' && typeof v.copyInto === 'function') {
          try { return { ext: v.copy() }; } catch (e) { return `ExternalCopy.copy threw ${e.message}`; }
        }
        return v;
      });
    }
    return r;
  });
  add(`eval result kinds: ${opt}`, async (h) => {
    const { ctx } = h.ctx();
    const r = {};
    for (const [k, code] of Object.entries(KINDS)) {
      r[k] = await h.out(() => {
        const v = ctx.evalSync(code, o);
        if (v && typeof v === 'object' && typeof v.copySync === 'function' && typeof v.typeof === 'string') return `Reference(${v.typeof})`;
        if (v && typeof v === 'object' && typeof v.copy === 'function' && typeof v.copyInto === 'function') {
          try { return { ext: v.copy() }; } catch (e) { return `ExternalCopy.copy threw ${e.message}`; }
        }
        return v;
      });
    }
    return r;
  });
}
const HOST_KINDS = {
  undef: undefined, nul: null, num: 1.5, negZero: -0, str: 's', big: 10n, sym: Symbol('s'), obj: { a: 1 }, arr: [1, [2]],
  fn: function f(a) { return a; }, date: new Date(0), err: new RangeError('r'), map: new Map([[1, 2]]), u8: new Uint8Array([1, 2]),
  promise: Promise.resolve(1),
};
const DESCRIBE_IN_GUEST = `
  const v = $0;
  if (v === null) return 'null';
  if (typeof v === 'object') return Object.prototype.toString.call(v) + ':' + (v.constructor && v.constructor.name) + ':' + (typeof v.typeof === 'string' ? 'ref:' + v.typeof : '') + JSON.stringify(v instanceof Map || v instanceof Date || v instanceof Error ? String(v) : v);
  if (typeof v === 'function') return 'function:' + v.name + ':' + v.length;
  return typeof v + ':' + String(v);`;
for (const [opt, o] of Object.entries({ none: undefined, copy: { copy: true }, reference: { reference: true }, externalCopy: { externalCopy: true } })) {
  add(`evalClosure argument kinds: ${opt}`, async (h) => {
    const { ctx } = h.ctx();
    const r = {};
    for (const [k, v] of Object.entries(HOST_KINDS)) {
      r[k] = await h.out(() => ctx.evalClosureSync(DESCRIBE_IN_GUEST, [v], o && { arguments: o }));
    }
    return r;
  });
}

// ---------------------------------------------------------------------------
// Batch 5: API surface (prototype members, statics, descriptors)

add('API surface', async (h, ivm) => {
  const { iso, ctx } = h.ctx();
  const names = (o) => Object.getOwnPropertyNames(o).sort().join(',');
  const m = iso.compileModuleSync('export default 1');
  const s = iso.compileScriptSync('1');
  return {
    isolateProto: names(ivm.Isolate.prototype),
    isolateStatic: names(ivm.Isolate),
    contextProto: names(Object.getPrototypeOf(ctx)),
    scriptProto: names(Object.getPrototypeOf(s)),
    moduleProto: names(Object.getPrototypeOf(m)),
    referenceProto: names(ivm.Reference.prototype),
    externalCopyProto: names(ivm.ExternalCopy.prototype),
    externalCopyStatic: names(ivm.ExternalCopy),
    callbackProto: names(ivm.Callback.prototype),
    libNames: names(ivm),
    isolateProtoFrozen: Object.isFrozen(ivm.Isolate.prototype),
    setProto: await h.out(() => Object.setPrototypeOf(iso, {})),
    methodLengths: ['compileScript', 'compileScriptSync', 'createContext', 'createContextSync', 'dispose', 'getHeapStatistics'].map((k) => ivm.Isolate.prototype[k].length).join(','),
  };
});
add('API surface in guest', (h) =>
  h.guestSync(`
    const names = (o) => Object.getOwnPropertyNames(o).sort().join(',');
    const iso = new ivm.Isolate();
    const ctx = iso.createContextSync();
    return {
      isolateProto: names(ivm.Isolate.prototype),
      isolateStatic: names(ivm.Isolate),
      contextProto: names(Object.getPrototypeOf(ctx)),
      scriptProto: names(Object.getPrototypeOf(iso.compileScriptSync('1'))),
      moduleProto: names(Object.getPrototypeOf(iso.compileModuleSync('1'))),
      referenceProto: names(ivm.Reference.prototype),
      externalCopyProto: names(ivm.ExternalCopy.prototype),
      callbackProto: names(ivm.Callback.prototype),
    };`));

// ---------------------------------------------------------------------------
// Batch 6: every core method with missing / wrong-typed parameters

const BAD_ARGS = { none: [], num: [1], str: ['x'], obj: [{}], nul: [null], twoNums: [1, 1], strNum: ['1', 1], strStrNum: ['1', '1', 1], strNullNum: ['1', null, 1] };
const METHODS = {
  isolate: ['compileScript', 'compileScriptSync', 'compileModule', 'compileModuleSync', 'createContext', 'createContextSync', 'getHeapStatistics', 'getHeapStatisticsSync'],
  context: ['eval', 'evalSync', 'evalIgnored', 'evalClosure', 'evalClosureSync', 'evalClosureIgnored', 'release'],
  script: ['run', 'runSync', 'runIgnored'],
  module: ['instantiate', 'instantiateSync', 'evaluate', 'evaluateSync'],
};
for (const [on, methods] of Object.entries(METHODS)) {
  for (const method of methods) {
    add(`bad args: ${on}.${method}`, async (h) => {
      const r = {};
      for (const [k, args] of Object.entries(BAD_ARGS)) {
        const { iso, ctx } = h.ctx();
        const target = on === 'isolate' ? iso : on === 'context' ? ctx : on === 'script' ? iso.compileScriptSync('1') : iso.compileModuleSync('export default 1');
        r[k] = await h.out(() => {
          const v = target[method](...args);
          if (v && typeof v === 'object' && !(v instanceof Promise)) return `object:${v.constructor.name}`;
          if (v instanceof Promise) return v.then((x) => (x && typeof x === 'object' ? `object:${x.constructor.name}` : x));
          return v;
        });
      }
      return r;
    });
  }
}

main(cases);
