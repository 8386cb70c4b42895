// Type-level tests for index.d.ts. Compiled with `tsc -p test/types` (noEmit);
// never executed. Lines marked @ts-expect-error must fail to type-check.
import ivm from 'v8-isolates';
import ivmCjs = require('v8-isolates');
import * as ivmStar from 'v8-isolates';
import {
  Isolate,
  Context,
  Script,
  Module,
  Reference,
  ExternalCopy,
  Callback,
  NativeModule,
  TimeoutError,
  MemoryLimitError,
  IsolateDisposedError,
  type Transferable,
  type TransferOptions,
  type RunOptions,
  type ScriptOrigin,
  type CachedDataOptions,
  type HeapStatistics,
  type HeapSpaceStatistics,
  type CpuProfile,
  type ThreadCpuProfile,
  type InspectorSession,
  type Dereference,
  type ExternalCopyInto,
  type Copy,
} from 'v8-isolates';

// Exact type equality, and a helper that fails unless its argument is `true`.
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}
function expectType<T>(_value: T): void {}

// All import styles see the same module.
assertType<Equal<typeof ivm, typeof ivmCjs>>();
assertType<Equal<typeof ivm.Isolate, typeof ivmStar.Isolate>>();
assertType<Equal<typeof ivm.Isolate, typeof Isolate>>();

async function isolateSurface(): Promise<void> {
  const isolate = new ivm.Isolate({
    memoryLimit: 64,
    inspector: false,
    onCatastrophicError: (message: string) => {
      console.error(message);
      process.abort();
    },
  });
  new Isolate();
  // @ts-expect-error memoryLimit is a number of MB
  new Isolate({ memoryLimit: '64' });

  const snapshot = Isolate.createSnapshot([{ code: 'globalThis.x = 1', filename: 'snap.js' }], 'x + 1');
  expectType<ExternalCopy<ArrayBuffer>>(snapshot);
  const fromSnapshot = new Isolate({ snapshot, memoryLimit: 32 });
  fromSnapshot.dispose();
  Isolate.createSnapshot([{ code: '1' }], undefined, { timeout: 1000, memoryLimit: 64 });
  // @ts-expect-error scripts are objects with `code`
  Isolate.createSnapshot(['1']);

  const pool = new ivm.IsolatePool({ size: 4, snapshot, memoryLimit: 32 });
  const pooled: ivm.PooledIsolate = pool.acquire();
  expectType<ivm.Isolate>(pooled.isolate);
  expectType<ivm.Context>(pooled.context);
  expectType<number>(pool.available);
  pool.dispose();
  // @ts-expect-error size is a number
  new ivm.IsolatePool({ size: '4' });

  assertType<Equal<typeof isolate.cpuTime, bigint>>();
  assertType<Equal<typeof isolate.wallTime, bigint>>();
  assertType<Equal<typeof isolate.isDisposed, boolean>>();
  assertType<Equal<typeof isolate.referenceCount, number>>();
  // @ts-expect-error read-only
  isolate.isDisposed = true;

  const origin: ScriptOrigin = { filename: 'file:///a.js', lineOffset: 2, columnOffset: 0 };
  const script: Script = await isolate.compileScript('1 + 1', { ...origin, produceCachedData: true });
  const cached = script.cachedData;
  expectType<ExternalCopy<ArrayBuffer> | undefined>(cached);
  const cachedOptions: CachedDataOptions = cached ? { cachedData: cached } : {};
  const script2 = isolate.compileScriptSync('1 + 1', cachedOptions);
  expectType<boolean | undefined>(script2.cachedDataRejected);

  const context: Context = await isolate.createContext();
  const context2 = isolate.createContextSync({ inspector: false });

  const mod: Module = await isolate.compileModule('export default 1', {
    filename: 'm.mjs',
    meta: (meta) => {
      expectType<Reference<Record<string, unknown>>>(meta);
      meta.setSync('url', 'file:///m.mjs');
    },
  });
  const withHooks: Isolate = new Isolate({
    importModuleDynamically: async (specifier: string, referrer: Module | undefined, filename: string | undefined): Promise<Module> => {
      void referrer;
      void filename;
      return withHooks.compileModuleSync(`export default ${JSON.stringify(specifier)}`);
    },
    onUnhandledRejection: (reason: unknown) => void reason,
  });
  // @ts-expect-error importModuleDynamically must return a Module
  new Isolate({ importModuleDynamically: () => 1 });
  const mod2 = isolate.compileModuleSync('import x from "./m.mjs"; export const y = x;');
  expectType<string[]>(mod2.dependencySpecifiers);
  await mod2.instantiate(context, async (specifier: string, referrer: Module) => {
    expectType<string>(specifier);
    expectType<Module>(referrer);
    return mod;
  });
  mod.instantiateSync(context2, () => mod);
  // @ts-expect-error instantiateSync needs a Module, not a promise
  mod.instantiateSync(context2, async () => mod);
  const evaluated: Transferable = await mod2.evaluate({ timeout: 100 });
  void evaluated;
  mod.evaluateSync();
  const ns: Reference = mod2.namespace;
  ns.getSync('y');
  mod.release();

  const stats: HeapStatistics = await isolate.getHeapStatistics();
  expectType<number>(isolate.getHeapStatisticsSync().externally_allocated_size);
  expectType<number>(stats.used_heap_size + stats.heap_size_limit);
  const spaces: HeapSpaceStatistics[] = await isolate.getHeapSpaceStatistics();
  for (const space of isolate.getHeapSpaceStatisticsSync()) {
    expectType<string>(space.space_name);
    expectType<number>(space.space_used_size + space.space_available_size + space.physical_space_size);
  }
  void spaces;

  isolate.startCpuProfiler('profile');
  const profiles: ThreadCpuProfile[] = await isolate.stopCpuProfiler('profile');
  const profile: CpuProfile = profiles[0].profile;
  expectType<number>(profiles[0].threadId);
  expectType<number>(profile.nodes[0].callFrame.lineNumber);
  expectType<string>(profile.nodes[0].callFrame.functionName);

  const inspected = new Isolate({ inspector: true });
  const session: InspectorSession = inspected.createInspectorSession();
  session.onNotification = (message) => expectType<string>(message);
  session.onResponse = (callId, message) => {
    expectType<number>(callId);
    expectType<string>(message);
  };
  session.dispatchProtocolMessage(JSON.stringify({ id: 1, method: 'Runtime.enable' }));
  session.dispose();

  isolate.dispose();
}

async function contextSurface(context: Context, isolate: Isolate): Promise<void> {
  // Default results are untyped (whatever the code produced, if transferable).
  const two: number = context.evalSync('1 + 1');
  const three: number = await context.eval('1 + 2', { timeout: 50, filename: 'x.js' });
  void two;
  void three;

  // Transfer modes shape the result.
  const copied = context.evalSync('({ a: 1 })', { copy: true });
  void copied;
  const ext = context.evalSync('new ArrayBuffer(8)', { externalCopy: true });
  expectType<ExternalCopy>(ext);
  const ref = context.evalSync('({ a: 1 })', { reference: true });
  expectType<Reference>(ref);
  const asyncRef = await context.eval('[]', { reference: true });
  expectType<Reference>(asyncRef);
  const promised = context.evalSync('Promise.resolve(1)', { promise: true, copy: true });
  expectType<Promise<any>>(promised);
  // @ts-expect-error `promise: true` makes a sync result a Promise
  const notPromised: Reference = context.evalSync('1', { promise: true, reference: true });
  void notPromised;
  // @ts-expect-error only one of copy / externalCopy / reference
  context.evalSync('1', { copy: true, reference: true });
  context.evalIgnored('globalThis.z = 1', { timeout: 10 });

  const sum: number = context.evalClosureSync('return $0 + $1', [1, 2]);
  void sum;
  const closureRef = await context.evalClosure('return { a: $0 }', [1], {
    arguments: { copy: true },
    result: { reference: true },
    timeout: 20,
  });
  expectType<Reference>(closureRef);
  context.evalClosureSync('return $0.a', [{ a: 1 }], { arguments: { copy: true } });
  // @ts-expect-error a plain object is not transferable without a transfer option
  context.evalClosureSync('return $0.a', [{ a: 1 }]);
  context.evalClosureSync('return $0', [new ExternalCopy({ a: 1 }).copyInto()]);
  context.evalClosureIgnored('$0()', [() => 1]);

  const script = isolate.compileScriptSync('globalThis.z');
  const fromRun: number = script.runSync(context, { timeout: 5 });
  void fromRun;
  const runRef = await script.run(context, { reference: true, release: true });
  expectType<Reference>(runRef);
  script.runIgnored(context);
  script.release();

  const global: Reference<Record<string | number, any>> = context.global;
  await global.set('log', (...args: unknown[]) => console.log(...args));
  global.setSync('self', global.derefInto());
  global.setSync(0, 'index keys are numbers');
  // The library inside guests: the module object and handles are transferable.
  global.setSync('ivm', ivm);
  global.setSync('nested', context);
  global.setSync('iso', isolate);
  global.setSync('script', script);
  // @ts-expect-error symbols are not valid keys
  global.setSync(Symbol('k'), 1);
  const released: boolean = context.release();
  void released;
}

async function referenceSurface(): Promise<void> {
  interface Api {
    name: string;
    count: number;
    config: { depth: number };
    add(a: number, b: number): number;
    fetchValue(key: string): Promise<{ value: string }>;
  }
  const api: Api = {
    name: 'api',
    count: 1,
    config: { depth: 1 },
    add: (a, b) => a + b,
    fetchValue: async (key) => ({ value: key }),
  };
  const ref = new Reference(api, { unsafeInherit: false });
  expectType<Reference<Api>>(ref);
  expectType<Api>(ref.deref());
  expectType<Api>(ref.copySync());
  expectType<Promise<Api>>(ref.copy());
  expectType<Dereference<Api>>(ref.derefInto({ release: false }));
  expectType<'undefined' | 'null' | 'number' | 'string' | 'boolean' | 'object' | 'function'>(ref.typeof);

  // Property reads: primitives come back as they are, objects as References.
  expectType<string>(ref.getSync('name'));
  expectType<number>(await ref.get('count'));
  expectType<Reference<{ depth: number }>>(ref.getSync('config'));
  expectType<{ depth: number }>(ref.getSync('config', { copy: true }));
  expectType<ExternalCopy<{ depth: number }>>(await ref.get('config', { externalCopy: true }));
  expectType<Reference<string>>(ref.getSync('name', { reference: true }));
  expectType<number>(ref.getSync('count', { accessors: true }));
  // @ts-expect-error not a key of Api
  ref.getSync('missing');

  await ref.set('count', 2);
  ref.setSync('config', { depth: 2 }, { copy: true });
  // @ts-expect-error objects need a transfer option
  ref.setSync('config', { depth: 2 });
  // @ts-expect-error wrong value type
  ref.setSync('count', 'two');
  ref.setIgnored('name', 'x');
  ref.deleteSync('name');
  await ref.delete('count');
  ref.deleteIgnored('config');

  // Calls: argument and result types follow the referenced function.
  const add = new Reference(api.add);
  expectType<number>(add.applySync(undefined, [1, 2]));
  expectType<number>(await add.apply(null, [1, 2], { timeout: 100 }));
  expectType<Reference<number>>(add.applySync(undefined, [1, 2], { result: { reference: true } }));
  expectType<Promise<number>>(add.applySync(undefined, [1, 2], { result: { promise: true, copy: true } }));
  add.applyIgnored(undefined, [1, 2]);
  const addArgs = [3, 4] as const;
  expectType<number>(add.applySync(undefined, addArgs));
  context2Args(add);
  // @ts-expect-error wrong argument type
  add.applySync(undefined, ['1', 2]);
  const fetchValue = new Reference(api.fetchValue);
  expectType<Reference<{ value: string }>>(fetchValue.applySyncPromise(undefined, ['k']));
  expectType<{ value: string }>(await fetchValue.apply(undefined, ['k'], { result: { promise: true, copy: true } }));
  // @ts-expect-error applySyncPromise takes no result options
  fetchValue.applySyncPromise(undefined, ['k'], { result: { copy: true } });

  // An untyped reference accepts anything the runtime might.
  const loose: Reference = new Reference<any>(undefined);
  const anything: number = loose.getSync('x');
  loose.applySync(undefined, [1, 'a', null], { arguments: { copy: true } });
  void anything;
  ref.release();
}

function context2Args(add: Reference<(a: number, b: number) => number>): void {
  const readonlyArgs: readonly number[] = [1, 2];
  // @ts-expect-error a number[] may be shorter than the (a, b) tuple
  add.applySync(undefined, readonlyArgs);
  // @ts-expect-error too many arguments
  add.applySync(undefined, [1, 2, 3]);
}

function externalCopySurface(): void {
  const buffer = new ArrayBuffer(16);
  const copy = new ExternalCopy(buffer, { transferOut: true });
  expectType<ExternalCopy<ArrayBuffer>>(copy);
  expectType<ArrayBuffer>(copy.copy({ transferIn: true }));
  const into: ExternalCopyInto<ArrayBuffer> = copy.copyInto({ release: true });
  const intoAlias: Copy<ArrayBuffer> = into;
  void intoAlias;
  const withList = new ExternalCopy({ data: new Uint8Array(4) }, { transferList: [buffer] });
  expectType<{ data: Uint8Array }>(withList.copy());
  expectType<number>(ExternalCopy.totalExternalSize);
  withList.release();
  // @ts-expect-error static, read-only
  ExternalCopy.totalExternalSize = 1;
}

function callbackSurface(context: Context): void {
  const cb = new Callback((a: number, b: number) => a + b);
  new Callback(async () => 1, { async: true });
  new Callback(() => undefined, { ignored: true });
  new Callback(() => 1, { sync: true });
  // @ts-expect-error only one mode
  new Callback(() => 1, { async: true, ignored: true });
  // @ts-expect-error a function is required
  new Callback(1);
  context.global.setSync('add', cb);
  const t: Transferable = cb;
  void t;
}

function nativeModuleSurface(context: Context): void {
  const nm = new NativeModule('/path/to/addon.node');
  const exportsRef: Reference = nm.createSync(context);
  void exportsRef;
  void nm.create(context);
}

function transferables(isolate: Isolate, context: Context, script: Script, mod: Module): Transferable[] {
  const ref = new Reference(1);
  return [
    null,
    undefined,
    'string',
    1,
    true,
    10n,
    isolate,
    context,
    script,
    mod,
    ref,
    ref.derefInto(),
    new ExternalCopy('x'),
    new ExternalCopy('x').copyInto(),
    new Callback(() => 1),
    () => 1,
    ivm,
  ];
}
// @ts-expect-error a plain object is not transferable
const notTransferable: Transferable = { a: 1 };
// @ts-expect-error nor is a symbol
const notTransferable2: Transferable = Symbol('s');

const transferOptions: TransferOptions[] = [{}, { copy: true }, { externalCopy: true, promise: true }, { reference: false }];
const runOptions: RunOptions = { timeout: 1000 };

// Errors: classes with literal `code`s; MemoryLimitError is an IsolateDisposedError.
function classify(error: unknown): string {
  if (error instanceof TimeoutError) {
    assertType<Equal<typeof error.code, 'ERR_ISOLATE_TIMEOUT'>>();
    return error.code;
  }
  if (error instanceof MemoryLimitError) {
    assertType<Equal<typeof error.code, 'ERR_ISOLATE_MEMORY_LIMIT'>>();
    const disposed: IsolateDisposedError = error;
    return disposed.message;
  }
  if (error instanceof IsolateDisposedError) {
    const code: 'ERR_ISOLATE_DISPOSED' | 'ERR_ISOLATE_MEMORY_LIMIT' = error.code;
    return code;
  }
  if (error instanceof ivm.TimeoutError || error instanceof ivmCjs.MemoryLimitError) return 'unreachable';
  return String(error);
}
const timeoutError: Error = new TimeoutError();
const memoryError = new MemoryLimitError('custom');
// @ts-expect-error `code` is read-only
memoryError.code = 'ERR_ISOLATE_MEMORY_LIMIT';

// Private constructors.
// @ts-expect-error Context is created by an isolate
new Context();
// @ts-expect-error Script is created by an isolate
new Script();

export {
  isolateSurface,
  contextSurface,
  referenceSurface,
  externalCopySurface,
  callbackSurface,
  nativeModuleSurface,
  transferables,
  classify,
  notTransferable,
  notTransferable2,
  transferOptions,
  runOptions,
  timeoutError,
};
