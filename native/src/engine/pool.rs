//! Isolates made ahead of time. Creating a V8 isolate and its first context
//! takes over a millisecond; `new Isolate()` takes a ready one (with a
//! context already made) from here instead, and the pool refills itself on
//! background threads. Spares are kept for the most recently used limit.

use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::isolate::IsolateHost;
use super::runner::{self, Options};

/// Spares kept ready (plus those being made).
const TARGET: usize = 2;

#[derive(Default)]
struct Pool {
    limit: usize,
    spares: Vec<Arc<IsolateHost>>,
    filling: usize,
}

static POOL: Lazy<Mutex<Pool>> = Lazy::new(Default::default);

/// An isolate with `memory_limit` bytes of heap, ready to run code.
pub fn acquire(memory_limit: usize) -> Result<Arc<IsolateHost>, String> {
    let taken = {
        let mut p = POOL.lock();
        if p.limit != memory_limit {
            for h in p.spares.drain(..) {
                h.dispose();
            }
            p.limit = memory_limit;
        }
        p.spares.pop()
    };
    refill(memory_limit);
    match taken {
        Some(h) => Ok(h),
        None => runner::spawn(Options { memory_limit }),
    }
}

fn refill(memory_limit: usize) {
    let mut p = POOL.lock();
    while p.limit == memory_limit && p.spares.len() + p.filling < TARGET {
        p.filling += 1;
        runner::spawn_with(Options { memory_limit }, true, move |r| {
            let mut p = POOL.lock();
            p.filling -= 1;
            if let Ok(h) = r {
                if p.limit == memory_limit && p.spares.len() < TARGET {
                    p.spares.push(h);
                } else {
                    h.dispose();
                }
            }
        });
    }
}
