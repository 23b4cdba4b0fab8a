//! Issue 22, part 2: budgets before work. Each test runs the C ABI in a child process of this
//! test binary under an address-space limit (`setrlimit(RLIMIT_AS)`), so an allocation the
//! estimate did not foresee aborts the child and fails the test instead of passing unseen.

use qpik::capi::*;
use std::ffi::CString;
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;

#[path = "support/capi_child.rs"]
mod capi_child;
use capi_child::{in_child, last_error, options};

/// An 8192 x 8192 blind extraction under a 1 GiB budget: refused at once with the budget
/// error (the search ran first and reached 5.7 GB before).
#[test]
fn a_huge_blind_search_is_refused_before_it_starts() {
    in_child(
        "a_huge_blind_search_is_refused_before_it_starts",
        2 * GIB,
        Duration::from_secs(60),
        || {
            let n = 8192;
            let mut map = vec![0f32; n * n];
            for (i, v) in map.iter_mut().enumerate() {
                *v = ((i * 2_654_435_761) % 1000) as f32 * 1e-3;
            }
            let side = n as i64;
            let ma = qpik_array_2d(
                map.as_mut_ptr().cast(),
                qpik_dtype::QPIK_F32 as u32,
                side,
                side,
                0,
            );
            let o = options(&[("map.memory_budget_bytes", "1073741824")]);
            let mut ex = std::ptr::null_mut();
            let t = Instant::now();
            let s = unsafe { qpik_extract_map(o, &ma, std::ptr::null(), &mut ex) };
            unsafe { qpik_options_free(o) };
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
            assert!(last_error().contains("memory budget"), "{}", last_error());
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
            assert!(ex.is_null());
        },
    );
}

/// A spec of `orbitals` orbitals in a chain, on a k-grid of `n` (None: chosen by the spec).
fn wide_spec(orbitals: usize, n: Option<usize>) -> String {
    let sites: Vec<String> = (0..orbitals)
        .map(|i| format!("[{}, 0.0]", i as f64 / orbitals as f64))
        .collect();
    let hoppings: Vec<String> = (0..orbitals)
        .map(|i| format!("{{ to = {i}, from = {i}, cell = [1, 0], t = -0.25 }}"))
        .collect();
    format!(
        "name = \"wide\"\nsymmetry = 1\nenergy_ev = 0.0\nbroadening_ev = 0.01\n\
         [model]\nkind = \"tight-binding\"\na1 = [3.5, 0.0]\na2 = [0.0, 3.5]\n\
         orbitals = [{}]\norbital_radius_a = 1.0\nhoppings = [{}]\n\
         [impurity]\norbitals = [0]\npotential_ev = 0.5\n{}\
         [render]\nsize = [32, 32]\npixel_size_a = 4.0\n",
        sites.join(", "),
        hoppings.join(", "),
        n.map(|n| format!("[kgrid]\nn = {n}\n")).unwrap_or_default()
    )
}

/// A 200-orbital spec under a 4 GiB address-space limit and the default budget: simulated
/// or refused with the budget error, never an abort.
#[test]
fn a_two_hundred_orbital_spec_is_simulated_or_refused_within_four_gib() {
    in_child(
        "a_two_hundred_orbital_spec_is_simulated_or_refused_within_four_gib",
        4 * GIB,
        Duration::from_secs(300),
        || {
            let grids: Vec<Option<usize>> = match std::env::var("QPIK_PROBE_N") {
                Ok(v) => vec![v.parse().ok()],
                Err(_) => vec![None, Some(1024), Some(48)],
            };
            for n in grids {
                let toml = CString::new(wide_spec(200, n)).unwrap();
                let mut k = std::ptr::null_mut();
                let t = Instant::now();
                let s = unsafe {
                    qpik_kernel_new(std::ptr::null(), toml.as_ptr(), std::ptr::null(), &mut k)
                };
                println!("n {n:?}: {s:?} in {:?}: {}", t.elapsed(), last_error());
                assert!(
                    s == qpik_status::QPIK_OK || s == qpik_status::QPIK_ERR_MEMORY_BUDGET,
                    "{s:?}: {}",
                    last_error()
                );
                unsafe { qpik_kernel_free(k) };
            }
        },
    );
}

/// Issue 22: a 200-orbital spec under `ulimit -v 4000000` (4.096 GB) whose estimate (3.96 GiB)
/// is within the default 4 GiB budget: the k-grids fit, a worker's row of Bloch matrices
/// does not. That worker's allocation fails, and the other worker stops at its next k point
/// (it went on with its 32 rows of 200 x 200 inverses for minutes), so the call is refused
/// with the budget error within seconds.
#[test]
fn a_two_hundred_orbital_spec_past_the_address_space_is_refused_within_seconds() {
    in_child(
        "a_two_hundred_orbital_spec_past_the_address_space_is_refused_within_seconds",
        4_000_000 * 1024,
        Duration::from_secs(120),
        || {
            let toml = CString::new(wide_spec(200, Some(720))).unwrap();
            let mut k = std::ptr::null_mut();
            let t = Instant::now();
            let s = unsafe {
                qpik_kernel_new(std::ptr::null(), toml.as_ptr(), std::ptr::null(), &mut k)
            };
            println!("n 720: {s:?} in {:?}: {}", t.elapsed(), last_error());
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
            assert!(
                last_error().contains("could not provide"),
                "{}",
                last_error()
            );
            assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
            assert!(k.is_null());
        },
    );
}
