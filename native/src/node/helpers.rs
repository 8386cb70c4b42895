//! JS functions the JS layer hands to native code at load time (one set per
//! Node environment): error construction, structured-clone decoding, and
//! wrapping handles in the user-facing classes.

use neon::prelude::*;
use neon::thread::LocalKey;

pub const MAKE_ERROR: usize = 0;
pub const DESERIALIZE: usize = 1;
pub const WRAP_REFERENCE: usize = 2;
pub const START_POLLING: usize = 3;
pub const ENCODE_COPY: usize = 4;
pub const DESCRIBE_THROWN: usize = 5;
pub const NOOP: usize = 6;
pub const WRAP_FUNCTION: usize = 7;
pub const ENCODE_ARG: usize = 8;
pub const AWAIT_THEN: usize = 9;
pub const MARK_HANDLED: usize = 10;
pub const HOST_REF_OP: usize = 11;
pub const WRAP_EXTERNAL_COPY: usize = 12;
pub const MAKE_VIEW: usize = 13;
pub const WRAP_HANDLE: usize = 14;
const COUNT: usize = 15;

struct Helpers(Vec<Root<JsFunction>>);

static HELPERS: LocalKey<Helpers> = LocalKey::new();

/// `setup(makeError, deserialize, wrapReference, startPolling, encodeCopy, describeThrown, noop, wrapFunction, encodeArg, awaitThen, markHandled, hostRefOp, wrapExternalCopy, makeView, wrapHandle)`
pub fn setup(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let mut fns = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let f = cx.argument::<JsFunction>(i)?;
        fns.push(f.root(&mut cx));
    }
    let mut fns = Some(fns);
    HELPERS.get_or_init(&mut cx, || Helpers(fns.take().unwrap()));
    Ok(cx.undefined())
}

/// One helper function, if helpers are set up in this environment.
pub fn get<'a>(cx: &mut impl Context<'a>, which: usize) -> Option<Handle<'a, JsFunction>> {
    let h = HELPERS.get(cx)?;
    Some(h.0[which].to_inner(cx))
}

pub fn call<'a>(cx: &mut impl Context<'a>, which: usize, args: &[Handle<'a, JsValue>]) -> JsResult<'a, JsValue> {
    let f = match HELPERS.get(cx) {
        Some(h) => h.0[which].to_inner(cx),
        None => return cx.throw_error("v8-isolates: native helpers are not set up"),
    };
    let this = cx.undefined();
    f.call(cx, this, args)
}
