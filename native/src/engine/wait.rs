//! Waiting for a reply from another thread: spin briefly, then park. Waking
//! a parked thread costs tens of microseconds; a short spin catches the
//! common case of a fast call.

use crossbeam_channel::{Receiver, TryRecvError};

use super::runner::SPIN;

/// Waits for one value; None if the sender went away.
pub fn wait<T>(rx: &Receiver<T>) -> Option<T> {
    for _ in 0..SPIN {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    rx.recv().ok()
}
