//! Memory V8 reserves and commits itself, counted against an isolate's
//! memory limit: WebAssembly memory, and resizable ArrayBuffers and growable
//! SharedArrayBuffers.
//!
//! V8 does not allocate these through the ArrayBuffer allocator that counts
//! every other buffer (`memory::allocator`): it reserves address space with
//! mmap, commits it with `mprotect(.., PROT_READ | PROT_WRITE)` (the whole
//! committed length from the start of the region, on allocation and on every
//! grow or resize), and frees it with `munmap` of the region. Without this
//! module a 32 MB isolate could commit gigabytes, one buffer at a time.
//!
//! build.rs links this library with `--wrap` for `mprotect`, `munmap` and the
//! V8 functions that allocate, grow or resize such buffers (the list is
//! `window_wrappers!` below; build.rs reads it from this file). Those wrappers mark a
//! window on the calling (isolate) thread; an `mprotect` to read-write in
//! that window is a commit of the buffer, charged to the budget of the
//! thread's isolate (the one ArrayBuffers use). Over the budget the commit
//! fails with ENOMEM, which V8 turns into a catchable RangeError (or
//! `memory.grow` returning -1), after a garbage collection that may free
//! other buffers. `munmap` of a charged region gives its charge back, on
//! whatever thread V8 frees it.
//!
//! Address space is limited too: V8 reserves the maximum size of such a
//! buffer up front (4 GB for a wasm memory with `maximum: 65536`, any
//! `maxByteLength` for a resizable ArrayBuffer) without committing any of
//! it, and a 32 MB isolate could reserve the whole 128 TB of the process's
//! address space that way (its memory-limit charges start at the first
//! commit), leaving the host no room for its own mappings. An `mmap` with
//! no access in a window is a reservation: each isolate may hold
//! `MAX_RESERVED_PER_ISOLATE` and the process `MAX_RESERVED` through
//! windows; past either the reservation fails with ENOMEM (a RangeError for
//! the guest) and `munmap` gives it back.
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

    /// What an allocation window may still commit.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Window {
        None,
        /// One region not charged yet (a new buffer, or the first bytes of
        /// one made empty), and charged regions (a grow or resize).
        Open,
        /// Charged regions only: this window charged its new region.
        Charged,
    }

    thread_local! {
        static WINDOW: Cell<Window> = const { Cell::new(Window::None) };
        /// A commit in the current window was refused (see `refused_in_window`).
        static REFUSED: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether this thread is in an allocation window whose commit was
    /// refused: V8 then collects garbage "as a last resort", which calls the
    /// near-heap-limit callback although the heap is not full.
    pub fn refused_in_window() -> bool {
        WINDOW.try_with(|c| c.get() != Window::None).unwrap_or(false) && REFUSED.try_with(|r| r.get()).unwrap_or(false)
    }

    /// A committed buffer: the budget charged and for how many bytes.
    struct Region {
        budget: Arc<Budget>,
        charged: usize,
    }

    /// Each region is charged at least this much: a region is also a memory
    /// map or two of the process (`vm.max_map_count`, 65,530 by default, is
    /// shared by everything in it), which a 4 KB resizable buffer would
    /// otherwise use up for 4 KB of budget each.
    const MIN_CHARGE: usize = 64 << 10;
    /// And at most this many regions are charged at once in the process,
    /// whatever the number of isolates: past it, new ones fail as over the
    /// budget (a RangeError), never the host's own allocations.
    const MAX_REGIONS: usize = 8192;

    /// Charged regions by start address.
    static REGIONS: Lazy<Mutex<HashMap<usize, Region>>> = Lazy::new(|| Mutex::new(HashMap::new()));
    /// `REGIONS.len()`, read without the lock by every munmap.
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    /// Address space one isolate may hold reserved for such buffers: 256
    /// wasm memories of the largest 32-bit size.
    const MAX_RESERVED_PER_ISOLATE: usize = 1 << 40;
    /// And all isolates together: a quarter of x86-64's 128 TB of user
    /// address space, the rest stays the host's.
    const MAX_RESERVED: usize = 32 << 40;

    /// Smaller reservations are counted but never refused: a garbage
    /// collection inside a window maps heap pages (256 KB) the same way, and
    /// V8 cannot survive failing those. A buffer this small in address space
    /// costs the host nothing to speak of.
    const ALWAYS_RESERVE: usize = 1 << 20;

    /// A reservation made in a window: its length and whose it is.
    struct Reservation {
        len: usize,
        budget: Arc<Budget>,
    }

    /// Reservations by start address.
    static RESERVATIONS: Lazy<Mutex<std::collections::BTreeMap<usize, Reservation>>> =
        Lazy::new(|| Mutex::new(std::collections::BTreeMap::new()));
    /// The bytes of `RESERVATIONS`, read without the lock by every munmap.
    static RESERVED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" {
        fn __real_mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void;
        fn __real_mmap64(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void;
        fn __real_mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
        fn __real_munmap(addr: *mut c_void, len: usize) -> c_int;
    }

    /// The two integer return registers (rax, rdx). The wrapped functions take
    /// at most six integer-class arguments (registers, counting the hidden
    /// result pointer of those that return a `std::unique_ptr`) and return in
    /// rax (that pointer, an Address, an enum) or rax:rdx
    /// (`std::optional<size_t>`), so passing six registers through and
    /// returning both keeps their ABI exactly.
    #[repr(C)]
    pub struct Words(usize, usize);

    #[cfg(test)]
    mod tests {
        /// build.rs wraps the symbols this file lists between the markers;
        /// the macro defines a wrapper for each.
        #[test]
        fn build_script_wraps_what_the_macro_defines() {
            assert_eq!(crate::engine::reserved::wrapped_symbols(include_str!("reserved.rs")), super::SYMBOLS);
        }
    }

    // The `__wrap_` names the linker binds the wrapped calls to: global
    // symbols (the linker resolves them across objects) but hidden, so the
    // addon does not export them (a `#[no_mangle]` function would be).
    std::arch::global_asm!(
        ".globl __wrap_mmap",
        ".hidden __wrap_mmap",
        ".set __wrap_mmap, {mmap}",
        ".globl __wrap_mmap64",
        ".hidden __wrap_mmap64",
        ".set __wrap_mmap64, {mmap64}",
        ".globl __wrap_mprotect",
        ".hidden __wrap_mprotect",
        ".set __wrap_mprotect, {mprotect}",
        ".globl __wrap_munmap",
        ".hidden __wrap_munmap",
        ".set __wrap_munmap, {munmap}",
        mmap = sym wrap_mmap,
        mmap64 = sym wrap_mmap64,
        mprotect = sym wrap_mprotect,
        munmap = sym wrap_munmap,
    );

    /// A wrapper for each V8 function of `WRAPPED`: it runs the function
    /// with the calling thread's window set.
    macro_rules! window_wrappers {
        ($($name:ident $collect:literal $sym:literal;)*) => {
            $(
                mod $name {
                    use super::{collect_first, in_window, Window, Words};
                    unsafe extern "C" {
                        #[link_name = concat!("__real_", $sym)]
                        fn real(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words;
                    }
                    unsafe extern "C" fn wrapper(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Words {
                        if $collect {
                            // A C++ builtin: (argc, argv, isolate).
                            collect_first(c);
                        }
                        // SAFETY: the registers V8 passed, passed on unchanged (see `Words`).
                        in_window(Window::Open, || unsafe { real(a, b, c, d, e, f) })
                    }
                    std::arch::global_asm!(
                        concat!(".globl __wrap_", $sym),
                        concat!(".hidden __wrap_", $sym),
                        concat!(".set __wrap_", $sym, ", {f}"),
                        f = sym wrapper,
                    );
                }
            )*
            #[cfg(test)]
            pub const SYMBOLS: &[&str] = &[$($sym),*];
        };
    }

    // BEGIN WRAPPED SYMBOLS (build.rs reads the quoted names up to the END line)
    window_wrappers! {
        // BackingStore::AllocateWasmMemory(Isolate*, size_t, size_t, WasmMemoryFlag, SharedFlag): a new memory.
        allocate_wasm false "_ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE";
        // BackingStore::CopyWasmMemory(Isolate*, size_t, size_t, WasmMemoryFlag): the copy a grow makes.
        copy_wasm false "_ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE";
        // BackingStore::GrowWasmMemoryInPlace(Isolate*, size_t, size_t)
        grow_wasm false "_ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm";
        // The C++ builtins (int argc, Address* argv, Isolate*) of `new ArrayBuffer(n, {maxByteLength})`
        // (and SharedArrayBuffer), `resize` and `grow` (`true`: they collect garbage first, see
        // `collect_first`) and the `transfer` family.
        ab_constructor false "_ZN2v88internal30Builtin_ArrayBufferConstructorEiPmPNS0_7IsolateE";
        ab_constructor_uninit false "_ZN2v88internal46Builtin_ArrayBufferConstructor_DoNotInitializeEiPmPNS0_7IsolateE";
        ab_resize true "_ZN2v88internal34Builtin_ArrayBufferPrototypeResizeEiPmPNS0_7IsolateE";
        sab_grow true "_ZN2v88internal38Builtin_SharedArrayBufferPrototypeGrowEiPmPNS0_7IsolateE";
        ab_transfer false "_ZN2v88internal36Builtin_ArrayBufferPrototypeTransferEiPmPNS0_7IsolateE";
        ab_transfer_fixed false "_ZN2v88internal49Builtin_ArrayBufferPrototypeTransferToFixedLengthEiPmPNS0_7IsolateE";
        ab_transfer_immutable false "_ZN2v88internal47Builtin_ArrayBufferPrototypeTransferToImmutableEiPmPNS0_7IsolateE";
    }
    // END WRAPPED SYMBOLS

    /// Runs `f` with this thread's window set to `w`.
    pub(super) fn in_window(w: Window, f: impl FnOnce() -> Words) -> Words {
        // `try_with`: nothing here may panic (this runs inside V8, under an
        // `extern "C"` frame), not even on a thread whose locals are gone.
        let before = WINDOW.try_with(|c| c.replace(w)).unwrap_or(Window::None);
        let refused = REFUSED.try_with(|r| r.replace(false)).unwrap_or(false);
        let out = f();
        let _ = WINDOW.try_with(|c| c.set(before));
        let _ = REFUSED.try_with(|r| r.set(refused));
        out
    }

    /// V8 retries a failed allocation of these buffers after collecting
    /// garbage, but not a failed `resize`/`grow`: a loop resizing new buffers
    /// it drops would fail on buffers the collector has not freed yet. So
    /// past the budget's mark, those builtins first collect garbage (two
    /// passes, see `memory::collect_garbage`). The next mark is half of what
    /// is then left.
    pub(super) fn collect_first(isolate: usize) {
        let Some(budget) = crate::engine::memory::current_budget() else { return };
        if budget.used.load(Ordering::Relaxed) <= budget.gc_mark.load(Ordering::Relaxed) || isolate == 0 {
            return;
        }
        // SAFETY: the builtin's own isolate argument: the isolate this thread
        // runs (a `v8::Isolate` is a transparent pointer to it). A C++
        // builtin may collect garbage at any point, here at its entry too.
        let mut raw: v8::UnsafeRawIsolatePtr = unsafe { std::mem::transmute(isolate as *mut c_void) };
        let iso = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut raw) };
        crate::engine::memory::collect_garbage(iso, 2);
        budget.gc_mark.store(next_mark(&budget), Ordering::Relaxed);
    }

    fn next_mark(budget: &Budget) -> usize {
        crate::engine::memory::next_gc_mark(budget.used.load(Ordering::Relaxed), budget.limit)
    }

    /// Refuses a commit or reservation of this window: ENOMEM, noted for
    /// the near-heap-limit callback (`refused_in_window`).
    fn refuse() {
        let _ = REFUSED.try_with(|r| r.set(true));
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOMEM };
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
            None if window == Window::Open => match crate::engine::memory::current_budget() {
                Some(b) => (b, 0),
                // SAFETY: as above.
                None => return unsafe { __real_mprotect(addr, len, prot) },
            },
            // SAFETY: as above.
            None => return unsafe { __real_mprotect(addr, len, prot) },
        };
        let charge = len.max(MIN_CHARGE);
        let more = charge.saturating_sub(before);
        let full = before == 0 && COUNT.load(Ordering::Relaxed) >= MAX_REGIONS;
        if full || (more > 0 && !budget.reserve(more)) {
            refuse();
            return -1;
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
            let _ = WINDOW.try_with(|c| c.set(Window::Charged));
        }
        regions.insert(key, Region { budget, charged: before.max(charge) });
        r
    }

    unsafe extern "C" fn wrap_mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void {
        // SAFETY: the caller's arguments, unchanged.
        reserve(len, prot, flags, || unsafe { __real_mmap(addr, len, prot, flags, fd, off) })
    }

    /// V8 calls `mmap64` (the same function in glibc).
    unsafe extern "C" fn wrap_mmap64(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void {
        // SAFETY: the caller's arguments, unchanged.
        reserve(len, prot, flags, || unsafe { __real_mmap64(addr, len, prot, flags, fd, off) })
    }

    /// An anonymous mapping with no access made in a window is a
    /// reservation for a buffer: counted against the isolate's and the
    /// process's share of address space, refused (ENOMEM) past either.
    fn reserve(len: usize, prot: c_int, flags: c_int, map: impl FnOnce() -> *mut c_void) -> *mut c_void {
        let window = WINDOW.try_with(|c| c.get()).unwrap_or(Window::None);
        let budget = if window != Window::None && prot == libc::PROT_NONE && flags & libc::MAP_ANONYMOUS != 0 {
            crate::engine::memory::current_budget()
        } else {
            None
        };
        let Some(budget) = budget else { return map() };
        let mut reservations = RESERVATIONS.lock();
        let total = RESERVED.load(Ordering::Relaxed);
        let mine = budget.reserved.load(Ordering::Relaxed);
        let over = total.saturating_add(len) > MAX_RESERVED || mine.saturating_add(len) > MAX_RESERVED_PER_ISOLATE;
        if over && len >= ALWAYS_RESERVE {
            refuse();
            return libc::MAP_FAILED;
        }
        let p = map();
        if p != libc::MAP_FAILED {
            RESERVED.fetch_add(len, Ordering::Relaxed);
            budget.reserved.fetch_add(len, Ordering::Relaxed);
            reservations.insert(p as usize, Reservation { len, budget });
        }
        p
    }

    /// Gives back the part of a reservation that `munmap(addr, len)` frees:
    /// all of it, or its head or tail (V8 trims an over-sized reservation to
    /// an alignment), or its middle.
    fn unreserve(addr: usize, len: usize) {
        let mut reservations = RESERVATIONS.lock();
        let Some((&start, r)) = reservations.range(..=addr).next_back() else { return };
        let end = start + r.len;
        if addr >= end {
            return;
        }
        let cut_end = addr.saturating_add(len).min(end);
        let freed = cut_end - addr;
        RESERVED.fetch_sub(freed, Ordering::Relaxed);
        r.budget.reserved.fetch_sub(freed, Ordering::Relaxed);
        let Reservation { budget, .. } = reservations.remove(&start).expect("the reservation found");
        if addr > start {
            reservations.insert(start, Reservation { len: addr - start, budget: budget.clone() });
        }
        if cut_end < end {
            reservations.insert(cut_end, Reservation { len: end - cut_end, budget });
        }
    }

    unsafe extern "C" fn wrap_munmap(addr: *mut c_void, len: usize) -> c_int {
        if RESERVED.load(Ordering::Relaxed) > 0 {
            unreserve(addr as usize, len);
        }
        if COUNT.load(Ordering::Relaxed) > 0 {
            if let Some(r) = REGIONS.lock().remove(&(addr as usize)) {
                COUNT.fetch_sub(1, Ordering::Relaxed);
                r.budget.unreserve(r.charged);
                r.budget.gc_mark.fetch_min(next_mark(&r.budget), Ordering::Relaxed);
            }
        }
        // SAFETY: the caller's arguments, unchanged.
        unsafe { __real_munmap(addr, len) }
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use hooks::refused_in_window;

/// The symbols a source file lists between its WRAPPED SYMBOLS markers, read
/// the way build.rs reads them (tests check them against the wrappers).
#[cfg(test)]
pub(crate) fn wrapped_symbols(src: &str) -> Vec<&str> {
    let block = src.split(concat!("// BEGIN ", "WRAPPED SYMBOLS")).nth(1).unwrap();
    let block = block.split(concat!("// END ", "WRAPPED SYMBOLS")).next().unwrap();
    block.lines().filter(|l| !l.trim_start().starts_with("//")).filter_map(|l| l.split('"').nth(1)).collect()
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn refused_in_window() -> bool {
    false
}
