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

const FRAME_DATA: u8 = 1;
const FRAME_END: u8 = 0;
/// Largest result message the parent accepts (the child truncates its texts well below).
const MAX_END_MESSAGE: usize = 1 << 20;

// Kind bytes of the final result message.
const KIND_OK: u8 = 0;
const KIND_INVALID: u8 = 1;
const KIND_IO: u8 = 2;
const KIND_FORMAT: u8 = 3;
const KIND_HDF5: u8 = 4;
const KIND_UNAVAILABLE: u8 = 5;
const KIND_CANCELLED: u8 = 6;
const KIND_PANIC: u8 = 7;
const KIND_OVER_BUDGET: u8 = 8;

/// Result message: kind (1 byte), OS error code (i32 LE; 0 = none), path length (u32 LE),
/// path, text (rest).
fn encode(result: &std::thread::Result<Result<()>>) -> Vec<u8> {
    let (k, os, path, text): (u8, i32, &str, String) = match result {
        Ok(Ok(())) => (KIND_OK, 0, "", String::new()),
        Ok(Err(e)) => match e {
            Error::InvalidInput(m) => (KIND_INVALID, 0, "", m.clone()),
            Error::Io { path, source } => (
                KIND_IO,
                source.raw_os_error().unwrap_or(0),
                path,
                source.to_string(),
            ),
            Error::Format { path, message } => (KIND_FORMAT, 0, path, message.clone()),
            Error::Hdf5 { path, message } => (KIND_HDF5, 0, path, message.clone()),
            Error::Unavailable(m) => (KIND_UNAVAILABLE, 0, "", m.clone()),
            Error::Cancelled => (KIND_CANCELLED, 0, "", String::new()),
            Error::OverBudget(m) => (KIND_OVER_BUDGET, 0, "", m.clone()),
        },
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            (KIND_PANIC, 0, "", text)
        }
    };
    // Bounded, so that a damaged file cannot make the reply (and the parent's copy) huge.
    let cut = |t: &str, max: usize| {
        let mut end = t.len().min(max);
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t[..end].to_string()
    };
    let (path, text) = (cut(path, 16 << 10), cut(&text, 64 << 10));
    let mut out = Vec::with_capacity(9 + path.len() + text.len());
    out.push(k);
    out.extend_from_slice(&os.to_le_bytes());
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// The work's result from a complete message; `None` when the message is cut short.
fn decode(msg: &[u8]) -> Option<Result<()>> {
    let (&k, rest) = msg.split_first()?;
    let os = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let path_len = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let path = String::from_utf8_lossy(rest.get(8..8 + path_len)?).into_owned();
    let text = String::from_utf8_lossy(&rest[8 + path_len..]).into_owned();
    Some(match k {
        KIND_OK => Ok(()),
        KIND_INVALID => Err(Error::InvalidInput(text)),
        KIND_IO => {
            let source = if os != 0 {
                std::io::Error::from_raw_os_error(os)
            } else {
                std::io::Error::other(text)
            };
            Err(Error::Io { path, source })
        }
        KIND_FORMAT => Err(Error::Format {
            path,
            message: text,
        }),
        KIND_HDF5 => Err(Error::Hdf5 {
            path,
            message: text,
        }),
        KIND_UNAVAILABLE => Err(Error::Unavailable(text)),
        KIND_CANCELLED => Err(Error::Cancelled),
        KIND_OVER_BUDGET => Err(Error::OverBudget(text)),
        // A panic of the reader is a file it could not read: FORMAT, on the path the caller
        // fills in (see `hdf5_io::child::ended`).
        KIND_PANIC => Err(Error::Format {
            path,
            message: format!(
                "the reader stopped on an internal error ({text}); the file is probably damaged or crafted"
            ),
        }),
        _ => return None,
    })
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

#[cfg(unix)]
fn write_all(fd: libc::c_int, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is readable for its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// The parent's end: a running child, its pipe and its deadline. Dropping it kills and reaps
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

#[cfg(unix)]
impl Child {
    /// Forks; the child runs `work` (see the module docs for what it may do) and the parent
    /// gets a [`Child`] to receive from, until `limit` from now. `around_fork` must call the
    /// given function once, to fork, with the descriptors the child keeps open (besides stdin,
    /// stdout, stderr and its pipe; see [`descriptors_of`]): use it to hold a lock so that no
    /// other thread is inside a library the child will use. The child runs its work inside
    /// that call and never returns from it, so it keeps the lock and takes it again freely (a
    /// reentrant lock).
    pub fn spawn(
        limit: Duration,
        around_fork: impl FnOnce(&mut dyn FnMut(&[i32]) -> i64) -> i64,
        work: impl FnOnce(&mut Sender) -> Result<()>,
    ) -> std::result::Result<Child, Ended> {
        // The reply pipe, and a pipe on which the child's crash handler names the signal
        // (for hosts that ignore SIGCHLD, where waitpid cannot tell).
        let mut fds = [0 as libc::c_int; 4];
        // SAFETY: `fds` has room for both pairs of descriptors.
        let made = unsafe { make_pipe(fds.as_mut_ptr()) == 0 };
        // SAFETY: as above.
        if !made || unsafe { make_pipe(fds[2..].as_mut_ptr()) } != 0 {
            let e = std::io::Error::last_os_error();
            if made {
                // SAFETY: the first pair is ours and open.
                unsafe {
                    libc::close(fds[0]);
                    libc::close(fds[1]);
                }
            }
            return Err(Ended::System(e));
        }
        let [read_fd, write_fd, death_read, death_write] = fds;
        // Bigger pipe buffer, fewer switches between the processes (Linux; best effort).
        #[cfg(target_os = "linux")]
        // SAFETY: plain fcntl on our descriptor.
        unsafe {
            libc::fcntl(write_fd, libc::F_SETPIPE_SZ, 1 << 20)
        };
        // The child runs `work` inside `around_fork`, still holding whatever lock it took: a
        // lock released in the child could have waiters recorded for threads the child lacks.
        let mut work = Some(work);
        let mut fork_error = None;
        // SAFETY: no preconditions.
        let parent = unsafe { libc::getpid() };
        let pid = around_fork(&mut |keep: &[i32]| {
            // SAFETY: the child only runs `work` and `_exit`s.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let work = work.take().expect("forked once");
                let ends = ([read_fd, death_read], [write_fd, death_write]);
                // SAFETY: in the child; never returns.
                unsafe { child_main(parent, ends.0, ends.1, keep, work) }
            }
            if pid < 0 {
                fork_error = Some(std::io::Error::last_os_error());
            }
            i64::from(pid)
        }) as libc::pid_t;
        if pid < 0 {
            let e = fork_error.unwrap_or_else(|| std::io::Error::other("fork failed"));
            for fd in fds {
                // SAFETY: all four are ours and open.
                unsafe { libc::close(fd) };
            }
            return Err(Ended::System(e));
        }
        // SAFETY: the write ends belong to the child now.
        unsafe {
            libc::close(write_fd);
            libc::close(death_write);
        }
        Ok(Child {
            pid,
            fd: read_fd,
            death_fd: death_read,
            deadline: Instant::now() + limit,
            limit,
            reaped: false,
            status: None,
        })
    }

    /// Receives the next frame into `dst`, which must be exactly the frame's length.
    pub fn recv_into(&mut self, dst: &mut [u8]) -> std::result::Result<(), Ended> {
        let len = self.frame_len()?;
        if len != dst.len() as u64 {
            return Err(self.fail(Ended::Protocol(format!(
                "a frame of {len} bytes where {} were expected",
                dst.len()
            ))));
        }
        self.read_full(dst)
    }

    /// Receives the next frame, of any length up to `max` bytes.
    pub fn recv(&mut self, max: usize) -> std::result::Result<Vec<u8>, Ended> {
        let len = self.frame_len()?;
        if len > max as u64 {
            return Err(self.fail(Ended::Protocol(format!(
                "a frame of {len} bytes, more than the {max} allowed"
            ))));
        }
        let mut buf = Vec::new();
        if buf.try_reserve_exact(len as usize).is_err() {
            return Err(self.fail(Ended::Protocol(format!(
                "a frame of {len} bytes, more than this machine can hold"
            ))));
        }
        buf.resize(len as usize, 0);
        self.read_full(&mut buf)?;
        Ok(buf)
    }

    /// Waits for the work's result after the last frame.
    pub fn finish(mut self) -> std::result::Result<(), Ended> {
        let mut tag = [0u8; 1];
        self.read_full(&mut tag)?;
        if tag[0] != FRAME_END {
            return Err(self.fail(Ended::Protocol("more frames than expected".into())));
        }
        match self.end_message()? {
            Ok(()) => Ok(()),
            Err(e) => Err(Ended::Work(e)),
        }
    }

    /// Reads a frame header: the length of a data frame, or the work's result at the end.
    fn frame_len(&mut self) -> std::result::Result<u64, Ended> {
        let mut tag = [0u8; 1];
        self.read_full(&mut tag)?;
        match tag[0] {
            FRAME_DATA => {
                let mut len = [0u8; 8];
                self.read_full(&mut len)?;
                Ok(u64::from_le_bytes(len))
            }
            FRAME_END => match self.end_message()? {
                Err(e) => Err(Ended::Work(e)),
                Ok(()) => Err(Ended::Protocol(
                    "the work ended before sending its data".into(),
                )),
            },
            t => Err(self.fail(Ended::Protocol(format!("unknown frame tag {t}")))),
        }
    }

    /// Reads the result message (u32 length, then the message) and reaps the child.
    fn end_message(&mut self) -> std::result::Result<Result<()>, Ended> {
        let mut len = [0u8; 4];
        self.read_full(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_END_MESSAGE {
            return Err(self.fail(Ended::Protocol(format!("a result message of {len} bytes"))));
        }
        let mut msg = vec![0u8; len];
        self.read_full(&mut msg)?;
        match decode(&msg) {
            Some(result) => {
                self.reap();
                Ok(result)
            }
            None => Err(self.fail(Ended::Protocol("a garbled result message".into()))),
        }
    }

    fn read_full(&mut self, mut dst: &mut [u8]) -> std::result::Result<(), Ended> {
        while !dst.is_empty() {
            match self.read_some(dst)? {
                0 => return Err(self.death()),
                n => dst = &mut dst[n..],
            }
        }
        Ok(())
    }

    /// One read, waiting until data, end of file (0), death or the deadline.
    fn read_some(&mut self, dst: &mut [u8]) -> std::result::Result<usize, Ended> {
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(self.fail(Ended::TimedOut(self.limit)));
            }
            let wait_ms = (self.deadline - now).as_millis().clamp(1, 100) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // Once the child is gone only what is buffered remains: look without waiting.
            let wait_ms = if self.reaped { 0 } else { wait_ms };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            if ready > 0 {
                // SAFETY: `dst` is writable for its length.
                let n = unsafe { libc::read(self.fd, dst.as_mut_ptr().cast(), dst.len()) };
                if n >= 0 {
                    return Ok(n as usize);
                }
            }
            if ready != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(self.fail(Ended::System(e)));
                }
            } else if self.reaped {
                // Gone, and nothing buffered: a process the host forked meanwhile may hold a
                // copy of the pipe, so no end of file would come. Nothing more will.
                return Ok(0);
            } else {
                // Exited? Then the next round drains what it wrote before leaving.
                self.exited_quietly();
            }
        }
    }

    /// Whether the child has exited while no data is waiting (checked on poll timeouts).
    fn exited_quietly(&mut self) -> bool {
        let mut st = 0;
        // SAFETY: `pid` is our child.
        let r = unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) };
        if r == self.pid {
            self.reaped = true;
            self.status = Some(st);
            return true;
        }
        false
    }

    /// What became of a child that closed the pipe without a complete reply.
    fn death(&mut self) -> Ended {
        // It closed the pipe, so it is leaving; if memory corruption closed it instead, it
        // could run on: the kill bounds the wait (and does not change how a dead child died).
        if !self.reaped {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        self.reap();
        let st = self.status;
        let signal = st
            .filter(|&s| libc::WIFSIGNALED(s))
            .map(|s| libc::WTERMSIG(s));
        let code = st
            .filter(|&s| libc::WIFEXITED(s))
            .map(|s| libc::WEXITSTATUS(s));
        if st.is_some() {
            return Ended::Died { signal, code };
        }
        // No status (SIGCHLD ignored): the signal the crash handler wrote, if any.
        let mut pfd = libc::pollfd {
            fd: self.death_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut sig = 0u8;
        // SAFETY: one valid pollfd, zero timeout; `sig` is writable for one byte.
        let got = unsafe {
            libc::poll(&mut pfd, 1, 0) > 0
                && libc::read(self.death_fd, (&mut sig as *mut u8).cast(), 1) == 1
        };
        Ended::Died {
            signal: got.then_some(i32::from(sig)),
            code: None,
        }
    }

    /// Kills the child (it is of no more use) and returns `why`.
    fn fail(&mut self, why: Ended) -> Ended {
        if !self.reaped {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        self.reap();
        why
    }

    /// Waits for the child to be gone. Called once it has closed the pipe (it is exiting) or
    /// was killed, so the wait is short.
    fn reap(&mut self) {
        while !self.reaped {
            let mut st = 0;
            // SAFETY: `pid` is our child.
            let r = unsafe { libc::waitpid(self.pid, &mut st, 0) };
            if r == self.pid {
                self.status = Some(st);
                self.reaped = true;
            } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // ECHILD: the host reaps its children itself (SIGCHLD ignored).
                self.reaped = true;
            }
        }
    }
}

#[cfg(unix)]
impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.reap();
        }
        // SAFETY: our descriptors, closed once.
        unsafe {
            libc::close(self.fd);
            libc::close(self.death_fd);
        }
    }
}

/// A pipe whose two ends close on exec (a host that forks and execs must not keep them).
///
/// # Safety
/// `fds` must have room for two descriptors.
#[cfg(unix)]
unsafe fn make_pipe(fds: *mut libc::c_int) -> libc::c_int {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as the caller promises; atomically close-on-exec.
        unsafe { libc::pipe2(fds, libc::O_CLOEXEC) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: as the caller promises.
        let r = unsafe { libc::pipe(fds) };
        if r == 0 {
            for i in 0..2 {
                // SAFETY: both descriptors were just made.
                unsafe { libc::fcntl(*fds.add(i), libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
        r
    }
}

/// The child's end of the death pipe, for [`on_fatal_signal`].
#[cfg(unix)]
static DEATH_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// The child's crash handler: names the signal on the death pipe, then raises it again; the
/// default action (restored on entry by `SA_RESETHAND`) ends the process as the first signal
/// would have, as soon as the handler returns.
#[cfg(unix)]
extern "C" fn on_fatal_signal(sig: libc::c_int) {
    let fd = DEATH_FD.load(std::sync::atomic::Ordering::Relaxed);
    let byte = sig as u8;
    // SAFETY: write(2) and raise(3) are async-signal-safe; `byte` is readable for one byte.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
        libc::raise(sig);
    }
}

/// The child's side: never returns.
///
/// # Safety
/// Call only in a freshly forked child, with the parent's ends (`[reply, death]` read ends)
/// and the child's (`[reply, death]` write ends) of the two pipes.
#[cfg(unix)]
unsafe fn child_main(
    parent: libc::pid_t,
    parent_ends: [libc::c_int; 2],
    [write_fd, death_fd]: [libc::c_int; 2],
    keep: &[libc::c_int],
    work: impl FnOnce(&mut Sender) -> Result<()>,
) -> ! {
    DEATH_FD.store(death_fd, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: plain system calls on this process's own state.
    unsafe {
        for fd in parent_ends {
            libc::close(fd);
        }
        close_inherited(&[write_fd, death_fd], keep);
        // A host's crash handler must not run here: ours names the signal and dies of it.
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fatal_signal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESETHAND;
        libc::sigemptyset(&mut action.sa_mask);
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGABRT,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            // The parent died before the death signal was armed: nobody waits for us.
            libc::_exit(1);
        }
    }
    let mut tx = Sender { fd: write_fd };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut tx)));
    let body = encode(&result);
    let mut msg = vec![FRAME_END];
    msg.extend_from_slice(&(body.len() as u32).to_le_bytes());
    msg.extend_from_slice(&body);
    let _ = write_all(write_fd, &msg);
    // SAFETY: leaves without running the host's exit handlers.
    unsafe { libc::_exit(0) }
}

/// The open descriptors of this process that refer to the file `meta` describes (same device
/// and inode): a library may have that file open already and reuse its descriptor in the child.
#[cfg(unix)]
pub fn descriptors_of(meta: &std::fs::Metadata) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let candidates: Vec<libc::c_int> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (0..1024).collect(),
    };
    candidates
        .into_iter()
        .filter(|&fd| {
            // SAFETY: an all-zero `stat` is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: `st` is writable; fstat on a closed descriptor fails harmlessly.
            let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
            ok && st.st_dev as u64 == meta.dev() && st.st_ino as u64 == meta.ino()
        })
        .collect()
}

/// Closes every descriptor above stderr except `pipes` and `keep`. The child's copies of the
/// host's files would otherwise hold the host's file locks (`flock`, as libhdf5 takes) and
/// pipes open for as long as the child lives.
///
/// # Safety
/// Only in the child, before the work opens anything.
#[cfg(unix)]
unsafe fn close_inherited(pipes: &[libc::c_int; 2], keep: &[libc::c_int]) {
    let mut kept = [pipes[0]; 64];
    kept[1] = pipes[1];
    let n = keep.len().min(62);
    kept[2..2 + n].copy_from_slice(&keep[..n]);
    let kept = &mut kept[..2 + n];
    kept.sort_unstable();
    // Close the gaps between the kept descriptors: [3, k0), (k0, k1), ..., (k_last, max].
    let mut first: libc::c_uint = 3;
    for &k in kept.iter() {
        let k = k.max(0) as libc::c_uint;
        if k >= first {
            if k > first {
                // SAFETY: closes descriptors only.
                unsafe { close_range(first, k - 1) };
            }
            first = k + 1;
        }
    }
    // SAFETY: as above.
    unsafe { close_range(first, libc::c_uint::MAX) };
}

/// Closes descriptors `first..=last`.
///
/// # Safety
/// Only in the child.
#[cfg(unix)]
unsafe fn close_range(first: libc::c_uint, last: libc::c_uint) {
    #[cfg(target_os = "linux")]
    {
        // The raw system call (Linux 5.9), not glibc's wrapper: hosts may have glibc < 2.34.
        // SAFETY: closes descriptors only.
        if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) } == 0 {
            return;
        }
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is writable.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1 << 16) as libc::c_uint
    } else {
        1024
    };
    for fd in first..=last.min(max) {
        // SAFETY: closing a descriptor (or EBADF) has no other effect.
        unsafe { libc::close(fd as libc::c_int) };
    }
}

/// Without `fork`: the work runs here, its frames are kept and handed out in order.
#[cfg(not(unix))]
impl Child {
    pub fn spawn(
        limit: Duration,
        around_fork: impl FnOnce(&mut dyn FnMut(&[i32]) -> i64) -> i64,
        work: impl FnOnce(&mut Sender) -> Result<()>,
    ) -> std::result::Result<Child, Ended> {
        let _ = around_fork(&mut |_| 0);
        let mut tx = Sender { frames: Vec::new() };
        let result = work(&mut tx);
        Ok(Child {
            frames: tx.frames.into(),
            result: Some(result),
            deadline: Instant::now() + limit,
            limit,
            reaped: true,
        })
    }

    fn next(&mut self) -> std::result::Result<Vec<u8>, Ended> {
        match self.frames.pop_front() {
            Some(f) => Ok(f),
            None => Err(match self.result.take() {
                Some(Err(e)) => Ended::Work(e),
                _ => Ended::Protocol("the work ended before sending its data".into()),
            }),
        }
    }

    pub fn recv_into(&mut self, dst: &mut [u8]) -> std::result::Result<(), Ended> {
        let f = self.next()?;
        if f.len() != dst.len() {
            return Err(Ended::Protocol("frame of unexpected length".into()));
        }
        dst.copy_from_slice(&f);
        Ok(())
    }

    pub fn recv(&mut self, max: usize) -> std::result::Result<Vec<u8>, Ended> {
        let f = self.next()?;
        if f.len() > max {
            return Err(Ended::Protocol("frame too long".into()));
        }
        Ok(f)
    }

    pub fn finish(mut self) -> std::result::Result<(), Ended> {
        match self.result.take() {
            Some(Err(e)) => Err(Ended::Work(e)),
            _ => Ok(()),
        }
    }
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn plain(fork: &mut dyn FnMut(&[i32]) -> i64) -> i64 {
        fork(&[])
    }

    fn spawn(limit_ms: u64, work: impl FnOnce(&mut Sender) -> Result<()>) -> Child {
        Child::spawn(Duration::from_millis(limit_ms), plain, work).expect("fork")
    }

    #[test]
    fn messages_round_trip() {
        let cases: Vec<Result<()>> = vec![
            Ok(()),
            Err(Error::invalid("bad ü")),
            Err(Error::io(
                "/x/y",
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )),
            Err(Error::io("/x/y", std::io::Error::other("odd"))),
            Err(Error::format("/a b/ü.h5", "missing attribute 'format'")),
            Err(Error::Hdf5 {
                path: "p".into(),
                message: "m".into(),
            }),
            Err(Error::Unavailable("u".into())),
            Err(Error::Cancelled),
        ];
        for case in cases {
            let want = format!("{case:?}");
            let got = decode(&encode(&Ok(case))).expect("complete message");
            assert_eq!(format!("{got:?}"), want);
        }
        // A message cut anywhere in its header is incomplete, not misread.
        let full = encode(&Ok(Err(Error::format("path", "message"))));
        for cut in 0..13 {
            assert!(decode(&full[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn frames_and_result_come_back() {
        // Frames larger than the pipe buffer, in both receiving forms.
        let big: Vec<f32> = (0..3_000_000).map(|i| i as f32 * 0.5).collect();
        let expect = big.clone();
        let mut child = spawn(60_000, move |tx| {
            tx.send(b"header")?;
            tx.send(bytes_of(&big))
        });
        assert_eq!(child.recv(100).unwrap(), b"header");
        let mut got = vec![0f32; expect.len()];
        child.recv_into(bytes_of_mut(&mut got)).unwrap();
        assert_eq!(got, expect);
        child.finish().unwrap();

        let mut child = spawn(20_000, |_| Err(Error::format("f.h5", "x".repeat(100_000))));
        match child.recv(10) {
            Err(Ended::Work(Error::Format { path, message })) => {
                assert_eq!(path, "f.h5");
                // Texts are cut to 64 KiB, so a damaged file cannot make the reply huge.
                assert_eq!(message.len(), 64 << 10);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unexpected_replies_are_protocol_errors() {
        let mut child = spawn(20_000, |tx| tx.send(&[1, 2, 3]));
        let mut dst = [0u8; 4];
        assert!(matches!(child.recv_into(&mut dst), Err(Ended::Protocol(_))));
        let mut child = spawn(20_000, |tx| tx.send(&[0u8; 64]));
        assert!(matches!(child.recv(10), Err(Ended::Protocol(_))));
        let child = spawn(20_000, |tx| tx.send(&[1]));
        assert!(matches!(child.finish(), Err(Ended::Protocol(_))));
        let mut child = spawn(20_000, |_| Ok(()));
        assert!(matches!(child.recv(10), Err(Ended::Protocol(_))));
    }

    #[test]
    fn a_crash_in_the_child_is_reported_not_shared() {
        let mut child = spawn(20_000, |tx| {
            tx.send(b"first")?;
            // SAFETY: deliberately kills the child.
            unsafe { libc::raise(libc::SIGSEGV) };
            Ok(())
        });
        assert_eq!(child.recv(10).unwrap(), b"first");
        match child.recv(10) {
            Err(Ended::Died { signal, .. }) => assert_eq!(signal, Some(libc::SIGSEGV)),
            other => panic!("{other:?}"),
        }
        let child = spawn(20_000, |_| std::process::abort());
        assert!(
            matches!(child.finish(), Err(Ended::Died { signal: Some(s), .. }) if s == libc::SIGABRT)
        );
        let child = spawn(20_000, |_| std::process::exit(3));
        assert!(matches!(
            child.finish(),
            Err(Ended::Died {
                signal: None,
                code: Some(3)
            })
        ));
    }

    #[test]
    fn a_panic_in_the_child_is_an_error() {
        let child = spawn(20_000, |_| panic!("boom"));
        match child.finish() {
            Err(Ended::Work(Error::Format { message, .. })) => {
                assert!(message.contains("boom"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_hang_is_cut_off_at_the_limit() {
        let start = Instant::now();
        let child = spawn(300, |_| {
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        assert!(matches!(child.finish(), Err(Ended::TimedOut(_))));
        assert!(start.elapsed() < Duration::from_secs(10));
        // Dropping an unfinished child kills it rather than waiting.
        let start = Instant::now();
        drop(spawn(60_000, |_| {
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
