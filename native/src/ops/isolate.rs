//! Isolate-wide queries: heap statistics.

use crate::engine::runner::State;
use crate::transfer::{Outcome, Transfer};

fn n(v: usize) -> Transfer {
    Transfer::Number(v as f64)
}

pub fn heap_statistics(iso: &mut v8::Isolate, st: &State) -> Outcome {
    let s = iso.get_heap_statistics();
    // Memory outside the heap: ArrayBuffers and wasm memory (the budget),
    // and ICU's objects behind Intl.
    let external = st.host.budget.used.load(std::sync::atomic::Ordering::Relaxed) + crate::engine::icu_memory::current_used();
    // V8's own ceiling sits above the isolate's limit (which the GC epilogue
    // enforces): report the limit the user set, as isolated-vm does.
    let limit = st.host.memory_limit + crate::engine::runner::young_generation(st.host.memory_limit);
    let available = limit.saturating_sub(s.used_heap_size());
    Ok(Transfer::Record(vec![
        ("total_heap_size", n(s.total_heap_size())),
        ("total_heap_size_executable", n(s.total_heap_size_executable())),
        ("total_physical_size", n(s.total_physical_size())),
        ("total_available_size", n(available.min(s.total_available_size()))),
        ("used_heap_size", n(s.used_heap_size())),
        ("heap_size_limit", n(limit)),
        ("malloced_memory", n(s.malloced_memory())),
        ("peak_malloced_memory", n(s.peak_malloced_memory())),
        ("does_zap_garbage", n(s.does_zap_garbage() as usize)),
        ("number_of_native_contexts", n(s.number_of_native_contexts())),
        ("number_of_detached_contexts", n(s.number_of_detached_contexts())),
        ("total_global_handles_size", n(s.total_global_handles_size())),
        ("used_global_handles_size", n(s.used_global_handles_size())),
        ("external_memory", n(s.external_memory())),
        ("externally_allocated_size", n(external)),
    ]))
}

pub fn heap_space_statistics(iso: &mut v8::Isolate, _st: &State) -> Outcome {
    let mut spaces = Vec::new();
    for i in 0..iso.number_of_heap_spaces() {
        if let Some(s) = iso.get_heap_space_statistics(i) {
            spaces.push(Transfer::Record(vec![
                ("space_name", Transfer::String(s.space_name().to_string_lossy().into_owned())),
                ("space_size", n(s.space_size())),
                ("space_used_size", n(s.space_used_size())),
                ("space_available_size", n(s.space_available_size())),
                ("physical_space_size", n(s.physical_space_size())),
            ]));
        }
    }
    Ok(Transfer::List(spaces))
}
