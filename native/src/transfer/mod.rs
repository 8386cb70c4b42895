//! Values in flight between isolates and Node: the forms a value takes while
//! it crosses a thread, and the encoders that produce and consume them.

pub mod capture;
pub mod error;
pub mod external;
pub mod materialize;
pub mod node;
pub mod packed;
pub mod plain;
pub mod promise;
pub mod serde;

use std::sync::Arc;

use crate::engine::isolate::{IsolateHost, IsolateRef};

/// A value on its way from one heap to another.
pub enum Transfer {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    BigInt { negative: bool, words: Vec<u64> },
    String(String),
    /// A string with unpaired surrogates, as UTF-16 code units.
    String16(Vec<u16>),
    /// A structured clone, in V8's wire format.
    Serialized(Serialized),
    /// A handle to a value that stays in its isolate.
    Reference(Arc<Remote>, Typeof),
    /// A reference to be dereferenced on arrival (`derefInto`): the value
    /// itself if it arrives in its own isolate.
    Deref(Arc<Remote>),
    /// A guest function, callable from Node (arguments and result copied).
    Function(Arc<Remote>, String, i32),
    /// A Node value a guest may hold a Reference to.
    HostRef(Arc<crate::node::host::HostRef>),
    /// A Node function guests may call.
    Callback(Arc<crate::node::host::HostFn>),
    /// An ExternalCopy: arrives as an ExternalCopy object.
    External(Arc<external::ExternalData>),
    /// The result of `copyInto()`: arrives as the copied value (`true`:
    /// moving an ArrayBuffer's memory in).
    CopyInto(Arc<external::ExternalData>, bool),
    /// A Node promise (`{promise: true}`): arrives as a promise that settles
    /// with the transferred result.
    Promise(Arc<promise::Pending>),
    /// Raw handle-table ids of a new Context, Script...: wrapped by the caller.
    Handles(Vec<u64>, IsolateRef),
    /// The module object: the guest gets its own copy of the library.
    Library,
    /// An Isolate (its owner: the isolate lives while this does).
    Isolate(IsolateRef),
    /// A Context: the context and its global object.
    Context(Arc<Remote>, Arc<Remote>),
    /// A compiled Script.
    Script(Arc<Remote>),
    /// A compiled Module.
    Module(Arc<ModuleRef>),
    /// Engine data (heap statistics and such), as a plain object.
    Record(Vec<(&'static str, Transfer)>),
    List(Vec<Transfer>),
    /// An Error with a `cause`, from Node, and its cause. Node's V8 writes
    /// an error's cause before its stack, ours reads it after, so the two
    /// travel apart (the error without its cause) and are joined on arrival.
    ErrorCause(Box<(Transfer, Transfer)>),
}

/// Structured-clone bytes. Written by our V8 (format 16) or by Node's V8
/// (older formats, which our V8 also reads).
pub struct Serialized {
    /// Empty when `packed` holds the bytes (read them with `bytes()`).
    bytes: Vec<u8>,
    /// The handles (References, ExternalCopies, Callbacks...) met inside the
    /// value: the clone holds host-object records that name them by index.
    pub handles: Vec<Transfer>,
    /// The packed form of a plain clone, when Node's thread made it (see
    /// `plain::node_clone`), with the bytes.
    packed: Option<Arc<plain::Prepacked>>,
}

impl Serialized {
    pub fn new(bytes: Vec<u8>, handles: Vec<Transfer>) -> Serialized {
        Serialized { bytes, handles, packed: None }
    }

    pub fn from_packed(p: Arc<plain::Prepacked>) -> Serialized {
        Serialized { bytes: Vec::new(), handles: Vec::new(), packed: Some(p) }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.packed {
            Some(p) => p.bytes(),
            None => &self.bytes,
        }
    }

    /// The bytes (copied out of the packed form if it holds them) and the
    /// handles.
    pub fn into_parts(self) -> (Vec<u8>, Vec<Transfer>) {
        let bytes = match &self.packed {
            Some(p) => p.bytes().to_vec(),
            None => self.bytes,
        };
        (bytes, self.handles)
    }

    pub fn plain(bytes: Vec<u8>) -> Serialized {
        Serialized::new(bytes, Vec::new())
    }
}

impl Transfer {
    /// Another `Transfer` for the same handle, for values kept and sent many
    /// times (ExternalCopy contents); None for what can be used only once.
    pub fn share(&self) -> Option<Transfer> {
        Some(match self {
            Transfer::Reference(r, t) => Transfer::Reference(r.clone(), *t),
            Transfer::Function(r, n, l) => Transfer::Function(r.clone(), n.clone(), *l),
            Transfer::HostRef(r) => Transfer::HostRef(r.clone()),
            Transfer::Callback(f) => Transfer::Callback(f.clone()),
            Transfer::External(d) => Transfer::External(d.clone()),
            // A SharedArrayBuffer inside a clone: every copy shares the memory.
            Transfer::CopyInto(d, false) if d.is_shared_buffer() => Transfer::CopyInto(d.clone(), false),
            Transfer::Isolate(o) => Transfer::Isolate(o.clone()),
            Transfer::Context(c, g) => Transfer::Context(c.clone(), g.clone()),
            Transfer::Script(s) => Transfer::Script(s.clone()),
            Transfer::Module(m) => Transfer::Module(m.clone()),
            Transfer::Library => Transfer::Library,
            Transfer::ErrorCause(parts) => Transfer::ErrorCause(Box::new((parts.0.share_value()?, parts.1.share_value()?))),
            _ => return None,
        })
    }

    /// `share`, also for copies (structured clones and primitives, copied).
    fn share_value(&self) -> Option<Transfer> {
        match self {
            Transfer::Serialized(s) => Some(Transfer::Serialized(Serialized {
                bytes: s.bytes.clone(),
                handles: s.handles.iter().map(|h| h.share()).collect::<Option<Vec<_>>>()?,
                packed: s.packed.clone(),
            })),
            t if t.is_primitive() => Some(external::clone_primitive(t)),
            _ => self.share(),
        }
    }

    /// Whether this is a primitive value (copied, no handle).
    pub fn is_primitive(&self) -> bool {
        matches!(
            self,
            Transfer::Undefined
                | Transfer::Null
                | Transfer::Bool(_)
                | Transfer::Number(_)
                | Transfer::BigInt { .. }
                | Transfer::String(_)
                | Transfer::String16(_)
        )
    }
}

/// `typeof` as isolated-vm reports it (symbols and bigints are "object").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typeof {
    Undefined,
    Null,
    Number,
    String,
    Boolean,
    Object,
    Function,
}

impl Typeof {
    pub fn as_str(self) -> &'static str {
        match self {
            Typeof::Undefined => "undefined",
            Typeof::Null => "null",
            Typeof::Number => "number",
            Typeof::String => "string",
            Typeof::Boolean => "boolean",
            Typeof::Object => "object",
            Typeof::Function => "function",
        }
    }
}

/// An entry in an isolate's handle table, owned from outside. Dropping it
/// releases the entry (in queue order, on the isolate's thread).
pub struct Remote {
    pub iso: IsolateRef,
    pub id: u64,
    released: std::sync::atomic::AtomicBool,
}

impl Remote {
    pub fn new(iso: IsolateRef, id: u64) -> Remote {
        Remote { iso, id, released: Default::default() }
    }
    pub fn host(&self) -> &Arc<IsolateHost> {
        &self.iso.host
    }
    /// Releases the handle; false if it was already released.
    pub fn release(&self) -> bool {
        if self.released.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return false;
        }
        self.iso.host.release(self.id);
        true
    }
    pub fn is_released(&self) -> bool {
        self.released.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.release();
    }
}

/// A compiled module, shared by every handle to it (Node's and each guest's,
/// however many times it crossed): its entry in the table lives while one of
/// them does, and a handle released drops only its own share.
pub struct ModuleRef {
    pub remote: Arc<Remote>,
    /// The module's import specifiers, read when it was compiled.
    pub specifiers: Vec<String>,
    /// Whether V8 linked it (through any handle). Set on the isolate thread
    /// (the module's record holds the same flag) before the call that
    /// linked it returns, read by every handle to skip the resolver.
    pub linked: Arc<std::sync::atomic::AtomicBool>,
}

impl ModuleRef {
    pub fn is_linked(&self) -> bool {
        self.linked.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// The class of an error that crosses a boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Error,
    RangeError,
    ReferenceError,
    SyntaxError,
    TypeError,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Error => "Error",
            ErrorClass::RangeError => "RangeError",
            ErrorClass::ReferenceError => "ReferenceError",
            ErrorClass::SyntaxError => "SyntaxError",
            ErrorClass::TypeError => "TypeError",
        }
    }
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        Some(match name {
            "Error" => ErrorClass::Error,
            "RangeError" => ErrorClass::RangeError,
            "ReferenceError" => ErrorClass::ReferenceError,
            "SyntaxError" => ErrorClass::SyntaxError,
            "TypeError" => ErrorClass::TypeError,
            _ => return None,
        })
    }
}

/// A copied guest error: enough to re-create it on the other side.
pub struct ErrorInfo {
    pub class: ErrorClass,
    /// The guest's `name`, when it differs from the class name.
    pub name: Option<String>,
    pub message: String,
    /// The guest-side stack (first line included), if it had one.
    pub stack: Option<String>,
    /// A promise's rejection reason: its stack is the guest's own, as it
    /// was, and gets no boundary line (as in isolated-vm).
    pub verbatim: bool,
}

/// Why a call did not produce a value.
pub enum Failure {
    /// The guest threw an Error.
    Thrown(ErrorInfo),
    /// The guest threw something else (a primitive comes back as itself).
    ThrownValue(Transfer),
    /// "Script execution timed out."
    Timeout,
    /// A timeout, with the guest stack that was running.
    TimeoutAt(Option<String>),
    /// "Isolate was disposed during execution"
    Disposed,
    /// "Isolate was disposed during execution due to memory limit"
    MemoryLimit,
    /// "Isolate is disposed" (the call never ran)
    IsolateDisposed,
    TypeError(String),
    RangeError(String),
    Error(String),
}

impl Failure {
    pub fn type_error(msg: impl Into<String>) -> Failure {
        Failure::TypeError(msg.into())
    }
    pub fn error(msg: impl Into<String>) -> Failure {
        Failure::Error(msg.into())
    }
    /// The failure of work cut short by V8's termination (dispose, memory
    /// limit, timeout) before the runner names the reason.
    pub fn terminated() -> Failure {
        Failure::Error(TERMINATED.into())
    }
    pub fn is_terminated(&self) -> bool {
        matches!(self, Failure::Error(m) if m == TERMINATED)
    }
}

const TERMINATED: &str = "Script execution was terminated";

/// The most arguments a call across isolates takes (V8's own limit for a
/// function's parameters). An arguments array is read element by element
/// up to its length, which a sparse array sets as high as 2^32 - 1 with one
/// element: reading that many (or making room for them) would hang or abort
/// the process.
pub const MAX_ARGUMENTS: u32 = 65535;

/// The RangeError for an arguments list longer than `MAX_ARGUMENTS`.
pub fn too_many_arguments() -> Failure {
    Failure::RangeError(format!("`arguments` must have at most {MAX_ARGUMENTS} elements"))
}

pub type Outcome = Result<Transfer, Failure>;

/// How a value leaves an isolate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Primitives are copied; anything else follows the fallback.
    Default(Fallback),
    /// Structured clone.
    Copy,
    /// An ExternalCopy of the value (`{externalCopy: true}`).
    External,
    /// A Reference to the value.
    Reference,
}

/// What a non-transferable value becomes under the default mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    Undefined,
    Reference,
    Reject,
    /// A structured clone: a copy in which functions and the library's
    /// handles still cross as themselves (the results of functions that
    /// cross as functions, like isolated-vm's Callback results).
    Copy,
}

impl Mode {
    /// Decodes the option code the JS layer passes: 0 default, 1 copy,
    /// 2 externalCopy, 3 reference; 8 (internal) a copy that keeps functions.
    pub fn from_code(code: u32, fallback: Fallback) -> Mode {
        if code & 8 != 0 {
            return Mode::Default(Fallback::Copy);
        }
        match code & 3 {
            1 => Mode::Copy,
            2 => Mode::External,
            3 => Mode::Reference,
            _ => Mode::Default(fallback),
        }
    }
}
