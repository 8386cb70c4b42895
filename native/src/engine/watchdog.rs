//! One process-wide thread that enforces timeouts: it kills the frame a
//! deadline belongs to if that frame is still running when it expires.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use crossbeam_channel::{unbounded, Sender};
use once_cell::sync::OnceCell;

use super::isolate::{IsolateHost, Kill};

struct Deadline {
    at: Instant,
    host: Weak<IsolateHost>,
    seq: u64,
}

impl PartialEq for Deadline {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at
    }
}
impl Eq for Deadline {}
impl PartialOrd for Deadline {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Deadline {
    fn cmp(&self, o: &Self) -> Ordering {
        self.at.cmp(&o.at)
    }
}

static TX: OnceCell<Sender<Deadline>> = OnceCell::new();

fn sender() -> &'static Sender<Deadline> {
    TX.get_or_init(|| {
        let (tx, rx) = unbounded::<Deadline>();
        std::thread::Builder::new()
            .name("v8-isolates-watchdog".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Reverse<Deadline>> = BinaryHeap::new();
                loop {
                    let now = Instant::now();
                    while heap.peek().is_some_and(|d| d.0.at <= now) {
                        let d = heap.pop().unwrap().0;
                        if let Some(host) = d.host.upgrade() {
                            host.kill_seq(d.seq, Kill::Timeout);
                        }
                    }
                    let next = match heap.peek() {
                        Some(d) => rx.recv_deadline(d.0.at),
                        None => rx.recv().map_err(|_| crossbeam_channel::RecvTimeoutError::Disconnected),
                    };
                    match next {
                        Ok(d) => heap.push(Reverse(d)),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("could not start the timeout thread");
        tx
    })
}

/// Kills frame `seq` of `host` at `at` unless it has finished by then.
pub fn arm(at: Instant, host: &Arc<IsolateHost>, seq: u64) {
    let _ = sender().send(Deadline { at, host: Arc::downgrade(host), seq });
}
