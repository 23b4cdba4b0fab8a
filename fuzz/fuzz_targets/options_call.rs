//! The whole options-then-call path of the C ABI: `key=value` lines are set one by one with
//! `qpik_options_set` (most fail: that is part of the test), then one call chosen by the
//! first byte runs with those options on small inputs: a kernel, an observation, a dataset
//! file, a map extraction, a defect search. The memory budgets are forced to 256 MiB last
//! (the fuzzer runs with `-malloc_limit_mb` / `-rss_limit_mb` above it, scripts/fuzz.sh),
//! and calls that take a progress callback are cancelled after 2 s, so the run measures
//! what the options can do within the documented limits. A success must give finite data.
#![no_main]
use libfuzzer_sys::fuzz_target;
use qpik::capi::*;
use std::ffi::{CString, c_char, c_void};
use std::time::{Duration, Instant};

const BUDGET: &std::ffi::CStr = c"268435456";

unsafe extern "C" fn cancel_late(
    user: *mut c_void,
    _stage: *const c_char,
    _done: u64,
    _total: u64,
    _message: *const c_char,
) -> i32 {
    let start = unsafe { &*(user as *const Instant) };
    i32::from(start.elapsed() > Duration::from_secs(2))
}

/// A smooth test map with bumps at `pos` (row, col).
fn map(h: usize, w: usize, pos: &[[f64; 2]]) -> Vec<f64> {
    let mut m = vec![0.0; h * w];
    for (i, v) in m.iter_mut().enumerate() {
        let (r, c) = ((i / w) as f64, (i % w) as f64);
        *v = 0.01 * (0.3 * r).sin() * (0.2 * c).cos();
        for p in pos {
            let d2 = (r - p[0]).powi(2) + (c - p[1]).powi(2);
            *v += (-d2 / 4.0).exp() * (0.8 * d2.sqrt()).cos();
        }
    }
    m
}

fn finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut o = std::ptr::null_mut();
    unsafe {
        assert_eq!(qpik_options_new(&mut o), qpik_status::QPIK_OK);
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=')
                && let (Ok(k), Ok(v)) = (CString::new(k), CString::new(v))
            {
                let _ = qpik_options_set(o, k.as_ptr(), v.as_ptr());
            }
        }
        for key in [c"memory_budget_bytes", c"map.memory_budget_bytes"] {
            assert_eq!(
                qpik_options_set(o, key.as_ptr(), BUDGET.as_ptr()),
                qpik_status::QPIK_OK
            );
        }
        let start = Instant::now();
        let user = &start as *const Instant as *mut c_void;
        match which % 5 {
            0 => {
                let mut k = std::ptr::null_mut();
                if qpik_kernel_new(c"graphene-500meV".as_ptr(), std::ptr::null(), o, &mut k)
                    == qpik_status::QPIK_OK
                {
                    let mut info: qpik_kernel_info = std::mem::zeroed();
                    info.struct_size = std::mem::size_of::<qpik_kernel_info>() as u32;
                    assert_eq!(qpik_kernel_get_info(k, &mut info), qpik_status::QPIK_OK);
                    let mut img = vec![0f64; (info.rows * info.cols) as usize];
                    let a = qpik_array_2d(img.as_mut_ptr().cast(), 2, info.rows, info.cols, 0);
                    assert_eq!(qpik_kernel_image(k, &a), qpik_status::QPIK_OK);
                    assert!(finite(&img), "kernel: QPIK_OK with a non-finite image");
                }
                qpik_kernel_free(k);
            }
            1 => {
                let mut k = std::ptr::null_mut();
                let s = qpik_kernel_new(
                    c"shockley-cu111-m300meV".as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    &mut k,
                );
                assert_eq!(s, qpik_status::QPIK_OK);
                let mut obs = std::ptr::null_mut();
                if qpik_observation_new(k, 48, 40, o, &mut obs) == qpik_status::QPIK_OK {
                    let mut img = vec![0f64; 48 * 40];
                    let a = qpik_array_2d(img.as_mut_ptr().cast(), 2, 48, 40, 0);
                    let s = qpik_observation_image(obs, &a, std::ptr::null());
                    assert_eq!(s, qpik_status::QPIK_OK);
                    assert!(finite(&img), "observation: QPIK_OK with a non-finite map");
                }
                qpik_observation_free(obs);
                qpik_kernel_free(k);
            }
            2 => {
                let dir = std::env::temp_dir().join(format!("qpik-fuzz-{}", std::process::id()));
                let _ = std::fs::create_dir_all(&dir);
                let path = CString::new(dir.join("d.h5").to_string_lossy().as_bytes()).unwrap();
                let _ = qpik_dataset_generate(path.as_ptr(), o, Some(cancel_late), user);
                let _ = std::fs::remove_dir_all(&dir);
            }
            3 => {
                let pos = [[12.0, 14.0], [30.0, 33.0], [20.0, 40.0]];
                let mut m = map(48, 56, &pos);
                let mut p: Vec<f64> = pos.iter().flatten().copied().collect();
                let ma = qpik_array_2d(m.as_mut_ptr().cast(), 2, 48, 56, 0);
                let pa = qpik_array_2d(p.as_mut_ptr().cast(), 2, 3, 2, 0);
                let mut ex = std::ptr::null_mut();
                let s = qpik_extract_map_progress(o, &ma, &pa, &mut ex, Some(cancel_late), user);
                if s == qpik_status::QPIK_OK {
                    let mut info: qpik_extraction_info = std::mem::zeroed();
                    info.struct_size = std::mem::size_of::<qpik_extraction_info>() as u32;
                    assert_eq!(
                        qpik_extraction_get_info(ex, &mut info),
                        qpik_status::QPIK_OK
                    );
                    let (t, e, s) = (info.types, info.energies, info.kernel_size);
                    let mut k = vec![0f64; (t * e * s * s) as usize];
                    // [T, E, S, S], row-major (strides in elements).
                    let ka = qpik_array {
                        data: k.as_mut_ptr().cast(),
                        len: k.len() as u64,
                        dtype: 2,
                        ndim: 4,
                        shape: [t, e, s, s],
                        strides: [e * s * s, s * s, s, 1],
                    };
                    assert_eq!(qpik_extraction_kernels(ex, &ka), qpik_status::QPIK_OK);
                    assert!(finite(&k), "extract_map: QPIK_OK with a non-finite kernel");
                }
                qpik_extraction_free(ex);
            }
            _ => {
                let mut m = map(40, 40, &[[10.0, 10.0], [28.0, 25.0]]);
                let ma = qpik_array_2d(m.as_mut_ptr().cast(), 2, 40, 40, 0);
                let mut count = 0usize;
                let _ = qpik_find_defects(o, &ma, std::ptr::null(), &mut count);
            }
        }
        qpik_options_free(o);
    }
});
