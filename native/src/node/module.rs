//! The Module class (and the isolate's module hooks), Node side.

use std::cell::RefCell;
use std::sync::Arc;

use neon::prelude::*;

use super::call::{dispatch, fail, timeout, variant, Variant};
use super::context::handle;
use super::helpers;
use super::host::{host_fn, CallbackMode, HostFn};
use super::isolate::{read_cache, read_origin, IsoBox};
use crate::ops::module::{self, Link};
use crate::transfer::node::decode;
use crate::transfer::{Failure, ModuleRef, Remote};

/// A Module's handle in Node: one share of the module (empty once this
/// handle is released; other handles to the module keep theirs).
pub struct ModuleBox(RefCell<Option<Arc<ModuleRef>>>);

impl Finalize for ModuleBox {}

impl ModuleBox {
    pub fn module(&self) -> Option<Arc<ModuleRef>> {
        self.0.borrow().clone()
    }
}

/// The Node value for a module arriving in Node: `wrapHandle('module', box, specifiers)`.
pub fn wrap<'a>(cx: &mut impl Context<'a>, m: Arc<ModuleRef>) -> JsResult<'a, JsValue> {
    let specifiers = cx.empty_array();
    for (i, s) in m.specifiers.iter().enumerate() {
        let s = cx.string(s);
        specifiers.set(cx, i as u32, s)?;
    }
    let k = cx.string("module").upcast();
    let b = cx.boxed(ModuleBox(RefCell::new(Some(m)))).upcast();
    helpers::call(cx, helpers::WRAP_HANDLE, &[k, b, specifiers.upcast()])
}

fn module_arg(cx: &mut FunctionContext, i: usize) -> NeonResult<Option<Arc<ModuleRef>>> {
    Ok(cx.argument::<JsBox<ModuleBox>>(i)?.module())
}

/// `moduleStatus(box)`: -1 released, 0 not linked, 1 linked.
pub fn status(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let n = match module_arg(&mut cx, 0)? {
        None => -1,
        Some(m) if m.remote.is_released() => -1,
        Some(m) => m.is_linked() as i32,
    };
    Ok(cx.number(n))
}

/// `moduleRelease(box)`: drops this handle's share; false if it had none.
pub fn release(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let b = cx.argument::<JsBox<ModuleBox>>(0)?;
    let had = b.0.borrow_mut().take().is_some();
    Ok(cx.boolean(had))
}

/// `moduleOwnedBy(isolate, box)`: whether the module belongs to the isolate.
pub fn owned_by(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let same = module_arg(&mut cx, 1)?.is_some_and(|m| Arc::ptr_eq(&iso.0.host, m.remote.host()));
    Ok(cx.boolean(same))
}

/// A live module argument, or the released failure (thrown or rejected).
fn live_module<'a>(cx: &mut FunctionContext<'a>, i: usize, v: Variant) -> NeonResult<Result<Arc<ModuleRef>, Handle<'a, JsValue>>> {
    match module_arg(cx, i)? {
        Some(m) if !m.remote.is_released() => Ok(Ok(m)),
        _ => Ok(Err(fail(cx, v, Failure::error(module::MODULE_RELEASED))?)),
    }
}

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
fn read_links<'a>(
    cx: &mut FunctionContext<'a>,
    list: Handle<'a, JsArray>,
    host: &Arc<crate::engine::isolate::IsolateHost>,
) -> NeonResult<(Vec<Link>, Vec<Arc<Remote>>)> {
    let n = list.len(cx) / 3;
    let mut links = Vec::with_capacity(n as usize);
    let mut keep = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let r: Handle<JsBox<ModuleBox>> = list.get(cx, 3 * i)?;
        let s: Handle<JsString> = list.get(cx, 3 * i + 1)?;
        let d: Handle<JsBox<ModuleBox>> = list.get(cx, 3 * i + 2)?;
        let (Some(r), Some(d)) = (r.module(), d.module()) else { return cx.throw_error(module::MODULE_RELEASED) };
        if r.remote.is_released() || d.remote.is_released() {
            return cx.throw_error(module::MODULE_RELEASED);
        }
        if !Arc::ptr_eq(d.remote.host(), host) {
            return cx.throw_type_error("Resolved dependency belongs to another isolate");
        }
        links.push(Link { referrer: r.remote.id, specifier: s.value(cx), dependency: d.remote.id });
        keep.push(r.remote.clone());
        keep.push(d.remote.clone());
    }
    Ok((links, keep))
}

/// `moduleInstantiate(module, context, links, variant, site)`
pub fn instantiate(mut cx: FunctionContext) -> JsResult<JsValue> {
    let ctx = handle(&mut cx, 1)?;
    let list = cx.argument::<JsArray>(2)?;
    let v = variant(&mut cx, 3)?;
    let site = cx.argument_opt(4);
    let m = match live_module(&mut cx, 0, v)? {
        Ok(m) => m,
        Err(failed) => return Ok(failed),
    };
    if !Arc::ptr_eq(m.remote.host(), ctx.remote.host()) {
        return fail(&mut cx, v, Failure::error("Invalid context"));
    }
    if ctx.remote.is_released() {
        return fail(&mut cx, v, Failure::error(crate::ops::code::CONTEXT_RELEASED));
    }
    let host = m.remote.host().clone();
    let (links, keep) = read_links(&mut cx, list, &host)?;
    let (mid, cid) = (m.remote.id, ctx.remote.id);
    dispatch(
        &mut cx,
        &host,
        v,
        None,
        site,
        Box::new(move |i, st| {
            let out = module::instantiate(i, st, mid, cid, links);
            drop((keep, m));
            out
        }),
    )
}

/// `moduleEvaluate(module, variant, timeout, site)`
pub fn evaluate(mut cx: FunctionContext) -> JsResult<JsValue> {
    let v = variant(&mut cx, 1)?;
    let t = timeout(&mut cx, 2)?;
    let site = cx.argument_opt(3);
    let m = match live_module(&mut cx, 0, v)? {
        Ok(m) => m,
        Err(failed) => return Ok(failed),
    };
    let host = m.remote.host().clone();
    dispatch(&mut cx, &host, v, t, site, Box::new(move |i, st| module::evaluate(i, st, m.remote.id)))
}

/// `moduleNamespace(module)`: a Reference to the namespace (sync).
pub fn namespace(mut cx: FunctionContext) -> JsResult<JsValue> {
    let m = match live_module(&mut cx, 0, Variant::Sync)? {
        Ok(m) => m,
        Err(failed) => return Ok(failed),
    };
    let host = m.remote.host().clone();
    dispatch(&mut cx, &host, Variant::Sync, None, None, Box::new(move |i, st| module::namespace(i, st, m.remote.id)))
}

/// `moduleImportSettle(h, resolverId, module | undefined, links, errorKind, errorPayload)`:
/// the answer to a guest's `import()`, queued in order with other work.
pub fn import_settle(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let rid = cx.argument::<JsNumber>(1)?.value(&mut cx) as u64;
    let root = cx.argument::<JsValue>(2)?;
    let host = iso.0.host.clone();
    let result = match root.downcast::<JsBox<ModuleBox>, _>(&mut cx).map(|b| b.module()) {
        Ok(Some(m)) if !m.remote.is_released() => {
            let list = cx.argument::<JsArray>(3)?;
            match cx.try_catch(|cx| read_links(cx, list, &host)) {
                Ok((links, keep)) => Ok((m.remote.id, links, keep, m.remote.clone())),
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
