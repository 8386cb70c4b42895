//! A cap on the bytes one structured clone made inside an isolate may take.
//!
//! V8's serializer writes a string each time it meets it (strings have no
//! back-references), so a guest can clone far more than its heap holds: an
//! array of 8 references to one 64 MB string is 512 MB of clone from a
//! 32 MB isolate, and a rope of 2^28 characters costs a few KB of heap. The
//! bytes live outside every limit until the copy is made, then again as the
//! copy: enough of them ends the host (the allocation succeeds and the
//! kernel kills the process when the pages are touched).
//!
//! The `v8` crate grows the serializer's buffer through its delegate
//! (`v8__ValueSerializer__Delegate__ReallocateBufferMemory`, called from the
//! crate's C++ binding); build.rs wraps that call at link time, as in
//! `reserved.rs`. On an isolate thread a buffer may grow to `cap` bytes
//! (4 times the isolate's memory limit, at least 64 MB); past that the
//! wrapper returns null, and V8 fails the clone with its own "Data cannot be
//! cloned, out of memory." error, in the guest or in Node.

/// The largest clone an isolate with `memory_limit` bytes may make.
pub fn cap(memory_limit: usize) -> usize {
    memory_limit.saturating_mul(4).max(64 << 20)
}

/// The cap of this thread's isolate (none off isolate threads).
pub fn current_cap() -> usize {
    crate::engine::memory::current_memory_limit().map_or(usize::MAX, cap)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod hooks {
    use std::ffi::c_void;

    // BEGIN WRAPPED SYMBOLS (build.rs reads the quoted names up to the END line)
    #[cfg(test)]
    const REALLOCATE: &str = "v8__ValueSerializer__Delegate__ReallocateBufferMemory";
    // END WRAPPED SYMBOLS

    unsafe extern "C" {
        #[link_name = "__real_v8__ValueSerializer__Delegate__ReallocateBufferMemory"]
        fn real(delegate: *const c_void, old: *mut c_void, size: usize, actual: *mut usize) -> *mut c_void;
    }

    unsafe extern "C" fn wrapper(delegate: *const c_void, old: *mut c_void, size: usize, actual: *mut usize) -> *mut c_void {
        if size > super::current_cap() {
            // V8 keeps the old buffer (and frees it) and fails the clone.
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's arguments, unchanged.
        unsafe { real(delegate, old, size, actual) }
    }

    std::arch::global_asm!(
        ".globl __wrap_v8__ValueSerializer__Delegate__ReallocateBufferMemory",
        ".hidden __wrap_v8__ValueSerializer__Delegate__ReallocateBufferMemory",
        ".set __wrap_v8__ValueSerializer__Delegate__ReallocateBufferMemory, {f}",
        f = sym wrapper,
    );

    #[cfg(test)]
    mod tests {
        #[test]
        fn build_script_wraps_what_this_file_lists() {
            assert_eq!(crate::engine::reserved::wrapped_symbols(include_str!("serializer_cap.rs")), [super::REALLOCATE]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cap_is_four_times_the_limit_and_at_least_64_mb() {
        assert_eq!(super::cap(8 << 20), 64 << 20);
        assert_eq!(super::cap(128 << 20), 512 << 20);
    }
}
