//! Callbacks inside a guest: plain, non-constructible functions (same `name`
//! and `length` as the Node function) whose calls run the Node function on
//! its own thread. Arguments are structured-cloned, the result copied.

use std::rc::Rc;
use std::sync::Arc;

use super::throw::throw_failure;
use crate::engine::isolate::Reply as SyncReply;
use crate::engine::runner::{self, State};
use crate::engine::wait::{Slot, Step};
use crate::node::host::{CallbackMode, HostFn, MainReq, Reply, Target};
use crate::transfer::capture::capture;
use crate::transfer::materialize::materialize;
use crate::transfer::{Failure, Mode, Outcome, Transfer};

/// Makes the guest function for a Callback.
pub fn make_function<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    hf: Arc<HostFn>,
) -> Result<v8::Local<'s, v8::Function>, Failure> {
    let id = st.next_id();
    let data = v8::BigInt::new_from_u64(scope, id);
    let f = v8::Function::builder(trampoline)
        .data(data.into())
        .length(hf.length)
        .constructor_behavior(v8::ConstructorBehavior::Throw)
        .build(scope)
        .ok_or_else(|| Failure::error("Could not create the callback function"))?;
    if let Some(name) = v8::String::new(scope, &hf.name) {
        f.set_name(name);
    }
    let weak = v8::Weak::with_finalizer(
        scope,
        f,
        Box::new(move |iso: &mut v8::Isolate| {
            if let Some(st) = iso.get_slot::<Rc<State>>() {
                st.remove_host_fn(id);
            }
        }),
    );
    st.add_host_fn(id, hf, weak);
    Ok(f)
}

pub(crate) fn trampoline<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, mut rv: v8::ReturnValue<'s, v8::Value>) {
    super::guarded(scope, "a callback", |scope| call(scope, &args, &mut rv));
}

fn call<'s>(scope: &mut v8::PinScope<'s, '_>, args: &v8::FunctionCallbackArguments<'s>, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    let Some(st) = scope.get_slot::<Rc<State>>().cloned() else { return };
    let id = match v8::Local::<v8::BigInt>::try_from(args.data()) {
        Ok(b) => b.u64_value().0,
        Err(_) => return,
    };
    let Some(hf) = st.host_fn(id) else {
        return throw_failure(scope, &st, Failure::error("Callback has been released"));
    };
    let mut list = crate::node::outbox::args_buffer(args.length() as usize);
    let mut meter = crate::transfer::capture::ListMeter::new();
    for i in 0..args.length() {
        let a = args.get(i);
        if !meter.add(a) {
            return throw_failure(scope, &st, crate::transfer::capture::ListMeter::too_large());
        }
        // Arguments are one structured clone in isolated-vm: a Symbol gets the
        // clone's message ("Symbol(x) could not be cloned."), not "Unsupported type".
        let t = if a.is_symbol() {
            crate::transfer::serde::serialize(scope, &st, a).map(Transfer::Serialized)
        } else {
            capture(scope, &st, a, Mode::Copy)
        };
        match t {
            Ok(t) => list.push(t),
            Err(f) => return throw_failure(scope, &st, f),
        }
    }
    match hf.mode {
        CallbackMode::Sync => {
            let env = hf.env.clone();
            let out = call_node(scope, &st, &env, Target::Fn(hf), list);
            settle_in_guest(scope, &st, out, rv);
        }
        CallbackMode::Ignored | CallbackMode::Async if hf.env.backlog_full() => {
            return throw_failure(scope, &st, crate::node::envlink::backlog());
        }
        CallbackMode::Ignored => {
            hf.env.request(MainReq { target: Target::Fn(hf.clone()), args: list, reply: Reply::Ignored });
            rv.set_undefined();
        }
        CallbackMode::Async => {
            if let Some(p) = call_node_async(scope, &st, &hf.env, Target::Fn(hf.clone()), list) {
                rv.set(p.into());
            }
        }
    }
}

/// Calls into Node and blocks this isolate's thread until Node replies,
/// running sync calls that arrive for this isolate meanwhile (Node may call
/// back in from inside the callback).
pub fn call_node(
    scope: &mut v8::PinScope,
    st: &State,
    env: &Arc<crate::node::envlink::EnvLink>,
    target: Target,
    args: Vec<Transfer>,
) -> Outcome {
    let spin = st.host.spin_as_isolate();
    let (target, args) = match crate::node::outbox::post(env, target, args) {
        Ok(posted) => return posted.wait(&spin, || runner::serve_nested(scope, st)),
        Err(back) => back,
    };
    let slot = request_sync(env, target, args);
    let out = slot.wait(Some(&spin), || runner::serve_nested(scope, st));
    crate::engine::wait::recycle(slot);
    out
}

/// Queues `target` on Node's thread with a reply slot to wait on.
fn request_sync(env: &crate::node::envlink::EnvLink, target: Target, args: Vec<Transfer>) -> Arc<Slot<Outcome>> {
    let slot = crate::engine::wait::reply_slot();
    env.request(MainReq { target, args, reply: Reply::Sync(slot.clone()) });
    slot
}

/// Like `call_node`, but the wait ends early when a frame of this isolate is
/// killed (a timeout, dispose): for `applySyncPromise`, whose Node promise
/// may take any time to settle, or never.
pub fn call_node_abortable(
    scope: &mut v8::PinScope,
    st: &State,
    env: &Arc<crate::node::envlink::EnvLink>,
    target: Target,
    args: Vec<Transfer>,
) -> Outcome {
    let slot = request_sync(env, target, args);
    wait_abortable(scope, st, SyncReply::Slot(slot), &st.host.spin_as_isolate()).unwrap_or(Err(Failure::Disposed))
}

/// Waits for `slot`, serving this isolate's incoming sync calls; gives up
/// (None) when any frame of this isolate is killed (a timeout of this call
/// or of one it is nested in, dispose).
pub fn wait_abortable(scope: &mut v8::PinScope, st: &State, reply: SyncReply, spin: &crate::engine::wait::Spin) -> Option<Outcome> {
    let host = st.host.clone();
    // No epoch seen yet: the first idle turn checks the frames. A kill that
    // lands between the request and the first look (Node may run the
    // function and dispose before this thread gets here) is not missed.
    let mut epoch = None;
    reply.wait_or(Some(spin), |_| {
        if runner::serve_nested(scope, st) {
            return Step::Worked;
        }
        let now = host.kill_epoch();
        if epoch != Some(now) {
            epoch = Some(now);
            if host.any_frame_killed() {
                return Step::Abandon;
            }
        }
        Step::Idle
    })
}

/// Queues `target` on Node's thread; the returned promise settles with it.
pub fn call_node_async<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    env: &Arc<crate::node::envlink::EnvLink>,
    target: Target,
    args: Vec<Transfer>,
) -> Option<v8::Local<'s, v8::Promise>> {
    let resolver = v8::PromiseResolver::new(scope)?;
    let reply = Reply::Async(settle_later(scope, st, resolver));
    env.request(MainReq { target, args, reply });
    Some(resolver.get_promise(scope))
}

/// Keeps `resolver` and returns where an outcome for it goes from any
/// thread: a task on this isolate that settles it.
pub fn settle_later<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    resolver: v8::Local<'s, v8::PromiseResolver>,
) -> Box<dyn FnOnce(Outcome) + Send> {
    let rid = st.keep_resolver(scope, resolver);
    let host = st.host.clone();
    Box::new(move |out: Outcome| crate::transfer::promise::settle_later(&host, rid, out))
}

pub fn settle_value<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, out: Outcome, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    settle_in_guest(scope, st, out, rv)
}

fn settle_in_guest<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, out: Outcome, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    match out {
        Ok(t) => match materialize(scope, st, t) {
            Ok(v) => rv.set(v),
            Err(f) => throw_failure(scope, st, f),
        },
        Err(f) => throw_failure(scope, st, f),
    }
}
