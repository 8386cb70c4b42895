//! Values entering an isolate: a `Transfer` becomes a local value.

use super::{serde, Failure, Transfer};
use crate::engine::runner::State;

pub fn materialize<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    t: Transfer,
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    Ok(match t {
        Transfer::Undefined => v8::undefined(scope).into(),
        Transfer::Null => v8::null(scope).into(),
        Transfer::Bool(b) => v8::Boolean::new(scope, b).into(),
        Transfer::Number(n) => v8::Number::new(scope, n).into(),
        Transfer::BigInt { negative, words } => v8::BigInt::new_from_words(scope, negative, &words)
            .ok_or_else(|| Failure::RangeError("Maximum BigInt size exceeded".into()))?
            .into(),
        Transfer::String(s) => v8::String::new(scope, &s)
            .ok_or_else(|| Failure::RangeError("Invalid string length".into()))?
            .into(),
        Transfer::String16(s) => v8::String::new_from_two_byte(scope, &s, v8::NewStringType::Normal)
            .ok_or_else(|| Failure::RangeError("Invalid string length".into()))?
            .into(),
        Transfer::Serialized(s) => serde::deserialize(scope, state, s)?,
        Transfer::Deref(remote) => {
            if remote.host().id != state.host.id {
                return Err(Failure::type_error("Cannot dereference this into target isolate"));
            }
            let (value, _) = state.value(remote.id).ok_or_else(|| Failure::error("Reference has been released"))?;
            v8::Local::new(scope, value)
        }
        Transfer::Function(remote, ..) if remote.host().id == state.host.id => {
            // A function coming home is itself.
            let (value, _) = state.value(remote.id).ok_or_else(|| Failure::error("Reference has been released"))?;
            v8::Local::new(scope, value)
        }
        Transfer::Promise(p) => p.materialize(scope, state)?,
        Transfer::External(d) => crate::guest::external_copy::make(scope, state, d)?,
        Transfer::CopyInto(d, transfer_in) => crate::guest::external_copy::materialize(scope, state, &d, transfer_in)?,
        t @ (Transfer::Reference(..)
        | Transfer::Function(..)
        | Transfer::HostRef(_)
        | Transfer::Context(..)
        | Transfer::Script(_)
        | Transfer::Module(_)
        | Transfer::Isolate(_)
        | Transfer::Library) => crate::guest::library::wrap(scope, state, t)?,
        Transfer::Callback(hf) => crate::guest::callback::make_function(scope, state, hf)?.into(),
        Transfer::List(items) => {
            let mut values = Vec::with_capacity(items.len());
            for t in items {
                values.push(materialize(scope, state, t)?);
            }
            v8::Array::new_with_elements(scope, &values).into()
        }
        Transfer::Record(fields) => {
            let obj = v8::Object::new(scope);
            for (k, v) in fields {
                let v = materialize(scope, state, v)?;
                let k = v8::String::new(scope, k).unwrap();
                obj.set(scope, k.into(), v);
            }
            obj.into()
        }
        Transfer::ErrorCause(parts) => {
            let (error, cause) = *parts;
            let error = materialize(scope, state, error)?;
            let cause = materialize(scope, state, cause)?;
            if let Ok(obj) = v8::Local::<v8::Object>::try_from(error) {
                let key = v8::String::new(scope, "cause").unwrap();
                obj.define_own_property(scope, key.into(), cause, v8::PropertyAttribute::DONT_ENUM);
            }
            error
        }
        Transfer::Handles(..) => {
            return Err(Failure::type_error(super::capture::NON_TRANSFERABLE));
        }
    })
}
