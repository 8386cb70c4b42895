//! Values crossing between Node and the engine, on Node's side: JS values
//! (as the JS layer encodes them) become `Transfer`s, and `Transfer`s and
//! `Failure`s become JS values and errors.

use std::sync::Arc;

use neon::prelude::*;
use neon::types::bigint::Sign;
use neon::types::buffer::TypedArray;
use neon::types::JsBigInt;

use super::{Failure, Remote, Serialized, Transfer, Typeof};
use crate::node::helpers;

/// A handle into an isolate, as Node holds it (Context, Script, Reference).
pub struct RemoteBox {
    pub remote: Arc<Remote>,
    pub type_of: Typeof,
}

impl Finalize for RemoteBox {}

/// How the JS layer tags each value it hands to native code.
pub mod kind {
    pub const PRIMITIVE: u32 = 0;
    pub const SERIALIZED: u32 = 1;
    pub const REFERENCE: u32 = 2;
    /// A function (sync Callback) or `[function, mode]` (0 sync, 1 async, 2 ignored).
    pub const CALLBACK: u32 = 3;
    /// The handle of a Reference whose `derefInto()` result is being sent.
    pub const DEREF: u32 = 4;
    /// `[reference, typeof]`: a Reference to a Node value.
    pub const HOST_REF: u32 = 5;
    /// The box of an ExternalCopy: the target gets an ExternalCopy.
    pub const EXTERNAL_COPY: u32 = 6;
    /// `[box, transferIn]` of a `copyInto()` result: the target gets the value.
    pub const COPY_INTO: u32 = 7;
    /// The box of a pending Node promise (`{promise: true}`).
    pub const PROMISE: u32 = 8;
    /// The module object.
    pub const LIBRARY: u32 = 9;
    /// An Isolate's native handle.
    pub const ISOLATE: u32 = 10;
    /// `[context handle, global handle]`.
    pub const CONTEXT: u32 = 11;
    /// A Script's native handle.
    pub const SCRIPT: u32 = 12;
    /// A Module's native handle (`node::module::ModuleBox`).
    pub const MODULE: u32 = 13;
    /// `[errorKind, errorPayload, causeKind, causePayload]`: an Error with a
    /// `cause` (see `Transfer::ErrorCause`).
    pub const ERROR_CAUSE: u32 = 14;
}

pub struct PromiseBox(pub Arc<super::promise::Pending>);

impl Finalize for PromiseBox {}

/// `promiseNew()`: a box for a Node promise being sent into a guest.
pub fn promise_new(mut cx: FunctionContext) -> JsResult<JsValue> {
    Ok(cx.boxed(PromiseBox(super::promise::Pending::new())).upcast())
}

/// `promiseSettle(box, true, kind, payload)` / `promiseSettle(box, false, error)`.
pub fn promise_settle(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let b = cx.argument::<JsBox<PromiseBox>>(0)?;
    let ok = cx.argument::<JsBoolean>(1)?.value(&mut cx);
    let out = if ok {
        let k = cx.argument::<JsNumber>(2)?.value(&mut cx) as u32;
        let p = cx.argument::<JsValue>(3)?;
        match cx.try_catch(|cx| decode(cx, k, p)) {
            Ok(t) => Ok(t),
            Err(e) => Err(crate::node::host::thrown(&mut cx, e)),
        }
    } else {
        let e = cx.argument::<JsValue>(2)?;
        Err(crate::node::host::thrown(&mut cx, e))
    };
    b.0.settle(out);
    Ok(cx.undefined())
}

/// `plainCopy(on?)`: how many clones took the plain-data fast path; turns the
/// path on or off when given a boolean (for tests).
pub fn plain_copy(mut cx: FunctionContext) -> JsResult<JsNumber> {
    if let Some(on) = cx.argument_opt(0) {
        if let Ok(on) = on.downcast::<JsBoolean, _>(&mut cx) {
            super::plain::set_enabled(on.value(&mut cx));
        }
    }
    Ok(cx.number(super::plain::taken() as f64))
}

/// `packedCopy()`: how many of those were made from the packed form.
pub fn packed_copy(mut cx: FunctionContext) -> JsResult<JsNumber> {
    Ok(cx.number(super::plain::packed_taken() as f64))
}

/// `prepackedCopy(live?)`: how many clones Node's thread sent in their
/// packed form; with `true`, how many of those are still held.
pub fn prepacked_copy(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let n = if crate::node::call::flag(&mut cx, 0) { super::plain::prepacked_live() } else { super::plain::prepacked() };
    Ok(cx.number(n as f64))
}

/// A clone read on Node's thread in its packed form (`plainNoHandles(bytes,
/// true)`), sent as a KIND_SERIALIZED payload in place of the bytes. Taken
/// when the payload is read (each is read once): the box itself lives on
/// until Node's GC, which does not see the memory it would hold.
pub struct PrepackedBox(std::cell::RefCell<Option<Arc<super::plain::Prepacked>>>);

impl Finalize for PrepackedBox {}

/// `plainNoHandles(bytes, pack)`: whether Node's clone bytes are plain data
/// with no empty object, so no handle object (see
/// `plain_without_empty_objects`). With `pack`, a large one comes back in
/// its packed form instead of `true`, for an isolate to make without
/// reading the bytes again.
pub fn plain_no_handles(mut cx: FunctionContext) -> JsResult<JsValue> {
    let buf = cx.argument::<JsTypedArray<u8>>(0)?;
    if !crate::node::call::flag(&mut cx, 1) {
        let ok = super::plain::plain_without_empty_objects(buf.as_slice(&cx));
        return Ok(cx.boolean(ok).upcast());
    }
    Ok(match super::plain::node_clone(buf.as_slice(&cx)) {
        super::plain::NodeClone::Other => cx.boolean(false).upcast(),
        super::plain::NodeClone::Plain => cx.boolean(true).upcast(),
        super::plain::NodeClone::Packed(p) => cx.boxed(PrepackedBox(std::cell::RefCell::new(Some(Arc::new(p))))).upcast(),
    })
}

/// Reads a JS value if it is a primitive (not a symbol).
pub fn try_primitive<'a>(cx: &mut impl Context<'a>, v: Handle<'a, JsValue>) -> Option<Transfer> {
    if let Ok(n) = v.downcast::<JsNumber, _>(cx) {
        return Some(Transfer::Number(n.value(cx)));
    }
    if let Ok(s) = v.downcast::<JsString, _>(cx) {
        return Some(string(cx, s));
    }
    if let Ok(b) = v.downcast::<JsBoolean, _>(cx) {
        return Some(Transfer::Bool(b.value(cx)));
    }
    if v.is_a::<JsUndefined, _>(cx) {
        return Some(Transfer::Undefined);
    }
    if v.is_a::<JsNull, _>(cx) {
        return Some(Transfer::Null);
    }
    if let Ok(b) = v.downcast::<JsBigInt, _>(cx) {
        let (sign, words) = b.to_digits_le(cx);
        return Some(Transfer::BigInt { negative: sign == Sign::Negative, words });
    }
    None
}

/// Reads a JS string. Node-API hands out UTF-8 with unpaired surrogates
/// replaced by U+FFFD; when a replacement character shows up, the string is
/// read again as UTF-16 so that the code units survive.
fn string<'a>(cx: &mut impl Context<'a>, s: Handle<'a, JsString>) -> Transfer {
    let text = s.value(cx);
    if !text.contains('\u{FFFD}') {
        return Transfer::String(text);
    }
    let units = s.to_utf16(cx);
    match String::from_utf16(&units) {
        Ok(text) => Transfer::String(text),
        Err(_) => Transfer::String16(units),
    }
}

type CreateStringUtf16 =
    unsafe extern "C" fn(neon::sys::bindings::Env, *const u16, usize, *mut neon::sys::bindings::Value) -> i32;

/// Node-API's `napi_create_string_utf16` (neon does not bind it), looked up in
/// the running process like neon looks up the rest of Node-API.
fn create_string_utf16() -> Option<CreateStringUtf16> {
    static F: once_cell::sync::OnceCell<usize> = once_cell::sync::OnceCell::new();
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // process (Node exports its Node-API functions).
    let p = *F.get_or_init(|| unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"napi_create_string_utf16".as_ptr()) } as usize);
    // SAFETY: the symbol is Node-API's function with this exact signature.
    (p != 0).then(|| unsafe { std::mem::transmute::<usize, CreateStringUtf16>(p) })
}

/// Makes a JS string from UTF-16 code units (unpaired surrogates included).
fn string16<'a>(cx: &mut impl Context<'a>, units: &[u16]) -> JsResult<'a, JsValue> {
    let env = cx.to_raw();
    let mut out = std::ptr::null_mut();
    // SAFETY: a plain Node-API call on this environment's thread; the buffer
    // outlives the call, which copies it.
    let Some(create) = create_string_utf16() else {
        return match cx.try_string(String::from_utf16_lossy(units)) {
            Ok(s) => Ok(s.upcast()),
            Err(_) => cx.throw_range_error("Invalid string length"),
        };
    };
    let status = unsafe { create(env, units.as_ptr(), units.len(), &mut out) };
    if status != 0 {
        return cx.throw_range_error("Invalid string length");
    }
    // SAFETY: `out` is a string value just created in this environment.
    Ok(unsafe { JsString::from_raw(cx, out) }.upcast())
}

/// Reads a primitive JS value.
pub fn primitive<'a>(cx: &mut impl Context<'a>, v: Handle<'a, JsValue>) -> NeonResult<Transfer> {
    if let Some(t) = try_primitive(cx, v) {
        return Ok(t);
    }
    cx.throw_type_error("A non-transferable value was passed")
}

/// Decodes one `(kind, payload)` pair produced by the JS layer.
pub fn decode<'a>(cx: &mut impl Context<'a>, kind: u32, payload: Handle<'a, JsValue>) -> NeonResult<Transfer> {
    match kind {
        kind::PRIMITIVE => primitive(cx, payload),
        kind::SERIALIZED => {
            // The bytes, or `[bytes, kind0, payload0, ...]` with the handles
            // the clone refers to (see lib/transfer.js).
            if let Ok(list) = payload.downcast::<JsArray, _>(cx) {
                let buf: Handle<JsTypedArray<u8>> = list.get(cx, 0)?;
                let bytes = buf.as_slice(cx).to_vec();
                let n = (list.len(cx) - 1) / 2;
                let mut handles = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let k: Handle<JsNumber> = list.get(cx, 1 + 2 * i)?;
                    let k = k.value(cx) as u32;
                    let p: Handle<JsValue> = list.get(cx, 2 + 2 * i)?;
                    handles.push(decode(cx, k, p)?);
                }
                return Ok(Transfer::Serialized(Serialized::new(bytes, handles)));
            }
            if let Ok(b) = payload.downcast::<JsBox<PrepackedBox>, _>(cx) {
                return match b.0.borrow_mut().take() {
                    Some(p) => Ok(Transfer::Serialized(Serialized::from_packed(p))),
                    None => cx.throw_error("internal error in v8-isolates: a packed copy was sent twice"),
                };
            }
            let buf = payload.downcast_or_throw::<JsTypedArray<u8>, _>(cx)?;
            Ok(Transfer::Serialized(Serialized::plain(buf.as_slice(cx).to_vec())))
        }
        kind::REFERENCE => {
            let b = payload.downcast_or_throw::<JsBox<RemoteBox>, _>(cx)?;
            if b.remote.is_released() {
                return cx.throw_error("Reference has been released");
            }
            Ok(Transfer::Reference(b.remote.clone(), b.type_of))
        }
        kind::DEREF => {
            let b = payload.downcast_or_throw::<JsBox<RemoteBox>, _>(cx)?;
            if b.remote.is_released() {
                return cx.throw_error("Reference has been released");
            }
            Ok(Transfer::Deref(b.remote.clone()))
        }
        kind::HOST_REF => {
            let pair = payload.downcast_or_throw::<JsArray, _>(cx)?;
            let obj: Handle<JsObject> = pair.get(cx, 0)?;
            let t: Handle<JsString> = pair.get(cx, 1)?;
            let type_of = t.value(cx);
            let f: Option<Handle<JsValue>> = pair.get_opt(cx, 2)?;
            let func = f.and_then(|f| f.downcast::<JsFunction, _>(cx).ok()).map(|f| f.root(cx));
            let env = crate::node::envlink::link(cx);
            Ok(Transfer::HostRef(Arc::new(crate::node::host::HostRef { env, obj: obj.root(cx), type_of, func })))
        }
        kind::ERROR_CAUSE => {
            let parts = payload.downcast_or_throw::<JsArray, _>(cx)?;
            let mut two = Vec::with_capacity(2);
            for i in [0, 2] {
                let k: Handle<JsNumber> = parts.get(cx, i)?;
                let k = k.value(cx) as u32;
                let p: Handle<JsValue> = parts.get(cx, i + 1)?;
                two.push(decode(cx, k, p)?);
            }
            let cause = two.pop().unwrap();
            let error = two.pop().unwrap();
            Ok(Transfer::ErrorCause(Box::new((error, cause))))
        }
        kind::PROMISE => {
            let b = payload.downcast_or_throw::<JsBox<PromiseBox>, _>(cx)?;
            Ok(Transfer::Promise(b.0.clone()))
        }
        kind::EXTERNAL_COPY => {
            let b = payload.downcast_or_throw::<JsBox<crate::node::external_copy::ExternalBox>, _>(cx)?;
            let d = b.0.borrow().clone();
            match d {
                Some(d) => Ok(Transfer::External(d)),
                None => cx.throw_error("Copy has been released"),
            }
        }
        kind::COPY_INTO => {
            let pair = payload.downcast_or_throw::<JsArray, _>(cx)?;
            let b: Handle<JsBox<crate::node::external_copy::ExternalBox>> = pair.get(cx, 0)?;
            let t: Handle<JsBoolean> = pair.get(cx, 1)?;
            let transfer_in = t.value(cx);
            let d = b.0.borrow_mut().take();
            match d {
                Some(d) => Ok(Transfer::CopyInto(d, transfer_in)),
                None => cx.throw_error("The return value of `copyInto()` should only be used once"),
            }
        }
        kind::LIBRARY => Ok(Transfer::Library),
        kind::ISOLATE => {
            let b = payload.downcast_or_throw::<JsBox<crate::node::isolate::IsoBox>, _>(cx)?;
            Ok(Transfer::Isolate(b.0.clone()))
        }
        kind::CONTEXT => {
            let pair = payload.downcast_or_throw::<JsArray, _>(cx)?;
            let c: Handle<JsBox<RemoteBox>> = pair.get(cx, 0)?;
            let g: Handle<JsBox<RemoteBox>> = pair.get(cx, 1)?;
            if c.remote.is_released() {
                return cx.throw_error(crate::ops::code::CONTEXT_RELEASED);
            }
            Ok(Transfer::Context(c.remote.clone(), g.remote.clone()))
        }
        kind::SCRIPT => {
            let b = payload.downcast_or_throw::<JsBox<RemoteBox>, _>(cx)?;
            if b.remote.is_released() {
                return cx.throw_error(crate::ops::code::SCRIPT_RELEASED);
            }
            Ok(Transfer::Script(b.remote.clone()))
        }
        kind::MODULE => {
            let b = payload.downcast_or_throw::<JsBox<crate::node::module::ModuleBox>, _>(cx)?;
            let m = b.module();
            match m {
                Some(m) => Ok(Transfer::Module(m)),
                None => cx.throw_error(crate::ops::module::MODULE_RELEASED),
            }
        }
        kind::CALLBACK => {
            use crate::node::host::{host_fn, CallbackMode};
            if let Ok(f) = payload.downcast::<JsFunction, _>(cx) {
                return Ok(Transfer::Callback(host_fn(cx, f, CallbackMode::Sync)?));
            }
            let pair = payload.downcast_or_throw::<JsArray, _>(cx)?;
            let f: Handle<JsFunction> = pair.get(cx, 0)?;
            let m: Handle<JsNumber> = pair.get(cx, 1)?;
            let mode = match m.value(cx) as u32 {
                1 => CallbackMode::Async,
                2 => CallbackMode::Ignored,
                _ => CallbackMode::Sync,
            };
            Ok(Transfer::Callback(host_fn(cx, f, mode)?))
        }
        _ => cx.throw_type_error("A non-transferable value was passed"),
    }
}

/// Decodes a flat `[kind0, payload0, kind1, payload1, ...]` array.
pub fn decode_list<'a>(cx: &mut FunctionContext<'a>, list: Handle<'a, JsArray>) -> NeonResult<Vec<Transfer>> {
    let n = list.len(cx) / 2;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let k: Handle<JsNumber> = list.get(cx, 2 * i)?;
        let k = k.value(cx) as u32;
        let p: Handle<JsValue> = list.get(cx, 2 * i + 1)?;
        out.push(decode(cx, k, p)?);
    }
    Ok(out)
}

/// Converts a value leaving the engine into a JS value.
pub fn to_js<'a>(cx: &mut impl Context<'a>, t: Transfer) -> JsResult<'a, JsValue> {
    Ok(match t {
        Transfer::Undefined => cx.undefined().upcast(),
        Transfer::Null => cx.null().upcast(),
        Transfer::Bool(b) => cx.boolean(b).upcast(),
        Transfer::Number(n) => cx.number(n).upcast(),
        Transfer::String(s) => match cx.try_string(s) {
            Ok(s) => s.upcast(),
            // Longer than Node's strings may be (a guest's rope can be).
            Err(_) => return cx.throw_range_error("Invalid string length"),
        },
        Transfer::BigInt { negative, words } => {
            let sign = if negative { Sign::Negative } else { Sign::Positive };
            JsBigInt::from_digits_le(cx, sign, &words).upcast()
        }
        Transfer::String16(units) => string16(cx, &units)?,
        Transfer::Function(remote, name, length) => {
            let b = cx.boxed(RemoteBox { remote, type_of: Typeof::Function });
            let name = cx.try_string(name).unwrap_or_else(|_| cx.string(""));
            let length = cx.number(length);
            helpers::call(cx, helpers::WRAP_FUNCTION, &[b.upcast(), name.upcast(), length.upcast()])?
        }
        Transfer::Serialized(s) => {
            if s.handles.is_empty() {
                // The plain-data fast path: the packed form (read by
                // lib/transfer.js `decodePacked`), or JSON text when the
                // clone is small or its objects do not share shapes.
                if let Some(p) = super::plain::to_packed(s.bytes()) {
                    if let Some(buf) = super::packed::node_buffer(&p, s.bytes()) {
                        let buf = JsArrayBuffer::external(cx, buf);
                        let shapes = cx.string(p.shapes_json());
                        let none = cx.undefined();
                        let value = helpers::call(cx, helpers::DESERIALIZE, &[buf.upcast(), none.upcast(), shapes.upcast()])?;
                        super::plain::note_taken();
                        return Ok(value);
                    }
                }
                if let Some(json) = super::plain::to_json(s.bytes()) {
                    if let Ok(text) = cx.try_string(json) {
                        return helpers::call(cx, helpers::DESERIALIZE, &[text.upcast()]);
                    }
                }
            }
            let (bytes, handles) = s.into_parts();
            let buf = JsBuffer::external(cx, bytes);
            if handles.is_empty() {
                helpers::call(cx, helpers::DESERIALIZE, &[buf.upcast()])?
            } else {
                let arr = cx.empty_array();
                for (i, h) in handles.into_iter().enumerate() {
                    let v = to_js(cx, h)?;
                    arr.set(cx, i as u32, v)?;
                }
                helpers::call(cx, helpers::DESERIALIZE, &[buf.upcast(), arr.upcast()])?
            }
        }
        Transfer::Reference(remote, type_of) => {
            let b = cx.boxed(RemoteBox { remote, type_of });
            let t = cx.string(type_of.as_str());
            helpers::call(cx, helpers::WRAP_REFERENCE, &[b.upcast(), t.upcast()])?
        }
        Transfer::Callback(hf) => hf.func.to_inner(cx).upcast(),
        // A guest value's derefInto() sent to Node: only its own isolate can use it.
        Transfer::Deref(_) => return cx.throw_type_error("Cannot dereference this into target isolate"),
        Transfer::External(d) => crate::node::external_copy::wrap(cx, d)?,
        Transfer::Promise(p) => {
            let link = crate::node::envlink::begin(cx)?;
            let (deferred, promise) = cx.promise();
            p.attach_node(link, deferred);
            promise.upcast()
        }
        Transfer::CopyInto(d, transfer_in) => crate::node::external_copy::node_value(cx, &d, transfer_in)?,
        Transfer::HostRef(r) => r.obj.to_inner(cx).upcast(),
        Transfer::ErrorCause(parts) => {
            let (error, cause) = *parts;
            let error = to_js(cx, error)?;
            let cause = to_js(cx, cause)?;
            if let Ok(obj) = error.downcast::<JsObject, _>(cx) {
                // Not enumerable, as `new Error(m, {cause})` makes it.
                let object: Handle<JsFunction> = cx.global("Object")?;
                let define: Handle<JsFunction> = object.get(cx, "defineProperty")?;
                let desc = cx.empty_object();
                desc.set(cx, "value", cause)?;
                let yes = cx.boolean(true);
                desc.set(cx, "writable", yes)?;
                desc.set(cx, "configurable", yes)?;
                let key = cx.string("cause");
                define.call(cx, object, [obj.upcast(), key.upcast(), desc.upcast()])?;
            }
            error
        }
        Transfer::Handles(ids, iso) => {
            let arr = cx.empty_array();
            for (i, id) in ids.into_iter().enumerate() {
                let b = cx.boxed(RemoteBox { remote: Arc::new(Remote::new(iso.clone(), id)), type_of: Typeof::Object });
                arr.set(cx, i as u32, b)?;
            }
            arr.upcast()
        }
        Transfer::Library => {
            let k = cx.string("library").upcast();
            helpers::call(cx, helpers::WRAP_HANDLE, &[k])?
        }
        Transfer::Isolate(o) => {
            let k = cx.string("isolate").upcast();
            let b = cx.boxed(crate::node::isolate::IsoBox(o)).upcast();
            helpers::call(cx, helpers::WRAP_HANDLE, &[k, b])?
        }
        Transfer::Context(c, g) => {
            let k = cx.string("context").upcast();
            let c = cx.boxed(RemoteBox { remote: c, type_of: Typeof::Object }).upcast();
            let g = cx.boxed(RemoteBox { remote: g, type_of: Typeof::Object }).upcast();
            helpers::call(cx, helpers::WRAP_HANDLE, &[k, c, g])?
        }
        Transfer::Script(s) => {
            let k = cx.string("script").upcast();
            let b = cx.boxed(RemoteBox { remote: s, type_of: Typeof::Object }).upcast();
            helpers::call(cx, helpers::WRAP_HANDLE, &[k, b])?
        }
        Transfer::Module(m) => crate::node::module::wrap(cx, m)?,
        Transfer::Record(fields) => {
            let obj = cx.empty_object();
            for (k, v) in fields {
                let v = to_js(cx, v)?;
                obj.set(cx, k, v)?;
            }
            obj.upcast()
        }
        Transfer::List(items) => {
            // Sized up front: growing an empty array element by element
            // reallocates its backing store.
            let arr = JsArray::new(cx, items.len());
            for (i, v) in items.into_iter().enumerate() {
                let v = to_js(cx, v)?;
                arr.set(cx, i as u32, v)?;
            }
            arr.upcast()
        }
    })
}

/// Turns a failure into the JS value to throw. `site` is the caller's stack,
/// captured when an async call was made.
pub fn failure_to_js<'a>(
    cx: &mut impl Context<'a>,
    f: Failure,
    site: Option<Handle<'a, JsValue>>,
) -> JsResult<'a, JsValue> {
    let (code, message, class, name, stack) = match f {
        Failure::ThrownValue(t) => return to_js(cx, t),
        Failure::Thrown(info) => {
            let code = if info.verbatim { "rejection" } else { "guest" };
            (code, info.message, info.class.as_str(), info.name, info.stack)
        }
        Failure::Timeout => ("timeout", "Script execution timed out.".into(), "Error", None, None),
        Failure::TimeoutAt(stack) => (
            "timeout",
            "Script execution timed out.".into(),
            "Error",
            None,
            stack.map(|s| format!("Error: Script execution timed out.\n{s}")),
        ),
        Failure::Disposed => ("disposed", "Isolate was disposed during execution".into(), "Error", None, None),
        Failure::MemoryLimit => (
            "memory",
            "Isolate was disposed during execution due to memory limit".into(),
            "Error",
            None,
            None,
        ),
        Failure::IsolateDisposed => ("isolate_disposed", "Isolate is disposed".into(), "Error", None, None),
        Failure::TypeError(m) => ("host", m, "TypeError", None, None),
        Failure::RangeError(m) => ("host", m, "RangeError", None, None),
        Failure::Error(m) => ("host", m, "Error", None, None),
    };
    let args: Vec<Handle<JsValue>> = vec![
        cx.string(code).upcast(),
        cx.string(message).upcast(),
        cx.string(class).upcast(),
        match name {
            Some(n) => cx.string(n).upcast(),
            None => cx.undefined().upcast(),
        },
        match stack {
            Some(s) => cx.string(s).upcast(),
            None => cx.undefined().upcast(),
        },
        site.unwrap_or_else(|| cx.undefined().upcast()),
    ];
    helpers::call(cx, helpers::MAKE_ERROR, &args)
}
