//! The Reference class, Node side (references to values inside isolates).

use neon::prelude::*;

use super::call::{dispatch, dispatch_result, fail, timeout, variant, Variant};
use super::context::{handle, read_mode};
use crate::ops::reference::{self, GetOptions};
use crate::ops::Key;
use crate::transfer::node::{decode, decode_list, try_primitive};
use crate::engine::isolate::Work;
use crate::transfer::{Failure, Fallback};

fn key(cx: &mut FunctionContext, i: usize) -> NeonResult<Key> {
    let v = cx.argument::<JsValue>(i)?;
    if let Ok(n) = v.downcast::<JsNumber, _>(cx) {
        return Ok(Key::Index(n.value(cx) as u32));
    }
    let s = v.downcast_or_throw::<JsString, _>(cx)?;
    Ok(Key::Name(s.value(cx)))
}

macro_rules! live {
    ($cx:expr, $r:expr, $v:expr) => {
        if $r.remote.is_released() {
            return fail(&mut $cx, $v, Failure::error(reference::RELEASED));
        }
    };
}

/// `refGet(ref, variant, key, resultMode, inherit, accessors, site)`
pub fn get(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let k = key(&mut cx, 2)?;
    let mode = read_mode(&mut cx, 3, Fallback::Reference)?;
    let code_bits = cx.argument::<JsNumber>(3)?.value(&mut cx) as u32;
    let inherit = cx.argument::<JsBoolean>(4)?.value(&mut cx);
    let accessors = cx.argument::<JsBoolean>(5)?.value(&mut cx);
    let site = cx.argument_opt(6);
    live!(cx, r, v);
    let id = r.remote.id;
    let host = r.remote.host().clone();
    let o = GetOptions { inherit, accessors, mode };
    dispatch_result(&mut cx, &host, v, None, site, code_bits, crate::transfer::Fallback::Reference, Box::new(move |i, st| reference::get(i, st, id, k, o)))
}

/// `refSet(ref, variant, key, kind, payload, site)`
pub fn set(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let k = key(&mut cx, 2)?;
    let kind = cx.argument::<JsNumber>(3)?.value(&mut cx) as u32;
    let payload = cx.argument::<JsValue>(4)?;
    let value = decode(&mut cx, kind, payload)?;
    let site = cx.argument_opt(5);
    live!(cx, r, v);
    let id = r.remote.id;
    let host = r.remote.host().clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| reference::set(i, st, id, k, value)))
}

/// `refDelete(ref, variant, key, site)`
pub fn delete(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let k = key(&mut cx, 2)?;
    let site = cx.argument_opt(3);
    live!(cx, r, v);
    let id = r.remote.id;
    let host = r.remote.host().clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| reference::delete(i, st, id, k)))
}

/// `refGetSync(ref, key, inherit)`: `getSync(key)` without options (the JS
/// layer has checked the key).
pub fn get_sync(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let k = key(&mut cx, 1)?;
    let inherit = cx.argument::<JsBoolean>(2)?.value(&mut cx);
    live!(cx, r, Variant::Sync);
    let id = r.remote.id;
    let o = GetOptions { inherit, accessors: false, mode: crate::transfer::Mode::Default(Fallback::Reference) };
    let host = r.remote.host().clone();
    dispatch(&mut cx, &host, Variant::Sync, None, None, Box::new(move |i, st| reference::get(i, st, id, k, o)))
}

/// `refSetSync(ref, key, value)`: `setSync(key, value)` without options for
/// a primitive value (anything else goes through `refSet`).
pub fn set_sync(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let k = key(&mut cx, 1)?;
    let v = cx.argument::<JsValue>(2)?;
    let Some(value) = try_primitive(&mut cx, v) else {
        return cx.throw_type_error("internal error in v8-isolates (refSetSync takes primitives)");
    };
    live!(cx, r, Variant::Sync);
    let id = r.remote.id;
    let host = r.remote.host().clone();
    dispatch(&mut cx, &host, Variant::Sync, None, None, Box::new(move |i, st| reference::set(i, st, id, k, value)))
}

/// `refApply(ref, variant, recvKind, recvPayload, args, timeout, resultMode, site)`
pub fn apply(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let rk = cx.argument::<JsNumber>(2)?.value(&mut cx) as u32;
    let rp = cx.argument::<JsValue>(3)?;
    let recv = decode(&mut cx, rk, rp)?;
    let list = cx.argument::<JsArray>(4)?;
    let args = decode_list(&mut cx, list)?;
    let t = timeout(&mut cx, 5)?;
    let mode = read_mode(&mut cx, 6, Fallback::Reference)?;
    let code_bits = cx.argument::<JsNumber>(6)?.value(&mut cx) as u32;
    let site = cx.argument_opt(7);
    live!(cx, r, v);
    let id = r.remote.id;
    if code_bits & 4 == 0 {
        // No promise to wait for: no boxed job (see `Work`).
        return super::call::dispatch_work(&mut cx, r.remote.host(), v, t, site, Work::apply(id, recv, args, mode));
    }
    let host = r.remote.host().clone();
    dispatch_result(&mut cx, &host, v, t, site, code_bits, crate::transfer::Fallback::Reference, Box::new(move |i, st| reference::apply(i, st, id, recv, args, mode)))
}

/// `refCopy(ref, variant, site)`
pub fn copy(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let site = cx.argument_opt(2);
    live!(cx, r, v);
    let id = r.remote.id;
    let host = r.remote.host().clone();
    dispatch(&mut cx, &host, v, None, site, Box::new(move |i, st| reference::copy(i, st, id)))
}

pub fn type_of(mut cx: FunctionContext) -> JsResult<JsString> {
    let r = handle(&mut cx, 0)?;
    let t = r.type_of.as_str();
    Ok(cx.string(t))
}

/// `refApplyFast(ref, args)`: applySync with an undefined receiver, no
/// options, and arguments passed as they are (primitives, References and
/// functions; anything else goes through the JS layer's encoder).
pub fn apply_fast(mut cx: FunctionContext) -> JsResult<JsValue> {
    let list = cx.argument::<JsArray>(1)?;
    let n = list.len(&mut cx);
    if n > crate::transfer::MAX_ARGUMENTS {
        return cx.throw_range_error(format!("`arguments` must have at most {} elements", crate::transfer::MAX_ARGUMENTS));
    }
    let mut args = Vec::with_capacity(n as usize);
    for i in 0..n {
        let v: Handle<JsValue> = list.get(&mut cx, i)?;
        args.push(encode_arg(&mut cx, v)?);
    }
    apply_as(cx, Variant::Sync, args)
}

/// `refApplyArgs(ref, ...args)`: the same with the arguments passed as
/// arguments of the call (the JS layer does so up to four: reading an
/// array's elements through Node-API costs a call each).
pub fn apply_args(cx: FunctionContext) -> JsResult<JsValue> {
    apply_spread(cx, Variant::Sync)
}

/// `refApplyAsyncArgs(ref, ...args)`: `apply` (async) the same way.
pub fn apply_async_args(cx: FunctionContext) -> JsResult<JsValue> {
    apply_spread(cx, Variant::Async)
}

fn apply_spread(mut cx: FunctionContext, variant: Variant) -> JsResult<JsValue> {
    let args = spread(&mut cx, 1)?;
    apply_as(cx, variant, args)
}

/// The call's arguments from index `from` on, encoded by the default rules.
fn spread(cx: &mut FunctionContext, from: usize) -> NeonResult<Vec<crate::transfer::Transfer>> {
    let n = cx.len().saturating_sub(from);
    let mut args = Vec::with_capacity(n);
    for i in from..from + n {
        let v = cx.argument::<JsValue>(i)?;
        args.push(encode_arg(cx, v)?);
    }
    Ok(args)
}

fn apply_as(mut cx: FunctionContext, variant: Variant, args: Vec<crate::transfer::Transfer>) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    live!(cx, r, variant);
    let mode = crate::transfer::Mode::Default(Fallback::Reference);
    let work = Work::apply(r.remote.id, crate::transfer::Transfer::Undefined, args, mode);
    super::call::dispatch_work(&mut cx, r.remote.host(), variant, None, None, work)
}

/// `refApplyWith(ref, variant, recv, timeout, resultMode, ...args)`: apply
/// with options that need no promise, up to four arguments passed as
/// arguments of the call; the receiver and the arguments go by the default
/// rules (the JS layer sends arguments to copy here only when they are
/// primitives).
pub fn apply_with(mut cx: FunctionContext) -> JsResult<JsValue> {
    let r = handle(&mut cx, 0)?;
    let v = variant(&mut cx, 1)?;
    let recv = cx.argument::<JsValue>(2)?;
    let recv = encode_arg(&mut cx, recv)?;
    let t = timeout(&mut cx, 3)?;
    let mode = read_mode(&mut cx, 4, Fallback::Reference)?;
    let args = spread(&mut cx, 5)?;
    live!(cx, r, v);
    let work = Work::apply(r.remote.id, recv, args, mode);
    super::call::dispatch_work(&mut cx, r.remote.host(), v, t, None, work)
}

fn encode_arg<'a>(cx: &mut FunctionContext<'a>, v: Handle<'a, JsValue>) -> NeonResult<crate::transfer::Transfer> {
    match try_primitive(cx, v) {
        Some(t) => Ok(t),
        None => encode_default(cx, v),
    }
}

/// Encodes a non-primitive argument with the JS layer's default rules.
fn encode_default<'a>(cx: &mut FunctionContext<'a>, v: Handle<'a, JsValue>) -> NeonResult<crate::transfer::Transfer> {
    let pair = crate::node::helpers::call(cx, crate::node::helpers::ENCODE_ARG, &[v])?;
    let pair = pair.downcast_or_throw::<JsArray, _>(cx)?;
    let k: Handle<JsNumber> = pair.get(cx, 0)?;
    let k = k.value(cx) as u32;
    let p: Handle<JsValue> = pair.get(cx, 1)?;
    decode(cx, k, p)
}
