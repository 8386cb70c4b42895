//! Guest exceptions leaving an isolate: copied into an `ErrorInfo` (class,
//! name, message, stack) or, for thrown primitives, the primitive itself.

use super::{capture, ErrorClass, ErrorInfo, Failure};

const NOT_AN_ERROR: &str =
    "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";

fn get_string<'s>(scope: &mut v8::PinScope<'s, '_>, obj: v8::Local<'s, v8::Object>, key: &str) -> Option<String> {
    let k = v8::String::new(scope, key)?;
    v8::tc_scope!(let tc, scope);
    let v = obj.get(tc, k.into())?;
    if v.is_undefined() {
        return None;
    }
    v.to_string(tc).map(|s| s.to_rust_string_lossy(tc))
}

fn constructor_name<'s>(scope: &mut v8::PinScope<'s, '_>, obj: v8::Local<'s, v8::Object>) -> Option<String> {
    let k = v8::String::new(scope, "constructor")?;
    v8::tc_scope!(let tc, scope);
    let ctor = obj.get(tc, k.into())?;
    let f = v8::Local::<v8::Function>::try_from(ctor).ok()?;
    Some(f.get_name(tc).to_rust_string_lossy(tc))
}

/// Copies the exception held by a TryCatch. A terminated TryCatch gives
/// `Failure::Error("terminated")`; the runner replaces it with the reason.
pub fn capture_exception<'s>(scope: &mut v8::PinScope<'s, '_>, exception: Option<v8::Local<'s, v8::Value>>) -> Failure {
    let Some(exc) = exception else {
        return Failure::terminated();
    };
    if exc.is_native_error() {
        let obj = exc.to_object(scope).unwrap();
        let ctor = constructor_name(scope, obj);
        let name = get_string(scope, obj, "name");
        let message = get_string(scope, obj, "message").unwrap_or_default();
        let stack = get_string(scope, obj, "stack").map(|s| {
            if s.contains(crate::guest::library::FILENAME) {
                s.lines().filter(|l| !crate::guest::throw::is_library_frame(l)).collect::<Vec<_>>().join("\n")
            } else {
                s
            }
        });
        let known = ctor.as_deref().and_then(ErrorClass::from_name);
        let class = known.unwrap_or(ErrorClass::Error);
        // Other constructors come back as Error carrying the guest's name.
        let name = match (known, name) {
            (None, n) => Some(n.unwrap_or_else(|| "Error".into())),
            (Some(c), Some(n)) if n != c.as_str() => Some(n),
            _ => None,
        };
        return Failure::Thrown(ErrorInfo { class, name, message, stack });
    }
    if exc.is_object() || exc.is_symbol() {
        return Failure::Thrown(ErrorInfo {
            class: ErrorClass::Error,
            name: None,
            message: NOT_AN_ERROR.into(),
            stack: None,
        });
    }
    match capture::primitive(scope, exc) {
        Some(t) => Failure::ThrownValue(t),
        None => Failure::error(NOT_AN_ERROR),
    }
}

/// A compile error: the SyntaxError's message gets ` [file:line:col]`.
pub fn capture_compile_error<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    exception: Option<v8::Local<'s, v8::Value>>,
    message: Option<v8::Local<'s, v8::Message>>,
) -> Failure {
    let mut failure = capture_exception(scope, exception);
    if let (Failure::Thrown(info), Some(msg)) = (&mut failure, message) {
        let file = msg
            .get_script_resource_name(scope)
            .map(|n| n.to_rust_string_lossy(scope))
            .unwrap_or_default();
        let line = msg.get_line_number(scope).unwrap_or(0);
        let col = msg.get_start_column() + 1;
        info.message = format!("{} [{}:{}:{}]", info.message, file, line, col);
        info.stack = None;
    }
    failure
}

/// The running guest stack (up to 10 frames), rendered like V8 renders
/// `error.stack` frames. Called from an interrupt on the isolate thread.
pub fn current_stack(iso: &mut v8::Isolate) -> Option<String> {
    let st = iso.get_slot::<std::rc::Rc<crate::engine::runner::State>>()?.clone();
    let ctx = st.last_context()?;
    v8::scope_with_context!(let scope, iso, &ctx);
    let trace = v8::StackTrace::current_stack_trace(scope, 10)?;
    let mut out = String::new();
    for i in 0..trace.get_frame_count() {
        let Some(f) = trace.get_frame(scope, i) else { continue };
        let file = f.get_script_name_or_source_url(scope).map(|s| s.to_rust_string_lossy(scope)).unwrap_or_default();
        let func = f.get_function_name(scope).map(|s| s.to_rust_string_lossy(scope)).unwrap_or_default();
        let loc = format!("{}:{}:{}", file, f.get_line_number(), f.get_column());
        if !out.is_empty() {
            out.push('\n');
        }
        if func.is_empty() {
            out.push_str(&format!("    at {loc}"));
        } else {
            out.push_str(&format!("    at {func} ({loc})"));
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}
