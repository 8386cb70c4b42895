//! Structured clone with V8's ValueSerializer. Used for `{copy: true}` in both
//! directions: our V8 writes format 16 and reads Node's older formats; the JS
//! layer relabels our bytes with Node's version (the formats differ only in
//! how buffer lengths above 4 GiB are written, which never crosses).

use v8::{ValueDeserializerHelper, ValueSerializerHelper};

use super::{Failure, Serialized};

struct SerDelegate;

impl v8::ValueSerializerImpl for SerDelegate {
    fn throw_data_clone_error<'s>(&self, scope: &mut v8::PinScope<'s, '_>, message: v8::Local<'s, v8::String>) {
        let exc = v8::Exception::type_error(scope, message);
        scope.throw_exception(exc);
    }
}

struct DeDelegate;

impl v8::ValueDeserializerImpl for DeDelegate {}

fn caught<'s>(scope: &mut v8::PinScope<'s, '_>, exc: Option<v8::Local<'s, v8::Value>>, fallback: &str) -> Failure {
    match exc {
        Some(e) if e.is_native_error() => {
            let obj = e.to_object(scope).unwrap();
            let key = v8::String::new(scope, "message").unwrap();
            let msg = obj.get(scope, key.into()).map(|m| m.to_rust_string_lossy(scope)).unwrap_or_default();
            if msg.contains("allocation failed") {
                Failure::RangeError(msg)
            } else {
                Failure::TypeError(msg)
            }
        }
        Some(e) => Failure::TypeError(e.to_rust_string_lossy(scope)),
        None => Failure::error(fallback),
    }
}

pub fn serialize<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Result<Serialized, Failure> {
    v8::tc_scope!(let tc, scope);
    let ser = v8::ValueSerializer::new(tc, Box::new(SerDelegate));
    ser.write_header();
    let context = tc.get_current_context();
    match ser.write_value(context, v) {
        Some(true) => Ok(Serialized { bytes: ser.release() }),
        _ => {
            if tc.has_terminated() {
                return Err(Failure::error("Script execution was terminated"));
            }
            let exc = tc.exception();
            Err(caught(tc, exc, "Value could not be cloned"))
        }
    }
}

pub fn deserialize<'s>(scope: &mut v8::PinScope<'s, '_>, s: &Serialized) -> Result<v8::Local<'s, v8::Value>, Failure> {
    deserialize_bytes(scope, &s.bytes)
}

pub fn deserialize_bytes<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: &[u8]) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let context = scope.get_current_context();
    let value = {
        v8::tc_scope!(let tc, scope);
        let de = v8::ValueDeserializer::new(tc, Box::new(DeDelegate), bytes);
        let ok = de.read_header(context) == Some(true);
        let value = if ok { de.read_value(context) } else { None };
        match value {
            Some(v) => Ok(v8::Global::new(tc, v)),
            None => {
                let exc = tc.exception();
                Err(caught(tc, exc, "Unable to deserialize cloned data"))
            }
        }
    }?;
    Ok(v8::Local::new(scope, value))
}
