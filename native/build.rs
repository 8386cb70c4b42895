// Link-time hooks for memory V8 keeps outside the ArrayBuffer allocator that
// counts every other buffer against an isolate's memory limit: wasm memory
// and resizable ArrayBuffers, reserved with mmap, committed with mprotect and
// freed with munmap
// (src/engine/reserved.rs), and compiled wasm modules
// (src/engine/wasm_modules.rs), and the clone buffer (src/engine/serializer_cap.rs). `--wrap` routes this library's own calls to
// those functions (V8's included, as it is linked in statically) and to the
// V8 functions that make such buffers through our wrappers; the rest of the
// process is untouched.
fn main() {
    // The files whose WRAPPED SYMBOLS blocks list the V8 functions to wrap.
    const SOURCES: [&str; 3] = ["src/engine/reserved.rs", "src/engine/wasm_modules.rs", "src/engine/serializer_cap.rs"];
    println!("cargo:rerun-if-changed=build.rs");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "linux" || arch != "x86_64" {
        return;
    }
    let mut symbols = vec!["mmap".to_string(), "mmap64".to_string(), "mprotect".to_string(), "munmap".to_string()];
    for source in SOURCES {
        let src = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("read {source}: {e}"));
        let block = src
            .split("// BEGIN WRAPPED SYMBOLS")
            .nth(1)
            .and_then(|b| b.split("// END WRAPPED SYMBOLS").next())
            .unwrap_or_else(|| panic!("the WRAPPED SYMBOLS block of {source}"));
        let listed = block.lines().filter(|l| !l.trim_start().starts_with("//")).filter_map(|l| l.split('"').nth(1));
        symbols.extend(listed.map(str::to_string));
    }
    for sym in symbols {
        println!("cargo:rustc-link-arg=-Wl,--wrap={sym}");
    }
}
