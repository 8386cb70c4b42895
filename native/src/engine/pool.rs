//! Isolates made ahead of time. Creating a V8 isolate and its first context
//! takes over a millisecond; a pool of spares hands out ready ones instead
//! and refills itself on background threads.
//!
//! `new Isolate()` uses one process-wide pool of three spares for the most
//! recently used options (memory limit and snapshot); each `IsolatePool` is
//! a `Spares` of its own, whose isolates come with a context already made.

use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::isolate::IsolateHost;
use super::runner::{self, Options, Warm};

/// Spares kept ready by the process-wide pool (plus those being made).
const TARGET: usize = 3;

#[derive(Default)]
struct Inner {
    spares: Vec<Arc<IsolateHost>>,
    filling: usize,
    closed: bool,
}

/// A set of ready isolates, all made with the same options.
pub struct Spares {
    opts: Options,
    warm: Warm,
    target: usize,
    inner: Mutex<Inner>,
}

impl Spares {
    /// A pool that keeps `target` isolates ready (it starts filling now).
    pub fn new(opts: Options, warm: Warm, target: usize) -> Arc<Spares> {
        let s = Arc::new(Spares { opts, warm, target, inner: Mutex::new(Inner::default()) });
        s.refill();
        s
    }

    /// A ready isolate, or a new one made now if none is ready.
    pub fn acquire(self: &Arc<Self>) -> Result<Arc<IsolateHost>, String> {
        let taken = self.inner.lock().spares.pop();
        self.refill();
        match taken {
            Some(h) => Ok(h),
            None => runner::spawn(self.opts.clone(), self.warm),
        }
    }

    /// Isolates ready now.
    pub fn ready(&self) -> usize {
        self.inner.lock().spares.len()
    }

    /// Disposes the spares; the pool makes no more.
    pub fn close(&self) {
        let spares = {
            let mut i = self.inner.lock();
            i.closed = true;
            std::mem::take(&mut i.spares)
        };
        for h in spares {
            h.dispose();
        }
    }

    fn refill(self: &Arc<Self>) {
        let mut i = self.inner.lock();
        while !i.closed && i.spares.len() + i.filling < self.target {
            i.filling += 1;
            let me = self.clone();
            let opts = self.opts.clone();
            let warm = self.warm;
            in_background(Box::new(move || runner::spawn_with(opts, warm, move |r| {
                let mut i = me.inner.lock();
                i.filling -= 1;
                match r {
                    Ok(h) if !i.closed && i.spares.len() < me.target => i.spares.push(h),
                    Ok(h) => {
                        drop(i);
                        h.dispose();
                    }
                    Err(_) => {}
                }
            })));
        }
    }
}

type Task = Box<dyn FnOnce() + Send>;

/// Starting a thread costs tens of microseconds: refills are started from a
/// helper thread, off the path of whoever takes an isolate.
fn in_background(task: Task) {
    static SPAWNER: Lazy<Mutex<Option<crossbeam_channel::Sender<Task>>>> = Lazy::new(|| {
        let (tx, rx) = crossbeam_channel::unbounded::<Task>();
        let started = std::thread::Builder::new().name("v8-isolates-pool".into()).spawn(move || {
            for task in rx {
                task();
            }
        });
        Mutex::new(started.ok().map(|_| tx))
    });
    let task = match &*SPAWNER.lock() {
        Some(tx) => match tx.send(task) {
            Ok(()) => return,
            Err(e) => e.into_inner(),
        },
        None => task,
    };
    task();
}

static GLOBAL: Lazy<Mutex<Option<Arc<Spares>>>> = Lazy::new(Default::default);

/// An isolate made with `opts`, ready to run code (`new Isolate()`).
pub fn acquire(opts: Options) -> Result<Arc<IsolateHost>, String> {
    let pool = {
        let mut g = GLOBAL.lock();
        match &*g {
            Some(p) if p.opts.same(&opts) => p.clone(),
            _ => {
                if let Some(old) = g.take() {
                    old.close();
                }
                let p = Spares::new(opts, Warm::SpareContext, TARGET);
                *g = Some(p.clone());
                p
            }
        }
    };
    pool.acquire()
}
