//! The Unix side: fork, the child's set-up (signals, descriptors, core files) and the
//! parent's reading of frames under a deadline.

use std::time::{Duration, Instant};

use super::protocol::{FRAME_DATA, FRAME_END, MAX_END_MESSAGE, decode, encode};
use super::{Child, Ended, Sender};
use crate::Result;

pub(super) fn write_all(fd: libc::c_int, mut bytes: &[u8]) -> std::io::Result<()> {
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
static DEATH_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// The child's crash handler: names the signal on the death pipe, then raises it again; the
/// default action (restored on entry by `SA_RESETHAND`) ends the process as the first signal
/// would have, as soon as the handler returns.
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
