//! Compiling and running code: scripts, eval and evalClosure.

use super::{CacheOptions, Origin};
use crate::engine::runner::{Entry, State};
use crate::transfer::error::{capture_compile_error, capture_exception};
use crate::transfer::materialize::materialize;
use crate::transfer::{Failure, Mode, Outcome, Transfer};

pub const CONTEXT_RELEASED: &str = "Context is released";
pub const SCRIPT_RELEASED: &str = "Script has been released";

pub fn origin<'s>(scope: &mut v8::PinScope<'s, '_>, o: &Origin) -> v8::ScriptOrigin<'s> {
    let name = v8::String::new(scope, &o.filename).unwrap();
    v8::ScriptOrigin::new(scope, name.into(), o.line_offset, o.column_offset, false, 0, None, false, false, false, None)
}

fn source_string<'s>(scope: &mut v8::PinScope<'s, '_>, code: &str) -> Result<v8::Local<'s, v8::String>, Failure> {
    v8::String::new(scope, code).ok_or_else(|| Failure::RangeError("Invalid string length".into()))
}

/// Compiles a script that can run in any context of this isolate. Result:
/// `[[handle], cachedData?, cachedDataRejected?]`.
pub fn compile_script(iso: &mut v8::Isolate, st: &State, code: String, o: Origin, cache: CacheOptions) -> Outcome {
    let ctx = st.default_context(iso);
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let src = source_string(tc, &code)?;
    let origin = origin(tc, &o);
    let supplied = cache.data.is_some();
    let usable = cache.data_for(&code);
    let (mut source, options) = if let Some(bytes) = usable {
        let data = v8::script_compiler::CachedData::new(bytes);
        (
            v8::script_compiler::Source::new_with_cached_data(src, Some(&origin), data),
            v8::script_compiler::CompileOptions::ConsumeCodeCache,
        )
    } else {
        (v8::script_compiler::Source::new(src, Some(&origin)), v8::script_compiler::CompileOptions::NoCompileOptions)
    };
    let unbound =
        v8::script_compiler::compile_unbound_script(tc, &mut source, options, v8::script_compiler::NoCacheReason::NoReason);
    let rejected = supplied.then(|| usable.is_none() || source.get_cached_data().is_none_or(|c| c.rejected()));
    match unbound {
        Some(u) => {
            let produced = if cache.produce && rejected != Some(false) {
                u.create_code_cache().map(|c| Transfer::External(crate::transfer::external::ExternalData::array_buffer_of(super::seal_cache(&code, &c))))
            } else {
                None
            };
            let id = st.insert(Entry::Script(v8::Global::new(tc, u)));
            Ok(Transfer::List(vec![
                Transfer::Handles(vec![id], st.owner()?),
                produced.unwrap_or(Transfer::Undefined),
                rejected.map(Transfer::Bool).unwrap_or(Transfer::Undefined),
            ]))
        }
        None => {
            let (exc, msg) = (tc.exception(), tc.message());
            Err(capture_compile_error(tc, exc, msg))
        }
    }
}

/// Runs a compiled script in a context.
pub fn run_script(iso: &mut v8::Isolate, st: &State, script: u64, context: u64, mode: Mode) -> Outcome {
    let ctx = st.context(context).ok_or_else(|| Failure::error(CONTEXT_RELEASED))?;
    let unbound = st.script(script).ok_or_else(|| Failure::error(SCRIPT_RELEASED))?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let unbound = v8::Local::new(tc, unbound);
    let script = unbound.bind_to_current_context(tc);
    match script.run(tc) {
        Some(v) => crate::transfer::promise::result(tc, st, v, mode),
        None => {
            let exc = tc.exception();
            Err(capture_exception(tc, exc))
        }
    }
}

/// Sources up to this size are remembered by `eval` (see `State::last_eval`).
const EVAL_CACHE_MAX: usize = 64 << 10;

/// The last script `eval` ran (see `State::last_eval`).
pub struct LastEval {
    code: String,
    origin: Origin,
    unbound: v8::Global<v8::UnboundScript>,
}

/// Compiles and runs code in a context (Context.eval).
pub fn eval(iso: &mut v8::Isolate, st: &State, context: u64, code: &str, o: Origin, mode: Mode) -> Outcome {
    v8::scope!(let hs, iso);
    let ctx = st.context_local(hs, context).ok_or_else(|| Failure::error(CONTEXT_RELEASED))?;
    let scope = &mut v8::ContextScope::new(hs, ctx);
    v8::tc_scope!(let tc, scope);
    let cached = match &*st.last_eval.borrow() {
        Some(last) if last.code == code && last.origin == o => Some(v8::Local::new(tc, &last.unbound)),
        _ => None,
    };
    let unbound = match cached {
        Some(u) => u,
        None => {
            let src = source_string(tc, code)?;
            let origin = origin(tc, &o);
            let mut source = v8::script_compiler::Source::new(src, Some(&origin));
            let Some(u) = v8::script_compiler::compile_unbound_script(
                tc,
                &mut source,
                v8::script_compiler::CompileOptions::NoCompileOptions,
                v8::script_compiler::NoCacheReason::NoReason,
            ) else {
                let (exc, msg) = (tc.exception(), tc.message());
                return Err(capture_compile_error(tc, exc, msg));
            };
            if code.len() <= EVAL_CACHE_MAX {
                *st.last_eval.borrow_mut() = Some(LastEval { code: code.to_string(), origin: o, unbound: v8::Global::new(tc, u) });
            }
            u
        }
    };
    // Bound for every run: running one bound script again is not safe (V8
    // hits a fatal error when a second run of a script redeclares its
    // top-level `let`, where a fresh binding throws the SyntaxError).
    let script = unbound.bind_to_current_context(tc);
    match script.run(tc) {
        Some(v) => crate::transfer::promise::result(tc, st, v, mode),
        None => {
            let exc = tc.exception();
            Err(capture_exception(tc, exc))
        }
    }
}

/// Compiles `code` as a function body with parameters `$0..$N` and calls it
/// with the context's global as receiver (Context.evalClosure).
pub fn eval_closure(
    iso: &mut v8::Isolate,
    st: &State,
    context: u64,
    code: String,
    o: Origin,
    args: Vec<Transfer>,
    mode: Mode,
) -> Outcome {
    let ctx = st.context(context).ok_or_else(|| Failure::error(CONTEXT_RELEASED))?;
    v8::scope_with_context!(let scope, iso, &ctx);
    v8::tc_scope!(let tc, scope);
    let src = source_string(tc, &code)?;
    let origin = origin(tc, &o);
    let params: Vec<v8::Local<v8::String>> =
        (0..args.len()).map(|i| v8::String::new(tc, &format!("${i}")).unwrap()).collect();
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        values.push(materialize(tc, st, a)?);
    }
    let mut source = v8::script_compiler::Source::new(src, Some(&origin));
    let Some(f) = v8::script_compiler::compile_function(
        tc,
        &mut source,
        &params,
        &[],
        v8::script_compiler::CompileOptions::NoCompileOptions,
        v8::script_compiler::NoCacheReason::NoReason,
    ) else {
        let (exc, msg) = (tc.exception(), tc.message());
        return Err(capture_compile_error(tc, exc, msg));
    };
    let global = tc.get_current_context().global(tc);
    match f.call(tc, global.into(), &values) {
        Some(v) => crate::transfer::promise::result(tc, st, v, mode),
        None => {
            let exc = tc.exception();
            Err(capture_exception(tc, exc))
        }
    }
}
