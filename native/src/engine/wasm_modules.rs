//! Compiled WebAssembly modules counted against an isolate's memory limit.
//!
//! V8 keeps each compiled module's bytes (its "wire bytes") and its code
//! outside the heap, and the `WebAssembly.Module` object on the heap is
//! small: 300 modules of 1 MB held 300 MB in a 32 MB isolate. Here, the
//! moment V8 hands a new native module its bytes (`NativeModule::
//! SetWireBytes`, wrapped at link time as in `reserved.rs`), the isolate
//! compiling it is charged `CHARGE_FACTOR` times their size (bytes plus
//! code), against its ArrayBuffer budget; when V8 frees the native module
//! (`WasmEngine::FreeNativeModule`, on any thread) the charge goes back. A
//! compile that starts with the budget spent collects garbage first, then is
//! refused through V8's code generation callback: a catchable
//! `CompileError` ("Wasm code generation disallowed by embedder").
//!
//! V8 shares one native module between compiles of the same bytes (in any
//! isolate of the process): the first compile pays for it until it is freed.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod hooks {
    use std::collections::HashMap;
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use once_cell::sync::Lazy;
    use parking_lot::Mutex;

    use crate::engine::memory::Budget;

    /// Bytes charged per byte of a module: its bytes, and room for the code
    /// compiled from them.
    const CHARGE_FACTOR: usize = 3;

    /// Charges by native module address.
    static MODULES: Lazy<Mutex<HashMap<usize, (Arc<Budget>, usize)>>> = Lazy::new(|| Mutex::new(HashMap::new()));
    /// `MODULES.len()`, read without the lock by every free.
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    // BEGIN WRAPPED SYMBOLS (build.rs reads the quoted names up to the END line)
    // v8::internal::wasm::NativeModule::SetWireBytes(base::OwnedVector<const uint8_t>)
    #[cfg(test)]
    const SET_WIRE_BYTES: &str = "_ZN2v88internal4wasm12NativeModule12SetWireBytesENS_4base11OwnedVectorIKhEE";
    // v8::internal::wasm::WasmEngine::FreeNativeModule(NativeModule*)
    #[cfg(test)]
    const FREE_NATIVE_MODULE: &str = "_ZN2v88internal4wasm10WasmEngine16FreeNativeModuleEPNS1_12NativeModuleE";
    // END WRAPPED SYMBOLS

    unsafe extern "C" {
        #[link_name = "__real__ZN2v88internal4wasm12NativeModule12SetWireBytesENS_4base11OwnedVectorIKhEE"]
        fn real_set_wire_bytes(native_module: *mut c_void, bytes: *mut OwnedBytes);
        #[link_name = "__real__ZN2v88internal4wasm10WasmEngine16FreeNativeModuleEPNS1_12NativeModuleE"]
        fn real_free_native_module(engine: *mut c_void, native_module: *mut c_void);
    }

    /// `base::OwnedVector<const uint8_t>`: a `std::unique_ptr<uint8_t[]>`
    /// and a length. Passed by value, it is not trivially copyable, so the
    /// callee gets a pointer to the caller's (the second integer register).
    #[repr(C)]
    pub struct OwnedBytes {
        data: *mut u8,
        len: usize,
    }

    std::arch::global_asm!(
        ".globl __wrap__ZN2v88internal4wasm12NativeModule12SetWireBytesENS_4base11OwnedVectorIKhEE",
        ".hidden __wrap__ZN2v88internal4wasm12NativeModule12SetWireBytesENS_4base11OwnedVectorIKhEE",
        ".set __wrap__ZN2v88internal4wasm12NativeModule12SetWireBytesENS_4base11OwnedVectorIKhEE, {set}",
        ".globl __wrap__ZN2v88internal4wasm10WasmEngine16FreeNativeModuleEPNS1_12NativeModuleE",
        ".hidden __wrap__ZN2v88internal4wasm10WasmEngine16FreeNativeModuleEPNS1_12NativeModuleE",
        ".set __wrap__ZN2v88internal4wasm10WasmEngine16FreeNativeModuleEPNS1_12NativeModuleE, {free}",
        set = sym wrap_set_wire_bytes,
        free = sym wrap_free_native_module,
    );

    unsafe extern "C" fn wrap_set_wire_bytes(native_module: *mut c_void, bytes: *mut OwnedBytes) {
        // SAFETY: V8's argument, read before the callee moves from it.
        let len = if bytes.is_null() { 0 } else { unsafe { (*bytes).len } };
        // SAFETY: the arguments V8 passed, unchanged.
        unsafe { real_set_wire_bytes(native_module, bytes) };
        let Some(budget) = crate::engine::memory::current_budget() else { return };
        // Never refused here (V8 cannot fail this call): the budget may go
        // over, and the next compile or allocation is refused instead.
        let charge = len.saturating_mul(CHARGE_FACTOR);
        budget.used.fetch_add(charge, Ordering::Relaxed);
        let old = MODULES.lock().insert(native_module as usize, (budget, charge));
        match old {
            Some((b, c)) => b.unreserve(c),
            None => {
                COUNT.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    unsafe extern "C" fn wrap_free_native_module(engine: *mut c_void, native_module: *mut c_void) {
        if COUNT.load(Ordering::Relaxed) > 0 {
            if let Some((b, c)) = MODULES.lock().remove(&(native_module as usize)) {
                COUNT.fetch_sub(1, Ordering::Relaxed);
                b.unreserve(c);
            }
        }
        // SAFETY: the arguments V8 passed, unchanged.
        unsafe { real_free_native_module(engine, native_module) }
    }

    #[cfg(test)]
    #[test]
    fn build_script_wraps_what_this_file_defines() {
        let listed = crate::engine::reserved::wrapped_symbols(include_str!("wasm_modules.rs"));
        assert_eq!(listed, [SET_WIRE_BYTES, FREE_NATIVE_MODULE]);
    }
}

/// V8's code generation callback for wasm: a compile may start while the
/// isolate's budget is not spent; if it is, garbage is collected first
/// (modules the guest dropped give their share back).
pub unsafe extern "C" fn allow_compile(context: v8::Local<v8::Context>, _source: v8::Local<v8::String>) -> bool {
    let Some(budget) = super::memory::current_budget() else { return true };
    let spent = || budget.used.load(std::sync::atomic::Ordering::Relaxed) >= budget.limit;
    if !spent() {
        return true;
    }
    // SAFETY: V8 calls this on the isolate's thread, inside the compiling
    // API function, where collecting garbage is allowed.
    v8::callback_scope!(unsafe scope, context);
    super::memory::collect_garbage(scope, 2);
    !spent()
}
