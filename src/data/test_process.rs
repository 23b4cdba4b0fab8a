//! Child processes for tests that share a process with open HDF5 files.
//!
//! libhdf5 opens files without `O_CLOEXEC` and `flock`s them, and a lock belongs to the open
//! file description: a program spawned while another test holds a file open would inherit
//! that descriptor and keep the file locked after the test closed it, so the test's next
//! open fails with EAGAIN. Tests spawn helpers through [`command`], which closes every
//! inherited descriptor above stderr in the child before it runs the program.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A [`Command`] for `program` that inherits no descriptor above stderr.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    // SAFETY: runs in the forked child before exec; close_range and close are
    // async-signal-safe and touch only the child's descriptor table.
    unsafe {
        c.pre_exec(|| {
            if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                for fd in 3..4096 {
                    libc::close(fd);
                }
            }
            Ok(())
        });
    }
    c
}
