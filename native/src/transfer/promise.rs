//! `{promise: true}`: a guest promise crossing to Node as a Node promise that
//! settles with the transferred result. If the isolate goes away first, the
//! Node promise rejects with "Promise was abandoned".

use std::sync::Arc;

use neon::types::Deferred;

use super::capture::capture;
use super::error::capture_exception;
use super::{Failure, Mode, Outcome, Transfer};
use crate::engine::runner::State;
use crate::node::envlink::EnvLink;

/// Settles one Node promise (on the Node thread, via the env's completions).
pub struct Settler {
    link: Arc<EnvLink>,
    deferred: Option<Deferred>,
    pub mode: Mode,
}

impl Settler {
    pub fn new(link: Arc<EnvLink>, deferred: Deferred, mode: Mode) -> Settler {
        Settler { link, deferred: Some(deferred), mode }
    }
    pub fn settle(mut self, out: Outcome) {
        if let Some(d) = self.deferred.take() {
            self.link.complete(d, None, out);
        }
    }
}

impl Drop for Settler {
    fn drop(&mut self) {
        if let Some(d) = self.deferred.take() {
            self.link.complete(d, None, Err(Failure::error("Promise was abandoned")));
        }
    }
}

/// The result of a call made with `{promise: true}`: settles the call's
/// Node promise now (a plain value, or a promise already settled) or when
/// the guest promise settles.
pub fn settle_with<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>, s: Settler) {
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
            s.settle(Err(capture_exception(scope, Some(r))));
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

fn id_of(args: &v8::FunctionCallbackArguments) -> Option<u64> {
    v8::Local::<v8::BigInt>::try_from(args.data()).ok().map(|b| b.u64_value().0)
}

fn on_fulfilled<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, _rv: v8::ReturnValue<'s, v8::Value>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = scope.get_slot::<std::rc::Rc<State>>().cloned() else { return };
        let Some(s) = id_of(&args).and_then(|id| st.take_settler(id)) else { return };
        let mode = s.mode;
        s.settle(capture(scope, &st, args.get(0), mode));
    }));
}

fn on_rejected<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, _rv: v8::ReturnValue<'s, v8::Value>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = scope.get_slot::<std::rc::Rc<State>>().cloned() else { return };
        let Some(s) = id_of(&args).and_then(|id| st.take_settler(id)) else { return };
        s.settle(Err(capture_exception(scope, Some(args.get(0)))));
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
