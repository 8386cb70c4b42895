//! The native bridge under the guest library (lib.js): one V8 function per
//! operation. Each reads its arguments (the library has validated the user's
//! input), finds what the handle stands for, and runs the operation on the
//! isolate that owns it (see `remote`), or on Node for Node values.

use std::sync::Arc;
use std::time::Duration;

use super::handle::{self, Backing};
use super::remote::{self, Variant};
use super::throw::throw_failure;
use crate::engine::isolate::Job;
use crate::engine::runner::State;
use crate::node::host::{MainReq, Reply, Target};
use crate::ops::reference::{self as refops, GetOptions};
use crate::ops::{self, Key, Origin};
use crate::transfer::capture::{capture, capture_code, capture_code_for_node};
use crate::transfer::promise::Settler;
use crate::transfer::{Failure, Fallback, Mode, Outcome, Remote, Transfer};

pub(super) type Args<'a, 's> = &'a v8::FunctionCallbackArguments<'s>;
pub(super) type Rv<'a, 's> = &'a mut v8::ReturnValue<'s, v8::Value>;
type Native = for<'a, 'b, 's, 'i> fn(&'a mut v8::PinScope<'s, 'i>, &'a State, Args<'b, 's>, Rv<'b, 's>) -> Result<(), Failure>;

const DISPOSED: &str = "Isolate is disposed";
const NESTED_LIMIT: &str =
    "Not enough memory left for a nested isolate: it takes twice its `memoryLimit` from its creator's memory limit";
const CONTEXT_RELEASED: &str = ops::code::CONTEXT_RELEASED;
const SCRIPT_RELEASED: &str = ops::code::SCRIPT_RELEASED;

const NATIVES: &[(&str, Native)] = &[
    ("isolateNew", isolate_new),
    ("isolateDispose", isolate_dispose),
    ("isolateIsDisposed", isolate_is_disposed),
    ("isolateCpuTime", isolate_cpu_time),
    ("isolateWallTime", isolate_wall_time),
    ("isolateReferenceCount", isolate_reference_count),
    ("isolateCompileScript", isolate_compile_script),
    ("isolateCreateContext", isolate_create_context),
    ("isolateHeapStatistics", isolate_heap_statistics),
    ("isolateHeapSpaceStatistics", isolate_heap_space_statistics),
    ("contextEval", context_eval),
    ("contextEvalClosure", context_eval_closure),
    ("scriptRun", script_run),
    ("release", release),
    ("brand", brand),
    ("refNew", ref_new),
    ("refDeref", ref_deref),
    ("refGet", ref_get),
    ("refSet", ref_set),
    ("refDelete", ref_delete),
    ("refApply", ref_apply),
    ("refCopy", ref_copy),
    ("hostRef", host_ref),
    ("hostApply", host_apply),
    ("checkSyncPromise", check_sync_promise),
    ("isolateCompileModule", super::module::compile),
    ("moduleInstantiate", super::module::instantiate),
    ("moduleLinked", super::module::linked),
    ("moduleEvaluate", super::module::evaluate),
    ("moduleNamespace", super::module::namespace),
];

/// The object handed to lib.js. It also carries the guest-side
/// `ExternalCopy` class (one per isolate, shared with copies sent in), which
/// lib.js exports as `ivm.ExternalCopy`.
pub fn object<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State) -> Option<v8::Local<'s, v8::Object>> {
    let obj = v8::Object::new(scope);
    super::external_copy::install(scope, st, obj).ok()?;
    for (i, (name, _)) in NATIVES.iter().enumerate() {
        let data = v8::Integer::new_from_unsigned(scope, i as u32);
        let f = v8::Function::builder(trampoline)
            .data(data.into())
            .constructor_behavior(v8::ConstructorBehavior::Throw)
            .build(scope)?;
        let n = v8::String::new(scope, name)?;
        obj.set(scope, n.into(), f.into())?;
    }
    Some(obj)
}

pub(crate) fn trampoline<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, mut rv: v8::ReturnValue<'s, v8::Value>) {
    super::guarded(scope, "the guest library", |scope| {
        let Some(st) = scope.get_slot::<std::rc::Rc<State>>().cloned() else { return };
        let i = args.data().uint32_value(scope).unwrap_or(u32::MAX) as usize;
        let Some((_, f)) = NATIVES.get(i) else { return };
        if let Err(e) = f(scope, &st, &args, &mut rv) {
            throw_failure(scope, &st, e);
        }
    });
}

// ---------------------------------------------------------------------------
// Arguments

pub(super) fn string<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Option<String> {
    v.is_string().then(|| v.to_rust_string_lossy(scope))
}

fn number(v: v8::Local<v8::Value>) -> Option<f64> {
    v8::Local::<v8::Number>::try_from(v).ok().map(|n| n.value())
}

pub(super) fn code(v: v8::Local<v8::Value>) -> u32 {
    number(v).unwrap_or(0.0) as u32
}

pub(super) fn timeout(v: v8::Local<v8::Value>) -> Option<Duration> {
    number(v).filter(|ms| *ms > 0.0).map(|ms| Duration::from_micros((ms * 1000.0) as u64))
}

pub(super) fn origin<'s>(scope: &mut v8::PinScope<'s, '_>, args: Args<'_, 's>, i: i32) -> Origin {
    let mut o = Origin::default();
    if let Some(f) = string(scope, args.get(i)) {
        o.filename = f;
    }
    if let Some(n) = number(args.get(i + 1)) {
        o.line_offset = n as i32;
    }
    if let Some(n) = number(args.get(i + 2)) {
        o.column_offset = n as i32;
    }
    o
}

fn key<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Result<Key, Failure> {
    if let Some(n) = number(v) {
        return Ok(Key::Index(n as u32));
    }
    string(scope, v).map(Key::Name).ok_or_else(|| Failure::type_error("Invalid `key`"))
}

/// Captures an argument list under an option code (a mode, plus 4 for
/// `{promise: true}`).
fn list<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, code: u32, fallback: Fallback) -> Result<Vec<Transfer>, Failure> {
    list_with(scope, st, v, code, fallback, capture_code)
}

type CaptureCode = for<'s, 'i> fn(&mut v8::PinScope<'s, 'i>, &State, v8::Local<'s, v8::Value>, u32, Fallback) -> Result<Transfer, Failure>;

fn list_with<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    code: u32,
    fallback: Fallback,
    each: CaptureCode,
) -> Result<Vec<Transfer>, Failure> {
    let Ok(a) = v8::Local::<v8::Array>::try_from(v) else { return Ok(Vec::new()) };
    if a.length() > crate::transfer::MAX_ARGUMENTS {
        return Err(crate::transfer::too_many_arguments());
    }
    let mut out = Vec::with_capacity(a.length() as usize);
    let mut meter = crate::transfer::capture::ListMeter::new();
    for i in 0..a.length() {
        let e = a.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
        if !meter.add(e) {
            return Err(crate::transfer::capture::ListMeter::too_large());
        }
        out.push(each(scope, st, e, code, fallback)?);
    }
    Ok(out)
}

fn isolate_of<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Result<crate::engine::isolate::IsolateRef, Failure> {
    match &*handle::backing(scope, st, v, DISPOSED)? {
        Backing::Isolate(o) => Ok(o.clone()),
        _ => Err(Failure::type_error("Not an Isolate")),
    }
}

pub(super) fn remote_of<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, released: &str) -> Result<Arc<Remote>, Failure> {
    let r = match &*handle::backing(scope, st, v, released)? {
        Backing::Value(r, _) | Backing::Context(r) | Backing::Script(r) => r.clone(),
        Backing::Module(m) => m.remote.clone(),
        _ => return Err(Failure::type_error("Invalid handle")),
    };
    if r.is_released() {
        return Err(Failure::error(released));
    }
    Ok(r)
}

/// The Script out of compile_script's `[[handle], cachedData?,
/// cachedDataRejected?]`; with `cache` (the guest passed a cache option),
/// the whole list with the Script in front, for lib.js to attach the rest.
fn script_result(out: Outcome, cache: bool) -> Outcome {
    let Transfer::List(mut items) = out? else { return Err(Failure::error("Unexpected compile result")) };
    let script = match items.first_mut().map(|t| std::mem::replace(t, Transfer::Undefined)) {
        Some(Transfer::Handles(ids, iso)) if ids.len() == 1 => Transfer::Script(Arc::new(Remote::new(iso, ids[0]))),
        _ => return Err(Failure::error("Unexpected compile result")),
    };
    if !cache {
        return Ok(script);
    }
    items[0] = script;
    Ok(Transfer::List(items))
}

/// Reads a compile's `(cachedData, produceCachedData)` from argument `i`:
/// a guest ExternalCopy holding an ArrayBuffer (or undefined), and a flag.
/// The data is untrusted: see `ops::seal_cache`.
pub(super) fn cache_options<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, i: i32) -> Result<ops::CacheOptions, Failure> {
    let data = super::external_copy::cache_store(scope, st, args.get(i))?;
    Ok(ops::CacheOptions { data, produce: args.get(i + 1).is_true(), untrusted: true })
}

fn context_result(out: Outcome) -> Outcome {
    match out? {
        Transfer::Handles(ids, iso) if ids.len() == 2 => Ok(Transfer::Context(
            Arc::new(Remote::new(iso.clone(), ids[0])),
            Arc::new(Remote::new(iso, ids[1])),
        )),
        other => Ok(other),
    }
}

/// A job running `op` on the entry `r` (kept alive until then), and the
/// isolate it runs on.
fn job_on(
    r: Arc<Remote>,
    op: impl FnOnce(&mut v8::Isolate, &State, u64) -> Outcome + Send + 'static,
) -> (Arc<crate::engine::isolate::IsolateHost>, Job) {
    let host = r.host().clone();
    let job: Job = Box::new(move |i, st| {
        let id = r.id;
        let out = op(i, st, id);
        drop(r);
        out
    });
    (host, job)
}

/// Runs an operation on the isolate `r` belongs to, keeping `r` alive.
pub(super) fn on<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    r: Arc<Remote>,
    variant: Variant,
    t: Option<Duration>,
    rv: Rv<'_, 's>,
    op: impl FnOnce(&mut v8::Isolate, &State, u64) -> Outcome + Send + 'static,
) {
    let (host, job) = job_on(r, op);
    remote::call(scope, st, &host, variant, t, job, rv);
}

/// `on`, honouring `{promise: true}` (bit 4 of the result mode code): the
/// call's result then settles a new guest promise, which the guest gets in
/// place of the call's own result.
#[allow(clippy::too_many_arguments)]
fn on_result<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    r: Arc<Remote>,
    variant: Variant,
    t: Option<Duration>,
    mode_code: u32,
    mode: Mode,
    rv: Rv<'_, 's>,
    op: impl FnOnce(&mut v8::Isolate, &State, u64) -> Outcome + Send + 'static,
) {
    if mode_code & 4 == 0 || variant == Variant::Ignored {
        return on(scope, st, r, variant, t, rv, op);
    }
    let Some(resolver) = v8::PromiseResolver::new(scope) else { return };
    let promise = resolver.get_promise(scope);
    let settler = Settler::for_guest(super::callback::settle_later(scope, st, resolver), mode);
    let (host, job) = job_on(r, op);
    let job = crate::transfer::promise::wrap(job, settler);
    if variant == Variant::Async {
        if let Some(p) = remote::call_async(scope, st, &host, t, job) {
            p.mark_as_handled();
        }
    } else if let Err(f) = remote::call_sync(scope, st, &host, t, job) {
        promise.mark_as_handled();
        return throw_failure(scope, st, f);
    }
    rv.set(promise.into());
}

// ---------------------------------------------------------------------------
// Isolate

fn isolate_new<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let limit = match number(args.get(0)) {
        Some(mb) => (mb * 1024.0 * 1024.0) as usize,
        None => default_nested_limit(&st.host.budget),
    };
    // A nested isolate can use twice its limit (heap, then ArrayBuffers):
    // that much comes out of its creator's ArrayBuffer budget while it
    // lives, so a tree of isolates stays within twice the root's limit.
    let charge = limit.saturating_mul(2);
    if !st.host.budget.reserve(charge) {
        return Err(Failure::RangeError(NESTED_LIMIT.into()));
    }
    let host = match crate::engine::runner::spawn(
        crate::engine::runner::Options { memory_limit: limit, snapshot: None },
        crate::engine::runner::Warm::Cold,
    ) {
        Ok(h) => h,
        Err(e) => {
            st.host.budget.unreserve(charge);
            return Err(Failure::Error(e));
        }
    };
    host.hold_charge(st.host.budget.clone(), charge);
    st.host.add_child(&host);
    if st.host.is_disposed() {
        host.dispose();
    }
    let owner = host.make_owner();
    let h = handle::make(scope, st, Backing::Isolate(owner));
    rv.set(h.into());
    Ok(())
}

/// Without a `memoryLimit`, a nested isolate gets isolated-vm's default of
/// 128 MB, or less: a quarter of what its creator has left (so that it takes
/// half), at least 8 MB.
fn default_nested_limit(budget: &crate::engine::memory::Budget) -> usize {
    const MB: usize = 1 << 20;
    let left = budget.limit.saturating_sub(budget.used.load(std::sync::atomic::Ordering::Relaxed));
    (left / 4 / MB * MB).clamp(8 * MB, 128 * MB)
}

fn isolate_dispose<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let ok = match isolate_of(scope, st, args.get(0)) {
        Ok(o) => o.host.dispose(),
        Err(_) => false,
    };
    rv.set_bool(ok);
    Ok(())
}

fn isolate_is_disposed<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let d = isolate_of(scope, st, args.get(0)).map(|o| o.host.is_disposed()).unwrap_or(true);
    rv.set_bool(d);
    Ok(())
}

fn bigint<'s>(scope: &mut v8::PinScope<'s, '_>, rv: Rv<'_, 's>, n: u64) {
    let b = v8::BigInt::new_from_u64(scope, n);
    rv.set(b.into());
}

fn isolate_cpu_time<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let o = isolate_of(scope, st, args.get(0))?;
    bigint(scope, rv, o.host.cpu_time());
    Ok(())
}

fn isolate_wall_time<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let o = isolate_of(scope, st, args.get(0))?;
    bigint(scope, rv, o.host.wall_time());
    Ok(())
}

fn isolate_reference_count<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let o = isolate_of(scope, st, args.get(0))?;
    rv.set_double(o.host.reference_count() as f64);
    Ok(())
}

/// Runs an isolate-wide operation on the isolate of handle `args[0]`.
pub(super) fn on_isolate<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    args: Args<'_, 's>,
    rv: Rv<'_, 's>,
    op: impl FnOnce(&mut v8::Isolate, &State) -> Outcome + Send + 'static,
) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let res = isolate_of(scope, st, args.get(0));
    let Some(o) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    let host = o.host.clone();
    let job: Job = Box::new(move |i, st| {
        let out = op(i, st);
        drop(o);
        out
    });
    remote::call(scope, st, &host, variant, None, job, rv);
    Ok(())
}

fn isolate_compile_script<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let code = string(scope, args.get(2)).unwrap_or_default();
    let o = origin(scope, args, 3);
    let variant = Variant::from_code(self::code(args.get(1)));
    let cache = cache_options(scope, st, args, 6);
    let Some(cache) = ok_or_deliver(scope, st, variant, cache, rv) else { return Ok(()) };
    let with_cache = cache.data.is_some() || cache.produce;
    on_isolate(scope, st, args, rv, move |i, st| script_result(ops::code::compile_script(i, st, code, o, cache), with_cache))
}

fn isolate_create_context<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    on_isolate(scope, st, args, rv, |i, st| context_result(ops::context::create_context(i, st, false)))
}

fn isolate_heap_statistics<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    on_isolate(scope, st, args, rv, ops::isolate::heap_statistics)
}

fn isolate_heap_space_statistics<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    on_isolate(scope, st, args, rv, ops::isolate::heap_space_statistics)
}

// ---------------------------------------------------------------------------
// Context and Script

/// The value, or None after delivering the failure the way `variant`
/// delivers results (a throw, or a rejected promise).
pub(super) fn ok_or_deliver<'s, T>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    variant: Variant,
    r: Result<T, Failure>,
    rv: Rv<'_, 's>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(f) => {
            remote::fail(scope, st, variant, f, rv);
            None
        }
    }
}

/// The remote behind handle `v` (see `ok_or_deliver`).
pub(super) fn target<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    variant: Variant,
    released: &str,
    rv: Rv<'_, 's>,
) -> Option<Arc<Remote>> {
    let r = remote_of(scope, st, v, released);
    ok_or_deliver(scope, st, variant, r, rv)
}

fn context_eval<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, CONTEXT_RELEASED, rv) else { return Ok(()) };
    let src = string(scope, args.get(2)).unwrap_or_default();
    let o = origin(scope, args, 3);
    let t = timeout(args.get(6));
    let bits = code(args.get(7));
    let mode = Mode::from_code(bits, Fallback::Undefined);
    on_result(scope, st, r, variant, t, bits, mode, rv, move |i, st, id| ops::code::eval(i, st, id, &src, o, mode));
    Ok(())
}

fn context_eval_closure<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, CONTEXT_RELEASED, rv) else { return Ok(()) };
    let src = string(scope, args.get(2)).unwrap_or_default();
    let o = origin(scope, args, 3);
    let res = list(scope, st, args.get(6), code(args.get(7)), Fallback::Reject);
    let Some(list) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    let t = timeout(args.get(8));
    let bits = code(args.get(9));
    let mode = Mode::from_code(bits, Fallback::Reject);
    on_result(scope, st, r, variant, t, bits, mode, rv, move |i, st, id| ops::code::eval_closure(i, st, id, src, o, list, mode));
    Ok(())
}

fn script_run<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(2)));
    let Some(script) = target(scope, st, args.get(0), variant, SCRIPT_RELEASED, rv) else { return Ok(()) };
    let Some(ctx) = target(scope, st, args.get(1), variant, CONTEXT_RELEASED, rv) else { return Ok(()) };
    if !Arc::ptr_eq(script.host(), ctx.host()) {
        remote::fail(scope, st, variant, Failure::error("Invalid context"), rv);
        return Ok(());
    }
    let t = timeout(args.get(3));
    let bits = code(args.get(4));
    let mode = Mode::from_code(bits, Fallback::Undefined);
    on_result(scope, st, script, variant, t, bits, mode, rv, move |i, st, sid| {
        let out = ops::code::run_script(i, st, sid, ctx.id, mode);
        drop(ctx);
        out
    });
    Ok(())
}

fn release<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    handle::forget(scope, st, args.get(0));
    rv.set_undefined();
    Ok(())
}

/// Marks a library object as a handle that structured clones carry.
fn brand<'s>(scope: &mut v8::PinScope<'s, '_>, _st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    if let Ok(obj) = v8::Local::<v8::Object>::try_from(args.get(0)) {
        crate::transfer::serde::brand(scope, obj);
    }
    rv.set_undefined();
    Ok(())
}

// ---------------------------------------------------------------------------
// Reference

fn ref_new<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    match crate::transfer::capture::reference(scope, st, args.get(0)) {
        Transfer::Reference(r, t) => {
            let h = handle::make(scope, st, Backing::Value(r, t));
            rv.set(h.into());
            Ok(())
        }
        _ => Err(Failure::IsolateDisposed),
    }
}

fn ref_deref<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let r = remote_of(scope, st, args.get(0), refops::RELEASED)?;
    if r.host().id != st.host.id {
        return Err(Failure::type_error("Cannot dereference this from current isolate"));
    }
    let (value, _) = st.value(r.id).ok_or_else(|| Failure::error(refops::RELEASED))?;
    let v = v8::Local::new(scope, value);
    rv.set(v);
    Ok(())
}

fn ref_get<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, refops::RELEASED, rv) else { return Ok(()) };
    let k = key(scope, args.get(2))?;
    let bits = code(args.get(3));
    let mode = Mode::from_code(bits, Fallback::Reference);
    let o = GetOptions { inherit: args.get(4).is_true(), accessors: args.get(5).is_true(), mode };
    on_result(scope, st, r, variant, None, bits, mode, rv, move |i, st, id| refops::get(i, st, id, k, o));
    Ok(())
}

fn ref_set<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, refops::RELEASED, rv) else { return Ok(()) };
    let k = key(scope, args.get(2))?;
    let res = capture_code(scope, st, args.get(3), code(args.get(4)), Fallback::Reject);
    let Some(value) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    on(scope, st, r, variant, None, rv, move |i, st, id| refops::set(i, st, id, k, value));
    Ok(())
}

fn ref_delete<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, refops::RELEASED, rv) else { return Ok(()) };
    let k = key(scope, args.get(2))?;
    on(scope, st, r, variant, None, rv, move |i, st, id| refops::delete(i, st, id, k));
    Ok(())
}

fn ref_apply<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, refops::RELEASED, rv) else { return Ok(()) };
    let arg_code = code(args.get(4));
    let res = capture(scope, st, args.get(2), Mode::Default(Fallback::Reject))
        .and_then(|recv| Ok((recv, list(scope, st, args.get(3), arg_code, Fallback::Reject)?)));
    let Some((recv, list)) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    let t = timeout(args.get(5));
    let bits = code(args.get(6));
    let mode = Mode::from_code(bits, Fallback::Reference);
    on_result(scope, st, r, variant, t, bits, mode, rv, move |i, st, id| refops::apply(i, st, id, recv, list, mode));
    Ok(())
}

fn ref_copy<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(r) = target(scope, st, args.get(0), variant, refops::RELEASED, rv) else { return Ok(()) };
    on(scope, st, r, variant, None, rv, refops::copy);
    Ok(())
}

/// `hostRef(h, method, variant, args)`: a method of a Reference to a Node
/// value, run by the Node-side Reference.
fn host_ref<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(2)));
    let r = match &*handle::backing(scope, st, args.get(0), refops::RELEASED)? {
        Backing::Host(r) => r.clone(),
        _ => return Err(Failure::type_error("Invalid handle")),
    };
    let method: &'static str = match string(scope, args.get(1)).as_deref() {
        Some("getSync") => "getSync",
        Some("setSync") => "setSync",
        Some("deleteSync") => "deleteSync",
        Some("applySync") => "applySync",
        Some("copySync") => "copySync",
        Some("applySyncPromise") if variant == Variant::SyncPromise => "applySyncPromise",
        _ => return Err(Failure::type_error("Invalid method")),
    };
    // The transfer code of the arguments (or the value of a set); an
    // invalid option object is refused by Node, after the capture.
    let mode = if args.get(4).is_number() { code(args.get(4)) } else { 0 };
    let res = host_ref_args(scope, st, args.get(3), method, mode);
    let Some(list) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    call_host(scope, st, r, method, variant, list, rv);
    Ok(())
}

/// `hostApply(h, ...args)`: `applySync(undefined, args)` without options on
/// a Reference to a Node function, its arguments passed as they are (the
/// common call, without a list to build and read back).
fn host_apply<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let r = match &*handle::backing(scope, st, args.get(0), refops::RELEASED)? {
        Backing::Host(r) => r.clone(),
        _ => return Err(Failure::type_error("Invalid handle")),
    };
    let mut list = crate::node::outbox::args_buffer(args.length().max(1) as usize - 1);
    let mut meter = crate::transfer::capture::ListMeter::new();
    for i in 1..args.length() {
        if !meter.add(args.get(i)) {
            return Err(crate::transfer::capture::ListMeter::too_large());
        }
        list.push(capture(scope, st, args.get(i), Mode::Default(Fallback::Reject))?);
    }
    call_host(scope, st, r, "applyArgs", Variant::Sync, list, rv);
    Ok(())
}

/// Runs `method` of a Node-side Reference for this guest, as `variant`.
fn call_host<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    r: Arc<crate::node::host::HostRef>,
    method: &'static str,
    variant: Variant,
    list: Vec<Transfer>,
    rv: Rv<'_, 's>,
) {
    let env = r.env.clone();
    if matches!(variant, Variant::Async | Variant::Ignored) && env.backlog_full() {
        return throw_failure(scope, st, crate::node::envlink::backlog());
    }
    let target = Target::Ref(r, method);
    match variant {
        Variant::Sync => {
            let out = super::callback::call_node(scope, st, &env, target, list);
            super::callback::settle_value(scope, st, out, rv);
        }
        Variant::Async => {
            if let Some(p) = super::callback::call_node_async(scope, st, &env, target, list) {
                rv.set(p.into());
            }
        }
        Variant::Ignored => {
            env.request(MainReq { target, args: list, reply: Reply::Ignored });
            rv.set_undefined();
        }
        Variant::SyncPromise => {
            let out = super::callback::call_node_abortable(scope, st, &env, target, list);
            super::callback::settle_value(scope, st, out, rv);
        }
    }
}

/// The arguments of a method of a Reference to a Node value:
/// `[recv, args, options]` or `[key, value, options]`. The arguments of an
/// apply (or the value of a set) travel under `code`, one by one, so a list
/// of primitives needs no structured clone. With `{promise: true}` each
/// argument (or the value) is sent as a promise that settles, in Node, with
/// the guest's result transferred under the other flags. The rest is copied.
fn host_ref_args<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    method: &str,
    code: u32,
) -> Result<Vec<Transfer>, Failure> {
    let Ok(a) = v8::Local::<v8::Array>::try_from(v) else { return Ok(Vec::new()) };
    if a.length() > crate::transfer::MAX_ARGUMENTS {
        return Err(crate::transfer::too_many_arguments());
    }
    let mut out = Vec::with_capacity(a.length() as usize);
    for i in 0..a.length() {
        let e = a.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
        let apply = matches!(method, "applySync" | "applySyncPromise");
        out.push(match (i, method) {
            (1, "setSync") => capture_code_for_node(scope, st, e, code, Fallback::Reject)?,
            (1, _) if apply && e.is_array() => Transfer::List(list_with(scope, st, e, code, Fallback::Reject, capture_code_for_node)?),
            // The receiver: transferred like an argument without options.
            (0, _) if apply => capture(scope, st, e, Mode::Default(Fallback::Reject))?,
            // Keys and options: Node reads them.
            _ => capture_code(scope, st, e, 1, Fallback::Reject)?,
        });
    }
    Ok(out)
}

/// `checkSyncPromise(resultOption)`: the checks `applySyncPromise` makes
/// before calling (no `result` option; not under a sync call).
fn check_sync_promise<'s>(_scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, _rv: Rv<'_, 's>) -> Result<(), Failure> {
    if !args.get(0).is_undefined() {
        return Err(Failure::type_error("`result` options are not available for `applySyncPromise`"));
    }
    super::rules::check_sync_promise(st)
}
