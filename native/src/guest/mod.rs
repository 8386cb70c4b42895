//! The library as seen from inside an isolate: the `ivm` object and its
//! classes (lib.js over the native bridge), calls into other isolates, Node
//! functions callable by guest code (Callbacks), and errors thrown into guests.

pub mod callback;
pub mod external_copy;
pub mod handle;
pub mod library;
pub mod module;
pub mod natives;
pub mod remote;
pub mod rules;
pub mod throw;

/// Runs the body of a V8 function callback, turning a Rust panic into a
/// guest exception (a panic must not unwind into V8).
pub fn guarded<'s>(scope: &mut v8::PinScope<'s, '_>, what: &str, body: impl FnOnce(&mut v8::PinScope<'s, '_>)) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(scope)));
    if r.is_err() {
        let msg = v8::String::new(scope, &format!("internal error in v8-isolates (panic in {what})")).unwrap();
        let e = v8::Exception::error(scope, msg);
        scope.throw_exception(e);
    }
}
