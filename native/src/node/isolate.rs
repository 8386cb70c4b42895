//! The Isolate class, Node side.


use neon::prelude::*;
use neon::types::JsBigInt;

use super::call::{dispatch, variant};
use crate::engine::isolate::IsolateRef;
use crate::engine::pool;
use crate::ops::{self, Origin};

pub struct IsoBox(pub IsolateRef);

impl Finalize for IsoBox {}

pub type BoxedIso<'a> = Handle<'a, JsBox<IsoBox>>;

/// `isolateNew(memoryLimitMB, inspector, onCatastrophicError, snapshot?)`
pub fn new(mut cx: FunctionContext) -> JsResult<JsBox<IsoBox>> {
    let mb = cx.argument::<JsNumber>(0)?.value(&mut cx);
    let inspector = super::call::flag(&mut cx, 1);
    let on_catastrophe = cx.argument_opt(2).and_then(|v| v.downcast::<JsFunction, _>(&mut cx).ok());
    let snapshot = super::snapshot::snapshot_arg(&mut cx, 3)?;
    let opts = crate::engine::runner::Options { memory_limit: (mb * 1024.0 * 1024.0) as usize, snapshot };
    let host = match pool::acquire(opts) {
        Ok(h) => h,
        Err(e) => return cx.throw_error(e),
    };
    super::env::register(&mut cx, &host);
    let owner = host.make_owner();
    if let Some(f) = on_catastrophe {
        super::inspector::set_catastrophe_hook(&mut cx, &owner, f)?;
    }
    if inspector {
        host.enable_inspector();
        dispatch(&mut cx, &host, super::call::Variant::Ignored, None, None, Box::new(ops::profiler::enable))?;
    }
    Ok(cx.boxed(IsoBox(owner)))
}

fn this_iso<'a>(cx: &mut FunctionContext<'a>) -> NeonResult<BoxedIso<'a>> {
    cx.argument::<JsBox<IsoBox>>(0)
}

/// `isolateDispose(h)`: false if it was already disposed.
pub fn dispose(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let iso = this_iso(&mut cx)?;
    let ok = iso.0.host.dispose();
    Ok(cx.boolean(ok))
}

pub fn is_disposed(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let iso = this_iso(&mut cx)?;
    let d = iso.0.host.is_disposed();
    Ok(cx.boolean(d))
}

/// `isolateCompileScript(h, variant, code, filename, lineOffset, columnOffset, cachedData, produceCachedData, site)`
pub fn compile_script(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = this_iso(&mut cx)?;
    let v = variant(&mut cx, 1)?;
    let code = cx.argument::<JsString>(2)?.value(&mut cx);
    let origin = read_origin(&mut cx, 3)?;
    let cache = read_cache(&mut cx, 6)?;
    let site = cx.argument_opt(8);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| ops::code::compile_script(i, st, code, origin, cache)))
}

/// Reads `(cachedData: ExternalCopy handle | undefined, produceCachedData: boolean)`
/// starting at argument `i`.
pub fn read_cache(cx: &mut FunctionContext, i: usize) -> NeonResult<ops::CacheOptions> {
    let data = match cx.argument_opt(i).filter(|v| !v.is_a::<JsUndefined, _>(cx)) {
        Some(v) => {
            let b = v.downcast_or_throw::<JsBox<super::external_copy::ExternalBox>, _>(cx)?;
            let d = b.0.borrow().clone();
            let Some(d) = d else { return cx.throw_error("Copy has been released") };
            match d.array_buffer() {
                Some(store) => Some(store),
                None => return cx.throw_type_error("`cachedData` must be an ExternalCopy to ArrayBuffer"),
            }
        }
        None => None,
    };
    let produce = super::call::flag(cx, i + 1);
    Ok(ops::CacheOptions { data, produce, untrusted: false })
}

/// Reads `(filename, lineOffset, columnOffset)` starting at argument `i`.
pub fn read_origin(cx: &mut FunctionContext, i: usize) -> NeonResult<Origin> {
    let mut o = Origin::default();
    if let Some(f) = cx.argument_opt(i) {
        if let Ok(s) = f.downcast::<JsString, _>(cx) {
            o.filename = s.value(cx);
        }
    }
    if let Some(n) = cx.argument_opt(i + 1).and_then(|v| v.downcast::<JsNumber, _>(cx).ok()) {
        o.line_offset = n.value(cx) as i32;
    }
    if let Some(n) = cx.argument_opt(i + 2).and_then(|v| v.downcast::<JsNumber, _>(cx).ok()) {
        o.column_offset = n.value(cx) as i32;
    }
    Ok(o)
}

/// `isolateCreateContext(h, variant, site, inspector)` -> [contextHandle, globalHandle]
pub fn create_context(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = this_iso(&mut cx)?;
    let v = variant(&mut cx, 1)?;
    let site = cx.argument_opt(2);
    let inspect = super::call::flag(&mut cx, 3);
    let host = iso.0.host.clone();
    if inspect && !host.inspector_enabled() {
        return cx.throw_error("Inspector is not enabled for this isolate");
    }
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| ops::context::create_context(i, st, inspect)))
}

/// `isolateHeapStatistics(h, variant, site)`
pub fn heap_statistics(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = this_iso(&mut cx)?;
    let v = variant(&mut cx, 1)?;
    let site = cx.argument_opt(2);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(ops::isolate::heap_statistics))
}

/// `isolateHeapSpaceStatistics(h, variant, site)`
pub fn heap_space_statistics(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = this_iso(&mut cx)?;
    let v = variant(&mut cx, 1)?;
    let site = cx.argument_opt(2);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(ops::isolate::heap_space_statistics))
}

pub fn cpu_time(mut cx: FunctionContext) -> JsResult<JsBigInt> {
    let iso = this_iso(&mut cx)?;
    let t = iso.0.host.cpu_time();
    Ok(JsBigInt::from_u64(&mut cx, t))
}

pub fn wall_time(mut cx: FunctionContext) -> JsResult<JsBigInt> {
    let iso = this_iso(&mut cx)?;
    let t = iso.0.host.wall_time();
    Ok(JsBigInt::from_u64(&mut cx, t))
}

pub fn reference_count(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let iso = this_iso(&mut cx)?;
    let n = iso.0.host.reference_count();
    Ok(cx.number(n as f64))
}

/// `isolatePing(h, variant)`: an empty call, to measure the round trip.
pub fn ping(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = this_iso(&mut cx)?;
    let v = variant(&mut cx, 1)?;
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, v, None, None, Box::new(|_, _| Ok(crate::transfer::Transfer::Undefined)))
}

/// `parkCount()`: diagnostics, how often isolate threads parked.
pub fn park_count(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let n = crate::engine::runner::PARKS.load(std::sync::atomic::Ordering::Relaxed);
    Ok(cx.number(n as f64))
}
