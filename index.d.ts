// Type definitions for v8-isolates.
//
// The runtime is a CommonJS module (`module.exports = {...}`), so these
// typings use `export =`. Both of these are typed:
//   import ivm from 'v8-isolates';          // with esModuleInterop
//   import ivm = require('v8-isolates');    // or `const ivm = require(...)` in checked JS
// and so are named imports: `import { Isolate } from 'v8-isolates'`.

/// <reference types="node" />

// Private brands. They are not exported, so the branded types below can only
// be obtained from the library itself.
declare const kValue: unique symbol;
declare const kDereference: unique symbol;
declare const kCopyInto: unique symbol;
declare const kModule: unique symbol;

declare namespace V8Isolates {
  // -------------------------------------------------------------------------
  // Values that may cross an isolate boundary without any transfer option.

  /** A plain function. Passing one where a transferable is expected wraps it in a sync `Callback`. */
  type AnyFunction = (...args: any[]) => unknown;

  /** Primitives (except symbols) are copied as they are. */
  type TransferablePrimitive = string | number | boolean | bigint | null | undefined;

  /**
   * Everything that passes between isolates by default: non-symbol
   * primitives, this library's handles, plain functions (as callbacks), the
   * one-shot values from `derefInto()` / `copyInto()`, and the library object.
   */
  type Transferable =
    | TransferablePrimitive
    | Isolate
    | Context
    | Script
    | Module
    | Reference<any>
    | ExternalCopy<any>
    | Callback<any>
    | Dereference<any>
    | ExternalCopyInto<any>
    | AnyFunction
    | typeof V8Isolates;

  // -------------------------------------------------------------------------
  // Option objects

  /**
   * How a value is moved into another isolate. At most one of `copy`,
   * `externalCopy` and `reference` may be true (otherwise a TypeError is
   * thrown at run time). With none of them, only `Transferable` values pass;
   * what happens to other values depends on the method.
   */
  type TransferOptions =
    | { promise?: boolean; copy?: boolean; externalCopy?: false; reference?: false }
    | { promise?: boolean; copy?: false; externalCopy?: boolean; reference?: false }
    | { promise?: boolean; copy?: false; externalCopy?: false; reference?: boolean };

  /** Separate transfer options for the values going in and the value coming out. */
  interface TransferOptionsBidirectional {
    /** Applied to each argument (and the receiver) going into the callee's isolate. */
    arguments?: TransferOptions;
    /** Applied to the value coming back. */
    result?: TransferOptions;
  }

  interface RunOptions {
    /**
     * Milliseconds the code may run before it is terminated with a
     * `TimeoutError` ("Script execution timed out."). 0 or absent: no limit.
     * The isolate stays usable afterwards.
     */
    timeout?: number;
  }

  interface ReleaseOptions {
    /** Release this handle as part of the call. */
    release?: boolean;
  }

  /** Where code came from; shown in stack traces and compile errors. */
  interface ScriptOrigin {
    /** Defaults to `"<isolated-vm>"`. */
    filename?: string;
    lineOffset?: number;
    columnOffset?: number;
  }

  interface CachedDataOptions {
    /** Code cache from an earlier compile (`script.cachedData`). */
    cachedData?: ExternalCopy<ArrayBuffer>;
    /** Produce a code cache as `cachedData` on the result (only if none was supplied, or it was rejected). */
    produceCachedData?: boolean;
  }

  /** Set on a compiled `Script`/`Module` when cached data was requested or supplied. */
  interface CachedDataResult {
    cachedData?: ExternalCopy<ArrayBuffer>;
    /** Present only when `cachedData` was supplied: whether V8 refused it. */
    cachedDataRejected?: boolean;
  }

  type ScriptInfo = ScriptOrigin & CachedDataOptions;

  type CompileModuleOptions = ScriptInfo & {
    /**
     * Called (synchronously, in Node) the first time the module reads
     * `import.meta`, with a Reference to the `import.meta` object:
     * `meta: (m) => m.setSync('url', url)`. A throw becomes the guest's error.
     */
    meta?: (meta: Reference<Record<string, unknown>>) => void;
  };

  interface ContextOptions {
    /** Attach the context to the isolate's inspector (needs `inspector: true` on the isolate). */
    inspector?: boolean;
  }

  type ContextEvalOptions = RunOptions & ScriptOrigin & TransferOptions;
  type ContextEvalClosureOptions = RunOptions & ScriptOrigin & TransferOptionsBidirectional;
  type ScriptRunOptions = RunOptions & ReleaseOptions & TransferOptions;
  /** `evaluate` only reads `timeout`; the other fields are accepted for compatibility. */
  type ModuleEvaluateOptions = ScriptRunOptions;
  type ReferenceGetOptions = TransferOptions & {
    /** Allow reading a property defined by a getter (which runs the getter). */
    accessors?: boolean;
  };
  type ReferenceApplyOptions = RunOptions & TransferOptionsBidirectional;
  /** `applySyncPromise` rejects a `result` option. */
  type ReferenceApplySyncPromiseOptions = RunOptions & { arguments?: TransferOptions; result?: undefined };

  interface ReferenceOptions {
    /** Let `get` see inherited properties (getters are still refused). Unsafe with untrusted prototypes. */
    unsafeInherit?: boolean;
  }

  interface ExternalCopyOptions {
    /** ArrayBuffers to move instead of copy; they are detached here. */
    transferList?: ArrayBuffer[];
    /** Move the ArrayBuffer (or a view's buffer) instead of copying it. */
    transferOut?: boolean;
  }

  interface ExternalCopyCopyOptions extends ReleaseOptions {
    /** Move an ArrayBuffer's memory into the caller; the ExternalCopy is empty afterwards. */
    transferIn?: boolean;
  }

  /** At most one mode; without one the callback is synchronous. */
  type CallbackOptions =
    | { sync?: boolean; async?: false; ignored?: false }
    | { sync?: false; async?: boolean; ignored?: false }
    | { sync?: false; async?: false; ignored?: boolean };

  interface IsolateOptions {
    /** Heap limit in MB. Default 128, minimum 8. A soft limit: hitting it disposes the isolate. */
    memoryLimit?: number;
    /** Enable the V8 inspector for this isolate. */
    inspector?: boolean;
    /**
     * A startup snapshot made by `Isolate.createSnapshot` in this process: the
     * isolate and every context it creates start with its heap. Blobs made by
     * another process, or modified, are refused (`Invalid snapshot: ...`).
     */
    snapshot?: ExternalCopy<ArrayBuffer>;
    /**
     * Called (in the creating isolate) when V8 loses control of the isolate:
     * a fatal out-of-memory, or code that ignores termination. The process
     * should be taken down soon afterwards.
     */
    onCatastrophicError?: (message: string) => void;
    /**
     * Answers `import()` in guests: return the Module for `specifier` (or a
     * promise of one). `referrer` is the importing Module (undefined from a
     * script), `filename` the importer's filename. The same function resolves
     * the imports of the returned module's graph. Without it, `import()`
     * rejects with "Not supported".
     */
    importModuleDynamically?: (
      specifier: string,
      referrer: Module | undefined,
      filename: string | undefined,
    ) => Module | PromiseLike<Module>;
    /** Receives (a copy of) the reason of each guest promise rejected without a handler. */
    onUnhandledRejection?: (reason: unknown) => void;
  }

  interface SnapshotScript extends ScriptOrigin {
    code: string;
  }

  /** Bounds on `Isolate.createSnapshot` (v8-isolates addition). */
  interface SnapshotOptions {
    /** ms; default 30000; 0 for none. Over it: `TimeoutError`. */
    timeout?: number;
    /** Heap limit in MB while the scripts run; default 128. Over it: `MemoryLimitError`. */
    memoryLimit?: number;
  }

  /** Options of `new IsolatePool()`: the memory limit, a snapshot and the pool size. */
  interface IsolatePoolOptions extends Pick<IsolateOptions, 'memoryLimit' | 'snapshot'> {
    /** Isolates kept ready; default 2, from 1 to 1024. */
    size?: number;
  }

  /** What `IsolatePool.acquire()` hands out. */
  interface PooledIsolate {
    isolate: Isolate;
    /** A context made in advance in `isolate`. */
    context: Context;
  }
  /** isolated-vm's name for `SnapshotScript`. */
  type SnapshotScriptInfo = SnapshotScript;

  // -------------------------------------------------------------------------
  // Result and argument typing helpers

  type CopyMode = { copy: true };
  type ExternalCopyMode = { externalCopy: true };
  type ReferenceMode = { reference: true };
  type PromiseMode = { promise: true };
  type ExplicitMode = CopyMode | ExternalCopyMode | ReferenceMode;

  /** The `arguments` or `result` member of bidirectional options, or `{}`. */
  type SubOptions<O, K extends 'arguments' | 'result'> = O extends { [P in K]?: infer S }
    ? unknown extends S
      ? {}
      : NonNullable<S>
    : {};

  /** The value a promise-aware transfer settles with. */
  type Settled<O, V> = O extends PromiseMode ? Awaited<V> : V;

  /** What arrives on the other side under transfer options `O`, with `Fallback` when no mode is set. */
  type Delivered<O, V, Fallback> = O extends CopyMode
    ? Settled<O, V>
    : O extends ExternalCopyMode
      ? ExternalCopy<Settled<O, V>>
      : O extends ReferenceMode
        ? Reference<Settled<O, V>>
        : Fallback;

  /** With `promise: true` a synchronous call hands back a promise. */
  type MaybePromise<O, R> = O extends PromiseMode ? Promise<R> : R;

  /** Without a mode, results of eval/run/evaluate: transferables pass, anything else becomes undefined. */
  type EvalFallback<V> = V extends Transferable ? V : undefined;
  /** Without a mode, results of get/apply: transferables pass, anything else becomes a Reference. */
  /** Without a mode, get and apply give primitives and handles as they are, functions as callable functions, anything else as a Reference. */
  type ReferenceFallback<V> = V extends Transferable ? V : V extends (...args: any[]) => any ? V : Reference<V>;
  /** Without a mode, the result of evalClosure must be transferable (or a TypeError is thrown). */
  type StrictFallback<V> = V extends Transferable ? V : Transferable;

  type SyncResult<O, V, Fallback> = MaybePromise<O, Delivered<O, V, Fallback>>;
  type AsyncResult<O, V, Fallback> = Promise<Delivered<O, V, Fallback>>;

  /** A value handed to another isolate under transfer options `O`. */
  type Argument<O, V> =
    | (O extends PromiseMode ? ArgumentValue<O, V> | PromiseLike<ArgumentValue<O, V>> : ArgumentValue<O, V>)
    | Dereference<V>
    | ExternalCopyInto<V>;
  type ArgumentValue<O, V> = O extends ExplicitMode ? V : V extends Transferable ? V : Transferable;

  /** An argument list; readonly arrays and tuples are accepted too. */
  type ArgumentList<O, A> = Readonly<{ [I in keyof A]: Argument<O, A[I]> }>;

  type FunctionArguments<T> = T extends (...args: infer A) => unknown ? A : unknown[];
  type FunctionResult<T> = T extends (...args: any[]) => infer R ? R : unknown;
  /** Keys accepted by `Reference` property access: strings and array indexes. */
  type KeyOf<T> = Extract<keyof T, string | number>;
  type PropertyOf<T, K> = K extends keyof T ? T[K] : unknown;

  // -------------------------------------------------------------------------
  // Statistics and profiles

  /** V8's heap statistics for the isolate, plus `externally_allocated_size`. */
  interface HeapStatistics {
    total_heap_size: number;
    total_heap_size_executable: number;
    total_physical_size: number;
    total_available_size: number;
    used_heap_size: number;
    /** Corrected to be close to `memoryLimit`. */
    heap_size_limit: number;
    malloced_memory: number;
    peak_malloced_memory: number;
    does_zap_garbage: number;
    number_of_native_contexts: number;
    number_of_detached_contexts: number;
    total_global_handles_size: number;
    used_global_handles_size: number;
    external_memory: number;
    /** Memory outside the V8 heap (ArrayBuffers, external strings) that counts against `memoryLimit`. */
    externally_allocated_size: number;
  }

  /** One V8 heap space (v8-isolates addition; same shape as Node's `v8.getHeapSpaceStatistics()`). */
  interface HeapSpaceStatistics {
    space_name: string;
    space_size: number;
    space_used_size: number;
    space_available_size: number;
    physical_space_size: number;
  }

  interface CpuProfileCallFrame {
    functionName: string;
    url: string;
    scriptId: number;
    lineNumber: number;
    columnNumber: number;
    bailoutReason?: string;
  }

  interface CpuProfileNode {
    id: number;
    hitCount: number;
    children: number[];
    callFrame: CpuProfileCallFrame;
  }

  /** A DevTools-protocol CPU profile. */
  interface CpuProfile {
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
    nodes: CpuProfileNode[];
  }

  /** One profile per OS thread the isolate ran on while profiling. */
  interface ThreadCpuProfile {
    threadId: number;
    profile: CpuProfile;
  }

  /**
   * A DevTools-protocol session on an inspector-enabled isolate. Messages from
   * the isolate reach the handlers on the creating thread's event loop.
   */
  interface InspectorSession {
    /** Sends a protocol message (JSON). Throws "Session is dead" after `dispose()` or the isolate's. */
    dispatchProtocolMessage(message: string): void;
    /** Ends the session; a guest it paused resumes. A second call throws "Session is dead". */
    dispose(): void;
    onNotification?: (message: string) => void;
    onResponse?: (callId: number, message: string) => void;
  }

  // -------------------------------------------------------------------------
  // Classes

  /** A V8 isolate: a separate heap with its own thread, memory limit and timers. */
  class Isolate {
    #private;
    constructor(options?: IsolateOptions);

    /**
     * Builds a startup snapshot: runs `scripts` in a fresh isolate (on a thread
     * of its own, bounded by `options`) and returns its heap, sealed for this
     * process. A `warmupScript` runs in a copy and is discarded; the functions
     * it ran stay compiled. Errors name the script's file and line.
     */
    static createSnapshot(
      scripts: readonly SnapshotScript[],
      warmupScript?: string,
      options?: SnapshotOptions,
    ): ExternalCopy<ArrayBuffer>;

    /** CPU time spent running this isolate, in nanoseconds. */
    readonly cpuTime: bigint;
    /** Wall-clock time spent running this isolate, in nanoseconds. */
    readonly wallTime: bigint;
    /** True after `dispose()` or after the memory limit killed the isolate. */
    readonly isDisposed: boolean;
    /** Live handles (references, contexts, scripts...) into this isolate. */
    readonly referenceCount: number;

    compileScript(code: string, options?: ScriptInfo): Promise<Script>;
    compileScriptSync(code: string, options?: ScriptInfo): Script;

    compileModule(code: string, options?: CompileModuleOptions): Promise<Module>;
    compileModuleSync(code: string, options?: CompileModuleOptions): Module;

    createContext(options?: ContextOptions): Promise<Context>;
    createContextSync(options?: ContextOptions): Context;

    /** Needs `inspector: true`; only contexts created with `{ inspector: true }` are visible to it. */
    createInspectorSession(): InspectorSession;

    /** Terminates running code and frees the isolate. Throws if already disposed. */
    dispose(): void;

    getHeapStatistics(): Promise<HeapStatistics>;
    getHeapStatisticsSync(): HeapStatistics;

    /** Per-space heap usage (v8-isolates addition). */
    getHeapSpaceStatistics(): Promise<HeapSpaceStatistics[]>;
    getHeapSpaceStatisticsSync(): HeapSpaceStatistics[];

    /** Starts sampling (every 100 µs) before the next queued call; any isolate, no inspector needed. */
    startCpuProfiler(title: string): void;
    /** The `.cpuprofile` data collected under `title` (`[]` if it was not running). Async only. */
    stopCpuProfiler(title: string): Promise<ThreadCpuProfile[]>;
  }

  /**
   * Isolates made ahead of time on background threads, each with a context
   * (v8-isolates addition). `acquire()` hands one out and the pool refills.
   */
  class IsolatePool {
    #private;
    constructor(options?: IsolatePoolOptions);
    /** Isolates ready to be handed out now. */
    readonly available: number;
    /** A ready isolate and its context; made on the spot if none is ready. */
    acquire(): PooledIsolate;
    /** Disposes the isolates not handed out. Acquired isolates live on. */
    dispose(): void;
  }

  /** A global scope inside an isolate. Obtained from `isolate.createContext()`. */
  class Context {
    #private;
    private constructor();

    /** The context's global object; `undefined` once the context is released. */
    readonly global: Reference<Record<string | number, any>>;

    /** Runs `code` as a script and returns its completion value. */
    eval<O extends ContextEvalOptions = {}>(code: string, options?: O): AsyncResult<O, any, any>;
    evalSync<O extends ContextEvalOptions = {}>(code: string, options?: O): SyncResult<O, any, any>;
    evalIgnored(code: string, options?: ContextEvalOptions): void;

    /**
     * Runs `code` as a function body; `$0`, `$1`... are the arguments and the
     * global object is `this`.
     */
    evalClosure<O extends ContextEvalClosureOptions = {}>(
      code: string,
      args?: ArgumentList<SubOptions<O, 'arguments'>, unknown[]> | null,
      options?: O,
    ): AsyncResult<SubOptions<O, 'result'>, any, any>;
    evalClosureSync<O extends ContextEvalClosureOptions = {}>(
      code: string,
      args?: ArgumentList<SubOptions<O, 'arguments'>, unknown[]> | null,
      options?: O,
    ): SyncResult<SubOptions<O, 'result'>, any, any>;
    evalClosureIgnored<O extends ContextEvalClosureOptions = {}>(
      code: string,
      args?: ArgumentList<SubOptions<O, 'arguments'>, unknown[]> | null,
      options?: O,
    ): void;

    /** Drops this handle (and its `global`). True the first time, false afterwards. */
    release(): boolean;
  }

  /** Compiled code, runnable in any context of its isolate. */
  class Script implements CachedDataResult {
    #private;
    private constructor();

    readonly cachedData?: ExternalCopy<ArrayBuffer>;
    readonly cachedDataRejected?: boolean;

    run<O extends ScriptRunOptions = {}>(context: Context, options?: O): AsyncResult<O, any, any>;
    runSync<O extends ScriptRunOptions = {}>(context: Context, options?: O): SyncResult<O, any, any>;
    runIgnored(context: Context, options?: ScriptRunOptions): void;

    /** Later runs throw "Script has been released". */
    release(): void;
  }

  /** An ES module compiled in an isolate. Not a runtime export: obtain one from `compileModule`. */
  interface Module extends CachedDataResult {
    readonly [kModule]: true;

    /** The static import specifiers, in source order. */
    readonly dependencySpecifiers: string[];
    /** A Reference to the module namespace object; available once `evaluate` has run ("Module has not been instantiated." before). */
    readonly namespace: Reference<any>;

    /** Links the module graph; `resolve` may return a module or a promise of one. */
    instantiate(
      context: Context,
      resolve: (specifier: string, referrer: Module) => Module | PromiseLike<Module>,
    ): Promise<void>;
    instantiateSync(context: Context, resolve: (specifier: string, referrer: Module) => Module): void;

    /**
     * Runs the module and waits for its top-level await (within `timeout`).
     * Resolves with V8's evaluation result (`undefined` for modules).
     * Before `instantiate`: "Module is uninstantiated".
     */
    evaluate(options?: ModuleEvaluateOptions): Promise<Transferable>;
    /**
     * Runs the module; waits for its top-level await while the isolate has
     * work to do, and returns `undefined` once it has been idle for 5 ms with
     * the evaluation still pending (the evaluation goes on).
     */
    evaluateSync(options?: ModuleEvaluateOptions): Transferable;

    /** Later use throws "Module has been released". */
    release(): void;
  }

  /** A handle to a value that lives in one isolate, usable from any isolate. */
  class Reference<T = any> {
    #private;
    private readonly [kValue]: T;
    constructor(value: T, options?: ReferenceOptions);

    /** `typeof` of the referent, except `null` is "null" and symbols/bigints are "object". */
    readonly typeof: 'undefined' | 'null' | 'number' | 'string' | 'boolean' | 'object' | 'function';

    /** Structured clone of the referent into the caller. */
    copy(): Promise<T>;
    copySync(): T;

    /** The referent itself; only in the owning isolate. */
    deref(options?: ReleaseOptions): T;
    /** A single-use value that becomes the referent when passed into the owning isolate. */
    derefInto(options?: ReleaseOptions): Dereference<T>;

    /** After this every member throws "Reference has been released". */
    release(): void;

    get<K extends KeyOf<T>, O extends ReferenceGetOptions = {}>(
      key: K,
      options?: O,
    ): AsyncResult<O, PropertyOf<T, K>, ReferenceFallback<PropertyOf<T, K>>>;
    getSync<K extends KeyOf<T>, O extends ReferenceGetOptions = {}>(
      key: K,
      options?: O,
    ): SyncResult<O, PropertyOf<T, K>, ReferenceFallback<PropertyOf<T, K>>>;

    /** Defines an own data property (setters are not invoked). */
    set<K extends KeyOf<T>, O extends TransferOptions = {}>(
      key: K,
      value: Argument<O, PropertyOf<T, K>>,
      options?: O,
    ): Promise<void>;
    setSync<K extends KeyOf<T>, O extends TransferOptions = {}>(
      key: K,
      value: Argument<O, PropertyOf<T, K>>,
      options?: O,
    ): void;
    setIgnored<K extends KeyOf<T>, O extends TransferOptions = {}>(
      key: K,
      value: Argument<O, PropertyOf<T, K>>,
      options?: O,
    ): void;

    delete(key: KeyOf<T>): Promise<void>;
    deleteSync(key: KeyOf<T>): void;
    deleteIgnored(key: KeyOf<T>): void;

    /** Calls the referent with `receiver` as `this`. */
    apply<O extends ReferenceApplyOptions = {}>(
      receiver?: Transferable,
      args?: ArgumentList<SubOptions<O, 'arguments'>, FunctionArguments<T>> | null,
      options?: O,
    ): AsyncResult<SubOptions<O, 'result'>, FunctionResult<T>, ReferenceFallback<FunctionResult<T>>>;
    applySync<O extends ReferenceApplyOptions = {}>(
      receiver?: Transferable,
      args?: ArgumentList<SubOptions<O, 'arguments'>, FunctionArguments<T>> | null,
      options?: O,
    ): SyncResult<SubOptions<O, 'result'>, FunctionResult<T>, ReferenceFallback<FunctionResult<T>>>;
    applyIgnored<O extends ReferenceApplyOptions = {}>(
      receiver?: Transferable,
      args?: ArgumentList<SubOptions<O, 'arguments'>, FunctionArguments<T>> | null,
      options?: O,
    ): void;
    /**
     * From code running asynchronously in a non-default isolate only: calls a
     * function of the Node isolate and blocks until the promise it returns
     * settles.
     */
    applySyncPromise<O extends ReferenceApplySyncPromiseOptions = {}>(
      receiver?: Transferable,
      args?: ArgumentList<SubOptions<O, 'arguments'>, FunctionArguments<T>> | null,
      options?: O,
    ): ReferenceFallback<Awaited<FunctionResult<T>>>;
  }

  /** The single-use result of `reference.derefInto()`. Not a runtime export. */
  interface Dereference<T> {
    readonly [kDereference]: T;
  }

  /** A value stored outside every isolate, cheap to copy into any of them. */
  class ExternalCopy<T = any> {
    #private;
    private readonly [kValue]: T;
    constructor(value: T, options?: ExternalCopyOptions);

    /** Bytes currently held by all ExternalCopy instances in the process. */
    static readonly totalExternalSize: number;

    /** Materialises the value in the calling isolate. */
    copy(options?: ExternalCopyCopyOptions): T;
    /** A single-use value that materialises when passed into another isolate. */
    copyInto(options?: ExternalCopyCopyOptions): ExternalCopyInto<T>;
    release(): void;
  }

  /** The single-use result of `externalCopy.copyInto()`. Not a runtime export. */
  interface ExternalCopyInto<T> {
    readonly [kCopyInto]: T;
  }
  /** isolated-vm's name for `ExternalCopyInto`. */
  type Copy<T> = ExternalCopyInto<T>;

  /**
   * Wraps a function so it can be passed to another isolate, where it becomes
   * a plain function. Arguments and the result are copied.
   */
  class Callback<F extends AnyFunction = AnyFunction> {
    #private;
    private readonly [kValue]: F;
    constructor(fn: F, options?: CallbackOptions);
  }

  /** A native addon exporting `InitForContext`, instantiated into contexts. */
  class NativeModule {
    #private;
    constructor(filename: string);
    create(context: Context): Promise<Reference<any>>;
    createSync(context: Context): Reference<any>;
  }

  // -------------------------------------------------------------------------
  // Errors (v8-isolates additions; messages are isolated-vm's)

  /** "Script execution timed out." The isolate is still usable. */
  class TimeoutError extends Error {
    constructor(message?: string);
    readonly code: 'ERR_ISOLATE_TIMEOUT';
  }

  /** The isolate is (or was, during the call) disposed. */
  class IsolateDisposedError extends Error {
    constructor(message?: string);
    readonly code: 'ERR_ISOLATE_DISPOSED' | 'ERR_ISOLATE_MEMORY_LIMIT';
  }

  /** The isolate hit its memory limit and was disposed. */
  class MemoryLimitError extends IsolateDisposedError {
    constructor(message?: string);
    readonly code: 'ERR_ISOLATE_MEMORY_LIMIT';
  }
}

export = V8Isolates;
