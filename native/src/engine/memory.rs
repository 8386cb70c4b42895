//! Memory limits: a counting ArrayBuffer allocator, the near-heap-limit
//! callback, and the last-resort fatal handlers that keep the host alive.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::isolate::{IsolateHost, Kill};

/// ArrayBuffer memory budget of one isolate. Backing stores may outlive the
/// isolate (they can be transferred), so the budget is reference counted by
/// V8 through the allocator's shared pointer.
pub struct Budget {
    pub limit: usize,
    pub used: AtomicUsize,
    /// Past this, a resize of a buffer V8 reserves itself collects garbage
    /// first (see `reserved::collect_first`).
    pub gc_mark: AtomicUsize,
    /// Address space reserved for such buffers (see `reserved::wrap_mmap`).
    pub reserved: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { limit, used: AtomicUsize::new(0), gc_mark: AtomicUsize::new(limit / 2), reserved: AtomicUsize::new(0) }
    }
}

/// Allocations this small must never fail: V8 does not expect it.
const ALWAYS_ALLOW: usize = 64;

impl Budget {
    /// Counts `len` more bytes if they fit under the limit.
    pub(crate) fn reserve(&self, len: usize) -> bool {
        if len <= ALWAYS_ALLOW {
            self.used.fetch_add(len, Ordering::Relaxed);
            return true;
        }
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = match cur.checked_add(len) {
                Some(n) if n <= self.limit => n,
                _ => return false,
            };
            match self.used.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }
}

thread_local! {
    /// Set when this thread's allocator refused an ArrayBuffer: V8 then
    /// collects garbage "as a last resort", which can reach the near-heap-
    /// limit callback although the heap itself is not full.
    static REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn refuse() -> *mut c_void {
    REFUSED.with(|r| r.set(true));
    std::ptr::null_mut()
}

impl Budget {
    /// Gives back what `reserve` counted.
    pub(crate) fn unreserve(&self, len: usize) {
        self.used.fetch_sub(len, Ordering::Relaxed);
    }
}

unsafe extern "C" fn allocate(budget: &Budget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return refuse();
    }
    // SAFETY: calloc with a non-zero size; null is handled by V8 (RangeError).
    let p = unsafe { libc::calloc(len.max(1), 1) };
    if p.is_null() {
        budget.used.fetch_sub(len, Ordering::Relaxed);
    }
    p
}

unsafe extern "C" fn allocate_uninitialized(budget: &Budget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return refuse();
    }
    // SAFETY: malloc with a non-zero size; null is handled by V8.
    let p = unsafe { libc::malloc(len.max(1)) };
    if p.is_null() {
        budget.used.fetch_sub(len, Ordering::Relaxed);
    }
    p
}

unsafe extern "C" fn free(budget: &Budget, data: *mut c_void, len: usize) {
    budget.used.fetch_sub(len, Ordering::Relaxed);
    // SAFETY: `data` came from calloc/malloc above (V8 frees only what this
    // allocator returned).
    unsafe { libc::free(data) }
}

unsafe extern "C" fn drop_budget(budget: *const Budget) {
    // SAFETY: the pointer came from Arc::into_raw in `allocator` and V8 calls
    // this exactly once, when the last shared pointer to the allocator dies.
    drop(unsafe { Arc::from_raw(budget) });
}

static VTABLE: v8::RustAllocatorVtable<Budget> = v8::RustAllocatorVtable {
    allocate,
    allocate_uninitialized,
    free,
    drop: drop_budget,
};

/// A counting allocator for one isolate.
pub fn allocator(budget: Arc<Budget>) -> v8::UniqueRef<v8::Allocator> {
    let raw = Arc::into_raw(budget);
    // SAFETY: `raw` stays valid until V8 calls `drop_budget`; the vtable is
    // 'static and its functions only touch the budget and libc's heap.
    unsafe { v8::new_rust_allocator(raw, &VTABLE) }
}

/// Extra heap granted once the limit is hit, so that V8 can unwind the
/// terminated script instead of aborting with a fatal OOM.
fn headroom(limit: usize) -> usize {
    limit.max(64 << 20)
}

/// Near-heap-limit callback: terminate the running code, mark the isolate for
/// disposal, and grant just enough headroom to unwind.
pub unsafe extern "C" fn near_heap_limit(data: *mut c_void, current: usize, initial: usize) -> usize {
    // SAFETY: `data` is the IsolateHost pointer registered by the isolate
    // thread, which keeps its Arc alive for the whole life of the isolate.
    let host = unsafe { &*(data as *const IsolateHost) };
    if REFUSED.with(|r| r.replace(false)) {
        // A refused ArrayBuffer made V8 collect garbage; the heap is fine and
        // the guest gets its RangeError.
        return current;
    }
    if super::reserved::refused_in_window() {
        // The same for wasm memory or a resizable buffer over the budget: V8
        // collects garbage and retries, then throws a RangeError (or
        // `memory.grow` gives -1).
        return current;
    }
    let first = !host.hit_memory_limit();
    host.kill_current(Kill::Memory);
    // Grant headroom a bounded number of times; past the cap, V8 runs out and
    // the OOM handler parks the thread (the host process lives on).
    let cap = initial.saturating_mul(4).saturating_add(512 << 20);
    if first || current < cap {
        current.saturating_add(headroom(initial))
    } else {
        current
    }
}

/// After each GC: if what survived is already over the limit, stop now
/// rather than after V8's last-resort collections (which are slow). Only a
/// full collection tells: after a minor one the old generation still holds
/// its garbage (contexts made from a snapshot are deserialized straight into
/// it), so a minor GC over the limit asks for a full one first.
pub unsafe extern "C" fn gc_epilogue(
    mut raw: v8::UnsafeRawIsolatePtr,
    gc_type: v8::GCType,
    _flags: v8::GCCallbackFlags,
    data: *mut c_void,
) {
    // SAFETY: `data` is the IsolateHost registered with the callback, kept
    // alive by the isolate thread; V8 calls this on that thread.
    let host = unsafe { &*(data as *const IsolateHost) };
    // SAFETY: called by V8 on the isolate's thread with a live isolate.
    let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
    let used = iso.get_heap_statistics().used_heap_size();
    if used <= host.memory_limit || host.hit_memory_limit() {
        return;
    }
    if gc_type.0 & v8::GCType::kGCTypeMarkSweepCompact.0 != 0 {
        host.over_memory_limit(host.idle());
    } else if !FULL_GC_PENDING.with(|p| p.replace(true)) {
        iso.thread_safe_handle().request_interrupt(full_gc, data);
    }
}

thread_local! {
    /// A full GC has been requested by `gc_epilogue` and has not run yet.
    static FULL_GC_PENDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a full collection (its epilogue judges the heap). An interrupt, so
/// that it runs where V8 may collect garbage, not inside a GC callback.
unsafe extern "C" fn full_gc(mut raw: v8::UnsafeRawIsolatePtr, _data: *mut c_void) {
    FULL_GC_PENDING.with(|p| p.set(false));
    // SAFETY: V8 runs interrupts on the isolate's thread with a live isolate.
    let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
    collect_garbage(iso, 1);
}

/// Full collections now (a critical memory-pressure notification each), on
/// the isolate's thread where V8 may collect garbage. A second pass also
/// frees what V8 releases after the first (ArrayBuffer backing stores are
/// swept after the collection that finds them dead).
pub(crate) fn collect_garbage(iso: &mut v8::Isolate, passes: u32) {
    for _ in 0..passes {
        iso.memory_pressure_notification(v8::MemoryPressureLevel::Critical);
    }
    iso.memory_pressure_notification(v8::MemoryPressureLevel::None);
}

/// Where the next collection is due for memory outside the heap: once half
/// of what is left under `limit` is used, and not before half the limit.
pub(crate) fn next_gc_mark(used: usize, limit: usize) -> usize {
    (used + limit.saturating_sub(used) / 2).max(limit / 2)
}

/// The host of this thread's isolate, if it is an isolate thread (no panic:
/// called from hooks inside V8 and from the fatal handlers).
pub(crate) fn current_host() -> Option<Arc<IsolateHost>> {
    CURRENT.try_with(|c| c.try_borrow().ok().and_then(|h| h.clone())).ok().flatten()
}

/// The memory limit of this thread's isolate, if it is an isolate thread
/// (read in place: no reference count is touched).
pub(crate) fn current_memory_limit() -> Option<usize> {
    CURRENT.try_with(|c| c.try_borrow().ok().and_then(|h| h.as_ref().map(|h| h.memory_limit))).ok().flatten()
}

/// The memory budget of this thread's isolate, if it is an isolate thread.
pub(crate) fn current_budget() -> Option<Arc<Budget>> {
    current_host().map(|h| h.budget.clone())
}

thread_local! {
    /// The host of the isolate owned by this thread, for the fatal handlers.
    pub static CURRENT: std::cell::RefCell<Option<Arc<IsolateHost>>> = const { std::cell::RefCell::new(None) };
}

/// Called by V8 on a fatal out-of-memory. On an isolate thread the isolate is
/// declared dead and the thread parks forever: V8 must not return from here,
/// and aborting would take the host down.
pub unsafe extern "C" fn oom_handler(_location: *const std::ffi::c_char, _details: &v8::OomDetails) {
    park_forever("Catastrophic out-of-memory error");
}

fn fatal_handler(_file: &str, _line: i32, message: &str) {
    park_forever(message);
}

thread_local! {
    /// What a fatal V8 error on a thread without an isolate host (the
    /// snapshot thread) reports to before the thread parks.
    static FATAL_HOOK: std::cell::RefCell<Option<Box<dyn FnOnce(&str)>>> = const { std::cell::RefCell::new(None) };
}

/// Sets this thread's fatal hook (see `FATAL_HOOK`).
pub fn set_fatal_hook(hook: Box<dyn FnOnce(&str)>) {
    FATAL_HOOK.with(|h| *h.borrow_mut() = Some(hook));
}

pub fn clear_fatal_hook() {
    FATAL_HOOK.with(|h| h.borrow_mut().take());
}

fn park_forever(message: &str) -> ! {
    let host = current_host();
    if host.is_none() {
        if let Some(hook) = FATAL_HOOK.try_with(|h| h.borrow_mut().take()).ok().flatten() {
            hook(message);
            loop {
                std::thread::park();
            }
        }
    }
    match host {
        Some(host) => {
            host.catastrophe(message);
            loop {
                std::thread::park();
            }
        }
        None => {
            eprintln!("v8-isolates: fatal V8 error outside an isolate thread: {message}");
            std::process::abort();
        }
    }
}

pub fn install_fatal_handlers() {
    v8::V8::set_fatal_error_handler(fatal_handler);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_the_limit_but_never_tiny_allocations() {
        let b = Budget::new(1000);
        assert!(b.reserve(600));
        assert!(!b.reserve(600), "1200 bytes would exceed the limit");
        assert!(b.reserve(400));
        assert_eq!(b.used.load(Ordering::Relaxed), 1000);
        // V8 does not expect small allocations to fail.
        assert!(b.reserve(ALWAYS_ALLOW));
        assert!(!b.reserve(ALWAYS_ALLOW + 1));
    }

    #[test]
    fn budget_does_not_overflow() {
        let b = Budget::new(usize::MAX);
        b.used.store(usize::MAX - 10, Ordering::Relaxed);
        assert!(!b.reserve(100));
    }
}
