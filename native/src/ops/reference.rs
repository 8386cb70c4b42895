//! Operations on a referenced value: get, set, delete, apply, copy. They run
//! in the context the value was referenced in. get and set never run getters,
//! setters or proxy traps.

use super::Key;
use crate::engine::runner::State;
use crate::transfer::capture::capture;
use crate::transfer::error::capture_exception;
use crate::transfer::materialize::materialize;
use crate::transfer::{Failure, Mode, Outcome, Transfer};

pub const RELEASED: &str = "Reference has been released";

fn entry(st: &State, id: u64) -> Result<(v8::Global<v8::Value>, v8::Global<v8::Context>), Failure> {
    st.value(id).ok_or_else(|| Failure::error(RELEASED))
}

fn key_name<'s>(scope: &mut v8::PinScope<'s, '_>, key: &Key) -> v8::Local<'s, v8::Name> {
    // Internalized at once: V8 internalizes a property key on lookup anyway.
    let s = match key {
        Key::Name(s) => v8::String::new_from_utf8(scope, s.as_bytes(), v8::NewStringType::Internalized),
        Key::Index(i) => v8::String::new_from_one_byte(scope, i.to_string().as_bytes(), v8::NewStringType::Internalized),
    };
    s.unwrap().into()
}

fn as_object<'s>(v: v8::Local<'s, v8::Value>) -> Result<v8::Local<'s, v8::Object>, Failure> {
    if !v.is_object() {
        return Err(Failure::type_error("Reference is not an object"));
    }
    v8::Local::<v8::Object>::try_from(v).map_err(|_| Failure::type_error("Reference is not an object"))
}

fn proxy_error() -> Failure {
    Failure::type_error("Object is or has proxy")
}

pub struct GetOptions {
    pub inherit: bool,
    pub accessors: bool,
    pub mode: Mode,
}

pub fn get(iso: &mut v8::Isolate, st: &State, id: u64, key: Key, o: GetOptions) -> Outcome {
    let (value, ctx) = entry(st, id)?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let obj = as_object(v8::Local::new(tc, value))?;
    let name = key_name(tc, &key);
    // A proxy anywhere on the prototype chain could run code: refuse.
    let mut p = obj;
    loop {
        if p.is_proxy() {
            return Err(proxy_error());
        }
        match p.get_prototype(tc).and_then(|v| v8::Local::<v8::Object>::try_from(v).ok()) {
            Some(next) => p = next,
            None => break,
        }
    }
    let mut cur = obj;
    let found = loop {
        if cur.is_proxy() {
            return Err(proxy_error());
        }
        let Some(desc) = cur.get_own_property_descriptor(tc, name) else {
            let exc = tc.exception();
            return Err(capture_exception(tc, exc));
        };
        if let Ok(desc) = v8::Local::<v8::Object>::try_from(desc) {
            let get_k = st.name(tc, "get");
            let set_k = st.name(tc, "set");
            let getter = desc.get(tc, get_k.into()).filter(|g| !g.is_undefined());
            let setter = desc.get(tc, set_k.into()).filter(|s| !s.is_undefined());
            if getter.is_some() || setter.is_some() {
                if !o.accessors {
                    return Err(Failure::type_error("Property is getter"));
                }
                match obj.get(tc, name.into()) {
                    Some(v) => break v,
                    None => {
                        let exc = tc.exception();
                        return Err(capture_exception(tc, exc));
                    }
                }
            }
            let value_k = st.name(tc, "value");
            break desc.get(tc, value_k.into()).unwrap_or_else(|| v8::undefined(tc).into());
        }
        if !o.inherit {
            break v8::undefined(tc).into();
        }
        match cur.get_prototype(tc).and_then(|p| v8::Local::<v8::Object>::try_from(p).ok()) {
            Some(p) => cur = p,
            None => break v8::undefined(tc).into(),
        }
    };
    crate::transfer::promise::result(tc, st, found, o.mode)
}

pub fn set(iso: &mut v8::Isolate, st: &State, id: u64, key: Key, value: Transfer) -> Outcome {
    let (target, ctx) = entry(st, id)?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let obj = as_object(v8::Local::new(tc, target))?;
    if obj.is_proxy() {
        return Err(proxy_error());
    }
    let name = key_name(tc, &key);
    let v = materialize(tc, st, value)?;
    let ok = obj.delete(tc, name.into()) == Some(true) && obj.create_data_property(tc, name, v) == Some(true);
    if tc.has_caught() {
        let exc = tc.exception();
        return Err(capture_exception(tc, exc));
    }
    if !ok {
        return Err(Failure::type_error("Set failed"));
    }
    Ok(Transfer::Undefined)
}

pub fn delete(iso: &mut v8::Isolate, st: &State, id: u64, key: Key) -> Outcome {
    let (target, ctx) = entry(st, id)?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let obj = as_object(v8::Local::new(tc, target))?;
    if obj.is_proxy() {
        return Err(proxy_error());
    }
    let name = key_name(tc, &key);
    match obj.delete(tc, name.into()) {
        Some(true) => Ok(Transfer::Undefined),
        Some(false) => Err(Failure::type_error("Delete failed")),
        None => {
            let exc = tc.exception();
            Err(capture_exception(tc, exc))
        }
    }
}

pub fn apply(
    iso: &mut v8::Isolate,
    st: &State,
    id: u64,
    recv: Transfer,
    args: impl IntoIterator<Item = Transfer, IntoIter: ExactSizeIterator>,
    mode: Mode,
) -> Outcome {
    v8::scope!(let hs, iso);
    let (target, ctx) = st.value_local(hs, id).ok_or_else(|| Failure::error(RELEASED))?;
    let scope = &mut v8::ContextScope::new(hs, ctx);
    v8::tc_scope!(let tc, scope);
    let Ok(f) = v8::Local::<v8::Function>::try_from(target) else {
        return Err(Failure::type_error("Reference is not a function"));
    };
    let recv = materialize(tc, st, recv)?;
    // Up to four arguments on the stack (the common call).
    let mut small: [v8::Local<v8::Value>; 4] = [recv; 4];
    let mut values = Vec::new();
    let args = args.into_iter();
    let n = args.len();
    for (i, a) in args.enumerate() {
        let v = materialize(tc, st, a)?;
        if n <= small.len() {
            small[i] = v;
        } else {
            values.push(v);
        }
    }
    let values = if n <= small.len() { &small[..n] } else { &values[..] };
    match f.call(tc, recv, values) {
        Some(v) => crate::transfer::promise::result(tc, st, v, mode),
        None => {
            let exc = tc.exception();
            Err(capture_exception(tc, exc))
        }
    }
}

pub fn copy(iso: &mut v8::Isolate, st: &State, id: u64) -> Outcome {
    let (target, ctx) = entry(st, id)?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let v = v8::Local::new(tc, target);
    capture(tc, st, v, Mode::Copy)
}
