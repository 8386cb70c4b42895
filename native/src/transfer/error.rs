//! Guest exceptions leaving an isolate: copied into an `ErrorInfo` (class,
//! name, message, stack) or, for thrown primitives, the primitive itself.

use super::{capture, ErrorClass, ErrorInfo, Failure};

/// isolated-vm's Error for a thrown value that is not an error.
fn not_an_error() -> Failure {
    Failure::Thrown(ErrorInfo { class: ErrorClass::Error, name: None, message: NOT_AN_ERROR.into(), stack: None, verbatim: false })
}

const NOT_AN_ERROR: &str =
    "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";

/// `obj[key]`, or None when it is undefined or reading it threw.
fn get<'s>(scope: &mut v8::PinScope<'s, '_>, obj: v8::Local<'s, v8::Object>, key: &str) -> Option<v8::Local<'s, v8::Value>> {
    let k = v8::String::new(scope, key)?;
    v8::tc_scope!(let tc, scope);
    obj.get(tc, k.into()).filter(|v| !v.is_undefined())
}

/// `String(v)`, or None when that throws.
fn try_string_of<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Option<String> {
    v8::tc_scope!(let tc, scope);
    v.to_string(tc).map(|s| s.to_rust_string_lossy(tc))
}

/// `String(v)`, or "" when that throws.
fn string_of<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> String {
    try_string_of(scope, v).unwrap_or_default()
}

/// Copies the exception held by a TryCatch. A terminated TryCatch gives
/// `Failure::Error("terminated")`; the runner replaces it with the reason.
///
/// As isolated-vm: an object counts as an error when it is one or has a
/// `message` or `stack`. Its class is the constructor V8 names, if one of
/// Error, RangeError, ReferenceError, SyntaxError or TypeError; other
/// constructors come back as Error carrying the object's `name`. The stack is
/// rebuilt as `name: message` followed by the frames of the guest's `stack`.
pub fn capture_exception<'s>(scope: &mut v8::PinScope<'s, '_>, exception: Option<v8::Local<'s, v8::Value>>) -> Failure {
    let Some(exc) = exception else {
        return Failure::terminated();
    };
    if let Ok(obj) = v8::Local::<v8::Object>::try_from(exc) {
        let native = exc.is_native_error();
        let message = get(scope, obj, "message");
        let stack = get(scope, obj, "stack");
        // A message that cannot be made a string: "" for a real error; any
        // other object is then not an error at all (as isolated-vm).
        let text = message.map(|m| try_string_of(scope, m));
        if !native && (matches!(text, Some(None)) || (message.is_none() && stack.is_none())) {
            return not_an_error();
        }
        let ctor = obj.get_constructor_name().to_rust_string_lossy(scope);
        let known = ErrorClass::from_name(&ctor);
        let class = known.unwrap_or(ErrorClass::Error);
        let name = match known {
            Some(_) => None,
            None => get(scope, obj, "name").map(|n| string_of(scope, n)),
        };
        let message = text.flatten().unwrap_or_default();
        let frames = stack.filter(|s| s.is_string()).map(|s| string_of(scope, s)).and_then(|s| {
            let at = s.find("\n    at ")?;
            let frames = &s[at..];
            Some(if frames.contains(crate::guest::library::FILENAME) {
                frames.split('\n').filter(|l| !crate::guest::throw::is_library_frame(l)).collect::<Vec<_>>().join("\n")
            } else {
                frames.to_string()
            })
        });
        let head = name.as_deref().unwrap_or(class.as_str());
        let stack = Some(format!("{head}: {message}{}", frames.unwrap_or_default()));
        return Failure::Thrown(ErrorInfo { class, name, message, stack, verbatim: false });
    }
    if exc.is_symbol() {
        return not_an_error();
    }
    match capture::primitive(scope, exc) {
        Some(t) => Failure::ThrownValue(t),
        None => Failure::error(NOT_AN_ERROR),
    }
}

/// A promise's rejection reason, copied as a thrown value is, except that an
/// error keeps the stack it had (or just its first line) and crosses without
/// a boundary line, as in isolated-vm.
pub fn capture_rejection<'s>(scope: &mut v8::PinScope<'s, '_>, reason: v8::Local<'s, v8::Value>) -> Failure {
    let mut f = capture_exception(scope, Some(reason));
    if let Failure::Thrown(info) = &mut f {
        info.verbatim = true;
        let own = v8::Local::<v8::Object>::try_from(reason)
            .ok()
            .filter(|_| info.message != NOT_AN_ERROR)
            .and_then(|obj| get(scope, obj, "stack"))
            .filter(|s| s.is_string())
            .map(|s| string_of(scope, s))
            .map(|s| s.split('\n').filter(|l| !crate::guest::throw::is_library_frame(l)).collect::<Vec<_>>().join("\n"));
        info.stack = Some(own.unwrap_or_else(|| format!("{}: {}", info.name.as_deref().unwrap_or(info.class.as_str()), info.message)));
    }
    f
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
