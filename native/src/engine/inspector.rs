//! The V8 inspector of one isolate (isolate thread side): DevTools-protocol
//! sessions, the message loop that runs while the guest is paused at a
//! breakpoint, and internal sessions that run the CPU profiler.
//!
//! Node sends protocol messages on a channel of their own (`IsolateHost::
//! inspector_send`), not on the call queues: the isolate thread reads it
//! between calls, from an interrupt while guest code runs, and from the pause
//! loop while the guest is stopped in the debugger (when the call queues are
//! not being served).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use v8::inspector::{
    Channel, ChannelImpl, StringBuffer, StringView, V8Inspector, V8InspectorClient, V8InspectorClientImpl,
    V8InspectorClientTrustLevel, V8InspectorSession,
};

use super::runner::State;

/// The one context group every inspected context of an isolate joins.
const GROUP: i32 = 1;

/// Where a session's messages go: `(call id or None for a notification, JSON)`.
pub type Deliver = Box<dyn Fn(Option<i32>, String) + Send + Sync>;

/// What Node asks of the inspector.
pub enum InspMsg {
    Connect(u64, Deliver),
    Dispatch(u64, String),
    Disconnect(u64),
}

thread_local! {
    /// Inside a drain of the inspector channel (interrupts skip draining then;
    /// the pause loop does not).
    static DRAINING: Cell<u32> = const { Cell::new(0) };
}

fn text(message: &v8::UniquePtr<StringBuffer>) -> String {
    let Some(buf) = message.as_ref() else { return String::new() };
    match buf.string() {
        StringView::U16(chars) => String::from_utf16_lossy(&chars),
        StringView::U8(chars) => match std::str::from_utf8(&chars) {
            Ok(s) => s.to_string(),
            // Latin-1.
            Err(_) => chars.iter().map(|&b| b as char).collect(),
        },
    }
}

/// A user session: messages go to Node.
struct NodeChannel(Deliver);

impl ChannelImpl for NodeChannel {
    fn send_response(&self, call_id: i32, message: v8::UniquePtr<StringBuffer>) {
        (self.0)(Some(call_id), text(&message));
    }
    fn send_notification(&self, message: v8::UniquePtr<StringBuffer>) {
        (self.0)(None, text(&message));
    }
    fn flush_protocol_notifications(&self) {}
}

/// An internal session: responses are kept for the caller to read.
struct LocalChannel(Rc<RefCell<Vec<(i32, String)>>>);

impl ChannelImpl for LocalChannel {
    fn send_response(&self, call_id: i32, message: v8::UniquePtr<StringBuffer>) {
        self.0.borrow_mut().push((call_id, text(&message)));
    }
    fn send_notification(&self, _message: v8::UniquePtr<StringBuffer>) {}
    fn flush_protocol_notifications(&self) {}
}

struct Session {
    v8: V8InspectorSession,
    /// Dispatches of this session in progress (a dispatch can pause the
    /// guest, and the pause loop dispatches more): it is dropped only when
    /// none is.
    dispatching: Cell<u32>,
}

impl Session {
    fn dispatch(&self, message: &str) {
        let units: Vec<u16> = message.encode_utf16().collect();
        self.dispatching.set(self.dispatching.get() + 1);
        self.v8.dispatch_protocol_message(StringView::from(&units[..]));
        self.dispatching.set(self.dispatching.get() - 1);
    }
}

struct Profile {
    session: Session,
    responses: Rc<RefCell<Vec<(i32, String)>>>,
}

/// Shared by the inspector client (V8 calls it) and the agent.
struct Pause {
    iso: v8::UnsafeRawIsolatePtr,
    quit: Cell<bool>,
    depth: Cell<u32>,
    /// The latest inspected context: where `Runtime.evaluate` runs when the
    /// client names no context.
    default_context: RefCell<Option<v8::Global<v8::Context>>>,
}

struct Client(Rc<Pause>);

impl V8InspectorClientImpl for Client {
    fn run_message_loop_on_pause(&self, _group: i32) {
        let mut raw = self.0.iso;
        // SAFETY: V8 calls this on the isolate's own thread, while the isolate
        // (which outlives its inspector) is alive.
        let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
        let pause = self.0.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pause_loop(iso, &pause)));
        if r.is_err() {
            eprintln!("v8-isolates: internal error in the inspector's pause loop");
        }
    }
    fn quit_message_loop_on_pause(&self) {
        self.0.quit.set(true);
    }
    fn ensure_default_context_in_group(&self, _group: i32) -> Option<v8::Local<'_, v8::Context>> {
        let ctx = self.0.default_context.borrow().clone()?;
        let mut raw = self.0.iso;
        // SAFETY: V8 calls this on the isolate's thread, inside a handle scope
        // of its own that outlives this call: the Local is created there.
        let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
        v8::callback_scope!(unsafe scope, iso);
        let local = v8::Local::new(scope, ctx);
        // SAFETY: as above, the handle lives in V8's enclosing scope.
        Some(unsafe { local.extend_lifetime_unchecked() })
    }
}

/// The inspector of one isolate.
pub struct Agent {
    // Field order is drop order: sessions before the inspector.
    sessions: RefCell<HashMap<u64, Rc<Session>>>,
    /// Sessions disposed while one of their dispatches was running.
    closing: RefCell<Vec<Rc<Session>>>,
    profiles: RefCell<HashMap<String, Profile>>,
    inspector: V8Inspector,
    pause: Rc<Pause>,
    /// This thread's OS id, for profiles.
    pub thread_id: i64,
}

impl Agent {
    pub fn new(iso: &mut v8::Isolate) -> Agent {
        // SAFETY: the pointer is only turned back into a reference on this
        // thread while the isolate is alive (the agent is dropped first).
        let raw = unsafe { iso.as_raw_isolate_ptr() };
        let pause = Rc::new(Pause {
            iso: raw,
            quit: Cell::new(false),
            depth: Cell::new(0),
            default_context: RefCell::new(None),
        });
        let client = V8InspectorClient::new(Box::new(Client(pause.clone())));
        let inspector = V8Inspector::create(iso, client);
        Agent {
            sessions: RefCell::new(HashMap::new()),
            closing: RefCell::new(Vec::new()),
            profiles: RefCell::new(HashMap::new()),
            inspector,
            pause,
            // SAFETY: gettid has no preconditions.
            thread_id: unsafe { libc::syscall(libc::SYS_gettid) } as i64,
        }
    }

    /// Makes a context visible to sessions (`createContext({inspector: true})`).
    pub fn context_created(&self, iso: &mut v8::Isolate, ctx: v8::Local<v8::Context>, name: &str) {
        *self.pause.default_context.borrow_mut() = Some(v8::Global::new(iso, ctx));
        let name: Vec<u16> = name.encode_utf16().collect();
        let aux: Vec<u16> = r#"{"isDefault":true}"#.encode_utf16().collect();
        self.inspector.context_created(ctx, GROUP, StringView::from(&name[..]), StringView::from(&aux[..]));
    }

    fn connect(&self, channel: Box<dyn ChannelImpl>) -> Session {
        let v8 = self.inspector.connect(
            GROUP,
            Channel::new(channel),
            StringView::empty(),
            V8InspectorClientTrustLevel::FullyTrusted,
        );
        Session { v8, dispatching: Cell::new(0) }
    }

    fn handle(&self, msg: InspMsg) {
        match msg {
            InspMsg::Connect(id, deliver) => {
                let s = Rc::new(self.connect(Box::new(NodeChannel(deliver))));
                self.sessions.borrow_mut().insert(id, s);
            }
            InspMsg::Dispatch(id, message) => {
                let s = self.sessions.borrow().get(&id).cloned();
                if let Some(s) = s {
                    s.dispatch(&message);
                }
            }
            InspMsg::Disconnect(id) => {
                let s = self.sessions.borrow_mut().remove(&id);
                if let Some(s) = s {
                    if s.dispatching.get() > 0 {
                        // One of its dispatches paused the guest (it is on the
                        // stack below us): let go of the pause, drop it later.
                        s.dispatch(r#"{"id":0,"method":"Debugger.disable"}"#);
                        self.closing.borrow_mut().push(s);
                    }
                }
            }
        }
        self.closing.borrow_mut().retain(|s| s.dispatching.get() > 0);
    }

    fn has_sessions(&self) -> bool {
        !self.sessions.borrow().is_empty()
    }

    /// Starts profiling under `title` (a second start of a title is a no-op).
    pub fn start_profiling(&self, title: &str, interval_us: u32) {
        if self.profiles.borrow().contains_key(title) {
            return;
        }
        let responses = Rc::new(RefCell::new(Vec::new()));
        let session = self.connect(Box::new(LocalChannel(responses.clone())));
        session.dispatch(r#"{"id":1,"method":"Profiler.enable"}"#);
        session.dispatch(&format!(
            r#"{{"id":2,"method":"Profiler.setSamplingInterval","params":{{"interval":{interval_us}}}}}"#
        ));
        session.dispatch(r#"{"id":3,"method":"Profiler.start"}"#);
        responses.borrow_mut().clear();
        self.profiles.borrow_mut().insert(title.to_string(), Profile { session, responses });
    }

    /// Stops profiling under `title`: the `Profiler.stop` response (JSON with
    /// `result.profile`), or None if no such profile was running.
    pub fn stop_profiling(&self, title: &str) -> Option<String> {
        let p = self.profiles.borrow_mut().remove(title)?;
        p.session.dispatch(r#"{"id":4,"method":"Profiler.stop"}"#);
        let r = p.responses.borrow_mut().drain(..).find(|(id, _)| *id == 4).map(|(_, m)| m);
        drop(p);
        r
    }
}

/// The agent of this isolate, created on first use.
pub fn agent(iso: &mut v8::Isolate, st: &State) -> Rc<Agent> {
    if let Some(a) = st.inspector.borrow().as_ref() {
        return a.clone();
    }
    let a = Rc::new(Agent::new(iso));
    *st.inspector.borrow_mut() = Some(a.clone());
    a
}

/// Handles the protocol messages waiting for this isolate; returns whether
/// there were any. `force`: also when called inside another drain (the pause
/// loop, entered from a dispatch).
pub fn drain(iso: &mut v8::Isolate, st: &State, force: bool) -> bool {
    if !force && DRAINING.with(|d| d.get()) > 0 {
        return false;
    }
    let rx = st.host.inspector_rx();
    if rx.is_empty() {
        return false;
    }
    DRAINING.with(|d| d.set(d.get() + 1));
    let a = agent(iso, st);
    let mut worked = false;
    while let Ok(m) = rx.try_recv() {
        worked = true;
        a.handle(m);
    }
    DRAINING.with(|d| d.set(d.get() - 1));
    worked
}

/// Handles protocol messages between calls, inside a frame of their own: code
/// a client evaluates can be stopped by `dispose()` (and by the memory
/// limit), and the microtasks it queues run.
pub fn drain_idle(iso: &mut v8::Isolate, st: &State) {
    let b = st.host.begin_pump();
    if drain(iso, st, false) && !st.host.killed_since(&b) {
        iso.perform_microtask_checkpoint();
    }
    if st.host.end(b.seq).0.is_some() {
        iso.cancel_terminate_execution();
    }
}

/// Interrupt requested by `IsolateHost::inspector_send` while guest code
/// runs: the messages are handled right away, as Node does.
pub unsafe extern "C" fn interrupt(mut raw: v8::UnsafeRawIsolatePtr, _data: *mut std::ffi::c_void) {
    // SAFETY: V8 runs interrupts on the isolate's own thread with a live isolate.
    let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(st) = iso.get_slot::<Rc<State>>().cloned() else { return };
        st.host.inspector_interrupt_ran();
        drain(iso, &st, false);
    }));
}

/// Runs while the guest is paused in the debugger: handles protocol
/// messages (one of which resumes it) and the sync calls that arrive for
/// this thread, until V8 says to resume, the isolate is disposed, a timeout
/// kills the running call, or the last session is gone.
fn pause_loop(iso: &mut v8::Isolate, pause: &Pause) {
    let Some(st) = iso.get_slot::<Rc<State>>().cloned() else { return };
    let Some(agent) = st.inspector.borrow().clone() else { return };
    pause.depth.set(pause.depth.get() + 1);
    pause.quit.set(false);
    loop {
        let mut worked = drain(iso, &st, true);
        if pause.quit.get() || st.host.is_disposed() || st.host.any_frame_killed() || !agent.has_sessions() {
            break;
        }
        worked |= super::runner::serve_nested(iso, &st);
        if !worked {
            // Every sender unparks this thread.
            std::thread::park_timeout(Duration::from_millis(50));
        }
    }
    pause.quit.set(false);
    pause.depth.set(pause.depth.get() - 1);
}
