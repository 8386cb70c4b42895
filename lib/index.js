'use strict';
// The public API: isolated-vm-shaped classes over the native handles.
const { isProxy, isPromise, isNativeError } = require('util').types;
const native = require('./native');
const { TimeoutError, IsolateDisposedError, MemoryLimitError } = require('./errors');
const T = require('./transfer');
const { createSession } = require('./inspector');

const SYNC = 0;
const ASYNC = 1;
const IGNORED = 2;
const INTERNAL = Symbol('v8-isolates internal');
const RAW = Symbol('v8-isolates raw handle');
const APPLY_PROMISE = Symbol('v8-isolates applySyncPromise');
const APPLY_ARGS = Symbol('v8-isolates applyArgs');
const SHARE = Symbol('v8-isolates share');
const APPLY_CALLABLE = Symbol('v8-isolates applyCallable');
const DEFAULT_THREAD = 'This function may not be called from the default thread';
const RESULT_OPTIONS = '`result` options are not available for `applySyncPromise`';
const BOUNDARY = '\n    at (<isolated-vm boundary>)';
const LIB_DIR = __dirname;

// ---------------------------------------------------------------------------
// Errors coming back from an isolate

const GUEST_CLASSES = { Error, RangeError, ReferenceError, SyntaxError, TypeError };

function callerFrames(site) {
  let stack;
  if (site === true) {
    // An async call: settleAsync adds the awaiting callers' frames.
    return '';
  } else if (site) {
    stack = site.stack;
  } else {
    const holder = {};
    Error.captureStackTrace(holder);
    stack = holder.stack;
  }
  if (typeof stack !== 'string') return '';
  const lines = stack.split('\n').slice(1).filter((l) => !l.includes(LIB_DIR));
  return lines.length ? '\n' + lines.join('\n') : '';
}

function makeError(code, message, className, name, guestStack, site) {
  let err;
  switch (code) {
    case 'timeout':
      err = new TimeoutError(message);
      break;
    case 'memory':
      err = new MemoryLimitError(message);
      break;
    case 'disposed':
    case 'isolate_disposed':
      err = new IsolateDisposedError(message);
      break;
    default:
      err = new (GUEST_CLASSES[className] || Error)(message);
  }
  if (name !== undefined) {
    Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true, enumerable: false });
  }
  const head = typeof guestStack === 'string' && guestStack.length ? guestStack : `${className}: ${message}`;
  // A call refused before it reached the isolate has no guest side: no
  // boundary line (isolated-vm finds these before queueing the call).
  const refused = (code === 'isolate_disposed' || code === 'host') && REFUSED.has(message);
  // A guest promise's rejection keeps the guest's stack as it was.
  const rejection = code === 'rejection';
  Object.defineProperty(err, 'stack', {
    value: rejection ? head : head + (refused ? '' : BOUNDARY) + callerFrames(site),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  if (refused && site === true) NEEDS_FRAMES.add(err);
  return err;
}

const REFUSED = new Set([
  'Isolate is disposed',
  DEFAULT_THREAD,
  'Context is released',
  'Script has been released',
  'Module has been released',
  'Reference has been released',
  'Invalid context',
  'Module has not been instantiated.',
]);
// Refused async calls whose caller's frames settleAsync still has to add.
const NEEDS_FRAMES = new WeakSet();

// Async calls do not record their call site by default: capturing even one
// frame with Error.captureStackTrace costs microseconds in Node (optimized
// callers must be deoptimized to be summarised), which halved the throughput
// of concurrent calls. When a call fails, `settleAsync` appends the frames of
// whoever awaits it, which V8 recovers from the await chain (as Node's own
// promise APIs do). V8_ISOLATES_ASYNC_SITE_FRAMES=N records N frames at call
// time as well, for callers that do not await.
const SITE_FRAMES = Math.max(0, Number(process.env.V8_ISOLATES_ASYNC_SITE_FRAMES ?? 0) || 0);
const NO_SITE = Object.freeze({ stack: '' });

function captureSite(fn) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = SITE_FRAMES;
  const site = {};
  Error.captureStackTrace(site, fn);
  Error.stackTraceLimit = limit;
  return site;
}

function withCallerFrames(e, site) {
  if (e !== null && typeof e === 'object' && typeof e.stack === 'string' && (e.stack.endsWith(BOUNDARY) || NEEDS_FRAMES.has(e))) {
    const holder = {};
    Error.captureStackTrace(holder);
    const lines = String(site.stack).split('\n').slice(1);
    for (const l of String(holder.stack).split('\n').slice(1)) {
      if (!l.includes(LIB_DIR) && !lines.includes(l)) lines.push(l);
    }
    e.stack = e.stack + (lines.length ? '\n' + lines.join('\n') : '');
  }
  return e;
}

// A rejection handler rather than an async function: one promise less per
// call. V8 still finds whoever awaits the returned promise when the handler
// captures the stack.
function settleAsync(result, site) {
  if (!isPromise(result)) return Promise.resolve(result);
  return result.then(undefined, (e) => {
    throw withCallerFrames(e, site);
  });
}

// An async call made while no other is in flight may wait a few
// microseconds for its outcome and settle its promise before returning it
// (native/src/node/call.rs, quick_async). Native code clears QUICK[0] when a
// call does so; it is set again once the microtasks run, so that calls
// awaited one after another settle early and a burst of calls made in one
// go runs in parallel.
const QUICK = new Uint8Array(1);
QUICK[0] = 1;
native.quickFlag(QUICK);
let quickReset = false;
const RESOLVED = Promise.resolve();
function resetQuick() {
  QUICK[0] = 1;
  quickReset = false;
}

// Async methods report failures through their promise, except a parameter
// of the wrong type ("`x` requires parameter N to be ..."): that throws, as in
// isolated-vm, which checks parameters before it makes a promise (the
// contents of options, transfers and everything later reject).
const PARAMETER_ERROR = /^`\w+` requires (parameter \d+ to be|at least)/;
function asyncCall(method, fn) {
  const site = SITE_FRAMES > 0 ? captureSite(method) : NO_SITE;
  let result;
  try {
    result = fn();
  } catch (e) {
    if (e instanceof TypeError && PARAMETER_ERROR.test(e.message)) throw e;
    return Promise.reject(e);
  }
  if (QUICK[0] === 0 && !quickReset) {
    quickReset = true;
    // A promise reaction, not queueMicrotask (which makes an AsyncResource
    // per call in Node).
    RESOLVED.then(resetQuick);
  }
  return settleAsync(result, site);
}

// ---------------------------------------------------------------------------
// Argument checks

function requireString(value, method, n = 1) {
  if (typeof value !== 'string') {
    throw new TypeError(`\`${method}\` requires parameter ${n} to be a string`);
  }
}

function optionsObject(options, method, n) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') {
    throw new TypeError(`\`${method}\` requires parameter ${n} to be an object`);
  }
  return options;
}

// An option that is absent: undefined or null (isolated-vm reads both so).
const absent = (v) => v === undefined || v === null;

function readOrigin(options) {
  if (options === undefined) return [undefined, undefined, undefined];
  let { filename, lineOffset, columnOffset } = options;
  if (absent(filename)) filename = undefined;
  else if (typeof filename !== 'string') throw T.optionError('filename', 'a string');
  if (absent(lineOffset)) lineOffset = undefined;
  else if (!T.isInt32(lineOffset)) throw T.optionError('lineOffset', 'a 32-bit number');
  if (absent(columnOffset)) columnOffset = undefined;
  else if (!T.isInt32(columnOffset)) throw T.optionError('columnOffset', 'a 32-bit number');
  return [filename, lineOffset, columnOffset];
}

// isolated-vm's message for a call with too few arguments.
function arity(name, n) {
  return new TypeError(`\`${name}\` requires at least ${n} parameter${n === 1 ? '' : 's'}`);
}

function isIndex(key) {
  return typeof key === 'number' && Number.isInteger(key) && key >= 0 && key <= 0xffffffff;
}

function readKey(key) {
  if (typeof key === 'string' || isIndex(key)) return key;
  throw new TypeError('Invalid `key`');
}

// Encodes `value` for native code under `mode`; pushes (kind, payload).
function encodeInto(out, value, mode) {
  // Primitives cross as themselves unless an option makes a handle of them.
  if ((mode === T.MODE_DEFAULT || mode === T.MODE_COPY) && T.isPrimitive(value)) {
    out.push(T.KIND_PRIMITIVE, value);
    return;
  }
  if (mode & T.MODE_PROMISE && !isPromise(value)) {
    // As in isolated-vm, a value that is not a promise is transferred now
    // (so a value that cannot be sent throws here) and arrives in a
    // resolved promise.
    const o = [];
    encodeInto(o, value, mode & 3);
    const box = native.promiseNew();
    native.promiseSettle(box, true, o[0], o[1]);
    out.push(T.KIND_PROMISE, box);
    return;
  }
  if (mode & T.MODE_PROMISE) {
    // The target gets a promise settled with the value transferred (under
    // the other flags) once `value` settles.
    const box = native.promiseNew();
    Promise.resolve(value).then((v) => {
      const o = [];
      try {
        encodeInto(o, v, mode & 3);
      } catch (e) {
        native.promiseSettle(box, false, e);
        return;
      }
      native.promiseSettle(box, true, o[0], o[1]);
    }, (e) => native.promiseSettle(box, false, e));
    out.push(T.KIND_PROMISE, box);
    return;
  }
  if ((mode === T.MODE_REFERENCE || mode === T.MODE_EXTERNAL_COPY) && value !== null && typeof value === 'object' &&
    (value[T.HANDLE] === true || value === library) && !(value instanceof ExternalCopyInto) && !(value instanceof Dereference)) {
    // As in isolated-vm, these options apply to the library's handles too: a
    // Reference to the handle object, or an ExternalCopy holding it.
    if (mode === T.MODE_REFERENCE) {
      new Reference(value)[SHARE](out);
    } else {
      out.push(T.KIND_EXTERNAL_COPY, new ExternalCopy(value)[INTERNAL]());
    }
    return;
  }
  if (value instanceof ExternalCopyInto) {
    value[INTERNAL](out);
    return;
  }
  if (value instanceof Dereference) {
    const h = value[INTERNAL]();
    // A Node value's derefInto() can only be used in Node.
    if (h === undefined) throw new TypeError('Cannot dereference this into target isolate');
    out.push(T.KIND_DEREF, h);
    return;
  }
  if (value instanceof ExternalCopy) {
    out.push(T.KIND_EXTERNAL_COPY, value[INTERNAL]());
    return;
  }
  if (value instanceof Callback) {
    out.push(T.KIND_CALLBACK, value[INTERNAL]());
    return;
  }
  if (typeof value === 'function' && mode === T.MODE_DEFAULT) {
    out.push(T.KIND_CALLBACK, value);
    return;
  }
  if (value === library) {
    out.push(T.KIND_LIBRARY, 0);
    return;
  }
  if (value instanceof Isolate) {
    out.push(T.KIND_ISOLATE, Isolate[INTERNAL](value));
    return;
  }
  if (value instanceof Context) {
    out.push(T.KIND_CONTEXT, [Context[INTERNAL](value), Context[INTERNAL](value, true)]);
    return;
  }
  if (value instanceof Script) {
    out.push(T.KIND_SCRIPT, Script[INTERNAL](value));
    return;
  }
  if (value instanceof Module) {
    out.push(T.KIND_MODULE, Module[INTERNAL](value));
    return;
  }
  if (value instanceof Reference) {
    const box = value[INTERNAL]();
    if (box !== undefined && mode !== T.MODE_COPY) {
      out.push(T.KIND_REFERENCE, box);
      return;
    }
    if (box === undefined && mode !== T.MODE_COPY) {
      // A Reference to a Node value: the guest gets a Reference object of
      // its own (releasing this one leaves it working, as in isolated-vm).
      value[SHARE](out);
      return;
    }
  }
  if (mode === T.MODE_REFERENCE) {
    // Primitives too: `{reference: true}` always gives a Reference.
    new Reference(value)[SHARE](out);
    return;
  }
  if (mode === T.MODE_EXTERNAL_COPY) {
    // The target receives an ExternalCopy of the value.
    out.push(T.KIND_EXTERNAL_COPY, new ExternalCopy(value)[INTERNAL]());
    return;
  }
  if (mode === T.MODE_COPY) {
    if (typeof value === 'symbol') throw new TypeError('Unsupported type');
    if ((value instanceof ArrayBuffer || (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer)) && !isProxy(value)) {
      // Buffers skip the structured clone: one copy, moved into the target.
      new ExternalCopy(value).copyInto({ transferIn: true })[INTERNAL](out);
      return;
    }
    out.push(T.KIND_SERIALIZED, T.serialize(value));
    return;
  }
  throw new TypeError(T.NON_TRANSFERABLE);
}

// The most arguments a call into an isolate takes (native/src/transfer
// MAX_ARGUMENTS): a sparse array's length can be 2^32 - 1 with one element,
// and reading that many would hang the process.
const MAX_ARGUMENTS = 65535;

function checkArgCount(args) {
  if (args.length > MAX_ARGUMENTS) throw new RangeError(`\`arguments\` must have at most ${MAX_ARGUMENTS} elements`);
}

// An `arguments` option: absent is no arguments; otherwise an array of at
// most MAX_ARGUMENTS elements.
function argList(args) {
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw new TypeError('`arguments` must be an array');
  checkArgCount(args);
  return args;
}

function encodeArgs(args, mode) {
  const out = [];
  const list = argList(args);
  for (let i = 0; i < list.length; i++) encodeInto(out, list[i], mode);
  return out;
}

// `fn(h, ...args)` for up to four arguments: they go as arguments of the
// native call (reading an array's elements through Node-API costs a call
// each).
function spreadArgs(fn, h, args) {
  switch (args.length) {
    case 0:
      return fn(h);
    case 1:
      return fn(h, args[0]);
    case 2:
      return fn(h, args[0], args[1]);
    case 3:
      return fn(h, args[0], args[1], args[2]);
    default:
      return fn(h, args[0], args[1], args[2], args[3]);
  }
}

// `native.refApplyWith(h, variant, recv, timeout, mode, ...args)` for up to
// four arguments (see Reference#apply).
function applyWith(h, variant, recv, timeout, mode, args) {
  const f = native.refApplyWith;
  switch (args.length) {
    case 0:
      return f(h, variant, recv, timeout, mode);
    case 1:
      return f(h, variant, recv, timeout, mode, args[0]);
    case 2:
      return f(h, variant, recv, timeout, mode, args[0], args[1]);
    case 3:
      return f(h, variant, recv, timeout, mode, args[0], args[1], args[2]);
    default:
      return f(h, variant, recv, timeout, mode, args[0], args[1], args[2], args[3]);
  }
}

function allPrimitive(list) {
  for (let i = 0; i < list.length; i++) if (!T.isPrimitive(list[i])) return false;
  return true;
}

function bidirectional(options) {
  if (options === undefined) return [T.MODE_DEFAULT, T.MODE_DEFAULT];
  return [T.transferMode(options.arguments, 'arguments'), T.transferMode(options.result, 'result')];
}

// ---------------------------------------------------------------------------
// Isolate

// `options.memoryLimit` (MB), checked, or `fallback` when absent.
function readMemoryLimit(options, fallback) {
  if (!options || absent(options.memoryLimit)) return fallback;
  const memoryLimit = options.memoryLimit;
  if (typeof memoryLimit !== 'number' || !Number.isFinite(memoryLimit)) {
    throw T.optionError('memoryLimit', 'a number');
  }
  if (memoryLimit < 8) throw new RangeError('`memoryLimit` must be at least 8');
  if (memoryLimit > 64 * 1024) throw new RangeError('`memoryLimit` must be at most 65536 (MB)');
  return memoryLimit;
}

// Reads the options shared by `new Isolate()` and `new IsolatePool()`.
function isolateOptions(options, method) {
  if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(`\`${method}\` requires parameter 1 to be an object`);
  }
  const memoryLimit = readMemoryLimit(options, 128);
  const snapshot = options && !absent(options.snapshot) ? openSnapshot(options.snapshot) : undefined;
  return { memoryLimit, snapshot };
}

class Isolate {
  #h;
  #inspector = false;

  constructor(options) {
    if (options === INTERNAL && arguments.length === 2) {
      // An isolate created by guest code or taken from a pool, handed to Node.
      this.#h = arguments[1];
      Object.freeze(this);
      return;
    }
    const { memoryLimit, snapshot } = isolateOptions(options, 'Isolate');
    const importHook = options ? options.importModuleDynamically : undefined;
    const rejectionHook = options ? options.onUnhandledRejection : undefined;
    if (importHook != null && typeof importHook !== 'function') {
      throw T.optionError('importModuleDynamically', 'a function');
    }
    if (rejectionHook != null && typeof rejectionHook !== 'function') {
      throw T.optionError('onUnhandledRejection', 'a function');
    }
    const inspector = T.boolOption(options, 'inspector');
    let onCatastrophicError;
    if (options && !absent(options.onCatastrophicError)) {
      const f = options.onCatastrophicError;
      if (typeof f !== 'function') throw T.optionError('onCatastrophicError', 'a function');
      // Called from the event loop, never on the stack of a waiting call.
      onCatastrophicError = (message) => setImmediate(() => f(message));
    }
    this.#h = native.isolateNew(memoryLimit, inspector, onCatastrophicError, snapshot);
    this.#inspector = inspector;
    if (importHook || rejectionHook) {
      const h = this.#h;
      native.isolateSetHooks(
        h,
        importHook && ((specifier, referrerId, filename, rid) => {
          dynamicImport(h, importHook, specifier, referrerId, filename, rid);
        }),
        rejectionHook && ((reason) => {
          rejectionHook(reason);
        }),
      );
    }
    Object.freeze(this);
  }

  // Makes a startup snapshot: runs `scripts` in a fresh isolate on a thread of
  // its own and returns its heap, sealed, as an ExternalCopy of an ArrayBuffer.
  static createSnapshot(scripts, warmup, options) {
    if (arguments.length < 1) throw arity('createSnapshot', 1);
    if (!Array.isArray(scripts)) throw new TypeError('`createSnapshot` requires parameter 1 to be an array');
    // Every index up to the length (a hole is refused at once: `map` would
    // first visit all 2^32 - 1 indices of a sparse array).
    const list = [];
    for (let i = 0; i < scripts.length; i++) {
      const s = scripts[i];
      if (s === null || typeof s !== 'object') throw new TypeError(`\`scripts[${i}]\` must be an object`);
      if (typeof s.code !== 'string') throw new TypeError(`\`scripts[${i}].code\` must be a string`);
      list.push([s.code, ...readOrigin(s)]);
    }
    let warm;
    if (warmup !== undefined && warmup !== null) {
      if (typeof warmup !== 'string') throw new TypeError('`createSnapshot` requires parameter 2 to be a string');
      warm = [warmup, '<warm-up>', 0, 0];
    }
    options = optionsObject(options, 'createSnapshot', 3);
    let timeout = SNAPSHOT_TIMEOUT;
    if (options && options.timeout !== undefined) {
      timeout = options.timeout;
      if (typeof timeout !== 'number' || !(timeout >= 0)) throw T.optionError('timeout', 'a non-negative number');
    }
    const memoryLimit = readMemoryLimit(options, SNAPSHOT_MEMORY);
    const [copy, blob] = native.snapshotCreate(list, warm, timeout, memoryLimit);
    OPENED.set(copy[INTERNAL](), blob);
    return copy;
  }

  static [INTERNAL](iso) {
    return iso.#h;
  }

  #checkLive() {
    if (native.isolateIsDisposed(this.#h)) throw new IsolateDisposedError('Isolate is disposed');
  }

  get isDisposed() {
    return native.isolateIsDisposed(this.#h);
  }

  get cpuTime() {
    this.#checkLive();
    return native.isolateCpuTime(this.#h);
  }

  get wallTime() {
    this.#checkLive();
    return native.isolateWallTime(this.#h);
  }

  get referenceCount() {
    this.#checkLive();
    return native.isolateReferenceCount(this.#h);
  }

  dispose() {
    if (!native.isolateDispose(this.#h)) throw new IsolateDisposedError('Isolate is already disposed');
  }

  #compile(variant, code, options, site) {
    requireString(code, 'compileScript');
    options = optionsObject(options, 'compileScript', 2);
    const [filename, lineOffset, columnOffset] = readOrigin(options);
    const [cachedData, produce] = readCacheOptions(options);
    return native.isolateCompileScript(
      this.#h, variant, code, filename, lineOffset, columnOffset, cachedData, produce, site,
    );
  }

  compileScriptSync(code, options) {
    if (arguments.length < 1) throw arity('compileScript', 1);
    const [h, cachedData, rejected] = this.#compile(SYNC, code, options);
    return new Script(INTERNAL, h[0], cachedData, rejected);
  }

  compileScript(code, options) {
    if (arguments.length < 1) throw arity('compileScript', 1);
    return asyncCall(this.compileScript, () => {
      const site = undefined;
      return this.#compile(ASYNC, code, options, site).then(
        ([h, cachedData, rejected]) => new Script(INTERNAL, h[0], cachedData, rejected),
      );
    });
  }

  #compileModule(variant, code, options, site) {
    requireString(code, 'compileModule');
    options = optionsObject(options, 'compileModule', 2);
    const [filename, lineOffset, columnOffset] = readOrigin(options);
    const [cachedData, produce] = readCacheOptions(options);
    const meta = options && options.meta;
    if (meta !== undefined && typeof meta !== 'function') throw T.optionError('meta', 'a function');
    const wrapped = meta && ((ref) => {
      meta(ref);
    });
    return native.isolateCompileModule(
      this.#h, variant, code, filename, lineOffset, columnOffset, cachedData, produce, wrapped, site,
    );
  }

  #newModule([compiled, id, specifiers, cachedData, rejected]) {
    const m = new Module(INTERNAL, Module[INTERNAL](compiled), specifiers, cachedData, rejected);
    const registry = moduleRegistry(this.#h);
    registry.set(id, new WeakRef(m));
    moduleCleanup.register(m, { registry, id });
    return m;
  }

  compileModuleSync(code, options) {
    if (arguments.length < 1) throw arity('compileModule', 1);
    return this.#newModule(this.#compileModule(SYNC, code, options));
  }

  compileModule(code, options) {
    if (arguments.length < 1) throw arity('compileModule', 1);
    return asyncCall(this.compileModule, () =>
      this.#compileModule(ASYNC, code, options, undefined).then((r) => this.#newModule(r)),
    );
  }

  #context(options) {
    options = optionsObject(options, 'createContext', 1);
    const inspector = T.boolOption(options, 'inspector');
    if (inspector && !this.#inspector) throw new Error('Inspector is not enabled for this isolate');
    return inspector;
  }

  createContextSync(options) {
    const inspector = this.#context(options);
    const [ctx, global] = native.isolateCreateContext(this.#h, SYNC, undefined, inspector);
    return new Context(INTERNAL, ctx, global);
  }

  createContext(options) {
    return asyncCall(this.createContext, () => {
      const inspector = this.#context(options);
      const site = undefined;
      return native
        .isolateCreateContext(this.#h, ASYNC, site, inspector)
        .then(([ctx, global]) => new Context(INTERNAL, ctx, global));
    });
  }

  createInspectorSession() {
    this.#checkLive();
    if (!this.#inspector) throw new Error('Inspector is not enabled for this isolate');
    return createSession(this.#h);
  }

  startCpuProfiler(title) {
    if (arguments.length < 1 || typeof title !== 'string') {
      throw new TypeError('`startCpuProfiler` requires parameter 1 to be a string');
    }
    this.#checkLive();
    native.isolateStartCpuProfiler(this.#h, title);
    return true;
  }

  stopCpuProfiler(title) {
    return asyncCall(this.stopCpuProfiler, () => {
      if (typeof title !== 'string') {
        throw new TypeError('`stopCpuProfiler` requires parameter 1 to be a string');
      }
      return native.isolateStopCpuProfiler(this.#h, title, undefined).then((r) => {
        if (r === undefined) return [];
        const profile = JSON.parse(r[1]).result.profile;
        return [{ threadId: r[0], profile }];
      });
    });
  }

  getHeapStatisticsSync() {
    return native.isolateHeapStatistics(this.#h, SYNC);
  }

  getHeapStatistics() {
    return asyncCall(this.getHeapStatistics, () => native.isolateHeapStatistics(this.#h, ASYNC, undefined));
  }

  getHeapSpaceStatisticsSync() {
    return native.isolateHeapSpaceStatistics(this.#h, SYNC);
  }

  getHeapSpaceStatistics() {
    return asyncCall(this.getHeapSpaceStatistics, () =>
      native.isolateHeapSpaceStatistics(this.#h, ASYNC, undefined),
    );
  }
}

// ---------------------------------------------------------------------------
// Snapshots

const SNAPSHOT_TIMEOUT = 30000; // ms
const SNAPSHOT_MEMORY = 128; // MB
// Verified snapshots, by the native data of the ExternalCopy that holds them:
// each is checked (and copied to native memory) once.
const OPENED = new WeakMap();

function openSnapshot(snapshot) {
  if (typeof snapshot !== 'object') throw T.optionError('snapshot', 'an object');
  if (!(snapshot instanceof ExternalCopy)) throw new TypeError('`snapshot` must be an ExternalCopy to ArrayBuffer');
  const h = snapshot[INTERNAL]();
  const cached = OPENED.get(h);
  // Native: throws if the copy was released, or is not an ArrayBuffer.
  const blob = native.snapshotOpen(h, cached);
  if (cached === undefined) OPENED.set(h, blob);
  return blob;
}

// ---------------------------------------------------------------------------
// IsolatePool: isolates made ahead of time, each with a context

class IsolatePool {
  #h;
  #disposed = false;

  constructor(options) {
    const { memoryLimit, snapshot } = isolateOptions(options, 'IsolatePool');
    let size = 2;
    if (options && options.size !== undefined) {
      size = options.size;
      if (!Number.isInteger(size) || size < 1 || size > 1024) {
        throw new RangeError('`size` must be an integer from 1 to 1024');
      }
    }
    this.#h = native.poolNew(size, memoryLimit, snapshot);
    Object.freeze(this);
  }

  // Isolates ready to be handed out now.
  get available() {
    return this.#disposed ? 0 : native.poolReady(this.#h);
  }

  // A ready isolate and a context in it; the pool makes a replacement on a
  // background thread. With no isolate ready, one is made now.
  acquire() {
    if (this.#disposed) throw new Error('IsolatePool is disposed');
    const [iso, ctx, global] = native.poolAcquire(this.#h);
    const isolate = new Isolate(INTERNAL, iso);
    const context = ctx === undefined ? isolate.createContextSync() : new Context(INTERNAL, ctx, global);
    return { isolate, context };
  }

  // Disposes the isolates not handed out; those acquired live on.
  dispose() {
    if (this.#disposed) throw new Error('IsolatePool is already disposed');
    this.#disposed = true;
    native.poolDispose(this.#h);
  }
}

// ---------------------------------------------------------------------------
// Context

class Context {
  #h;
  #global;

  constructor(token, h, globalHandle) {
    if (token !== INTERNAL) throw new TypeError('Context cannot be constructed directly; use isolate.createContext()');
    this.#h = h;
    this.#global = new Reference(INTERNAL, globalHandle, 'object');
    Object.freeze(this);
  }

  get global() {
    return native.isReleased(this.#h) ? undefined : this.#global;
  }

  // The native handle, released or not (the native call checks).
  static [RAW](ctx) {
    return ctx.#h;
  }

  // The native handle (or, with `global`, its global's).
  static [INTERNAL](ctx, global) {
    if (native.isReleased(ctx.#h)) throw new Error('Context is released');
    return global ? ctx.#global[INTERNAL]() : ctx.#h;
  }

  #eval(variant, code, options, site) {
    requireString(code, 'eval');
    options = optionsObject(options, 'eval', 2);
    const [filename, lineOffset, columnOffset] = readOrigin(options);
    const timeout = T.readTimeout(options);
    const mode = T.transferMode(options);
    if (options !== undefined) readCacheOptions(options); // checked, unused (as isolated-vm)
    return native.contextEval(this.#h, variant, code, filename, lineOffset, columnOffset, timeout, mode, site);
  }

  evalSync(code, options) {
    if (options === undefined && typeof code === 'string') return native.contextEvalFast(this.#h, code);
    if (arguments.length < 1) throw arity('eval', 1);
    return this.#eval(SYNC, code, options);
  }

  eval(code, options) {
    if (arguments.length < 1) throw arity('eval', 1);
    return asyncCall(this.eval, () => this.#eval(ASYNC, code, options, undefined));
  }

  evalIgnored(code, options) {
    if (arguments.length < 1) throw arity('eval', 1);
    this.#eval(IGNORED, code, options);
  }

  #evalClosure(variant, code, args, options, site) {
    requireString(code, 'evalClosure');
    options = optionsObject(options, 'evalClosure', 3);
    const [filename, lineOffset, columnOffset] = readOrigin(options);
    const timeout = T.readTimeout(options);
    const [argMode, resultMode] = bidirectional(options);
    if (!absent(args) && !Array.isArray(args)) throw new TypeError('`evalClosure` requires parameter 2 to be an array');
    const list = encodeArgs(args, argMode);
    return native.contextEvalClosure(
      this.#h, variant, code, filename, lineOffset, columnOffset, list, timeout, resultMode, site,
    );
  }

  evalClosureSync(code, args, options) {
    if (arguments.length < 1) throw arity('evalClosure', 1);
    return this.#evalClosure(SYNC, code, args, options);
  }

  evalClosure(code, args, options) {
    if (arguments.length < 1) throw arity('evalClosure', 1);
    return asyncCall(this.evalClosure, () => this.#evalClosure(ASYNC, code, args, options, undefined));
  }

  evalClosureIgnored(code, args, options) {
    if (arguments.length < 1) throw arity('evalClosure', 1);
    this.#evalClosure(IGNORED, code, args, options);
  }

  release() {
    const first = native.release(this.#h);
    if (first) this.#global.release();
    return first;
  }
}

// ---------------------------------------------------------------------------
// Script

class Script {
  #h;

  constructor(token, h, cachedData, rejected) {
    if (token !== INTERNAL) throw new TypeError('Script cannot be constructed directly; use isolate.compileScript()');
    this.#h = h;
    defineCachedData(this, cachedData, rejected);
    Object.freeze(this);
  }

  #run(variant, context, options, site) {
    if (!(context instanceof Context)) throw new TypeError('`run` requires parameter 1 to be a Context');
    options = optionsObject(options, 'run', 2);
    const timeout = T.readTimeout(options);
    const mode = T.transferMode(options);
    const release = T.boolOption(options, 'release');
    return native.scriptRun(this.#h, Context[INTERNAL](context), variant, timeout, mode, release, site);
  }

  runSync(context, options) {
    if (options === undefined && context instanceof Context) return native.scriptRunFast(this.#h, Context[RAW](context));
    if (arguments.length < 1) throw arity('run', 1);
    return this.#run(SYNC, context, options);
  }

  run(context, options) {
    if (arguments.length < 1) throw arity('run', 1);
    return asyncCall(this.run, () => this.#run(ASYNC, context, options, undefined));
  }

  runIgnored(context, options) {
    if (arguments.length < 1) throw arity('run', 1);
    this.#run(IGNORED, context, options);
  }

  release() {
    native.release(this.#h);
  }

  static [INTERNAL](script) {
    if (native.isReleased(script.#h)) throw new Error('Script has been released');
    return script.#h;
  }
}


// ---------------------------------------------------------------------------
// Code cache options and results (Script and Module)

const CACHED_DATA_TYPE = '`cachedData` must be an ExternalCopy to ArrayBuffer';

function readCacheOptions(options) {
  if (options === undefined) return [undefined, false];
  const { cachedData } = options;
  let h;
  if (!absent(cachedData)) {
    if (typeof cachedData !== 'object') throw T.optionError('cachedData', 'an object');
    // Native code checks that the copy holds an ArrayBuffer.
    if (!(cachedData instanceof ExternalCopy)) throw new TypeError(CACHED_DATA_TYPE);
    h = cachedData[INTERNAL]();
  }
  return [h, T.boolOption(options, 'produceCachedData')];
}

function defineCachedData(obj, cachedData, rejected) {
  if (cachedData !== undefined) {
    Object.defineProperty(obj, 'cachedData', {
      value: cachedData, enumerable: true, writable: false, configurable: false,
    });
  }
  if (rejected !== undefined) {
    Object.defineProperty(obj, 'cachedDataRejected', {
      value: rejected, enumerable: true, writable: false, configurable: false,
    });
  }
}

// ---------------------------------------------------------------------------
// Module

const MODULE_RELEASED = 'Module has been released';
const NOT_MODULE = 'Resolved dependency was not `Module`';

// Per isolate: module id -> WeakRef(Module), to name the referrer of import().
const moduleRegistries = new WeakMap();
let linkDynamic;
const moduleCleanup = new FinalizationRegistry(({ registry, id }) => {
  const ref = registry.get(id);
  if (ref !== undefined && ref.deref() === undefined) registry.delete(id);
});
function moduleRegistry(isoHandle) {
  let r = moduleRegistries.get(isoHandle);
  if (!r) moduleRegistries.set(isoHandle, (r = new Map()));
  return r;
}

class Module {
  // This handle's share of the module (other handles to the same module,
  // made when it crossed into or out of an isolate, have their own).
  #h;
  #specifiers;
  #linking = false;
  #namespace;

  constructor(token, h, specifiers, cachedData, rejected) {
    if (token !== INTERNAL) throw new TypeError('Module cannot be constructed directly; use isolate.compileModule()');
    this.#h = h;
    this.#specifiers = Object.freeze(specifiers);
    defineCachedData(this, cachedData, rejected);
    Object.freeze(this);
  }

  #live() {
    if (native.moduleStatus(this.#h) < 0) throw new Error(MODULE_RELEASED);
  }

  // Linked by V8, through this handle or another one.
  get #linked() {
    return native.moduleStatus(this.#h) > 0;
  }

  get dependencySpecifiers() {
    this.#live();
    return this.#specifiers.slice();
  }

  get namespace() {
    this.#live();
    if (this.#namespace === undefined) this.#namespace = native.moduleNamespace(this.#h);
    return this.#namespace;
  }

  static [INTERNAL](m) {
    m.#live();
    return m.#h;
  }

  // Resolves every import of the graph under `root` that is not linked yet,
  // asking `resolve(specifier, referrer)`. Returns the flat link list the
  // native side takes and the modules it covers. `wait` (async) awaits
  // promises; otherwise a promise is refused.
  static *#walk(root, resolve, wait) {
    const links = [];
    const seen = new Set([root]);
    const queue = [root];
    while (queue.length) {
      const m = queue.shift();
      m.#live();
      for (const specifier of m.#specifiers) {
        let dep = resolve(specifier, m);
        if (wait) dep = yield dep;
        if (!(dep instanceof Module)) throw new TypeError(NOT_MODULE);
        dep.#live();
        links.push(m.#h, specifier, dep.#h);
        if (!dep.#linked && !seen.has(dep)) {
          seen.add(dep);
          queue.push(dep);
        }
      }
    }
    return [links, seen];
  }

  static #collectSync(root, resolve) {
    const it = Module.#walk(root, resolve, false);
    const r = it.next();
    return r.value;
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
    if (!(context instanceof Context)) throw new TypeError(`\`${method}\` requires parameter 1 to be a Context`);
    if (typeof resolve !== 'function') throw new TypeError(`\`${method}\` requires parameter 2 to be a function`);
    this.#live();
    if (this.#linking) throw new Error('Module is currently being linked by another linker');
  }

  instantiateSync(context, resolve) {
    if (arguments.length < 2) throw arity('instantiateSync', 2);
    this.#checkInstantiate(context, resolve, 'instantiateSync');
    if (this.#linked) return undefined;
    this.#linking = true;
    try {
      const [links] = Module.#collectSync(this, resolve);
      native.moduleInstantiate(this.#h, Context[INTERNAL](context), links, SYNC);
    } finally {
      this.#linking = false;
    }
    return undefined;
  }

  instantiate(context, resolve) {
    if (arguments.length < 2) throw arity('instantiate', 2);
    return asyncCall(this.instantiate, () => {
      this.#checkInstantiate(context, resolve, 'instantiate');
      return this.#instantiateAsync(context, resolve);
    });
  }

  async #instantiateAsync(context, resolve) {
    if (this.#linked) return undefined;
    this.#linking = true;
    try {
      const [links] = await Module.#collect(this, resolve);
      await native.moduleInstantiate(this.#h, Context[INTERNAL](context), links, ASYNC, undefined);
    } finally {
      this.#linking = false;
    }
    return undefined;
  }

  static {
    // For import(): the links of a module's graph, resolved with `resolve`.
    linkDynamic = async (m, resolve) => {
      if (!(m instanceof Module)) throw new TypeError(NOT_MODULE);
      m.#live();
      if (m.#linked) return [m.#h, []];
      const [links] = await Module.#collect(m, resolve);
      return [m.#h, links];
    };
  }

  #evaluate(variant, options, site) {
    options = optionsObject(options, 'evaluate', 1);
    const timeout = T.readTimeout(options);
    return native.moduleEvaluate(this.#h, variant, timeout, site);
  }

  evaluateSync(options) {
    return this.#evaluate(SYNC, options);
  }

  evaluate(options) {
    return asyncCall(this.evaluate, () => this.#evaluate(ASYNC, options, undefined));
  }

  // Releases this handle only: copies of it elsewhere keep the module.
  release() {
    this.#live();
    native.moduleRelease(this.#h);
  }
}

// A guest called import(specifier): ask the isolate's importModuleDynamically
// for a Module, link its graph (the same function resolves its imports) and
// hand it to the isolate, which evaluates it and settles the guest's promise.
async function dynamicImport(isoHandle, hook, specifier, referrerId, filename, rid) {
  try {
    const ref = referrerId === undefined ? undefined : moduleRegistry(isoHandle).get(referrerId);
    const referrer = ref && ref.deref();
    const resolve = (s, r) => hook(s, r, r === undefined ? filename : undefined);
    const m = await hook(specifier, referrer, filename);
    const [h, links] = await linkDynamic(m, resolve);
    if (!native.moduleOwnedBy(isoHandle, h)) throw new TypeError('Resolved dependency belongs to another isolate');
    native.moduleImportSettle(isoHandle, rid, h, links);
  } catch (e) {
    let encoded;
    try {
      encoded = e instanceof Error ? [T.KIND_SERIALIZED, T.serialize(e)] : encodeCopy(e);
    } catch {
      encoded = [T.KIND_PRIMITIVE, String(e)];
    }
    native.moduleImportSettle(isoHandle, rid, undefined, [], encoded[0], encoded[1]);
  }
}

// ---------------------------------------------------------------------------
// Reference

const RELEASED = 'Reference has been released';

class Reference {
  // A reference into an isolate holds a native handle; one made with
  // `new Reference(value)` holds a value of this (Node) heap.
  #h;
  #value;
  #typeof;
  #inherit = false;
  #released = false;

  constructor(value, options) {
    if (value === INTERNAL && arguments.length === 3) {
      this.#h = options;
      this.#typeof = arguments[2];
    } else {
      if (arguments.length < 1) throw arity('Reference', 1);
      options = optionsObject(options, 'Reference', 2);
      this.#value = value;
      this.#typeof = value === null ? 'null' : typeof value;
      if (this.#typeof === 'symbol' || this.#typeof === 'bigint') this.#typeof = 'object';
      this.#inherit = T.boolOption(options, 'unsafeInherit');
    }
    Object.freeze(this);
  }

  // What a guest receiving this Reference to a Node value holds: a Reference
  // of its own to the value, and the value itself when it is a function
  // (guests call it directly).
  [SHARE](out) {
    this.#live();
    const own = new Reference(this.#value, this.#inherit ? { unsafeInherit: true } : undefined);
    out.push(T.KIND_HOST_REF, [own, own.#typeof, typeof this.#value === 'function' ? this.#value : undefined]);
  }

  [INTERNAL]() {
    // Released by derefInto({release: true}): the handle still lives for
    // the Dereference, but the Reference is gone.
    if (this.#released && this.#h !== undefined) throw new Error(RELEASED);
    return this.#h;
  }

  #live() {
    if (this.#released || (this.#h !== undefined && native.isReleased(this.#h))) throw new Error(RELEASED);
  }

  get typeof() {
    this.#live();
    return this.#typeof;
  }

  release() {
    this.#live();
    if (this.#h !== undefined) native.release(this.#h);
    else {
      this.#released = true;
      this.#value = undefined;
    }
  }

  deref(options) {
    this.#live();
    if (this.#h !== undefined) throw new TypeError('Cannot dereference this from current isolate');
    const v = this.#value;
    if (T.boolOption(options, 'release')) this.release();
    return v;
  }

  derefInto(options) {
    this.#live();
    options = optionsObject(options, 'derefInto', 1);
    // For a Node value the check waits for the transfer (isolated-vm's order).
    const d = new Dereference(INTERNAL, this.#h, T.boolOption(options, 'release'), this.#value);
    if (T.boolOption(options, 'release')) {
      // Released now, as in isolated-vm; the native handle goes once the
      // result has been used.
      this.#released = true;
      this.#value = undefined;
    }
    return d;
  }

  // -- get
  #get(variant, key, options, site) {
    this.#live();
    key = readKey(key);
    options = optionsObject(options, 'get', 2);
    const mode = T.transferMode(options);
    if (this.#h === undefined) return this.#localGet(key, options, mode);
    const accessors = T.boolOption(options, 'accessors');
    return native.refGet(this.#h, variant, key, mode, this.#inherit, accessors, site);
  }

  #localGet(key, options, mode) {
    const obj = this.#value;
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) {
      throw new TypeError('Reference is not an object');
    }
    for (let p = obj; p !== null; p = Object.getPrototypeOf(p)) {
      if (isProxy(p)) throw new TypeError('Object is or has proxy');
    }
    const desc = Object.getOwnPropertyDescriptor(obj, key);
    let v;
    if (desc && (desc.get || desc.set) && !T.boolOption(options, 'accessors')) throw new TypeError('Property is getter');
    if (desc) v = desc.get || desc.set ? obj[key] : desc.value;
    else if (this.#inherit) v = obj[key];
    return localResult(v, mode);
  }

  getSync(key, options) {
    if (options === undefined && this.#h !== undefined && !this.#released && (typeof key === 'string' || isIndex(key))) {
      return native.refGetSync(this.#h, key, this.#inherit);
    }
    return this.#get(SYNC, key, options);
  }

  get(key, options) {
    return asyncCall(this.get, () => {
      return this.#get(ASYNC, key, options, undefined);
    });
  }

  // -- set
  #set(variant, key, value, options, site) {
    this.#live();
    key = readKey(key);
    options = optionsObject(options, 'set', 3);
    const mode = T.transferMode(options);
    if (this.#h === undefined) {
      const obj = this.#value;
      if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) {
        throw new TypeError('Reference is not an object');
      }
      if (isProxy(obj)) throw new TypeError('Object is or has proxy');
      const v = localValue(value, mode);
      if (!Reflect.deleteProperty(obj, key) ||
          !Reflect.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true })) {
        throw new TypeError('Set failed');
      }
      return undefined;
    }
    const out = [];
    encodeInto(out, value, mode);
    return native.refSet(this.#h, variant, key, out[0], out[1], site);
  }

  setSync(key, value, options) {
    if (arguments.length === 2 && this.#h !== undefined && !this.#released && (typeof key === 'string' || isIndex(key)) && T.isPrimitive(value)) {
      return native.refSetSync(this.#h, key, value);
    }
    if (arguments.length < 2) throw arity('setSync', 2);
    return this.#set(SYNC, key, value, options);
  }

  set(key, value, options) {
    const n = arguments.length;
    return asyncCall(this.set, () => {
      if (n < 2) throw arity('set', 2);
      return this.#set(ASYNC, key, value, options, undefined);
    });
  }

  setIgnored(key, value, options) {
    if (arguments.length < 2) throw arity('setIgnored', 2);
    this.#set(IGNORED, key, value, options);
  }

  // -- delete
  #delete(variant, key, site) {
    this.#live();
    key = readKey(key);
    if (this.#h === undefined) {
      if (!Reflect.deleteProperty(Object(this.#value), key)) throw new TypeError('Delete failed');
      return undefined;
    }
    return native.refDelete(this.#h, variant, key, site);
  }

  deleteSync(key) {
    return this.#delete(SYNC, key);
  }

  delete(key) {
    return asyncCall(this.delete, () => this.#delete(ASYNC, key, undefined));
  }

  deleteIgnored(key) {
    this.#delete(IGNORED, key);
  }

  // -- apply
  #apply(variant, recv, args, options, site) {
    // A released handle fails first; a live one is checked by the native
    // call (the short path below costs no extra Node-API call for it).
    if (this.#released || this.#h === undefined) this.#live();
    options = optionsObject(options, 'apply', 3);
    const timeout = T.readTimeout(options);
    const [argMode, resultMode] = bidirectional(options);
    if (this.#h === undefined) {
      if (typeof this.#value !== 'function') throw new TypeError('Reference is not a function');
      const list = argList(args).map((a) => localValue(a, argMode));
      const r = Reflect.apply(this.#value, localValue(recv, T.MODE_DEFAULT), list);
      return localResult(r, resultMode);
    }
    // Up to four arguments and no promise to wait for: they go as arguments
    // of one native call (reading an array's elements through Node-API costs
    // a call each), and the isolate runs the call without a boxed job. Under
    // `copy` a primitive argument crosses as itself, as by default.
    if (Array.isArray(args) && args.length <= 4 && (resultMode & T.MODE_PROMISE) === 0 &&
        (argMode === T.MODE_DEFAULT || (argMode === T.MODE_COPY && allPrimitive(args)))) {
      return applyWith(this.#h, variant, recv, timeout, resultMode, args);
    }
    this.#live();
    const list = encodeArgs(args, argMode);
    const r = [];
    encodeInto(r, recv, T.MODE_DEFAULT);
    return native.refApply(this.#h, variant, r[0], r[1], list, timeout, resultMode, site);
  }

  // A call through a function that crossed as a function: arguments copied,
  // the result copied except that functions come back as functions.
  [APPLY_CALLABLE](args) {
    if (this.#h !== undefined && !this.#released && args.length <= 4 && allPrimitive(args)) {
      return applyWith(this.#h, SYNC, undefined, undefined, T.MODE_COPY_CALLABLE, args);
    }
    this.#live();
    const list = encodeArgs(args, T.MODE_COPY);
    return native.refApply(this.#h, SYNC, T.KIND_PRIMITIVE, undefined, list, undefined, T.MODE_COPY_CALLABLE, undefined);
  }

  applySync(recv, args, options) {
    if (recv === undefined && options === undefined && this.#h !== undefined && Array.isArray(args)) {
      if (args.length <= 4) return spreadArgs(native.refApplyArgs, this.#h, args);
      if (args.length <= MAX_ARGUMENTS) return native.refApplyFast(this.#h, args);
    }
    return this.#apply(SYNC, recv, args, options);
  }

  apply(recv, args, options) {
    if (recv === undefined && options === undefined && this.#h !== undefined && Array.isArray(args) && args.length <= 4) {
      // As in applySync: the arguments go as arguments of the native call.
      const h = this.#h;
      return asyncCall(this.apply, () => spreadArgs(native.refApplyAsyncArgs, h, args));
    }
    return asyncCall(this.apply, () => this.#apply(ASYNC, recv, args, options, undefined));
  }

  applyIgnored(recv, args, options) {
    this.#apply(IGNORED, recv, args, options);
  }

  // Only guests running asynchronously may block on a Node promise; on a
  // Node thread this could only deadlock.
  applySyncPromise(recv, args, options) {
    this.#live();
    options = optionsObject(options, 'applySyncPromise', 3);
    if (options && options.result !== undefined) throw new TypeError(RESULT_OPTIONS);
    throw new Error(DEFAULT_THREAD);
  }

  // A guest's `applySync(undefined, args)` without options (the common
  // call, kept short): what `#apply` does under the default modes, where
  // the guest has already refused anything not transferable.
  [APPLY_ARGS](args) {
    if (this.#h !== undefined) return this.applySync(undefined, args);
    this.#live();
    if (typeof this.#value !== 'function') throw new TypeError('Reference is not a function');
    for (let i = 0; i < args.length; i++) {
      if (!T.isPrimitive(args[i])) args[i] = localValue(args[i], T.MODE_DEFAULT);
    }
    const r = Reflect.apply(this.#value, undefined, args);
    return T.isPrimitive(r) ? r : localResult(r, T.MODE_DEFAULT);
  }

  // A guest's applySyncPromise: the promise (or value) the function returns.
  [APPLY_PROMISE](recv, args, options) {
    this.#live();
    if (this.#h !== undefined || typeof this.#value !== 'function') throw new TypeError('Reference is not a function');
    const given = argList(args);
    const [argMode] = bidirectional(optionsObject(options, 'applySyncPromise', 3));
    const list = given.map((a) => localValue(a, argMode));
    // The settled value follows isolated-vm's defaults (functions become
    // callable, handles pass, other objects are refused).
    return Promise.resolve(Reflect.apply(this.#value, localValue(recv, T.MODE_DEFAULT), list)).then(defaultTransferable);
  }

  // -- copy
  copySync() {
    this.#live();
    if (this.#h === undefined) return localResult(this.#value, T.MODE_COPY);
    return native.refCopy(this.#h, SYNC);
  }

  copy() {
    return asyncCall(this.copy, () => {
      this.#live();
      if (this.#h === undefined) return Promise.resolve(localResult(this.#value, T.MODE_COPY));
      return native.refCopy(this.#h, ASYNC, undefined);
    });
  }
}

// ---------------------------------------------------------------------------
// ExternalCopy: a value copied out of any heap (a primitive, structured-clone
// bytes, or an ArrayBuffer's memory), held natively and shared by every
// handle to it in Node and in isolates.

const COPY_RELEASED = 'Copy has been released';
const { isSharedArrayBuffer, isAnyArrayBuffer } = require('util').types;

// View kinds shared with native code (transfer/external.rs).
const VIEW_KINDS = {
  Int8Array: 1, Uint8Array: 2, Uint8ClampedArray: 3, Int16Array: 4, Uint16Array: 5, Int32Array: 6,
  Uint32Array: 7, Float32Array: 8, Float64Array: 9, BigInt64Array: 10, BigUint64Array: 11, DataView: 12,
  Float16Array: 13,
};
const VIEW_CLASSES = [];
for (const [name, code] of Object.entries(VIEW_KINDS)) VIEW_CLASSES[code] = globalThis[name];

function viewKind(view) {
  if (view instanceof DataView) return VIEW_KINDS.DataView;
  return VIEW_KINDS[view[Symbol.toStringTag]];
}

// Moves an ArrayBuffer's memory into a new ArrayBuffer (detaching `buffer`),
// as a transfer does; throws for buffers Node marks untransferable.
function detach(buffer) {
  return structuredClone(buffer, { transfer: [buffer] });
}

// The value for an ExternalCopy's buffer: the ArrayBuffer (a copy into a
// SharedArrayBuffer for shared memory, which Node-API cannot share) and its view.
function makeView(ab, kind, offset, length, shared) {
  let buffer = ab;
  if (shared) {
    buffer = new SharedArrayBuffer(ab.byteLength);
    new Uint8Array(buffer).set(new Uint8Array(ab));
  }
  if (kind === 0) return buffer;
  const View = VIEW_CLASSES[kind];
  if (View === undefined) throw new TypeError('Unsupported type');
  return new View(buffer, offset, length);
}

class ExternalCopy {
  #h;

  constructor(value, options) {
    if (!new.target) throw new TypeError('`ExternalCopy` must be called with `new`');
    if (value === INTERNAL && arguments.length === 3) {
      this.#h = options;
      Object.freeze(this);
      return;
    }
    if (arguments.length < 1) throw arity('ExternalCopy', 1);
    options = optionsObject(options, 'ExternalCopy', 2);
    const transferOut = T.boolOption(options, 'transferOut');
    const transferList = options && options.transferList;
    if (transferList !== undefined) {
      if (!Array.isArray(transferList)) throw T.optionError('transferList', 'an array');
      for (const b of transferList) {
        if (!(b instanceof ArrayBuffer)) throw new TypeError('Non-ArrayBuffer passed in `transferList`');
      }
    }
    if (typeof value === 'symbol') throw new TypeError('Unsupported type');
    if (T.isPrimitive(value)) {
      this.#h = native.externalCopyNew(T.KIND_PRIMITIVE, value);
    } else if (isAnyArrayBuffer(value) || ArrayBuffer.isView(value)) {
      const isView = ArrayBuffer.isView(value);
      const kind = isView ? viewKind(value) : 0;
      if (kind === undefined) throw new TypeError('Unsupported type');
      let buffer = isView ? value.buffer : value;
      const shared = isSharedArrayBuffer(buffer);
      const moved = !shared && ((transferList && transferList.includes(buffer)) ||
        transferOut);
      const length = !isView ? 0 : kind === VIEW_KINDS.DataView ? value.byteLength : value.length;
      if (Buffer.isBuffer(value) && !moved) {
        // A Buffer may be a slice of Node's shared pool: copy its own bytes only.
        this.#h = native.externalCopyBuffer(
          new Uint8Array(buffer, value.byteOffset, value.byteLength), VIEW_KINDS.Uint8Array, 0, value.length, false, shared, buffer,
        );
      } else {
        // A detached buffer is copied as an empty one (as isolated-vm does).
        this.#h = native.externalCopyBuffer(
          buffer.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(buffer), kind, isView ? value.byteOffset : 0, length, moved, shared, buffer,
        );
      }
      if (moved && buffer.byteLength) detach(buffer);
      if (transferList) for (const b of transferList) if (b !== value && b.byteLength) detach(b);
    } else {
      // The library's handles are copied as themselves (a Callback arrives as
      // a function), as in isolated-vm; plain functions cannot be cloned.
      if (typeof value === 'function') throw new TypeError(`${String(value)} could not be cloned.`);
      this.#h = native.externalCopyNew(T.KIND_SERIALIZED, T.serialize(value));
      if (transferList) for (const b of transferList) if (b.byteLength) detach(b);
    }
    Object.freeze(this);
  }

  static get totalExternalSize() {
    return native.externalCopyTotal();
  }

  [INTERNAL]() {
    return this.#h;
  }

  copy(options) {
    options = optionsObject(options, 'copy', 1);
    const v = native.externalCopyCopy(this.#h, T.boolOption(options, 'transferIn'));
    if (T.boolOption(options, 'release')) this.release();
    return v;
  }

  copyInto(options) {
    options = optionsObject(options, 'copyInto', 1);
    const into = new ExternalCopyInto(INTERNAL, native.externalCopyInto(this.#h), T.boolOption(options, 'transferIn'));
    if (T.boolOption(options, 'release')) this.release();
    return into;
  }

  release() {
    if (!native.externalCopyRelease(this.#h)) throw new Error(COPY_RELEASED);
  }
}

function wrapExternalCopy(h) {
  return new ExternalCopy(INTERNAL, h, true);
}

// The single-use result of `copyInto()`: materialises where it is sent.
class ExternalCopyInto {
  #h;
  #transferIn;
  #used = false;

  constructor(token, h, transferIn) {
    if (token !== INTERNAL) throw new TypeError('Use externalCopy.copyInto()');
    this.#h = h;
    this.#transferIn = transferIn;
    Object.freeze(this);
  }

  [INTERNAL](out) {
    if (this.#used) throw new Error('The return value of `copyInto()` should only be used once');
    this.#used = true;
    out.push(T.KIND_COPY_INTO, [this.#h, this.#transferIn]);
  }
}

// ---------------------------------------------------------------------------
// Dereference: the single-use result of `reference.derefInto()`. Sent into
// the reference's own isolate it becomes the referenced value itself.

class Dereference {
  #h;
  #used = false;
  #release;
  #value;

  constructor(token, h, release, value) {
    if (token !== INTERNAL) throw new TypeError('Dereference cannot be constructed directly; use reference.derefInto()');
    this.#h = h;
    this.#release = release;
    this.#value = value;
    Object.freeze(this);
  }

  // The Node value of a Node Reference's derefInto(), used once (for Node's
  // own References' methods).
  static [INTERNAL](d) {
    d[INTERNAL]();
    return d.#value;
  }

  [INTERNAL]() {
    if (this.#used) throw new Error('The return value of `derefInto()` should only be used once');
    this.#used = true;
    const h = this.#h;
    if (this.#release && h !== undefined) queueMicrotask(() => native.release(h));
    return h;
  }
}

// ---------------------------------------------------------------------------
// Callback

class Callback {
  #fn;
  #mode;

  constructor(fn, options) {
    if (typeof fn !== 'function') throw new TypeError('`Callback` requires parameter 1 to be a function');
    options = optionsObject(options, 'Callback', 2);
    this.#fn = fn;
    const async = T.boolOption(options, 'async');
    const ignored = T.boolOption(options, 'ignored');
    T.boolOption(options, 'sync');
    this.#mode = async ? 1 : ignored ? 2 : 0;
    Object.freeze(this);
  }

  [INTERNAL]() {
    return [this.#fn, this.#mode];
  }
}

// Values returned (or thrown) by Node functions that guests call.
function encodeCopy(value) {
  if (T.isPrimitive(value)) return [T.KIND_PRIMITIVE, value];
  // As in isolated-vm: a function returned is callable in the guest; a
  // Symbol cannot be copied.
  if (typeof value === 'function') return [T.KIND_CALLBACK, value];
  if (typeof value === 'symbol') throw new TypeError('Unsupported type');
  if (value instanceof ExternalCopy || value instanceof ExternalCopyInto) {
    const out = [];
    encodeInto(out, value, T.MODE_DEFAULT);
    return out;
  }
  return [T.KIND_SERIALIZED, T.serialize(value)];
}

// What a Node function threw, for the guest that called it. The rules of
// guest errors leaving an isolate (transfer/error.rs): an object is an error
// if it is one or has a `message` or `stack`; Error and the four standard
// subclasses keep their class, others become Error with their `name`; the
// stack is `name: message` and the thrown stack's frames. Other objects are
// isolated-vm's "not an instance of `Error`" Error; primitives pass as such.
function describeThrown(e) {
  if (T.isPrimitive(e)) return [false, T.KIND_PRIMITIVE, e];
  if (typeof e === 'symbol') return [true, 'Error', undefined, NOT_AN_ERROR, undefined];
  const read = (key) => {
    try {
      return e[key];
    } catch {
      return undefined;
    }
  };
  const message = read('message');
  const stack = read('stack');
  if (!isNativeError(e) && message === undefined && stack === undefined) {
    return [true, 'Error', undefined, NOT_AN_ERROR, undefined];
  }
  const ctor = read('constructor');
  const ctorName = typeof ctor === 'function' ? ctor.name : undefined;
  const known = Object.hasOwn(GUEST_CLASSES, ctorName);
  const className = known ? ctorName : 'Error';
  const rawName = known ? undefined : read('name');
  const name = rawName === undefined ? undefined : String(rawName);
  let text = '';
  try {
    text = message === undefined ? '' : String(message);
  } catch {
    /* a message that cannot be made a string reads as empty */
  }
  const at = typeof stack === 'string' ? stack.indexOf('\n    at ') : -1;
  const frames = at >= 0 ? hostFrames(stack.slice(at)) : '';
  return [true, className, name, text, `${name ?? className}: ${text}${frames}`];
}

// A Node stack's frames without the library's own (they sit between the host
// function and the Node code that made the call).
function hostFrames(frames) {
  if (!frames.includes(LIB_DIR)) return frames;
  return frames.split('\n').filter((l) => !l.includes(LIB_DIR)).join('\n');
}

function defaultTransferable(v) {
  if (T.isPrimitive(v) || typeof v === 'function' || v === library || (typeof v === 'object' && v[T.HANDLE] === true)) return v;
  throw new TypeError(T.NON_TRANSFERABLE);
}

const NOT_AN_ERROR =
  'An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.';

// A value passed to a host Reference's set/apply, under a transfer mode: the
// same rules as values sent into an isolate.
function localValue(value, mode) {
  if (mode & T.MODE_PROMISE) {
    // A promise (from a guest: already transferred under the other flags)
    // or a value: the function gets a promise of it.
    const rest = mode & 3;
    return Promise.resolve(value).then((v) => localValue(v, rest));
  }
  mode &= 3;
  if (value instanceof Reference) {
    if (value[INTERNAL]() === undefined) return value.deref();
    return value;
  }
  if (value instanceof Callback) return value[INTERNAL]()[0];
  if (value instanceof Dereference) return Dereference[INTERNAL](value);
  if (value instanceof ExternalCopy) return value;
  // Isolates, Contexts, Scripts and Modules arrived as handles already.
  if (value instanceof Isolate || value instanceof Context || value instanceof Script || value instanceof Module) return value;
  if (mode === T.MODE_EXTERNAL_COPY) return new ExternalCopy(value);
  if (mode === T.MODE_COPY) return localResult(value, T.MODE_COPY);
  if (mode === T.MODE_REFERENCE) return new Reference(value);
  if (T.isPrimitive(value) || typeof value === 'function') return value;
  throw new TypeError(T.NON_TRANSFERABLE);
}

// A value of Node's heap handed back to Node code under a transfer mode.
function localResult(value, mode) {
  if (mode & T.MODE_PROMISE) {
    const rest = mode & 3;
    // A value that is not a promise is transferred now (errors throw now).
    if (!isPromise(value)) return Promise.resolve(localResult(value, rest));
    return Promise.resolve(value).then((v) => localResult(v, rest));
  }
  mode &= 3;
  if (mode === T.MODE_EXTERNAL_COPY) return new ExternalCopy(value);
  if (mode === T.MODE_COPY) {
    return T.isPrimitive(value) ? value : T.copyLocal(value);
  }
  if (mode === T.MODE_REFERENCE) return new Reference(value);
  // Functions stay callable (isolated-vm's default for get and apply).
  if (T.isPrimitive(value) || typeof value === 'function') return value;
  // Library handles transfer as themselves.
  if (value instanceof ExternalCopy || value instanceof Reference || value instanceof Callback) return value;
  return new Reference(value);
}

function wrapReference(h, type) {
  return new Reference(INTERNAL, h, type);
}

// A guest function handed to Node without options: calling it calls the
// guest function (arguments and result copied, like a Callback).
function wrapFunction(h, name, length) {
  const ref = new Reference(INTERNAL, h, 'function');
  // A method: not a constructor and no `prototype`, like isolated-vm's.
  const f = {
    f(...args) {
      return ref[APPLY_CALLABLE](args);
    },
  }.f;
  Object.defineProperty(f, 'name', { value: name });
  Object.defineProperty(f, 'length', { value: length });
  return f;
}

// Async results are collected by polling from setImmediate while calls are in
// flight (see native/src/node/completions.rs).
function pollLoop() {
  if (native.poll()) setImmediate(pollLoop);
}
function startPolling() {
  setImmediate(pollLoop);
}

// A guest called a method of its Reference to a Node value: run it here and
// encode the result for the guest (References stay References).
// The methods by index (native/src/node/host.rs has the same list).
const HOST_OPS = ['getSync', 'setSync', 'deleteSync', 'applySync', 'copySync', 'applySyncPromise', 'applyArgs', 'result'];
const HOST_APPLY_ARGS = 6;
const HOST_RESULT = 7;

function hostRefOp(ref, index, ...args) {
  if (index === HOST_APPLY_ARGS) {
    const result = ref[APPLY_ARGS](args);
    return T.isPrimitive(result) ? result : hostResult(result);
  }
  // What a Node function a guest called directly returned (not a primitive),
  // under the default rules of apply.
  if (index === HOST_RESULT) return hostResult(localResult(args[0], T.MODE_DEFAULT));
  const op = HOST_OPS[index];
  if (op === 'applySyncPromise') return ref[APPLY_PROMISE](...args);
  const result = ref[op](...args);
  if (isPromise(result)) {
    // `{result: {promise: true}}`: the guest gets a promise of the result
    // (already transferred under the other flags by localResult).
    const box = native.promiseNew();
    result.then((v) => {
      let out;
      try {
        out = hostResult(v);
      } catch (e) {
        native.promiseSettle(box, false, e);
        return;
      }
      native.promiseSettle(box, true, out[0], out[1]);
    }, (e) => native.promiseSettle(box, false, e));
    return [T.KIND_PROMISE, box];
  }
  // Primitives come back as themselves (cheaper than a pair).
  return T.isPrimitive(result) ? result : hostResult(result);
}

function hostResult(result) {
  if (result instanceof Reference || result instanceof ExternalCopy || result instanceof ExternalCopyInto) {
    const out = [];
    encodeInto(out, result, T.MODE_DEFAULT);
    return out;
  }
  if (T.isPrimitive(result)) return [T.KIND_PRIMITIVE, result];
  if (typeof result === 'function') return [T.KIND_CALLBACK, result];
  return [T.KIND_SERIALIZED, T.serialize(result)];
}

// A handle coming out of an isolate (made by guest code there).
function wrapHandle(kind, a, b) {
  switch (kind) {
    case 'isolate':
      return new Isolate(INTERNAL, a);
    case 'context':
      return new Context(INTERNAL, a, b);
    case 'script':
      return new Script(INTERNAL, a);
    case 'module':
      return new Module(INTERNAL, a, b);
    default:
      return library;
  }
}

// The library's objects cross as handles inside structured clones too.
for (const C of [Reference, ExternalCopy, ExternalCopyInto, Dereference, Callback, Isolate, Context, Script, Module]) {
  Object.defineProperty(C.prototype, T.HANDLE, { value: true });
}
// An Error with a `cause`: the error without it (what the serializer writes
// of an error: its class by name, message and stack) and the cause, copied
// apart. A cause that leads back to an error being sent is left out.
const sendingCause = new Set();
function errorCauseParts(err) {
  const bare = new Error();
  Object.setPrototypeOf(bare, Object.getPrototypeOf(err));
  const hidden = { writable: true, configurable: true, enumerable: false };
  if (Object.hasOwn(err, 'message')) Object.defineProperty(bare, 'message', { ...hidden, value: err.message });
  else delete bare.message;
  Object.defineProperty(bare, 'stack', { ...hidden, value: err.stack });
  const cause = err.cause;
  let c = [T.KIND_PRIMITIVE, undefined];
  if (!sendingCause.has(err)) {
    sendingCause.add(err);
    try {
      c = T.isPrimitive(cause) ? [T.KIND_PRIMITIVE, cause] : [T.KIND_SERIALIZED, T.serialize(cause)];
    } finally {
      sendingCause.delete(err);
    }
  }
  return [T.KIND_SERIALIZED, T.serialize(bare), c[0], c[1]];
}

T.setHandleEncoder((value) => {
  const out = [];
  if (T.hasCause(value)) {
    out.push(T.KIND_ERROR_CAUSE, errorCauseParts(value));
    return out;
  }
  if (T.isShared(value)) {
    // A SharedArrayBuffer inside a clone: its memory (copied once, Node-API
    // cannot lend Node's), which every receiving isolate shares.
    new ExternalCopy(value).copyInto()[INTERNAL](out);
    return out;
  }
  encodeInto(out, value, T.MODE_DEFAULT);
  return out;
});

function encodeArg(value) {
  const out = [];
  encodeInto(out, value, T.MODE_DEFAULT);
  return out;
}

native.setup(
  makeError, T.deserialize, wrapReference, startPolling, encodeCopy, describeThrown, () => {}, wrapFunction, encodeArg,
  (promise, cb) => {
    promise.then((v) => cb(true, v), (e) => cb(false, e));
  },
  (promise) => {
    promise.catch(() => {});
  },
  hostRefOp,
  wrapExternalCopy,
  makeView,
  wrapHandle,
);

// Calling a constructor without `new` gets isolated-vm's message instead of
// V8's class-constructor one: the exported class is a proxy that refuses to be
// called (the instances' `constructor` is that proxy, so both compare equal).
function requireNew(C) {
  const P = new Proxy(C, {
    apply() {
      throw new TypeError(`\`${C.name}\` must be called with \`new\``);
    },
    // `new P()` constructs C itself: with the proxy as `new.target`, V8 makes
    // each instance on the slow path (a map derived per construction, ~4 µs).
    // Subclasses keep their own `new.target`.
    construct(target, args, newTarget) {
      return Reflect.construct(target, args, newTarget === P ? target : newTarget);
    },
  });
  Object.defineProperty(C.prototype, 'constructor', { value: P, writable: true, configurable: true, enumerable: false });
  return P;
}
const PublicReference = requireNew(Reference);
const PublicExternalCopy = requireNew(ExternalCopy);
const PublicCallback = requireNew(Callback);
const PublicIsolate = requireNew(Isolate);

for (const C of [Isolate, IsolatePool, Context, Script, Module, Reference, Callback, Dereference, ExternalCopy, ExternalCopyInto]) {
  Object.freeze(C.prototype);
  Object.freeze(C);
}

const library = Object.freeze({
  Isolate: PublicIsolate,
  IsolatePool,
  Context,
  Script,
  Reference: PublicReference,
  Callback: PublicCallback,
  ExternalCopy: PublicExternalCopy,
  TimeoutError,
  MemoryLimitError,
  IsolateDisposedError,
});

module.exports = library;
