//! WebAssembly memory counted against an isolate's memory limit.
//!
//! V8 does not allocate wasm memory through the ArrayBuffer allocator that
//! counts every other buffer (`memory::allocator`): it reserves address space
//! with mmap, commits it with `mprotect(.., PROT_READ | PROT_WRITE)` (the
//! whole committed length from the start of the region, on allocation and on
//! every grow), and frees it with `munmap` of the region. Without this module
//! a 32 MB isolate could commit gigabytes, one `WebAssembly.Memory` at a time.
//!
//! build.rs links this library with `--wrap` for `mprotect`, `munmap` and the
//! three V8 functions that allocate or grow wasm memory. The V8 wrappers mark
//! a window on the calling (isolate) thread; an `mprotect` to read-write in
//! that window is a wasm commit, charged to the budget of the thread's isolate
//! (the one ArrayBuffers use). Over the budget, the commit fails with ENOMEM,
//! which V8 turns into a catchable RangeError (or `memory.grow` returning -1)
//! after a garbage collection that may free other memories. `munmap` of a
//! charged region gives its charge back, on whatever thread V8 frees it.
//!
//! Only this library's calls are wrapped (Node's V8 and libc's own calls are
//! not), and outside a window the wrappers only forward.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod hooks {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use once_cell::sync::Lazy;
    use parking_lot::Mutex;

    use crate::engine::memory::Budget;

    /// What a wasm allocation window may commit.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Window {
        None,
        /// A new memory (allocation, or the copy a grow makes): its first
        /// commit of a region not charged yet.
        New,
        /// A grow in place: commits of charged regions only.
        Grow,
    }

    thread_local! {
        static WINDOW: Cell<Window> = const { Cell::new(Window::None) };
        /// A commit in the current window was refused (see `refused_in_window`).
        static REFUSED: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether this thread is in a wasm allocation window whose commit was
    /// refused: V8 then collects garbage "as a last resort", which calls the
    /// near-heap-limit callback although the heap is not full.
    pub fn refused_in_window() -> bool {
        WINDOW.try_with(|c| c.get() != Window::None).unwrap_or(false) && REFUSED.try_with(|r| r.get()).unwrap_or(false)
    }

    /// A committed wasm memory: the budget charged and for how many bytes.
    struct Region {
        budget: Arc<Budget>,
        charged: usize,
    }

    /// Charged regions by start address.
    static REGIONS: Lazy<Mutex<HashMap<usize, Region>>> = Lazy::new(|| Mutex::new(HashMap::new()));
    /// `REGIONS.len()`, read without the lock by every munmap.
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" {
        fn __real_mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
        fn __real_munmap(addr: *mut c_void, len: usize) -> c_int;
        #[link_name = "__real__ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE"]
        fn real_allocate(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words;
        #[link_name = "__real__ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE"]
        fn real_copy(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words;
        #[link_name = "__real__ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm"]
        fn real_grow(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words;
    }

    /// The two integer return registers (rax, rdx). The wrapped functions take
    /// at most six integer-class arguments (registers, counting the hidden
    /// result pointer of the two that return a `std::unique_ptr`) and return
    /// in rax (that pointer) or rax:rdx (`std::optional<size_t>`), so passing
    /// six registers through and returning both keeps their ABI exactly.
    #[repr(C)]
    pub struct Words(usize, usize);

    // The `__wrap_` names the linker binds the wrapped calls to: global
    // symbols (the linker resolves them across objects) but hidden, so the
    // addon does not export them (a `#[no_mangle]` function would be).
    std::arch::global_asm!(
        ".globl __wrap_mprotect",
        ".hidden __wrap_mprotect",
        ".set __wrap_mprotect, {mprotect}",
        ".globl __wrap_munmap",
        ".hidden __wrap_munmap",
        ".set __wrap_munmap, {munmap}",
        ".globl __wrap__ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE",
        ".hidden __wrap__ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE",
        ".set __wrap__ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE, {allocate}",
        ".globl __wrap__ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE",
        ".hidden __wrap__ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE",
        ".set __wrap__ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE, {copy}",
        ".globl __wrap__ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm",
        ".hidden __wrap__ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm",
        ".set __wrap__ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm, {grow}",
        mprotect = sym wrap_mprotect,
        munmap = sym wrap_munmap,
        allocate = sym wrap_allocate,
        copy = sym wrap_copy,
        grow = sym wrap_grow,
    );

    /// Runs `f` with this thread's window set to `w`.
    fn in_window(w: Window, f: impl FnOnce() -> Words) -> Words {
        let before = WINDOW.with(|c| c.replace(w));
        let refused = REFUSED.with(|r| r.replace(false));
        let out = f();
        WINDOW.with(|c| c.set(before));
        REFUSED.with(|r| r.set(refused));
        out
    }

    unsafe extern "C" fn wrap_allocate(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words {
        // SAFETY: the registers V8 passed, passed on unchanged (see `Words`).
        in_window(Window::New, || unsafe { real_allocate(a, b, c, d, e, f) })
    }

    unsafe extern "C" fn wrap_copy(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words {
        // SAFETY: as in `wrap_allocate`.
        in_window(Window::New, || unsafe { real_copy(a, b, c, d, e, f) })
    }

    unsafe extern "C" fn wrap_grow(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words {
        // SAFETY: as in `wrap_allocate`.
        in_window(Window::Grow, || unsafe { real_grow(a, b, c, d, e, f) })
    }

    /// The memory budget of this thread's isolate, if it is an isolate thread.
    fn current_budget() -> Option<Arc<Budget>> {
        crate::engine::memory::CURRENT
            .try_with(|c| c.try_borrow().ok().and_then(|h| h.as_ref().map(|h| h.budget.clone())))
            .ok()
            .flatten()
    }

    fn enomem() -> c_int {
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOMEM };
        -1
    }

    unsafe extern "C" fn wrap_mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int {
        let window = WINDOW.try_with(|c| c.get()).unwrap_or(Window::None);
        if window == Window::None || prot != libc::PROT_READ | libc::PROT_WRITE {
            // SAFETY: the caller's arguments, unchanged.
            return unsafe { __real_mprotect(addr, len, prot) };
        }
        let mut regions = REGIONS.lock();
        let key = addr as usize;
        let (budget, before) = match regions.get(&key) {
            Some(r) => (r.budget.clone(), r.charged),
            None if window == Window::New => match current_budget() {
                Some(b) => (b, 0),
                // SAFETY: as above.
                None => return unsafe { __real_mprotect(addr, len, prot) },
            },
            // SAFETY: as above.
            None => return unsafe { __real_mprotect(addr, len, prot) },
        };
        let more = len.saturating_sub(before);
        if more > 0 && !budget.reserve(more) {
            let _ = REFUSED.try_with(|r| r.set(true));
            return enomem();
        }
        // SAFETY: as above.
        let r = unsafe { __real_mprotect(addr, len, prot) };
        if r != 0 {
            budget.unreserve(more);
            return r;
        }
        if before == 0 {
            COUNT.fetch_add(1, Ordering::Relaxed);
            // A new region is charged once per window.
            let _ = WINDOW.try_with(|c| c.set(Window::Grow));
        }
        regions.insert(key, Region { budget, charged: before.max(len) });
        r
    }

    unsafe extern "C" fn wrap_munmap(addr: *mut c_void, len: usize) -> c_int {
        if COUNT.load(Ordering::Relaxed) > 0 {
            if let Some(r) = REGIONS.lock().remove(&(addr as usize)) {
                COUNT.fetch_sub(1, Ordering::Relaxed);
                r.budget.unreserve(r.charged);
            }
        }
        // SAFETY: the caller's arguments, unchanged.
        unsafe { __real_munmap(addr, len) }
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use hooks::refused_in_window;

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn refused_in_window() -> bool {
    false
}
