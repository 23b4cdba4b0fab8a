//! C ABI overhead on a 64 x 64 extraction (`cargo bench --bench capi`): the Rust API
//! (`Extractor::extract`) against `qpik_extract` through the exported C function (descriptor
//! checks, copies in and out, the panic guard), interleaved runs, medians and their ratio.
//! Target: the C ABI costs at most 5 % more. Uses the embedded two-step model, else
//! `QPIK_BENCH_MODEL` (a model file), else the tiny test fixture.

use candle_core::Device;
use ndarray::Array2;
use qpik::capi::{
    qpik_array_2d, qpik_dtype, qpik_extract, qpik_model, qpik_model_free, qpik_model_new_default,
    qpik_model_new_from_file, qpik_order, qpik_status,
};
use qpik::extract::{Extractor, Method};
use std::ffi::CString;
use std::time::Instant;

#[path = "common/timing.rs"]
#[allow(dead_code)]
mod timing;
use timing::median;

fn main() {
    let dev = Device::Cpu;
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/tiny-two-step.safetensors"
    );
    let path = std::env::var("QPIK_BENCH_MODEL").unwrap_or_else(|_| fixture.to_string());
    let (ex, which) = match Extractor::embedded(Method::TwoStep, &dev) {
        Ok(ex) => (ex, "embedded two-step".to_string()),
        Err(_) => (
            Extractor::open(std::path::Path::new(&path), &dev).expect("model file loads"),
            path.clone(),
        ),
    };
    let mut model: *mut qpik_model = std::ptr::null_mut();
    let st = unsafe {
        if which.starts_with("embedded") {
            qpik_model_new_default(std::ptr::null(), &mut model)
        } else {
            let c = CString::new(path.as_str()).expect("path");
            qpik_model_new_from_file(c.as_ptr(), std::ptr::null(), &mut model)
        }
    };
    assert_eq!(st, qpik_status::QPIK_OK);
    let s = ex.config.size;
    let mut obs = Array2::from_shape_fn((s, s), |(i, j)| {
        (i as f32 * 0.3).sin() + (j as f32 * 0.2).cos()
    });
    let mut mask = Array2::<u8>::zeros((s, s));
    mask[[20, 30]] = 1;
    mask[[40, 12]] = 1;
    let mut out = vec![0f32; s * s];
    let f32t = qpik_dtype::QPIK_F32 as u32;
    let u8t = qpik_dtype::QPIK_U8 as u32;
    let row = qpik_order::QPIK_ROW_MAJOR as u32;
    let (n, reps) = (s as i64, 101);
    let (mut rust, mut c) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for r in 0..=reps {
        let t = Instant::now();
        std::hint::black_box(ex.extract(obs.view(), mask.view()).expect("extract"));
        let tr = t.elapsed().as_secs_f64();
        let oa = qpik_array_2d(obs.as_mut_ptr().cast(), f32t, n, n, row);
        let ma = qpik_array_2d(mask.as_mut_ptr().cast(), u8t, n, n, row);
        let ka = qpik_array_2d(out.as_mut_ptr().cast(), f32t, n, n, row);
        let t = Instant::now();
        let st = unsafe { qpik_extract(model, &oa, &ma, &ka, std::ptr::null_mut()) };
        let tc = t.elapsed().as_secs_f64();
        assert_eq!(st, qpik_status::QPIK_OK);
        if r > 0 {
            // The first round warms up.
            rust.push(tr);
            c.push(tc);
        }
    }
    let same = ex.extract(obs.view(), mask.view()).expect("extract");
    assert!(
        same.iter().zip(&out).all(|(a, b)| a == b),
        "C and Rust results differ"
    );
    let (mr, mc) = (median(rust), median(c));
    println!("model: {which}; threads: {}", rayon::current_num_threads());
    println!(
        "64 x 64 extraction: Rust API {:.3} ms, C ABI {:.3} ms (medians of {reps}); ratio C/Rust {:.3}",
        mr * 1e3,
        mc * 1e3,
        mc / mr
    );
    unsafe { qpik_model_free(model) };
}
