//! Progress and cancellation of long work: the CLI draws bars, the C ABI forwards to a
//! callback, library code polls [`check_cancelled`] between steps.

use crate::{Error, Result};

/// Receives progress of long work (the CLI draws bars; the C ABI forwards to a callback).
pub trait Progress: Sync {
    /// A new stage with `total` steps.
    fn stage(&self, _name: &str, _total: u64) {}
    /// `n` more steps done.
    fn advance(&self, _n: u64) {}
    /// A short status line (losses during training), replaced by the next one.
    fn message(&self, _text: &str) {}
    /// A line worth keeping (an epoch's summary); by default shown like [`Progress::message`].
    fn note(&self, text: &str) {
        self.message(text)
    }
    /// Polled between steps: `true` stops the work with [`Error::Cancelled`]
    /// (files being written are left as they were or removed, never half-valid).
    fn cancelled(&self) -> bool {
        false
    }
}

/// [`Error::Cancelled`] when the receiver asks to stop.
pub fn check_cancelled(progress: &dyn Progress) -> Result<()> {
    if progress.cancelled() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}
