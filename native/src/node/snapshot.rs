//! Startup snapshots, Node side: `Isolate.createSnapshot` and loading a
//! snapshot for `new Isolate({snapshot})` / `IsolatePool`.

use std::sync::Arc;
use std::time::Duration;

use neon::prelude::*;

use super::call::settle;
use crate::engine::snapshot::{self, Blob, Limits, Source};
use crate::ops::Origin;
use crate::transfer::external::ExternalData;

/// A verified snapshot, ready for isolates to start from.
pub struct SnapBox(pub Arc<Blob>);

impl Finalize for SnapBox {}

/// Reads `[code, filename, lineOffset, columnOffset]`.
fn source<'a>(cx: &mut FunctionContext<'a>, v: Handle<'a, JsValue>) -> NeonResult<Source> {
    let a = v.downcast_or_throw::<JsArray, _>(cx)?;
    let code = a.get::<JsString, _, _>(cx, 0)?.value(cx);
    let mut origin = Origin::default();
    if let Ok(f) = a.get::<JsValue, _, _>(cx, 1)?.downcast::<JsString, _>(cx) {
        origin.filename = f.value(cx);
    }
    if let Ok(n) = a.get::<JsValue, _, _>(cx, 2)?.downcast::<JsNumber, _>(cx) {
        origin.line_offset = n.value(cx) as i32;
    }
    if let Ok(n) = a.get::<JsValue, _, _>(cx, 3)?.downcast::<JsNumber, _>(cx) {
        origin.column_offset = n.value(cx) as i32;
    }
    Ok(Source { code, origin })
}

/// `snapshotCreate(scripts, warmup, timeoutMs, memoryLimitMB)` ->
/// `[ExternalCopy of an ArrayBuffer (the sealed blob), SnapBox]`. Blocks until the snapshot thread
/// is done (no guest code can call into Node while a snapshot is made).
pub fn create(mut cx: FunctionContext) -> JsResult<JsValue> {
    let list = cx.argument::<JsArray>(0)?;
    let mut scripts = Vec::new();
    for i in 0..list.len(&mut cx) {
        let v = list.get::<JsValue, _, _>(&mut cx, i)?;
        scripts.push(source(&mut cx, v)?);
    }
    let warmup = match cx.argument_opt(1) {
        Some(v) if v.is_a::<JsArray, _>(&mut cx) => Some(source(&mut cx, v)?),
        _ => None,
    };
    let ms = cx.argument::<JsNumber>(2)?.value(&mut cx);
    let mb = cx.argument::<JsNumber>(3)?.value(&mut cx);
    let limits = Limits {
        timeout: (ms > 0.0).then(|| Duration::from_micros((ms * 1000.0) as u64)),
        memory_limit: (mb * 1024.0 * 1024.0) as usize,
    };
    let sealed = match snapshot::create(scripts, warmup, limits) {
        Ok(b) => b,
        Err(f) => return settle(&mut cx, Err(f), None),
    };
    let blob = match snapshot::open(&sealed) {
        Ok(b) => b,
        Err(e) => return cx.throw_error(e),
    };
    let copy = super::external_copy::wrap(&mut cx, ExternalData::array_buffer_of(sealed))?;
    let b = cx.boxed(SnapBox(blob));
    let out = cx.empty_array();
    out.set(&mut cx, 0, copy)?;
    out.set(&mut cx, 1, b)?;
    Ok(out.upcast())
}

pub const NOT_AN_ARRAY_BUFFER: &str = "`snapshot` must be an ExternalCopy to ArrayBuffer";

/// `snapshotOpen(externalCopyBox, cached?)` -> SnapBox. Throws if the copy
/// was released, holds no ArrayBuffer, or holds bytes that are not a
/// snapshot this process made. `cached` (this copy's SnapBox, verified
/// before) is returned as it is.
pub fn open(mut cx: FunctionContext) -> JsResult<JsValue> {
    let d = super::external_copy::data_of(&mut cx, 0)?;
    if let Some(cached) = cx.argument_opt(1).filter(|v| v.is_a::<JsBox<SnapBox>, _>(&mut cx)) {
        return Ok(cached);
    }
    match d.array_buffer().map(|st| snapshot::open(st.bytes())) {
        None => cx.throw_type_error(NOT_AN_ARRAY_BUFFER),
        Some(Ok(b)) => Ok(cx.boxed(SnapBox(b)).upcast()),
        Some(Err(e)) => cx.throw_error(e),
    }
}

/// `snapshotSize(box)`: the V8 blob's size in bytes.
pub fn size(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let b = cx.argument::<JsBox<SnapBox>>(0)?;
    let n = b.0.len();
    Ok(cx.number(n as f64))
}

/// Reads an optional SnapBox argument.
pub fn snapshot_arg(cx: &mut FunctionContext, i: usize) -> NeonResult<Option<Arc<Blob>>> {
    match cx.argument_opt(i) {
        Some(v) => match v.downcast::<JsBox<SnapBox>, _>(cx) {
            Ok(b) => Ok(Some(b.0.clone())),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}
