//! Calls a guest makes into an isolate (another one, or its own): sync (this
//! thread waits, serving the sync calls that come back to it), async (a
//! promise settled on this isolate's thread when the call's outcome comes
//! back through its task queue) or ignored.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::throw::throw_failure;
use crate::engine::isolate::{Call, Done, IsolateHost, Job, Kill, Work};
use crate::engine::runner::{self, State};
use crate::engine::wait::Slot;
use crate::transfer::materialize::materialize;
use crate::transfer::{Failure, Outcome};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Sync,
    Async,
    Ignored,
    /// `applySyncPromise` (References to Node functions only).
    SyncPromise,
}

impl Variant {
    pub fn from_code(code: u32) -> Variant {
        match code {
            0 => Variant::Sync,
            1 => Variant::Async,
            3 => Variant::SyncPromise,
            _ => Variant::Ignored,
        }
    }
}

/// Runs `job` on `target` as `variant` says and sets the guest's result:
/// the value (sync), a promise (async) or undefined (ignored). Failures are
/// thrown (sync) or reject the promise (async).
pub fn call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    target: &Arc<IsolateHost>,
    variant: Variant,
    timeout: Option<Duration>,
    job: Job,
    rv: &mut v8::ReturnValue<'s, v8::Value>,
) {
    if matches!(variant, Variant::Async | Variant::Ignored) && target.backlog_full() {
        return fail(scope, st, variant, crate::engine::isolate::backlog_refusal("this isolate"), rv);
    }
    match variant {
        Variant::Sync | Variant::SyncPromise => match call_sync(scope, st, target, timeout, job) {
            Ok(t) => match materialize(scope, st, t) {
                Ok(v) => rv.set(v),
                Err(f) => throw_failure(scope, st, f),
            },
            Err(f) => {
                let e = super::throw::remote_failure_value(scope, st, f);
                scope.throw_exception(e);
            }
        },
        Variant::Async => {
            if let Some(p) = call_async(scope, st, target, timeout, job) {
                rv.set(p.into());
            }
        }
        Variant::Ignored => {
            target.submit_task(Call::new(job, timeout, Done::f(|_| {})));
            rv.set_undefined();
        }
    }
}

/// A failure delivered the way `variant` delivers results.
pub fn fail<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, variant: Variant, f: Failure, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    match variant {
        Variant::Sync | Variant::SyncPromise => throw_failure(scope, st, f),
        Variant::Async => {
            let Some(resolver) = v8::PromiseResolver::new(scope) else { return };
            let e = super::throw::failure_value(scope, st, f);
            resolver.reject(scope, e);
            rv.set(resolver.get_promise(scope).into());
        }
        // Refused before it was queued: thrown even for ignored calls, as in
        // isolated-vm (and on the Node side).
        Variant::Ignored => throw_failure(scope, st, f),
    }
}

/// Runs `job` on `target` and waits for its outcome.
pub fn call_sync(scope: &mut v8::PinScope, st: &State, target: &Arc<IsolateHost>, timeout: Option<Duration>, job: Job) -> Outcome {
    if Arc::ptr_eq(target, &st.host) {
        // This isolate: a nested call, right here.
        let slot = Slot::<Outcome>::new();
        runner::run_call(scope, st, Call::new(job, timeout, Done::Slot(slot.clone())), st.caller_blocked());
        return slot.wait(None, || false);
    }
    super::rules::check_sync_into_isolate(st)?;
    // The target's frame, once the job starts, so that a wait abandoned
    // (this isolate was killed) stops the work it was waiting for.
    let started = Arc::new(AtomicU64::new(0));
    let cancelled = Arc::new(AtomicBool::new(false));
    let (s2, c2) = (started.clone(), cancelled.clone());
    let job: Job = Box::new(move |iso, tst| {
        if c2.load(Ordering::Acquire) {
            return Err(Failure::error("The caller is gone"));
        }
        s2.store(tst.current_seq(), Ordering::Release);
        job(iso, tst)
    });
    let reply = target.call_sync(Work::Boxed(job), timeout);
    let spin = crate::engine::wait::Spin { me: &st.host.iso_cpu, partner: &target.iso_cpu, migrate: true };
    let out = super::callback::wait_abortable(scope, st, reply, &spin);
    match out {
        Some(o) => o,
        None => {
            cancelled.store(true, Ordering::Release);
            let seq = started.load(Ordering::Acquire);
            if seq != 0 {
                target.kill_seq(seq, Kill::Timeout);
            }
            // The runner reports why this frame was killed.
            Err(Failure::Disposed)
        }
    }
}

/// Queues `job` on `target`; the returned promise settles on this isolate's
/// thread with the outcome.
pub fn call_async<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    target: &Arc<IsolateHost>,
    timeout: Option<Duration>,
    job: Job,
) -> Option<v8::Local<'s, v8::Promise>> {
    let resolver = v8::PromiseResolver::new(scope)?;
    let done = super::callback::settle_later(scope, st, resolver);
    target.submit_task(Call::new(job, timeout, Done::Fn(done)));
    Some(resolver.get_promise(scope))
}
