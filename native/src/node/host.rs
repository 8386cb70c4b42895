//! Node functions called from guests (Callbacks). A call made by guest code
//! arrives as a `MainReq` on the environment's thread and runs there: on the
//! stack of a blocked sync call, or from the event loop when Node is idle.

use std::sync::Arc;

use neon::prelude::*;

use super::envlink::EnvLink;
use super::helpers;
use crate::engine::wait::Slot;
use crate::transfer::node::{decode, to_js};
use crate::transfer::{ErrorClass, ErrorInfo, Failure, Outcome, Transfer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackMode {
    Sync,
    Async,
    Ignored,
}

/// A Node function that guests may call.
/// Aligned so that the reference counts (bumped by the guest thread on
/// every call) sit on a cache line of their own, away from the fields Node
/// reads on every call.
#[repr(align(128))]
pub struct HostFn {
    pub env: Arc<EnvLink>,
    pub func: Root<JsFunction>,
    pub name: String,
    pub length: i32,
    pub mode: CallbackMode,
}

pub enum Reply {
    Sync(Arc<Slot<Outcome>>),
    Async(Box<dyn FnOnce(Outcome) + Send>),
    Ignored,
}

/// A Node value a guest holds a Reference to (`new ivm.Reference(value)`
/// passed in): the JS layer's Reference object and its `typeof`. Aligned
/// like `HostFn`.
#[repr(align(128))]
pub struct HostRef {
    pub env: Arc<EnvLink>,
    pub obj: Root<JsObject>,
    pub type_of: String,
    /// The value, when it is a function: `applySync(undefined, args)` with
    /// primitive arguments calls it directly.
    pub func: Option<Root<JsFunction>>,
}

/// What a call into Node runs.
pub enum Target {
    /// A Callback: call the function.
    Fn(Arc<HostFn>),
    /// A method of a Node-side Reference (`applySync`, `getSync`...).
    Ref(Arc<HostRef>, &'static str),
}

pub struct MainReq {
    pub target: Target,
    pub args: Vec<Transfer>,
    pub reply: Reply,
}

/// Reads a function (and its mode) the JS layer passed as a Callback.
pub fn host_fn<'a>(cx: &mut impl Context<'a>, f: Handle<'a, JsFunction>, mode: CallbackMode) -> NeonResult<Arc<HostFn>> {
    let name: Handle<JsValue> = f.get(cx, "name")?;
    let name = name.downcast::<JsString, _>(cx).map(|s| s.value(cx)).unwrap_or_default();
    let length: Handle<JsValue> = f.get(cx, "length")?;
    let length = length.downcast::<JsNumber, _>(cx).map(|n| n.value(cx) as i32).unwrap_or(0);
    let env = super::envlink::link(cx);
    Ok(Arc::new(HostFn { env, func: f.root(cx), name, length, mode }))
}

/// Copies a value returned by Node code (copy semantics).
fn encode_result<'a>(cx: &mut impl Context<'a>, v: Handle<'a, JsValue>) -> NeonResult<Transfer> {
    if let Some(t) = crate::transfer::node::try_primitive(cx, v) {
        return Ok(t);
    }
    let pair = helpers::call(cx, helpers::ENCODE_COPY, &[v])?;
    let pair = pair.downcast_or_throw::<JsArray, _>(cx)?;
    let kind: Handle<JsNumber> = pair.get(cx, 0)?;
    let kind = kind.value(cx) as u32;
    let payload: Handle<JsValue> = pair.get(cx, 1)?;
    decode(cx, kind, payload)
}

/// Describes a value thrown by Node code, to re-throw it in the guest.
pub(crate) fn thrown<'a>(cx: &mut impl Context<'a>, e: Handle<'a, JsValue>) -> Failure {
    let r = cx.try_catch(|cx| {
        let d = helpers::call(cx, helpers::DESCRIBE_THROWN, &[e])?;
        let d = d.downcast_or_throw::<JsArray, _>(cx)?;
        let is_error: Handle<JsBoolean> = d.get(cx, 0)?;
        if is_error.value(cx) {
            let class: Handle<JsString> = d.get(cx, 1)?;
            let name: Handle<JsValue> = d.get(cx, 2)?;
            let message: Handle<JsString> = d.get(cx, 3)?;
            let stack: Handle<JsValue> = d.get(cx, 4)?;
            let class = ErrorClass::from_name(&class.value(cx)).unwrap_or(ErrorClass::Error);
            let name = name.downcast::<JsString, _>(cx).ok().map(|s| s.value(cx));
            let stack = stack.downcast::<JsString, _>(cx).ok().map(|s| s.value(cx));
            Ok(Failure::Thrown(ErrorInfo { class, name, message: message.value(cx), stack, verbatim: false }))
        } else {
            let kind: Handle<JsNumber> = d.get(cx, 1)?;
            let kind = kind.value(cx) as u32;
            let payload: Handle<JsValue> = d.get(cx, 2)?;
            Ok(Failure::ThrownValue(decode(cx, kind, payload)?))
        }
    });
    r.unwrap_or_else(|_| Failure::error("An exception was thrown by a host function"))
}

/// Runs one call into Node and delivers its outcome. An async Callback's
/// promise is awaited first.
pub fn run<'a>(cx: &mut impl Context<'a>, req: MainReq) {
    let MainReq { target, mut args, reply } = req;
    match (&target, reply) {
        (Target::Ref(r, "applySyncPromise"), reply) => apply_sync_promise(cx, r, args, reply),
        (Target::Fn(f), Reply::Async(done)) => {
            let r = cx.try_catch(|cx| call_fn(cx, f, args));
            match r {
                Ok(v) if v.is_a::<JsPromise, _>(cx) => {
                    if let Err(done) = await_then(cx, v, done) {
                        done(Err(Failure::error("Could not wait for the Callback's promise")));
                    }
                }
                r => done(fn_outcome(cx, r)),
            }
        }
        (_, Reply::Sync(slot)) => slot.put(call_sync(cx, &target, &mut args)),
        (_, Reply::Async(done)) => done(call_sync(cx, &target, &mut args)),
        (_, Reply::Ignored) => drop(call_sync(cx, &target, &mut args)),
    }
}

/// Runs a call into Node whose caller takes the outcome as it is (not
/// `applySyncPromise`, whose promise is awaited).
/// The arguments are drained (their buffer stays the caller's).
pub fn call_sync<'a>(cx: &mut impl Context<'a>, target: &Target, args: &mut Vec<Transfer>) -> Outcome {
    if let Target::Ref(r, "applyArgs") = target {
        // Primitive arguments only: call the function here; anything else
        // the JS layer converts.
        if let Some(f) = r.func.as_ref().filter(|_| args.iter().all(Transfer::is_primitive)) {
            return match cx.try_catch(|cx| call_direct(cx, r, f, args.drain(..))) {
                Ok(t) => Ok(t),
                Err(e) => Err(thrown(cx, e)),
            };
        }
    }
    call_js(cx, target, args.drain(..))
}

fn call_js<'a>(cx: &mut impl Context<'a>, target: &Target, args: impl IntoIterator<Item = Transfer>) -> Outcome {
    match target {
        Target::Ref(r, op) => match cx.try_catch(|cx| ref_op(cx, r, op, args)) {
            Ok(t) => Ok(t),
            Err(e) => Err(thrown(cx, e)),
        },
        Target::Fn(f) => {
            let r = cx.try_catch(|cx| call_fn(cx, f, args));
            fn_outcome(cx, r)
        }
    }
}

/// Calls the function a guest's Reference stands for, with primitive
/// arguments (`this` undefined); a result that is not a primitive is
/// converted by the JS layer under apply's default rules.
fn call_direct<'a>(
    cx: &mut impl Context<'a>,
    r: &HostRef,
    f: &Root<JsFunction>,
    args: impl IntoIterator<Item = Transfer>,
) -> NeonResult<Transfer> {
    let f = f.to_inner(cx);
    let mut values = Vec::with_capacity(4);
    for a in args {
        values.push(to_js(cx, a)?);
    }
    let this = cx.undefined();
    let v = f.call(cx, this, &values)?;
    if let Some(t) = crate::transfer::node::try_primitive(cx, v) {
        return Ok(t);
    }
    let obj = r.obj.to_inner(cx).upcast();
    let index = cx.number(HOST_RESULT as f64).upcast();
    let pair = helpers::call(cx, helpers::HOST_REF_OP, &[obj, index, v])?;
    decode_pair(cx, pair)
}

/// Calls a Callback's function (`this` undefined).
fn call_fn<'a>(cx: &mut impl Context<'a>, target: &HostFn, args: impl IntoIterator<Item = Transfer>) -> JsResult<'a, JsValue> {
    let f = target.func.to_inner(cx);
    let mut values = Vec::new();
    for a in args {
        values.push(to_js(cx, a)?);
    }
    let this = cx.undefined();
    f.call(cx, this, &values)
}

/// The outcome of a Callback's call: its result copied, or what it threw.
fn fn_outcome<'a>(cx: &mut impl Context<'a>, r: Result<Handle<'a, JsValue>, Handle<'a, JsValue>>) -> Outcome {
    match r {
        Ok(v) => match cx.try_catch(|cx| encode_result(cx, v)) {
            Ok(t) => Ok(t),
            Err(e) => Err(thrown(cx, e)),
        },
        Err(e) => Err(thrown(cx, e)),
    }
}

type AsyncDone = Box<dyn FnOnce(Outcome) + Send>;

/// `applySyncPromise` from a guest: calls the Node function and delivers the
/// settlement of the promise it returns (or its plain result), copied.
fn apply_sync_promise<'a>(cx: &mut impl Context<'a>, r: &HostRef, args: Vec<Transfer>, reply: Reply) {
    let done: AsyncDone = match reply {
        Reply::Sync(slot) => Box::new(move |o| slot.put(o)),
        Reply::Async(done) => done,
        Reply::Ignored => Box::new(|_| {}),
    };
    let called = cx.try_catch(|cx| call_ref_op(cx, r, "applySyncPromise", args));
    match called {
        Ok(promise) => {
            if let Err(done) = await_then(cx, promise, done) {
                done(Err(Failure::error("Could not wait for the promise")));
            }
        }
        Err(e) => done(Err(thrown(cx, e))),
    }
}

/// Delivers the settlement of `promise` (copied) to `done`.
fn await_then<'a>(cx: &mut impl Context<'a>, promise: Handle<'a, JsValue>, done: AsyncDone) -> Result<(), AsyncDone> {
    let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(done)));
    let held = slot.clone();
    let cb = JsFunction::new(cx, move |mut cx: FunctionContext| {
        let ok = cx.argument::<JsBoolean>(0)?.value(&mut cx);
        let v = cx.argument::<JsValue>(1)?;
        let outcome = if ok {
            match cx.try_catch(|cx| encode_result(cx, v)) {
                Ok(t) => Ok(t),
                Err(e) => Err(thrown(&mut cx, e)),
            }
        } else {
            Err(thrown(&mut cx, v))
        };
        if let Some(done) = held.lock().take() {
            done(outcome);
        }
        Ok(cx.undefined())
    });
    let attached = cb.and_then(|cb| helpers::call(cx, helpers::AWAIT_THEN, &[promise, cb.upcast()]));
    match attached {
        Ok(_) => Ok(()),
        Err(_) => Err(slot.lock().take().unwrap_or_else(|| Box::new(|_| {}))),
    }
}

/// Runs a Reference method on the Node side for a guest; the JS layer does
/// the work and encodes the result for the guest.
fn ref_op<'a>(cx: &mut impl Context<'a>, r: &HostRef, op: &str, args: impl IntoIterator<Item = Transfer>) -> NeonResult<Transfer> {
    let pair = call_ref_op(cx, r, op, args)?;
    decode_pair(cx, pair)
}

/// What `hostRefOp` returns: a primitive as itself, anything else as a
/// `[kind, payload]` pair.
fn decode_pair<'a>(cx: &mut impl Context<'a>, pair: Handle<'a, JsValue>) -> NeonResult<Transfer> {
    if let Some(t) = crate::transfer::node::try_primitive(cx, pair) {
        return Ok(t);
    }
    let pair = pair.downcast_or_throw::<JsArray, _>(cx)?;
    let kind: Handle<JsNumber> = pair.get(cx, 0)?;
    let kind = kind.value(cx) as u32;
    let payload: Handle<JsValue> = pair.get(cx, 1)?;
    decode(cx, kind, payload)
}

/// The Reference methods a guest can run on a Node value, in the order of
/// `HOST_OPS` in lib/index.js.
const HOST_OPS: [&str; 8] = ["getSync", "setSync", "deleteSync", "applySync", "copySync", "applySyncPromise", "applyArgs", "result"];
/// `hostRefOp(ref, HOST_RESULT, value)`: converts a result (see `call_direct`).
const HOST_RESULT: usize = 7;

/// `hostRefOp(ref, op, ...args)` in the JS layer (arguments passed as they
/// are: no array to build).
fn call_ref_op<'a>(
    cx: &mut impl Context<'a>,
    r: &HostRef,
    op: &str,
    args: impl IntoIterator<Item = Transfer>,
) -> JsResult<'a, JsValue> {
    // The method goes by its index in HOST_OPS (lib/index.js has the same
    // list): a string made per call would be looked up in V8's string table.
    let Some(index) = HOST_OPS.iter().position(|o| *o == op) else {
        return cx.throw_type_error("Invalid method");
    };
    let mut values = Vec::with_capacity(6);
    values.push(r.obj.to_inner(cx).upcast());
    values.push(cx.number(index as f64).upcast());
    for a in args {
        values.push(to_js(cx, a)?);
    }
    helpers::call(cx, helpers::HOST_REF_OP, &values)
}
