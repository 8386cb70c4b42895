//! Re-throwing a failure inside a guest.

use crate::transfer::materialize::materialize;
use crate::engine::runner::State;
use crate::transfer::{ErrorClass, Failure};

fn message_of(f: &Failure) -> Option<String> {
    Some(match f {
        Failure::Timeout | Failure::TimeoutAt(_) => "Script execution timed out.".into(),
        Failure::Disposed => "Isolate was disposed during execution".into(),
        Failure::MemoryLimit => "Isolate was disposed during execution due to memory limit".into(),
        Failure::IsolateDisposed => "Isolate is disposed".into(),
        Failure::TypeError(m) | Failure::RangeError(m) | Failure::Error(m) => m.clone(),
        _ => return None,
    })
}

/// A stack line of the guest library's own code (left out of stacks).
pub fn is_library_frame(line: &str) -> bool {
    line.contains(super::library::FILENAME)
}

/// Sets the stack of `err` (made here) to `inner` (a stack from the other
/// side of a boundary), the boundary line, then this side's frames.
fn stitch<'s>(scope: &mut v8::PinScope<'s, '_>, err: v8::Local<'s, v8::Object>, inner: &str) {
    let Some(k) = v8::String::new(scope, "stack") else { return };
    let here = err.get(scope, k.into()).map(|s| s.to_rust_string_lossy(scope)).unwrap_or_default();
    let mut full = format!("{inner}\n    at (<isolated-vm boundary>)");
    for fr in here.lines().skip(1).filter(|l| !is_library_frame(l)) {
        full.push('\n');
        full.push_str(fr);
    }
    if let Some(v) = v8::String::new(scope, &full) {
        err.define_own_property(scope, k.into(), v.into(), v8::PropertyAttribute::DONT_ENUM);
    }
}

/// Failures of calls refused before they reached the other isolate: they
/// carry no boundary line (as on the Node side, lib/index.js `REFUSED`).
const REFUSED: [&str; 8] = [
    super::rules::SYNC_FROM_ASYNC,
    super::rules::DEFAULT_THREAD,
    "Context is released",
    "Script has been released",
    "Module has been released",
    "Reference has been released",
    "Invalid context",
    "Module has not been instantiated.",
];

/// The guest value for a failure that came back from a call into another
/// isolate: as `failure_value`, and a failure raised over there (a value
/// that could not be transferred, "Module is uninstantiated"...) gets the
/// boundary line too.
pub fn remote_failure_value<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, f: Failure) -> v8::Local<'s, v8::Value> {
    let head = match &f {
        Failure::TypeError(m) => Some(format!("TypeError: {m}")),
        Failure::RangeError(m) => Some(format!("RangeError: {m}")),
        Failure::Error(m) => Some(format!("Error: {m}")),
        _ => None,
    };
    let head = head.filter(|h| !REFUSED.iter().any(|r| h.ends_with(r)));
    let e = failure_value(scope, st, f);
    if let (Some(head), Ok(obj)) = (head, v8::Local::<v8::Object>::try_from(e)) {
        stitch(scope, obj, &head);
    }
    e
}

/// Throws `f` as a guest exception in the current context.
pub fn throw_failure<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, f: Failure) {
    let exc = failure_value(scope, st, f);
    scope.throw_exception(exc);
}

/// The guest value that stands for `f` (an Error, or a thrown primitive).
pub fn failure_value<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, f: Failure) -> v8::Local<'s, v8::Value> {
    match f {
        Failure::ThrownValue(t) => match materialize(scope, st, t) {
            Ok(v) => v,
            Err(_) => v8::undefined(scope).into(),
        },
        Failure::Thrown(info) => {
            let msg = v8::String::new(scope, &info.message).unwrap_or_else(|| v8::String::empty(scope));
            let e = match info.class {
                ErrorClass::Error => v8::Exception::error(scope, msg),
                ErrorClass::RangeError => v8::Exception::range_error(scope, msg),
                ErrorClass::ReferenceError => v8::Exception::reference_error(scope, msg),
                ErrorClass::SyntaxError => v8::Exception::syntax_error(scope, msg),
                ErrorClass::TypeError => v8::Exception::type_error(scope, msg),
            };
            if let Ok(obj) = v8::Local::<v8::Object>::try_from(e) {
                if let (Some(name), Some(k)) = (info.name.as_deref(), v8::String::new(scope, "name")) {
                    if let Some(v) = v8::String::new(scope, name) {
                        obj.define_own_property(scope, k.into(), v.into(), v8::PropertyAttribute::DONT_ENUM);
                    }
                }
                let head = format!("{}: {}", info.name.as_deref().unwrap_or(info.class.as_str()), info.message);
                if info.verbatim {
                    // A promise's rejection keeps its own stack.
                    let k = v8::String::new(scope, "stack");
                    let v = v8::String::new(scope, info.stack.as_deref().unwrap_or(&head));
                    if let (Some(k), Some(v)) = (k, v) {
                        obj.define_own_property(scope, k.into(), v.into(), v8::PropertyAttribute::DONT_ENUM);
                    }
                } else {
                    // Every error from the other side gets the boundary line.
                    stitch(scope, obj, info.stack.as_deref().unwrap_or(&head));
                }
            }
            e
        }
        other => {
            let msg = message_of(&other).unwrap_or_default();
            let msg = v8::String::new(scope, &msg).unwrap_or_else(|| v8::String::empty(scope));
            let e = match other {
                Failure::TypeError(_) => v8::Exception::type_error(scope, msg),
                Failure::RangeError(_) => v8::Exception::range_error(scope, msg),
                _ => v8::Exception::error(scope, msg),
            };
            if let Ok(obj) = v8::Local::<v8::Object>::try_from(e) {
                match &other {
                    // The frames that were running in the other isolate.
                    Failure::TimeoutAt(Some(inner)) => {
                        stitch(scope, obj, &format!("Error: Script execution timed out.\n{inner}"))
                    }
                    // Failures of code that ran there (not calls refused
                    // before they reached the other isolate) cross the boundary.
                    Failure::Timeout | Failure::TimeoutAt(None) | Failure::Disposed | Failure::MemoryLimit => {
                        stitch(scope, obj, &format!("Error: {}", message_of(&other).unwrap_or_default()))
                    }
                    _ => {}
                }
            }
            e
        }
    }
}
