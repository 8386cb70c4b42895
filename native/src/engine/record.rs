//! Call records: the fast lane for a blocking call from one thread to
//! another. The blocked caller owns everything the call needs, so instead of
//! queueing a request (allocated by one thread, freed by the other, with
//! reference counts bumped on both sides) it posts a pointer to its own
//! record in the callee's one-slot lane; the callee runs the request in
//! place, writes the outcome into the record and flips its state. A call
//! then moves a few cache lines between the two cores instead of a dozen,
//! and the callee touches the caller's thread handle only if the caller
//! ran out of spinning and parked. A lane already in use sends the caller
//! to a queue.
//!
//! Two lanes use it: Node -> isolate sync calls (`IsolateHost`) and a
//! guest's sync calls into Node (`node::outbox`).

use std::cell::{RefCell, UnsafeCell};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::thread::LocalKey;

use super::wait::{Backoff, Spin, Step};
use crate::transfer::Outcome;

/// The record is its owner's: not posted.
const IDLE: u32 = 0;
/// Posted: the callee may take and run it.
const POSTED: u32 = 1;
/// The callee wrote the outcome and will not touch the record again.
const DONE: u32 = 2;
/// The caller stopped waiting: whoever finishes the call frees the record.
const ABANDONED: u32 = 3;
/// Added to POSTED by a caller about to park: the callee must unpark it.
const PARKED: u32 = 4;

/// One blocking call, owned by the calling thread.
#[repr(align(128))]
pub struct Record<R> {
    state: AtomicU32,
    req: UnsafeCell<Option<R>>,
    outcome: UnsafeCell<Option<Outcome>>,
    waiter: std::thread::Thread,
}

// SAFETY: the fields behind UnsafeCell are used by one thread at a time: the
// caller until it publishes POSTED (release), the callee from taking the
// record out of the lane until it publishes DONE (release), the caller again
// after it observes DONE (acquire). An abandoned record belongs to the callee.
unsafe impl<R: Send> Sync for Record<R> {}
// SAFETY: as above.
unsafe impl<R: Send> Send for Record<R> {}

/// What a lane carries; each kind keeps a pool of free records per thread
/// (calls nest: A -> B -> A -> B needs one record per level).
pub trait Request: Sized + Send + 'static {
    fn pool() -> &'static LocalKey<RefCell<Vec<Box<Record<Self>>>>>;
    /// Called on the caller's thread once the call is over (to keep its
    /// buffers for the next call).
    fn recycle(self) {}
}

/// A one-slot lane: the record posted and not yet taken.
pub struct Lane<R>(AtomicPtr<Record<R>>);

impl<R> Default for Lane<R> {
    fn default() -> Self {
        Lane(AtomicPtr::new(std::ptr::null_mut()))
    }
}

impl<R: Request> Lane<R> {
    /// Whether a record waits (a cheap look for spinning threads).
    #[inline]
    pub fn busy(&self) -> bool {
        !self.0.load(Ordering::Relaxed).is_null()
    }

    /// Takes the posted record, if any: the taker must `finish` it.
    pub fn take(&self) -> Option<Taken<R>> {
        if !self.busy() {
            return None;
        }
        let p = self.0.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a posted record stays alive until it is finished (its
        // owner waits for DONE, or gave it up to whoever finishes it).
        unsafe { p.as_ref() }.map(|rec| Taken(rec as *const Record<R>))
    }

    /// Posts `req`. When the lane is taken it comes back to be queued.
    pub fn post(&self, req: R) -> Result<Posted<R>, R> {
        let rec = R::pool().with(|f| f.borrow_mut().pop()).unwrap_or_else(|| {
            Box::new(Record {
                state: AtomicU32::new(IDLE),
                req: UnsafeCell::new(None),
                outcome: UnsafeCell::new(None),
                waiter: std::thread::current(),
            })
        });
        // SAFETY: IDLE: only this thread uses the record.
        unsafe { *rec.req.get() = Some(req) };
        rec.state.store(POSTED, Ordering::Relaxed);
        let p = &*rec as *const Record<R> as *mut Record<R>;
        if self.0.compare_exchange(std::ptr::null_mut(), p, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            rec.state.store(IDLE, Ordering::Relaxed);
            // SAFETY: not published: still only this thread's.
            let back = unsafe { (*rec.req.get()).take().expect("a request") };
            R::pool().with(|f| f.borrow_mut().push(rec));
            return Err(back);
        }
        Ok(Posted(Some(rec)))
    }

    /// Takes a record just posted back out, unless the callee took it
    /// first; then the caller fails it with `out` (the callee is going away).
    pub fn recall(&self, posted: &Posted<R>, out: impl FnOnce() -> Outcome) {
        let Some(rec) = &posted.0 else { return };
        let p = &**rec as *const Record<R> as *mut Record<R>;
        if self.0.compare_exchange(p, std::ptr::null_mut(), Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            Taken(p as *const Record<R>).finish(out());
        }
    }
}

impl<R> Drop for Lane<R> {
    fn drop(&mut self) {
        let p = self.0.swap(std::ptr::null_mut(), Ordering::Acquire);
        if !p.is_null() {
            // Nobody waits on a record left in a lane being dropped (a
            // waiter keeps the lane's owner alive), so it was abandoned.
            finish_raw(p, Err(crate::transfer::Failure::IsolateDisposed));
        }
    }
}

/// A record taken out of a lane by the callee.
pub struct Taken<R>(*const Record<R>);

impl<R> Taken<R> {
    /// The request, in place (the caller drops it on its own thread). The
    /// callee may use it until it calls `finish`, not after.
    pub fn req(&self) -> *mut R {
        // SAFETY: taken out of the lane: the callee's until DONE.
        unsafe { (*(*self.0).req.get()).as_mut().expect("a posted request") as *mut R }
    }

    /// Hands `out` to the caller; the record is not touched after.
    pub fn finish(self, out: Outcome) {
        finish_raw(self.0, out)
    }
}

// SAFETY: a taken record is handed between threads only as a whole (the
// callee owns it until it finishes it).
unsafe impl<R: Send> Send for Taken<R> {}

fn finish_raw<R>(p: *const Record<R>, out: Outcome) {
    // SAFETY: the callee's until DONE is published.
    let rec = unsafe { &*p };
    // SAFETY: as above; the caller reads it only after DONE.
    unsafe { *rec.outcome.get() = Some(out) };
    let mut s = rec.state.load(Ordering::Acquire);
    loop {
        if s == ABANDONED {
            // The caller is gone: the record (outcome included) is ours.
            // SAFETY: records are boxes; an abandoned one is owned by the
            // callee, and nothing else refers to it any more.
            drop(unsafe { Box::from_raw(p as *mut Record<R>) });
            return;
        }
        // A parked caller is unparked through a handle read before DONE:
        // after it, the record may be reused.
        let waiter = (s & PARKED != 0).then(|| rec.waiter.clone());
        match rec.state.compare_exchange(s, DONE, Ordering::Release, Ordering::Acquire) {
            Ok(_) => {
                if let Some(w) = waiter {
                    w.unpark();
                }
                return;
            }
            Err(now) => s = now,
        }
    }
}

/// A posted call, waiting for the callee.
pub struct Posted<R: Request>(Option<Box<Record<R>>>);

impl<R: Request> Posted<R> {
    /// Waits for the outcome, running `service` meanwhile (work that
    /// arrives for this thread, e.g. the callee calling back in); its
    /// argument says whether the thread has started parking. Work done
    /// restarts the spin. `Step::Abandon` gives the call up (None): the
    /// record then belongs to whoever finishes it.
    pub fn wait_or(mut self, spin: Option<&Spin>, mut service: impl FnMut(bool) -> Step) -> Option<Outcome> {
        let rec = self.0.take().expect("a posted record");
        let mut backoff = Backoff::new();
        loop {
            let s = rec.state.load(Ordering::Acquire);
            if s == DONE {
                backoff.done();
                break;
            }
            match service(backoff.parked()) {
                Step::Abandon => {
                    if rec.state.compare_exchange(s, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                        std::mem::forget(rec);
                        return None;
                    }
                    // Finished meanwhile (or marked parked): look again.
                    continue;
                }
                Step::Worked => {
                    backoff.restart();
                    continue;
                }
                Step::Idle => {}
            }
            if !backoff.parked() {
                backoff.spin(spin);
                continue;
            }
            if s & PARKED == 0 && rec.state.compare_exchange(s, s | PARKED, Ordering::AcqRel, Ordering::Acquire).is_err() {
                continue;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(20));
        }
        // SAFETY: DONE (acquire): the callee is finished with the record.
        let (out, req) = unsafe { ((*rec.outcome.get()).take(), (*rec.req.get()).take()) };
        rec.state.store(IDLE, Ordering::Relaxed);
        if let Some(req) = req {
            req.recycle();
        }
        R::pool().with(|f| f.borrow_mut().push(rec));
        Some(out.expect("an outcome with DONE"))
    }

    /// Waits for the outcome (see `wait_or`); `service` returns whether it
    /// did any work.
    pub fn wait(self, spin: Option<&Spin>, mut service: impl FnMut() -> bool) -> Outcome {
        self.wait_or(spin, |_| if service() { Step::Worked } else { Step::Idle })
            .expect("a wait that is never abandoned")
    }
}

impl<R: Request> Drop for Posted<R> {
    fn drop(&mut self) {
        // A posted record must not be freed before the callee is done with
        // it: `wait_or` consumes it. Unreachable unless a wait panicked.
        if let Some(rec) = self.0.take() {
            std::mem::forget(rec);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::Transfer;

    struct Num(f64);
    thread_local! {
        static POOL: RefCell<Vec<Box<Record<Num>>>> = const { RefCell::new(Vec::new()) };
    }
    impl Request for Num {
        fn pool() -> &'static LocalKey<RefCell<Vec<Box<Record<Num>>>>> {
            &POOL
        }
    }

    fn serve(lane: &Lane<Num>, delay_ms: u64) {
        loop {
            if let Some(t) = lane.take() {
                std::thread::sleep(std::time::Duration::from_millis(delay_ms));
                // SAFETY: taken, not finished yet.
                let n = unsafe { &*t.req() }.0;
                t.finish(Ok(Transfer::Number(n * 2.0)));
                return;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_posted_call_is_answered_fast_or_after_the_caller_parked() {
        let lane = std::sync::Arc::new(Lane::<Num>::default());
        for delay in [0u64, 5] {
            let l = lane.clone();
            let t = std::thread::spawn(move || serve(&l, delay));
            let posted = lane.post(Num(21.0)).ok().expect("a free lane");
            match posted.wait(None, || false) {
                Ok(Transfer::Number(n)) => assert_eq!(n, 42.0),
                _ => panic!("wrong outcome"),
            }
            t.join().unwrap();
        }
    }

    #[test]
    fn a_busy_lane_gives_the_request_back() {
        let lane = Lane::<Num>::default();
        let first = lane.post(Num(1.0)).ok().expect("a free lane");
        let Err(Num(n)) = lane.post(Num(2.0)) else { panic!("posted twice") };
        assert_eq!(n, 2.0);
        lane.take().expect("the first").finish(Ok(Transfer::Undefined));
        assert!(first.wait(None, || false).is_ok());
    }

    #[test]
    fn an_abandoned_record_is_freed_by_whoever_finishes_it() {
        let lane = Lane::<Num>::default();
        let posted = lane.post(Num(1.0)).ok().expect("a free lane");
        assert!(posted.wait_or(None, |_| Step::Abandon).is_none());
        // Still in the lane: the callee finishes (and frees) it.
        lane.take().expect("the abandoned record").finish(Ok(Transfer::Undefined));
        // And one abandoned while still posted is freed with the lane.
        let posted = lane.post(Num(2.0)).ok().expect("a free lane");
        assert!(posted.wait_or(None, |_| Step::Abandon).is_none());
        drop(lane);
    }
}
