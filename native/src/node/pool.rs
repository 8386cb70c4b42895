//! IsolatePool, Node side: a pool of ready isolates, each with a context
//! already made, refilled on background threads.

use std::sync::Arc;

use neon::prelude::*;

use super::isolate::IsoBox;
use crate::engine::pool::Spares;
use crate::engine::runner::{Options, Warm};
use crate::transfer::node::RemoteBox;
use crate::transfer::{Remote, Typeof};

pub struct PoolBox(pub Arc<Spares>);

impl Finalize for PoolBox {
    fn finalize<'a, C: Context<'a>>(self, _cx: &mut C) {
        self.0.close();
    }
}

/// `poolNew(size, memoryLimitMB, snapshot?)`
pub fn new(mut cx: FunctionContext) -> JsResult<JsBox<PoolBox>> {
    let size = cx.argument::<JsNumber>(0)?.value(&mut cx) as usize;
    let mb = cx.argument::<JsNumber>(1)?.value(&mut cx);
    let snapshot = super::snapshot::snapshot_arg(&mut cx, 2)?;
    let opts = Options { memory_limit: (mb * 1024.0 * 1024.0) as usize, snapshot };
    Ok(cx.boxed(PoolBox(Spares::new(opts, Warm::Prepared, size))))
}

/// `poolAcquire(pool)` -> `[isolate, context, global]`, or `[isolate]` if
/// the isolate has no context made in advance.
pub fn acquire(mut cx: FunctionContext) -> JsResult<JsArray> {
    let pool = cx.argument::<JsBox<PoolBox>>(0)?;
    let host = match pool.0.acquire() {
        Ok(h) => h,
        Err(e) => return cx.throw_error(e),
    };
    super::env::register(&mut cx, &host);
    let owner = host.make_owner();
    let out = cx.empty_array();
    if let Some((ctx, global)) = host.take_prepared() {
        for (i, id) in [ctx, global].into_iter().enumerate() {
            let b = cx.boxed(RemoteBox { remote: Arc::new(Remote::new(owner.clone(), id)), type_of: Typeof::Object });
            out.set(&mut cx, i as u32 + 1, b)?;
        }
    }
    let iso = cx.boxed(IsoBox(owner));
    out.set(&mut cx, 0, iso)?;
    Ok(out)
}

/// `poolReady(pool)`: isolates ready now.
pub fn ready(mut cx: FunctionContext) -> JsResult<JsNumber> {
    let pool = cx.argument::<JsBox<PoolBox>>(0)?;
    let n = pool.0.ready();
    Ok(cx.number(n as f64))
}

/// `poolDispose(pool)`
pub fn dispose(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let pool = cx.argument::<JsBox<PoolBox>>(0)?;
    pool.0.close();
    Ok(cx.undefined())
}
