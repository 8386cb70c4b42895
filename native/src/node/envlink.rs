//! How isolate threads reach a Node environment: the completions of async
//! calls, and calls into Node (host functions called by guests).
//!
//! Isolate threads push finished calls onto their environment's completion
//! queue. While calls are in flight the JS layer
//! polls that queue from `setImmediate` (the event loop never sleeps, so no
//! thread wake-up is paid); once polling stops, a completion wakes the loop
//! through an (unreferenced) Node-API thread-safe function instead.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver, Sender};
use neon::prelude::*;
use neon::thread::LocalKey;
use neon::types::buffer::TypedArray;
use neon::types::Deferred;
use parking_lot::Mutex;

use super::call::settle;
use super::host::MainReq;
use super::helpers;
use crate::transfer::Outcome;

/// Keep polling for this many event-loop turns (~2 µs each) without a
/// completion or a new call before letting the loop sleep.
const POLL_TURNS: usize = 150;

pub struct Completion {
    deferred: Deferred,
    site: Option<Root<JsObject>>,
    outcome: Outcome,
}

/// The part of an environment's queues that isolate threads use. Aligned
/// so that its reference counts (bumped by guest threads on every call into
/// Node) do not share a cache line with the flags Node writes.
#[repr(align(128))]
pub struct EnvLink {
    tx: Sender<Completion>,
    polling: AtomicBool,
    wake_pending: AtomicBool,
    wake: Channel,
    /// Calls into Node, run by the environment's thread: while it is blocked
    /// in a sync call (on its own stack) or, when idle, from the event loop.
    calls: Sender<MainReq>,
    calls_rx: Receiver<MainReq>,
    /// Calls queued and not yet taken (a cheap check for spinning waiters).
    pending: AtomicUsize,
    /// A guest's sync call posted in place (see `outbox`), on a cache line
    /// of its own.
    lane: crate::engine::isolate::Padded<super::outbox::Lane>,
    /// The environment is gone (torn down): calls into it fail at once.
    closed: AtomicBool,
    thread: std::thread::Thread,
}

impl EnvLink {
    pub fn has_calls(&self) -> bool {
        self.lane.busy() || self.pending.load(Ordering::Acquire) > 0
    }

    /// Queues a call into Node and wakes the environment's thread. While
    /// the JS layer polls, the next poll serves it (`poll` turns polling
    /// off before its last drain, so a call queued meanwhile either is
    /// drained there or sees the flag off and wakes the loop).
    pub fn request(&self, req: MainReq) {
        let _ = self.calls.send(req);
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.is_closed() {
            // Closed meanwhile: its drain may have missed this call.
            self.fail_queued();
            return;
        }
        self.wake();
    }

    /// Whether a guest's async or ignored call into Node must be refused:
    /// `MAX_BACKLOG` calls wait already. Such calls do not wait for Node, so
    /// a guest looping on them (faster than Node runs them) would otherwise
    /// grow the queue, in the host's memory, without end.
    pub fn backlog_full(&self) -> bool {
        self.pending.load(Ordering::Relaxed) >= crate::engine::isolate::MAX_BACKLOG
    }

    /// Whether the environment is gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Marks the environment gone (it is being torn down: no JS runs in it
    /// any more) and fails every call waiting for it, so that guests blocked
    /// in a call into it return (and their isolates can be disposed).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        super::outbox::fail_posted(self);
        self.fail_queued();
    }

    fn fail_queued(&self) {
        while let Ok(req) = self.calls_rx.try_recv() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            match req.reply {
                super::host::Reply::Sync(slot) => slot.put(Err(gone())),
                super::host::Reply::Async(done) => done(Err(gone())),
                super::host::Reply::Ignored => {}
            }
        }
    }

    /// Wakes the environment's thread for a call just queued or posted: it
    /// may be parked in a sync wait, or idle in the event loop.
    pub fn wake(&self) {
        self.thread.unpark();
        self.signal_loop();
    }

    /// Wakes the event loop through the thread-safe function, unless the
    /// JS layer is polling or a wake is already pending. The pending flag is
    /// read before it is swapped: a guest calling Node in a loop while Node
    /// is blocked finds it set, and a read keeps the line shared.
    fn signal_loop(&self) {
        if !self.polling.load(Ordering::SeqCst)
            && !self.wake_pending.load(Ordering::SeqCst)
            && !self.wake_pending.swap(true, Ordering::SeqCst)
        {
            let _ = self.wake.try_send(|mut cx| {
                let env = cx.to_raw();
                super::guard::refusable(env, || drain(&mut cx));
                Ok(())
            });
        }
    }

    /// The fast lane for sync calls (see `outbox`).
    pub fn lane(&self) -> &super::outbox::Lane {
        &self.lane
    }

    /// Called on an isolate thread when an async call finishes.
    pub fn complete(&self, deferred: Deferred, site: Option<Root<JsObject>>, outcome: Outcome) {
        let _ = self.tx.send(Completion { deferred, site, outcome });
        self.signal_loop();
    }
}

/// What a call into a Node environment that is gone fails with.
/// The refusal of a guest's call past `MAX_BACKLOG` waiting calls.
pub fn backlog() -> crate::transfer::Failure {
    crate::engine::isolate::backlog_refusal("Node")
}

pub fn gone() -> crate::transfer::Failure {
    crate::transfer::Failure::error("The Node.js environment of this function was torn down")
}

struct EnvQueue {
    link: Arc<EnvLink>,
    rx: Receiver<Completion>,
    in_flight: AtomicUsize,
    keepalive: Mutex<Channel>,
    /// Polling turns since the last completion or submission.
    idle_turns: AtomicUsize,
}

static QUEUE: LocalKey<EnvQueue> = LocalKey::new();

fn queue<'a>(cx: &mut impl Context<'a>) -> &'a EnvQueue {
    if let Some(q) = QUEUE.get(cx) {
        return q;
    }
    let mut wake = Channel::new(cx);
    wake.unref(cx);
    let mut keepalive = wake.clone();
    keepalive.unref(cx);
    let (tx, rx) = unbounded();
    let mut fresh = Some((wake, keepalive, tx, rx));
    QUEUE.get_or_init(cx, || {
        let (wake, keepalive, tx, rx) = fresh.take().unwrap();
        let (calls, calls_rx) = unbounded();
        EnvQueue {
            link: Arc::new(EnvLink {
                tx,
                polling: AtomicBool::new(false),
                wake_pending: AtomicBool::new(false),
                wake,
                calls,
                calls_rx,
                pending: AtomicUsize::new(0),
                lane: crate::engine::isolate::Padded(Default::default()),
                closed: AtomicBool::new(false),
                thread: std::thread::current(),
            }),
            rx,
            in_flight: AtomicUsize::new(0),
            keepalive: Mutex::new(keepalive),
            idle_turns: AtomicUsize::new(0),
        }
    })
}

/// Registers a new async call; returns the link its completion goes to.
pub fn begin<'a>(cx: &mut impl Context<'a>) -> NeonResult<Arc<EnvLink>> {
    let q = queue(cx);
    if q.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
        q.keepalive.lock().reference(cx);
    }
    q.idle_turns.store(0, Ordering::Relaxed);
    if !q.link.polling.swap(true, Ordering::SeqCst) {
        let undefined = cx.undefined().upcast();
        helpers::call(cx, helpers::START_POLLING, &[undefined])?;
    }
    Ok(q.link.clone())
}

/// The link of the current environment (created on first use).
pub fn link<'a>(cx: &mut impl Context<'a>) -> Arc<EnvLink> {
    queue(cx).link.clone()
}

/// The same, borrowed for the environment's lifetime (no reference count
/// to bump on every sync call).
pub fn link_ref<'a>(cx: &mut impl Context<'a>) -> &'a EnvLink {
    &queue(cx).link
}

/// Runs the calls into Node that are waiting; returns how many ran.
pub fn serve_calls<'a>(cx: &mut impl Context<'a>) -> usize {
    serve_counted(cx).0
}

/// `serve_calls`, also counting the sync calls among them (a guest thread
/// blocked until the reply).
fn serve_counted<'a>(cx: &mut impl Context<'a>) -> (usize, usize) {
    let q = match QUEUE.get(cx) {
        Some(q) => q,
        None => return (0, 0),
    };
    let (mut n, mut sync) = (0, 0);
    if super::outbox::serve(cx, &q.link) {
        n += 1;
        sync += 1;
    }
    while let Ok(req) = q.link.calls_rx.try_recv() {
        q.link.pending.fetch_sub(1, Ordering::AcqRel);
        n += 1;
        let slot = match &req.reply {
            super::host::Reply::Sync(slot) => Some(slot.clone()),
            _ => None,
        };
        sync += slot.is_some() as usize;
        // Each call gets its own handle scope: a sync wait can serve many
        // thousands of calls inside one outer call, and handles left in the
        // outer scope would make every GC of Node's heap slower.
        if unwinding(|| cx.execute_scoped(|mut cx| super::host::run(&mut cx, req))).is_none() {
            if let Some(slot) = slot {
                slot.put(Err(gone()));
            }
        }
    }
    (n, sync)
}

/// Runs `f`, turning a panic into None. Neon panics when a JS call fails
/// without an exception pending, and that is what every JS call does once a
/// worker is being terminated (`worker.terminate()` while a Node function
/// called by a guest runs): it must fail the call, not abort the process.
pub fn unwinding<T>(f: impl FnOnce() -> T) -> Option<T> {
    quiet_neon_panics();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Keeps the panic above from printing a message: it is expected, and
/// handled. Any other panic still reports as usual.
fn quiet_neon_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().or_else(|| info.payload().downcast_ref::<String>().map(|s| s.as_str()));
            if msg.is_some_and(|m| m.starts_with("try_catch: unexpected Err(Throw)")) {
                return;
            }
            previous(info);
        }));
    });
}

/// After serving a guest's sync call from the event loop, wait this long for
/// its next one before going back to the loop: a guest calling Node in a loop
/// would otherwise pay a loop turn (or a wake-up) per call.
const LINGER: std::time::Duration = std::time::Duration::from_micros(25);

/// The longest one event-loop turn keeps serving calls that way, so timers
/// and I/O still run.
const LINGER_TURN: std::time::Duration = std::time::Duration::from_millis(2);

/// Serves calls into Node from the event loop, lingering (see `LINGER`)
/// while guests make sync calls back to back.
fn serve_from_loop<'a>(cx: &mut impl Context<'a>, link: &EnvLink) -> usize {
    let (mut total, mut sync) = serve_counted(cx);
    if sync == 0 {
        return total;
    }
    let turn = std::time::Instant::now();
    let mut i = 0u32;
    let mut last = turn;
    loop {
        if link.has_calls() {
            let (n, s) = serve_counted(cx);
            total += n;
            sync = s;
            last = std::time::Instant::now();
            if sync == 0 || last.duration_since(turn) > LINGER_TURN {
                return total;
            }
            continue;
        }
        i = i.wrapping_add(1);
        if i % 64 == 0 && last.elapsed() > LINGER {
            return total;
        }
        std::hint::spin_loop();
    }
}

/// Settles every finished call and runs waiting calls into Node; returns how
/// many it handled.
fn drain<'a>(cx: &mut impl Context<'a>) -> usize {
    let q = match QUEUE.get(cx) {
        Some(q) => q,
        None => return 0,
    };
    q.link.wake_pending.store(false, Ordering::SeqCst);
    let mut n = serve_from_loop(cx, &q.link);
    while let Ok(c) = q.rx.try_recv() {
        n += 1;
        let Completion { deferred, site, outcome } = c;
        unwinding(|| settle_one(cx, q, deferred, site, outcome));
    }
    if n > 0 {
        q.idle_turns.store(0, Ordering::Relaxed);
    }
    n
}

/// Settles one finished async call (registered by `begin`).
fn settle_one<'a>(cx: &mut impl Context<'a>, q: &EnvQueue, deferred: Deferred, site: Option<Root<JsObject>>, outcome: Outcome) {
    let _ = cx.try_catch(|cx| {
        // No captured site means an async call whose JS wrapper adds the
        // caller's frames itself (`true` tells makeError so).
        let site = match site {
            Some(s) => s.into_inner(cx).upcast(),
            None => cx.boolean(true).upcast(),
        };
        let site = Some(site);
        match cx.try_catch(|cx| settle(cx, outcome, site)) {
            Ok(v) => deferred.resolve(cx, v),
            Err(e) => deferred.reject(cx, e),
        }
        Ok(())
    });
    if q.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
        q.keepalive.lock().unref(cx);
    }
}

/// Settles an async call whose outcome its caller already holds (see
/// `call::dispatch_work`), as if it had come through the queue.
pub fn settle_now<'a>(cx: &mut impl Context<'a>, deferred: Deferred, site: Option<Root<JsObject>>, outcome: Outcome) {
    let q = queue(cx);
    settle_one(cx, q, deferred, site, outcome);
}

/// Whether an async call may wait for its outcome before returning (see
/// `call::quick_async`): no other async call of this environment is in
/// flight, and none settled that way since JS last ran its microtasks. The
/// JS layer holds that second flag in a one-byte array shared with us
/// (`quickFlag`): we clear it when a call settles early, and it sets it again
/// from a microtask. So calls awaited one after another settle early, while
/// a burst of calls made in one go is not serialised.
pub fn may_settle_early<'a>(cx: &mut impl Context<'a>) -> bool {
    if queue(cx).in_flight.load(Ordering::Relaxed) != 0 {
        return false;
    }
    let Some(flag) = QUICK_FLAG.get(cx) else { return false };
    let p = flag.ptr as *mut u8;
    // SAFETY: `p` points into the backing store of a Uint8Array that
    // `QUICK_FLAG` keeps alive; only this environment's thread touches it.
    unsafe {
        if *p == 1 {
            *p = 0;
            return true;
        }
    }
    false
}

struct QuickFlag {
    _array: Root<JsObject>,
    ptr: usize,
}

static QUICK_FLAG: LocalKey<QuickFlag> = LocalKey::new();

/// `quickFlag(uint8Array)`: the JS layer's flag (see `may_settle_early`).
pub fn quick_flag(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let mut array = cx.argument::<JsTypedArray<u8>>(0)?;
    if array.len(&mut cx) < 1 {
        return cx.throw_range_error("quickFlag needs one byte");
    }
    let ptr = array.as_mut_slice(&mut cx).as_mut_ptr() as usize;
    let root = array.upcast::<JsObject>().root(&mut cx);
    let mut fresh = Some(QuickFlag { _array: root, ptr });
    QUICK_FLAG.get_or_init(&mut cx, || fresh.take().unwrap());
    Ok(cx.undefined())
}

/// `poll()`: settles finished calls; returns whether the JS layer should keep
/// polling. When it says no, completions wake the event loop instead.
pub fn poll(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    drain(&mut cx);
    let q = queue(&mut cx);
    let busy = q.in_flight.load(Ordering::Relaxed) > 0;
    let recent = q.idle_turns.fetch_add(1, Ordering::Relaxed) < POLL_TURNS;
    if busy && recent {
        return Ok(cx.boolean(true));
    }
    q.link.polling.store(false, Ordering::SeqCst);
    // Completions pushed before the flag flipped sent no wake-up.
    drain(&mut cx);
    Ok(cx.boolean(false))
}
