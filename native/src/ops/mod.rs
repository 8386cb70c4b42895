//! What each call does on the isolate thread: the bodies of the jobs that the
//! Node side (and, later, guests) queue. Every op gets the isolate and the
//! thread's state and returns an `Outcome`.

pub mod code;
pub mod context;
pub mod isolate;
pub mod reference;

/// Where compiled code says it came from.
#[derive(Clone)]
pub struct Origin {
    pub filename: String,
    pub line_offset: i32,
    pub column_offset: i32,
}

impl Default for Origin {
    fn default() -> Self {
        Origin { filename: "<isolated-vm>".into(), line_offset: 0, column_offset: 0 }
    }
}

/// A property key: a string or an array index.
#[derive(Clone)]
pub enum Key {
    Name(String),
    Index(u32),
}
