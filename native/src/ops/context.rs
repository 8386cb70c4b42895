//! Creating contexts.

use crate::engine::runner::{Entry, State};
use crate::transfer::{Outcome, Transfer};

/// Creates a context; returns the ids of the context and of its global.
/// With `inspect`, the context is shown to the isolate's inspector sessions.
pub fn create_context(iso: &mut v8::Isolate, st: &State, inspect: bool) -> Outcome {
    let ids = insert_new_context(iso, st, inspect);
    Ok(Transfer::Handles(vec![ids.0, ids.1], st.owner()?))
}

/// Makes a context (or takes the spare one) and stores it and its global in
/// the handle table: returns their ids.
pub fn insert_new_context(iso: &mut v8::Isolate, st: &State, inspect: bool) -> (u64, u64) {
    let spare = st.take_spare_context();
    let agent = inspect.then(|| crate::engine::inspector::agent(iso, st));
    v8::scope!(let scope, iso);
    let ctx = match spare {
        Some(c) => v8::Local::new(scope, c),
        None => crate::engine::runner::new_context(scope),
    };
    if let Some(agent) = agent {
        agent.context_created(scope, ctx, "v8-isolates context");
    }
    let global = ctx.global(scope);
    let ctx_g = v8::Global::new(scope, ctx);
    let ctx_id = st.insert(Entry::Context(ctx_g.clone()));
    let global_id = st.insert(Entry::Value { value: v8::Global::new(scope, v8::Local::<v8::Value>::from(global)), context: ctx_g });
    (ctx_id, global_id)
}
