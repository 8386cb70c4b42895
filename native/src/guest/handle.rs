//! Handles held by guest code: small objects (an id under a private key) that
//! stand for something outside the guest's heap: an isolate, a context, a
//! script or a value of another isolate, a Node value. The library's classes
//! (lib.js) keep one in a private field; native code looks the id up in the
//! isolate's table. The entry goes when the handle object is collected.

use std::rc::Rc;
use std::sync::Arc;

use crate::engine::isolate::IsolateRef;
use crate::engine::runner::State;
use crate::node::host::HostRef;
use crate::transfer::{Failure, Remote, Typeof};

/// What a guest handle stands for.
pub enum Backing {
    /// A Node value: Reference methods run on Node's thread.
    Host(Arc<HostRef>),
    /// A value in an isolate's handle table (this isolate or another).
    Value(Arc<Remote>, Typeof),
    Context(Arc<Remote>),
    Script(Arc<Remote>),
    /// This handle's share of a module.
    Module(Arc<crate::transfer::ModuleRef>),
    Isolate(IsolateRef),
}

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    crate::engine::runner::private_key(scope, "v8-isolates#handle")
}

/// Gives `obj` native state: an id under the private `key`, pointing into
/// the isolate's table of guest objects until `obj` is collected.
pub fn attach<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    obj: v8::Local<'s, v8::Object>,
    key: v8::Local<'s, v8::Private>,
    state: Rc<dyn std::any::Any>,
) {
    let id = st.next_id();
    let idv = v8::BigInt::new_from_u64(scope, id);
    obj.set_private(scope, key, idv.into());
    let weak = v8::Weak::with_finalizer(
        scope,
        obj,
        Box::new(move |iso: &mut v8::Isolate| {
            if let Some(st) = iso.get_slot::<Rc<State>>() {
                st.remove_guest_object(id);
            }
        }),
    );
    st.add_guest_object(id, state, weak);
}

/// The id and native state `attach` gave `v` under `key`.
pub fn lookup<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    key: v8::Local<'s, v8::Private>,
) -> Option<(u64, Rc<dyn std::any::Any>)> {
    let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
    let idv = obj.get_private(scope, key)?;
    let id = v8::Local::<v8::BigInt>::try_from(idv).ok()?.u64_value().0;
    st.guest_object(id).map(|s| (id, s))
}

/// Makes a handle object for `backing`.
pub fn make<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, backing: Backing) -> v8::Local<'s, v8::Object> {
    let obj = v8::Object::new(scope);
    let k = key(scope);
    attach(scope, st, obj, k, Rc::new(backing));
    obj
}

/// What a handle object stands for, and its id.
fn find<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Option<(u64, Rc<Backing>)> {
    let k = key(scope);
    let (id, s) = lookup(scope, st, v, k)?;
    s.downcast::<Backing>().ok().map(|b| (id, b))
}

/// What a handle object stands for; fails with `released` when it was
/// released (or is not a handle).
pub fn backing<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    released: &str,
) -> Result<Rc<Backing>, Failure> {
    find(scope, st, v).map(|(_, b)| b).ok_or_else(|| Failure::error(released))
}

/// Forgets a handle (the guest released it). Whatever it stands for lives on
/// while other holders (Node, other isolates) keep it.
pub fn forget<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) {
    if let Some((id, _)) = find(scope, st, v) {
        st.remove_guest_object(id);
    }
}
