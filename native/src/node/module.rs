//! The Module class (and the isolate's module hooks), Node side.

use std::sync::Arc;

use neon::prelude::*;

use super::call::{dispatch, fail, timeout, variant, Variant};
use super::context::handle;
use super::host::{host_fn, CallbackMode, HostFn};
use super::isolate::{read_cache, read_origin, IsoBox};
use crate::ops::module::{self, Link};
use crate::transfer::node::{decode, RemoteBox};
use crate::transfer::{Failure, Remote};

fn optional_fn<'a>(cx: &mut FunctionContext<'a>, i: usize) -> NeonResult<Option<Arc<HostFn>>> {
    match cx.argument_opt(i).map(|v| v.downcast::<JsFunction, _>(cx)) {
        Some(Ok(f)) => Ok(Some(host_fn(cx, f, CallbackMode::Sync)?)),
        _ => Ok(None),
    }
}

/// `isolateCompileModule(h, variant, code, filename, lineOffset, columnOffset, cachedData, produce, meta, site)`
pub fn compile(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let v = variant(&mut cx, 1)?;
    let code = cx.argument::<JsString>(2)?.value(&mut cx);
    let origin = read_origin(&mut cx, 3)?;
    let cache = read_cache(&mut cx, 6)?;
    let meta = optional_fn(&mut cx, 8)?;
    let site = cx.argument_opt(9);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| module::compile_module(i, st, code, origin, cache, meta)))
}

/// `isolateSetHooks(h, importModuleDynamically?, onUnhandledRejection?)`
pub fn set_hooks(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let import = optional_fn(&mut cx, 1)?;
    let rejection = optional_fn(&mut cx, 2)?;
    let host = iso.0.host.clone();
    dispatch(
        &mut cx,
        &host,
        Variant::Sync,
        None,
        None,
        Box::new(move |_, st| {
            let mut h = st.hooks.borrow_mut();
            h.import = import;
            h.rejection = rejection;
            Ok(crate::transfer::Transfer::Undefined)
        }),
    )
}

/// Reads a flat `[referrer, specifier, dependency, ...]` list of module
/// handles; the remotes are kept alive until the job runs.
fn read_links<'a>(cx: &mut FunctionContext<'a>, list: Handle<'a, JsArray>) -> NeonResult<(Vec<Link>, Vec<Arc<Remote>>)> {
    let n = list.len(cx) / 3;
    let mut links = Vec::with_capacity(n as usize);
    let mut keep = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let r: Handle<JsBox<RemoteBox>> = list.get(cx, 3 * i)?;
        let s: Handle<JsString> = list.get(cx, 3 * i + 1)?;
        let d: Handle<JsBox<RemoteBox>> = list.get(cx, 3 * i + 2)?;
        if r.remote.is_released() || d.remote.is_released() {
            return cx.throw_error(module::MODULE_RELEASED);
        }
        links.push(Link { referrer: r.remote.id, specifier: s.value(cx), dependency: d.remote.id });
        keep.push(r.remote.clone());
        keep.push(d.remote.clone());
    }
    Ok((links, keep))
}

/// `moduleInstantiate(module, context, links, variant, site)`
pub fn instantiate(mut cx: FunctionContext) -> JsResult<JsValue> {
    let m = handle(&mut cx, 0)?;
    let ctx = handle(&mut cx, 1)?;
    let list = cx.argument::<JsArray>(2)?;
    let v = variant(&mut cx, 3)?;
    let site = cx.argument_opt(4);
    if m.remote.is_released() {
        return fail(&mut cx, v, Failure::error(module::MODULE_RELEASED));
    }
    if !Arc::ptr_eq(m.remote.host(), ctx.remote.host()) {
        return fail(&mut cx, v, Failure::error("Invalid context"));
    }
    if ctx.remote.is_released() {
        return fail(&mut cx, v, Failure::error(crate::ops::code::CONTEXT_RELEASED));
    }
    let (links, keep) = read_links(&mut cx, list)?;
    let (mid, cid) = (m.remote.id, ctx.remote.id);
    let host = m.remote.host().clone();
    dispatch(
        &mut cx,
        &host,
        v,
        None,
        site,
        Box::new(move |i, st| {
            let out = module::instantiate(i, st, mid, cid, links);
            drop(keep);
            out
        }),
    )
}

/// `moduleEvaluate(module, variant, timeout, site)`
pub fn evaluate(mut cx: FunctionContext) -> JsResult<JsValue> {
    let m = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let t = timeout(&mut cx, 2)?;
    let site = cx.argument_opt(3);
    if m.remote.is_released() {
        return fail(&mut cx, v, Failure::error(module::MODULE_RELEASED));
    }
    let id = m.remote.id;
    let host = m.remote.host().clone();
    dispatch(&mut cx, &host, v, t, site, Box::new(move |i, st| module::evaluate(i, st, id)))
}

/// `moduleNamespace(module)`: a Reference to the namespace (sync).
pub fn namespace(mut cx: FunctionContext) -> JsResult<JsValue> {
    let m = handle(&mut cx, 0)?;
    if m.remote.is_released() {
        return fail(&mut cx, Variant::Sync, Failure::error(module::MODULE_RELEASED));
    }
    let id = m.remote.id;
    let host = m.remote.host().clone();
    dispatch(&mut cx, &host, Variant::Sync, None, None, Box::new(move |i, st| module::namespace(i, st, id)))
}

/// `moduleImportSettle(h, resolverId, module | undefined, links, errorKind, errorPayload)`:
/// the answer to a guest's `import()`, queued in order with other work.
pub fn import_settle(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let rid = cx.argument::<JsNumber>(1)?.value(&mut cx) as u64;
    let root = cx.argument::<JsValue>(2)?;
    let result = match root.downcast::<JsBox<RemoteBox>, _>(&mut cx) {
        Ok(b) if !b.remote.is_released() => {
            let list = cx.argument::<JsArray>(3)?;
            match cx.try_catch(|cx| read_links(cx, list)) {
                Ok((links, keep)) => Ok((b.remote.id, links, keep, b.remote.clone())),
                Err(_) => Err(Failure::error(module::MODULE_RELEASED)),
            }
        }
        Ok(_) => Err(Failure::error(module::MODULE_RELEASED)),
        Err(_) => {
            let kind = cx.argument::<JsNumber>(4)?.value(&mut cx) as u32;
            let payload = cx.argument::<JsValue>(5)?;
            Err(match cx.try_catch(|cx| decode(cx, kind, payload)) {
                Ok(t) => Failure::ThrownValue(t),
                Err(_) => Failure::error("import() failed"),
            })
        }
    };
    let host = iso.0.host.clone();
    host.submit_task(crate::engine::isolate::Call::new(
        Box::new(move |i, st| {
            let (result, keep) = match result {
                Ok((root, links, keep, r)) => (Ok((root, links)), Some((keep, r))),
                Err(f) => (Err(f), None),
            };
            let out = module::settle_import(i, st, rid, result);
            drop(keep);
            out
        }),
        None,
        crate::engine::isolate::Done::f(|_| {}),
    ));
    Ok(cx.undefined())
}
