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
    Isolate(IsolateRef),
}

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    let name = v8::String::new(scope, "v8-isolates#handle").unwrap();
    v8::Private::for_api(scope, Some(name))
}

/// Makes a handle object for `backing`.
pub fn make<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, backing: Backing) -> v8::Local<'s, v8::Object> {
    let id = st.next_id();
    let obj = v8::Object::new(scope);
    let k = key(scope);
    let idv = v8::BigInt::new_from_u64(scope, id);
    obj.set_private(scope, k, idv.into());
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
    obj
}

/// The id of a handle object.
pub fn id_of<'s>(scope: &mut v8::PinScope<'s, '_>, v: v8::Local<'s, v8::Value>) -> Option<u64> {
    let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
    let k = key(scope);
    let idv = obj.get_private(scope, k)?;
    v8::Local::<v8::BigInt>::try_from(idv).ok().map(|b| b.u64_value().0)
}

/// What a handle object stands for; fails with `released` when it was
/// released (or is not a handle).
pub fn backing<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    released: &str,
) -> Result<Rc<Backing>, Failure> {
    id_of(scope, v).and_then(|id| st.host_ref(id)).ok_or_else(|| Failure::error(released))
}

/// Forgets a handle (the guest released it). Whatever it stands for lives on
/// while other holders (Node, other isolates) keep it.
pub fn forget<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) {
    if let Some(id) = id_of(scope, v) {
        st.remove_host_ref(id);
    }
}
