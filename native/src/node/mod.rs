//! The neon side: one file per class, plus the call and conversion plumbing.

pub mod call;
pub mod envlink;
pub mod external_copy;
pub mod host;
pub mod context;
pub mod env;
pub mod helpers;
pub mod inspector;
pub mod isolate;
pub mod module;
pub mod reference;
pub mod pool;
pub mod script;
pub mod snapshot;

use neon::prelude::*;

pub fn register(cx: &mut ModuleContext) -> NeonResult<()> {
    cx.export_function("setup", helpers::setup)?;
    cx.export_function("poll", envlink::poll)?;
    cx.export_function("isolateNew", isolate::new)?;
    cx.export_function("isolateDispose", isolate::dispose)?;
    cx.export_function("snapshotCreate", snapshot::create)?;
    cx.export_function("snapshotOpen", snapshot::open)?;
    cx.export_function("snapshotSize", snapshot::size)?;
    cx.export_function("poolNew", pool::new)?;
    cx.export_function("poolAcquire", pool::acquire)?;
    cx.export_function("poolReady", pool::ready)?;
    cx.export_function("poolDispose", pool::dispose)?;
    cx.export_function("isolateIsDisposed", isolate::is_disposed)?;
    cx.export_function("isolateCompileScript", isolate::compile_script)?;
    cx.export_function("isolateCreateContext", isolate::create_context)?;
    cx.export_function("isolateHeapStatistics", isolate::heap_statistics)?;
    cx.export_function("isolateHeapSpaceStatistics", isolate::heap_space_statistics)?;
    cx.export_function("isolateCpuTime", isolate::cpu_time)?;
    cx.export_function("isolateWallTime", isolate::wall_time)?;
    cx.export_function("isolateReferenceCount", isolate::reference_count)?;
    cx.export_function("isolatePing", isolate::ping)?;
    cx.export_function("parkCount", isolate::park_count)?;
    cx.export_function("quickFlag", envlink::quick_flag)?;
    cx.export_function("inspectorSessionNew", inspector::session_new)?;
    cx.export_function("inspectorSessionDispatch", inspector::session_dispatch)?;
    cx.export_function("inspectorSessionDispose", inspector::session_dispose)?;
    cx.export_function("isolateStartCpuProfiler", inspector::start_profiler)?;
    cx.export_function("isolateStopCpuProfiler", inspector::stop_profiler)?;
    cx.export_function("contextEval", context::eval)?;
    cx.export_function("contextEvalFast", context::eval_fast)?;
    cx.export_function("refApplyFast", reference::apply_fast)?;
    cx.export_function("contextEvalClosure", context::eval_closure)?;
    cx.export_function("release", context::release)?;
    cx.export_function("isReleased", context::is_released)?;
    cx.export_function("scriptRun", script::run)?;
    cx.export_function("isolateCompileModule", module::compile)?;
    cx.export_function("isolateSetHooks", module::set_hooks)?;
    cx.export_function("moduleInstantiate", module::instantiate)?;
    cx.export_function("moduleEvaluate", module::evaluate)?;
    cx.export_function("moduleNamespace", module::namespace)?;
    cx.export_function("moduleImportSettle", module::import_settle)?;
    cx.export_function("moduleStatus", module::status)?;
    cx.export_function("moduleRelease", module::release)?;
    cx.export_function("moduleOwnedBy", module::owned_by)?;
    cx.export_function("refGet", reference::get)?;
    cx.export_function("refSet", reference::set)?;
    cx.export_function("refDelete", reference::delete)?;
    cx.export_function("refApply", reference::apply)?;
    cx.export_function("refCopy", reference::copy)?;
    cx.export_function("refTypeof", reference::type_of)?;
    cx.export_function("externalCopyNew", external_copy::new)?;
    cx.export_function("externalCopyBuffer", external_copy::from_buffer)?;
    cx.export_function("externalCopyCopy", external_copy::copy)?;
    cx.export_function("externalCopyInto", external_copy::into)?;
    cx.export_function("externalCopyRelease", external_copy::release)?;
    cx.export_function("externalCopyTotal", external_copy::total)?;
    cx.export_function("promiseNew", crate::transfer::node::promise_new)?;
    cx.export_function("promiseSettle", crate::transfer::node::promise_settle)?;
    Ok(())
}
