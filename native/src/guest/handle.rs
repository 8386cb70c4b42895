//! Handles held by guest code: small objects (an id in internal fields) that
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
    register(scope, st, obj, id, state);
}

/// Records `obj`'s native state under `id` until `obj` is collected.
fn register<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, obj: v8::Local<'s, v8::Object>, id: u64, state: Rc<dyn std::any::Any>) {
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

/// Handle objects carry their id in internal fields (a marker, then the id),
/// which native code reads without a property lookup; guest code cannot
/// reach internal fields, nor make objects that have them.
static MARKER: u8 = 0;
const FIELDS: usize = 2;

fn marker() -> *mut std::ffi::c_void {
    &MARKER as *const u8 as *mut std::ffi::c_void
}

/// The template of handle objects (one per isolate).
fn template<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State) -> v8::Local<'s, v8::ObjectTemplate> {
    const NAME: &str = "v8-isolates#handle";
    let ft = match st.template(NAME) {
        Some(g) => v8::Local::new(scope, g),
        None => {
            let ft = v8::FunctionTemplate::new(scope, |_: &mut v8::PinScope, _: v8::FunctionCallbackArguments, _: v8::ReturnValue| {});
            ft.instance_template(scope).set_internal_field_count(FIELDS);
            st.set_template(NAME, v8::Global::new(scope, ft));
            ft
        }
    };
    ft.instance_template(scope)
}

/// Makes a handle object for `backing`.
pub fn make<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, backing: Backing) -> v8::Local<'s, v8::Object> {
    let t = template(scope, st);
    let obj = t.new_instance(scope).expect("a handle object");
    let id = st.next_id();
    let m = v8::External::new(scope, marker());
    obj.set_internal_field(0, m.into());
    let idv = v8::Number::new(scope, id as f64);
    obj.set_internal_field(1, idv.into());
    register(scope, st, obj, id, Rc::new(backing));
    obj
}

/// What a handle object stands for, and its id.
fn find<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Option<(u64, Rc<Backing>)> {
    let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
    if obj.internal_field_count() != FIELDS {
        return None;
    }
    let m = v8::Local::<v8::Value>::try_from(obj.get_internal_field(scope, 0)?).ok()?;
    if !v8::Local::<v8::External>::try_from(m).is_ok_and(|e| e.value() == marker()) {
        return None;
    }
    let idv = v8::Local::<v8::Value>::try_from(obj.get_internal_field(scope, 1)?).ok()?;
    let id = idv.number_value(scope)? as u64;
    st.guest_object(id)?.downcast::<Backing>().ok().map(|b| (id, b))
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
