//! Inspector sessions and the CPU profiler, Node side.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use neon::prelude::*;

use super::call::{dispatch, Variant};
use super::host::{host_fn, CallbackMode, MainReq, Reply, Target};
use super::isolate::IsoBox;
use crate::engine::inspector::InspMsg;
use crate::engine::isolate::IsolateRef;
use crate::ops;
use crate::transfer::Transfer;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub struct SessionBox {
    iso: IsolateRef,
    id: u64,
    live: Arc<AtomicBool>,
}

impl SessionBox {
    fn close(&self) -> bool {
        if !self.live.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.iso.host.inspector_send(InspMsg::Disconnect(self.id));
        true
    }
}

impl Finalize for SessionBox {
    fn finalize<'a, C: Context<'a>>(self, _cx: &mut C) {
        self.close();
    }
}

/// `inspectorSessionNew(isoHandle, deliver)`: `deliver(isResponse, callId,
/// message)` is called on this thread, from the event loop, for every
/// message the session sends.
pub fn session_new(mut cx: FunctionContext) -> JsResult<JsBox<SessionBox>> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let f = cx.argument::<JsFunction>(1)?;
    let owner = iso.0.clone();
    if owner.host.is_disposed() {
        return cx.throw_error("Isolate is disposed");
    }
    if !owner.host.inspector_enabled() {
        return cx.throw_error("Inspector is not enabled for this isolate");
    }
    let hf = host_fn(&mut cx, f, CallbackMode::Ignored)?;
    let live = Arc::new(AtomicBool::new(true));
    let open = live.clone();
    let deliver = Box::new(move |call_id: Option<i32>, message: String| {
        if !open.load(Ordering::Acquire) {
            return;
        }
        let args = vec![
            Transfer::Bool(call_id.is_some()),
            Transfer::Number(call_id.unwrap_or(0) as f64),
            Transfer::String(message),
        ];
        hf.env.request(MainReq { target: Target::Fn(hf.clone()), args, reply: Reply::Ignored });
    });
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    owner.host.inspector_send(InspMsg::Connect(id, deliver));
    Ok(cx.boxed(SessionBox { iso: owner, id, live }))
}

/// `inspectorSessionDispatch(sessionHandle, message)`: false if the session
/// is dead.
pub fn session_dispatch(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let s = cx.argument::<JsBox<SessionBox>>(0)?;
    let message = cx.argument::<JsString>(1)?.value(&mut cx);
    if !s.live.load(Ordering::Acquire) || s.iso.host.is_disposed() {
        return Ok(cx.boolean(false));
    }
    s.iso.host.inspector_send(InspMsg::Dispatch(s.id, message));
    Ok(cx.boolean(true))
}

/// `inspectorSessionDispose(sessionHandle)`: false if it was already dead.
pub fn session_dispose(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let s = cx.argument::<JsBox<SessionBox>>(0)?;
    let closed = s.close();
    Ok(cx.boolean(closed))
}

/// `isolateStartCpuProfiler(isoHandle, title)`: queued in order with the
/// isolate's other work.
pub fn start_profiler(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let title = cx.argument::<JsString>(1)?.value(&mut cx);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, Variant::Ignored, None, None, Box::new(move |i, st| ops::profiler::start(i, st, &title)))
}

/// `isolateStopCpuProfiler(isoHandle, title, site)` -> Promise<[threadId, json] | undefined>
pub fn stop_profiler(mut cx: FunctionContext) -> JsResult<JsValue> {
    let iso = cx.argument::<JsBox<IsoBox>>(0)?;
    let title = cx.argument::<JsString>(1)?.value(&mut cx);
    let site = cx.argument_opt(2);
    let host = iso.0.host.clone();
    dispatch(&mut cx, &host, Variant::Async, None, site, Box::new(move |i, st| ops::profiler::stop(i, st, &title)))
}

/// Sets an isolate's `onCatastrophicError`: `f(message)` is called on this
/// thread (from the event loop, or while it waits in a sync call).
pub fn set_catastrophe_hook<'a>(cx: &mut FunctionContext<'a>, owner: &IsolateRef, f: Handle<'a, JsFunction>) -> NeonResult<()> {
    let hf = host_fn(cx, f, CallbackMode::Ignored)?;
    owner.host.set_catastrophe_hook(Box::new(move |message| {
        let args = vec![Transfer::String(message)];
        hf.env.request(MainReq { target: Target::Fn(hf.clone()), args, reply: Reply::Ignored });
    }));
    Ok(())
}
