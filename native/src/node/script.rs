//! The Script class, Node side.

use std::sync::Arc;

use neon::prelude::*;

use super::call::{dispatch_result, fail, timeout, variant};
use super::context::{handle, read_mode};
use crate::ops;
use crate::transfer::node::RemoteBox;
use crate::transfer::{Failure, Fallback};

/// `scriptRun(script, ctx, variant, timeout, resultMode, release, site)`
pub fn run(mut cx: FunctionContext) -> JsResult<JsValue> {
    let script = handle(&mut cx, 0)?;
    let ctx = handle(&mut cx, 1)?;
    let v = variant(&mut cx, 2)?;
    let t = timeout(&mut cx, 3)?;
    let m = read_mode(&mut cx, 4, Fallback::Undefined)?;
    let code_bits = cx.argument::<JsNumber>(4)?.value(&mut cx) as u32;
    let release = cx.argument::<JsBoolean>(5)?.value(&mut cx);
    let site = cx.argument_opt(6);
    if let Some(f) = refusal(&script, &ctx) {
        return fail(&mut cx, v, f);
    }
    let (sid, cid) = (script.remote.id, ctx.remote.id);
    if code_bits & 4 == 0 && !release {
        // No promise to wait for: no boxed job (see `Work`).
        let work = crate::engine::isolate::Work::Run { script: sid, context: cid, mode: m };
        return super::call::dispatch_work(&mut cx, script.remote.host(), v, t, site, work);
    }
    let host = script.remote.host().clone();
    let out = dispatch_result(&mut cx, &host, v, t, site, code_bits, crate::transfer::Fallback::Reject, Box::new(move |i, st| ops::code::run_script(i, st, sid, cid, m)));
    if release {
        script.remote.release();
    }
    out
}

/// `scriptRunFast(script, ctx)`: runSync with no options (the JS layer has
/// checked that `ctx` is a Context, and not whether it is released).
pub fn run_fast(mut cx: FunctionContext) -> JsResult<JsValue> {
    let script = handle(&mut cx, 0)?;
    let ctx = handle(&mut cx, 1)?;
    let v = super::call::Variant::Sync;
    if let Some(f) = refusal(&script, &ctx) {
        return fail(&mut cx, v, f);
    }
    let mode = crate::transfer::Mode::Default(Fallback::Undefined);
    let work = crate::engine::isolate::Work::Run { script: script.remote.id, context: ctx.remote.id, mode };
    super::call::dispatch_work(&mut cx, script.remote.host(), v, None, None, work)
}

/// Why `script` cannot run in `ctx`, if it cannot: the context is checked
/// first, as `Script#run` in the JS layer does.
fn refusal(script: &RemoteBox, ctx: &RemoteBox) -> Option<Failure> {
    if ctx.remote.is_released() {
        Some(Failure::error(ops::code::CONTEXT_RELEASED))
    } else if script.remote.is_released() {
        Some(Failure::error(ops::code::SCRIPT_RELEASED))
    } else if !Arc::ptr_eq(script.remote.host(), ctx.remote.host()) {
        Some(Failure::error("Invalid context"))
    } else {
        None
    }
}
