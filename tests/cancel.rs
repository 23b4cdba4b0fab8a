//! Issue 22, part 4: a request to cancel is honoured within a second, wherever the work is.
//! A C progress callback that asks to cancel once 0.5 s have passed must see
//! `QPIK_ERR_CANCELLED` well within 1.5 s of the call's start: during a forward extraction
//! of a 1024 x 1024 map with 2,000 given positions (conjugate gradients, held-out fits,
//! bootstrap), and during a blind search (which reported no progress at all before). The
//! measured latencies are printed (`--nocapture`).

use qpik::capi::*;
use qpik::data::map_data::MapData;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::progress::Progress;
use std::ffi::{CStr, CString, c_char, c_void};
use std::time::{Duration, Instant};

fn last_error() -> String {
    unsafe { CStr::from_ptr(qpik_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[path = "../benches/common/rings.rs"]
mod rings;
use rings::scene;

/// Asks to cancel once `after` has passed since `start`; remembers when it first asked.
struct Clock {
    start: Instant,
    after: Duration,
    requested: Option<Instant>,
    calls: usize,
}

impl Clock {
    fn new(after: Duration) -> Self {
        Clock {
            start: Instant::now(),
            after,
            requested: None,
            calls: 0,
        }
    }

    /// The time from the first request to now (the call's return).
    fn latency(&self) -> Duration {
        self.requested
            .expect("the callback asked to cancel")
            .elapsed()
    }
}

unsafe extern "C" fn cancel_after(
    user: *mut c_void,
    _stage: *const c_char,
    _done: u64,
    _total: u64,
    _message: *const c_char,
) -> i32 {
    let clock = unsafe { &mut *(user as *mut Clock) };
    clock.calls += 1;
    if clock.start.elapsed() < clock.after {
        return 0;
    }
    clock.requested.get_or_insert_with(Instant::now);
    1
}

/// Runs an extraction through the C ABI with the callback above; returns the time to the
/// return, asserting `QPIK_ERR_CANCELLED`.
fn cancelled_extraction(map: &mut [f32], side: usize, positions: Option<&mut [f32]>) -> Duration {
    let mut o = std::ptr::null_mut();
    assert_eq!(unsafe { qpik_options_new(&mut o) }, qpik_status::QPIK_OK);
    let (k, v) = (
        CString::new("map.kernel_size").unwrap(),
        CString::new("25").unwrap(),
    );
    assert_eq!(
        unsafe { qpik_options_set(o, k.as_ptr(), v.as_ptr()) },
        qpik_status::QPIK_OK
    );
    let n = side as i64;
    let ma = qpik_array_2d(
        map.as_mut_ptr().cast(),
        qpik_dtype::QPIK_F32 as u32,
        n,
        n,
        0,
    );
    let da = positions.map(|p| {
        let rows = (p.len() / 2) as i64;
        qpik_array_2d(
            p.as_mut_ptr().cast(),
            qpik_dtype::QPIK_F32 as u32,
            rows,
            2,
            0,
        )
    });
    let mut clock = Clock::new(Duration::from_millis(500));
    let mut ex = std::ptr::null_mut();
    let s = unsafe {
        qpik_extract_map_progress(
            o,
            &ma,
            da.as_ref()
                .map_or(std::ptr::null(), |d| d as *const qpik_array),
            &mut ex,
            Some(cancel_after),
            (&mut clock as *mut Clock).cast(),
        )
    };
    let took = clock.start.elapsed();
    unsafe { qpik_options_free(o) };
    assert_eq!(s, qpik_status::QPIK_ERR_CANCELLED, "{}", last_error());
    assert!(ex.is_null());
    assert!(clock.calls >= 2, "{} calls", clock.calls);
    took
}

#[test]
fn a_forward_extraction_stops_within_a_second_of_the_request() {
    let side = 1024;
    let (mut map, mut positions) = scene(side, 2000);
    let took = cancelled_extraction(&mut map, side, Some(&mut positions));
    println!("forward 1024^2, 2,000 positions: cancelled at 0.5 s, returned after {took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn a_blind_search_stops_within_a_second_of_the_request() {
    let side = 512;
    let (mut map, _) = scene(side, 300);
    let took = cancelled_extraction(&mut map, side, None);
    println!("blind 512^2: cancelled at 0.5 s, returned after {took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

/// The library's own API: a [`Progress`] that cancels after 300 ms.
struct CancelAfter(Instant, Duration);
impl Progress for CancelAfter {
    fn cancelled(&self) -> bool {
        self.0.elapsed() >= self.1
    }
}

#[test]
fn the_rust_api_stops_within_a_second_of_the_request() {
    let side = 1024;
    let (map, positions) = scene(side, 2000);
    let image = ndarray::Array2::from_shape_vec((side, side), map).unwrap();
    let positions: Vec<[f64; 2]> = positions
        .chunks(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect();
    let settings = MapSettings {
        kernel_size: Some(25),
        ..MapSettings::default()
    };
    let start = Instant::now();
    let p = CancelAfter(start, Duration::from_millis(300));
    let r = extract_map(&MapData::from_image(image), &positions, &settings, &p);
    let took = start.elapsed();
    println!("Rust API 1024^2, 2,000 positions: cancelled at 0.3 s, returned after {took:?}");
    assert!(matches!(r, Err(qpik::Error::Cancelled)), "{:?}", r.err());
    assert!(took < Duration::from_millis(1300), "{took:?}");
}

/// A chain of `orbitals` orbitals on an `n x n` k-grid, the impurity on orbital 0.
fn chain_spec(orbitals: usize, n: usize) -> String {
    let sites: Vec<String> = (0..orbitals)
        .map(|i| format!("[{}, 0.0]", i as f64 / orbitals as f64))
        .collect();
    let hoppings: Vec<String> = (0..orbitals)
        .map(|i| {
            format!(
                "{{ to = {i}, from = {}, cell = [1, 0], t = -0.25 }}",
                (i + 1) % orbitals
            )
        })
        .collect();
    format!(
        "name = \"chain\"\nsymmetry = 1\nenergy_ev = 0.0\nbroadening_ev = 0.01\n\
         [model]\nkind = \"tight-binding\"\na1 = [3.5, 0.0]\na2 = [0.0, 3.5]\n\
         orbitals = [{}]\norbital_radius_a = 1.0\nhoppings = [{}]\n\
         [impurity]\norbitals = [0]\npotential_ev = 0.5\n[kgrid]\nn = {n}\n\
         [render]\nsize = [32, 32]\npixel_size_a = 4.0\n",
        sites.join(", "),
        hoppings.join(", "),
    )
}

#[test]
fn a_lattice_kernel_on_a_large_k_grid_stops_within_a_second_of_the_request() {
    // 24 orbitals on 512^2 k points: a 24 x 24 inverse at each, 5 s uncancelled on 2 cores.
    let spec = CString::new(chain_spec(24, 512)).unwrap();
    let mut clock = Clock::new(Duration::from_millis(300));
    let mut k = std::ptr::null_mut();
    let s = unsafe {
        qpik_kernel_new_progress(
            std::ptr::null(),
            spec.as_ptr(),
            std::ptr::null(),
            &mut k,
            Some(cancel_after),
            (&mut clock as *mut Clock).cast(),
        )
    };
    let latency = clock.latency();
    assert_eq!(s, qpik_status::QPIK_ERR_CANCELLED, "{}", last_error());
    assert!(k.is_null());
    println!("kernel, 24 orbitals on 512^2: cancelled at 0.3 s, returned {latency:?} later");
    assert!(latency <= Duration::from_secs(1), "{latency:?}");
}

#[test]
fn training_stops_within_a_second_of_the_request() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny-dataset.h5");
    let dir = tempfile::tempdir().unwrap();
    let out = CString::new(dir.path().join("m.safetensors").to_str().unwrap()).unwrap();
    let mut o = std::ptr::null_mut();
    assert_eq!(unsafe { qpik_options_new(&mut o) }, qpik_status::QPIK_OK);
    // Hundreds of epochs: minutes of work unless the request is honoured.
    for (k, v) in [
        ("train.epochs", "500"),
        ("train.steps_per_epoch", "4"),
        ("train.batch_size", "4"),
        ("train.channels", "4,4,8"),
    ] {
        let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
        let s = unsafe { qpik_options_set(o, k.as_ptr(), v.as_ptr()) };
        assert_eq!(s, qpik_status::QPIK_OK, "{}", last_error());
    }
    let (what, data) = (c"one-step", CString::new(data).unwrap());
    let mut clock = Clock::new(Duration::from_millis(300));
    let s = unsafe {
        qpik_train(
            what.as_ptr(),
            data.as_ptr(),
            out.as_ptr(),
            o,
            Some(cancel_after),
            (&mut clock as *mut Clock).cast(),
        )
    };
    let latency = clock.latency();
    unsafe { qpik_options_free(o) };
    assert_eq!(s, qpik_status::QPIK_ERR_CANCELLED, "{}", last_error());
    println!("training: cancelled at 0.3 s, returned {latency:?} later");
    assert!(latency <= Duration::from_secs(1), "{latency:?}");
}
