//! ExternalCopy as a guest sees it: `copy()`, `copyInto()`, `release()` and
//! `ExternalCopy.totalExternalSize`, plus `new ExternalCopy(value, options)`
//! once `install` has put the constructor somewhere guests can reach.
//!
//! Instances made here and ones sent in from Node (or other isolates) share
//! one class per isolate. Data materialised in the guest counts against its
//! ArrayBuffer budget: a copy too large fails with a RangeError.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::throw::throw_failure;
use crate::engine::memory::Budget;
use crate::engine::runner::State;
use crate::transfer::external::{self, ExternalData, Store, Stored, Taken, View, ViewKind};
use crate::transfer::{capture, serde, Failure, Transfer};

const CLASS: &str = "ExternalCopy";
const INTO_CLASS: &str = "ExternalCopyInto";
const RELEASED: &str = "Copy has been released";
const USED_ONCE: &str = "The return value of `copyInto()` should only be used once";


/// The longest `transferList` read (see where it is read).
const TRANSFER_LIST_MAX: u32 = 1 << 20;
/// An ExternalCopy object's native side. One a guest made itself holds new
/// memory outside its heap, so that memory counts against the guest's
/// ArrayBuffer budget while the guest holds it (`charge`).
struct Copy {
    data: RefCell<Option<Arc<ExternalData>>>,
    charge: RefCell<Option<(Arc<Budget>, usize)>>,
}

impl Copy {
    fn new(data: Arc<ExternalData>) -> Copy {
        Copy { data: RefCell::new(Some(data)), charge: RefCell::new(None) }
    }

    /// Drops this handle's data; false if it had none (released already).
    fn clear(&self) -> bool {
        if let Some((b, n)) = self.charge.borrow_mut().take() {
            b.unreserve(n);
        }
        self.data.borrow_mut().take().is_some()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Counts `n` bytes a guest's new ExternalCopy holds against its budget,
/// collecting garbage once if they do not fit (dropped copies give theirs back).
fn charge_new(scope: &mut v8::PinScope, st: &State, n: usize) -> Result<Option<(Arc<Budget>, usize)>, Failure> {
    let budget = &st.host.budget;
    if budget.reserve(n) {
        return Ok(Some((budget.clone(), n)));
    }
    scope.low_memory_notification();
    if budget.reserve(n) {
        return Ok(Some((budget.clone(), n)));
    }
    Err(Failure::RangeError(format!("An ExternalCopy of {n} bytes does not fit in this isolate's memory limit")))
}

/// A `copyInto()` result's native side.
struct CopyInto {
    data: RefCell<Option<Arc<ExternalData>>>,
    transfer_in: bool,
}

thread_local! {
    /// Data for the instance being made by `make` (the constructor takes it).
    static PENDING: RefCell<Option<Rc<dyn std::any::Any>>> = const { RefCell::new(None) };
}

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    crate::engine::runner::private_key(scope, "v8-isolates#externalCopy")
}

fn string<'s>(scope: &mut v8::PinScope<'s, '_>, s: &str) -> v8::Local<'s, v8::String> {
    v8::String::new(scope, s).unwrap()
}

/// Puts the `ExternalCopy` constructor on `target` (the guest library object).
pub fn install<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, target: v8::Local<'s, v8::Object>) -> Result<(), Failure> {
    let f = class(scope, st, CLASS).get_function(scope).ok_or_else(|| Failure::error("Could not create ExternalCopy"))?;
    let k = string(scope, CLASS);
    target.define_own_property(scope, k.into(), f.into(), v8::PropertyAttribute::READ_ONLY | v8::PropertyAttribute::DONT_DELETE);
    Ok(())
}

fn class<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, name: &'static str) -> v8::Local<'s, v8::FunctionTemplate> {
    if let Some(t) = st.template(name) {
        return v8::Local::new(scope, t);
    }
    let t = v8::FunctionTemplate::builder(construct).data(string(scope, name).into()).build(scope);
    let n = string(scope, name);
    t.set_class_name(n);
    if name == CLASS {
        let proto = t.prototype_template(scope);
        for (i, m) in ["copy", "copyInto", "release"].iter().enumerate() {
            let data = v8::Integer::new_from_unsigned(scope, i as u32);
            let f = v8::FunctionTemplate::builder(method)
                .data(data.into())
                .constructor_behavior(v8::ConstructorBehavior::Throw)
                .build(scope);
            let k = string(scope, m);
            proto.set_with_attr(k.into(), f.into(), v8::PropertyAttribute::DONT_ENUM);
        }
        let getter = v8::FunctionTemplate::new(scope, total_size);
        let k = string(scope, "totalExternalSize");
        t.set_accessor_property(k.into(), Some(getter), None, v8::PropertyAttribute::DONT_ENUM);
    }
    t.read_only_prototype();
    st.set_template(name, v8::Global::new(scope, t));
    t
}

pub(crate) fn construct<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, _rv: v8::ReturnValue<'s, v8::Value>) {
    super::guarded(scope, "ExternalCopy", |scope| {
        let Some(st) = scope.get_slot::<Rc<State>>().cloned() else { return };
        let pending = PENDING.with(|p| p.borrow_mut().take());
        let state: Rc<dyn std::any::Any> = match pending {
            Some(p) => p,
            None => {
                let class = args.data().to_rust_string_lossy(scope);
                if class != CLASS {
                    return throw_failure(scope, &st, Failure::type_error(format!("`{class}` cannot be constructed")));
                }
                if !args.is_construct_call() {
                    return throw_failure(scope, &st, Failure::type_error("`ExternalCopy` must be called with `new`"));
                }
                if args.length() < 1 {
                    return throw_failure(scope, &st, Failure::type_error("`ExternalCopy` requires at least 1 parameter"));
                }
                let made = build(scope, &st, args.get(0), args.get(1)).and_then(|(d, fresh)| {
                    let c = Copy::new(d.clone());
                    if fresh {
                        *c.charge.borrow_mut() = charge_new(scope, &st, d.charged_size())?;
                    }
                    Ok(c)
                });
                match made {
                    Ok(c) => Rc::new(c),
                    Err(f) => return throw_failure(scope, &st, f),
                }
            }
        };
        attach(scope, &st, args.this(), state);
        // Instances are frozen, as in isolated-vm (and as in Node).
        let _ = args.this().set_integrity_level(scope, v8::IntegrityLevel::Frozen);
    });
}

fn attach<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, obj: v8::Local<'s, v8::Object>, state: Rc<dyn std::any::Any>) {
    let k = key(scope);
    crate::transfer::serde::brand(scope, obj);
    super::handle::attach(scope, st, obj, k, state);
}

fn lookup<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Option<Rc<dyn std::any::Any>> {
    let k = key(scope);
    super::handle::lookup(scope, st, v, k).map(|(_, s)| s)
}

/// What a compile's `cachedData` option holds: the ArrayBuffer data of a
/// guest ExternalCopy, or None when the option is absent.
pub fn cache_store<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Result<Option<external::Store>, Failure> {
    const TYPE: &str = "`cachedData` must be an ExternalCopy to ArrayBuffer";
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    let state = lookup(scope, st, v).ok_or_else(|| Failure::type_error(TYPE))?;
    let c = state.downcast_ref::<Copy>().ok_or_else(|| Failure::type_error(TYPE))?;
    let data = c.data.borrow().clone().ok_or_else(|| Failure::error(RELEASED))?;
    data.array_buffer().map(Some).ok_or_else(|| Failure::type_error(TYPE))
}

/// The guest object for an ExternalCopy sent into this isolate.
pub fn make<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, data: Arc<ExternalData>) -> Result<v8::Local<'s, v8::Value>, Failure> {
    instance(scope, st, CLASS, Rc::new(Copy::new(data)))
}

fn instance<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    class_name: &'static str,
    state: Rc<dyn std::any::Any>,
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let f = class(scope, st, class_name).get_function(scope).ok_or_else(|| Failure::error("Could not create an ExternalCopy"))?;
    PENDING.with(|p| *p.borrow_mut() = Some(state));
    let obj = f.new_instance(scope, &[]);
    PENDING.with(|p| p.borrow_mut().take());
    Ok(obj.ok_or_else(|| Failure::error("Could not create an ExternalCopy"))?.into())
}

/// ExternalCopy objects and `copyInto()` results leaving this isolate (for
/// `capture`); None for any other value.
pub fn captured<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Option<Result<Transfer, Failure>> {
    let state = lookup(scope, st, v)?;
    if let Some(c) = state.downcast_ref::<Copy>() {
        return Some(c.data.borrow().clone().map(Transfer::External).ok_or_else(|| Failure::error(RELEASED)));
    }
    let into = state.downcast_ref::<CopyInto>()?;
    let data = into.data.borrow_mut().take();
    Some(data.map(|d| Transfer::CopyInto(d, into.transfer_in)).ok_or_else(|| Failure::error(USED_ONCE)))
}

pub(crate) fn total_size<'s>(scope: &mut v8::PinScope<'s, '_>, _args: v8::FunctionCallbackArguments<'s>, mut rv: v8::ReturnValue<'s, v8::Value>) {
    let n = v8::Number::new(scope, external::total_size() as f64);
    rv.set(n.into());
}

pub(crate) fn method<'s>(scope: &mut v8::PinScope<'s, '_>, args: v8::FunctionCallbackArguments<'s>, mut rv: v8::ReturnValue<'s, v8::Value>) {
    super::guarded(scope, "an ExternalCopy method", |scope| {
        let code = args.data().uint32_value(scope).unwrap_or(u32::MAX);
        match code {
            0 => copy_method(scope, &args, &mut rv),
            1 => copy_into_method(scope, &args, &mut rv),
            2 => release_method(scope, &args, &mut rv),
            _ => {}
        }
    });
}

/// The instance's data, or throws (released, or not an ExternalCopy).
fn this_copy<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, args: &v8::FunctionCallbackArguments<'s>) -> Option<Rc<dyn std::any::Any>> {
    let state = lookup(scope, st, args.this().into());
    match state {
        Some(s) if s.downcast_ref::<Copy>().is_some() => Some(s),
        _ => {
            throw_failure(scope, st, Failure::type_error("Illegal invocation"));
            None
        }
    }
}

/// An options argument: absent (undefined or null), or an object.
fn options_of<'s>(options: v8::Local<'s, v8::Value>, method: &str, n: u32) -> Result<Option<v8::Local<'s, v8::Object>>, Failure> {
    if options.is_null_or_undefined() {
        return Ok(None);
    }
    match v8::Local::<v8::Object>::try_from(options) {
        Ok(o) if !options.is_function() => Ok(Some(o)),
        _ => Err(Failure::type_error(format!("`{method}` requires parameter {n} to be an object"))),
    }
}

/// A boolean option: absent is false, anything but a boolean a TypeError.
fn flag<'s>(scope: &mut v8::PinScope<'s, '_>, o: Option<v8::Local<'s, v8::Object>>, name: &str) -> Result<bool, Failure> {
    let Some(o) = o else { return Ok(false) };
    let k = string(scope, name);
    match o.get(scope, k.into()) {
        None => Ok(false),
        Some(v) if v.is_null_or_undefined() => Ok(false),
        Some(v) if v.is_boolean() => Ok(v.is_true()),
        Some(_) => Err(Failure::type_error(format!("`{name}` must be a boolean"))),
    }
}

fn copy_method<'s>(scope: &mut v8::PinScope<'s, '_>, args: &v8::FunctionCallbackArguments<'s>, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    hand_out(scope, args, rv, "copy", |scope, st, data, transfer_in| materialize(scope, st, &data, transfer_in));
}

fn copy_into_method<'s>(scope: &mut v8::PinScope<'s, '_>, args: &v8::FunctionCallbackArguments<'s>, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    hand_out(scope, args, rv, "copyInto", |scope, st, data, transfer_in| {
        instance(scope, st, INTO_CLASS, Rc::new(CopyInto { data: RefCell::new(Some(data)), transfer_in }))
    });
}

/// `copy` and `copyInto`: reads `{release, transferIn}`, makes the result
/// from the copy's data, then releases the copy if asked.
fn hand_out<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    args: &v8::FunctionCallbackArguments<'s>,
    rv: &mut v8::ReturnValue<'s, v8::Value>,
    method: &str,
    make: impl FnOnce(&mut v8::PinScope<'s, '_>, &Rc<State>, Arc<ExternalData>, bool) -> Result<v8::Local<'s, v8::Value>, Failure>,
) {
    let Some(st) = scope.get_slot::<Rc<State>>().cloned() else { return };
    let Some(state) = this_copy(scope, &st, args) else { return };
    let c = state.downcast_ref::<Copy>().unwrap();
    let Some(data) = c.data.borrow().clone() else { return throw_failure(scope, &st, Failure::error(RELEASED)) };
    let flags = options_of(args.get(0), method, 1).and_then(|o| Ok((flag(scope, o, "release")?, flag(scope, o, "transferIn")?)));
    let (release, transfer_in) = match flags {
        Ok(f) => f,
        Err(f) => return throw_failure(scope, &st, f),
    };
    match make(scope, &st, data, transfer_in) {
        Ok(v) => {
            if release {
                c.clear();
            }
            rv.set(v)
        }
        Err(f) => throw_failure(scope, &st, f),
    }
}

fn release_method<'s>(scope: &mut v8::PinScope<'s, '_>, args: &v8::FunctionCallbackArguments<'s>, rv: &mut v8::ReturnValue<'s, v8::Value>) {
    let Some(st) = scope.get_slot::<Rc<State>>().cloned() else { return };
    let Some(state) = this_copy(scope, &st, args) else { return };
    let c = state.downcast_ref::<Copy>().unwrap();
    if !c.clear() {
        return throw_failure(scope, &st, Failure::error(RELEASED));
    }
    rv.set_undefined();
}

// ---------------------------------------------------------------------------
// Values into and out of ExternalData

/// Copies (or moves) a guest value into new ExternalCopy data, following
/// isolated-vm's `{transferList, transferOut}` options.
pub fn from_value<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    options: v8::Local<'s, v8::Value>,
) -> Result<Arc<ExternalData>, Failure> {
    build(scope, st, v, options).map(|(d, _)| d)
}

/// `from_value`, also saying whether the data is new memory (a copy) rather
/// than memory moved or shared out of the isolate.
fn build<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    v: v8::Local<'s, v8::Value>,
    options: v8::Local<'s, v8::Value>,
) -> Result<(Arc<ExternalData>, bool), Failure> {
    let mut fresh = true;
    let mut list: Vec<v8::Local<v8::ArrayBuffer>> = Vec::new();
    let mut transfer_out = false;
    if let Some(o) = options_of(options, "ExternalCopy", 2)? {
        let k = string(scope, "transferList");
        if let Some(l) = o.get(scope, k.into()).filter(|l| !l.is_undefined()) {
            let arr = v8::Local::<v8::Array>::try_from(l).map_err(|_| Failure::type_error("`transferList` must be an array"))?;
            // Read up to its length, which a sparse array sets to 2^32 - 1.
            if arr.length() > TRANSFER_LIST_MAX {
                return Err(Failure::RangeError(format!("`transferList` must have at most {TRANSFER_LIST_MAX} elements")));
            }
            for i in 0..arr.length() {
                let e = arr.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
                let ab = v8::Local::<v8::ArrayBuffer>::try_from(e)
                    .map_err(|_| Failure::type_error("Non-ArrayBuffer passed in `transferList`"))?;
                list.push(ab);
            }
        }
        transfer_out = flag(scope, Some(o), "transferOut")?;
    }
    let _ = st;
    let listed = |ab: v8::Local<v8::ArrayBuffer>| list.iter().any(|b| b.strict_equals(ab.into()));
    if v.is_symbol() {
        return Err(Failure::type_error("Unsupported type"));
    }
    if capture::over_cap(v) {
        return Err(capture::ListMeter::too_large());
    }
    let stored = if let Some(p) = capture::primitive(scope, v) {
        Stored::Value(p)
    } else if let Ok(ab) = v8::Local::<v8::ArrayBuffer>::try_from(v) {
        let moved = transfer_out || listed(ab);
        fresh = !moved;
        Stored::Buffer { store: Some(buffer_store(ab, moved)), view: None, shared: false }
    } else if let Ok(sab) = v8::Local::<v8::SharedArrayBuffer>::try_from(v) {
        fresh = false;
        Stored::Buffer { store: Some(Store(sab.get_backing_store())), view: None, shared: true }
    } else if let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(v) {
        let kind = view_kind(v).ok_or_else(|| Failure::type_error("Unsupported type"))?;
        let length = match v8::Local::<v8::TypedArray>::try_from(v) {
            Ok(t) => t.length(),
            Err(_) => view.byte_length(),
        };
        let view_info = View { kind, offset: view.byte_offset(), length };
        let buffer = view.buffer(scope).ok_or_else(|| Failure::error("Could not read the view's buffer"))?;
        let buffer_value: v8::Local<v8::Value> = buffer.into();
        if buffer_value.is_shared_array_buffer() {
            let sab = v8::Local::<v8::SharedArrayBuffer>::try_from(buffer_value).map_err(|_| Failure::error("Bad buffer"))?;
            fresh = false;
            Stored::Buffer { store: Some(Store(sab.get_backing_store())), view: Some(view_info), shared: true }
        } else {
            let moved = transfer_out || listed(buffer);
            fresh = !moved;
            Stored::Buffer { store: Some(buffer_store(buffer, moved)), view: Some(view_info), shared: false }
        }
    } else {
        external::stored_clone(serde::serialize(scope, st, v)?)?
    };
    for ab in &list {
        if ab.byte_length() > 0 && ab.is_detachable() {
            ab.detach(None);
        }
    }
    Ok((ExternalData::new(stored), fresh))
}

/// `{copy: true}` of an ArrayBuffer or a view over one: its memory copied
/// once, to be moved into the target (no structured clone). None for
/// anything else (shared memory included).
pub fn copy_buffer<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Option<Result<Transfer, Failure>> {
    // Shared memory (a SharedArrayBuffer or a view of one) is shared with
    // isolates that receive it, and copied into a new SharedArrayBuffer in Node.
    let mut shared = v.is_shared_array_buffer();
    if !v.is_array_buffer() && !shared {
        let view = v8::Local::<v8::ArrayBufferView>::try_from(v).ok()?;
        let b: v8::Local<v8::Value> = view.buffer(scope)?.into();
        if view_kind(v).is_none() {
            return None;
        }
        shared = b.is_shared_array_buffer();
    }
    let undefined = v8::undefined(scope).into();
    Some(from_value(scope, st, v, undefined).map(|d| Transfer::CopyInto(d, !shared)))
}

/// The memory of `ab`: moved out (detaching it) or copied.
fn buffer_store(ab: v8::Local<v8::ArrayBuffer>, moved: bool) -> Store {
    if moved && ab.is_detachable() {
        let store = Store(ab.get_backing_store());
        ab.detach(None);
        external::discharge(&store);
        return store;
    }
    let store = Store(ab.get_backing_store());
    Store::copy_of(&store.bytes()[..ab.byte_length().min(store.len())])
}

fn view_kind(v: v8::Local<v8::Value>) -> Option<ViewKind> {
    Some(if v.is_uint8_array() {
        ViewKind::Uint8
    } else if v.is_int8_array() {
        ViewKind::Int8
    } else if v.is_uint8_clamped_array() {
        ViewKind::Uint8Clamped
    } else if v.is_int16_array() {
        ViewKind::Int16
    } else if v.is_uint16_array() {
        ViewKind::Uint16
    } else if v.is_int32_array() {
        ViewKind::Int32
    } else if v.is_uint32_array() {
        ViewKind::Uint32
    } else if v.is_float32_array() {
        ViewKind::Float32
    } else if v.is_float64_array() {
        ViewKind::Float64
    } else if v.is_big_int64_array() {
        ViewKind::BigInt64
    } else if v.is_big_uint64_array() {
        ViewKind::BigUint64
    } else if v.is_data_view() {
        ViewKind::DataView
    } else if v.is_float16_array() {
        ViewKind::Float16
    } else {
        return None;
    })
}

/// Materialises ExternalCopy data in the current context. Copied memory is
/// counted against this isolate's budget; moved memory is charged to it.
pub fn materialize<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    st: &State,
    data: &ExternalData,
    transfer_in: bool,
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let too_big = |n: usize| n > st.host.memory_limit;
    match data.take(transfer_in)? {
        Taken::Value(t) => crate::transfer::materialize::materialize(scope, st, t),
        Taken::Serialized(bytes, handles) => {
            if too_big(bytes.len()) {
                return Err(Failure::RangeError(format!(
                    "A copy of {} bytes does not fit in this isolate's memory limit",
                    bytes.len()
                )));
            }
            serde::deserialize_bytes(scope, st, &bytes, handles)
        }
        Taken::Buffer { store, view, shared, moved } => {
            let budget = &st.host.budget;
            let buffer: v8::Local<v8::ArrayBuffer>;
            let value: v8::Local<v8::Value>;
            if shared {
                let sab = v8::SharedArrayBuffer::with_backing_store(scope, &store.0);
                // SAFETY: a SharedArrayBuffer handle is a JSArrayBuffer handle,
                // which V8's typed array constructors accept (V8's C++ API
                // takes either); the Local is only used to make views.
                buffer = unsafe { std::mem::transmute::<v8::Local<v8::SharedArrayBuffer>, v8::Local<v8::ArrayBuffer>>(sab) };
                value = sab.into();
            } else if moved {
                let s = match external::charge(budget, store) {
                    Ok(s) => s,
                    Err(s) => {
                        data.restore(s);
                        return Err(Failure::RangeError(external::ALLOCATION_FAILED.into()));
                    }
                };
                buffer = v8::ArrayBuffer::with_backing_store(scope, &s.0);
                value = buffer.into();
            } else {
                let s = external::counted_copy(budget, store.bytes())
                    .ok_or_else(|| Failure::RangeError(external::ALLOCATION_FAILED.into()))?;
                buffer = v8::ArrayBuffer::with_backing_store(scope, &s.0);
                value = buffer.into();
            }
            match view {
                None => Ok(value),
                Some(view) => make_view(scope, buffer, view),
            }
        }
    }
}

fn make_view<'s>(scope: &mut v8::PinScope<'s, '_>, b: v8::Local<'s, v8::ArrayBuffer>, v: View) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let (o, n) = (v.offset, v.length);
    // V8 trusts these bounds: check them against the buffer we made.
    let end = n.checked_mul(v.kind.element_size()).and_then(|bytes| bytes.checked_add(o));
    if end.is_none_or(|end| end > b.byte_length()) || o % v.kind.element_size() != 0 {
        return Err(Failure::RangeError("Invalid typed array length".into()));
    }
    let r: Option<v8::Local<v8::Value>> = match v.kind {
        ViewKind::Int8 => v8::Int8Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Uint8 => v8::Uint8Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Uint8Clamped => v8::Uint8ClampedArray::new(scope, b, o, n).map(Into::into),
        ViewKind::Int16 => v8::Int16Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Uint16 => v8::Uint16Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Int32 => v8::Int32Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Uint32 => v8::Uint32Array::new(scope, b, o, n).map(Into::into),
        // SAFETY: every Float16Array is a Value (the crate lacks the upcast).
        ViewKind::Float16 => v8::Float16Array::new(scope, b, o, n)
            .map(|a| unsafe { std::mem::transmute::<v8::Local<v8::Float16Array>, v8::Local<v8::Value>>(a) }),
        ViewKind::Float32 => v8::Float32Array::new(scope, b, o, n).map(Into::into),
        ViewKind::Float64 => v8::Float64Array::new(scope, b, o, n).map(Into::into),
        ViewKind::BigInt64 => v8::BigInt64Array::new(scope, b, o, n).map(Into::into),
        ViewKind::BigUint64 => v8::BigUint64Array::new(scope, b, o, n).map(Into::into),
        ViewKind::DataView => Some(v8::DataView::new(scope, b, o, n).into()),
    };
    r.ok_or_else(|| Failure::RangeError("Invalid typed array length".into()))
}
