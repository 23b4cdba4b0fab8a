//! Progress callbacks with cancellation, always invoked on the calling thread.
//!
//! # Why a relay
//! Long work polls for cancellation deep inside parallel loops, on worker threads, while the
//! calling thread waits for those loops; a callback that only ran when the work reported a
//! step could not be asked in between (a blind search reported nothing for 30 s). So
//! [`with_progress`] runs the work on a thread of its own and keeps the calling thread free
//! to call the callback: for every step the work reports (the work waits for the answer, so
//! calls come in the same order and number as the steps), and, when no step came for
//! [`HEARTBEAT`], again with the same state, so that a request to cancel is seen within a
//! fraction of a second whatever the work does.

use crate::progress::Progress;
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The callback is called at least this often while work runs (the same state repeated
/// when nothing changed), so that cancelling takes effect within about a second.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(200);

/// Progress of long work. Called on the thread that made the qpik call (never on worker
/// threads): at each step the work reports (a few to a few hundred per run), and every
/// 0.2 s in between with the latest state repeated, so that returning nonzero cancels at any
/// time. After a nonzero return it is not called again.
/// `stage`: what runs now ("synthesising observations", "vae epoch 3/40", ...);
/// `done` of `total` steps of that stage; `message`: the latest status ("loss 0.00123", or
/// an epoch summary), possibly empty. Strings are valid only during the call.
/// Return 0 to continue, anything else to cancel: the call then returns
/// `QPIK_ERR_CANCELLED` within about a second, and leaves no half-written file behind.
pub type qpik_progress_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        stage: *const c_char,
        done: u64,
        total: u64,
        message: *const c_char,
    ) -> i32,
>;

/// Adapts a C callback to [`Progress`].
pub(crate) struct CallbackProgress {
    callback: qpik_progress_fn,
    user_data: *mut c_void,
    owner: ThreadId,
    stage: Mutex<(CString, u64)>,
    message: Mutex<CString>,
    done: AtomicU64,
    cancelled: AtomicBool,
}

// SAFETY: `user_data` is only handed back to the callback, and the callback only runs on the
// owner thread (checked in `call`); everything else is synchronised.
unsafe impl Sync for CallbackProgress {}

impl CallbackProgress {
    pub fn new(callback: qpik_progress_fn, user_data: *mut c_void) -> Self {
        CallbackProgress {
            callback,
            user_data,
            owner: std::thread::current().id(),
            stage: Mutex::new((CString::default(), 0)),
            message: Mutex::new(CString::default()),
            done: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
        }
    }

    fn call(&self) {
        let Some(cb) = self.callback else { return };
        if std::thread::current().id() != self.owner {
            return;
        }
        // Copies, so no lock is held while the (possibly slow) callback runs.
        let stage = self.stage.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let message = self
            .message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let done = self.done.load(Ordering::Relaxed);
        // SAFETY: the caller gave us this function and pointer for the duration of the call.
        let r = unsafe {
            cb(
                self.user_data,
                stage.0.as_ptr(),
                done,
                stage.1,
                message.as_ptr(),
            )
        };
        if r != 0 {
            self.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl Progress for CallbackProgress {
    fn stage(&self, name: &str, total: u64) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = (c_string(name), total);
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = CString::default();
        self.done.store(0, Ordering::Relaxed);
        self.call();
    }
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.call();
    }
    fn message(&self, text: &str) {
        // Delivered with the next step.
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = c_string(text);
    }
    fn note(&self, text: &str) {
        self.message(text);
        self.call();
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

type RawCallback = unsafe extern "C" fn(*mut c_void, *const c_char, u64, u64, *const c_char) -> i32;

/// What the relay hands from the work thread to the calling thread.
#[derive(Default)]
struct RelayState {
    stage: (CString, u64),
    message: CString,
    done: u64,
    /// A step reported by the work thread waits for its call.
    pending: bool,
    /// The work has returned (or panicked).
    finished: bool,
}

/// [`Progress`] of work on another thread, delivered to the callback by the calling thread
/// (see the module docs).
struct Relay {
    state: Mutex<RelayState>,
    posted: Condvar,
    answered: Condvar,
    cancelled: AtomicBool,
    /// The work thread: steps reported from other threads (workers of parallel loops) only
    /// update the counts, as they did before.
    owner: OnceLock<ThreadId>,
}

impl Relay {
    fn lock(&self) -> std::sync::MutexGuard<'_, RelayState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the state; from the work thread, also waits until the callback has seen it.
    fn report(&self, update: impl FnOnce(&mut RelayState)) {
        let mut st = self.lock();
        update(&mut st);
        if self.cancelled.load(Ordering::Relaxed)
            || self.owner.get() != Some(&std::thread::current().id())
        {
            return;
        }
        st.pending = true;
        self.posted.notify_all();
        while st.pending && !st.finished {
            st = self.answered.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The calling thread's loop: calls the callback for each step and at each heartbeat,
    /// until the work has finished.
    fn pump(&self, callback: RawCallback, user_data: *mut c_void) {
        let mut last_call = Instant::now();
        let mut st = self.lock();
        loop {
            if st.pending || (last_call.elapsed() >= HEARTBEAT && !st.finished) {
                // The work thread waits while its step is delivered: no other step of its
                // can come during this call.
                let step = st.pending;
                let (stage, total) = st.stage.clone();
                let message = st.message.clone();
                let done = st.done;
                let cancelled = self.cancelled.load(Ordering::Relaxed);
                drop(st);
                if !cancelled {
                    // SAFETY: the caller gave us this function and pointer for the call.
                    let r = unsafe {
                        callback(user_data, stage.as_ptr(), done, total, message.as_ptr())
                    };
                    if r != 0 {
                        self.cancelled.store(true, Ordering::Relaxed);
                    }
                }
                last_call = Instant::now();
                st = self.lock();
                if step {
                    st.pending = false;
                    self.answered.notify_all();
                }
                continue;
            }
            if st.finished {
                return;
            }
            let wait = HEARTBEAT.saturating_sub(last_call.elapsed());
            st = self
                .posted
                .wait_timeout(st, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Progress for Relay {
    fn stage(&self, name: &str, total: u64) {
        self.report(|st| {
            st.stage = (c_string(name), total);
            st.message = CString::default();
            st.done = 0;
        });
    }
    fn advance(&self, n: u64) {
        self.report(|st| st.done = st.done.saturating_add(n));
    }
    fn message(&self, text: &str) {
        // Delivered with the next step.
        self.lock().message = c_string(text);
    }
    fn note(&self, text: &str) {
        self.report(|st| st.message = c_string(text));
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// Marks the work finished when dropped (also when it panics), so the pump returns.
struct Finish<'a>(&'a Relay);
impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.finished = true;
        self.0.posted.notify_all();
        self.0.answered.notify_all();
    }
}

/// Runs `work` with a [`Progress`] that reports to `callback` (may be `None`) on this thread,
/// with heartbeats (see the module docs); the work itself runs on a thread of its own. A
/// panic in the work is raised again here. Inside a thread of a rayon pool (a forked
/// process's own pool, see [`super::fork`]) the work runs here and the callback is called
/// at its steps only.
pub(crate) fn with_progress<R: Send>(
    callback: qpik_progress_fn,
    user_data: *mut c_void,
    work: impl FnOnce(&dyn Progress) -> R + Send,
) -> R {
    let Some(cb) = callback else {
        return work(&crate::progress::NoProgress);
    };
    if rayon::current_thread_index().is_some() {
        return work(&CallbackProgress::new(callback, user_data));
    }
    let relay = Relay {
        state: Mutex::new(RelayState::default()),
        posted: Condvar::new(),
        answered: Condvar::new(),
        cancelled: AtomicBool::new(false),
        owner: OnceLock::new(),
    };
    let mut slot = Some(work);
    let outcome = std::thread::scope(|scope| {
        let relay = &relay;
        let slot = &mut slot;
        let spawned = std::thread::Builder::new()
            .name("qpik-work".into())
            // As much stack as a main thread usually has: the work ran there before.
            .stack_size(8 << 20)
            .spawn_scoped(scope, move || {
                let _finish = Finish(relay);
                let _ = relay.owner.set(std::thread::current().id());
                slot.take().map(|w| w(relay))
            });
        match spawned {
            Ok(handle) => {
                relay.pump(cb, user_data);
                Some(handle.join())
            }
            Err(_) => None,
        }
    });
    match outcome {
        Some(Ok(Some(r))) => r,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        // No thread to be had (or the work never ran): run it here, steps only.
        _ => match slot.take() {
            Some(w) => w(&CallbackProgress::new(callback, user_data)),
            None => unreachable!("the work ran and returned"),
        },
    }
}
