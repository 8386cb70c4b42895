//! Values leaving an isolate: primitives are copied, anything else is cloned,
//! referenced, or replaced according to the transfer mode.

use std::sync::Arc;

use super::{serde, Failure, Fallback, Mode, Remote, Transfer, Typeof};
use crate::engine::runner::{Entry, State};

pub const NON_TRANSFERABLE: &str = "A non-transferable value was passed";

/// Copies a primitive (not a symbol); None for anything else.
pub fn primitive<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Option<Transfer> {
    Some(if v.is_undefined() {
        Transfer::Undefined
    } else if v.is_null() {
        Transfer::Null
    } else if v.is_boolean() {
        Transfer::Bool(v.is_true())
    } else if v.is_number() {
        Transfer::Number(v.number_value(scope).unwrap_or(f64::NAN))
    } else if v.is_string() {
        string(scope, v8::Local::<v8::String>::try_from(v).ok()?)
    } else if v.is_big_int() {
        let b = v8::Local::<v8::BigInt>::try_from(v).ok()?;
        let mut words = vec![0u64; b.word_count()];
        let (negative, _) = b.to_words_array(&mut words);
        Transfer::BigInt { negative, words }
    } else {
        return None;
    })
}

/// Copies a string; keeps unpaired surrogates (as UTF-16) when it has any.
pub fn string(scope: &mut v8::PinScope, s: v8::Local<v8::String>) -> Transfer {
    if s.contains_only_onebyte() {
        return Transfer::String(s.to_rust_string_lossy(scope));
    }
    let mut buf = vec![0u16; s.length()];
    s.write_v2(scope, 0, &mut buf, v8::WriteFlags::empty());
    match String::from_utf16(&buf) {
        Ok(text) => Transfer::String(text),
        Err(_) => Transfer::String16(buf),
    }
}

/// Counts the strings of a list copied element by element (arguments, a
/// small array) against the clone cap (`engine::serializer_cap`): one long
/// string repeated in a list would otherwise be copied out as many times.
pub struct ListMeter {
    bytes: usize,
    cap: usize,
}

impl ListMeter {
    pub fn new() -> ListMeter {
        ListMeter { bytes: 0, cap: crate::engine::serializer_cap::current_cap() }
    }

    /// Adds `v` if it is a string; false once the list is over the cap.
    pub fn add(&mut self, v: v8::Local<v8::Value>) -> bool {
        if let Ok(s) = v8::Local::<v8::String>::try_from(v) {
            self.bytes = self.bytes.saturating_add(s.length().saturating_mul(2));
        }
        self.bytes <= self.cap
    }

    /// The failure of a list over the cap.
    pub fn too_large() -> Failure {
        Failure::RangeError(super::serde::OUT_OF_MEMORY.into())
    }
}

/// Whether `v` is a string longer than the clone cap (in bytes, as it is
/// stored): a rope of 2^29 characters costs a guest a few KB of heap and
/// would come out as 1 GB.
pub fn over_cap(v: v8::Local<v8::Value>) -> bool {
    let Ok(s) = v8::Local::<v8::String>::try_from(v) else { return false };
    if s.length() <= crate::engine::serializer_cap::cap(0) / 2 {
        // Within the smallest cap of any isolate.
        return false;
    }
    let bytes = if s.is_onebyte() { s.length() } else { s.length().saturating_mul(2) };
    bytes > crate::engine::serializer_cap::current_cap()
}

/// A small dense array of primitives (an argument list, typically), copied
/// without the serializer; None for anything else.
fn small_array<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Option<Transfer> {
    let a = v8::Local::<v8::Array>::try_from(v).ok()?;
    let len = a.length();
    if len > 16 {
        return None;
    }
    // Extra own properties (or holes) must go through the structured clone.
    let names = a.get_own_property_names(scope, Default::default())?;
    if names.length() != len {
        return None;
    }
    let mut out = Vec::with_capacity(len as usize);
    // The elements may all be one long string: past the clone cap, the
    // serializer (which enforces it) takes the array.
    let mut meter = ListMeter::new();
    for i in 0..len {
        let e = a.get_index(scope, i)?;
        if !meter.add(e) {
            return None;
        }
        out.push(primitive(scope, e)?);
    }
    Some(Transfer::List(out))
}

pub fn type_of(v: v8::Local<v8::Value>) -> Typeof {
    if v.is_undefined() {
        Typeof::Undefined
    } else if v.is_null() {
        Typeof::Null
    } else if v.is_number() {
        Typeof::Number
    } else if v.is_string() {
        Typeof::String
    } else if v.is_boolean() {
        Typeof::Boolean
    } else if v.is_function() {
        Typeof::Function
    } else {
        Typeof::Object
    }
}

/// Makes a Reference to `v`, held in the current context.
pub fn reference<'s>(scope: &mut v8::PinScope<'s, '_>, state: &State, v: v8::Local<'s, v8::Value>) -> Transfer {
    let context = scope.get_current_context();
    let entry = Entry::Value { value: v8::Global::new(scope, v), context: v8::Global::new(scope, context) };
    let id = state.insert(entry);
    match state.host.owner() {
        Some(owner) => Transfer::Reference(Arc::new(Remote::new(owner, id)), type_of(v)),
        None => {
            // Nobody outside can hold it: the isolate is being dropped.
            state.host.release(id);
            Transfer::Undefined
        }
    }
}

/// A function crossing as a function that calls back into this isolate.
pub fn function<'s>(scope: &mut v8::PinScope<'s, '_>, state: &State, v: v8::Local<'s, v8::Value>) -> Result<Transfer, Failure> {
    let f = v8::Local::<v8::Function>::try_from(v).map_err(|_| Failure::type_error(NON_TRANSFERABLE))?;
    // A callable proxy passes `is_function` but is no JSFunction: V8 aborts
    // the process reading its name. It crosses nameless, with no trap run.
    let (name, length) = if v.is_proxy() {
        (String::new(), 0)
    } else {
        let name = f.get_name(scope).to_rust_string_lossy(scope);
        let key = v8::String::new(scope, "length").unwrap();
        (name, f.get(scope, key.into()).and_then(|l| l.int32_value(scope)).unwrap_or(0))
    };
    if let Transfer::Reference(remote, _) = reference(scope, state, v) {
        return Ok(Transfer::Function(remote, name, length));
    }
    Ok(Transfer::Undefined)
}

/// Transfers a value out of the isolate under an option code from the JS
/// layer (a mode, plus 4 for `{promise: true}`).
pub fn capture_code<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    v: v8::Local<'s, v8::Value>,
    code: u32,
    fallback: Fallback,
) -> Result<Transfer, Failure> {
    capture_code_with(scope, state, v, code, fallback, true)
}

/// `capture_code` for values a guest sends to Node (arguments and set values
/// of a Reference to a Node value): under `{promise: true}` a value that is
/// not a promise is transferred when it settles, i.e. at once but failing
/// the Node function's promise instead of the call (isolated-vm differs by
/// direction here).
pub fn capture_code_for_node<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    v: v8::Local<'s, v8::Value>,
    code: u32,
    fallback: Fallback,
) -> Result<Transfer, Failure> {
    capture_code_with(scope, state, v, code, fallback, false)
}

fn capture_code_with<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    v: v8::Local<'s, v8::Value>,
    code: u32,
    fallback: Fallback,
    now: bool,
) -> Result<Transfer, Failure> {
    let mode = Mode::from_code(code, fallback);
    if code & 4 != 0 {
        if now && !v.is_promise() {
            // As in isolated-vm, a value that is not a promise is transferred
            // now (failing the call if it cannot be) and arrives in a
            // resolved promise.
            let t = capture(scope, state, v, mode)?;
            let p = super::promise::Pending::new();
            p.settle(Ok(t));
            return Ok(Transfer::Promise(p));
        }
        return Ok(super::promise::capture_promise(scope, state, v, mode));
    }
    capture(scope, state, v, mode)
}

/// Transfers a value out of the isolate according to `mode`.
pub fn capture<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    v: v8::Local<'s, v8::Value>,
    mode: Mode,
) -> Result<Transfer, Failure> {
    if mode == Mode::Reference {
        return Ok(reference(scope, state, v));
    }
    if mode == Mode::External {
        if v.is_object() {
            if let Some(t) = crate::guest::external_copy::captured(scope, state, v) {
                return t;
            }
        }
        let undefined = v8::undefined(scope).into();
        return crate::guest::external_copy::from_value(scope, state, v, undefined).map(Transfer::External);
    }
    if over_cap(v) {
        return Err(ListMeter::too_large());
    }
    if let Some(p) = primitive(scope, v) {
        return Ok(p);
    }
    if v.is_object() {
        if let Some(t) = crate::guest::external_copy::captured(scope, state, v) {
            return t;
        }
    }
    if matches!(mode, Mode::Default(_)) && v.is_object() {
        // The library's own objects (Isolate, Context, Reference...) cross
        // as the handles they hold.
        if let Some(t) = crate::guest::library::unwrap(scope, state, v)? {
            return Ok(t);
        }
    }
    if v.is_function() && matches!(mode, Mode::Default(_)) {
        return function(scope, state, v);
    }
    if matches!(mode, Mode::Copy | Mode::Default(Fallback::Copy)) {
        if let Some(t) = small_array(scope, v) {
            return Ok(t);
        }
        if let Some(t) = crate::guest::external_copy::copy_buffer(scope, state, v) {
            return t;
        }
    }
    match mode {
        Mode::Copy | Mode::Default(Fallback::Copy) if v.is_symbol() => Err(Failure::type_error("Unsupported type")),
        Mode::Copy | Mode::Default(Fallback::Copy) => serde::serialize(scope, state, v).map(Transfer::Serialized),
        Mode::Default(Fallback::Undefined) => Ok(Transfer::Undefined),
        Mode::Default(Fallback::Reference) => Ok(reference(scope, state, v)),
        Mode::Default(Fallback::Reject) | Mode::Reference | Mode::External => Err(Failure::type_error(NON_TRANSFERABLE)),
    }
}
