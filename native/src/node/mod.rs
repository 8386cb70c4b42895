//! The neon side: one file per class, plus the call and conversion plumbing.

pub mod call;
pub mod envlink;
pub mod external_copy;
pub mod guard;
pub mod host;
pub mod context;
pub mod env;
pub mod helpers;
pub mod inspector;
pub mod isolate;
pub mod module;
pub mod outbox;
pub mod reference;
pub mod pool;
pub mod script;
pub mod snapshot;

use neon::prelude::*;

/// `cx.export_function(name, f)` with `f` behind `guard::guard`.
macro_rules! export {
    ($cx:expr, $name:expr, $f:path) => {{
        fn guarded(cx: FunctionContext) -> JsResult<JsValue> {
            guard::guard(cx, |cx| $f(cx).map(|v| v.upcast()))
        }
        $cx.export_function($name, guarded)?
    }};
}

pub fn register(cx: &mut ModuleContext) -> NeonResult<()> {
    guard::install_hook();
    export!(cx, "setup", helpers::setup);
    export!(cx, "poll", envlink::poll);
    export!(cx, "plainCopy", crate::transfer::node::plain_copy);
    export!(cx, "packedCopy", crate::transfer::node::packed_copy);
    export!(cx, "prepackedCopy", crate::transfer::node::prepacked_copy);
    export!(cx, "plainNoHandles", crate::transfer::node::plain_no_handles);
    export!(cx, "isolateNew", isolate::new);
    export!(cx, "isolateDispose", isolate::dispose);
    export!(cx, "snapshotCreate", snapshot::create);
    export!(cx, "snapshotOpen", snapshot::open);
    export!(cx, "snapshotSize", snapshot::size);
    export!(cx, "poolNew", pool::new);
    export!(cx, "poolAcquire", pool::acquire);
    export!(cx, "poolReady", pool::ready);
    export!(cx, "poolDispose", pool::dispose);
    export!(cx, "isolateIsDisposed", isolate::is_disposed);
    export!(cx, "isolateCompileScript", isolate::compile_script);
    export!(cx, "isolateCreateContext", isolate::create_context);
    export!(cx, "isolateHeapStatistics", isolate::heap_statistics);
    export!(cx, "isolateHeapSpaceStatistics", isolate::heap_space_statistics);
    export!(cx, "isolateCpuTime", isolate::cpu_time);
    export!(cx, "isolateWallTime", isolate::wall_time);
    export!(cx, "isolateReferenceCount", isolate::reference_count);
    export!(cx, "isolatePing", isolate::ping);
    export!(cx, "parkCount", isolate::park_count);
    export!(cx, "quickFlag", envlink::quick_flag);
    export!(cx, "inspectorSessionNew", inspector::session_new);
    export!(cx, "inspectorSessionDispatch", inspector::session_dispatch);
    export!(cx, "inspectorSessionDispose", inspector::session_dispose);
    export!(cx, "isolateStartCpuProfiler", inspector::start_profiler);
    export!(cx, "isolateStopCpuProfiler", inspector::stop_profiler);
    export!(cx, "contextEval", context::eval);
    export!(cx, "contextEvalFast", context::eval_fast);
    export!(cx, "refApplyFast", reference::apply_fast);
    export!(cx, "refApplyArgs", reference::apply_args);
    export!(cx, "refApplyAsyncArgs", reference::apply_async_args);
    export!(cx, "refApplyWith", reference::apply_with);
    export!(cx, "contextEvalClosure", context::eval_closure);
    export!(cx, "release", context::release);
    export!(cx, "isReleased", context::is_released);
    export!(cx, "scriptRun", script::run);
    export!(cx, "scriptRunFast", script::run_fast);
    export!(cx, "isolateCompileModule", module::compile);
    export!(cx, "isolateSetHooks", module::set_hooks);
    export!(cx, "moduleInstantiate", module::instantiate);
    export!(cx, "moduleEvaluate", module::evaluate);
    export!(cx, "moduleNamespace", module::namespace);
    export!(cx, "moduleImportSettle", module::import_settle);
    export!(cx, "moduleStatus", module::status);
    export!(cx, "moduleRelease", module::release);
    export!(cx, "moduleOwnedBy", module::owned_by);
    export!(cx, "refGet", reference::get);
    export!(cx, "refSet", reference::set);
    export!(cx, "refGetSync", reference::get_sync);
    export!(cx, "refSetSync", reference::set_sync);
    export!(cx, "refDelete", reference::delete);
    export!(cx, "refApply", reference::apply);
    export!(cx, "refCopy", reference::copy);
    export!(cx, "refTypeof", reference::type_of);
    export!(cx, "externalCopyNew", external_copy::new);
    export!(cx, "externalCopyBuffer", external_copy::from_buffer);
    export!(cx, "externalCopyCopy", external_copy::copy);
    export!(cx, "externalCopyInto", external_copy::into);
    export!(cx, "externalCopyRelease", external_copy::release);
    export!(cx, "externalCopyTotal", external_copy::total);
    export!(cx, "promiseNew", crate::transfer::node::promise_new);
    export!(cx, "promiseSettle", crate::transfer::node::promise_settle);
    Ok(())
}
