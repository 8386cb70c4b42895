//! Every exported function runs behind `guard`. Node may stop a worker's JS
//! at any moment (`worker.terminate()` on another thread): from then on
//! Node-API refuses to make values (a new object, a string, a box), neon
//! panics on the refusal, and turns the panic into a JS error, which is
//! refused the same way, inside an `extern "C"` frame: the process aborted.
//! A panic while Node refuses to run JS returns as the termination it is
//! (`refusable` does the same for the work Node's thread is woken for).

use neon::prelude::*;
use neon::sys::bindings as napi;

use std::cell::Cell;

thread_local! {
    /// The environment of the exported function running on this thread.
    static ENV: Cell<Option<napi::Env>> = const { Cell::new(None) };
}

/// Installs (once) a panic hook that stays silent about the panics `guard`
/// turns into a termination, and reports the others as before. The hook is
/// this library's own (each Rust library linked into Node has its std).
pub fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ENV.with(Cell::get).is_some_and(js_refused) {
                return;
            }
            previous(info)
        }));
    });
}

pub fn guard<'a>(cx: FunctionContext<'a>, f: impl FnOnce(FunctionContext<'a>) -> JsResult<'a, JsValue>) -> JsResult<'a, JsValue> {
    let env = cx.to_raw();
    match refusable(env, move || f(cx)) {
        Some(r) => r,
        // SAFETY: the environment's JS is being terminated, the throwing
        // state a `Throw` stands for; neon returns no value for it.
        None => Err(unsafe { neon::result::Throw::new() }),
    }
}

/// Runs `f` (Node's thread, environment `env`); `None` if it panicked
/// because Node refuses to run JS there. Other panics go on unwinding.
pub fn refusable<T>(env: napi::Env, f: impl FnOnce() -> T) -> Option<T> {
    let outer = ENV.with(|e| e.replace(Some(env)));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    ENV.with(|e| e.set(outer));
    match r {
        Ok(v) => Some(v),
        Err(_) if js_refused(env) => None,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Whether Node-API refuses to run JS in `env` for a reason other than an
/// exception the call threw: the environment is being torn down.
pub fn js_refused(env: napi::Env) -> bool {
    let mut pending = false;
    // SAFETY: Node-API on the environment's own thread (exported functions
    // run there); this call works in any state.
    if unsafe { napi::is_exception_pending(env, &mut pending) }.is_ok() && pending {
        return false;
    }
    let mut out = std::ptr::null_mut();
    // SAFETY: as above; an external over no data, with no finalizer: a
    // probe Node refuses exactly when JS may not run.
    unsafe { napi::create_external(env, std::ptr::null_mut(), None, std::ptr::null_mut(), &mut out) }.is_err()
}
