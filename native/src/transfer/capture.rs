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
        Transfer::String(v.to_rust_string_lossy(scope))
    } else if v.is_big_int() {
        let b = v8::Local::<v8::BigInt>::try_from(v).ok()?;
        let mut words = vec![0u64; b.word_count()];
        let (negative, _) = b.to_words_array(&mut words);
        Transfer::BigInt { negative, words }
    } else {
        return None;
    })
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
    if let Some(p) = primitive(scope, v) {
        return Ok(p);
    }
    match mode {
        Mode::Copy => serde::serialize(scope, v).map(Transfer::Serialized),
        Mode::Default(Fallback::Undefined) => Ok(Transfer::Undefined),
        Mode::Default(Fallback::Reference) => Ok(reference(scope, state, v)),
        Mode::Default(Fallback::Reject) | Mode::Reference => Err(Failure::type_error(NON_TRANSFERABLE)),
    }
}
