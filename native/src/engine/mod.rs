//! The engine: V8's process-wide platform, one thread per isolate with its
//! queues, and the limits (timeouts, memory) enforced on it.

pub mod icu_memory;
pub mod inspector;
pub mod isolate;
pub mod memory;
pub mod platform;
pub mod pool;
pub mod record;
pub mod reserved;
pub mod runner;
pub mod serializer_cap;
pub mod snapshot;
pub mod wait;
pub mod wasm_modules;
pub mod watchdog;

/// Hashes the engine's own ids (handles, functions, guest objects: numbers
/// it hands out in sequence, never chosen by guest code) with one multiply
/// instead of SipHash, which showed up in the profile of every call.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(GOLDEN);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(GOLDEN);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by engine ids.
pub type IdMap<V> = std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;
