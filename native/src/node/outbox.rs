//! The fast lane for a guest's sync call into Node. A guest thread blocked
//! on Node's reply owns everything the call needs, so instead of queueing a
//! request (allocated by one thread, freed by the other, with reference
//! counts bumped on both sides) it posts a pointer to its own call record in
//! the environment's one-slot lane; Node runs the call in place, writes the
//! outcome into the record and flips its state. Each call then moves a few
//! cache lines between the two cores instead of a dozen. A lane already in
//! use sends the caller to the queue (`EnvLink::request`).

use std::cell::RefCell;

use neon::prelude::*;

use super::envlink::EnvLink;
use super::host::{self, Target};
use crate::engine::record::{self, Record, Request};
use crate::engine::wait::Spin;
use crate::transfer::{Outcome, Transfer};

/// A guest's sync call into Node. Node drains the arguments in place and
/// leaves the buffer, so it is allocated and freed by the calling thread.
pub struct NodeCall {
    target: Target,
    args: Vec<Transfer>,
}

thread_local! {
    static FREE: RefCell<Vec<Box<Record<NodeCall>>>> = const { RefCell::new(Vec::new()) };
}

impl Request for NodeCall {
    fn pool() -> &'static std::thread::LocalKey<RefCell<Vec<Box<Record<NodeCall>>>>> {
        &FREE
    }
    fn recycle(self) {
        let mut args = self.args;
        if args.capacity() <= 16 {
            args.clear();
            ARGS.with(|a| a.set(args));
        }
    }
}

thread_local! {
    /// The argument buffer of this thread's last call (see `args_buffer`).
    static ARGS: std::cell::Cell<Vec<Transfer>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An empty buffer for the arguments of a call into Node, with room for
/// `n`: the last call's, when there is one.
pub fn args_buffer(n: usize) -> Vec<Transfer> {
    let mut v = ARGS.with(|a| a.take());
    v.reserve(n);
    v
}

/// The lane in an environment.
pub type Lane = record::Lane<NodeCall>;

/// A posted call, waiting for Node.
pub struct Posted(record::Posted<NodeCall>);

/// Posts `target(args)` in `link`'s lane. When the lane is taken the call
/// comes back to be queued.
pub fn post(link: &EnvLink, target: Target, args: Vec<Transfer>) -> Result<Posted, (Target, Vec<Transfer>)> {
    if link.is_closed() {
        return Err((target, args));
    }
    let posted = link.lane().post(NodeCall { target, args }).map_err(|c| (c.target, c.args))?;
    if link.is_closed() {
        // Closed meanwhile: take the call back unless the closing thread
        // took it (then it fails it).
        link.lane().recall(&posted, || Err(super::envlink::gone()));
        return Ok(Posted(posted));
    }
    link.wake();
    Ok(Posted(posted))
}

impl Posted {
    /// Waits for Node's outcome, running `service` meanwhile (work that
    /// arrives for this thread, e.g. Node calling back in); it returns
    /// whether it did any.
    pub fn wait(self, spin: &Spin, service: impl FnMut() -> bool) -> Outcome {
        self.0.wait(Some(spin), service)
    }
}

/// Runs the call waiting in `link`'s lane, if any (Node's thread); returns
/// whether there was one.
pub fn serve<'a>(cx: &mut impl Context<'a>, link: &EnvLink) -> bool {
    let Some(taken) = link.lane().take() else { return false };
    // SAFETY: taken out of the lane and not finished until below.
    let call = unsafe { &mut *taken.req() };
    let out = super::envlink::unwinding(|| cx.execute_scoped(|mut cx| host::call_sync(&mut cx, &call.target, &mut call.args)));
    taken.finish(out.unwrap_or_else(|| Err(super::envlink::gone())));
    true
}

/// Fails the call waiting in `link`'s lane, if any (the environment is gone).
pub fn fail_posted(link: &EnvLink) {
    if let Some(taken) = link.lane().take() {
        taken.finish(Err(super::envlink::gone()));
    }
}
