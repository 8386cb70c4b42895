//! The fast lane for a guest's sync call into Node. A guest thread blocked
//! on Node's reply owns everything the call needs, so instead of queueing a
//! request (allocated by one thread, freed by the other, with reference
//! counts bumped on both sides) it posts a pointer to its own call record in
//! the environment's one-slot lane; Node runs the call in place, writes the
//! outcome into the record and flips its state. Each call then moves a few
//! cache lines between the two cores instead of a dozen. A lane already in
//! use sends the caller to the queue (`EnvLink::request`).

use std::cell::{RefCell, UnsafeCell};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use neon::prelude::*;

use super::envlink::EnvLink;
use super::host::{self, Target};
use crate::engine::wait::{relax, Spin};
use crate::transfer::{Outcome, Transfer};

/// The record is the caller's: filled, not posted.
const IDLE: u32 = 0;
/// Posted: Node may take and run it.
const POSTED: u32 = 1;
/// Node wrote the outcome and will not touch the record again.
const DONE: u32 = 2;
/// Added to POSTED by a caller about to park: Node must unpark it.
const PARKED: u32 = 4;

/// One sync call into Node, owned by the calling (isolate) thread.
#[repr(align(128))]
pub struct Record {
    state: AtomicU32,
    target: UnsafeCell<Option<Target>>,
    /// Node drains the arguments and leaves the buffer, so it is allocated
    /// and freed by the calling thread only.
    args: UnsafeCell<Vec<Transfer>>,
    outcome: UnsafeCell<Option<Outcome>>,
    waiter: std::thread::Thread,
}

// SAFETY: the fields behind UnsafeCell are used by one thread at a time: the
// caller until it publishes POSTED (release), Node from taking the record out
// of the lane until it publishes DONE (release), the caller again after it
// observes DONE (acquire).
unsafe impl Sync for Record {}

thread_local! {
    /// Free records of this thread (calls nest: guest -> Node -> guest ->
    /// Node needs one record per level).
    static FREE: RefCell<Vec<Box<Record>>> = const { RefCell::new(Vec::new()) };
}

/// The lane in an environment: the record posted and not yet taken.
#[derive(Default)]
pub struct Lane(AtomicPtr<Record>);

impl Lane {
    /// Whether a record waits (a cheap look for spinning waiters).
    #[inline]
    pub fn busy(&self) -> bool {
        !self.0.load(Ordering::Relaxed).is_null()
    }

    fn take(&self) -> Option<&Record> {
        if !self.busy() {
            return None;
        }
        let p = self.0.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a posted record stays alive and untouched by its owner
        // until Node marks it DONE (see `Posted::wait`).
        unsafe { p.as_ref() }
    }
}

/// A posted call, waiting for Node.
pub struct Posted(Option<Box<Record>>);

/// Posts `target(args)` in `link`'s lane. When the lane is taken the call
/// comes back to be queued.
pub fn post(link: &EnvLink, target: Target, mut args: Vec<Transfer>) -> Result<Posted, (Target, Vec<Transfer>)> {
    if link.is_closed() {
        return Err((target, args));
    }
    let rec = FREE.with(|f| f.borrow_mut().pop()).unwrap_or_else(|| {
        Box::new(Record {
            state: AtomicU32::new(IDLE),
            target: UnsafeCell::new(None),
            args: UnsafeCell::new(Vec::new()),
            outcome: UnsafeCell::new(None),
            waiter: std::thread::current(),
        })
    });
    // SAFETY: IDLE: only this thread uses the record.
    unsafe {
        *rec.target.get() = Some(target);
        std::mem::swap(&mut *rec.args.get(), &mut args);
    }
    drop(args); // the (empty) buffer of an earlier call, freed here
    rec.state.store(POSTED, Ordering::Relaxed);
    let p = &*rec as *const Record as *mut Record;
    if link.lane().0.compare_exchange(std::ptr::null_mut(), p, Ordering::SeqCst, Ordering::Relaxed).is_err() {
        rec.state.store(IDLE, Ordering::Relaxed);
        // SAFETY: not published: still only this thread's.
        let back = unsafe { ((*rec.target.get()).take().unwrap(), std::mem::take(&mut *rec.args.get())) };
        FREE.with(|f| f.borrow_mut().push(rec));
        return Err(back);
    }
    if link.is_closed() {
        // Closed meanwhile: take the call back unless the closing thread
        // took it (then it fails it).
        if link.lane().0.compare_exchange(p, std::ptr::null_mut(), Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            // SAFETY: taken back before Node saw it: only this thread's.
            unsafe { *rec.outcome.get() = Some(Err(super::envlink::gone())) };
            rec.state.store(DONE, Ordering::Relaxed);
        }
        return Ok(Posted(Some(rec)));
    }
    link.wake();
    Ok(Posted(Some(rec)))
}

impl Posted {
    /// Waits for Node's outcome, running `service` meanwhile (work that
    /// arrives for this thread, e.g. Node calling back in); it returns
    /// whether it did any.
    pub fn wait(mut self, spin: &Spin, mut service: impl FnMut() -> bool) -> Outcome {
        let rec = self.0.take().expect("a posted record");
        let mut start = std::time::Instant::now();
        let mut i = 0u32;
        loop {
            let s = rec.state.load(Ordering::Acquire);
            if s == DONE {
                break;
            }
            if service() {
                start = std::time::Instant::now();
                i = 0;
                continue;
            }
            i = i.wrapping_add(1);
            if i < crate::engine::runner::SPIN || i % 64 != 0 || start.elapsed() <= crate::engine::runner::SPIN_TIME {
                relax(i, Some(spin));
                continue;
            }
            if s & PARKED == 0
                && rec.state.compare_exchange(s, s | PARKED, Ordering::AcqRel, Ordering::Acquire).is_err()
            {
                continue;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(20));
        }
        // SAFETY: DONE (acquire): Node is finished with the record.
        let out = unsafe {
            (*rec.target.get()).take();
            (*rec.outcome.get()).take()
        };
        rec.state.store(IDLE, Ordering::Relaxed);
        FREE.with(|f| f.borrow_mut().push(rec));
        out.expect("an outcome with DONE")
    }
}

impl Drop for Posted {
    fn drop(&mut self) {
        // A posted record must not be freed before Node is done with it:
        // `wait` consumes it. Unreachable unless the wait itself panicked.
        if let Some(rec) = self.0.take() {
            std::mem::forget(rec);
        }
    }
}

/// Runs the call waiting in `link`'s lane, if any (Node's thread); returns
/// whether there was one.
pub fn serve<'a>(cx: &mut impl Context<'a>, link: &EnvLink) -> bool {
    let Some(rec) = link.lane().take() else { return false };
    // SAFETY: taken out of the lane: Node's until it publishes DONE.
    let (target, args) = unsafe { ((*rec.target.get()).as_ref().expect("a posted target"), &mut *rec.args.get()) };
    let out = super::envlink::unwinding(|| cx.execute_scoped(|mut cx| host::call_sync(&mut cx, target, args)));
    finish(rec, out.unwrap_or_else(|| Err(super::envlink::gone())));
    true
}

/// Fails the call waiting in `link`'s lane, if any (the environment is gone).
pub fn fail_posted(link: &EnvLink) {
    if let Some(rec) = link.lane().take() {
        finish(rec, Err(super::envlink::gone()));
    }
}

/// Hands `out` to the record's caller; the record is not touched after.
fn finish(rec: &Record, out: Outcome) {
    // SAFETY: taken out of the lane: ours until DONE is published.
    unsafe { *rec.outcome.get() = Some(out) };
    let mut s = rec.state.load(Ordering::Acquire);
    loop {
        if s & PARKED != 0 {
            // The caller parks until DONE: the record (and its thread
            // handle) are still there to read.
            let waiter = rec.waiter.clone();
            rec.state.store(DONE, Ordering::Release);
            waiter.unpark();
            return;
        }
        match rec.state.compare_exchange_weak(s, DONE, Ordering::Release, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => s = now,
        }
    }
}
