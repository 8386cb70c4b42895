//! A Reference to a Node value, as a guest sees it: an object with
//! isolated-vm's Reference methods, each of which runs the method on the
//! Node side (sync, async or ignored) and transfers the result back.

use std::rc::Rc;
use std::sync::Arc;

use super::callback::{call_node, call_node_abortable, call_node_async, settle_value};
use super::throw::throw_failure;
use crate::engine::runner::State;
use crate::node::host::{HostRef, MainReq, Reply, Target};
use crate::transfer::capture::capture;
use crate::transfer::{Failure, Mode};

#[derive(Clone, Copy)]
enum Variant {
    Sync,
    Async,
    Ignored,
    /// `applySyncPromise`: block until the promise the function returns settles.
    SyncPromise,
}

/// (method, Node-side method it runs, how the guest gets the result)
const METHODS: &[(&str, &str, Variant)] = &[
    ("applySync", "applySync", Variant::Sync),
    ("apply", "applySync", Variant::Async),
    ("applyIgnored", "applySync", Variant::Ignored),
    ("applySyncPromise", "applySyncPromise", Variant::SyncPromise),
    ("getSync", "getSync", Variant::Sync),
    ("get", "getSync", Variant::Async),
    ("setSync", "setSync", Variant::Sync),
    ("set", "setSync", Variant::Async),
    ("setIgnored", "setSync", Variant::Ignored),
    ("deleteSync", "deleteSync", Variant::Sync),
    ("delete", "deleteSync", Variant::Async),
    ("deleteIgnored", "deleteSync", Variant::Ignored),
    ("copySync", "copySync", Variant::Sync),
    ("copy", "copySync", Variant::Async),
];

const RELEASE: u32 = 100;
const DEREF: u32 = 101;
const DEREF_INTO: u32 = 102;

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    let name = v8::String::new(scope, "v8-isolates#reference").unwrap();
    v8::Private::for_api(scope, Some(name))
}

/// What a guest Reference object stands for.
pub enum Backing {
    /// A Node value: methods run on Node's thread.
    Host(Arc<HostRef>),
    /// A value of this isolate (a Reference sent back into its own isolate):
    /// methods run right here.
    Local(v8::Global<v8::Value>),
}

/// Makes the guest object for a Reference to a Node value.
pub fn make<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, r: Arc<HostRef>) -> Result<v8::Local<'s, v8::Object>, Failure> {
    let t = r.type_of.clone();
    make_with(scope, st, Backing::Host(r), &t)
}

/// Makes the guest object for a Reference to a value of this isolate.
pub fn make_local<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    value: v8::Global<v8::Value>,
    type_of: &str,
) -> Result<v8::Local<'s, v8::Object>, Failure> {
    make_with(scope, st, Backing::Local(value), type_of)
}

fn make_with<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    backing: Backing,
    type_of: &str,
) -> Result<v8::Local<'s, v8::Object>, Failure> {
    let id = st.next_id();
    let obj = v8::Object::new(scope);
    let k = key(scope);
    let idv = v8::BigInt::new_from_u64(scope, id);
    obj.set_private(scope, k, idv.into());
    let t = v8::String::new(scope, "typeof").unwrap();
    let tv = v8::String::new(scope, type_of).unwrap();
    obj.define_own_property(scope, t.into(), tv.into(), v8::PropertyAttribute::READ_ONLY);
    let mut methods: Vec<(&str, u32)> = METHODS.iter().enumerate().map(|(i, m)| (m.0, i as u32)).collect();
    methods.extend([("release", RELEASE), ("deref", DEREF), ("derefInto", DEREF_INTO)]);
    for (name, code) in methods {
        let data = v8::Integer::new_from_unsigned(scope, code);
        let f = v8::Function::builder(method)
            .data(data.into())
            .constructor_behavior(v8::ConstructorBehavior::Throw)
            .build(scope)
            .ok_or_else(|| Failure::error("Could not create a Reference"))?;
        let n = v8::String::new(scope, name).unwrap();
        f.set_name(n);
        obj.define_own_property(scope, n.into(), f.into(), v8::PropertyAttribute::READ_ONLY | v8::PropertyAttribute::DONT_ENUM);
    }
    let weak = v8::Weak::with_finalizer(
        scope,
        obj,
        Box::new(move |iso: &mut v8::Isolate| {
            if let Some(st) = iso.get_slot::<Rc<State>>() {
                st.remove_host_ref(id);
            }
        }),
    );
    st.add_host_ref(id, backing, weak);
    Ok(obj)
}

fn method<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, mut rv: v8::ReturnValue<'s, v8::Value>) {
    super::guarded(scope, "a Reference method", |scope| run(scope, &args, &mut rv));
}

fn run<'s>(scope: &mut v8::PinScope<'s, '_>, args: &v8::FunctionCallbackArguments<'s>, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    let Some(st) = scope.get_slot::<Rc<State>>().cloned() else { return };
    let code = args.data().uint32_value(scope).unwrap_or(u32::MAX);
    let k = key(scope);
    let id = args.this().get_private(scope, k).and_then(|v| v8::Local::<v8::BigInt>::try_from(v).ok()).map(|b| b.u64_value().0);
    let Some(r) = id.and_then(|id| st.host_ref(id)) else {
        return throw_failure(scope, &st, Failure::error("Reference has been released"));
    };
    match code {
        RELEASE => {
            if let Some(id) = id {
                st.remove_host_ref(id);
            }
            return rv.set_undefined();
        }
        DEREF | DEREF_INTO => {
            let msg = if code == DEREF {
                "Cannot dereference this from current isolate"
            } else {
                "Cannot dereference this into target isolate"
            };
            return throw_failure(scope, &st, Failure::type_error(msg));
        }
        _ => {}
    }
    let Some(&(_, op, variant)) = METHODS.get(code as usize) else { return };
    if let Variant::SyncPromise = variant {
        if let Err(f) = check_sync_promise(scope, &st, args) {
            return throw_failure(scope, &st, f);
        }
        if let Backing::Local(_) = &*r {
            return throw_failure(scope, &st, Failure::type_error(NOT_NODE_FUNCTION));
        }
    }
    let r = match &*r {
        Backing::Host(r) => r.clone(),
        Backing::Local(v) => return local(scope, &st, v, op, variant, args, rv),
    };
    let mut list = Vec::with_capacity(args.length() as usize);
    for i in 0..args.length() {
        match capture(scope, &st, args.get(i), Mode::Copy) {
            Ok(t) => list.push(t),
            Err(f) => return throw_failure(scope, &st, f),
        }
    }
    let env = r.env.clone();
    let target = Target::Ref(r, op);
    match variant {
        Variant::Sync => {
            let out = call_node(scope, &st, &env, target, list);
            settle_value(scope, &st, out, rv);
        }
        Variant::Async => {
            if let Some(p) = call_node_async(scope, &st, &env, target, list) {
                rv.set(p.into());
            }
        }
        Variant::Ignored => {
            env.request(MainReq { target, args: list, reply: Reply::Ignored });
            rv.set_undefined();
        }
        Variant::SyncPromise => {
            let out = call_node_abortable(scope, &st, &env, target, list);
            settle_value(scope, &st, out, rv);
        }
    }
}

const NOT_NODE_FUNCTION: &str = "`applySyncPromise` is only available on a Reference to a function of Node's heap";

/// The checks `applySyncPromise` makes before calling: no `result` option,
/// and a caller that is not blocked waiting for this guest.
fn check_sync_promise<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    args: &v8::FunctionCallbackArguments<'s>,
) -> Result<(), Failure> {
    if let Ok(options) = v8::Local::<v8::Object>::try_from(args.get(2)) {
        let k = v8::String::new(scope, "result").unwrap();
        if options.get(scope, k.into()).is_some_and(|v| !v.is_undefined()) {
            return Err(Failure::type_error("`result` options are not available for `applySyncPromise`"));
        }
    }
    super::rules::check_sync_promise(st)
}

/// A method of a Reference to a value of this isolate, run in place.
fn local<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    target: &v8::Global<v8::Value>,
    op: &str,
    variant: Variant,
    args: &v8::FunctionCallbackArguments<'s>,
    rv: &mut v8::ReturnValue<'s, v8::Value>,
) {
    let target = v8::Local::new(scope, target);
    let out: Option<v8::Local<v8::Value>> = {
        v8::tc_scope!(let tc, scope);
        let r = match op {
            "applySync" => match v8::Local::<v8::Function>::try_from(target) {
                Ok(f) => {
                    let recv = args.get(0);
                    let list = args.get(1);
                    let mut values = Vec::new();
                    if let Ok(a) = v8::Local::<v8::Array>::try_from(list) {
                        for i in 0..a.length() {
                            values.push(a.get_index(tc, i).unwrap_or_else(|| v8::undefined(tc).into()));
                        }
                    }
                    f.call(tc, recv, &values)
                }
                Err(_) => {
                    let m = v8::String::new(tc, "Reference is not a function").unwrap();
                    let e = v8::Exception::type_error(tc, m);
                    tc.throw_exception(e);
                    None
                }
            },
            "getSync" | "setSync" | "deleteSync" => match v8::Local::<v8::Object>::try_from(target) {
                Ok(o) => {
                    let k = args.get(0);
                    match op {
                        "getSync" => o.get(tc, k),
                        "setSync" => o.set(tc, k, args.get(1)).map(|b| v8::Boolean::new(tc, b).into()),
                        _ => o.delete(tc, k).map(|b| v8::Boolean::new(tc, b).into()),
                    }
                }
                Err(_) => {
                    let m = v8::String::new(tc, "Reference is not an object").unwrap();
                    let e = v8::Exception::type_error(tc, m);
                    tc.throw_exception(e);
                    None
                }
            },
            _ => match crate::transfer::serde::serialize(tc, target) {
                Ok(s) => crate::transfer::serde::deserialize(tc, &s).ok(),
                Err(_) => None,
            },
        };
        if r.is_none() && tc.has_caught() && !tc.has_terminated() {
            let e = tc.exception().unwrap();
            match variant {
                Variant::Async => {
                    let resolver = v8::PromiseResolver::new(tc).unwrap();
                    resolver.reject(tc, e);
                    rv.set(resolver.get_promise(tc).into());
                    return;
                }
                _ => {
                    tc.rethrow();
                    return;
                }
            }
        }
        r
    };
    let _ = st;
    let v = out.unwrap_or_else(|| v8::undefined(scope).into());
    match variant {
        Variant::Sync | Variant::SyncPromise => rv.set(v),
        Variant::Async => {
            let resolver = v8::PromiseResolver::new(scope).unwrap();
            resolver.resolve(scope, v);
            rv.set(resolver.get_promise(scope).into());
        }
        Variant::Ignored => rv.set_undefined(),
    }
}
