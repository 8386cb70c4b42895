//! Per-Node-environment bookkeeping: the isolates created by an environment
//! are disposed when it is torn down (a worker_thread exits, or the process).

use std::sync::{Arc, Weak};

use neon::prelude::*;
use neon::thread::LocalKey;
use parking_lot::Mutex;

use crate::engine::isolate::IsolateHost;

pub struct EnvIsolates(Mutex<Vec<Weak<IsolateHost>>>, Arc<super::envlink::EnvLink>);

impl Drop for EnvIsolates {
    fn drop(&mut self) {
        // No JS runs in this environment any more: calls guests are making
        // into it fail, so their threads can stop.
        self.1.close();
        let hosts: Vec<Arc<IsolateHost>> = self.0.lock().drain(..).filter_map(|w| w.upgrade()).collect();
        for h in &hosts {
            h.dispose();
        }
        // Let their threads finish disposing V8 state before the environment
        // (perhaps the process) goes on to exit; a thread stuck in guest code
        // that ignores termination is not waited for long.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        for h in &hosts {
            h.wait_thread_done(deadline);
        }
    }
}

static ENV: LocalKey<EnvIsolates> = LocalKey::new();

pub fn register<'a>(cx: &mut impl Context<'a>, host: &Arc<IsolateHost>) {
    let link = super::envlink::link(cx);
    let env = ENV.get_or_init(cx, || EnvIsolates(Mutex::default(), link));
    let mut list = env.0.lock();
    if list.len() >= 64 && list.len().is_power_of_two() {
        list.retain(|w| w.upgrade().is_some_and(|h| !h.thread_finished()));
    }
    list.push(Arc::downgrade(host));
}
