//! Fork safety. rayon's global pool (used by every parallel loop in qpik) lives in threads of
//! the process that first used it; after `fork()` the child has the pool's bookkeeping but
//! none of its threads, so the first parallel loop there waits forever (Python
//! `multiprocessing` with the fork start method hung exactly so).
//!
//! Every C entry point remembers the process id it first ran in; when a call finds another
//! id, this process is a fork of one that may have started the pool, and the call runs inside
//! a pool built for this process (once per process) instead. Consequences in such a child:
//! the work and any progress callback run on that pool's thread while the calling thread
//! waits; results and messages are the same.
//!
//! Candle keeps a second pool of its own (element-wise ops on 64k elements or more) that
//! cannot be rebuilt: `qpik_extract` therefore runs one image at a time in a forked process,
//! which keeps the default models' tensors below that size. Training or wider models in a
//! forked child may still wait on it: use the `spawn` start method for those.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Process id of the first call (0 = no call yet).
static FIRST_PID: AtomicU32 = AtomicU32::new(0);

/// The pool of a forked process, with the id of the process that built it.
static CHILD_POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Whether this process is a fork of the one that first called qpik.
pub(crate) fn forked() -> bool {
    let pid = std::process::id();
    match FIRST_PID.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => false,
        Err(first) => first != pid,
    }
}

/// A pool for this (forked) process; `None` if it cannot be built (then the work runs on the
/// calling thread with a one-thread pool of its own, or, failing that, as it is).
fn child_pool() -> Option<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    // A lock held by another thread at the fork is never released in the child: do not wait.
    let mut slot = match CHILD_POOL.try_lock() {
        Ok(g) => g,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return build().map(Arc::new),
    };
    if let Some((owner, pool)) = slot.as_ref()
        && *owner == pid
    {
        return Some(pool.clone());
    }
    let pool = Arc::new(build()?);
    *slot = Some((pid, pool.clone()));
    Some(pool)
}

fn build() -> Option<rayon::ThreadPool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("qpik-fork-{i}"))
        .build()
        .ok()
}

/// Moves a call's body (which holds the caller's raw pointers) to a pool thread.
struct AssertSend<T>(T);
// SAFETY: the calling thread blocks in `install` until the body has finished, so everything
// the body borrows outlives it, and nothing is used by two threads at once.
unsafe impl<T> Send for AssertSend<T> {}

/// Runs `body` here, or in this process's own pool when the process is a fork.
pub(crate) fn run<R>(body: impl FnOnce() -> R) -> R {
    if !forked() {
        return body();
    }
    match child_pool() {
        Some(pool) => {
            let job = AssertSend(body);
            let out = pool.install(move || {
                let job = job;
                AssertSend((job.0)())
            });
            out.0
        }
        None => body(),
    }
}
