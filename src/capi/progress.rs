//! Progress callbacks with cancellation, always invoked on the calling thread.

use crate::progress::Progress;
use std::ffi::{CString, c_char, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::ThreadId;

/// Progress of long work. Called on the thread that made the qpik call (never on worker
/// threads), at most a few times per second to a few hundred times per run.
/// `stage`: what runs now ("synthesising observations", "vae epoch 3/40", ...);
/// `done` of `total` steps of that stage; `message`: the latest status ("loss 0.00123", or
/// an epoch summary), possibly empty. Strings are valid only during the call.
/// Return 0 to continue, anything else to cancel: the call then returns
/// `QPIK_ERR_CANCELLED` soon after, and leaves no half-written file behind.
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
