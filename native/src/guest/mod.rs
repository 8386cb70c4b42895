//! The library as seen from inside an isolate: Node functions callable by
//! guest code (Callbacks), and errors thrown into guests.

pub mod callback;
pub mod reference;
pub mod throw;
