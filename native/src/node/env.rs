//! Per-Node-environment bookkeeping: the isolates created by an environment
//! are disposed when it is torn down (a worker_thread exits, or the process).

use std::sync::{Arc, Weak};

use neon::prelude::*;
use neon::thread::LocalKey;
use parking_lot::Mutex;

use crate::engine::isolate::IsolateHost;

#[derive(Default)]
pub struct EnvIsolates(Mutex<Vec<Weak<IsolateHost>>>);

impl Drop for EnvIsolates {
    fn drop(&mut self) {
        for host in self.0.lock().drain(..) {
            if let Some(h) = host.upgrade() {
                h.dispose();
            }
        }
    }
}

static ENV: LocalKey<EnvIsolates> = LocalKey::new();

pub fn register<'a>(cx: &mut impl Context<'a>, host: &Arc<IsolateHost>) {
    let env = ENV.get_or_init(cx, EnvIsolates::default);
    let mut list = env.0.lock();
    if list.len() >= 64 && list.len().is_power_of_two() {
        list.retain(|w| w.upgrade().is_some_and(|h| !h.is_disposed()));
    }
    list.push(Arc::downgrade(host));
}
