//! The engine: V8's process-wide platform, one thread per isolate with its
//! queues, and the limits (timeouts, memory) enforced on it.

pub mod inspector;
pub mod isolate;
pub mod memory;
pub mod platform;
pub mod pool;
pub mod runner;
pub mod snapshot;
pub mod wait;
pub mod watchdog;
