//! ExternalCopy on Node's side: the JS class holds a box with the shared
//! data. ArrayBuffers leave for Node without a copy when moved
//! (`transferIn`): Node gets an external ArrayBuffer over our backing store.
//! Node-owned memory cannot be adopted, so a Node ArrayBuffer is copied once
//! on its way in, unless it is one of those external buffers coming back.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use parking_lot::Mutex;

use super::helpers;
use crate::transfer::external::{self, ExternalData, Store, Stored, Taken, View, ViewKind};
use crate::transfer::node::{decode, to_js};
use crate::transfer::{Serialized, Transfer};

/// An ExternalCopy handle in Node. The bytes it keeps alive are reported to
/// Node's garbage collector (as isolated-vm does), so that dropped copies are
/// collected, and their memory reused, promptly.
pub struct ExternalBox(pub RefCell<Option<Arc<ExternalData>>>, std::cell::Cell<i64>);

impl ExternalBox {
    fn forget<'a>(&self, cx: &mut impl Context<'a>) {
        let n = self.1.replace(0);
        if n != 0 {
            adjust_external_memory(cx, -n);
        }
    }
}

impl Finalize for ExternalBox {
    fn finalize<'a, C: Context<'a>>(self, cx: &mut C) {
        self.forget(cx);
    }
}

type AdjustExternalMemory = unsafe extern "C" fn(neon::sys::bindings::Env, i64, *mut i64) -> i32;

fn adjust_external_memory<'a>(cx: &mut impl Context<'a>, change: i64) {
    static F: once_cell::sync::OnceCell<usize> = once_cell::sync::OnceCell::new();
    let p = node_api(&F, c"napi_adjust_external_memory");
    if p == 0 {
        return;
    }
    // SAFETY: the symbol is Node-API's function with this exact signature.
    let f = unsafe { std::mem::transmute::<usize, AdjustExternalMemory>(p) };
    let mut total = 0i64;
    // SAFETY: a plain Node-API call on this environment's thread.
    unsafe { f(cx.to_raw(), change, &mut total) };
}

/// A Node-API function neon does not bind, looked up in the running process
/// like neon looks up the rest of Node-API (0 if missing).
fn node_api(cell: &once_cell::sync::OnceCell<usize>, name: &std::ffi::CStr) -> usize {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // process (Node exports its Node-API functions).
    *cell.get_or_init(|| unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize)
}

const RELEASED: &str = "Copy has been released";

/// Our stores that Node holds as external ArrayBuffers, by data address.
static NODE_BUFFERS: once_cell::sync::Lazy<Mutex<HashMap<usize, (u64, Store)>>> =
    once_cell::sync::Lazy::new(|| Mutex::new(HashMap::new()));
static TOKENS: AtomicU64 = AtomicU64::new(1);

/// The memory of a Node external ArrayBuffer: our store.
struct NodeBytes {
    store: Store,
    token: u64,
}

impl AsMut<[u8]> for NodeBytes {
    fn as_mut(&mut self) -> &mut [u8] {
        let p = self.store.ptr();
        // SAFETY: the store keeps `len` bytes alive while this value lives;
        // Node is the only user of this memory (it was moved out to Node).
        unsafe { std::slice::from_raw_parts_mut(p, self.store.len()) }
    }
}

impl Drop for NodeBytes {
    fn drop(&mut self) {
        let mut map = NODE_BUFFERS.lock();
        let k = self.store.ptr() as usize;
        if map.get(&k).is_some_and(|(t, _)| *t == self.token) {
            map.remove(&k);
        }
    }
}

/// A handle for `d`. `report`: the bytes are new to this process's view of
/// Node (a copy, or data from an isolate) and are reported to Node's GC;
/// memory moved in from Node was already counted there.
fn new_box<'a>(cx: &mut impl Context<'a>, d: Arc<ExternalData>, report: bool) -> Handle<'a, JsBox<ExternalBox>> {
    let n = if report { d.size() as i64 } else { 0 };
    if n > 0 {
        adjust_external_memory(cx, n);
    }
    cx.boxed(ExternalBox(RefCell::new(Some(d)), std::cell::Cell::new(n)))
}

pub fn data_of(cx: &mut FunctionContext, i: usize) -> NeonResult<Arc<ExternalData>> {
    let b = cx.argument::<JsBox<ExternalBox>>(i)?;
    let d = b.0.borrow().clone();
    match d {
        Some(d) => Ok(d),
        None => cx.throw_error(RELEASED),
    }
}

/// `externalCopyNew(kind, payload)`: a primitive or structured-clone bytes.
pub fn new(mut cx: FunctionContext) -> JsResult<JsValue> {
    let kind = cx.argument::<JsNumber>(0)?.value(&mut cx) as u32;
    let payload = cx.argument::<JsValue>(1)?;
    let stored = match decode(&mut cx, kind, payload)? {
        Transfer::Serialized(s) => match external::stored_clone(s) {
            Ok(s) => s,
            Err(_) => return cx.throw_type_error(crate::transfer::capture::NON_TRANSFERABLE),
        },
        t => Stored::Value(t),
    };
    Ok(new_box(&mut cx, ExternalData::new(stored), true).upcast())
}

type DetachArrayBuffer = unsafe extern "C" fn(neon::sys::bindings::Env, neon::sys::bindings::Value) -> i32;

/// Node-API's `napi_detach_arraybuffer` (neon does not bind it), looked up in
/// the running process like neon looks up the rest of Node-API.
fn detach_arraybuffer() -> Option<DetachArrayBuffer> {
    static F: once_cell::sync::OnceCell<usize> = once_cell::sync::OnceCell::new();
    let p = node_api(&F, c"napi_detach_arraybuffer");
    // SAFETY: the symbol is Node-API's function with this exact signature.
    (p != 0).then(|| unsafe { std::mem::transmute::<usize, DetachArrayBuffer>(p) })
}

/// `externalCopyBuffer(bytes, viewKind, offset, length, moved, shared, buffer)`:
/// `bytes` is a Uint8Array over the whole `buffer`. A moved buffer that is
/// one of ours (memory we lent Node earlier) is taken back without a copy
/// and detached here; Node's own memory is copied (the caller detaches it).
pub fn from_buffer(mut cx: FunctionContext) -> JsResult<JsValue> {
    let bytes = cx.argument::<JsTypedArray<u8>>(0)?;
    let kind = cx.argument::<JsNumber>(1)?.value(&mut cx) as u32;
    let offset = cx.argument::<JsNumber>(2)?.value(&mut cx) as usize;
    let length = cx.argument::<JsNumber>(3)?.value(&mut cx) as usize;
    let moved = cx.argument::<JsBoolean>(4)?.value(&mut cx);
    let shared = cx.argument::<JsBoolean>(5)?.value(&mut cx);
    let slice = bytes.as_slice(&cx);
    let ours = if moved {
        NODE_BUFFERS
            .lock()
            .get(&(slice.as_ptr() as usize))
            .filter(|(_, s)| s.len() == slice.len())
            .map(|(_, s)| s.clone())
    } else {
        None
    };
    let taken_back = ours.is_some();
    let store = match ours {
        Some(s) => s,
        // Node's SharedArrayBuffer memory cannot be shared through Node-API: copy it
        // into a shared store (the guests that get it share that one).
        None if shared => Store::shared_copy_of(slice),
        None => Store::copy_of(slice),
    };
    if taken_back {
        let buffer = cx.argument::<JsArrayBuffer>(6)?;
        let env = cx.to_raw();
        if let Some(detach) = detach_arraybuffer() {
            // SAFETY: a plain Node-API call on this environment's thread with
            // a live ArrayBuffer handle; our store keeps the memory alive.
            unsafe { detach(env, buffer.to_raw()) };
        }
    }
    let view = ViewKind::from_code(kind).map(|kind| View { kind, offset, length });
    let d = ExternalData::new(Stored::Buffer { store: Some(store), view, shared });
    Ok(new_box(&mut cx, d, !moved).upcast())
}

/// `externalCopyCopy(box, transferIn)`: the value, materialised in Node.
pub fn copy(mut cx: FunctionContext) -> JsResult<JsValue> {
    let d = data_of(&mut cx, 0)?;
    let transfer_in = cx.argument::<JsBoolean>(1)?.value(&mut cx);
    let v = node_value(&mut cx, &d, transfer_in)?;
    if transfer_in && d.size() == 0 {
        // The memory moved out to Node, which counts it now.
        cx.argument::<JsBox<ExternalBox>>(0)?.forget(&mut cx);
    }
    Ok(v)
}

/// `externalCopyInto(box)`: a second handle to the same data (for copyInto).
pub fn into(mut cx: FunctionContext) -> JsResult<JsValue> {
    let d = data_of(&mut cx, 0)?;
    Ok(new_box(&mut cx, d, false).upcast())
}

/// `externalCopyRelease(box)`: false if it was already released.
pub fn release(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let b = cx.argument::<JsBox<ExternalBox>>(0)?;
    let was = b.0.borrow_mut().take().is_some();
    b.forget(&mut cx);
    Ok(cx.boolean(was))
}

pub fn total(mut cx: FunctionContext) -> JsResult<JsNumber> {
    Ok(cx.number(external::total_size() as f64))
}

/// Makes the Node value for ExternalCopy data.
pub fn node_value<'a>(cx: &mut impl Context<'a>, d: &ExternalData, transfer_in: bool) -> JsResult<'a, JsValue> {
    let taken = match d.take(transfer_in) {
        Ok(t) => t,
        Err(_) => return cx.throw_error(external::INVALID_BUFFER),
    };
    match taken {
        Taken::Value(t) => to_js(cx, t),
        Taken::Serialized(bytes, handles) => to_js(cx, Transfer::Serialized(Serialized::new(bytes, handles))),
        Taken::Buffer { store, view, shared, moved } => {
            let ab = if store.len() == 0 {
                JsArrayBuffer::new(cx, 0)?
            } else if moved {
                let token = TOKENS.fetch_add(1, Ordering::Relaxed);
                NODE_BUFFERS.lock().insert(store.ptr() as usize, (token, store.clone()));
                JsArrayBuffer::external(cx, NodeBytes { store, token })
            } else {
                let copy = Store::copy_of(store.bytes());
                JsArrayBuffer::external(cx, NodeBytes { store: copy, token: 0 })
            };
            let (kind, offset, length) = match view {
                Some(v) => (v.kind as u32, v.offset, v.length),
                None => (0, 0, 0),
            };
            let args = [
                ab.upcast(),
                cx.number(kind).upcast(),
                cx.number(offset as f64).upcast(),
                cx.number(length as f64).upcast(),
                cx.boolean(shared).upcast(),
            ];
            helpers::call(cx, helpers::MAKE_VIEW, &args)
        }
    }
}

/// The JS ExternalCopy object for data arriving in Node.
pub fn wrap<'a>(cx: &mut impl Context<'a>, d: Arc<ExternalData>) -> JsResult<'a, JsValue> {
    let b = new_box(cx, d, true);
    helpers::call(cx, helpers::WRAP_EXTERNAL_COPY, &[b.upcast()])
}
