//! ES modules on the isolate thread: compiling, linking against dependencies
//! that Node resolved beforehand, evaluating (waiting for top-level await),
//! namespaces, `import.meta`, dynamic `import()` and reports of unhandled
//! promise rejections.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{CacheOptions, Origin};
use crate::engine::runner::{self, Entry, State};
use crate::guest::throw::{failure_value, throw_failure};
use crate::node::host::{HostFn, MainReq, Reply, Target};
use crate::transfer::capture::{capture, reference};
use crate::transfer::error::{capture_compile_error, capture_exception};
use crate::transfer::{Failure, Fallback, Mode, ModuleRef, Outcome, Remote, Transfer};

pub const MODULE_RELEASED: &str = "Module has been released";
pub const UNINSTANTIATED: &str = "Module is uninstantiated";
pub const NOT_INSTANTIATED: &str = "Module has not been instantiated.";
/// V8 must not be asked to evaluate a module whose evaluation is on the
/// stack (a fatal error): a Node function it calls may try.
pub const BEING_EVALUATED: &str = "Module is already being evaluated";
const UNRESOLVED: &str = "Dependency was left unresolved. Please report this error on github.";

/// A compiled module in the handle table.
pub struct ModuleRec {
    pub module: v8::Global<v8::Module>,
    /// V8's identity hash: callbacks get a `Local<Module>` and find the
    /// record by hash, then by identity.
    pub hash: i32,
    /// The context it was linked in (evaluation runs there).
    pub context: Option<v8::Global<v8::Context>>,
    /// The Node function that fills `import.meta`.
    pub meta: Option<Arc<HostFn>>,
    /// Set once linked: shared with every handle's `ModuleRef`.
    pub linked: Arc<AtomicBool>,
}

/// Isolate-wide hooks (isolate options) and the rejections to report.
#[derive(Default)]
pub struct Hooks {
    pub import: Option<Arc<HostFn>>,
    pub rejection: Option<Arc<HostFn>>,
    rejected: Vec<Rejected>,
}

struct Rejected {
    promise: v8::Global<v8::Promise>,
    reason: v8::Global<v8::Value>,
    context: v8::Global<v8::Context>,
}

/// A link: `referrer` imports `specifier`, which is `dependency`.
pub struct Link {
    pub referrer: u64,
    pub specifier: String,
    pub dependency: u64,
}

thread_local! {
    /// The links of the instantiation running on this thread, for `resolve`.
    static LINKS: RefCell<Vec<(v8::Global<v8::Module>, String, v8::Global<v8::Module>)>> = const { RefCell::new(Vec::new()) };
}

/// Sets the isolate callbacks modules and rejection reports need.
pub fn install(iso: &mut v8::Isolate) {
    iso.set_host_initialize_import_meta_object_callback(init_meta);
    iso.set_host_import_module_dynamically_callback(dynamic_import);
    iso.set_promise_reject_callback(on_reject);
}

fn origin<'s>(scope: &mut v8::PinScope<'s, '_>, o: &Origin, id: u64) -> v8::ScriptOrigin<'s> {
    let name = v8::String::new(scope, &o.filename).unwrap();
    // The module's id travels with its code: dynamic import() reports it.
    let opts = v8::PrimitiveArray::new(scope, 1);
    let n = v8::Number::new(scope, id as f64);
    opts.set(scope, 0, n.into());
    v8::ScriptOrigin::new(scope, name.into(), o.line_offset, o.column_offset, false, 0, None, false, false, true, Some(opts.into()))
}

/// Compiles a module. Result: `[module, id, specifiers, cachedData?, cachedDataRejected?]`.
pub fn compile_module(
    iso: &mut v8::Isolate,
    st: &State,
    code: String,
    o: Origin,
    cache: CacheOptions,
    meta: Option<Arc<HostFn>>,
) -> Outcome {
    let ctx = st.default_context(iso);
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let src = v8::String::new(tc, &code).ok_or_else(|| Failure::RangeError("Invalid string length".into()))?;
    let id = st.next_id();
    let origin = origin(tc, &o, id);
    let supplied = cache.data.is_some();
    let usable = cache.data_for(&code);
    let mut source = if let Some(bytes) = usable {
        let data = v8::script_compiler::CachedData::new(bytes);
        v8::script_compiler::Source::new_with_cached_data(src, Some(&origin), data)
    } else {
        v8::script_compiler::Source::new(src, Some(&origin))
    };
    let options = if usable.is_some() {
        v8::script_compiler::CompileOptions::ConsumeCodeCache
    } else {
        v8::script_compiler::CompileOptions::NoCompileOptions
    };
    let compiled =
        v8::script_compiler::compile_module2(tc, &mut source, options, v8::script_compiler::NoCacheReason::NoReason);
    let rejected = supplied.then(|| usable.is_none() || source.get_cached_data().is_none_or(|c| c.rejected()));
    let Some(m) = compiled else {
        let (exc, msg) = (tc.exception(), tc.message());
        return Err(capture_compile_error(tc, exc, msg));
    };
    let requests = m.get_module_requests();
    let mut specifiers = Vec::with_capacity(requests.length());
    for i in 0..requests.length() {
        let Some(data) = requests.get(tc, i) else { continue };
        if let Ok(r) = v8::Local::<v8::ModuleRequest>::try_from(data) {
            specifiers.push(r.get_specifier().to_rust_string_lossy(tc));
        }
    }
    let produced = if cache.produce && rejected != Some(false) {
        let unbound = m.get_unbound_module_script(tc);
        unbound.create_code_cache().map(|c| Transfer::External(crate::transfer::external::ExternalData::array_buffer_of(super::seal_cache(&code, &c))))
    } else {
        None
    };
    let owner = st.owner()?;
    let linked = Arc::new(AtomicBool::new(false));
    let rec = ModuleRec { module: v8::Global::new(tc, m), hash: m.get_identity_hash().get(), context: None, meta, linked: linked.clone() };
    st.insert_at(id, Entry::Module(Box::new(rec)));
    let list = Transfer::List(specifiers.iter().cloned().map(Transfer::String).collect());
    let remote = Arc::new(Remote::new(owner, id));
    Ok(Transfer::List(vec![
        Transfer::Module(Arc::new(ModuleRef { remote, specifiers, linked })),
        Transfer::Number(id as f64),
        list,
        produced.unwrap_or(Transfer::Undefined),
        rejected.map(Transfer::Bool).unwrap_or(Transfer::Undefined),
    ]))
}

/// Links `root` (and whatever it imports that is not linked yet) in
/// `context`. Every import was resolved by Node beforehand (`links`); V8's
/// resolve callback only looks them up. Linking an already linked module
/// does nothing.
pub fn instantiate(iso: &mut v8::Isolate, st: &State, root: u64, context: u64, links: Vec<Link>) -> Outcome {
    let ctx = st.context(context).ok_or_else(|| Failure::error(super::code::CONTEXT_RELEASED))?;
    link(iso, st, root, &ctx, links)
}

fn link(iso: &mut v8::Isolate, st: &State, root: u64, ctx: &v8::Global<v8::Context>, links: Vec<Link>) -> Outcome {
    let (root_g, _) = st.module(root).ok_or_else(|| Failure::error(MODULE_RELEASED))?;
    let mut table = Vec::with_capacity(links.len());
    for l in &links {
        let (r, _) = st.module(l.referrer).ok_or_else(|| Failure::error(MODULE_RELEASED))?;
        let (d, _) = st.module(l.dependency).ok_or_else(|| Failure::error(MODULE_RELEASED))?;
        table.push((r, l.specifier.clone(), d));
    }
    v8::scope_with_context!(let scope, iso, ctx);
    v8::tc_scope!(let tc, scope);
    let m = v8::Local::new(tc, root_g);
    if m.get_status() != v8::ModuleStatus::Uninstantiated {
        return Ok(Transfer::Undefined);
    }
    let outer = LINKS.with(|l| std::mem::replace(&mut *l.borrow_mut(), table));
    let ok = m.instantiate_module(tc, resolve);
    LINKS.with(|l| *l.borrow_mut() = outer);
    if ok != Some(true) {
        let exc = tc.exception();
        return Err(capture_exception(tc, exc));
    }
    st.set_module_context(root, ctx);
    for l in &links {
        st.set_module_context(l.referrer, ctx);
        st.set_module_context(l.dependency, ctx);
    }
    Ok(Transfer::Undefined)
}

fn resolve<'s>(
    context: v8::Local<'s, v8::Context>,
    specifier: v8::Local<'s, v8::String>,
    _attributes: v8::Local<'s, v8::FixedArray>,
    referrer: v8::Local<'s, v8::Module>,
) -> Option<v8::Local<'s, v8::Module>> {
    // SAFETY: V8 calls this on the isolate's thread, inside InstantiateModule.
    v8::callback_scope!(unsafe scope, context);
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let spec = specifier.to_rust_string_lossy(scope);
        LINKS.with(|l| l.borrow().iter().find(|(r, s, _)| *s == spec && *r == referrer).map(|(_, _, d)| d.clone()))
    }))
    .ok()
    .flatten();
    match found {
        Some(d) => Some(v8::Local::new(scope, d)),
        None => {
            let msg = v8::String::new(scope, UNRESOLVED).unwrap();
            let e = v8::Exception::error(scope, msg);
            scope.throw_exception(e);
            None
        }
    }
}

/// Evaluates a linked module and waits for its top-level await, serving
/// calls meanwhile; ends early if the call is killed (timeout, dispose).
pub fn evaluate(iso: &mut v8::Isolate, st: &State, id: u64) -> Outcome {
    let (g, ctx) = st.module(id).ok_or_else(|| Failure::error(MODULE_RELEASED))?;
    let Some(ctx) = ctx else { return Err(Failure::error(UNINSTANTIATED)) };
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let m = v8::Local::new(tc, g);
    match m.get_status() {
        v8::ModuleStatus::Uninstantiated | v8::ModuleStatus::Instantiating => return Err(Failure::error(UNINSTANTIATED)),
        v8::ModuleStatus::Evaluating => return Err(Failure::error(BEING_EVALUATED)),
        _ => {}
    }
    let Some(v) = m.evaluate(tc) else {
        let exc = tc.exception();
        return Err(capture_exception(tc, exc));
    };
    let Ok(p) = v8::Local::<v8::Promise>::try_from(v) else {
        return capture(tc, st, v, Mode::Default(Fallback::Undefined));
    };
    let seq = st.current_seq();
    // A caller that is blocked (evaluateSync) cannot settle anything while
    // it waits: once nothing has happened here for a while, the evaluation
    // is left to go on and the call returns, as isolated-vm's does.
    let blocked = st.caller_blocked();
    let mut idle_since: Option<std::time::Instant> = None;
    loop {
        tc.perform_microtask_checkpoint();
        match p.state() {
            v8::PromiseState::Fulfilled => {
                let r = p.result(tc);
                return capture(tc, st, r, Mode::Default(Fallback::Undefined));
            }
            v8::PromiseState::Rejected => {
                p.mark_as_handled();
                forget_rejection(tc, st, p);
                let r = p.result(tc);
                return Err(capture_exception(tc, Some(r)));
            }
            v8::PromiseState::Pending => {}
        }
        if st.host.frame_killed(seq) || st.host.is_disposed() {
            // The kill arrived as an interrupt request while no JS ran: run
            // a little so it fires now rather than in the next call. The
            // runner then reports why (timeout, dispose, memory).
            let src = v8::String::new(tc, "0").unwrap();
            if let Some(s) = v8::Script::compile(tc, src, None) {
                let _ = s.run(tc);
            }
            return Ok(Transfer::Undefined);
        }
        let worked = runner::serve_nested(tc, st) | runner::serve_task(tc, st) | runner::pump_tasks(tc);
        if worked {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(std::time::Instant::now);
        if blocked && since.elapsed() >= IDLE_RETURN {
            return Ok(Transfer::Undefined);
        }
        std::thread::park_timeout(std::time::Duration::from_millis(1));
    }
}

/// How long a blocked caller's evaluation waits with nothing to do before
/// it returns while top-level await is still pending.
const IDLE_RETURN: std::time::Duration = std::time::Duration::from_millis(5);

/// A Reference to the namespace of an evaluated module.
pub fn namespace(iso: &mut v8::Isolate, st: &State, id: u64) -> Outcome {
    let (g, ctx) = st.module(id).ok_or_else(|| Failure::error(MODULE_RELEASED))?;
    let Some(ctx) = ctx else { return Err(Failure::error(NOT_INSTANTIATED)) };
    v8::scope_with_context!(let scope, iso, &ctx);
    let m = v8::Local::new(scope, g);
    if matches!(
        m.get_status(),
        v8::ModuleStatus::Uninstantiated | v8::ModuleStatus::Instantiating | v8::ModuleStatus::Instantiated
    ) {
        return Err(Failure::error(NOT_INSTANTIATED));
    }
    let ns = m.get_module_namespace();
    Ok(reference(scope, st, ns))
}

fn state_of(scope: &mut v8::PinScope) -> Option<Rc<State>> {
    scope.get_slot::<Rc<State>>().cloned()
}

/// `import.meta` is being created: the module's `meta` callback (a Node
/// function) gets a Reference to it, synchronously.
unsafe extern "C" fn init_meta(context: v8::Local<v8::Context>, module: v8::Local<v8::Module>, meta: v8::Local<v8::Object>) {
    // SAFETY: V8 calls this on the isolate's thread while guest code runs.
    v8::callback_scope!(unsafe scope, context);
    v8::scope!(let scope, scope);
    crate::guest::guarded(scope, "import.meta", |scope| {
        let Some(st) = state_of(scope) else { return };
        let hash = module.get_identity_hash().get();
        let Some(hf) = st.find_module(hash, |rec| (rec.module == module).then(|| rec.meta.clone())).flatten() else {
            return;
        };
        let r = reference(scope, &st, meta.into());
        let out = crate::guest::callback::call_node(scope, &st, &hf.env, Target::Fn(hf.clone()), vec![r]);
        if let Err(f) = out {
            throw_failure(scope, &st, f);
        }
    });
}

/// `import(specifier)` in a guest: asks the isolate's `importModuleDynamically`
/// (a Node function) for a Module; `settle_import` finishes the job. Without
/// the option, the promise rejects.
fn dynamic_import<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    options: v8::Local<'s, v8::Data>,
    resource: v8::Local<'s, v8::Value>,
    specifier: v8::Local<'s, v8::String>,
    _attributes: v8::Local<'s, v8::FixedArray>,
) -> Option<v8::Local<'s, v8::Promise>> {
    let resolver = v8::PromiseResolver::new(scope)?;
    let promise = resolver.get_promise(scope);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = state_of(scope) else { return };
        let hook = st.hooks.borrow().import.clone();
        let Some(hf) = hook else {
            let e = failure_value(scope, &st, Failure::error("Not supported"));
            resolver.reject(scope, e);
            return;
        };
        let referrer = v8::Local::<v8::FixedArray>::try_from(options)
            .ok()
            .filter(|a| a.length() > 0)
            .and_then(|a| a.get(scope, 0))
            .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())
            .filter(|v| v.is_number())
            .and_then(|v| v.number_value(scope))
            .map(Transfer::Number)
            .unwrap_or(Transfer::Undefined);
        let filename = if resource.is_string() {
            Transfer::String(resource.to_rust_string_lossy(scope))
        } else {
            Transfer::Undefined
        };
        let spec = Transfer::String(specifier.to_rust_string_lossy(scope));
        let rid = st.keep_resolver(scope, resolver);
        let args = vec![spec, referrer, filename, Transfer::Number(rid as f64)];
        hf.env.request(MainReq { target: Target::Fn(hf.clone()), args, reply: Reply::Ignored });
    }));
    if r.is_err() {
        let msg = v8::String::new(scope, "internal error in v8-isolates (panic in import())").unwrap();
        let e = v8::Exception::error(scope, msg);
        resolver.reject(scope, e);
    }
    Some(promise)
}

/// Finishes a dynamic import: links `root` in the importing context,
/// evaluates it and resolves the guest's promise with its namespace (or
/// rejects it with `failure`).
pub fn settle_import(iso: &mut v8::Isolate, st: &State, rid: u64, result: Result<(u64, Vec<Link>), Failure>) -> Outcome {
    let Some(ctx) = st.resolver_context(rid) else { return Ok(Transfer::Undefined) };
    let result = result.and_then(|(root, links)| link(iso, st, root, &ctx, links).map(|_| root));
    let (resolver, ctx) = st.take_resolver(rid).ok_or_else(|| Failure::error("import() was settled twice"))?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let resolver = v8::Local::new(tc, resolver);
    let root = match result {
        Ok(root) => root,
        Err(f) => {
            let e = failure_value(tc, st, f);
            resolver.reject(tc, e);
            return Ok(Transfer::Undefined);
        }
    };
    let Some((g, _)) = st.module(root) else {
        let e = failure_value(tc, st, Failure::error(MODULE_RELEASED));
        resolver.reject(tc, e);
        return Ok(Transfer::Undefined);
    };
    let m = v8::Local::new(tc, g);
    if m.get_status() == v8::ModuleStatus::Evaluating {
        let e = failure_value(tc, st, Failure::error(BEING_EVALUATED));
        resolver.reject(tc, e);
        return Ok(Transfer::Undefined);
    }
    let Some(evaluated) = m.evaluate(tc) else {
        if let Some(e) = tc.exception() {
            resolver.reject(tc, e);
        }
        return Ok(Transfer::Undefined);
    };
    let ns = m.get_module_namespace();
    match v8::Local::<v8::Promise>::try_from(evaluated) {
        Ok(p) => {
            let done = v8::Function::builder(|_: &mut v8::PinScope, args: v8::FunctionCallbackArguments, mut rv: v8::ReturnValue| {
                rv.set(args.data());
            })
            .data(ns)
            .build(tc);
            match done.and_then(|f| p.then(tc, f)) {
                Some(chained) => resolver.resolve(tc, chained.into()),
                None => resolver.reject(tc, v8::undefined(tc).into()),
            };
        }
        Err(_) => {
            resolver.resolve(tc, ns);
        }
    }
    Ok(Transfer::Undefined)
}

extern "C" fn on_reject(msg: v8::PromiseRejectMessage) {
    // SAFETY: V8 calls this on the isolate's thread.
    v8::callback_scope!(unsafe scope, &msg);
    v8::scope!(let scope, scope);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = state_of(scope) else { return };
        if st.hooks.borrow().rejection.is_none() {
            return;
        }
        let promise = msg.get_promise();
        match msg.get_event() {
            v8::PromiseRejectEvent::PromiseRejectWithNoHandler => {
                let reason = msg.get_value().unwrap_or_else(|| v8::undefined(scope).into());
                let context = scope.get_current_context();
                let r = Rejected {
                    promise: v8::Global::new(scope, promise),
                    reason: v8::Global::new(scope, reason),
                    context: v8::Global::new(scope, context),
                };
                st.hooks.borrow_mut().rejected.push(r);
            }
            v8::PromiseRejectEvent::PromiseHandlerAddedAfterReject => forget_rejection(scope, &st, promise),
            _ => {}
        }
    }));
}

fn forget_rejection(_scope: &mut v8::PinScope, st: &State, promise: v8::Local<v8::Promise>) {
    st.hooks.borrow_mut().rejected.retain(|r| r.promise != promise);
}

/// Reports the rejections still unhandled after a microtask checkpoint to the
/// `onUnhandledRejection` callback (fire and forget).
pub fn report_rejections(iso: &mut v8::Isolate, st: &State) {
    let (list, hf) = {
        let mut h = st.hooks.borrow_mut();
        if h.rejected.is_empty() {
            return;
        }
        (std::mem::take(&mut h.rejected), h.rejection.clone())
    };
    let Some(hf) = hf else { return };
    for r in list {
        v8::scope_with_context!(let scope, iso, &r.context);
        v8::tc_scope!(let tc, scope);
        let reason = v8::Local::new(tc, r.reason);
        let t = match capture(tc, st, reason, Mode::Copy) {
            Ok(t) => t,
            Err(_) => {
                let s = reason.to_rust_string_lossy(tc);
                Transfer::String(s)
            }
        };
        hf.env.request(MainReq { target: Target::Fn(hf.clone()), args: vec![t], reply: Reply::Ignored });
    }
}
