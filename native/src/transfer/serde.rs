//! Structured clone with V8's ValueSerializer. Used for `{copy: true}` in both
//! directions: our V8 writes format 16 and reads Node's older formats; the JS
//! layer relabels our bytes with Node's version (the formats differ only in
//! how buffer lengths above 4 GiB are written, which never crosses).
//!
//! Handles inside a clone (the library's References, ExternalCopies,
//! Callbacks... met anywhere in the value) are written as host objects: the
//! record holds an index into `Serialized::handles`, where the handle travels
//! as a `Transfer` of its own; reading the record makes the receiving side's
//! object for it. Node's side does the same with its own serializer
//! (lib/transfer.js), so the indices mean the same in every direction.

use std::cell::RefCell;
use std::rc::Rc;

use v8::{ValueDeserializerHelper, ValueSerializerHelper};

use super::{Failure, Serialized, Transfer};
use crate::engine::runner::State;

/// What the delegates share with the call that runs the serializer.
#[derive(Default)]
struct Shared {
    handles: Vec<Option<Transfer>>,
    /// Why a handle could not be written or read (the exact failure, rather
    /// than whatever V8 makes of the exception thrown to stop it).
    failure: Option<Failure>,
}

/// Marks guest objects that cross as handles inside a clone (the library's
/// class instances, ExternalCopy objects). Checked for every object cloned.
pub fn brand_key<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Private> {
    crate::engine::runner::private_key(scope, "v8-isolates#handleBrand")
}

pub fn brand<'s>(scope: &mut v8::PinScope<'s, '_>, obj: v8::Local<'s, v8::Object>) {
    let k = brand_key(scope);
    let t = v8::Boolean::new(scope, true);
    obj.set_private(scope, k, t.into());
}

/// Stops the (de)serializer: keeps `f` for the caller and throws.
fn stop<'s, T>(scope: &mut v8::PinScope<'s, '_>, shared: &RefCell<Shared>, f: Failure) -> Option<T> {
    shared.borrow_mut().failure = Some(f);
    let msg = v8::String::new(scope, "Value could not be cloned").unwrap();
    let exc = v8::Exception::type_error(scope, msg);
    scope.throw_exception(exc);
    None
}

struct SerDelegate<'a> {
    state: &'a State,
    shared: Rc<RefCell<Shared>>,
    brand: RefCell<Option<v8::Global<v8::Private>>>,
    /// The current context's Object.prototype, once looked up.
    plain_proto: RefCell<Option<v8::Global<v8::Value>>>,
}

/// V8's message for a clone whose buffer could not grow.
pub const OUT_OF_MEMORY: &str = "Data cannot be cloned, out of memory.";

impl v8::ValueSerializerImpl for SerDelegate<'_> {
    fn throw_data_clone_error<'s>(&self, scope: &mut v8::PinScope<'s, '_>, message: v8::Local<'s, v8::String>) {
        // A clone past the cap of `engine::serializer_cap` is V8's "out of
        // memory": a RangeError, as other size limits are.
        let oom = message.to_rust_string_lossy(scope) == OUT_OF_MEMORY;
        let exc = if oom { v8::Exception::range_error(scope, message) } else { v8::Exception::type_error(scope, message) };
        scope.throw_exception(exc);
    }

    fn has_custom_host_object(&self, _isolate: &v8::Isolate) -> bool {
        true
    }

    fn is_host_object<'s>(&self, scope: &mut v8::PinScope<'s, '_>, object: v8::Local<'s, v8::Object>) -> Option<bool> {
        // Most objects cloned are plain ones, and no branded object has
        // Object.prototype as its prototype (the library's instances have
        // their class's prototype and are frozen, so it cannot be changed):
        // a prototype read spares the private-symbol lookup for them. A
        // guest that makes an instance with a foreign `new.target` whose
        // `prototype` is Object.prototype gets that object cloned as the
        // plain object it then looks like: nothing more than it could send.
        let plain = self.plain_proto.borrow().as_ref().map(|g| v8::Local::new(scope, g));
        let plain = match plain {
            Some(p) => p,
            None => {
                let p = v8::Object::new(scope).get_prototype(scope)?;
                *self.plain_proto.borrow_mut() = Some(v8::Global::new(scope, p));
                p
            }
        };
        if object.get_prototype(scope).is_some_and(|p| p == plain) {
            return Some(false);
        }
        let cached = self.brand.borrow().as_ref().map(|g| v8::Local::new(scope, g));
        let key = match cached {
            Some(k) => k,
            None => {
                let k = brand_key(scope);
                *self.brand.borrow_mut() = Some(v8::Global::new(scope, k));
                k
            }
        };
        Some(object.has_private(scope, key).unwrap_or(false))
    }

    fn write_host_object<'s>(
        &self,
        scope: &mut v8::PinScope<'s, '_>,
        object: v8::Local<'s, v8::Object>,
        ser: &dyn ValueSerializerHelper,
    ) -> Option<bool> {
        let v: v8::Local<v8::Value> = object.into();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle_of(scope, self.state, v)));
        let t = match r {
            Ok(Ok(t)) => t,
            Ok(Err(f)) => return stop(scope, &self.shared, f),
            Err(_) => return stop(scope, &self.shared, Failure::error("internal error in v8-isolates (panic in the serializer)")),
        };
        let mut sh = self.shared.borrow_mut();
        ser.write_uint32(sh.handles.len() as u32);
        sh.handles.push(Some(t));
        Some(true)
    }

    /// A SharedArrayBuffer travels in the handle list as its memory (a
    /// `copyInto()` of shared data arrives as a SharedArrayBuffer over the same
    /// memory); V8 writes the index. V8 writes later occurrences of the same
    /// buffer as back-references.
    fn get_shared_array_buffer_id<'s>(
        &self,
        _scope: &mut v8::PinScope<'s, '_>,
        sab: v8::Local<'s, v8::SharedArrayBuffer>,
    ) -> Option<u32> {
        let store = super::external::Store(sab.get_backing_store());
        let d = super::external::ExternalData::new(super::external::Stored::Buffer { store: Some(store), view: None, shared: true });
        let mut sh = self.shared.borrow_mut();
        let id = sh.handles.len() as u32;
        sh.handles.push(Some(Transfer::CopyInto(d, false)));
        Some(id)
    }
}

/// The handle a branded guest object stands for.
fn handle_of<'s>(scope: &mut v8::PinScope<'s, '_>, st: &State, v: v8::Local<'s, v8::Value>) -> Result<Transfer, Failure> {
    if let Some(t) = crate::guest::external_copy::captured(scope, st, v) {
        return t;
    }
    match crate::guest::library::unwrap(scope, st, v)? {
        Some(t) => Ok(t),
        None => Err(Failure::type_error(super::capture::NON_TRANSFERABLE)),
    }
}

/// Reads host-object records as the handles made before reading started
/// (V8 runs no JavaScript while it deserializes, and making a library
/// object does).
struct DeDelegate {
    made: Vec<v8::Global<v8::Value>>,
    shared: Rc<RefCell<Shared>>,
}

impl v8::ValueDeserializerImpl for DeDelegate {
    fn read_host_object<'s>(
        &self,
        scope: &mut v8::PinScope<'s, '_>,
        de: &dyn ValueDeserializerHelper,
    ) -> Option<v8::Local<'s, v8::Object>> {
        let mut i = 0u32;
        let made = if de.read_uint32(&mut i) { self.made.get(i as usize) } else { None };
        let Some(v) = made.map(|g| v8::Local::new(scope, g)) else {
            return stop(scope, &self.shared, Failure::error("Unable to deserialize cloned data"));
        };
        match v8::Local::<v8::Object>::try_from(v) {
            Ok(o) => Some(o),
            // A `derefInto()` of a primitive: a clone holds objects only.
            Err(_) => stop(scope, &self.shared, Failure::type_error(super::capture::NON_TRANSFERABLE)),
        }
    }

    fn get_shared_array_buffer_from_id<'s>(
        &self,
        scope: &mut v8::PinScope<'s, '_>,
        transfer_id: u32,
    ) -> Option<v8::Local<'s, v8::SharedArrayBuffer>> {
        match self.shared_buffer(scope, transfer_id) {
            Some(b) => Some(b),
            None => stop(scope, &self.shared, Failure::error("Unable to deserialize cloned data")),
        }
    }
}

impl DeDelegate {
    fn shared_buffer<'s>(&self, scope: &mut v8::PinScope<'s, '_>, id: u32) -> Option<v8::Local<'s, v8::SharedArrayBuffer>> {
        let v = v8::Local::new(scope, self.made.get(id as usize)?);
        v8::Local::<v8::SharedArrayBuffer>::try_from(v).ok()
    }
}

fn caught<'s>(scope: &mut v8::PinScope<'s, '_>, exc: Option<v8::Local<'s, v8::Value>>, fallback: &str) -> Failure {
    match exc {
        Some(e) if e.is_native_error() => {
            let obj = e.to_object(scope).unwrap();
            let key = v8::String::new(scope, "message").unwrap();
            let msg = obj.get(scope, key.into()).map(|m| m.to_rust_string_lossy(scope)).unwrap_or_default();
            let key = v8::String::new(scope, "name").unwrap();
            let name = obj.get(scope, key.into()).map(|m| m.to_rust_string_lossy(scope)).unwrap_or_default();
            // A graph too deep ("Maximum call stack size exceeded") or too
            // big stays a RangeError, as in isolated-vm; what cannot be
            // cloned is a TypeError.
            if name == "RangeError" || msg.contains("allocation failed") {
                Failure::RangeError(msg)
            } else {
                Failure::TypeError(msg)
            }
        }
        Some(e) => Failure::TypeError(e.to_rust_string_lossy(scope)),
        None => Failure::error(fallback),
    }
}

pub fn serialize<'s>(scope: &mut v8::PinScope<'s, '_>, state: &State, v: v8::Local<'s, v8::Value>) -> Result<Serialized, Failure> {
    let shared = Rc::new(RefCell::new(Shared::default()));
    v8::tc_scope!(let tc, scope);
    let delegate = SerDelegate { state, shared: shared.clone(), brand: RefCell::new(None), plain_proto: RefCell::new(None) };
    let ser = v8::ValueSerializer::new(tc, Box::new(delegate));
    ser.write_header();
    let context = tc.get_current_context();
    match ser.write_value(context, v) {
        Some(true) => {
            let bytes = ser.release();
            let handles = shared.borrow_mut().handles.drain(..).flatten().collect();
            Ok(Serialized::new(bytes, handles))
        }
        _ => {
            if tc.has_terminated() {
                return Err(Failure::terminated());
            }
            if let Some(f) = shared.borrow_mut().failure.take() {
                return Err(f);
            }
            let exc = tc.exception();
            Err(caught(tc, exc, "Value could not be cloned"))
        }
    }
}

pub fn deserialize<'s>(scope: &mut v8::PinScope<'s, '_>, state: &State, mut s: Serialized) -> Result<v8::Local<'s, v8::Value>, Failure> {
    let handles = std::mem::take(&mut s.handles);
    read_clone(scope, state, s.bytes(), handles, s.packed.as_deref().map(|p| p.packed()))
}

pub fn deserialize_bytes<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    bytes: &[u8],
    handles: Vec<Transfer>,
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    read_clone(scope, state, bytes, handles, None)
}

/// The value of clone bytes; `packed` is their packed form when Node's
/// thread made it.
fn read_clone<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    bytes: &[u8],
    handles: Vec<Transfer>,
    packed: Option<&super::plain::Packed>,
) -> Result<v8::Local<'s, v8::Value>, Failure> {
    if handles.is_empty() {
        if let Some(v) = parse_plain(scope, state, bytes, packed)? {
            return Ok(v);
        }
    }
    let context = scope.get_current_context();
    let mut made = Vec::with_capacity(handles.len());
    for t in handles {
        let v = super::materialize::materialize(scope, state, t)?;
        made.push(v8::Global::new(scope, v));
    }
    let shared = Rc::new(RefCell::new(Shared::default()));
    let value = {
        v8::tc_scope!(let tc, scope);
        let delegate = DeDelegate { made, shared: shared.clone() };
        let de = v8::ValueDeserializer::new(tc, Box::new(delegate), bytes);
        let ok = de.read_header(context) == Some(true);
        let value = if ok { de.read_value(context) } else { None };
        match value {
            Some(v) => Ok(v8::Global::new(tc, v)),
            None => {
                if tc.has_terminated() {
                    return Err(Failure::terminated());
                }
                if let Some(f) = shared.borrow_mut().failure.take() {
                    return Err(f);
                }
                let exc = tc.exception();
                Err(caught(tc, exc, "Unable to deserialize cloned data"))
            }
        }
    }?;
    Ok(v8::Local::new(scope, value))
}

/// The plain-data fast path (see `plain`): the clone read as JSON text by
/// the isolate's own JSON parser. Ok(None) when the bytes are not plain data
/// or the parser failed for another reason than termination (the
/// deserializer then reads the bytes and reports as before).
///
/// Unlike the deserializer, JSON.parse serves no interrupt until it is done,
/// so the memory limit (a GC interrupt, then termination) cannot stop it
/// midway: a clone that could grow the heap past the limit is left to the
/// deserializer. A heap object made from JSON text takes at most about 16
/// times the bytes of its text (`{}` or `[]` and a comma), and the text is
/// about as long as the clone.
fn parse_plain<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: &State,
    bytes: &[u8],
    packed: Option<&super::plain::Packed>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Failure> {
    const GROWTH: usize = 16;
    // Clones this small grow the heap by at most 1 MB: the heap's
    // statistics (a walk of every space, the costliest step of a small
    // copy) are read only for larger ones.
    const SMALL: usize = 64 << 10;
    if bytes.len() >= SMALL {
        let used = scope.get_heap_statistics().used_heap_size();
        if bytes.len().saturating_mul(GROWTH) > state.host.memory_limit.saturating_sub(used) {
            return Ok(None);
        }
    }
    if let Some(packed) = packed {
        return super::packed::decode_in_isolate(scope, packed, bytes);
    }
    if let Some(packed) = super::plain::to_packed(bytes) {
        return super::packed::decode_in_isolate(scope, &packed, bytes);
    }
    let Some(text) = super::plain::to_json(bytes) else {
        return Ok(None);
    };
    let value = {
        v8::tc_scope!(let tc, scope);
        let parsed = v8::String::new_from_utf8(tc, text.as_bytes(), v8::NewStringType::Normal).and_then(|s| v8::json::parse(tc, s));
        drop(text);
        match parsed {
            Some(v) => v8::Global::new(tc, v),
            None if tc.has_terminated() => return Err(Failure::terminated()),
            None => return Ok(None),
        }
    };
    Ok(Some(v8::Local::new(scope, value)))
}
