//! Process-wide V8 initialisation: once per process, never disposed.
//!
//! The addon can be loaded by several Node environments (the main thread and
//! any number of worker_threads); all of them share this one V8.

use std::sync::Once;

static INIT: Once = Once::new();

/// Initialises V8 the first time it is called; later calls are no-ops.
pub fn init() {
    INIT.call_once(|| {
        // Before anything can make ICU allocate: see icu_memory.rs.
        super::icu_memory::install();
        // Turboshaft's loop unrolling can drop the interrupt checks of a loop
        // (`for(;;) a.push(new Array(20))` then ignores TerminateExecution):
        // timeouts and the memory limit must always be able to stop a loop.
        v8::V8::set_flags_from_string("--no-turboshaft-loop-unrolling");
        // Extra V8 flags for debugging, e.g. V8_ISOLATES_V8_FLAGS="--trace-gc".
        if let Ok(flags) = std::env::var("V8_ISOLATES_V8_FLAGS") {
            v8::V8::set_flags_from_string(&flags);
        }
        // The WebAssembly trap handler is never enabled (it is opt-in through
        // V8::EnableWebAssemblyTrapHandler): Node owns SIGSEGV.
        // The unprotected platform: Node's threads were created before we
        // initialise V8, so PKU-protected memory would fault on them.
        let platform = v8::new_unprotected_default_platform(0, false).make_shared();
        v8::V8::initialize_platform(platform);
        v8::V8::initialize();
        super::memory::install_fatal_handlers();
    });
}

/// The platform, for pumping foreground tasks on isolate threads.
pub fn platform() -> v8::SharedRef<v8::Platform> {
    v8::V8::get_current_platform()
}
