//! `{promise: true}`: a guest promise crossing to Node as a Node promise that
//! settles with the transferred result. If the isolate goes away first, the
//! Node promise rejects with "Promise was abandoned".

use std::sync::Arc;

use neon::types::Deferred;

use super::capture::capture;
use super::error::capture_rejection;
use super::{Failure, Fallback, Mode, Outcome, Transfer};
use crate::engine::runner::State;
use crate::node::envlink::EnvLink;

/// Settles one promise of the caller: a Node promise (on the Node thread,
/// via the env's completions) or a guest's (a call made by guest code).
pub struct Settler {
    to: Option<SettleTo>,
    pub mode: Mode,
}

enum SettleTo {
    Node(Arc<EnvLink>, Deferred),
    /// Where the outcome goes (it settles the guest's promise on its thread).
    Guest(Box<dyn FnOnce(Outcome) + Send>),
    /// A promise in flight to another isolate or to Node (`{promise: true}`
    /// on a value a guest sends).
    Pending(Arc<Pending>),
}

impl Settler {
    pub fn new(link: Arc<EnvLink>, deferred: Deferred, mode: Mode) -> Settler {
        Settler { to: Some(SettleTo::Node(link, deferred)), mode }
    }
    pub fn for_guest(done: Box<dyn FnOnce(Outcome) + Send>, mode: Mode) -> Settler {
        Settler { to: Some(SettleTo::Guest(done)), mode }
    }
    pub fn pending(p: Arc<Pending>, mode: Mode) -> Settler {
        Settler { to: Some(SettleTo::Pending(p)), mode }
    }
    pub fn settle(mut self, out: Outcome) {
        // A value that could not be taken because the isolate was being
        // stopped (dispose, memory limit) is no result: the promise is
        // abandoned.
        let out = match out {
            Err(f) if f.is_terminated() => Err(Failure::error("Promise was abandoned")),
            o => o,
        };
        self.deliver(out);
    }
    fn deliver(&mut self, out: Outcome) {
        match self.to.take() {
            Some(SettleTo::Node(link, d)) => link.complete(d, None, out),
            Some(SettleTo::Guest(done)) => done(out),
            Some(SettleTo::Pending(p)) => p.settle(out),
            None => {}
        }
    }
}

impl Drop for Settler {
    fn drop(&mut self) {
        self.deliver(Err(Failure::error("Promise was abandoned")));
    }
}

/// `{promise: true}` on a value leaving an isolate (arguments, set values):
/// a promise in flight that settles with `v` (or what `v` settles with),
/// transferred under `mode`.
pub fn capture_promise<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, mode: Mode) -> Transfer {
    let p = Pending::new();
    settle_with(scope, st, v, Settler::pending(p.clone(), mode));
    Transfer::Promise(p)
}

/// The result of a call made with `{promise: true}`: settles the call's
/// Node promise now (a plain value, or a promise already settled) or when
/// the guest promise settles.
pub fn settle_with<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, mut s: Settler) {
    s.mode = settled_mode(s.mode);
    let Ok(p) = v8::Local::<v8::Promise>::try_from(v) else {
        let mode = s.mode;
        return s.settle(capture(scope, st, v, mode));
    };
    match p.state() {
        v8::PromiseState::Fulfilled => {
            let r = p.result(scope);
            let mode = s.mode;
            s.settle(capture(scope, st, r, mode));
        }
        v8::PromiseState::Rejected => {
            p.mark_as_handled();
            let r = p.result(scope);
            s.settle(Err(capture_rejection(scope, r)));
        }
        v8::PromiseState::Pending => {
            let id = st.keep_settler(s);
            let data: v8::Local<v8::Value> = v8::BigInt::new_from_u64(scope, id).into();
            let ok = v8::Function::builder(on_fulfilled).data(data).build(scope);
            let err = v8::Function::builder(on_rejected).data(data).build(scope);
            if let (Some(ok), Some(err)) = (ok, err) {
                p.then2(scope, ok, err);
            }
        }
    }
}

/// The mode a promised value is transferred under. As in isolated-vm, the
/// methods whose plain results turn untransferable values into `undefined`
/// (eval, run) reject the promise instead.
fn settled_mode(m: Mode) -> Mode {
    match m {
        Mode::Default(Fallback::Undefined) => Mode::Default(Fallback::Reject),
        m => m,
    }
}

fn id_of(args: &v8::FunctionCallbackArguments) -> Option<u64> {
    v8::Local::<v8::BigInt>::try_from(args.data()).ok().map(|b| b.u64_value().0)
}

pub(crate) fn on_fulfilled<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, _rv: v8::ReturnValue<'s, v8::Value>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = scope.get_slot::<std::rc::Rc<State>>().cloned() else { return };
        let Some(s) = id_of(&args).and_then(|id| st.take_settler(id)) else { return };
        let mode = s.mode;
        s.settle(capture(scope, &st, args.get(0), mode));
    }));
}

pub(crate) fn on_rejected<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, _rv: v8::ReturnValue<'s, v8::Value>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = scope.get_slot::<std::rc::Rc<State>>().cloned() else { return };
        let Some(s) = id_of(&args).and_then(|id| st.take_settler(id)) else { return };
        s.settle(Err(capture_rejection(scope, args.get(0))));
    }));
}

/// Wraps an op so that its result settles `settler` (the call itself then
/// yields undefined). Failures before a result (compile errors, a released
/// handle) settle it too.
pub fn wrap(op: crate::engine::isolate::Job, settler: Settler) -> crate::engine::isolate::Job {
    Box::new(move |iso, st| {
        let seq = st.current_seq();
        st.push_result_settler(seq, settler);
        let out = op(iso, st);
        match st.pop_result_settler(seq) {
            Some(s) => {
                // A killed call's own outcome is replaced by the runner; the
                // promise gets the same reason.
                let out = match (out, st.host.frame_kill(seq)) {
                    (Err(_), Some(k)) => Err(k.failure()),
                    (out, _) => out,
                };
                s.settle(out);
                Ok(Transfer::Undefined)
            }
            None => out.map(|_| Transfer::Undefined),
        }
    })
}

/// Transfers a call's result: through the call's settler if it was made with
/// `{promise: true}`, else as usual.
pub fn result<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, mode: Mode) -> Outcome {
    match st.pop_result_settler(st.current_seq()) {
        Some(s) => {
            settle_with(scope, st, v, s);
            Ok(Transfer::Undefined)
        }
        None => capture(scope, st, v, mode),
    }
}

// ---------------------------------------------------------------------------
// Node promises sent into a guest (`{promise: true}` on arguments and set
// values): the guest gets its own promise, settled when Node's settles.

/// A Node promise on its way into (or already in) a guest.
pub struct Pending {
    state: parking_lot::Mutex<PendingState>,
}

enum PendingState {
    /// Not settled, not yet materialised.
    Waiting,
    /// Settled before the guest's promise existed.
    Settled(Outcome),
    /// Materialised: the guest resolver to settle, on that isolate's thread.
    Attached(std::sync::Weak<crate::engine::isolate::IsolateHost>, u64),
    /// Arrived in Node: the Node promise to settle.
    InNode(Arc<EnvLink>, Deferred),
    Done,
}

impl Pending {
    pub fn new() -> Arc<Pending> {
        Arc::new(Pending { state: parking_lot::Mutex::new(PendingState::Waiting) })
    }

    /// Node's promise settled (Node's thread).
    pub fn settle(&self, out: Outcome) {
        let mut s = self.state.lock();
        match std::mem::replace(&mut *s, PendingState::Done) {
            PendingState::Waiting => *s = PendingState::Settled(out),
            PendingState::Attached(host, rid) => {
                drop(s);
                if let Some(host) = host.upgrade() {
                    settle_later(&host, rid, out);
                }
            }
            PendingState::InNode(link, deferred) => {
                drop(s);
                link.complete(deferred, None, out);
            }
            other => *s = other,
        }
    }

    /// Arrives in Node as `deferred`'s promise (Node's thread); `link` was
    /// registered as a call in flight.
    pub fn attach_node(&self, link: Arc<EnvLink>, deferred: Deferred) {
        let mut s = self.state.lock();
        match std::mem::replace(&mut *s, PendingState::Done) {
            PendingState::Waiting => *s = PendingState::InNode(link, deferred),
            PendingState::Settled(out) => {
                drop(s);
                link.complete(deferred, None, out);
            }
            _ => {
                drop(s);
                link.complete(deferred, None, Err(Failure::error("A promise can only be sent once")));
            }
        }
    }

    /// Makes the guest's promise (isolate thread).
    pub fn materialize<'s>(&self, scope: &mut v8::PinScope<'s, '_>, st: &State) -> Result<v8::Local<'s, v8::Value>, Failure> {
        let resolver = v8::PromiseResolver::new(scope).ok_or_else(|| Failure::error("Could not create a promise"))?;
        let promise = resolver.get_promise(scope);
        let mut s = self.state.lock();
        match std::mem::replace(&mut *s, PendingState::Done) {
            PendingState::Waiting => {
                let rid = st.keep_resolver(scope, resolver);
                *s = PendingState::Attached(Arc::downgrade(&st.host), rid);
            }
            PendingState::Settled(out) => {
                drop(s);
                let rid = st.keep_resolver(scope, resolver);
                settle_later(&st.host, rid, out);
            }
            other @ (PendingState::Attached(..) | PendingState::InNode(..) | PendingState::Done) => {
                *s = other;
                return Err(Failure::error("A promise can only be sent once"));
            }
        }
        Ok(promise.into())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Node dropped the promise without settling it (its environment went
        // away): the guest's promise is abandoned.
        match std::mem::replace(&mut *self.state.lock(), PendingState::Done) {
            PendingState::Attached(host, rid) => {
                if let Some(host) = host.upgrade() {
                    settle_later(&host, rid, Err(Failure::error("Promise was abandoned")));
                }
            }
            PendingState::InNode(link, deferred) => link.complete(deferred, None, Err(Failure::error("Promise was abandoned"))),
            _ => {}
        }
    }
}

/// Settles a kept guest resolver from a task on its isolate's queue.
/// Settles the kept resolver `rid` of `host` with `out`, on that isolate's
/// thread (a task there).
pub fn settle_later(host: &Arc<crate::engine::isolate::IsolateHost>, rid: u64, out: Outcome) {
    host.submit_task(crate::engine::isolate::Call::new(
        Box::new(move |iso, st| {
            st.settle_resolver(iso, rid, out);
            Ok(Transfer::Undefined)
        }),
        None,
        crate::engine::isolate::Done::f(|_| {}),
    ));
}
