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
//! Candle keeps a second pool of its own (element-wise ops on [`CANDLE_PAR_MIN`] elements or
//! more), private to candle and started once per process image, that cannot be rebuilt. It
//! exists only once the networks ran on the CPU, so [`networks_start`] records the process
//! that ran them first; in a process forked from it (another id) that pool is lost:
//! - `qpik_extract` runs one image at a time (each tensor of a model whose largest
//!   activation per image is below [`CANDLE_PAR_MIN`], the default models' included, stays
//!   on the calling thread), and refuses wider models with `QPIK_ERR_UNAVAILABLE`;
//! - `qpik_train` (whose batches always reach that pool) refuses with `QPIK_ERR_UNAVAILABLE`
//!   and says what to do, instead of waiting forever.
//!
//! A fork made before the networks first ran trains and extracts normally (candle starts a
//! pool of its own there), and so does any fork when candle runs single-threaded
//! (`CANDLE_NUM_THREADS=1`, or one core).

use super::{CError, CResult, qpik_status};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Process id of the first call (0 = no call yet).
static FIRST_PID: AtomicU32 = AtomicU32::new(0);

/// Process id of the process whose networks first ran on the CPU (0 = none yet): candle's
/// own pool lives there and nowhere else.
static NETWORKS_PID: AtomicU32 = AtomicU32::new(0);

/// Candle runs element-wise ops on this many elements or more in its own pool (its
/// `PAR_ELEMWISE_MIN`, candle-core 0.11); smaller ones run on the calling thread.
pub(crate) const CANDLE_PAR_MIN: usize = 64 * 1024;

/// Threads of candle's own pool: `CANDLE_NUM_THREADS`, else rayon's count (as candle does).
fn candle_threads() -> usize {
    std::env::var("CANDLE_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(candle_core::utils::get_num_threads)
}

/// Whether candle's own pool is lost here: an ancestor process started it before forking
/// this one, and it has worker threads (a one-thread pool runs on the caller).
pub(crate) fn candle_pool_lost() -> bool {
    let ran = NETWORKS_PID.load(Ordering::Acquire);
    ran != 0 && ran != std::process::id() && candle_threads() > 1
}

/// Call before the networks run on the CPU, with `largest` the elements of the work's
/// largest element-wise tensor. Work below [`CANDLE_PAR_MIN`] neither needs nor starts
/// candle's pool; larger work is refused (with what to do) where that pool is lost, and
/// otherwise records this process as the one whose pool exists.
pub(crate) fn networks_start(what: &str, largest: usize) -> CResult<()> {
    if largest < CANDLE_PAR_MIN {
        // Runs on the calling thread: candle's pool is neither needed nor started.
        return Ok(());
    }
    if candle_pool_lost() {
        return Err(CError::new(
            qpik_status::QPIK_ERR_UNAVAILABLE,
            format!(
                "{what} cannot run in this process: it was forked (e.g. Python multiprocessing's \
                 'fork' start method) from one that had already run qpik's networks, and their \
                 worker threads do not survive fork(). Use the 'spawn' or 'forkserver' start \
                 method, fork before the first network runs, or set CANDLE_NUM_THREADS=1 in \
                 the environment before the first one does"
            ),
        ));
    }
    let _ =
        NETWORKS_PID.compare_exchange(0, std::process::id(), Ordering::AcqRel, Ordering::Acquire);
    Ok(())
}

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
