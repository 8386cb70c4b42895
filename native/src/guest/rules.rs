//! Threading rules for calls made by guest code. A guest runs on its
//! isolate's own thread; what it may block on depends on whether the call it
//! runs in was made synchronously (its caller is blocked until it returns) or
//! asynchronously (its caller waits for a promise).

use crate::engine::runner::State;
use crate::transfer::Failure;

pub const DEFAULT_THREAD: &str = "This function may not be called from the default thread";
pub const SYNC_FROM_ASYNC: &str = "Calling a synchronous isolated-vm function on a non-default isolate from within an asynchronous isolated-vm function is not allowed.";

/// `applySyncPromise` blocks the guest until a Node promise settles, which
/// needs Node's event loop to run. Under a sync call the Node thread (or the
/// isolate that called in) is itself blocked waiting for this guest, so the
/// promise could never settle: refused, with isolated-vm's message (there,
/// guest code run by a sync call runs on Node's own thread).
pub fn check_sync_promise(st: &State) -> Result<(), Failure> {
    if st.caller_blocked() {
        return Err(Failure::error(DEFAULT_THREAD));
    }
    Ok(())
}

/// A `*Sync` call from this guest into another non-default isolate. Allowed
/// while the guest runs under a sync call (the chain of blocked callers ends
/// at a Node thread, as in isolated-vm where such code runs on Node's
/// thread); refused when the guest runs asynchronously, since two isolates
/// doing this to each other would wait for each other forever.
pub fn check_sync_into_isolate(st: &State) -> Result<(), Failure> {
    if !st.caller_blocked() {
        return Err(Failure::error(SYNC_FROM_ASYNC));
    }
    Ok(())
}
