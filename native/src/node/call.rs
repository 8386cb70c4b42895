//! Making a call into an isolate from Node: sync (block, spinning briefly
//! first), async (a promise settled through Node's event loop) or ignored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neon::prelude::*;
use neon::types::Deferred;

use crate::engine::isolate::{Call, Done, IsolateHost, Job, Work};
use crate::engine::wait::Step;
use crate::transfer::node::{failure_to_js, to_js};
use crate::transfer::{Failure, Outcome};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Sync,
    Async,
    Ignored,
}

pub fn variant(cx: &mut FunctionContext, i: usize) -> NeonResult<Variant> {
    let v = cx.argument::<JsNumber>(i)?.value(cx) as u32;
    Ok(match v {
        0 => Variant::Sync,
        1 => Variant::Async,
        _ => Variant::Ignored,
    })
}

/// Reads an optional boolean argument: true only when it is `true`.
pub fn flag(cx: &mut FunctionContext, i: usize) -> bool {
    match cx.argument_opt(i) {
        Some(v) => v.downcast::<JsBoolean, _>(cx).is_ok_and(|b| b.value(cx)),
        None => false,
    }
}

/// Reads an optional timeout in ms (the JS layer has validated it).
pub fn timeout(cx: &mut FunctionContext, i: usize) -> NeonResult<Option<Duration>> {
    match cx.argument_opt(i) {
        Some(v) => match v.downcast::<JsNumber, _>(cx) {
            Ok(n) => {
                let ms = n.value(cx);
                Ok(if ms > 0.0 { Some(Duration::from_micros((ms * 1000.0) as u64)) } else { None })
            }
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// Turns an outcome into a JS value, or throws.
pub fn settle<'a>(cx: &mut impl Context<'a>, out: Outcome, site: Option<Handle<'a, JsValue>>) -> JsResult<'a, JsValue> {
    match out {
        Ok(t) => to_js(cx, t),
        Err(f) => {
            let e = failure_to_js(cx, f, site)?;
            cx.throw(e)
        }
    }
}

/// Runs `job` on the isolate as the variant asks. `site` (async only) is the
/// caller's stack, captured by the JS layer.
pub fn dispatch<'a>(
    cx: &mut FunctionContext<'a>,
    host: &Arc<IsolateHost>,
    variant: Variant,
    timeout: Option<Duration>,
    site: Option<Handle<'a, JsValue>>,
    job: Job,
) -> JsResult<'a, JsValue> {
    dispatch_work(cx, host, variant, timeout, site, Work::Boxed(job))
}

/// `dispatch` for any `Work`.
pub fn dispatch_work<'a>(
    cx: &mut FunctionContext<'a>,
    host: &Arc<IsolateHost>,
    variant: Variant,
    timeout: Option<Duration>,
    site: Option<Handle<'a, JsValue>>,
    job: Work,
) -> JsResult<'a, JsValue> {
    match variant {
        Variant::Sync => {
            let reply = host.call_sync(job, timeout);
            // While blocked, run the calls into Node that the isolate (or
            // others) make: they may be what the isolate is waiting for.
            let link = super::envlink::link_ref(cx);
            let mut probe: Option<Instant> = None;
            let mut give_up: Option<Instant> = None;
            let mut terminating = false;
            let spin = host.spin_as_caller();
            let out = reply.wait_or(Some(&spin), |parked| {
                if link.has_calls() && super::envlink::serve_calls(cx) > 0 {
                    return Step::Worked;
                }
                if parked && probe.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(50) {
                    // If this Node environment is being torn down (a worker
                    // terminated), stop the isolate so the thread can return.
                    probe = Some(Instant::now());
                    if give_up.is_none() && env_terminating(cx) {
                        terminating = true;
                        host.dispose();
                        give_up = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
                if give_up.is_none_or(|t| Instant::now() < t) {
                    Step::Idle
                } else {
                    Step::Abandon
                }
            });
            if terminating {
                // No JS can run any more in this environment: just return.
                return Ok(cx.undefined().upcast());
            }
            settle(cx, out.unwrap_or(Err(Failure::Disposed)), None)
        }
        Variant::Async => {
            let (deferred, promise) = cx.promise();
            let site = site.and_then(|s| s.downcast::<JsObject, _>(cx).ok()).map(|o| o.root(cx));
            let alone = super::envlink::may_settle_early(cx);
            let link = super::envlink::begin(cx)?;
            // The call keeps its isolate alive until it completes: the Node
            // objects that own the isolate may be collected meanwhile (e.g.
            // `iso.createContext().then((c) => c.eval(...))` drops both).
            let keep = host.owner();
            if !alone {
                host.submit_task(Call::of(
                    job,
                    timeout,
                    Done::f(move |o| {
                        link.complete(deferred, site, o);
                        drop(keep);
                    }),
                ));
                return Ok(promise.upcast());
            }
            quick_async(cx, host, job, timeout, deferred, site, link, keep);
            Ok(promise.upcast())
        }
        Variant::Ignored => {
            let keep = host.owner();
            host.submit_task(Call::of(job, timeout, Done::f(move |_| drop(keep))));
            Ok(cx.undefined().upcast())
        }
    }
}

/// How long an async call made while no other is in flight waits for its
/// outcome before it returns its promise (see `quick_async`).
const QUICK: Duration = Duration::from_micros(30);

enum Quick {
    /// The caller is still waiting; it settles the call itself.
    Waiting(Deferred, Option<Root<JsObject>>),
    /// Finished while the caller waited.
    Finished(Deferred, Option<Root<JsObject>>, crate::transfer::Outcome),
    /// The caller stopped waiting: the outcome goes through the queue.
    Released(Deferred, Option<Root<JsObject>>),
    Gone,
}

/// An async call made while no other is in flight: the caller waits up to
/// `QUICK` for its outcome (serving calls into Node meanwhile) and settles
/// the promise before returning it, which spares a turn of the event loop
/// per call when calls are awaited one after another. A longer call settles
/// through the queue as usual. The promise is returned either way, so
/// callers see no difference but the time.
#[allow(clippy::too_many_arguments)]
struct QuickCell {
    finished: AtomicBool,
    state: parking_lot::Mutex<Quick>,
}

fn quick_async<'a>(
    cx: &mut FunctionContext<'a>,
    host: &Arc<IsolateHost>,
    job: Work,
    timeout: Option<Duration>,
    deferred: Deferred,
    site: Option<Root<JsObject>>,
    link: Arc<super::envlink::EnvLink>,
    keep: impl Send + 'static,
) {
    // The waiter spins on `finished` alone: locking the state on every turn
    // would pull its cache line away from the isolate thread finishing it.
    let cell = Arc::new(QuickCell { finished: AtomicBool::new(false), state: parking_lot::Mutex::new(Quick::Waiting(deferred, site)) });
    let shared = cell.clone();
    let queue = link.clone();
    host.submit_task(Call::of(
        job,
        timeout,
        Done::f(move |o| {
            let mut s = shared.state.lock();
            match std::mem::replace(&mut *s, Quick::Gone) {
                Quick::Waiting(d, site) => {
                    *s = Quick::Finished(d, site, o);
                    shared.finished.store(true, Ordering::Release);
                }
                Quick::Released(d, site) => {
                    drop(s);
                    queue.complete(d, site, o);
                }
                other => *s = other,
            }
            drop(keep);
        }),
    ));
    let deadline = Instant::now() + QUICK;
    let mut i = 0u32;
    loop {
        if cell.finished.load(Ordering::Acquire) || (i % 64 == 63 && Instant::now() >= deadline) {
            break;
        }
        if link.has_calls() {
            super::envlink::serve_calls(cx);
        }
        i = i.wrapping_add(1);
        crate::engine::wait::relax(i, Some(&host.spin_as_caller()));
    }
    let mut s = cell.state.lock();
    match std::mem::replace(&mut *s, Quick::Gone) {
        Quick::Finished(d, site, o) => {
            drop(s);
            super::envlink::settle_now(cx, d, site, o);
        }
        Quick::Waiting(d, site) => *s = Quick::Released(d, site),
        other => *s = other,
    }
}

/// Whether Node is terminating this environment's JS (worker.terminate(),
/// process exit): calling any JS function fails then.
fn env_terminating<'a>(cx: &mut impl Context<'a>) -> bool {
    let Some(f) = super::helpers::get(cx, super::helpers::NOOP) else { return false };
    let recv = cx.undefined();
    let env = cx.to_raw();
    let mut result = std::ptr::null_mut();
    // SAFETY: raw Node-API call on this environment's thread with live
    // handles; a failure status is what we are probing for. (neon's own call
    // path cannot be used: it panics when JS is being terminated.)
    let status = unsafe {
        neon::sys::bindings::call_function(env, recv.to_raw(), f.to_raw(), 0, std::ptr::null(), &mut result)
    };
    if status.is_ok() {
        return false;
    }
    let mut pending = false;
    // SAFETY: as above.
    let _ = unsafe { neon::sys::bindings::is_exception_pending(env, &mut pending) };
    if pending {
        let mut exc = std::ptr::null_mut();
        // SAFETY: as above; clears an ordinary exception (not termination).
        let _ = unsafe { neon::sys::bindings::get_and_clear_last_exception(env, &mut exc) };
    }
    true
}

/// `dispatch`, honouring `{promise: true}` (bit 4 of the transfer-mode code):
/// then the call's result settles a new Node promise, which is returned in
/// place of the call's own result. `fallback` is what the default mode does
/// with a settled value that cannot be transferred (as in isolated-vm: a
/// Reference for get and apply, a rejection for eval, evalClosure and run).
#[allow(clippy::too_many_arguments)]
pub fn dispatch_result<'a>(
    cx: &mut FunctionContext<'a>,
    host: &Arc<IsolateHost>,
    variant: Variant,
    timeout: Option<Duration>,
    site: Option<Handle<'a, JsValue>>,
    code: u32,
    fallback: crate::transfer::Fallback,
    job: Job,
) -> JsResult<'a, JsValue> {
    if code & 4 == 0 || variant == Variant::Ignored {
        return dispatch(cx, host, variant, timeout, site, job);
    }
    let (deferred, promise) = cx.promise();
    let link = super::envlink::begin(cx)?;
    let mode = crate::transfer::Mode::from_code(code, fallback);
    let job = crate::transfer::promise::wrap(job, crate::transfer::promise::Settler::new(link, deferred, mode));
    match cx.try_catch(|cx| dispatch(cx, host, variant, timeout, site, job)) {
        Ok(outer) => {
            if variant == Variant::Async {
                super::helpers::call(cx, super::helpers::MARK_HANDLED, &[outer])?;
            }
            Ok(promise.upcast())
        }
        Err(e) => {
            let p = promise.upcast();
            super::helpers::call(cx, super::helpers::MARK_HANDLED, &[p])?;
            cx.throw(e)
        }
    }
}

/// An already-known failure, delivered the way the variant delivers results.
pub fn fail<'a>(cx: &mut FunctionContext<'a>, variant: Variant, f: Failure) -> JsResult<'a, JsValue> {
    match variant {
        Variant::Sync => settle(cx, Err(f), None),
        Variant::Async => {
            let (deferred, promise) = cx.promise();
            let e = failure_to_js(cx, f, None)?;
            deferred.reject(cx, e);
            Ok(promise.upcast())
        }
        // Refused before it was queued: isolated-vm throws these even for
        // ignored calls (only what happens in the isolate is ignored).
        Variant::Ignored => settle(cx, Err(f), None),
    }
}
