//! The library object inside a guest context: lib.js, evaluated once per
//! context on first use with the native bridge, and kept on the context's
//! global under a private key. Handles arriving in the context become class
//! instances through it (`wrap`); instances leaving become handles again
//! (`unwrap`).

use super::handle::{self, Backing};
use crate::engine::runner::State;
use crate::transfer::error::capture_exception;
use crate::transfer::{Failure, Transfer, Typeof};

const SOURCE: &str = include_str!("lib.js");
/// The script name of the library's frames (left out of stitched stacks).
pub const FILENAME: &str = "v8-isolates:guest-library";

/// Handle kinds shared with lib.js.
pub const K_REFERENCE: u32 = 0;
pub const K_CONTEXT: u32 = 1;
pub const K_SCRIPT: u32 = 2;
pub const K_ISOLATE: u32 = 3;
pub const K_FUNCTION: u32 = 4;
const K_DEREF: u32 = 5;
const K_CALLBACK: u32 = 6;
pub const K_LIBRARY: u32 = 7;
const K_MODULE: u32 = 8;

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    crate::engine::runner::private_key(scope, "v8-isolates#library")
}

/// The library's internal object in the current context, if installed.
fn existing<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Object>> {
    let global = scope.get_current_context().global(scope);
    let k = key(scope);
    let v = global.get_private(scope, k)?;
    v8::Local::<v8::Object>::try_from(v).ok()
}

/// The library's internal object in the current context (installed now if
/// needed).
fn internal<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State) -> Result<v8::Local<'s, v8::Object>, Failure> {
    if let Some(o) = existing(scope) {
        return Ok(o);
    }
    let obj = {
        v8::tc_scope!(let tc, scope);
        let src = v8::String::new(tc, SOURCE).unwrap();
        let name = v8::String::new(tc, FILENAME).unwrap();
        let origin = v8::ScriptOrigin::new(tc, name.into(), 0, 0, false, 0, None, false, false, false, None);
        let made = v8::Script::compile(tc, src, Some(&origin))
            .and_then(|s| s.run(tc))
            .and_then(|f| v8::Local::<v8::Function>::try_from(f).ok())
            .and_then(|f| {
                let natives = super::natives::object(tc, st)?;
                let recv = v8::undefined(tc).into();
                f.call(tc, recv, &[natives.into()])
            })
            .and_then(|o| v8::Local::<v8::Object>::try_from(o).ok());
        match made {
            Some(o) => v8::Global::new(tc, o),
            None => {
                let exc = tc.exception();
                return Err(match capture_exception(tc, exc) {
                    Failure::Thrown(i) => Failure::error(format!("Could not set up the library: {}", i.message)),
                    f => f,
                });
            }
        }
    };
    let obj = v8::Local::new(scope, obj);
    let global = scope.get_current_context().global(scope);
    let k = key(scope);
    global.set_private(scope, k, obj.into());
    Ok(obj)
}

fn hook<'s>(scope: &mut v8::PinScope<'s, '_>, lib: v8::Local<'s, v8::Object>, name: &str) -> Option<v8::Local<'s, v8::Function>> {
    let k = v8::String::new(scope, name)?;
    let f = lib.get(scope, k.into())?;
    v8::Local::<v8::Function>::try_from(f).ok()
}

/// Calls a hook of the library; a throw becomes a failure.
fn call_hook<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    name: &str,
    args: &[v8::Local<'s, v8::Value>],
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let lib = internal(scope, st)?;
    let f = hook(scope, lib, name).ok_or_else(|| Failure::error("The library is damaged"))?;
    let out = {
        v8::tc_scope!(let tc, scope);
        let recv = v8::undefined(tc).into();
        match f.call(tc, recv, args) {
            Some(v) => Ok(v8::Global::new(tc, v)),
            None => {
                let exc = tc.exception();
                Err(capture_exception(tc, exc))
            }
        }
    }?;
    Ok(v8::Local::new(scope, out))
}

/// Makes the library's object for a handle arriving in this context.
pub fn wrap<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, t: Transfer) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let (kind, args): (u32, Vec<v8::Local<v8::Value>>) = match t {
        Transfer::Reference(r, type_of) => {
            let h = handle::make(scope, st, Backing::Value(r, type_of));
            let t = v8::String::new(scope, type_of.as_str()).unwrap();
            (K_REFERENCE, vec![h.into(), t.into(), v8::Boolean::new(scope, false).into()])
        }
        Transfer::HostRef(r) => {
            let t = v8::String::new(scope, &r.type_of).unwrap();
            let h = handle::make(scope, st, Backing::Host(r));
            (K_REFERENCE, vec![h.into(), t.into(), v8::Boolean::new(scope, true).into()])
        }
        Transfer::Function(r, name, length) => {
            let h = handle::make(scope, st, Backing::Value(r, Typeof::Function));
            let n = v8::String::new(scope, &name).unwrap_or_else(|| v8::String::empty(scope));
            let l = v8::Integer::new(scope, length);
            (K_FUNCTION, vec![h.into(), n.into(), l.into()])
        }
        Transfer::Context(c, g) => {
            let hc = handle::make(scope, st, Backing::Context(c));
            let hg = handle::make(scope, st, Backing::Value(g, Typeof::Object));
            (K_CONTEXT, vec![hc.into(), hg.into()])
        }
        Transfer::Script(s) => (K_SCRIPT, vec![handle::make(scope, st, Backing::Script(s)).into()]),
        Transfer::Isolate(o) => (K_ISOLATE, vec![handle::make(scope, st, Backing::Isolate(o)).into()]),
        Transfer::Module(m) => {
            let specifiers: Vec<v8::Local<v8::Value>> =
                m.specifiers.iter().map(|s| v8::String::new(scope, s).unwrap_or_else(|| v8::String::empty(scope)).into()).collect();
            let specifiers = v8::Array::new_with_elements(scope, &specifiers);
            (K_MODULE, vec![handle::make(scope, st, Backing::Module(m)).into(), specifiers.into()])
        }
        _ => (K_LIBRARY, vec![]),
    };
    let mut all = vec![v8::Integer::new_from_unsigned(scope, kind).into()];
    all.extend(args);
    call_hook(scope, st, "wrap", &all)
}

/// The handle behind an instance of the library's classes (or the library
/// itself), leaving this context; None for any other value.
pub fn unwrap<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Result<Option<Transfer>, Failure> {
    if existing(scope).is_none() {
        return Ok(None);
    }
    let r = call_hook(scope, st, "unwrap", &[v])?;
    let Ok(a) = v8::Local::<v8::Array>::try_from(r) else { return Ok(None) };
    let kind = a.get_index(scope, 0).and_then(|k| k.uint32_value(scope)).unwrap_or(u32::MAX);
    let first = a.get_index(scope, 1).unwrap_or_else(|| v8::undefined(scope).into());
    if kind == K_LIBRARY {
        return Ok(Some(Transfer::Library));
    }
    if kind == K_CALLBACK {
        return crate::transfer::capture::function(scope, st, first).map(Some);
    }
    let released = match kind {
        K_CONTEXT => crate::ops::code::CONTEXT_RELEASED,
        K_SCRIPT => crate::ops::code::SCRIPT_RELEASED,
        K_MODULE => crate::ops::module::MODULE_RELEASED,
        K_ISOLATE => "Isolate is disposed",
        _ => crate::ops::reference::RELEASED,
    };
    let b = handle::backing(scope, st, first, released)?;
    Ok(Some(match (&*b, kind) {
        (Backing::Value(r, t), K_REFERENCE) => Transfer::Reference(r.clone(), *t),
        (Backing::Value(r, _), K_DEREF) => Transfer::Deref(r.clone()),
        (Backing::Host(_), K_DEREF) => return Err(Failure::type_error("Cannot dereference this into target isolate")),
        (Backing::Host(r), _) => Transfer::HostRef(r.clone()),
        (Backing::Context(c), K_CONTEXT) => {
            let g = a.get_index(scope, 2).unwrap_or_else(|| v8::undefined(scope).into());
            match &*handle::backing(scope, st, g, crate::ops::code::CONTEXT_RELEASED)? {
                Backing::Value(g, _) => Transfer::Context(c.clone(), g.clone()),
                _ => return Err(Failure::error(crate::ops::code::CONTEXT_RELEASED)),
            }
        }
        (Backing::Script(s), K_SCRIPT) => Transfer::Script(s.clone()),
        (Backing::Module(m), K_MODULE) => Transfer::Module(m.clone()),
        (Backing::Isolate(o), K_ISOLATE) => Transfer::Isolate(o.clone()),
        _ => return Err(Failure::type_error(crate::transfer::capture::NON_TRANSFERABLE)),
    }))
}
