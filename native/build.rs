// Link-time hooks for memory V8 reserves and commits itself (see
// src/engine/reserved.rs): wasm memory and resizable ArrayBuffers are
// committed with mprotect and freed with munmap, outside the ArrayBuffer
// allocator that counts every other buffer against an isolate's memory
// limit. `--wrap` routes this library's own calls to those functions (V8's
// included, as it is linked in statically) and to the V8 functions that make
// such buffers through our wrappers; the rest of the process is untouched.
fn main() {
    const SOURCE: &str = "src/engine/reserved.rs";
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={SOURCE}");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "linux" || arch != "x86_64" {
        return;
    }
    let src = std::fs::read_to_string(SOURCE).expect("read src/engine/reserved.rs");
    let block = src
        .split("// BEGIN WRAPPED SYMBOLS")
        .nth(1)
        .and_then(|b| b.split("// END WRAPPED SYMBOLS").next())
        .expect("the WRAPPED SYMBOLS block of src/engine/reserved.rs");
    let v8_symbols = block.lines().filter(|l| !l.trim_start().starts_with("//")).filter_map(|l| l.split('"').nth(1));
    for sym in ["mprotect", "munmap"].into_iter().chain(v8_symbols) {
        println!("cargo:rustc-link-arg=-Wl,--wrap={sym}");
    }
}
