//! The CPU profiler, run through an internal inspector session per title.

use crate::engine::inspector;
use crate::engine::runner::State;
use crate::transfer::{Outcome, Transfer};

/// Sampling interval in microseconds: fine enough for short runs to show up.
const INTERVAL_US: u32 = 100;

pub fn start(iso: &mut v8::Isolate, st: &State, title: &str) -> Outcome {
    inspector::agent(iso, st).start_profiling(title, INTERVAL_US);
    Ok(Transfer::Bool(true))
}

/// `[threadId, Profiler.stop response JSON]`, or undefined for a title that
/// was not being profiled.
pub fn stop(iso: &mut v8::Isolate, st: &State, title: &str) -> Outcome {
    let agent = inspector::agent(iso, st);
    Ok(match agent.stop_profiling(title) {
        Some(json) => Transfer::List(vec![Transfer::Number(agent.thread_id as f64), Transfer::String(json)]),
        None => Transfer::Undefined,
    })
}

/// Creates the inspector of an isolate made with `inspector: true`, so that
/// it sees every context created with `{inspector: true}` from the start.
pub fn enable(iso: &mut v8::Isolate, st: &State) -> Outcome {
    inspector::agent(iso, st);
    Ok(Transfer::Undefined)
}
