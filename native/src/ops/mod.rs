//! What each call does on the isolate thread: the bodies of the jobs that the
//! Node side (and, later, guests) queue. Every op gets the isolate and the
//! thread's state and returns an `Outcome`.

pub mod code;
pub mod context;
pub mod isolate;
pub mod module;
pub mod profiler;
pub mod reference;

/// Where compiled code says it came from.
#[derive(Clone, PartialEq)]
pub struct Origin {
    pub filename: String,
    pub line_offset: i32,
    pub column_offset: i32,
}

impl Default for Origin {
    fn default() -> Self {
        Origin { filename: "<isolated-vm>".into(), line_offset: 0, column_offset: 0 }
    }
}

/// Code cache options of a compile: data to consume, and whether to produce
/// new data (only if none was supplied or it was rejected).
#[derive(Default)]
pub struct CacheOptions {
    pub data: Option<crate::transfer::external::Store>,
    pub produce: bool,
    /// The data came from guest code, which could have written any bytes
    /// into it: only data this process produced for this very source is
    /// used (see `seal_cache`).
    pub untrusted: bool,
}

impl CacheOptions {
    /// The V8 part of the supplied data if it was produced for `code`; V8
    /// itself only checks the source's length, so data made for another
    /// source of the same length would run the wrong code.
    pub fn data_for<'a>(&'a self, code: &str) -> Option<&'a [u8]> {
        let d = self.data.as_ref()?.bytes();
        if d.len() < CACHE_HEADER || &d[..4] != CACHE_MAGIC || d[4..12] != source_hash(code).to_le_bytes() {
            return None;
        }
        let v8_data = &d[CACHE_HEADER..];
        if self.untrusted && d[12..20] != cache_tag(code, v8_data).to_le_bytes() {
            return None;
        }
        Some(v8_data)
    }
}

const CACHE_MAGIC: &[u8; 4] = b"v8i2";
const CACHE_HEADER: usize = 20;

/// Cached data as handed out: a header (magic, a hash of the source, a tag),
/// then V8's data. V8 does not check its code cache data beyond a few header
/// fields (its checksum only in debug builds), and the data is bytecode: data
/// a guest made up could corrupt the process. Node's data is trusted (as
/// Node can run any code anyway), a guest's is used only with a valid tag: a
/// hash of the source and the data keyed with a secret drawn once per process
/// (SipHash), which only this process can compute.
pub fn seal_cache(code: &str, v8_data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CACHE_HEADER + v8_data.len());
    out.extend_from_slice(CACHE_MAGIC);
    out.extend_from_slice(&source_hash(code).to_le_bytes());
    out.extend_from_slice(&cache_tag(code, v8_data).to_le_bytes());
    out.extend_from_slice(v8_data);
    out
}

/// The tag of `seal_cache`.
fn cache_tag(code: &str, v8_data: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    static KEY: once_cell::sync::Lazy<std::collections::hash_map::RandomState> =
        once_cell::sync::Lazy::new(std::collections::hash_map::RandomState::new);
    KEY.hash_one((code.as_bytes(), v8_data))
}

/// A fast 64-bit hash of the source text (not cryptographic: cached data
/// must come from a trusted place anyway, it holds bytecode).
fn source_hash(code: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let b = code.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &x in chunks.remainder() {
        h = (h.rotate_left(5) ^ x as u64).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// A property key: a string or an array index.
#[derive(Clone)]
pub enum Key {
    Name(String),
    Index(u32),
}
