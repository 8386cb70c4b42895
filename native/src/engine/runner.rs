//! The isolate thread: it owns the V8 isolate, its handle table and its
//! queues, and runs every call in order (sync calls first).

use std::cell::RefCell;
use std::rc::Rc;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};

use super::isolate::{Call, Done, Inbox, IsolateHost, Kill, Msg};
use super::memory::{self, Budget};
use super::platform;
use crate::node::host::HostFn;
use crate::transfer::Failure;

/// Spin at least this many polls, and for up to `wait::spin_time()`, before
/// parking: a parked thread takes tens of microseconds to wake (hundreds on
/// a busy VM), a spinning one well under one.
pub const SPIN: u32 = 2000;

/// A handle into the isolate's heap, owned by some object outside it.
pub enum Entry {
    Context(v8::Global<v8::Context>),
    Script(v8::Global<v8::UnboundScript>),
    Value { value: v8::Global<v8::Value>, context: v8::Global<v8::Context> },
    Resolver { resolver: v8::Global<v8::PromiseResolver>, context: v8::Global<v8::Context> },
    Module(Box<crate::ops::module::ModuleRec>),
}

static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// How often isolate threads ran out of spinning and parked (diagnostics).
pub static PARKS: AtomicU64 = AtomicU64::new(0);

/// State of the isolate thread that jobs may use. Shared (`&State`): calls
/// can nest (guest -> host -> guest), so every borrow inside is brief.
pub struct State {
    pub host: Arc<IsolateHost>,
    handles: RefCell<super::IdMap<Entry>>,
    /// A context for work that belongs to no user context (compiling).
    default_context: RefCell<Option<v8::Global<v8::Context>>>,
    /// A context made in advance (pooled isolates) for createContext.
    spare_context: RefCell<Option<v8::Global<v8::Context>>>,
    /// The context of the most recent call: somewhere to stand when a
    /// timeout interrupt captures the running stack.
    last_context: RefCell<Option<v8::Global<v8::Context>>>,
    /// The sequence number of the innermost running call.
    current_seq: std::cell::Cell<u64>,
    /// Whether the innermost running call's caller is blocked waiting for it
    /// (a sync call) rather than waiting for a promise (async, ignored).
    caller_blocked: std::cell::Cell<bool>,
    /// `{promise: true}` calls in progress: (call seq, settler).
    result_settlers: RefCell<Vec<(u64, crate::transfer::promise::Settler)>>,
    /// Settlers waiting for a guest promise.
    settlers: RefCell<super::IdMap<crate::transfer::promise::Settler>>,
    /// Node functions that guest functions of this isolate call.
    host_fns: RefCell<super::IdMap<(Arc<HostFn>, v8::Weak<v8::Function>)>>,
    /// Native state of guest objects: the guest library's handles (what an
    /// Isolate, Context, Reference... stands for), ExternalCopies; by id,
    /// dropped when the object is collected.
    guest_objects: RefCell<super::IdMap<(Rc<dyn std::any::Any>, v8::Weak<v8::Object>)>>,
    /// The guest library's class templates, by class name.
    templates: RefCell<HashMap<&'static str, v8::Global<v8::FunctionTemplate>>>,
    /// Isolate-wide hooks set by isolate options (dynamic import, unhandled
    /// rejections) and the rejections waiting to be reported.
    pub hooks: RefCell<crate::ops::module::Hooks>,
    /// The isolate's inspector, made on first use.
    pub inspector: RefCell<Option<Rc<super::inspector::Agent>>>,
    /// The script of the last `eval`, by source and origin: evaluating the
    /// same code again (a host's per-tick code) skips V8's string creation,
    /// hashing and compilation-cache lookup.
    pub last_eval: RefCell<Option<crate::ops::code::LastEval>>,
    /// The doorbell as `serve_nested` last found nothing to do at it.
    nested_bell: std::cell::Cell<u64>,
    /// Private symbols by name (see `private_key`).
    /// Keyed by the name's address: `Private::for_api` gives the same
    /// symbol for equal names, so two copies of a name only cost an entry.
    privates: RefCell<std::collections::HashMap<usize, v8::Global<v8::Private>, std::hash::BuildHasherDefault<super::IdHasher>>>,
    /// Internalized strings the library reads properties by (see `name`),
    /// keyed the same way.
    names: RefCell<std::collections::HashMap<usize, v8::Global<v8::String>, std::hash::BuildHasherDefault<super::IdHasher>>>,
}

impl State {
    fn new(host: Arc<IsolateHost>) -> State {
        State {
            host,
            handles: RefCell::new(Default::default()),
            default_context: RefCell::new(None),
            spare_context: RefCell::new(None),
            host_fns: RefCell::new(Default::default()),
            guest_objects: RefCell::new(Default::default()),
            templates: RefCell::new(HashMap::new()),
            last_context: RefCell::new(None),
            last_eval: RefCell::new(None),
            nested_bell: std::cell::Cell::new(u64::MAX),
            privates: RefCell::new(Default::default()),
            names: RefCell::new(Default::default()),
            current_seq: std::cell::Cell::new(0),
            caller_blocked: std::cell::Cell::new(false),
            result_settlers: RefCell::new(Vec::new()),
            settlers: RefCell::new(Default::default()),
            hooks: RefCell::new(Default::default()),
            inspector: RefCell::new(None),
        }
    }
    pub fn default_context(&self, iso: &mut v8::Isolate) -> v8::Global<v8::Context> {
        if let Some(c) = &*self.default_context.borrow() {
            return c.clone();
        }
        v8::scope!(let scope, iso);
        let ctx = new_context(scope);
        let g = v8::Global::new(scope, ctx);
        *self.default_context.borrow_mut() = Some(g.clone());
        g
    }
    pub fn take_spare_context(&self) -> Option<v8::Global<v8::Context>> {
        self.spare_context.borrow_mut().take()
    }
    /// The user-facing owner, to hand out new handles with.
    pub fn owner(&self) -> Result<super::isolate::IsolateRef, Failure> {
        self.host.owner().ok_or(Failure::IsolateDisposed)
    }
    /// Stores a handle and returns its id. The caller owes one `release`.
    pub fn insert(&self, entry: Entry) -> u64 {
        let id = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        self.handles.borrow_mut().insert(id, entry);
        self.host.ref_added();
        id
    }
    /// Stores a handle under an id taken with `next_id`.
    pub fn insert_at(&self, id: u64, entry: Entry) {
        self.handles.borrow_mut().insert(id, entry);
        self.host.ref_added();
    }
    pub fn remove(&self, id: u64) {
        let e = self.handles.borrow_mut().remove(&id);
        drop(e);
    }
    pub fn context(&self, id: u64) -> Option<v8::Global<v8::Context>> {
        let c = match self.handles.borrow().get(&id) {
            Some(Entry::Context(c)) => c.clone(),
            _ => return None,
        };
        self.note_context(&c);
        Some(c)
    }
    fn note_context(&self, c: &v8::Global<v8::Context>) {
        let mut last = self.last_context.borrow_mut();
        if last.as_ref() != Some(c) {
            *last = Some(c.clone());
        }
    }
    /// The context `id` as a local handle (no new global handle per call).
    pub fn context_local<'s>(&self, scope: &mut v8::PinScope<'s, '_, ()>, id: u64) -> Option<v8::Local<'s, v8::Context>> {
        let handles = self.handles.borrow();
        let Some(Entry::Context(c)) = handles.get(&id) else { return None };
        self.note_context(c);
        Some(v8::Local::new(scope, c))
    }
    /// A value handle and its context as local handles.
    pub fn value_local<'s>(
        &self,
        scope: &mut v8::PinScope<'s, '_, ()>,
        id: u64,
    ) -> Option<(v8::Local<'s, v8::Value>, v8::Local<'s, v8::Context>)> {
        let handles = self.handles.borrow();
        let Some(Entry::Value { value, context }) = handles.get(&id) else { return None };
        self.note_context(context);
        Some((v8::Local::new(scope, value), v8::Local::new(scope, context)))
    }
    pub fn last_context(&self) -> Option<v8::Global<v8::Context>> {
        self.last_context.borrow().clone()
    }
    pub fn script(&self, id: u64) -> Option<v8::Global<v8::UnboundScript>> {
        match self.handles.borrow().get(&id) {
            Some(Entry::Script(s)) => Some(s.clone()),
            _ => None,
        }
    }
    pub fn value(&self, id: u64) -> Option<(v8::Global<v8::Value>, v8::Global<v8::Context>)> {
        let (v, c) = match self.handles.borrow().get(&id) {
            Some(Entry::Value { value, context }) => (value.clone(), context.clone()),
            _ => return None,
        };
        self.note_context(&c);
        Some((v, c))
    }
    /// A compiled module and what was recorded about it.
    pub fn module(&self, id: u64) -> Option<(v8::Global<v8::Module>, Option<v8::Global<v8::Context>>)> {
        match self.handles.borrow().get(&id) {
            Some(Entry::Module(m)) => Some((m.module.clone(), m.context.clone())),
            _ => None,
        }
    }
    /// Runs `f` on the record of every module whose identity hash is `hash`.
    pub fn find_module<R>(&self, hash: i32, mut f: impl FnMut(&mut crate::ops::module::ModuleRec) -> Option<R>) -> Option<R> {
        let mut h = self.handles.borrow_mut();
        for e in h.values_mut() {
            if let Entry::Module(m) = e {
                if m.hash == hash {
                    if let Some(r) = f(m) {
                        return Some(r);
                    }
                }
            }
        }
        None
    }
    /// Records the context a module was linked in (the first one wins) and
    /// tells its handles it is linked.
    pub fn set_module_context(&self, id: u64, ctx: &v8::Global<v8::Context>) {
        if let Some(Entry::Module(m)) = self.handles.borrow_mut().get_mut(&id) {
            m.linked.store(true, std::sync::atomic::Ordering::Release);
            if m.context.is_none() {
                m.context = Some(ctx.clone());
            }
        }
    }
    /// Guest promises waiting for Node (async callbacks, dynamic imports).
    pub fn pending_resolvers(&self) -> usize {
        self.handles.borrow().values().filter(|e| matches!(e, Entry::Resolver { .. })).count()
    }
    /// The context a kept resolver belongs to.
    pub fn resolver_context(&self, id: u64) -> Option<v8::Global<v8::Context>> {
        match self.handles.borrow().get(&id) {
            Some(Entry::Resolver { context, .. }) => Some(context.clone()),
            _ => None,
        }
    }
    /// Takes a kept resolver out (to settle it by hand).
    pub fn take_resolver(&self, id: u64) -> Option<(v8::Global<v8::PromiseResolver>, v8::Global<v8::Context>)> {
        match self.handles.borrow_mut().remove(&id) {
            Some(Entry::Resolver { resolver, context }) => Some((resolver, context)),
            _ => None,
        }
    }
    /// A fresh id for a handle-table-like entry.
    pub fn next_id(&self) -> u64 {
        NEXT_HANDLE.fetch_add(1, Ordering::Relaxed)
    }
    pub fn add_host_fn(&self, id: u64, hf: Arc<HostFn>, weak: v8::Weak<v8::Function>) {
        self.host_fns.borrow_mut().insert(id, (hf, weak));
    }
    pub fn host_fn(&self, id: u64) -> Option<Arc<HostFn>> {
        self.host_fns.borrow().get(&id).map(|e| e.0.clone())
    }
    pub fn remove_host_fn(&self, id: u64) {
        let e = self.host_fns.borrow_mut().remove(&id);
        drop(e);
    }
    pub fn add_guest_object(&self, id: u64, state: Rc<dyn std::any::Any>, weak: v8::Weak<v8::Object>) {
        self.guest_objects.borrow_mut().insert(id, (state, weak));
    }
    pub fn guest_object(&self, id: u64) -> Option<Rc<dyn std::any::Any>> {
        self.guest_objects.borrow().get(&id).map(|e| e.0.clone())
    }
    pub fn remove_guest_object(&self, id: u64) {
        let e = self.guest_objects.borrow_mut().remove(&id);
        drop(e);
    }
    pub fn template(&self, name: &'static str) -> Option<v8::Global<v8::FunctionTemplate>> {
        self.templates.borrow().get(name).cloned()
    }
    pub fn set_template(&self, name: &'static str, t: v8::Global<v8::FunctionTemplate>) {
        self.templates.borrow_mut().insert(name, t);
    }
    /// Keeps a promise resolver (in the current context) until it is settled.
    pub fn keep_resolver(&self, scope: &mut v8::PinScope, r: v8::Local<v8::PromiseResolver>) -> u64 {
        let id = self.next_id();
        let ctx = scope.get_current_context();
        let entry = Entry::Resolver { resolver: v8::Global::new(scope, r), context: v8::Global::new(scope, ctx) };
        self.handles.borrow_mut().insert(id, entry);
        id
    }
    /// Settles a kept resolver with an outcome.
    pub fn settle_resolver(&self, iso: &mut v8::Isolate, id: u64, out: crate::transfer::Outcome) {
        let Some(Entry::Resolver { resolver, context }) = self.handles.borrow_mut().remove(&id) else { return };
        v8::scope_with_context!(let scope, iso, &context);
        let resolver = v8::Local::new(scope, resolver);
        match out.and_then(|t| crate::transfer::materialize::materialize(scope, self, t)) {
            Ok(v) => {
                resolver.resolve(scope, v);
            }
            Err(f) => {
                let e = crate::guest::throw::remote_failure_value(scope, self, f);
                resolver.reject(scope, e);
            }
        }
    }
    pub fn current_seq(&self) -> u64 {
        self.current_seq.get()
    }
    /// Whether the innermost running call was made synchronously: its caller
    /// (a Node thread, or another isolate) is blocked until it returns.
    pub fn caller_blocked(&self) -> bool {
        self.caller_blocked.get()
    }
    pub fn push_result_settler(&self, seq: u64, s: crate::transfer::promise::Settler) {
        self.result_settlers.borrow_mut().push((seq, s));
    }
    /// The settler of call `seq`, if it is the innermost one waiting.
    pub fn pop_result_settler(&self, seq: u64) -> Option<crate::transfer::promise::Settler> {
        let mut v = self.result_settlers.borrow_mut();
        if v.last().is_some_and(|(s, _)| *s == seq) {
            v.pop().map(|(_, s)| s)
        } else {
            None
        }
    }
    pub fn keep_settler(&self, s: crate::transfer::promise::Settler) -> u64 {
        let id = self.next_id();
        self.settlers.borrow_mut().insert(id, s);
        id
    }
    pub fn take_settler(&self, id: u64) -> Option<crate::transfer::promise::Settler> {
        self.settlers.borrow_mut().remove(&id)
    }
    fn clear(&self) {
        // Sessions and the inspector go first (they hold on to contexts).
        let inspector = self.inspector.borrow_mut().take();
        drop(inspector);
        // Pending promises are abandoned (their settlers reject on drop).
        let settlers = std::mem::take(&mut *self.settlers.borrow_mut());
        drop(settlers);
        let results = std::mem::take(&mut *self.result_settlers.borrow_mut());
        drop(results);
        let fns = std::mem::take(&mut *self.host_fns.borrow_mut());
        drop(fns);
        let objects = std::mem::take(&mut *self.guest_objects.borrow_mut());
        drop(objects);
        let templates = std::mem::take(&mut *self.templates.borrow_mut());
        drop(templates);
        let handles = std::mem::take(&mut *self.handles.borrow_mut());
        drop(handles);
        let hooks = std::mem::take(&mut *self.hooks.borrow_mut());
        drop(hooks);
        self.default_context.borrow_mut().take();
        self.spare_context.borrow_mut().take();
        self.last_context.borrow_mut().take();
        self.last_eval.borrow_mut().take();
        self.privates.borrow_mut().clear();
        self.names.borrow_mut().clear();
    }

    /// `name` as an internalized string, made once per isolate: a property
    /// read by a fresh string pays for its creation and its lookup in the
    /// string table on every call.
    pub fn name<'s>(&self, scope: &mut v8::PinScope<'s, '_>, name: &'static str) -> v8::Local<'s, v8::String> {
        if let Some(g) = self.names.borrow().get(&(name.as_ptr() as usize)) {
            return v8::Local::new(scope, g);
        }
        let s = v8::String::new_from_one_byte(scope, name.as_bytes(), v8::NewStringType::Internalized).unwrap();
        self.names.borrow_mut().insert(name.as_ptr() as usize, v8::Global::new(scope, s));
        s
    }
}

#[derive(Clone)]
pub struct Options {
    /// Heap limit in bytes.
    pub memory_limit: usize,
    /// The startup snapshot the isolate (and each of its contexts) starts from.
    pub snapshot: Option<Arc<super::snapshot::Blob>>,
}

impl Options {
    /// Whether isolates made with `self` and `other` are interchangeable.
    pub fn same(&self, other: &Options) -> bool {
        self.memory_limit == other.memory_limit
            && match (&self.snapshot, &other.snapshot) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

/// What a new isolate prepares before it is handed out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Warm {
    /// Nothing.
    Cold,
    /// A context for the first createContext to take.
    SpareContext,
    /// A context already in the handle table (see `IsolateHost::take_prepared`).
    Prepared,
}

thread_local! {
    /// Outcome sinks of the calls running on this thread, innermost last, and
    /// the thread's inbox: what a fatal V8 error must settle before parking.
    static RUNNING: RefCell<Vec<Done>> = const { RefCell::new(Vec::new()) };
    static INBOX: RefCell<Option<Arc<Inbox>>> = const { RefCell::new(None) };
}

/// Settles every call of this thread with a memory-limit failure (fatal path).
pub(crate) fn abandon_current_calls() {
    let running: Vec<Done> = RUNNING.with(|r| std::mem::take(&mut *r.borrow_mut()));
    for done in running.into_iter().rev() {
        done.call(Err(Failure::MemoryLimit));
    }
    if let Some(inbox) = INBOX.with(|i| i.borrow().clone()) {
        drain(&inbox);
    }
}

fn drain(inbox: &Inbox) {
    while let Ok(m) = inbox.sync_rx.try_recv().or_else(|_| inbox.task_rx.try_recv()) {
        if let Msg::Call(c) = m {
            c.fail(Failure::IsolateDisposed);
        }
    }
}

/// The young generation isolated-vm gives an isolate of `limit` bytes:
/// 1 MiB up to 16 MiB, growing with the limit. What heap statistics report
/// on top of the limit (`heap_size_limit`), as isolated-vm's do.
pub fn young_generation(limit: usize) -> usize {
    let mb = limit >> 20;
    (1usize << ((mb / 128).min(4) + 10)) << 10
}

/// The young generation V8 is given: an eighth of the limit, 1 to 16 MiB
/// (isolated-vm's is 2 MiB at 128 MB). Larger than isolated-vm's so a
/// burst of short-lived objects (a copied-in graph, parsed input) dies
/// young instead of being promoted and growing the old generation: a 10k
/// object graph copied in and out again and again scavenged once per copy
/// with 2 MiB and once every four copies with 16 MiB, ~5% of the time.
pub fn nursery(limit: usize) -> usize {
    (limit / 8).clamp(1 << 20, 16 << 20)
}

/// V8's heap limit for an isolate whose limit is `limit` bytes.
fn heap_ceiling(limit: usize) -> usize {
    limit.saturating_mul(2).max(limit + (32 << 20))
}

/// Starts a new isolate on its own thread and waits until it is ready.
pub fn spawn(opts: Options, warm: Warm) -> Result<Arc<IsolateHost>, String> {
    let (ready_tx, ready_rx) = bounded(1);
    spawn_with(opts, warm, move |r| {
        let _ = ready_tx.send(r);
    });
    ready_rx.recv().unwrap_or_else(|_| Err("the isolate thread failed to start".to_string()))
}

/// Starts a new isolate on its own thread; `ready` gets it once it can run
/// code, with what `warm` asks prepared.
pub fn spawn_with(opts: Options, warm: Warm, ready: impl FnOnce(Result<Arc<IsolateHost>, String>) + Send + 'static) {
    platform::init();
    let (sync_tx, sync_rx) = unbounded();
    let (task_tx, task_rx) = unbounded();
    let doorbell = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let inbox = Arc::new(Inbox { sync_rx, task_rx, doorbell: doorbell.clone() });
    let ready = Arc::new(parking_lot::Mutex::new(Some(ready)));
    let ready2 = ready.clone();
    let spawned = std::thread::Builder::new()
        .name("v8-isolate".into())
        .stack_size(16 << 20)
        .spawn(move || {
            // Declared before the isolate, so dropped after it: V8 reads the
            // snapshot for as long as the isolate lives.
            let snapshot = opts.snapshot.clone();
            let budget = Arc::new(Budget::new(opts.memory_limit));
            let mut params = v8::CreateParams::default()
                // V8's own limit sits above ours: the GC epilogue enforces
                // `memory_limit` (stopping a runaway heap before V8 starts
                // its slow near-limit collections); V8's is the backstop.
                .set_max_old_generation_size_in_bytes(heap_ceiling(opts.memory_limit))
                .set_max_young_generation_size_in_bytes(nursery(opts.memory_limit))
                .array_buffer_allocator(memory::allocator(budget.clone()));
            if let Some(blob) = &snapshot {
                // SAFETY: `snapshot` outlives `isolate` (declared before it).
                params = params
                    .snapshot_blob(unsafe { blob.startup_data() })
                    .external_references(super::snapshot::external_references());
            }
            let mut isolate = v8::Isolate::new(params);
            let icu = super::icu_memory::IcuMeter::new(opts.memory_limit, isolate.thread_safe_handle());
            super::icu_memory::enter(&icu);
            isolate.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
            isolate.set_allow_wasm_code_generation_callback(super::wasm_modules::allow_compile);
            isolate.set_oom_error_handler(memory::oom_handler);
            crate::ops::module::install(&mut isolate);
            let host = Arc::new(IsolateHost::new(
                sync_tx,
                task_tx,
                doorbell,
                isolate.thread_safe_handle(),
                budget,
                opts.memory_limit,
            ));
            isolate.add_near_heap_limit_callback(
                memory::near_heap_limit,
                Arc::as_ptr(&host) as *mut std::ffi::c_void,
            );
            isolate.add_gc_epilogue_callback(
                memory::gc_epilogue,
                Arc::as_ptr(&host) as *mut std::ffi::c_void,
                v8::GCType::kGCTypeAll,
            );
            memory::CURRENT.with(|c| *c.borrow_mut() = Some(host.clone()));
            INBOX.with(|i| *i.borrow_mut() = Some(inbox.clone()));
            let state = std::rc::Rc::new(State::new(host.clone()));
            isolate.set_slot(state.clone());
            match warm {
                Warm::Cold => {}
                Warm::SpareContext => {
                    v8::scope!(let scope, &mut isolate);
                    let ctx = new_context(scope);
                    *state.spare_context.borrow_mut() = Some(v8::Global::new(scope, ctx));
                }
                Warm::Prepared => {
                    let ids = crate::ops::context::insert_new_context(&mut isolate, &state, false);
                    host.set_prepared(ids);
                }
            }
            if let Some(ready) = ready.lock().take() {
                ready(Ok(host.clone()));
            }
            let done = host.clone();
            run(&mut isolate, host, &inbox, state);
            // V8's isolate is disposed here, on its own thread; then waiters
            // (a Node environment being torn down) may go on.
            drop(isolate);
            super::icu_memory::leave();
            drop(icu);
            done.thread_done();
        });
    if let Err(e) = spawned {
        if let Some(ready) = ready2.lock().take() {
            ready(Err(format!("could not start an isolate thread: {e}")));
        }
    }
}

/// The longest a busy isolate goes without running V8's foreground tasks.
const PUMP_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// Spins this long before it looks at a clock: a message that comes within
/// it is accounted from the frames' own clock readings (`gap_was_spin`);
/// past it, the thread's CPU clock (a syscall) measures the spin, since the
/// thread may have been descheduled.
const SHORT_SPIN: u32 = 256;

/// The next message, and whether it came from the sync path.
/// `idle` runs once if no message arrives within a short spin (before the
/// thread spins on or parks): the time to run V8's background-posted tasks.
/// It says whether to run again every `TICK` while parked (Node awaits a
/// guest promise, which V8's tasks may settle).
fn next_msg(inbox: &Inbox, host: &IsolateHost, idle: &mut dyn FnMut() -> bool) -> (Msg, bool) {
    let poll = || match host.take_lane() {
        Some(t) => Ok((Msg::Lane(t), true)),
        None => inbox.sync_rx.try_recv().map(|m| (m, true)).or_else(|_| inbox.task_rx.try_recv().map(|m| (m, false))),
    };
    let mut bell = inbox.bell();
    if let Ok(m) = poll() {
        super::isolate::gap_was_spin();
        return m;
    }
    // Set once the spin is no longer short: when it started (wall clock),
    // and the thread's CPU clock less the spin so far.
    let mut long: Option<(Instant, u64)> = None;
    let mut ticking = false;
    let spin_time = super::wait::spin_time();
    let mut i = 0u32;
    loop {
        i = i.wrapping_add(1);
        if i >= SPIN && i % 64 == 0 && long.is_some_and(|(start, _)| start.elapsed() > spin_time) {
            break;
        }
        let now = inbox.bell();
        // Lane posts do not ring: the lane is watched directly.
        if now != bell || host.lane_busy() {
            bell = now;
            if let Ok(m) = poll() {
                match long {
                    None => super::isolate::gap_was_spin(),
                    Some((_, cpu0)) => host.add_spin(super::isolate::thread_cpu_ns().saturating_sub(cpu0)),
                }
                return m;
            }
        }
        if i == SHORT_SPIN {
            let spent = host.idle_elapsed();
            let cpu0 = super::isolate::thread_cpu_ns().saturating_sub(spent.as_nanos() as u64);
            ticking = idle();
            long = Some((Instant::now() - spent, cpu0));
        }
        super::wait::relax(i, Some(&host.spin_as_isolate()));
    }
    if let Some((_, cpu0)) = long {
        host.add_spin(super::isolate::thread_cpu_ns().saturating_sub(cpu0));
    }
    // Park until a sender unparks this thread (every send does), or, while
    // Node awaits one of its promises, for a `TICK` at a time (see `TICK`).
    PARKS.fetch_add(1, Ordering::Relaxed);
    let parked_at = Instant::now();
    let m = loop {
        if let Ok(m) = poll() {
            break m;
        }
        if ticking {
            std::thread::park_timeout(TICK);
            if let Ok(m) = poll() {
                break m;
            }
            ticking = idle();
        } else {
            std::thread::park();
        }
    };
    // A message soon after parking: spin longer next time.
    super::wait::woke_after(parked_at.elapsed());
    m
}

/// A monotonic clock with a resolution of a few milliseconds that costs a
/// memory read (the precise one costs ~70 ns on this kind of VM): enough to
/// pace V8's foreground tasks.
fn coarse_now() -> std::time::Duration {
    std::time::Duration::from_nanos(super::isolate::clock_ns(libc::CLOCK_MONOTONIC_COARSE))
}

fn run(isolate: &mut v8::OwnedIsolate, host: Arc<IsolateHost>, inbox: &Inbox, state: std::rc::Rc<State>) {
    let platform = platform::platform();
    let mut last_pump = coarse_now();
    loop {
        let (msg, sync) = next_msg(inbox, &host, &mut || {
            pump(isolate, &state, &platform);
            last_pump = coarse_now();
            awaited(&state)
        });
        match msg {
            Msg::Call(call) => {
                if !sync {
                    host.task_taken();
                }
                run_call(isolate, &state, call, sync)
            }
            Msg::Lane(t) => run_lane(isolate, &state, t),
            Msg::Release(id) => state.remove(id),
            Msg::Dispose => break,
            Msg::Wake => {}
            Msg::Inspector => super::inspector::drain_idle(isolate, &state),
        }
        if host.hit_memory_limit() || host.is_disposed() {
            break;
        }
        // V8's foreground tasks (GC finalisation, FinalizationRegistry
        // cleanup, Atomics.waitAsync...) run when the thread goes idle, and at
        // least every millisecond while calls keep arriving back to back:
        // pumping after every call cost a lock and three clock reads each.
        let now = coarse_now();
        if now.saturating_sub(last_pump) >= PUMP_EVERY {
            pump(isolate, &state, &platform);
            last_pump = now;
        }
    }
    host.mark_disposed();
    host.dispose_children();
    drain(inbox);
    while let Some(t) = host.take_lane() {
        t.finish(Err(Failure::IsolateDisposed));
    }
    state.clear();
    isolate.remove_slot::<std::rc::Rc<State>>();
    memory::CURRENT.with(|c| c.borrow_mut().take());
    INBOX.with(|i| i.borrow_mut().take());
    drop(state);
    host.thread_exiting();
    // The OwnedIsolate is dropped (and V8's isolate disposed) by the caller,
    // on this thread.
}

/// Runs the sync calls that arrive for this isolate while its thread waits
/// inside a call (guest -> Node -> guest re-entrancy). Cheap when idle.
pub fn serve_nested(iso: &mut v8::Isolate, st: &State) -> bool {
    // Every message rings the doorbell: while it has not rung since the
    // last empty look, there is nothing to look for (a waiter calls this on
    // every turn of its spin).
    let bell = st.host.bell();
    if bell == st.nested_bell.get() && !st.host.lane_busy() {
        return false;
    }
    let worked = serve_nested_now(iso, st);
    if !worked {
        st.nested_bell.set(bell);
    }
    worked
}

fn serve_nested_now(iso: &mut v8::Isolate, st: &State) -> bool {
    INBOX.with(|i| {
        let Some(inbox) = &*i.borrow() else { return false };
        let mut worked = false;
        while let Some(t) = st.host.take_lane() {
            run_lane(iso, st, t);
            worked = true;
        }
        if inbox.sync_rx.is_empty() {
            return worked;
        }
        while let Ok(m) = inbox.sync_rx.try_recv() {
            worked = true;
            match m {
                Msg::Call(call) => run_call(iso, st, call, true),
                Msg::Lane(t) => run_lane(iso, st, t),
                Msg::Release(id) => st.remove(id),
                // The isolate is already marked disposed; the thread's main
                // loop exits once this call unwinds.
                Msg::Dispose | Msg::Wake => {}
                Msg::Inspector => {
                    super::inspector::drain(iso, st, false);
                }
            }
        }
        worked
    })
}

/// Runs one queued async call (or release) for this isolate while its thread
/// waits inside a call (a module's top-level await). False if none was queued.
pub fn serve_task(iso: &mut v8::Isolate, st: &State) -> bool {
    INBOX.with(|i| {
        let Some(inbox) = &*i.borrow() else { return false };
        match inbox.task_rx.try_recv() {
            Ok(Msg::Call(call)) => run_call(iso, st, call, false),
            Ok(Msg::Lane(t)) => run_lane(iso, st, t),
            Ok(Msg::Release(id)) => st.remove(id),
            Ok(Msg::Dispose | Msg::Wake) => {}
            Ok(Msg::Inspector) => {
                super::inspector::drain(iso, st, false);
            }
            Err(_) => return false,
        }
        true
    })
}

/// Runs V8's foreground tasks that are ready (see `pump`), from a wait inside
/// a call.
pub fn pump_tasks(iso: &mut v8::Isolate) -> bool {
    let platform = platform::platform();
    let mut any = false;
    while v8::Platform::pump_message_loop(&platform, iso, false) {
        any = true;
    }
    any
}

/// Runs V8's foreground tasks (GC finalisation, FinalizationRegistry...),
/// then the microtasks they queued: a task that settles a promise (an async
/// wasm compile finishing, an `Atomics.waitAsync` timing out) only queues its
/// reactions, and without a checkpoint guest code awaiting it would not go on
/// until some later call. They can run guest code, so they run inside a
/// frame that dispose can kill.
fn pump(isolate: &mut v8::OwnedIsolate, state: &State, platform: &v8::SharedRef<v8::Platform>) {
    let b = state.host.begin_pump();
    let mut ran = false;
    while v8::Platform::pump_message_loop(platform, isolate, false) {
        ran = true;
        if state.host.killed_since(&b) {
            break;
        }
    }
    if ran && !state.host.killed_since(&b) {
        isolate.perform_microtask_checkpoint();
        crate::ops::module::report_rejections(isolate, state);
    }
    if state.host.end(b.seq).0.is_some() {
        isolate.cancel_terminate_execution();
    }
}

/// Whether a Node call waits on a guest promise: the thread then wakes every
/// `TICK` while idle to run V8's tasks (see `next_msg`).
fn awaited(state: &State) -> bool {
    !state.settlers.borrow().is_empty()
}

/// How often an idle isolate whose promises Node awaits runs V8's tasks.
/// Only such isolates wake: V8 posts its tasks without waking the thread.
const TICK: std::time::Duration = std::time::Duration::from_millis(1);

/// Runs one call: opens a frame, arms its timeout, runs the job and the
/// microtasks it queued, then reports why the frame was killed, if it was.
pub fn run_call(isolate: &mut v8::Isolate, state: &State, call: Call, sync: bool) {
    let timeout = call.timeout;
    let (mut job, done) = call.take();
    run_work(isolate, state, &mut job, timeout, done, sync);
}

/// Runs a sync call taken out of the lane, in place in its record.
fn run_lane(isolate: &mut v8::Isolate, state: &State, taken: super::record::Taken<super::isolate::SyncCall>) {
    // SAFETY: the record is this thread's until `finish` (the `done` below),
    // which `run_work` calls after its last use of the work.
    let call = unsafe { &mut *taken.req() };
    let (work, timeout) = call.parts();
    run_work(isolate, state, work, timeout, Done::Lane(taken), true);
}

fn run_work(isolate: &mut v8::Isolate, state: &State, job: &mut super::isolate::Work, timeout: Option<std::time::Duration>, done: Done, sync: bool) {
    // Borrowed, not cloned: a clone per call would bounce the Arc's counter
    // between this thread and the callers'.
    let host = &state.host;
    let b = host.begin_until(timeout.map(|t| Instant::now() + t));
    let seq = b.seq;
    RUNNING.with(|r| r.borrow_mut().push(done));
    let outer_seq = state.current_seq.replace(seq);
    let outer_blocked = state.caller_blocked.replace(sync);
    let out = if let Some(k) = b.killed {
        // Killed before it started (disposed while queued, or the heap went
        // over the limit since the last call): do not run it.
        Err(if k == Kill::Memory { Failure::MemoryLimit } else { Failure::IsolateDisposed })
    } else {
        catch_unwind(AssertUnwindSafe(|| job.run(isolate, state)))
            .unwrap_or_else(|_| Err(Failure::Error("internal error in v8-isolates (panic)".into())))
    };
    state.current_seq.set(outer_seq);
    state.caller_blocked.set(outer_blocked);
    // Microtasks run when the outermost call ends (a nested call runs inside
    // a Node function that the outer guest code called).
    if b.depth == 1 && !host.killed_since(&b) {
        isolate.perform_microtask_checkpoint();
        crate::ops::module::report_rejections(isolate, state);
    }
    let (kill, stack, depth) = host.end(seq);
    let nested = depth > 0;
    let out = match kill {
        None => out,
        Some(k) if nested && k != Kill::Timeout => {
            // The whole isolate is going away: keep unwinding the outer frames.
            isolate.thread_safe_handle().terminate_execution();
            Err(k.failure())
        }
        Some(Kill::Timeout) => {
            isolate.thread_safe_handle().terminate_execution();
            if !nested {
                isolate.perform_microtask_checkpoint();
            }
            isolate.cancel_terminate_execution();
            Err(Failure::TimeoutAt(stack))
        }
        Some(k) => {
            // Flush microtasks queued before the kill (V8 clears the queue
            // when a checkpoint is terminated), then let the isolate run again.
            isolate.thread_safe_handle().terminate_execution();
            if !nested {
                isolate.perform_microtask_checkpoint();
            }
            isolate.cancel_terminate_execution();
            Err(k.failure())
        }
    };
    let done = RUNNING.with(|r| r.borrow_mut().pop());
    if let Some(done) = done {
        done.call(out);
    }
}

/// A new context of this isolate. Every context guest code runs in is made
/// here, without JSPI (`WebAssembly.Suspending`, `WebAssembly.promising`):
/// each call suspended through it holds a stack of its own (a ~1 MB mapping
/// and its guard) outside any limit, so ~32,000 pending ones, a few MB of
/// heap, used up the process's memory maps (`vm.max_map_count`) and the
/// host's next allocation aborted it. Nothing else reaches those two.
pub fn new_context<'s>(scope: &mut v8::PinScope<'s, '_, ()>) -> v8::Local<'s, v8::Context> {
    let ctx = v8::Context::new(scope, Default::default());
    let scope = &mut v8::ContextScope::new(scope, ctx);
    let global = ctx.global(scope);
    let key = v8::String::new(scope, "WebAssembly").unwrap();
    if let Some(wasm) = global.get(scope, key.into()).and_then(|v| v8::Local::<v8::Object>::try_from(v).ok()) {
        for name in ["Suspending", "promising"] {
            let k = v8::String::new(scope, name).unwrap();
            wasm.delete(scope, k.into());
        }
    }
    ctx
}

/// The isolate's private symbol `name` (`v8::Private::for_api`), kept per
/// isolate: making it from its name each time costs a string and a
/// string-table lookup, on paths taken for every handle and cloned object.
pub fn private_key<'s>(scope: &mut v8::PinScope<'s, '_>, name: &'static str) -> v8::Local<'s, v8::Private> {
    let st = scope.get_slot::<std::rc::Rc<State>>().cloned();
    if let Some(st) = &st {
        if let Some(g) = st.privates.borrow().get(&(name.as_ptr() as usize)) {
            return v8::Local::new(scope, g);
        }
    }
    let n = v8::String::new(scope, name).unwrap();
    let key = v8::Private::for_api(scope, Some(n));
    if let Some(st) = st {
        st.privates.borrow_mut().insert(name.as_ptr() as usize, v8::Global::new(scope, key));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn young_generation_follows_isolated_vm() {
        assert_eq!(young_generation(8 << 20), 1 << 20);
        assert_eq!(young_generation(128 << 20), 2 << 20);
        assert_eq!(young_generation(1024 << 20), 16 << 20);
        assert_eq!(young_generation(64 << 30), 16 << 20);
    }

    #[test]
    fn nursery_is_an_eighth_of_the_limit_within_bounds() {
        assert_eq!(nursery(8 << 20), 1 << 20);
        assert_eq!(nursery(32 << 20), 4 << 20);
        assert_eq!(nursery(128 << 20), 16 << 20);
        assert_eq!(nursery(64 << 30), 16 << 20);
    }
}
