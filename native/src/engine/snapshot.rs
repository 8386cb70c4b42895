//! Startup snapshots: making them on a thread of their own (bounded in time
//! and memory), sealing them so that only blobs this process made are ever
//! loaded, and the external references that isolates made from them need.
//!
//! A V8 startup blob holds machine code and object layouts that V8 trusts;
//! V8 itself checks only a version string and (optionally) a checksum. A blob
//! is therefore sealed with an HMAC-SHA256 under a key drawn at random when
//! the process first needs it: `open` refuses anything this process did not
//! make, before V8 sees a byte of it.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use once_cell::sync::Lazy;
use sha2::Sha256;

use super::{memory, platform, runner};
use crate::ops::Origin;
use crate::transfer::error::{capture_compile_error, capture_exception};
use crate::transfer::{ErrorClass, ErrorInfo, Failure};

const MAGIC: &[u8; 8] = b"V8ISNAP\x01";
const TAG_LEN: usize = 32;
const HEADER: usize = MAGIC.len() + TAG_LEN;

pub const NOT_OURS: &str = "Invalid snapshot: not a snapshot made by v8-isolates";
pub const FORGED: &str =
    "Invalid snapshot: it was not made by this process or has been modified (snapshots are only accepted by the process that created them)";
pub const INCOMPATIBLE: &str = "Invalid snapshot: it does not match this V8 build";

/// The process's sealing key: 32 random bytes from the kernel.
static KEY: Lazy<[u8; 32]> = Lazy::new(|| {
    let mut key = [0u8; 32];
    let mut filled = 0;
    while filled < key.len() {
        // SAFETY: writes at most `len - filled` bytes into `key[filled..]`.
        let n = unsafe { libc::getrandom(key[filled..].as_mut_ptr().cast(), key.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key[filled..]))
                .expect("v8-isolates: no source of randomness for the snapshot key");
            filled = key.len();
        }
    }
    key
});

fn mac() -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&*KEY).expect("HMAC takes any key length");
    m.update(MAGIC);
    m
}

/// Our header (magic + tag) followed by the V8 blob.
pub fn seal(raw: &[u8]) -> Vec<u8> {
    let mut m = mac();
    m.update(raw);
    let tag = m.finalize().into_bytes();
    let mut out = Vec::with_capacity(HEADER + raw.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&tag);
    out.extend_from_slice(raw);
    out
}

/// A verified V8 startup blob. Isolates made from it borrow its bytes for
/// their whole life (V8 reads the context part on every `Context::New`).
pub struct Blob {
    data: Box<[u8]>,
}

impl Blob {
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The blob as V8 takes it.
    ///
    /// # Safety
    /// The caller keeps this `Blob` alive for as long as V8 may read the
    /// returned data: until the isolate created with it has been disposed.
    pub unsafe fn startup_data(&self) -> v8::StartupData {
        // SAFETY: the bytes are never mutated or moved (a boxed slice behind
        // an Arc); the caller keeps them alive (see above).
        let bytes: &'static [u8] = unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.data.len()) };
        v8::StartupData::from(bytes)
    }
}

/// Checks a sealed blob and returns the V8 blob inside it.
pub fn open(sealed: &[u8]) -> Result<Arc<Blob>, &'static str> {
    if sealed.len() <= HEADER || &sealed[..MAGIC.len()] != MAGIC {
        return Err(NOT_OURS);
    }
    let (tag, raw) = sealed[MAGIC.len()..].split_at(TAG_LEN);
    let mut m = mac();
    m.update(raw);
    // Constant-time comparison.
    m.verify_slice(tag).map_err(|_| FORGED)?;
    // Only blobs sealed here get this far; V8's version check (a fatal
    // CHECK on a blob shorter than its header) is still kept off junk.
    if raw.len() < 1024 {
        return Err(INCOMPATIBLE);
    }
    let blob = Blob { data: raw.into() };
    // SAFETY: `check` is dropped before `blob`.
    let check = unsafe { blob.startup_data() };
    if !check.is_valid() {
        return Err(INCOMPATIBLE);
    }
    drop(check);
    Ok(Arc::new(blob))
}

/// The native functions that guest objects may point at. Every function
/// callback this library installs in a guest heap must be listed here: a
/// heap serialized with a callback missing from the list cannot be made.
pub fn external_references() -> Cow<'static, [v8::ExternalReference]> {
    use v8::MapFnTo;
    Cow::Owned(vec![
        v8::ExternalReference { function: crate::guest::callback::trampoline.map_fn_to() },
        v8::ExternalReference { function: crate::guest::natives::trampoline.map_fn_to() },
        v8::ExternalReference { function: crate::transfer::promise::on_fulfilled.map_fn_to() },
        v8::ExternalReference { function: crate::transfer::promise::on_rejected.map_fn_to() },
        v8::ExternalReference { function: crate::guest::external_copy::construct.map_fn_to() },
        v8::ExternalReference { function: crate::guest::external_copy::method.map_fn_to() },
        v8::ExternalReference { function: crate::guest::external_copy::total_size.map_fn_to() },
    ])
}

/// A script to run while making a snapshot.
pub struct Source {
    pub code: String,
    pub origin: Origin,
}

/// Bounds on making a snapshot.
#[derive(Clone, Copy)]
pub struct Limits {
    pub timeout: Option<Duration>,
    /// Heap limit in bytes.
    pub memory_limit: usize,
}

/// What stopped the snapshot scripts, if anything.
struct Guard {
    memory: AtomicBool,
    timeout: AtomicBool,
    handle: v8::IsolateHandle,
}

unsafe extern "C" fn near_limit(data: *mut std::ffi::c_void, current: usize, initial: usize) -> usize {
    // SAFETY: `data` is the `Guard` of the running `with_creator` call, which
    // outlives the isolate; V8 calls this on the isolate's thread.
    let guard = unsafe { &*(data as *const Guard) };
    let first = !guard.memory.swap(true, Ordering::AcqRel);
    guard.handle.terminate_execution();
    // Enough headroom to unwind the terminated script, a bounded number of
    // times: past it, V8's fatal OOM ends on the fatal hook (no crash).
    if first || current < initial.saturating_mul(4) {
        current.saturating_add(initial.max(64 << 20))
    } else {
        current
    }
}

/// V8 shares one read-only heap between the isolates of the process, made
/// from the snapshot of whichever isolate comes first, and drops it when the
/// last isolate goes. A blob refers to read-only objects by their place in
/// the read-only heap its creator had, and the read-only heap rebuilt from
/// another blob is laid out differently: an isolate made from snapshot A
/// while the shared read-only heap came from snapshot B reads out of bounds
/// and aborts. So before the first snapshot is made, one idle isolate is made
/// (from V8's built-in snapshot) and never disposed: the read-only heap every
/// snapshot creator and every snapshot isolate then sees is that one.
fn keep_read_only_heap() {
    static KEEPER: std::sync::Once = std::sync::Once::new();
    KEEPER.call_once(|| {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let spawned = std::thread::Builder::new().name("v8-isolates-ro".into()).spawn(move || {
            let isolate = v8::Isolate::new(v8::CreateParams::default());
            let _ = tx.send(());
            // Parked for the life of the process, holding the isolate.
            let _keep = isolate;
            loop {
                std::thread::park();
            }
        });
        if spawned.is_ok() {
            let _ = rx.recv();
        }
    });
}

/// Makes a sealed snapshot: runs `scripts` in a fresh context of a new
/// isolate and serializes its heap; then, with `warmup`, runs the warm-up
/// script in an isolate made from that blob, discards its context and
/// serializes again keeping the compiled functions (V8's
/// `WarmUpSnapshotDataBlob`). Runs on its own thread; the caller blocks.
pub fn create(scripts: Vec<Source>, warmup: Option<Source>, limits: Limits) -> Result<Vec<u8>, Failure> {
    platform::init();
    keep_read_only_heap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let fatal_tx = tx.clone();
    let spawned = std::thread::Builder::new().name("v8-snapshot".into()).stack_size(16 << 20).spawn(move || {
        // A fatal V8 error here (a heap V8 cannot serialize, an OOM past the
        // headroom) reports to the caller and parks this thread for good.
        memory::set_fatal_hook(Box::new(move |msg: &str| {
            let _ = fatal_tx.send(Err(Failure::error(format!("Snapshot creation failed: {msg}"))));
        }));
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let cold = with_creator(None, &limits, |scope| {
                for s in &scripts {
                    run(scope, s)?;
                }
                Ok(())
            })?;
            match &warmup {
                None => Ok(cold),
                Some(w) => {
                    let cold = v8::StartupData::from(cold.to_vec());
                    with_creator(Some(cold), &limits, |scope| run(scope, w))
                }
            }
        }))
        .unwrap_or_else(|_| Err(Failure::error("internal error in v8-isolates (panic while making a snapshot)")));
        memory::clear_fatal_hook();
        let _ = tx.send(out.map(|blob| seal(&blob)));
    });
    if let Err(e) = spawned {
        return Err(Failure::error(format!("could not start the snapshot thread: {e}")));
    }
    rx.recv().unwrap_or_else(|_| Err(Failure::error("Snapshot creation failed")))
}

/// Creates a snapshot-creator isolate (from scratch or from `base`), runs
/// `body` in a context of it under the limits, and returns the new blob.
/// With a `base` (the warm-up pass) the context `body` ran in is thrown
/// away, a fresh one becomes the default, and compiled code is kept.
fn with_creator(
    base: Option<v8::StartupData>,
    limits: &Limits,
    body: impl FnOnce(&mut v8::PinScope) -> Result<(), Failure>,
) -> Result<Box<[u8]>, Failure> {
    let budget = Arc::new(memory::Budget::new(limits.memory_limit));
    let params = v8::CreateParams::default()
        .set_max_old_generation_size_in_bytes(limits.memory_limit)
        .set_max_young_generation_size_in_bytes(runner::nursery(limits.memory_limit))
        .array_buffer_allocator(memory::allocator(budget));
    let warm = base.is_some();
    let mut iso = match base {
        None => v8::Isolate::snapshot_creator(Some(external_references()), Some(params)),
        Some(b) => v8::Isolate::snapshot_creator_from_existing_snapshot(b, Some(external_references()), Some(params)),
    };
    iso.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
    iso.set_oom_error_handler(memory::oom_handler);
    let guard = Arc::new(Guard { memory: AtomicBool::new(false), timeout: AtomicBool::new(false), handle: iso.thread_safe_handle() });
    // SAFETY (callback data): `guard` is kept alive below until the isolate
    // is gone (`create_blob` disposes it).
    iso.add_near_heap_limit_callback(near_limit, Arc::as_ptr(&guard) as *mut std::ffi::c_void);
    let timer = limits.timeout.map(|t| arm_timer(t, iso.thread_safe_handle(), guard.clone()));
    let ran = {
        v8::scope!(let scope, &mut iso);
        let ctx = v8::Context::new(scope, Default::default());
        let scope = &mut v8::ContextScope::new(scope, ctx);
        let r = body(scope);
        if r.is_ok() && !warm {
            scope.set_default_context(ctx);
        }
        r
    };
    drop(timer);
    let failed = ran.err().map(|f| {
        if guard.memory.load(Ordering::Acquire) {
            Failure::MemoryLimit
        } else if guard.timeout.load(Ordering::Acquire) {
            Failure::Timeout
        } else {
            f
        }
    });
    iso.cancel_terminate_execution();
    if warm || failed.is_some() {
        // The warm-up context is thrown away (and so is a failed one): an
        // empty context becomes the default.
        v8::scope!(let scope, &mut iso);
        let ctx = v8::Context::new(scope, Default::default());
        scope.set_default_context(ctx);
    }
    let handling = if warm { v8::FunctionCodeHandling::Keep } else { v8::FunctionCodeHandling::Clear };
    // A snapshot creator must always end in `create_blob` (it owns the isolate).
    let blob = iso.create_blob(handling);
    drop(guard);
    if let Some(f) = failed {
        return Err(f);
    }
    match blob {
        Some(b) => Ok(b.to_vec().into_boxed_slice()),
        None => Err(Failure::error("Snapshot creation failed")),
    }
}

/// Terminates the creator's running script after `t` unless dropped first.
fn arm_timer(t: Duration, handle: v8::IsolateHandle, guard: Arc<Guard>) -> crossbeam_channel::Sender<()> {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    std::thread::spawn(move || {
        if let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(t) {
            guard.timeout.store(true, Ordering::Release);
            handle.terminate_execution();
        }
    });
    stop_tx
}

/// Runs one snapshot script in the current context. A failure names the
/// script's file and line.
fn run(scope: &mut v8::PinScope, s: &Source) -> Result<(), Failure> {
    v8::tc_scope!(let tc, scope);
    let code = v8::String::new(tc, &s.code).ok_or_else(|| Failure::RangeError("Invalid string length".into()))?;
    let origin = crate::ops::code::origin(tc, &s.origin);
    let Some(script) = v8::Script::compile(tc, code, Some(&origin)) else {
        let (exc, msg) = (tc.exception(), tc.message());
        return Err(capture_compile_error(tc, exc, msg));
    };
    if script.run(tc).is_some() {
        tc.perform_microtask_checkpoint();
        return Ok(());
    }
    if tc.has_terminated() {
        return Err(Failure::terminated());
    }
    let line = tc.message().and_then(|m| m.get_line_number(tc)).unwrap_or(0);
    let exc = tc.exception();
    Err(located(capture_exception(tc, exc), &s.origin.filename, line))
}

/// Makes sure an error from a snapshot script says where it happened.
fn located(f: Failure, filename: &str, line: usize) -> Failure {
    let at = format!("{filename}:{line}");
    match f {
        Failure::Thrown(info) if info.stack.as_deref().is_some_and(|s| s.contains(&at)) => Failure::Thrown(info),
        Failure::Thrown(mut info) => {
            info.message = format!("{} [{at}]", info.message);
            info.stack = None;
            Failure::Thrown(info)
        }
        Failure::ThrownValue(_) => Failure::Thrown(ErrorInfo {
            class: ErrorClass::Error,
            name: None,
            message: format!("A snapshot script threw a non-Error value [{at}]"),
            stack: None,
            verbatim: false,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_blobs_open_and_tampered_ones_do_not() {
        let sealed = seal(b"not really a v8 blob");
        // The MAC passes; the bytes are too short to be a V8 blob.
        assert_eq!(open(&sealed).err(), Some(INCOMPATIBLE));
        let sealed = seal(&[7u8; 4096]);
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(open(&bad).err(), Some(FORGED));
        assert_eq!(open(&sealed[..HEADER]).err(), Some(NOT_OURS));
        assert_eq!(open(b"junk").err(), Some(NOT_OURS));
    }
}
