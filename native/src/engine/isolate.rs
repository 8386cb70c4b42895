//! The thread-safe side of an isolate: its queues, its execution frames (for
//! timeouts, disposal and memory kills) and its counters. The V8 isolate itself
//! lives on its own thread (see `runner`); everything here may be touched from
//! any thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::inspector::InspMsg;
use super::record::{Posted, Record, Request, Taken};
use super::memory::Budget;
use super::wait::Slot;
use crate::transfer::{Failure, Mode, Outcome, Transfer};

/// Why running code was stopped. Later variants win over earlier ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kill {
    Timeout,
    Dispose,
    Memory,
}

impl Kill {
    pub fn failure(self) -> Failure {
        match self {
            Kill::Timeout => Failure::Timeout,
            Kill::Dispose => Failure::Disposed,
            Kill::Memory => Failure::MemoryLimit,
        }
    }
}

/// Work run on the isolate thread. It gets the isolate and the thread's state.
pub type Job = Box<dyn FnOnce(&mut v8::Isolate, &super::runner::State) -> Outcome + Send>;
/// Receives the outcome of a job, on the isolate thread: a reply slot that
/// a blocked caller waits on (no allocation per sync call), or a function.
pub enum Done {
    Slot(Arc<Slot<Outcome>>),
    Fn(Box<dyn FnOnce(Outcome) + Send>),
    /// A sync call posted in the isolate's lane: the outcome goes into the
    /// caller's record.
    Lane(Taken<SyncCall>),
}

impl Done {
    pub fn f(f: impl FnOnce(Outcome) + Send + 'static) -> Done {
        Done::Fn(Box::new(f))
    }
    pub fn call(self, o: Outcome) {
        match self {
            Done::Slot(s) => s.put(o),
            Done::Fn(f) => f(o),
            Done::Lane(t) => t.finish(o),
        }
    }
}

/// What a call runs: a boxed job, or one of the hot sync calls spelled out,
/// so that making one allocates nothing on the caller's thread (blocks
/// allocated by one thread and freed by another cost a glibc arena lock).
pub enum Work {
    Boxed(Job),
    /// `context.eval(code)` without a script origin, its result under `mode`
    /// (without `promise`).
    Eval { context: u64, code: String, mode: Mode },
    /// `script.run(context)` the same way.
    Run { script: u64, context: u64, mode: Mode },
    /// `reference.applySync(recv, args)` with an undefined or null receiver,
    /// up to `SMALL_ARGS` arguments that are numbers, booleans, null or
    /// undefined, and options that need no promise: kept inline (16 bytes an
    /// argument), so the whole call fits on two cache lines (the caller's
    /// thread writes them, the isolate's reads them; a receiver of 16 bytes
    /// more made the plain call 50 % slower).
    Apply { reference: u64, args: SmallArgs },
    /// Any other call with a receiver, arguments, and the result's `mode`
    /// (without `promise`).
    ApplyList { reference: u64, mode: Mode, recv: Transfer, args: Vec<Transfer> },
    /// Already run.
    Spent,
}

impl Work {
    /// `reference.apply(recv, args)` whose result follows `mode`.
    pub fn apply(reference: u64, recv: Transfer, args: Vec<Transfer>, mode: Mode) -> Work {
        match SmallArgs::of(&recv, &args, mode) {
            Some(small) => Work::Apply { reference, args: small },
            None => Work::ApplyList { reference, mode, recv, args },
        }
    }

    /// Runs the work. What it owns stays in place (a posted call's buffers
    /// are freed by the thread that made them, when it reuses its record).
    pub fn run(&mut self, iso: &mut v8::Isolate, st: &super::runner::State) -> Outcome {
        match self {
            Work::Boxed(_) => {
                let Work::Boxed(job) = std::mem::replace(self, Work::Spent) else { unreachable!() };
                job(iso, st)
            }
            Work::Eval { context, code, mode } => crate::ops::code::eval(iso, st, *context, code, crate::ops::Origin::default(), *mode),
            Work::Run { script, context, mode } => crate::ops::code::run_script(iso, st, *script, *context, *mode),
            Work::Apply { reference, args } => {
                let recv = if args.null_recv { Transfer::Null } else { Transfer::Undefined };
                crate::ops::reference::apply(iso, st, *reference, recv, args.iter(), args.mode)
            }
            Work::ApplyList { reference, mode, recv, args } => {
                let recv = std::mem::replace(recv, Transfer::Undefined);
                crate::ops::reference::apply(iso, st, *reference, recv, args.drain(..), *mode)
            }
            Work::Spent => Err(Failure::Error("internal error in v8-isolates (a call ran twice)".into())),
        }
    }
}

/// Arguments kept inline (see `Work::Apply`).
const SMALL_ARGS: usize = 4;

/// An argument that fits in 16 bytes.
#[derive(Clone, Copy)]
enum Small {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
}

impl Small {
    fn of(t: &Transfer) -> Option<Small> {
        Some(match t {
            Transfer::Undefined => Small::Undefined,
            Transfer::Null => Small::Null,
            Transfer::Bool(b) => Small::Bool(*b),
            Transfer::Number(n) => Small::Number(*n),
            _ => return None,
        })
    }

    fn get(self) -> Transfer {
        match self {
            Small::Undefined => Transfer::Undefined,
            Small::Null => Transfer::Null,
            Small::Bool(b) => Transfer::Bool(b),
            Small::Number(n) => Transfer::Number(n),
        }
    }
}

/// A call's arguments kept inline (see `Work::Apply`); the receiver and the
/// mode fit in what would be padding.
#[derive(Clone, Copy)]
pub struct SmallArgs {
    len: u8,
    /// The receiver is null (else undefined).
    null_recv: bool,
    mode: Mode,
    items: [Small; SMALL_ARGS],
}

impl SmallArgs {
    /// The call inline, if its receiver is undefined or null and its
    /// arguments few and small enough.
    fn of(recv: &Transfer, args: &[Transfer], mode: Mode) -> Option<SmallArgs> {
        let null_recv = match recv {
            Transfer::Undefined => false,
            Transfer::Null => true,
            _ => return None,
        };
        if args.len() > SMALL_ARGS {
            return None;
        }
        let mut out = SmallArgs { len: args.len() as u8, null_recv, mode, items: [Small::Undefined; SMALL_ARGS] };
        for (slot, a) in out.items.iter_mut().zip(args) {
            *slot = Small::of(a)?;
        }
        Some(out)
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = Transfer> + '_ {
        self.items[..self.len as usize].iter().map(|s| s.get())
    }
}

/// A unit of work plus where its outcome goes. Dropping a call that never ran
/// reports "Isolate is disposed" to its caller, so nothing waits forever.
pub struct Call {
    job: Option<Work>,
    done: Option<Done>,
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new(job: Job, timeout: Option<Duration>, done: Done) -> Call {
        Call::of(Work::Boxed(job), timeout, done)
    }
    pub fn of(work: Work, timeout: Option<Duration>, done: Done) -> Call {
        Call { job: Some(work), done: Some(done), timeout }
    }
    pub fn take(mut self) -> (Work, Done) {
        (self.job.take().unwrap(), self.done.take().unwrap())
    }
    /// Reports a failure without running the job.
    pub fn fail(mut self, failure: Failure) {
        self.job.take();
        if let Some(done) = self.done.take() {
            done.call(Err(failure));
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            self.job.take();
            done.call(Err(Failure::IsolateDisposed));
        }
    }
}

/// A value on cache lines of its own: fields written by one thread on every
/// call (the lane, the isolate thread's frames and counters) must
/// not share a line with fields the other thread reads on every call.
#[repr(align(128))]
pub struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A sync call posted in an isolate's lane (see `engine::record`).
pub struct SyncCall {
    work: Work,
    timeout: Option<Duration>,
}

impl SyncCall {
    pub(crate) fn parts(&mut self) -> (&mut Work, Option<Duration>) {
        (&mut self.work, self.timeout)
    }
}

thread_local! {
    static SYNC_RECORDS: std::cell::RefCell<Vec<Box<Record<SyncCall>>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Request for SyncCall {
    fn pool() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Box<Record<SyncCall>>>>> {
        &SYNC_RECORDS
    }
    fn recycle(self) {
        if let Work::Eval { mut code, .. } = self.work {
            if code.capacity() <= CODE_BUFFER_MAX {
                code.clear();
                CODE_BUFFER.with(|b| b.set(code));
            }
        }
    }
}

/// The largest code buffer kept for the next `evalSync` of a thread.
const CODE_BUFFER_MAX: usize = 64 << 10;

thread_local! {
    static CODE_BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// An empty string to read the code of a sync eval into: the buffer of
/// this thread's last one, kept by `SyncCall::recycle`.
pub fn code_buffer() -> String {
    CODE_BUFFER.with(|b| b.take())
}

/// Where a sync call's caller waits for its outcome: its record in the
/// isolate's lane, or a reply slot (the call went through the sync queue).
pub enum Reply {
    Lane(Posted<SyncCall>),
    Slot(Arc<Slot<Outcome>>),
}

impl Reply {
    /// Waits for the outcome, running `service` meanwhile (see
    /// `Slot::wait_or`); None if the service gave the wait up.
    pub fn wait_or(self, spin: Option<&super::wait::Spin>, service: impl FnMut(bool) -> super::wait::Step) -> Option<Outcome> {
        match self {
            Reply::Lane(p) => p.wait_or(spin, service),
            Reply::Slot(slot) => {
                let out = slot.wait_or(spin, service);
                super::wait::recycle(slot);
                out
            }
        }
    }
}

pub enum Msg {
    Call(Call),
    /// A sync call taken out of the lane (never queued).
    Lane(Taken<SyncCall>),
    /// Drop the handle with this id from the isolate's table.
    Release(u64),
    Dispose,
    /// Wakes a thread blocked in a nested wait so it re-checks its frame.
    Wake,
    /// Inspector protocol messages are waiting on the inspector channel.
    Inspector,
}

/// What opening a frame reports.
pub(crate) struct Begun {
    pub seq: u64,
    /// Open frames, this one included.
    pub depth: usize,
    /// Killed before it started (the isolate is being disposed).
    pub killed: Option<Kill>,
    epoch: u64,
}

struct Frame {
    seq: u64,
    kill: Option<Kill>,
    /// Guest frames running when a timeout hit (rendered like V8's stack).
    stack: Option<String>,
    /// V8's own foreground tasks, not a user call.
    pump: bool,
    /// When the call times out (see `watchdog`).
    deadline: Option<Instant>,
}

#[derive(Default)]
struct Exec {
    next_seq: u64,
    frames: Vec<Frame>,
    /// Wall clock at the start of the outermost frame.
    started_wall: Option<Instant>,
    /// When the last outermost frame ended (see `begin`).
    idle_from: Option<Instant>,
}

thread_local! {
    /// Set by the isolate thread when the message it is about to run came
    /// within a short spin: that spin is then measured from the clock
    /// readings the frames take anyway (the end of the last, the start of
    /// the next), not with two more.
    static SHORT_GAP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// See `SHORT_GAP`.
pub(crate) fn gap_was_spin() {
    SHORT_GAP.with(|g| g.set(true));
}

/// CPU accounting without a syscall per call: the thread's CPU clock, less
/// what it used before it was ready and while spinning for work.
#[derive(Default)]
struct Cpu {
    alive: bool,
    base: u64,
    final_ns: u64,
}

pub struct IsolateHost {
    pub id: u64,
    sync_tx: Sender<Msg>,
    task_tx: Sender<Msg>,
    /// Calls on the task path not yet taken by the isolate thread (see
    /// `backlog_full`).
    queued: AtomicUsize,
    /// Bumped after every message sent: the isolate thread spins on this one
    /// word instead of polling both queues.
    doorbell: Arc<AtomicU64>,
    /// A one-call fast lane for sync calls (the common case: one Node thread
    /// making one sync call at a time); the sync queue takes the rest.
    lane: Padded<super::record::Lane<SyncCall>>,
    /// The CPU the isolate thread last ran on, and the CPU of the thread that
    /// last called it (see `wait::Spin`).
    pub iso_cpu: Padded<AtomicU32>,
    pub caller_cpu: Padded<AtomicU32>,
    /// The heap went over the limit while no call was running.
    over_limit: AtomicBool,
    /// Bumped whenever a frame is killed: a cheap "was anything killed?".
    kill_epoch: AtomicU64,
    /// The watchdog lists this isolate (it has had a deadline).
    watched: AtomicBool,
    handle: v8::IsolateHandle,
    exec: Padded<Mutex<Exec>>,
    disposed: AtomicBool,
    memory_hit: AtomicBool,
    pub budget: Arc<Budget>,
    /// Heap limit in bytes.
    pub memory_limit: usize,
    pthread: libc::pthread_t,
    cpu: Mutex<Cpu>,
    spin_ns: Padded<AtomicU64>,
    wall_ns: Padded<AtomicU64>,
    refs: AtomicUsize,
    catastrophe: Mutex<Option<String>>,
    owner: once_cell::sync::OnceCell<std::sync::Weak<Owner>>,
    /// A context made in advance (context id, global id) for a pool to hand
    /// out with the isolate.
    prepared: Mutex<Option<(u64, u64)>>,
    /// The isolate thread, unparked when sync work arrives: it may be parked
    /// in a nested wait (inside a call into Node) rather than on its queue.
    thread: std::thread::Thread,
    /// Isolates created by guest code running in this one: disposed with it.
    children: Mutex<Vec<std::sync::Weak<IsolateHost>>>,
    /// What this isolate (made by guest code) holds of its creator's
    /// budget, given back when its thread exits.
    charged: Mutex<Option<(Arc<Budget>, usize)>>,
    /// Set when the thread has disposed V8's isolate and is about to end.
    done: AtomicBool,
    /// Inspector protocol messages (see `engine::inspector`).
    insp_tx: Sender<InspMsg>,
    insp_rx: Receiver<InspMsg>,
    inspector_enabled: AtomicBool,
    /// An inspector interrupt is requested and has not run yet.
    insp_interrupt: AtomicBool,
    /// `onCatastrophicError`: told once when V8 loses control of the isolate.
    catastrophe_hook: Mutex<Option<Box<dyn FnOnce(String) + Send>>>,
}

// SAFETY: pthread_t is an opaque id (an integer on Linux); it is only used to
// read that thread's CPU clock while the thread is known to be alive.
unsafe impl Send for IsolateHost {}
// SAFETY: as above; every other field is Sync.
unsafe impl Sync for IsolateHost {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The most calls a guest's async or ignored calls may find waiting for
/// their callee (an isolate's task queue, a Node environment's thread); see
/// `IsolateHost::backlog_full` and `EnvLink::backlog_full`.
pub const MAX_BACKLOG: usize = 100_000;

/// The refusal of such a call: `callee` is "Node" or "this isolate".
pub fn backlog_refusal(callee: &str) -> Failure {
    Failure::RangeError(format!(
        "Too many calls into {callee} are pending ({MAX_BACKLOG}): wait for some to settle before making more"
    ))
}

impl IsolateHost {
    pub(crate) fn new(
        sync_tx: Sender<Msg>,
        task_tx: Sender<Msg>,
        doorbell: Arc<AtomicU64>,
        handle: v8::IsolateHandle,
        budget: Arc<Budget>,
        memory_limit: usize,
    ) -> IsolateHost {
        let (insp_tx, insp_rx) = crossbeam_channel::unbounded();
        IsolateHost {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            sync_tx,
            task_tx,
            queued: AtomicUsize::new(0),
            doorbell,
            lane: Padded(Default::default()),
            iso_cpu: Padded(AtomicU32::new(u32::MAX)),
            caller_cpu: Padded(AtomicU32::new(u32::MAX)),
            kill_epoch: AtomicU64::new(0),
            watched: AtomicBool::new(false),
            over_limit: AtomicBool::new(false),
            handle,
            exec: Padded(Mutex::new(Exec::default())),
            disposed: AtomicBool::new(false),
            memory_hit: AtomicBool::new(false),
            budget,
            memory_limit,
            // SAFETY: pthread_self has no preconditions.
            pthread: unsafe { libc::pthread_self() },
            cpu: Mutex::new(Cpu { alive: true, base: thread_cpu_ns(), final_ns: 0 }),
            spin_ns: Padded(AtomicU64::new(0)),
            wall_ns: Padded(AtomicU64::new(0)),
            refs: AtomicUsize::new(0),
            catastrophe: Mutex::new(None),
            owner: Default::default(),
            prepared: Mutex::new(None),
            thread: std::thread::current(),
            children: Mutex::new(Vec::new()),
            charged: Mutex::new(None),
            done: AtomicBool::new(false),
            insp_tx,
            insp_rx,
            inspector_enabled: AtomicBool::new(false),
            insp_interrupt: AtomicBool::new(false),
            catastrophe_hook: Mutex::new(None),
        }
    }

    /// Creates the user-facing owner of this isolate (once).
    pub fn make_owner(self: &Arc<Self>) -> IsolateRef {
        let owner = Arc::new(Owner { host: self.clone() });
        let _ = self.owner.set(Arc::downgrade(&owner));
        owner
    }

    pub(crate) fn set_prepared(&self, ids: (u64, u64)) {
        *self.prepared.lock() = Some(ids);
    }

    /// The ids of the context made in advance, once.
    pub fn take_prepared(&self) -> Option<(u64, u64)> {
        self.prepared.lock().take()
    }

    pub fn owner(&self) -> Option<IsolateRef> {
        self.owner.get().and_then(|w| w.upgrade())
    }

    pub fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire) || self.memory_hit.load(Ordering::Acquire)
    }

    pub fn hit_memory_limit(&self) -> bool {
        self.memory_hit.load(Ordering::Acquire)
    }

    /// The doorbell (bumped after every message sent to the isolate).
    pub fn bell(&self) -> u64 {
        self.doorbell.load(Ordering::Acquire)
    }

    fn ring(&self) {
        self.doorbell.fetch_add(1, Ordering::Release);
    }

    /// Makes a sync call: posted in the lane when it is free, else queued
    /// on the priority path. The caller waits on the reply.
    pub fn call_sync(&self, work: Work, timeout: Option<Duration>) -> Reply {
        if !self.is_disposed() {
            super::wait::publish_cpu(&self.caller_cpu, super::wait::current_cpu());
            match self.lane.post(SyncCall { work, timeout }) {
                Ok(posted) => {
                    // The isolate thread spins on the lane itself; a parked one
                    // is woken (an unpark of a thread that is not parked costs
                    // one atomic operation on a line this thread keeps).
                    self.thread.unpark();
                    if self.is_disposed() {
                        // The thread may have drained the lane already.
                        self.lane.recall(&posted, || Err(Failure::IsolateDisposed));
                    }
                    return Reply::Lane(posted);
                }
                Err(back) => return self.queue_sync(back.work, back.timeout),
            }
        }
        self.queue_sync(work, timeout)
    }

    /// Queues a sync call on the priority path (`call_sync` has published
    /// the caller's CPU; `submit` fails the call if the isolate is disposed).
    fn queue_sync(&self, work: Work, timeout: Option<Duration>) -> Reply {
        let slot = super::wait::reply_slot();
        self.submit(&self.sync_tx, Call::of(work, timeout, Done::Slot(slot.clone())));
        self.thread.unpark();
        Reply::Slot(slot)
    }

    /// Whether a sync call waits in the lane (a cheap look for spinners).
    #[inline]
    pub(crate) fn lane_busy(&self) -> bool {
        self.lane.busy()
    }

    /// The sync call waiting in the lane, if any (isolate thread).
    pub(crate) fn take_lane(&self) -> Option<Taken<SyncCall>> {
        self.lane.take()
    }

    /// Queues a call on the FIFO task path (async and ignored work).
    pub fn submit_task(&self, call: Call) {
        super::wait::publish_cpu(&self.caller_cpu, super::wait::current_cpu());
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.submit(&self.task_tx, call);
        self.thread.unpark();
    }

    /// The isolate thread took a call off the task path.
    pub(crate) fn task_taken(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a guest's async or ignored call into this isolate must be
    /// refused: `MAX_BACKLOG` calls wait already. Such calls do not wait, so
    /// a guest looping on them would grow the queue, in the host's memory,
    /// without end (2 million `evalIgnored` calls queued in 3 s took 1 GB).
    pub fn backlog_full(&self) -> bool {
        self.queued.load(Ordering::Relaxed) >= MAX_BACKLOG
    }

    fn submit(&self, tx: &Sender<Msg>, call: Call) {
        if self.is_disposed() {
            return call.fail(Failure::IsolateDisposed);
        }
        if let Err(e) = tx.send(Msg::Call(call)) {
            if let Msg::Call(call) = e.into_inner() {
                call.fail(Failure::IsolateDisposed);
            }
        }
        self.ring();
    }

    /// Sends a message to the isolate thread on the priority path.
    pub fn send_sync(&self, msg: Msg) {
        let _ = self.sync_tx.send(msg);
        self.ring();
        self.thread.unpark();
    }

    /// Drops a handle in the isolate's table, in queue order.
    pub fn release(&self, id: u64) {
        self.refs.fetch_sub(1, Ordering::Relaxed);
        if !self.is_disposed() {
            let _ = self.task_tx.send(Msg::Release(id));
            self.ring();
            self.thread.unpark();
        }
    }

    pub fn ref_added(&self) {
        self.refs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reference_count(&self) -> usize {
        self.refs.load(Ordering::Relaxed)
    }

    /// Disposes the isolate: running code is terminated, queued work fails.
    /// Returns false if it was already disposed.
    pub fn dispose(&self) -> bool {
        if self.disposed.swap(true, Ordering::AcqRel) || self.hit_memory_limit() {
            return false;
        }
        self.kill_all(Kill::Dispose);
        let _ = self.sync_tx.send(Msg::Dispose);
        self.ring();
        self.thread.unpark();
        self.dispose_children();
        true
    }

    /// Records that `len` bytes of `budget` (the creator's) are held for
    /// this isolate until its thread exits.
    pub fn hold_charge(&self, budget: Arc<Budget>, len: usize) {
        *self.charged.lock() = Some((budget, len));
        if !self.thread_alive() {
            self.release_charge();
        }
    }

    fn release_charge(&self) {
        if let Some((b, len)) = self.charged.lock().take() {
            b.unreserve(len);
        }
    }

    fn thread_alive(&self) -> bool {
        self.cpu.lock().alive
    }

    /// Records an isolate created by guest code of this one.
    pub fn add_child(&self, child: &Arc<IsolateHost>) {
        let mut c = self.children.lock();
        if c.len() >= 16 && c.len().is_power_of_two() {
            c.retain(|w| w.upgrade().is_some_and(|h| !h.is_disposed()));
        }
        c.push(Arc::downgrade(child));
    }

    /// Disposes the isolates guest code of this one created (and theirs).
    pub(crate) fn dispose_children(&self) {
        for c in self.live_children() {
            c.dispose();
        }
    }

    fn live_children(&self) -> Vec<Arc<IsolateHost>> {
        self.children.lock().iter().filter_map(|w| w.upgrade()).collect()
    }

    /// Whether the thread has disposed V8's isolate.
    pub fn thread_finished(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Called by the isolate thread once V8's isolate is gone.
    pub(crate) fn thread_done(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// Waits (until `deadline`) for this isolate's thread, and those of the
    /// isolates its guests created, to have disposed V8's isolate: the
    /// process must not exit while one is still tearing V8 state down.
    pub fn wait_thread_done(&self, deadline: Instant) {
        while !self.done.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        for c in self.live_children() {
            c.wait_thread_done(deadline);
        }
    }

    /// Marks the isolate dead after a memory-limit kill or a catastrophe.
    pub(crate) fn mark_disposed(&self) {
        self.disposed.store(true, Ordering::Release);
    }

    /// Opens a frame for V8's foreground tasks.
    pub(crate) fn begin_pump(&self) -> Begun {
        let b = self.begin();
        if let Some(f) = self.exec.lock().frames.last_mut() {
            f.pump = true;
        }
        b
    }

    /// Opens an execution frame.
    pub(crate) fn begin(&self) -> Begun {
        self.open(None)
    }

    /// Opens an execution frame that times out at `deadline`.
    pub(crate) fn begin_until(self: &Arc<Self>, deadline: Option<Instant>) -> Begun {
        let b = self.open(deadline);
        if let Some(at) = deadline {
            super::watchdog::watch(self, at);
        }
        b
    }

    fn open(&self, deadline: Option<Instant>) -> Begun {
        let mut e = self.exec.lock();
        e.next_seq += 1;
        let seq = e.next_seq;
        if e.frames.is_empty() {
            let now = Instant::now();
            e.started_wall = Some(now);
            let short = SHORT_GAP.with(|g| g.replace(false));
            if let Some(from) = e.idle_from.take() {
                if short {
                    self.add_spin(now.saturating_duration_since(from).as_nanos() as u64);
                }
            }
        }
        // A kill of the whole isolate also covers frames opened after it, and
        // a heap found over the limit between calls fails the next call.
        // Read before swapping: a write on every call would pull the line
        // away from threads that only read it.
        if self.over_limit.load(Ordering::Relaxed) && self.over_limit.swap(false, Ordering::AcqRel) {
            self.memory_hit.store(true, Ordering::Release);
        }
        let inherited = if self.hit_memory_limit() {
            Some(Kill::Memory)
        } else if self.is_disposed() {
            Some(Kill::Dispose)
        } else {
            None
        };
        if inherited.is_some() {
            // Disposed between queueing and running: stop it at once.
            self.handle.terminate_execution();
        }
        e.frames.push(Frame { seq, kill: inherited, stack: None, pump: false, deadline });
        Begun { seq, depth: e.frames.len(), killed: inherited, epoch: self.kill_epoch.load(Ordering::Acquire) }
    }

    /// Closes the innermost frame, returning why it was killed, if it was,
    /// and the guest stack captured when it was.
    pub(crate) fn end(&self, seq: u64) -> (Option<Kill>, Option<String>, usize) {
        let mut e = self.exec.lock();
        let frame = e.frames.pop();
        debug_assert_eq!(frame.as_ref().map(|f| f.seq), Some(seq));
        if e.frames.is_empty() {
            if let Some(w) = e.started_wall.take() {
                let now = Instant::now();
                self.wall_ns.fetch_add(now.saturating_duration_since(w).as_nanos() as u64, Ordering::Relaxed);
                e.idle_from = Some(now);
            }
        }
        let depth = e.frames.len();
        match frame {
            Some(f) => (f.kill, f.stack, depth),
            None => (None, None, depth),
        }
    }

    /// Whether the frame opened as `b` was killed since (cheap when nothing
    /// was killed anywhere).
    pub(crate) fn killed_since(&self, b: &Begun) -> bool {
        b.killed.is_some() || (self.kill_epoch.load(Ordering::Acquire) != b.epoch && self.frame_killed(b.seq))
    }

    /// A counter bumped by every kill: compare two readings to learn cheaply
    /// whether anything was killed in between.
    pub(crate) fn kill_epoch(&self) -> u64 {
        self.kill_epoch.load(Ordering::Acquire)
    }

    /// Whether any open frame was killed (a timeout, dispose, memory limit).
    pub(crate) fn any_frame_killed(&self) -> bool {
        self.exec.lock().frames.iter().any(|f| f.kill.is_some())
    }

    /// Whether the frame `seq` (or the isolate) was killed.
    pub(crate) fn frame_killed(&self, seq: u64) -> bool {
        self.frame_kill(seq).is_some()
    }

    /// Why the open frame `seq` was killed, if it was.
    pub(crate) fn frame_kill(&self, seq: u64) -> Option<Kill> {
        let e = self.exec.lock();
        e.frames.iter().find(|f| f.seq == seq).and_then(|f| f.kill)
    }

    /// Kills the frame `seq` if it is still running (timeouts). The kill
    /// is delivered as an interrupt, which records the guest's stack first.
    pub fn kill_seq(self: &Arc<Self>, seq: u64, kill: Kill) {
        let mut e = self.exec.lock();
        if let Some(f) = e.frames.iter_mut().find(|f| f.seq == seq) {
            self.kill_frame(f, kill);
        }
    }

    fn kill_frame(self: &Arc<Self>, f: &mut Frame, kill: Kill) {
        f.kill = f.kill.max(Some(kill));
        self.kill_epoch.fetch_add(1, Ordering::AcqRel);
        let data = Box::into_raw(Box::new((Arc::downgrade(self), f.seq)));
        if !self.handle.request_interrupt(timeout_interrupt, data as *mut std::ffi::c_void) {
            // SAFETY: V8 did not take the pointer; reclaim it.
            drop(unsafe { Box::from_raw(data) });
            self.handle.terminate_execution();
        }
        let _ = self.sync_tx.try_send(Msg::Wake);
        self.ring();
        self.thread.unpark();
    }

    /// Times out the frames whose deadline is `now` or earlier; returns the
    /// earliest deadline left.
    pub(crate) fn expire_deadlines(self: &Arc<Self>, now: Instant) -> Option<Instant> {
        let mut e = self.exec.lock();
        let mut next: Option<Instant> = None;
        for f in e.frames.iter_mut() {
            match f.deadline {
                Some(at) if at <= now => {
                    f.deadline = None;
                    self.kill_frame(f, Kill::Timeout);
                }
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        next
    }

    /// Whether the watchdog lists this isolate.
    pub(crate) fn watched(&self) -> bool {
        self.watched.load(Ordering::Acquire)
    }

    /// Marks this isolate listed by the watchdog; true if it was not.
    pub(crate) fn set_watched(&self) -> bool {
        !self.watched.swap(true, Ordering::AcqRel)
    }

    /// Marks this isolate no longer listed if no frame has a deadline; true
    /// if so. Under the frames' lock: a frame given a deadline after it
    /// sees the mark cleared (see `watchdog::watch`).
    pub(crate) fn unwatch_if_idle(&self) -> bool {
        let e = self.exec.lock();
        if e.frames.iter().any(|f| f.deadline.is_some()) {
            return false;
        }
        self.watched.store(false, Ordering::Release);
        true
    }

    fn set_frame_stack(&self, seq: u64, stack: String) {
        let mut e = self.exec.lock();
        if let Some(f) = e.frames.iter_mut().find(|f| f.seq == seq) {
            f.stack = Some(stack);
        }
    }

    /// The heap is over the limit. With a call running, it is killed now;
    /// between calls (a GC while idle), the next call fails instead.
    pub(crate) fn over_memory_limit(&self, pump_only: bool) {
        if pump_only {
            self.over_limit.store(true, Ordering::Release);
        } else {
            self.kill_current(Kill::Memory);
        }
    }

    /// Whether any frame is open (a call, or V8's own tasks being pumped).
    pub(crate) fn idle(&self) -> bool {
        self.exec.lock().frames.iter().all(|f| f.pump)
    }

    /// Kills the innermost frame (memory limit).
    pub fn kill_current(&self, kill: Kill) {
        if kill == Kill::Memory {
            self.memory_hit.store(true, Ordering::Release);
        }
        self.kill_all(kill);
    }

    fn kill_all(&self, kill: Kill) {
        let mut e = self.exec.lock();
        for f in e.frames.iter_mut() {
            f.kill = f.kill.max(Some(kill));
        }
        self.kill_epoch.fetch_add(1, Ordering::AcqRel);
        if !e.frames.is_empty() {
            self.handle.terminate_execution();
            let _ = self.sync_tx.try_send(Msg::Wake);
            self.ring();
            self.thread.unpark();
        }
    }

    /// Sets the `onCatastrophicError` hook.
    pub fn set_catastrophe_hook(&self, hook: Box<dyn FnOnce(String) + Send>) {
        *self.catastrophe_hook.lock() = Some(hook);
    }

    /// Tells the `onCatastrophicError` hook, once.
    pub(crate) fn report_catastrophe(&self, message: &str) {
        let hook = self.catastrophe_hook.lock().take();
        if let Some(hook) = hook {
            hook(message.to_string());
        }
    }

    /// Lets this isolate have inspector sessions and inspected contexts.
    pub fn enable_inspector(&self) {
        self.inspector_enabled.store(true, Ordering::Release);
    }

    pub fn inspector_enabled(&self) -> bool {
        self.inspector_enabled.load(Ordering::Acquire)
    }

    /// Sends a message to the isolate's inspector. It is handled between
    /// calls, from an interrupt while guest code runs, and by the pause loop
    /// while the guest is stopped at a breakpoint.
    pub fn inspector_send(&self, msg: InspMsg) {
        if self.is_disposed() {
            return;
        }
        let _ = self.insp_tx.send(msg);
        // Also when idle: a call may start before the queue is looked at. One
        // interrupt at a time (an idle isolate would otherwise collect them).
        if !self.insp_interrupt.swap(true, Ordering::AcqRel) {
            self.handle.request_interrupt(super::inspector::interrupt, std::ptr::null_mut());
        }
        self.send_sync(Msg::Inspector);
    }

    /// Called by the inspector interrupt as it runs.
    pub(crate) fn inspector_interrupt_ran(&self) {
        self.insp_interrupt.store(false, Ordering::Release);
    }

    pub(crate) fn inspector_rx(&self) -> &Receiver<InspMsg> {
        &self.insp_rx
    }

    /// Called on the isolate thread when V8 hits a fatal error. The isolate is
    /// lost; callers waiting on it are told so by the runner's watchdog.
    pub(crate) fn catastrophe(&self, message: &str) {
        self.report_catastrophe(message);
        *self.catastrophe.lock() = Some(message.to_string());
        self.memory_hit.store(message.contains("memory"), Ordering::Release);
        self.mark_disposed();
        super::runner::abandon_current_calls();
        while let Some(t) = self.take_lane() {
            t.finish(Err(Failure::IsolateDisposed));
        }
    }

    pub fn catastrophic_error(&self) -> Option<String> {
        self.catastrophe.lock().clone()
    }

    /// How long ago the last outermost frame ended (zero if one is open).
    pub(crate) fn idle_elapsed(&self) -> std::time::Duration {
        self.exec.lock().idle_from.map(|f| f.elapsed()).unwrap_or_default()
    }

    /// Records time the isolate thread spent spinning for work.
    pub(crate) fn add_spin(&self, ns: u64) {
        self.spin_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Called by the isolate thread as it exits.
    pub(crate) fn thread_exiting(&self) {
        let mut c = self.cpu.lock();
        let now = thread_cpu_ns();
        c.final_ns = now.saturating_sub(c.base).saturating_sub(self.spin_ns.load(Ordering::Relaxed));
        c.alive = false;
        drop(c);
        self.release_charge();
    }

    /// CPU time the isolate's thread spent on this isolate, in ns.
    pub fn cpu_time(&self) -> u64 {
        let mut c = self.cpu.lock();
        if !c.alive {
            return c.final_ns;
        }
        let now = pthread_cpu_ns(self.pthread);
        let v = now.saturating_sub(c.base).saturating_sub(self.spin_ns.load(Ordering::Relaxed));
        // Never let the reading go backwards.
        c.final_ns = c.final_ns.max(v);
        c.final_ns
    }

    /// Wall time spent running code in this isolate, in ns.
    pub fn wall_time(&self) -> u64 {
        let e = self.exec.lock();
        let mut total = self.wall_ns.load(Ordering::Relaxed);
        if let Some(w) = e.started_wall {
            total += w.elapsed().as_nanos() as u64;
        }
        total
    }

    pub fn terminate(&self) {
        self.handle.terminate_execution();
    }
}

/// Runs on the isolate thread, inside running JS, when a timeout expires:
/// records the guest stack on the frame, then terminates execution.
unsafe extern "C" fn timeout_interrupt(mut raw: v8::UnsafeRawIsolatePtr, data: *mut std::ffi::c_void) {
    // SAFETY: `data` is the box leaked by `kill_frame`, handed to V8 once.
    let (host, seq) = *unsafe { Box::from_raw(data as *mut (std::sync::Weak<IsolateHost>, u64)) };
    // SAFETY: V8 calls this on the isolate's own thread with a live isolate.
    let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
    // The frame may have ended before V8 got here (it was waiting on another
    // thread, not running JS): then the interrupt must not stop later work.
    if !host.upgrade().is_some_and(|h| h.frame_killed(seq)) {
        return;
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(stack) = crate::transfer::error::current_stack(iso) {
            if let Some(h) = host.upgrade() {
                h.set_frame_stack(seq, stack);
            }
        }
    }));
    let _ = r;
    iso.terminate_execution();
}

/// A reading of `clock`, in ns.
pub(crate) fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; a bad clock id only fails the
    // call (the reading stays 0).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(crate) fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn pthread_cpu_ns(thread: libc::pthread_t) -> u64 {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the thread is alive: callers hold the `cpu` lock with `alive`
    // set, and the thread clears `alive` under that lock before it exits.
    if unsafe { libc::pthread_getcpuclockid(thread, &mut clock) } != 0 {
        return 0;
    }
    clock_ns(clock)
}

/// The user-facing owner of an isolate. Every handle a user holds (the
/// Isolate object, its contexts, scripts and references) keeps one of these;
/// when the last goes away the isolate is disposed.
pub struct Owner {
    pub host: Arc<IsolateHost>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.host.dispose();
    }
}

pub type IsolateRef = Arc<Owner>;

/// Receivers of an isolate's two queues, handed to its thread.
pub struct Inbox {
    pub sync_rx: Receiver<Msg>,
    pub task_rx: Receiver<Msg>,
    pub doorbell: Arc<AtomicU64>,
}

impl Inbox {
    pub fn bell(&self) -> u64 {
        self.doorbell.load(Ordering::Acquire)
    }
}

impl IsolateHost {
    /// The isolate thread waiting for its caller (idle, or in a call into Node).
    pub fn spin_as_isolate(&self) -> super::wait::Spin<'_> {
        super::wait::Spin { me: &self.iso_cpu, partner: &self.caller_cpu, migrate: true }
    }

    /// A caller waiting for the isolate thread.
    pub fn spin_as_caller(&self) -> super::wait::Spin<'_> {
        super::wait::Spin { me: &self.caller_cpu, partner: &self.iso_cpu, migrate: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_call_is_no_larger_than_its_arguments() {
        // The receiver and the mode sit in the padding after `len`.
        assert_eq!(std::mem::size_of::<SmallArgs>(), 8 + SMALL_ARGS * 16);
    }

    #[test]
    fn a_sync_call_fits_on_two_cache_lines() {
        let size = std::mem::size_of::<super::super::record::Record<SyncCall>>();
        assert!(size <= 256, "a record is {size} bytes");
    }
}
