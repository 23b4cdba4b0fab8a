//! Runs work that may crash or hang (libhdf5 parsing an untrusted file) in a forked child, and
//! streams its results back through a pipe.
//!
//! Why: libhdf5 parses a file's metadata in C before qpik can validate anything, and fuzzing
//! found inputs on which Debian 12's libhdf5 1.10.8 loops forever or corrupts memory
//! (`fuzz/findings/`). A crash there would take down the host program (Gwyddion, MATLAB,
//! Python) with the user's unsaved work. With [`Child`] the calling process never runs
//! libhdf5 on the file: a child does, and its death by a signal, its overrunning a time limit
//! or its error all come back as an [`Ended`].
//!
//! The child:
//! - holds no threads but the forking one, so the work must not use rayon or wait on threads
//!   of the parent;
//! - restores the default action of the crash signals (a host's crash handler must not run
//!   in it), writes no core file, and dies with its parent (Linux);
//! - sends frames: `1`, a u64 length and that many bytes, for each [`Sender::send`]; then `0`
//!   and the work's result (kind byte, OS error code, path, text) when the work returns;
//! - leaves with `_exit`, so no destructor, `atexit` handler or stdio flush of the host runs.
//!
//! On platforms without `fork` the work runs in the calling process (no protection).

use std::time::{Duration, Instant};

use crate::{Error, Result};

#[cfg(not(unix))]
mod fallback;
mod protocol;
#[cfg(all(test, unix))]
mod tests;
#[cfg(unix)]
mod unix;

#[cfg(unix)]
pub use unix::descriptors_of;
#[cfg(unix)]
use {protocol::FRAME_DATA, unix::write_all};

/// Why a child did not deliver what the parent asked for.
#[derive(Debug)]
pub enum Ended {
    /// The work returned this error.
    Work(Error),
    /// The child died: killed by `signal`, or exited with `code` before finishing its reply.
    Died {
        signal: Option<i32>,
        code: Option<i32>,
    },
    /// The child overran the time limit and was killed.
    TimedOut(Duration),
    /// The child's reply was not what the parent expected (a bug, or memory corrupted in it).
    Protocol(String),
    /// A system call in the parent failed (pipe, fork, poll, read).
    System(std::io::Error),
}

/// Plain numbers whose bytes can cross the pipe as they lie in memory.
///
/// # Safety
/// Implement only for types without padding for which every bit pattern is a valid value.
pub unsafe trait Plain: Copy {}
// SAFETY: primitive numbers, no padding, every bit pattern valid.
unsafe impl Plain for u8 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for f32 {}
// SAFETY: as above.
unsafe impl Plain for f64 {}

/// The bytes of `values` (native order).
pub fn bytes_of<T: Plain>(values: &[T]) -> &[u8] {
    // SAFETY: `T: Plain` has no padding; the length covers exactly the slice.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

/// The bytes of `values` (native order), writable.
pub fn bytes_of_mut<T: Plain>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; every bit pattern written is a valid `T`.
    unsafe {
        std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), std::mem::size_of_val(values))
    }
}

/// The child's end of the pipe.
pub struct Sender {
    #[cfg(unix)]
    fd: libc::c_int,
    /// Without fork: the frames, kept for the in-process [`Child`].
    #[cfg(not(unix))]
    frames: Vec<Vec<u8>>,
}

impl Sender {
    /// Sends one frame of `bytes`; the parent receives it with [`Child::recv`] or
    /// [`Child::recv_into`].
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        #[cfg(unix)]
        {
            let mut head = [0u8; 9];
            head[0] = FRAME_DATA;
            head[1..].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            write_all(self.fd, &head)
                .and_then(|()| write_all(self.fd, bytes))
                .map_err(|e| Error::io("pipe to the parent process", e))
        }
        #[cfg(not(unix))]
        {
            self.frames.push(bytes.to_vec());
            Ok(())
        }
    }
}

/// the child if it is still there.
pub struct Child {
    #[cfg(unix)]
    pid: libc::pid_t,
    #[cfg(unix)]
    fd: libc::c_int,
    /// Where the child's crash handler writes the signal number.
    #[cfg(unix)]
    death_fd: libc::c_int,
    #[cfg(not(unix))]
    frames: std::collections::VecDeque<Vec<u8>>,
    #[cfg(not(unix))]
    result: Option<Result<()>>,
    deadline: Instant,
    limit: Duration,
    reaped: bool,
    #[cfg(unix)]
    status: Option<libc::c_int>,
}

/// A signal's name for messages ("SIGSEGV (segmentation fault)").
pub fn signal_name(signal: i32) -> String {
    #[cfg(unix)]
    {
        let known = [
            (libc::SIGSEGV, "SIGSEGV (segmentation fault)"),
            (libc::SIGBUS, "SIGBUS (bus error)"),
            (libc::SIGABRT, "SIGABRT (abort)"),
            (libc::SIGFPE, "SIGFPE (arithmetic error)"),
            (libc::SIGILL, "SIGILL (illegal instruction)"),
            (
                libc::SIGKILL,
                "SIGKILL (killed, perhaps for lack of memory)",
            ),
        ];
        if let Some((_, name)) = known.iter().find(|(s, _)| *s == signal) {
            return (*name).to_string();
        }
    }
    format!("signal {signal}")
}
