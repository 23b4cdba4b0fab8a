//! Cancellation latency (`cargo bench --bench cancel [REPS]`): the time from a request to
//! cancel to the call's return, for requests at `REPS` moments spread over the work (0.2 s
//! onwards, 0.3 s apart), so that each lands in a different stage. Medians and maxima, per
//! host:
//! - the Rust API (a [`Progress`] whose `cancelled` turns true at the moment): a forward
//!   extraction of a 1024 x 1024 map with 2,000 given positions, and a blind search of 512 x
//!   512 with 300 defects;
//! - the C ABI (`qpik_extract_map_progress`; the callback returns nonzero from the moment
//!   on, and is called at least every 0.2 s): the same two maps;
//! - the CLI (`qpik extract`, SIGINT at the moment, as Ctrl-C sends): the same two maps as
//!   `.npy` files, from the signal to the process's exit (status 130).
//!
//! The latency is measured from the request, not from the first poll that saw it: what a
//! user waits after pressing Cancel. `QPIK_BENCH_EACH=1` prints each Rust API request's.

use qpik::capi::*;
use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::progress::Progress;
use std::ffi::{c_char, c_void};
use std::time::{Duration, Instant};

#[path = "common/rings.rs"]
mod rings;
use rings::scene;

/// Cancelled from `at` after `start` on; remembers when a poll first saw the request.
struct CancelAt(Instant, Duration, std::sync::OnceLock<Duration>);
impl Progress for CancelAt {
    fn cancelled(&self) -> bool {
        let t = self.0.elapsed();
        if t >= self.1 {
            self.2.get_or_init(|| t);
        }
        t >= self.1
    }
    fn stage(&self, name: &str, _total: u64) {
        if std::env::var_os("QPIK_BENCH_EACH").is_some() {
            eprintln!("  {:.3} s: {name}", self.0.elapsed().as_secs_f64());
        }
    }
}

unsafe extern "C" fn cancel_at(
    user: *mut c_void,
    _stage: *const c_char,
    _done: u64,
    _total: u64,
    _message: *const c_char,
) -> i32 {
    let p = unsafe { &*(user as *const CancelAt) };
    i32::from(p.cancelled())
}

/// A map and its positions (empty for a blind search).
struct Case {
    /// The files' stem for the CLI.
    name: &'static str,
    /// The report's label.
    label: &'static str,
    side: usize,
    map: Vec<f32>,
    positions: Vec<f32>,
}

/// The latency of one Rust API call cancelled at `at`; `None` when it finished first.
fn rust_api(case: &Case, at: Duration) -> Option<Duration> {
    let image = ndarray::Array2::from_shape_vec((case.side, case.side), case.map.clone()).ok()?;
    let map = MapData::from_image(image);
    let positions: Vec<[f64; 2]> = case
        .positions
        .chunks(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect();
    let settings = MapSettings {
        kernel_size: Some(25),
        ..MapSettings::default()
    };
    let start = Instant::now();
    let p = CancelAt(start, at, Default::default());
    let r = if positions.is_empty() {
        extract_blind(&map, &[], &settings, &p)
    } else {
        extract_map(&map, &positions, &settings, &p)
    };
    let end = start.elapsed();
    if std::env::var_os("QPIK_BENCH_EACH").is_some() {
        eprintln!(
            "rust {at:?}: {:?} (first poll that saw it {:?} after)",
            end.saturating_sub(at),
            p.2.get().map(|t| t.saturating_sub(at))
        );
    }
    matches!(r, Err(qpik::Error::Cancelled)).then(|| end.saturating_sub(at))
}

/// The latency of one C ABI call cancelled at `at`; `None` when it finished first.
fn c_abi(case: &mut Case, at: Duration) -> Option<Duration> {
    let mut o = std::ptr::null_mut();
    assert_eq!(unsafe { qpik_options_new(&mut o) }, qpik_status::QPIK_OK);
    let (k, v) = (c"map.kernel_size", c"25");
    assert_eq!(
        unsafe { qpik_options_set(o, k.as_ptr(), v.as_ptr()) },
        qpik_status::QPIK_OK
    );
    let n = case.side as i64;
    let ma = qpik_array_2d(
        case.map.as_mut_ptr().cast(),
        qpik_dtype::QPIK_F32 as u32,
        n,
        n,
        0,
    );
    let rows = (case.positions.len() / 2) as i64;
    let da = qpik_array_2d(
        case.positions.as_mut_ptr().cast(),
        qpik_dtype::QPIK_F32 as u32,
        rows,
        2,
        0,
    );
    let defects = if rows > 0 {
        &da as *const qpik_array
    } else {
        std::ptr::null()
    };
    let start = Instant::now();
    let p = CancelAt(start, at, Default::default());
    let mut ex = std::ptr::null_mut();
    let s = unsafe {
        qpik_extract_map_progress(
            o,
            &ma,
            defects,
            &mut ex,
            Some(cancel_at),
            (&p as *const CancelAt).cast_mut().cast(),
        )
    };
    let end = start.elapsed();
    unsafe {
        qpik_options_free(o);
        qpik_extraction_free(ex);
    }
    (s == qpik_status::QPIK_ERR_CANCELLED).then(|| end.saturating_sub(at))
}

/// The latency of `qpik extract` on the case's files, SIGINT at `at`: from the signal to
/// the exit; `None` when it finished first or did not exit with 130.
fn cli(case: &Case, dir: &std::path::Path, at: Duration) -> Option<Duration> {
    let map = dir.join(format!("{}.npy", case.name));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qpik"));
    cmd.arg("extract")
        .arg(&map)
        .args(["--kernel-size", "25", "-o"])
        .arg(dir.join(format!("{}-out.h5", case.name)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if !case.positions.is_empty() {
        cmd.arg("--positions")
            .arg(dir.join(format!("{}-positions.npy", case.name)));
    }
    let mut child = cmd.spawn().expect("qpik runs");
    std::thread::sleep(at);
    if child.try_wait().ok().flatten().is_some() {
        return None;
    }
    let signalled = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("qpik exits");
    let took = signalled.elapsed();
    (status.code() == Some(130)).then_some(took)
}

fn report(host: &str, case: &str, mut v: Vec<Duration>, asked: usize) {
    v.sort();
    if v.is_empty() {
        println!("{host:8} {case:34} every call finished before the request");
        return;
    }
    println!(
        "{host:8} {case:34} median {:7.1} ms  max {:7.1} ms  ({} of {asked} requests landed)",
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
        v.len()
    );
}

fn main() {
    let reps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    println!("threads: {}", rayon::current_num_threads());
    let moments: Vec<Duration> = (0..reps)
        .map(|i| Duration::from_millis(200 + 300 * i as u64))
        .collect();
    let (map, positions) = scene(1024, 2000);
    let forward = Case {
        name: "forward",
        label: "forward 1024^2, 2,000 positions",
        side: 1024,
        map,
        positions,
    };
    let (map, _) = scene(512, 300);
    let blind = Case {
        name: "blind",
        label: "blind 512^2, 300 defects",
        side: 512,
        map,
        positions: Vec::new(),
    };
    let mut cases = [forward, blind];
    // The CLI reads the maps and positions from files.
    let dir = tempfile::tempdir().expect("a temporary folder");
    for case in &cases {
        let map =
            ndarray::ArrayView2::from_shape((case.side, case.side), &case.map[..]).expect("square");
        qpik::data::npy::write_npy_f32(
            &dir.path().join(format!("{}.npy", case.name)),
            map.view().into_dyn(),
            false,
        )
        .expect("map written");
        if !case.positions.is_empty() {
            let p =
                ndarray::ArrayView2::from_shape((case.positions.len() / 2, 2), &case.positions[..])
                    .expect("pairs");
            qpik::data::npy::write_npy_f32(
                &dir.path().join(format!("{}-positions.npy", case.name)),
                p.view().into_dyn(),
                false,
            )
            .expect("positions written");
        }
    }
    for case in cases.iter_mut() {
        let l = case.label;
        let v = moments.iter().filter_map(|&m| rust_api(case, m)).collect();
        report("Rust API", l, v, reps);
        let v = moments.iter().filter_map(|&m| c_abi(case, m)).collect();
        report("C ABI", l, v, reps);
        let v = moments
            .iter()
            .filter_map(|&m| cli(case, dir.path(), m))
            .collect();
        report("CLI", l, v, reps);
    }
}
