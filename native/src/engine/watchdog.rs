//! One process-wide thread that enforces timeouts. A call's deadline lives in
//! its frame (`IsolateHost::begin_until`) and goes when the frame ends, so
//! nothing piles up however many calls pass. The thread sleeps until the
//! earliest deadline it knows of; a call wakes it only when it sets an
//! earlier one (an earlier design sent every deadline to the thread: a
//! wake-up per call, and each deadline kept until it expired, 46 MB after a
//! million calls with a 60 s timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use super::isolate::IsolateHost;

/// Isolates that may have a frame with a deadline.
static HOSTS: Mutex<Vec<Weak<IsolateHost>>> = Mutex::new(Vec::new());

/// When the thread wakes next, in ns after `BASE`; `AWAKE` while it reads
/// the deadlines (a deadline set meanwhile wakes it once more), `IDLE` when
/// it knows of none.
static SLEEP_UNTIL: AtomicU64 = AtomicU64::new(IDLE);
const AWAKE: u64 = 0;
const IDLE: u64 = u64::MAX;

static BASE: Lazy<Instant> = Lazy::new(Instant::now);
static THREAD: OnceCell<std::thread::Thread> = OnceCell::new();

fn nanos(at: Instant) -> u64 {
    // 1 at the least: 0 is AWAKE.
    (at.saturating_duration_since(*BASE).as_nanos() as u64).clamp(1, IDLE - 1)
}

fn thread() -> &'static std::thread::Thread {
    THREAD.get_or_init(|| {
        Lazy::force(&BASE);
        std::thread::Builder::new()
            .name("v8-isolates-watchdog".into())
            .spawn(run)
            .expect("could not start the timeout thread")
            .thread()
            .clone()
    })
}

/// `host` has just set a deadline `at` in one of its frames.
pub fn watch(host: &Arc<IsolateHost>, at: Instant) {
    if !host.watched() {
        let mut hosts = HOSTS.lock();
        if host.set_watched() {
            hosts.push(Arc::downgrade(host));
        }
    }
    let t = thread();
    let until = SLEEP_UNTIL.load(Ordering::SeqCst);
    if until == AWAKE || nanos(at) < until {
        t.unpark();
    }
}

fn run() {
    loop {
        SLEEP_UNTIL.store(AWAKE, Ordering::SeqCst);
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let hosts: Vec<Arc<IsolateHost>> = {
            let mut hosts = HOSTS.lock();
            // Hosts with no deadline left leave the list (under its lock: one
            // setting a deadline meanwhile waits, sees its mark cleared and
            // joins again).
            hosts.retain(|w| w.upgrade().is_some_and(|h| !h.unwatch_if_idle()));
            hosts.iter().filter_map(Weak::upgrade).collect()
        };
        for h in &hosts {
            if let Some(at) = h.expire_deadlines(now) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        drop(hosts);
        match next {
            Some(at) => {
                SLEEP_UNTIL.store(nanos(at), Ordering::SeqCst);
                std::thread::park_timeout(at.saturating_duration_since(Instant::now()).max(Duration::from_micros(50)));
            }
            None => {
                SLEEP_UNTIL.store(IDLE, Ordering::SeqCst);
                std::thread::park();
            }
        }
    }
}
