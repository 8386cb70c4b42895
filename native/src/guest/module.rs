//! ES modules compiled by guest code (`isolate.compileModule()` inside an
//! isolate): the native side of lib.js's Module class. The work is the Node
//! side's (`ops::module`); a module travels as `Transfer::Module` (a share of
//! its handle-table entry, with its specifiers and linked flag), which
//! library.rs turns into a handle lib.js wraps.

use std::sync::Arc;

use super::handle::{self, Backing};
use super::natives::{cache_options, code, ok_or_deliver, on, on_isolate, origin, remote_of, string, target, timeout, Args, Rv};
use super::remote::{self, Variant};
use crate::engine::runner::State;
use crate::ops::module::{self as modops, Link, MODULE_RELEASED};
use crate::transfer::{Failure, Outcome, Remote, Transfer};

/// `isolateCompileModule(h, variant, code, filename, lineOffset, columnOffset)`:
/// the Module.
pub fn compile<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let src = string(scope, args.get(2)).unwrap_or_default();
    let o = origin(scope, args, 3);
    let variant = Variant::from_code(code(args.get(1)));
    let cache = cache_options(scope, st, args, 6);
    let Some(cache) = ok_or_deliver(scope, st, variant, cache, rv) else { return Ok(()) };
    let with_cache = cache.data.is_some() || cache.produce;
    on_isolate(scope, st, args, rv, move |i, st| compiled(modops::compile_module(i, st, src, o, cache, None), with_cache))
}

/// The module out of compile_module's `[module, id, specifiers,
/// cachedData?, cachedDataRejected?]`; with `cache`, `[module, cachedData?,
/// cachedDataRejected?]` for lib.js to attach the rest.
fn compiled(out: Outcome, cache: bool) -> Outcome {
    match out? {
        Transfer::List(mut items) if items.len() == 5 => {
            if !cache {
                return Ok(items.swap_remove(0));
            }
            let rejected = items.pop().unwrap_or(Transfer::Undefined);
            let data = items.pop().unwrap_or(Transfer::Undefined);
            Ok(Transfer::List(vec![items.swap_remove(0), data, rejected]))
        }
        _ => Err(Failure::error("Unexpected compile result")),
    }
}

/// `moduleLinked(handle)`: whether V8 linked the module (through any handle).
pub fn linked<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let linked = match &*handle::backing(scope, st, args.get(0), MODULE_RELEASED)? {
        Backing::Module(m) => m.is_linked(),
        _ => false,
    };
    rv.set_bool(linked);
    Ok(())
}

/// Reads lib.js's flat `[referrer, specifier, dependency, ...]` list of
/// module handles, all of the isolate `host`; the remotes are kept alive
/// until the job runs.
fn read_links<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    host: &Arc<crate::engine::isolate::IsolateHost>,
) -> Result<(Vec<Link>, Vec<Arc<Remote>>), Failure> {
    let Ok(list) = v8::Local::<v8::Array>::try_from(v) else { return Ok((Vec::new(), Vec::new())) };
    let n = list.length() / 3;
    let mut links = Vec::with_capacity(n as usize);
    let mut keep = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let undef: v8::Local<v8::Value> = v8::undefined(scope).into();
        let r = list.get_index(scope, 3 * i).unwrap_or(undef);
        let s = list.get_index(scope, 3 * i + 1).unwrap_or(undef);
        let d = list.get_index(scope, 3 * i + 2).unwrap_or(undef);
        let r = remote_of(scope, st, r, MODULE_RELEASED)?;
        let d = remote_of(scope, st, d, MODULE_RELEASED)?;
        if !Arc::ptr_eq(d.host(), host) {
            return Err(Failure::type_error("Resolved dependency belongs to another isolate"));
        }
        let specifier = string(scope, s).unwrap_or_default();
        links.push(Link { referrer: r.id, specifier, dependency: d.id });
        keep.push(r);
        keep.push(d);
    }
    Ok((links, keep))
}

/// `moduleInstantiate(module, context, links, variant)`
pub fn instantiate<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(3)));
    let Some(m) = target(scope, st, args.get(0), variant, MODULE_RELEASED, rv) else { return Ok(()) };
    let Some(ctx) = target(scope, st, args.get(1), variant, crate::ops::code::CONTEXT_RELEASED, rv) else { return Ok(()) };
    if !Arc::ptr_eq(m.host(), ctx.host()) {
        remote::fail(scope, st, variant, Failure::error("Invalid context"), rv);
        return Ok(());
    }
    let host = m.host().clone();
    let res = read_links(scope, st, args.get(2), &host);
    let Some((links, keep)) = ok_or_deliver(scope, st, variant, res, rv) else { return Ok(()) };
    on(scope, st, m, variant, None, rv, move |i, st, mid| {
        let out = modops::instantiate(i, st, mid, ctx.id, links);
        drop((ctx, keep));
        out
    });
    Ok(())
}

/// `moduleEvaluate(module, variant, timeout)`: `[result, namespace]`. The
/// namespace Reference comes with the result, so that async guest code can
/// read `module.namespace` afterwards without a sync call.
pub fn evaluate<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let variant = Variant::from_code(code(args.get(1)));
    let Some(m) = target(scope, st, args.get(0), variant, MODULE_RELEASED, rv) else { return Ok(()) };
    let t = timeout(args.get(2));
    on(scope, st, m, variant, t, rv, |i, st, id| {
        let r = modops::evaluate(i, st, id)?;
        let ns = modops::namespace(i, st, id).unwrap_or(Transfer::Undefined);
        Ok(Transfer::List(vec![r, ns]))
    });
    Ok(())
}

/// `moduleNamespace(module)`: a Reference to the namespace (sync).
pub fn namespace<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: Args<'_, 's>, rv: Rv<'_, 's>) -> Result<(), Failure> {
    let m = remote_of(scope, st, args.get(0), MODULE_RELEASED)?;
    on(scope, st, m, Variant::Sync, None, rv, modops::namespace);
    Ok(())
}
