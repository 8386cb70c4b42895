//! The Context class, Node side: eval and evalClosure.

use neon::prelude::*;

use super::call::{dispatch_result, fail, timeout, variant, Variant};
use super::isolate::read_origin;
use crate::ops;
use crate::transfer::node::{decode_list, RemoteBox};
use crate::transfer::{Failure, Fallback, Mode};

pub fn handle<'a>(cx: &mut FunctionContext<'a>, i: usize) -> NeonResult<Handle<'a, JsBox<RemoteBox>>> {
    cx.argument::<JsBox<RemoteBox>>(i)
}

pub fn read_mode(cx: &mut FunctionContext, i: usize, fallback: Fallback) -> NeonResult<Mode> {
    let code = cx.argument::<JsNumber>(i)?.value(cx) as u32;
    Ok(Mode::from_code(code, fallback))
}

/// `contextEval(ctx, variant, code, filename, lineOffset, columnOffset, timeout, resultMode, site)`
pub fn eval(mut cx: FunctionContext) -> JsResult<JsValue> {
    let ctx = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let code = cx.argument::<JsString>(2)?.value(&mut cx);
    let origin = read_origin(&mut cx, 3)?;
    let t = timeout(&mut cx, 6)?;
    let m = read_mode(&mut cx, 7, Fallback::Undefined)?;
    let code_bits = cx.argument::<JsNumber>(7)?.value(&mut cx) as u32;
    let site = cx.argument_opt(8);
    if ctx.remote.is_released() {
        return fail(&mut cx, v, Failure::error(ops::code::CONTEXT_RELEASED));
    }
    let id = ctx.remote.id;
    if code_bits & 4 == 0 && origin == ops::Origin::default() {
        // The common call: no boxed job (see `Work`).
        let work = crate::engine::isolate::Work::Eval { context: id, code, mode: m };
        return super::call::dispatch_work(&mut cx, ctx.remote.host(), v, t, site, work);
    }
    let host = ctx.remote.host().clone();
    dispatch_result(&mut cx, &host, v, t, site, code_bits, crate::transfer::Fallback::Reject, Box::new(move |i, st| ops::code::eval(i, st, id, &code, origin, m)))
}

/// Reads a JS string as UTF-8 into `buf` (whose capacity is reused: the
/// code of a sync eval is read into the last one's buffer).
fn read_code(cx: &mut FunctionContext, s: Handle<JsString>, mut buf: String) -> String {
    use neon::sys::bindings as napi;
    let env = cx.to_raw();
    let value = s.to_raw();
    let mut vec = std::mem::take(&mut buf).into_bytes();
    vec.clear();
    let mut written = 0usize;
    // A first try into the buffer as it is: a string that fits with room
    // for a 4-byte character to spare was not cut short.
    if vec.capacity() > 4 {
        // SAFETY: Node-API on this thread's environment with a live handle;
        // it writes at most `capacity` bytes (a NUL included) into `vec`.
        let ok = unsafe { napi::get_value_string_utf8(env, value, vec.as_mut_ptr().cast(), vec.capacity(), &mut written) }.is_ok();
        if ok && written + 4 < vec.capacity() {
            // SAFETY: `written` bytes of valid UTF-8 were just written.
            unsafe { vec.set_len(written) };
            // SAFETY: Node-API writes UTF-8.
            return unsafe { String::from_utf8_unchecked(vec) };
        }
    }
    let mut len = 0usize;
    // SAFETY: as above; a null buffer asks for the length.
    if unsafe { napi::get_value_string_utf8(env, value, std::ptr::null_mut(), 0, &mut len) }.is_err() {
        return s.value(cx);
    }
    // Room for the NUL, and for the next call's first try.
    vec.reserve((len + 1).max(64));
    // SAFETY: as above, with room for `len` bytes and the NUL.
    if unsafe { napi::get_value_string_utf8(env, value, vec.as_mut_ptr().cast(), vec.capacity(), &mut written) }.is_err() {
        return s.value(cx);
    }
    // SAFETY: `written` bytes of valid UTF-8 were just written.
    unsafe {
        vec.set_len(written.min(len));
        String::from_utf8_unchecked(vec)
    }
}

/// `contextEvalFast(ctx, code)`: evalSync with no options (the hot path).
pub fn eval_fast(mut cx: FunctionContext) -> JsResult<JsValue> {
    let ctx = handle(&mut cx, 0)?;
    let s = cx.argument::<JsString>(1)?;
    let code = read_code(&mut cx, s, crate::engine::isolate::code_buffer());
    if ctx.remote.is_released() {
        return fail(&mut cx, Variant::Sync, Failure::error(ops::code::CONTEXT_RELEASED));
    }
    let mode = Mode::Default(Fallback::Undefined);
    let work = crate::engine::isolate::Work::Eval { context: ctx.remote.id, code, mode };
    super::call::dispatch_work(&mut cx, ctx.remote.host(), Variant::Sync, None, None, work)
}

/// `contextEvalClosure(ctx, variant, code, filename, lineOffset, columnOffset, args, timeout, resultMode, site)`
pub fn eval_closure(mut cx: FunctionContext) -> JsResult<JsValue> {
    let ctx = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let code = cx.argument::<JsString>(2)?.value(&mut cx);
    let origin = read_origin(&mut cx, 3)?;
    let list = cx.argument::<JsArray>(6)?;
    let args = decode_list(&mut cx, list)?;
    let t = timeout(&mut cx, 7)?;
    let m = read_mode(&mut cx, 8, Fallback::Reject)?;
    let code_bits = cx.argument::<JsNumber>(8)?.value(&mut cx) as u32;
    let site = cx.argument_opt(9);
    if ctx.remote.is_released() {
        return fail(&mut cx, v, Failure::error(ops::code::CONTEXT_RELEASED));
    }
    let id = ctx.remote.id;
    let host = ctx.remote.host().clone();
    dispatch_result(&mut cx, &host, v, t, site, code_bits, crate::transfer::Fallback::Reject, Box::new(move |i, st| ops::code::eval_closure(i, st, id, code, origin, args, m)))
}

/// `release(handle)`: false if it was already released.
pub fn release(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let h = handle(&mut cx, 0)?;
    let ok = h.remote.release();
    Ok(cx.boolean(ok))
}

pub fn is_released(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let h = handle(&mut cx, 0)?;
    let r = h.remote.is_released();
    Ok(cx.boolean(r))
}

