//! The Script class, Node side.

use std::sync::Arc;

use neon::prelude::*;

use super::call::{dispatch_result, fail, timeout, variant};
use super::context::{handle, read_mode};
use crate::ops;
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
    if script.remote.is_released() {
        return fail(&mut cx, v, Failure::error(ops::code::SCRIPT_RELEASED));
    }
    if !Arc::ptr_eq(script.remote.host(), ctx.remote.host()) {
        return fail(&mut cx, v, Failure::error("Invalid context"));
    }
    if ctx.remote.is_released() {
        return fail(&mut cx, v, Failure::error(ops::code::CONTEXT_RELEASED));
    }
    let (sid, cid) = (script.remote.id, ctx.remote.id);
    let host = script.remote.host().clone();
    let out = dispatch_result(&mut cx, &host, v, t, site, code_bits, crate::transfer::Fallback::Reject, Box::new(move |i, st| ops::code::run_script(i, st, sid, cid, m)));
    if release {
        script.remote.release();
    }
    out
}
