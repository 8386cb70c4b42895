// The library as guests see it (`ivm` inside an isolate). Evaluated once per
// context by native/src/guest/library.rs, which passes `N`, the native
// bridge. Returns the library object and the two hooks native code uses to
// turn handles into class instances (`wrap`) and back (`unwrap`).
(function (N) {
  'use strict';
  const SYNC = 0;
  const ASYNC = 1;
  const IGNORED = 2;
  const SYNC_PROMISE = 3;
  const INTERNAL = Symbol('v8-isolates internal');
  // Private accessors, filled in by each class's static block: `is.X(v)`
  // says whether v is an instance, `h.X(v)` reads its handle.
  const is = { __proto__: null };
  const h = { __proto__: null };
  // Builtins are read once: guest code may replace the globals later.
  const { freeze, defineProperty } = Object;
  const { isArray } = Array;
  const { apply } = Reflect;
  const { includes: strIncludes } = String.prototype;
  const { isInteger } = Number;
  const $TypeError = TypeError;
  const $RangeError = RangeError;
  const $Error = Error;
  const $Promise = Promise;
  const reject = (e) => $Promise.reject(e);
  const { then: promiseThen } = $Promise.prototype;
  // Marks an instance as a handle, so that a structured clone carries it.
  const brand = N.brand;
  // `#x in v` throws for primitives: the `is.X` checks look at objects only.
  const isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';

  // Transfer mode codes (the same as the Node side's).
  const MODE_DEFAULT = 0;
  const MODE_COPY = 1;
  const MODE_EXTERNAL_COPY = 2;
  const MODE_REFERENCE = 3;
  const MODE_PROMISE = 4;

  function optionError(name, what) {
    return new $TypeError(`\`${name}\` must be ${what}`);
  }

  function optionsObject(options, method, n) {
    if (options === undefined || options === null) return undefined;
    if (typeof options !== 'object') throw new $TypeError(`\`${method}\` requires parameter ${n} to be an object`);
    return options;
  }

  function requireString(value, method, n = 1) {
    if (typeof value !== 'string') throw new $TypeError(`\`${method}\` requires parameter ${n} to be a string`);
  }

  // A boolean option: absent (undefined or null) is false; anything else but
  // a boolean is a TypeError, as in isolated-vm.
  function boolOption(options, name) {
    if (options === undefined || options === null) return false;
    const v = options[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw optionError(name, 'a boolean');
    return v;
  }

  // isolated-vm's message for a call with too few arguments.
  function arity(name, n) {
    return new $TypeError(`\`${name}\` requires at least ${n} parameter${n === 1 ? '' : 's'}`);
  }

  function transferMode(options, name = 'options') {
    if (options === undefined || options === null) return MODE_DEFAULT;
    if (typeof options !== 'object') throw optionError(name, 'an object');
    const copy = boolOption(options, 'copy');
    const externalCopy = boolOption(options, 'externalCopy');
    const reference = boolOption(options, 'reference');
    const promise = boolOption(options, 'promise');
    const n = (copy ? 1 : 0) + (externalCopy ? 1 : 0) + (reference ? 1 : 0);
    if (n > 1) throw new $TypeError('Only one of `copy`, `externalCopy`, or `reference` may be set');
    const p = promise ? MODE_PROMISE : 0;
    if (copy) return MODE_COPY | p;
    if (externalCopy) return MODE_EXTERNAL_COPY | p;
    if (reference) return MODE_REFERENCE | p;
    return MODE_DEFAULT | p;
  }

  // The transfer code of the options for a Node function's arguments (or a
  // value set on a Node object).
  function promised(options) {
    if (options === undefined || options === null) return MODE_DEFAULT;
    if (!isObject(options)) return undefined;
    return transferMode(options);
  }

  function bidirectional(options) {
    if (options === undefined) return [MODE_DEFAULT, MODE_DEFAULT];
    return [transferMode(options.arguments, 'arguments'), transferMode(options.result, 'result')];
  }

  function readTimeout(options) {
    if (options === undefined || options === null) return undefined;
    const t = options.timeout;
    if (t === undefined || t === null) return undefined;
    if (!isInt32(t)) throw new $TypeError('`timeout` must be a 32-bit number');
    // isolated-vm accepts negative values (as no timeout); we refuse them.
    if (t < 0) throw new $TypeError('`timeout` must be a non-negative 32-bit number');
    return t;
  }

  // A number that is a 32-bit signed integer (isolated-vm's option type).
  function isInt32(v) {
    return typeof v === 'number' && isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
  }

  // An option that is absent: undefined or null (isolated-vm reads both so).
  const absent = (v) => v === undefined || v === null;

  function readOrigin(options) {
    if (options === undefined) return [undefined, undefined, undefined];
    let { filename, lineOffset, columnOffset } = options;
    if (absent(filename)) filename = undefined;
    else if (typeof filename !== 'string') throw optionError('filename', 'a string');
    if (absent(lineOffset)) lineOffset = undefined;
    else if (!isInt32(lineOffset)) throw optionError('lineOffset', 'a 32-bit number');
    if (absent(columnOffset)) columnOffset = undefined;
    else if (!isInt32(columnOffset)) throw optionError('columnOffset', 'a 32-bit number');
    return [filename, lineOffset, columnOffset];
  }

  // A compile's code cache options: `[cachedData, produceCachedData]`.
  // Native code checks that cachedData is an ExternalCopy to ArrayBuffer.
  function readCacheOptions(options) {
    if (options === undefined) return [undefined, false];
    let { cachedData } = options;
    if (absent(cachedData)) cachedData = undefined;
    else if (typeof cachedData !== 'object') throw optionError('cachedData', 'an object');
    return [cachedData, boolOption(options, 'produceCachedData')];
  }

  // The properties a compile with code cache options adds to its result.
  function defineCachedData(obj, cachedData, rejected) {
    const desc = { value: undefined, enumerable: true, writable: false, configurable: false };
    if (cachedData !== undefined) {
      desc.value = cachedData;
      defineProperty(obj, 'cachedData', desc);
    }
    if (rejected !== undefined) {
      desc.value = rejected;
      defineProperty(obj, 'cachedDataRejected', desc);
    }
  }

  // A compile's result: `make([instance, cachedData, rejected])` when code
  // cache options were given (the native result is then that list, or a
  // promise of it), else the instance itself.
  function compiled(variant, cache, r, make) {
    if (!cache) return r;
    return variant === SYNC ? make(r) : apply(promiseThen, r, [make]);
  }

  function readKey(key) {
    if (typeof key === 'string') return key;
    if (typeof key === 'number' && isInteger(key) && key >= 0 && key <= 0xffffffff) return key;
    throw new $TypeError('Invalid `key`');
  }

  function checkArgs(args) {
    if (args !== undefined && args !== null && !isArray(args)) throw new $TypeError('`arguments` must be an array');
    return args === undefined || args === null ? [] : args;
  }

  // Async methods report failures through their promise, except a parameter
  // of the wrong type ("`x` requires parameter N to be ..."), which throws
  // (as on the Node side, and in isolated-vm).
  function later(fn) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof $TypeError && typeof e.message === 'string' && apply(strIncludes, e.message, ['` requires '])) throw e;
      return reject(e);
    }
  }

  // -------------------------------------------------------------------------
  class Isolate {
    #h;

    constructor(options) {
      if (options === INTERNAL) {
        this.#h = arguments[1];
      } else {
        if (!absent(options) && typeof options !== 'object' && typeof options !== 'function') {
          throw new $TypeError('`Isolate` requires parameter 1 to be an object');
        }
        let memoryLimit; // by default, what fits under this isolate's limit (see natives.rs)
        if (options && !absent(options.memoryLimit)) {
          memoryLimit = options.memoryLimit;
          if (typeof memoryLimit !== 'number' || !(memoryLimit === memoryLimit && memoryLimit !== Infinity)) {
            throw optionError('memoryLimit', 'a number');
          }
          if (memoryLimit < 8) throw new $RangeError('`memoryLimit` must be at least 8');
          if (memoryLimit > 64 * 1024) throw new $RangeError('`memoryLimit` must be at most 65536 (MB)');
        }
        if (options && options.inspector) throw new $Error('The inspector is not available inside isolates');
        this.#h = N.isolateNew(memoryLimit);
      }
      brand(this);
      freeze(this);
    }

    static {
      is.Isolate = (v) => isObject(v) && #h in v;
    }

    static {
      h.Isolate = (iso) => {
        return iso.#h;
      };
    }

    #checkLive() {
      if (N.isolateIsDisposed(this.#h)) throw new $Error('Isolate is disposed');
    }

    get isDisposed() {
      return N.isolateIsDisposed(this.#h);
    }

    get cpuTime() {
      this.#checkLive();
      return N.isolateCpuTime(this.#h);
    }

    get wallTime() {
      this.#checkLive();
      return N.isolateWallTime(this.#h);
    }

    get referenceCount() {
      this.#checkLive();
      return N.isolateReferenceCount(this.#h);
    }

    dispose() {
      if (!N.isolateDispose(this.#h)) throw new $Error('Isolate is already disposed');
    }

    #compile(variant, code, options) {
      requireString(code, 'compileScript');
      options = optionsObject(options, 'compileScript', 2);
      const [filename, lineOffset, columnOffset] = readOrigin(options);
      const [cachedData, produce] = readCacheOptions(options);
      const r = N.isolateCompileScript(this.#h, variant, code, filename, lineOffset, columnOffset, cachedData, produce);
      return compiled(variant, cachedData !== undefined || produce, r, ([s, data, rejected]) => new Script(INTERNAL, h.Script(s), data, rejected));
    }

    compileScriptSync(code, options) {
      if (arguments.length < 1) throw arity('compileScript', 1);
      return this.#compile(SYNC, code, options);
    }

    compileScript(code, options) {
      if (arguments.length < 1) throw arity('compileScript', 1);
      return later(() => this.#compile(ASYNC, code, options));
    }

    #context(variant, options) {
      options = optionsObject(options, 'createContext', 1);
      const inspector = options ? options.inspector : undefined;
      if (!absent(inspector) && typeof inspector !== 'boolean') throw optionError('inspector', 'a boolean');
      if (inspector) throw new $Error('Inspector is not enabled for this isolate');
      return N.isolateCreateContext(this.#h, variant);
    }

    createContextSync(options) {
      return this.#context(SYNC, options);
    }

    createContext(options) {
      return later(() => this.#context(ASYNC, options));
    }

    #compileModule(variant, code, options) {
      requireString(code, 'compileModule');
      options = optionsObject(options, 'compileModule', 2);
      if (options && options.meta !== undefined) throw new $Error('`meta` is not available inside isolates');
      const [filename, lineOffset, columnOffset] = readOrigin(options);
      const [cachedData, produce] = readCacheOptions(options);
      const r = N.isolateCompileModule(this.#h, variant, code, filename, lineOffset, columnOffset, cachedData, produce);
      return compiled(variant, cachedData !== undefined || produce, r, ([m, data, rejected]) => new Module(INTERNAL, h.Module(m), h.ModuleSpecifiers(m), data, rejected));
    }

    compileModuleSync(code, options) {
      if (arguments.length < 1) throw arity('compileModule', 1);
      return this.#compileModule(SYNC, code, options);
    }

    compileModule(code, options) {
      if (arguments.length < 1) throw arity('compileModule', 1);
      return later(() => this.#compileModule(ASYNC, code, options));
    }

    getHeapStatisticsSync() {
      return N.isolateHeapStatistics(this.#h, SYNC);
    }

    getHeapStatistics() {
      return later(() => N.isolateHeapStatistics(this.#h, ASYNC));
    }

    getHeapSpaceStatisticsSync() {
      return N.isolateHeapSpaceStatistics(this.#h, SYNC);
    }

    getHeapSpaceStatistics() {
      return later(() => N.isolateHeapSpaceStatistics(this.#h, ASYNC));
    }
  }

  // -------------------------------------------------------------------------
  class Context {
    #h;
    #global;
    #released = false;

    constructor(token, h, globalHandle) {
      if (token !== INTERNAL) throw new $TypeError('Context cannot be constructed directly; use isolate.createContext()');
      this.#h = h;
      this.#global = new Reference(INTERNAL, globalHandle, 'object', false);
      brand(this);
      freeze(this);
    }

    static {
      is.Context = (v) => isObject(v) && #h in v;
    }

    static {
      h.Context = (ctx) => {
        if (ctx.#released) throw new $Error('Context is released');
        return ctx.#h;
      };
    }

    get global() {
      return this.#released ? undefined : this.#global;
    }

    #live() {
      if (this.#released) throw new $Error('Context is released');
    }

    #eval(variant, code, options) {
      this.#live();
      requireString(code, 'eval');
      options = optionsObject(options, 'eval', 2);
      const [filename, lineOffset, columnOffset] = readOrigin(options);
      const timeout = readTimeout(options);
      const mode = transferMode(options);
      return N.contextEval(this.#h, variant, code, filename, lineOffset, columnOffset, timeout, mode);
    }

    evalSync(code, options) {
      if (arguments.length < 1) throw arity('eval', 1);
      return this.#eval(SYNC, code, options);
    }

    eval(code, options) {
      if (arguments.length < 1) throw arity('eval', 1);
      return later(() => this.#eval(ASYNC, code, options));
    }

    evalIgnored(code, options) {
      if (arguments.length < 1) throw arity('eval', 1);
      this.#eval(IGNORED, code, options);
    }

    #evalClosure(variant, code, args, options) {
      this.#live();
      requireString(code, 'evalClosure');
      options = optionsObject(options, 'evalClosure', 3);
      const [filename, lineOffset, columnOffset] = readOrigin(options);
      const timeout = readTimeout(options);
      const [argMode, resultMode] = bidirectional(options);
      if (!absent(args) && !isArray(args)) throw new $TypeError('`evalClosure` requires parameter 2 to be an array');
      const list = checkArgs(args);
      return N.contextEvalClosure(
        this.#h, variant, code, filename, lineOffset, columnOffset, list, argMode, timeout, resultMode,
      );
    }

    evalClosureSync(code, args, options) {
      if (arguments.length < 1) throw arity('evalClosure', 1);
      return this.#evalClosure(SYNC, code, args, options);
    }

    evalClosure(code, args, options) {
      if (arguments.length < 1) throw arity('evalClosure', 1);
      return later(() => this.#evalClosure(ASYNC, code, args, options));
    }

    evalClosureIgnored(code, args, options) {
      if (arguments.length < 1) throw arity('evalClosure', 1);
      this.#evalClosure(IGNORED, code, args, options);
    }

    release() {
      if (this.#released) return false;
      this.#released = true;
      N.release(this.#h);
      this.#global.release();
      return true;
    }
  }

  // -------------------------------------------------------------------------
  class Script {
    #h;
    #released = false;

    constructor(token, h, cachedData, rejected) {
      if (token !== INTERNAL) throw new $TypeError('Script cannot be constructed directly; use isolate.compileScript()');
      this.#h = h;
      defineCachedData(this, cachedData, rejected);
      brand(this);
      freeze(this);
    }

    static {
      is.Script = (v) => isObject(v) && #h in v;
    }

    static {
      h.Script = (s) => {
        return s.#h;
      };
    }

    #run(variant, context, options) {
      if (this.#released) throw new $Error('Script has been released');
      if (!is.Context(context)) throw new $TypeError('`run` requires parameter 1 to be a Context');
      options = optionsObject(options, 'run', 2);
      const timeout = readTimeout(options);
      const mode = transferMode(options);
      const release = boolOption(options, 'release');
      const r = N.scriptRun(this.#h, h.Context(context), variant, timeout, mode);
      if (release) this.release();
      return r;
    }

    runSync(context, options) {
      if (arguments.length < 1) throw arity('run', 1);
      return this.#run(SYNC, context, options);
    }

    run(context, options) {
      if (arguments.length < 1) throw arity('run', 1);
      return later(() => this.#run(ASYNC, context, options));
    }

    runIgnored(context, options) {
      if (arguments.length < 1) throw arity('run', 1);
      this.#run(IGNORED, context, options);
    }

    // Returns undefined, as isolated-vm's Script#release.
    release() {
      if (this.#released) return;
      this.#released = true;
      N.release(this.#h);
    }
  }

  // -------------------------------------------------------------------------
  // A module compiled by this guest. Linking follows the Node side: the
  // resolver's answers for the whole graph are gathered first, then the
  // module's isolate links it (native/src/ops/module.rs).
  const MODULE_RELEASED = 'Module has been released';
  const NOT_MODULE = 'Resolved dependency was not `Module`';

  // A Module object is this context's handle to the module: the module
  // lives while any handle to it (here, in Node, in other isolates) does;
  // whether it is linked is V8's state, shared by all of them.
  class Module {
    #h;
    #specifiers;
    #linking = false;
    #released = false;
    #namespace;

    constructor(token, handle, specifiers, cachedData, rejected) {
      if (token !== INTERNAL) throw new $TypeError('Module cannot be constructed directly; use isolate.compileModule()');
      this.#h = handle;
      this.#specifiers = freeze(specifiers);
      defineCachedData(this, cachedData, rejected);
      brand(this);
      freeze(this);
    }

    static {
      is.Module = (v) => isObject(v) && #h in v;
      h.Module = (m) => m.#h;
      h.ModuleSpecifiers = (m) => m.#specifiers;
    }

    #live() {
      if (this.#released) throw new $Error(MODULE_RELEASED);
    }

    get #linked() {
      return N.moduleLinked(this.#h);
    }

    get dependencySpecifiers() {
      this.#live();
      return [...this.#specifiers];
    }

    get namespace() {
      this.#live();
      if (this.#namespace === undefined) this.#namespace = N.moduleNamespace(this.#h);
      return this.#namespace;
    }

    // Resolves every import of the graph under `root` not linked yet, asking
    // `resolve(specifier, referrer)`; `wait` (async) awaits its answers.
    // Returns the flat link list the native side takes and the modules seen.
    static *#walk(root, resolve, wait) {
      const links = [];
      const seen = [root];
      for (let i = 0; i < seen.length; i++) {
        const m = seen[i];
        m.#live();
        for (const specifier of m.#specifiers) {
          let dep = resolve(specifier, m);
          if (wait) dep = yield dep;
          if (!is.Module(dep)) throw new $TypeError(NOT_MODULE);
          dep.#live();
          links.push(m.#h, specifier, dep.#h);
          if (!dep.#linked && !seen.includes(dep)) seen.push(dep);
        }
      }
      return [links, seen];
    }

    static async #collect(root, resolve) {
      const it = Module.#walk(root, resolve, true);
      let r = it.next();
      while (!r.done) {
        let v;
        try {
          v = await r.value;
        } catch (e) {
          r = it.throw(e);
          continue;
        }
        r = it.next(v);
      }
      return r.value;
    }

    #checkInstantiate(context, resolve, method) {
      if (!is.Context(context)) throw new $TypeError(`\`${method}\` requires parameter 1 to be a Context`);
      if (typeof resolve !== 'function') throw new $TypeError(`\`${method}\` requires parameter 2 to be a function`);
      this.#live();
      if (this.#linking) throw new $Error('Module is currently being linked by another linker');
    }

    instantiateSync(context, resolve) {
      if (arguments.length < 2) throw arity('instantiateSync', 2);
      this.#checkInstantiate(context, resolve, 'instantiateSync');
      if (this.#linked) return undefined;
      this.#linking = true;
      try {
        const [links] = Module.#walk(this, resolve, false).next().value;
        N.moduleInstantiate(this.#h, h.Context(context), links, SYNC);
      } finally {
        this.#linking = false;
      }
      return undefined;
    }

    instantiate(context, resolve) {
      if (arguments.length < 2) throw arity('instantiate', 2);
      return later(() => {
        this.#checkInstantiate(context, resolve, 'instantiate');
        return this.#instantiateAsync(context, resolve);
      });
    }

    async #instantiateAsync(context, resolve) {
      if (this.#linked) return undefined;
      this.#linking = true;
      try {
        const [links] = await Module.#collect(this, resolve);
        await N.moduleInstantiate(this.#h, h.Context(context), links, ASYNC);
      } finally {
        this.#linking = false;
      }
      return undefined;
    }

    #evaluated([result, namespace]) {
      if (namespace !== undefined && this.#namespace === undefined) this.#namespace = namespace;
      return result;
    }

    #evaluate(variant, options) {
      this.#live();
      options = optionsObject(options, 'evaluate', 1);
      return N.moduleEvaluate(this.#h, variant, readTimeout(options));
    }

    evaluateSync(options) {
      return this.#evaluated(this.#evaluate(SYNC, options));
    }

    evaluate(options) {
      return later(() => this.#evaluate(ASYNC, options).then((r) => this.#evaluated(r)));
    }

    release() {
      this.#live();
      this.#released = true;
      N.release(this.#h);
    }
  }

  // -------------------------------------------------------------------------
  const RELEASED = 'Reference has been released';

  class Reference {
    #h;
    #typeof;
    #host; // a Reference to a Node value: its methods run in Node
    #inherit = false;
    #released = false;

    constructor(value, options) {
      if (value === INTERNAL && arguments.length === 4) {
        this.#h = options;
        this.#typeof = arguments[2];
        this.#host = arguments[3];
      } else {
        if (arguments.length < 1) throw arity('Reference', 1);
        options = optionsObject(options, 'Reference', 2);
        this.#inherit = boolOption(options, 'unsafeInherit');
        this.#h = N.refNew(value);
        this.#typeof = value === null ? 'null' : typeof value;
        if (this.#typeof === 'symbol' || this.#typeof === 'bigint') this.#typeof = 'object';
        this.#host = false;
      }
      brand(this);
      freeze(this);
    }

    static {
      is.Reference = (v) => isObject(v) && #h in v;
    }

    static {
      h.Reference = (r) => {
        if (r.#released) throw new $Error(RELEASED);
        return r.#h;
      };
    }

    #live() {
      if (this.#released) throw new $Error(RELEASED);
    }

    get typeof() {
      this.#live();
      return this.#typeof;
    }

    release() {
      this.#live();
      this.#released = true;
      N.release(this.#h);
    }

    deref(options) {
      this.#live();
      options = optionsObject(options, 'deref', 1);
      if (this.#host) throw new $TypeError('Cannot dereference this from current isolate');
      const v = N.refDeref(this.#h);
      if (boolOption(options, 'release')) this.release();
      return v;
    }

    derefInto(options) {
      this.#live();
      options = optionsObject(options, 'derefInto', 1);
      if (this.#host) throw new $TypeError('Cannot dereference this into target isolate');
      const d = new Dereference(INTERNAL, this.#h);
      if (boolOption(options, 'release')) this.release();
      return d;
    }

    // `promise`: the transfer code of the options on the arguments or the
    // value; with `{promise: true}` they travel one by one as promises.
    #onHost(method, variant, args, promise) {
      return N.hostRef(this.#h, method, variant, args, promise);
    }

    #get(variant, key, options) {
      this.#live();
      key = readKey(key);
      if (this.#host) return this.#onHost('getSync', variant, [key, options]);
      options = optionsObject(options, 'get', 2);
      const mode = transferMode(options);
      const accessors = boolOption(options, 'accessors');
      return N.refGet(this.#h, variant, key, mode, this.#inherit, accessors);
    }

    getSync(key, options) {
      return this.#get(SYNC, key, options);
    }

    get(key, options) {
      return later(() => this.#get(ASYNC, key, options));
    }

    #set(variant, key, value, options) {
      this.#live();
      key = readKey(key);
      if (this.#host) return this.#onHost('setSync', variant, [key, value, options], promised(options));
      options = optionsObject(options, 'set', 3);
      const mode = transferMode(options);
      return N.refSet(this.#h, variant, key, value, mode);
    }

    setSync(key, value, options) {
      if (arguments.length < 2) throw arity('setSync', 2);
      return this.#set(SYNC, key, value, options);
    }

    set(key, value, options) {
      const n = arguments.length;
      return later(() => {
        if (n < 2) throw arity('set', 2);
        return this.#set(ASYNC, key, value, options);
      });
    }

    setIgnored(key, value, options) {
      if (arguments.length < 2) throw arity('setIgnored', 2);
      this.#set(IGNORED, key, value, options);
    }

    #delete(variant, key) {
      this.#live();
      key = readKey(key);
      if (this.#host) return this.#onHost('deleteSync', variant, [key]);
      return N.refDelete(this.#h, variant, key);
    }

    deleteSync(key) {
      return this.#delete(SYNC, key);
    }

    delete(key) {
      return later(() => this.#delete(ASYNC, key));
    }

    deleteIgnored(key) {
      this.#delete(IGNORED, key);
    }

    #apply(variant, recv, args, options) {
      this.#live();
      if (this.#host) return this.#onHost('applySync', variant, [recv, args, options], promised(options && options.arguments));
      options = optionsObject(options, 'apply', 3);
      const timeout = readTimeout(options);
      const [argMode, resultMode] = bidirectional(options);
      const list = checkArgs(args);
      return N.refApply(this.#h, variant, recv, list, argMode, timeout, resultMode);
    }

    applySync(recv, args, options) {
      if (this.#host && recv === undefined && options === undefined && !this.#released) {
        // A Node function called plainly: up to four arguments go as
        // arguments of the native call.
        const h = this.#h;
        switch (args === undefined ? 0 : isArray(args) ? args.length : -1) {
          case 0:
            return N.hostApply(h);
          case 1:
            return N.hostApply(h, args[0]);
          case 2:
            return N.hostApply(h, args[0], args[1]);
          case 3:
            return N.hostApply(h, args[0], args[1], args[2]);
          case 4:
            return N.hostApply(h, args[0], args[1], args[2], args[3]);
        }
      }
      return this.#apply(SYNC, recv, args, options);
    }

    apply(recv, args, options) {
      return later(() => this.#apply(ASYNC, recv, args, options));
    }

    applyIgnored(recv, args, options) {
      this.#apply(IGNORED, recv, args, options);
    }

    applySyncPromise(recv, args, options) {
      this.#live();
      options = optionsObject(options, 'applySyncPromise', 3);
      N.checkSyncPromise(options && options.result);
      if (!this.#host) {
        throw new $TypeError("`applySyncPromise` is only available on a Reference to a function of Node's heap");
      }
      return this.#onHost('applySyncPromise', SYNC_PROMISE, [recv, args, options], promised(options && options.arguments));
    }

    copySync() {
      this.#live();
      if (this.#host) return this.#onHost('copySync', SYNC, []);
      return N.refCopy(this.#h, SYNC);
    }

    copy() {
      return later(() => {
        this.#live();
        if (this.#host) return this.#onHost('copySync', ASYNC, []);
        return N.refCopy(this.#h, ASYNC);
      });
    }
  }

  // The single-use result of `derefInto()`.
  class Dereference {
    #h;
    #used = false;

    constructor(token, h) {
      if (token !== INTERNAL) throw new $TypeError('Use reference.derefInto()');
      this.#h = h;
      brand(this);
      freeze(this);
    }

    static {
      is.Dereference = (v) => isObject(v) && #h in v;
    }

    static {
      h.Dereference = (d) => {
        if (d.#used) throw new $Error('The return value of `derefInto()` should only be used once');
        d.#used = true;
        return d.#h;
      };
    }
  }

  // -------------------------------------------------------------------------
  class Callback {
    #fn;
    #mode;

    constructor(fn, options) {
      if (typeof fn !== 'function') throw new $TypeError('`Callback` requires parameter 1 to be a function');
      options = optionsObject(options, 'Callback', 2);
      this.#fn = fn;
      const async = boolOption(options, 'async');
      const ignored = boolOption(options, 'ignored');
      boolOption(options, 'sync');
      this.#mode = async ? 1 : ignored ? 2 : 0;
      brand(this);
      freeze(this);
    }

    static {
      is.Callback = (v) => isObject(v) && #fn in v;
    }

    static {
      h.Callback = (c) => {
        return c.#fn;
      };
    }
  }

  // -------------------------------------------------------------------------
  // ExternalCopy: a native class (native/src/guest/external_copy.rs).
  const ExternalCopy = N.ExternalCopy;

  // A function of another isolate: calling it calls that function (arguments
  // and result copied), like a Callback.
  function wrapFunction(h, name, length) {
    // A method: not a constructor and no `prototype`, like isolated-vm's.
    // Arguments are copied (mode 1); the result too, except that functions
    // come back as functions (mode 8, as isolated-vm's Callback results).
    const f = {
      f(...args) {
        return N.refApply(h, SYNC, undefined, args, 1, undefined, 8);
      },
    }.f;
    defineProperty(f, 'name', { value: name });
    defineProperty(f, 'length', { value: length });
    return f;
  }

  // Calling a constructor without `new` gets isolated-vm's message (see
  // lib/index.js): the exported classes are proxies that refuse to be called.
  function requireNew(C) {
    const P = new Proxy(C, {
      apply() {
        throw new $TypeError(`\`${C.name}\` must be called with \`new\``);
      },
    });
    defineProperty(C.prototype, 'constructor', { value: P, writable: true, configurable: true, enumerable: false });
    return P;
  }

  const PublicReference = requireNew(Reference);
  const PublicCallback = requireNew(Callback);
  const PublicIsolate = requireNew(Isolate);

  const classes = [Isolate, Context, Script, Module, Reference, Dereference, Callback];
  if (ExternalCopy !== undefined) classes.push(ExternalCopy);
  for (const C of classes) {
    freeze(C.prototype);
    freeze(C);
  }

  const lib = { Isolate: PublicIsolate, Context, Script, Module, Reference: PublicReference, Callback: PublicCallback };
  if (ExternalCopy !== undefined) lib.ExternalCopy = ExternalCopy;
  freeze(lib);

  // Handle kinds shared with library.rs.
  const K_REFERENCE = 0;
  const K_CONTEXT = 1;
  const K_SCRIPT = 2;
  const K_ISOLATE = 3;
  const K_FUNCTION = 4;
  const K_DEREF = 5;
  const K_CALLBACK = 6;
  const K_LIBRARY = 7;
  const K_MODULE = 8;

  function wrap(kind, a, b, c) {
    switch (kind) {
      case K_REFERENCE:
        return new Reference(INTERNAL, a, b, c);
      case K_CONTEXT:
        return new Context(INTERNAL, a, b);
      case K_SCRIPT:
        return new Script(INTERNAL, a);
      case K_ISOLATE:
        return new Isolate(INTERNAL, a);
      case K_FUNCTION:
        return wrapFunction(a, b, c);
      case K_MODULE:
        return new Module(INTERNAL, a, b);
      default:
        return lib;
    }
  }

  // [kind, handle, handle2] for an instance of the library, else undefined.
  function unwrap(v) {
    if (v === lib) return [K_LIBRARY];
    if (is.Reference(v)) return [K_REFERENCE, h.Reference(v)];
    if (is.Context(v)) return [K_CONTEXT, h.Context(v), h.Reference(v.global)];
    if (is.Script(v)) return [K_SCRIPT, h.Script(v)];
    if (is.Module(v)) return [K_MODULE, h.Module(v)];
    if (is.Isolate(v)) return [K_ISOLATE, h.Isolate(v)];
    if (is.Dereference(v)) return [K_DEREF, h.Dereference(v)];
    if (is.Callback(v)) return [K_CALLBACK, h.Callback(v)];
    return undefined;
  }

  return freeze({ lib, wrap, unwrap });
});
