//! ICU's memory counted against an isolate's memory limit.
//!
//! V8 keeps the ICU objects behind `Intl` (formatters, collators,
//! segmenters...) outside its heap, and reports none of their size: a
//! `Intl.DateTimeFormat` is ~150 bytes of heap and ~26 KB of ICU memory, so a
//! 32 MB isolate could hold 200,000 of them and 5 GB of the host's memory.
//!
//! ICU routes all its allocations through `uprv_malloc`, which calls the
//! functions set with `u_setMemoryFunctions` (this library's own, statically
//! linked ICU; Node's is untouched). Ours put a 16-byte header in front of
//! each block: the meter of the isolate whose thread allocated it (none on
//! other threads) and the size. Each isolate may hold `memoryLimit` of ICU
//! memory (apart from the heap and the ArrayBuffer budget); see `check` for
//! how it is enforced. Blocks are never refused: ICU and V8 do not all handle
//! a failed allocation.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One isolate's ICU memory.
pub struct IcuMeter {
    used: AtomicUsize,
    limit: usize,
    /// Past this, a garbage collection is due (see `check`).
    soft: AtomicUsize,
    /// A `check` has been requested and has not run yet.
    pending: AtomicBool,
    handle: v8::IsolateHandle,
}

impl IcuMeter {
    pub fn new(limit: usize, handle: v8::IsolateHandle) -> Arc<IcuMeter> {
        Arc::new(IcuMeter {
            used: AtomicUsize::new(0),
            limit,
            soft: AtomicUsize::new(limit / 2),
            pending: AtomicBool::new(false),
            handle,
        })
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn charge(&self, n: usize) {
        let used = self.used.fetch_add(n, Ordering::Relaxed) + n;
        if used > self.soft.load(Ordering::Relaxed) && !self.pending.swap(true, Ordering::AcqRel) {
            // V8's RequestInterrupt takes only its own recursive lock and the
            // handle's (held by isolate teardown, which frees and does not
            // allocate ICU memory); nothing here may unwind into ICU.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.handle.request_interrupt(check, std::ptr::null_mut());
            }));
        }
    }

    fn uncharge(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Runs on the isolate's thread when its ICU memory passed the soft mark.
/// The objects behind Intl are freed only when the garbage collector finds
/// their JS objects dead, and those are small: a loop making formatters it
/// drops keeps the heap small and ICU's memory growing. So a full collection
/// runs first (it frees them synchronously); still over the limit after it,
/// the isolate ends as a heap over the limit does (`MemoryLimitError`).
unsafe extern "C" fn check(mut raw: v8::UnsafeRawIsolatePtr, _data: *mut c_void) {
    let meter = current();
    if meter.is_null() {
        return;
    }
    // SAFETY: V8 runs interrupts on the isolate's thread with a live
    // isolate; the thread's meter is alive while it is entered.
    let (iso, meter) = unsafe { (v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw), &*meter) };
    super::memory::collect_garbage(iso, 1);
    let used = meter.used();
    if used > meter.limit {
        // `pending` stays set: the isolate is done.
        if let Some(host) = super::memory::current_host() {
            host.over_memory_limit(host.idle());
        }
        return;
    }
    meter.soft.store(super::memory::next_gc_mark(used, meter.limit), Ordering::Relaxed);
    meter.pending.store(false, Ordering::Release);
}

thread_local! {
    /// The meter of the isolate this thread owns (null on other threads).
    static METER: Cell<*const IcuMeter> = const { Cell::new(std::ptr::null()) };
}

/// Makes `meter` count this thread's ICU allocations; the thread keeps the
/// Arc for as long as it owns the isolate.
pub fn enter(meter: &Arc<IcuMeter>) {
    let _ = METER.try_with(|m| m.set(Arc::as_ptr(meter)));
}

/// Stops counting this thread's ICU allocations (before the meter's Arc goes).
pub fn leave() {
    let _ = METER.try_with(|m| m.set(std::ptr::null()));
}

const HEADER: usize = 16;
/// The top 16 bits of a header's first word (user-space pointers leave them
/// zero): a block without it was not allocated here.
const TAG: u64 = 0x1C0D << 48;
const TAG_MASK: u64 = 0xFFFF << 48;

type AllocFn = unsafe extern "C" fn(*const c_void, usize) -> *mut c_void;
type ReallocFn = unsafe extern "C" fn(*const c_void, *mut c_void, usize) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*const c_void, *mut c_void);

unsafe extern "C" {
    /// ICU 78's `u_setMemoryFunctions` (ICU renames its C API per version).
    #[link_name = "u_setMemoryFunctions_78"]
    fn u_set_memory_functions(context: *const c_void, a: AllocFn, r: ReallocFn, f: FreeFn, status: *mut i32);
}

/// Routes ICU's allocations through this module. Must run before ICU
/// allocates anything (first thing in V8's initialisation).
pub fn install() {
    let mut status = 0i32;
    // SAFETY: the three functions keep ICU's contract (malloc-aligned
    // blocks, realloc keeping contents, free of what they allocated or of a
    // block without our tag); status is a valid out pointer.
    unsafe { u_set_memory_functions(std::ptr::null(), alloc, realloc, free, &mut status) };
    debug_assert!(status <= 0, "u_setMemoryFunctions failed: {status}");
}

/// ICU memory held by this thread's isolate (0 on other threads).
pub fn current_used() -> usize {
    let m = current();
    // SAFETY: the thread's meter is alive while it is entered.
    if m.is_null() { 0 } else { unsafe { (*m).used() } }
}

fn current() -> *const IcuMeter {
    METER.try_with(|m| m.get()).unwrap_or(std::ptr::null())
}

unsafe extern "C" fn alloc(_context: *const c_void, size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER) else { return std::ptr::null_mut() };
    // SAFETY: malloc of a non-zero size; the header fits in front of the
    // block and keeps malloc's 16-byte alignment.
    unsafe {
        let base = libc::malloc(total) as *mut u64;
        if base.is_null() {
            return std::ptr::null_mut();
        }
        let meter = current();
        if !meter.is_null() {
            // The block holds a count of the meter until it is freed.
            Arc::increment_strong_count(meter);
            (*meter).charge(size);
        }
        *base = TAG | meter as u64;
        *base.add(1) = size as u64;
        base.add(2) as *mut c_void
    }
}

/// The header of `p` if this module allocated it.
///
/// # Safety
/// `p` is a non-null block from ICU's allocator: ours (with a header) or,
/// in principle, libc's (whose own chunk header precedes it, so the 16
/// bytes before it are readable).
unsafe fn header(p: *mut c_void) -> Option<(*mut u64, *const IcuMeter, usize)> {
    // SAFETY: see the function's contract.
    unsafe {
        let base = (p as *mut u64).sub(2);
        let w = *base;
        (w & TAG_MASK == TAG).then(|| (base, (w & !TAG_MASK) as *const IcuMeter, *base.add(1) as usize))
    }
}

unsafe extern "C" fn free(_context: *const c_void, p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: ICU frees only blocks from its allocator; a counted block's
    // meter is alive (the block holds a count of it).
    unsafe {
        match header(p) {
            Some((base, meter, size)) => {
                if !meter.is_null() {
                    (*meter).uncharge(size);
                    Arc::decrement_strong_count(meter);
                }
                libc::free(base as *mut c_void);
            }
            None => libc::free(p),
        }
    }
}

unsafe extern "C" fn realloc(context: *const c_void, p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        // SAFETY: as `alloc`.
        return unsafe { alloc(context, size) };
    }
    // SAFETY: as in `free`; on failure the old block stays as it was.
    unsafe {
        let Some((base, meter, old)) = header(p) else { return libc::realloc(p, size) };
        let Some(total) = size.checked_add(HEADER) else { return std::ptr::null_mut() };
        let base = libc::realloc(base as *mut c_void, total) as *mut u64;
        if base.is_null() {
            return std::ptr::null_mut();
        }
        if !meter.is_null() {
            if size > old {
                (*meter).charge(size - old);
            } else {
                (*meter).uncharge(old - size);
            }
        }
        *base.add(1) = size as u64;
        base.add(2) as *mut c_void
    }
}
