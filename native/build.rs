// Link-time hooks for WebAssembly memory (see src/engine/wasm_memory.rs): V8
// commits wasm memory with mprotect and frees it with munmap, outside the
// ArrayBuffer allocator that counts every other buffer against an isolate's
// memory limit. `--wrap` routes this library's own calls to those functions
// (V8's included, as it is linked in statically) through our wrappers; the
// rest of the process is untouched.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && arch == "x86_64" {
        for sym in [
            "mprotect",
            "munmap",
            // v8::internal::BackingStore::AllocateWasmMemory(Isolate*, size_t, size_t, WasmMemoryFlag, SharedFlag)
            "_ZN2v88internal12BackingStore18AllocateWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagENS_4base11StrongAliasINS0_13SharedFlagTagEbEE",
            // v8::internal::BackingStore::CopyWasmMemory(Isolate*, size_t, size_t, WasmMemoryFlag)
            "_ZN2v88internal12BackingStore14CopyWasmMemoryEPNS0_7IsolateEmmNS0_14WasmMemoryFlagE",
            // v8::internal::BackingStore::GrowWasmMemoryInPlace(Isolate*, size_t, size_t)
            "_ZN2v88internal12BackingStore21GrowWasmMemoryInPlaceEPNS0_7IsolateEmm",
        ] {
            println!("cargo:rustc-link-arg=-Wl,--wrap={sym}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
