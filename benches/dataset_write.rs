//! Write speed of the streaming dataset writer at the paper's scale
//! (`cargo bench --bench dataset_write`): 50,000 noisy 64 x 64 observations with 20 defect
//! slots, written in blocks of 1,000 through `DatasetWriter`, median of 3 runs after a warm-up.
//! `QPIK_BENCH_OBSERVATIONS` sets a smaller (or larger) N, a multiple of the block.

use ndarray::Array3;
use qpik::data::assemble::pack_defects;
use qpik::data::hdf5_io::DatasetWriter;
use qpik::data::{DatasetInfo, KernelTable, ObservationTable};
use qpik::rng::Rng;
use std::time::Instant;

#[path = "common/timing.rs"]
#[allow(dead_code)]
mod timing;
use timing::median;

/// Largest N accepted from `QPIK_BENCH_OBSERVATIONS` (about 20 GB written per run).
const MAX_OBSERVATIONS: usize = 1_000_000;

/// One block of `n` observations of `h x w` from `k` kernels, `s` defect slots of which a
/// varying number are used (the rest NaN), seeded.
fn block(n: usize, h: usize, w: usize, s: usize, k: usize, seed: u64) -> ObservationTable {
    let mut rng = Rng::new(seed);
    let mut masks = Array3::zeros((n, h, w));
    let mut defects = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = Vec::new();
        for _ in 0..(i % (s + 1)) {
            let (r, c) = (
                rng.range(0.0, h as f64 - 1.0),
                rng.range(0.0, w as f64 - 1.0),
            );
            row.push(Some(([r as f32, c as f32], rng.range(-2.0, 2.0) as f32)));
            masks[[i, r.round() as usize, c.round() as usize]] = 1;
        }
        defects.push(row);
    }
    let (positions, amplitudes) = pack_defects(defects.into_iter(), s);
    let kernel_index: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    let observations = Array3::from_shape_fn((n, h, w), |_| rng.normal() as f32 * 1e-3);
    ObservationTable::one_type(observations, masks, kernel_index, positions, amplitudes)
}

fn main() {
    let (h, w, s, k, rows) = (64, 64, 20, 3, 1000);
    let n = match std::env::var("QPIK_BENCH_OBSERVATIONS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 && n % rows == 0 && n <= MAX_OBSERVATIONS => n,
            _ => {
                eprintln!(
                    "QPIK_BENCH_OBSERVATIONS={v:?}: expected a positive multiple of {rows} \
                     up to {MAX_OBSERVATIONS}"
                );
                std::process::exit(2);
            }
        },
        Err(_) => 50_000,
    };
    let mut rng = Rng::new(10);
    let info = DatasetInfo {
        pixel_size_m: 6.25e-10,
        seed: 10,
        generator: "bench".into(),
    };
    let kernels = KernelTable {
        kernels: Array3::from_shape_fn((k, h, w), |_| rng.normal() as f32),
        names: (0..k).map(|i| format!("k{i}")).collect(),
        symmetry: vec![4; k],
        split: vec![0; k],
        pixel_size_m: vec![6.25e-10; k],
    };
    let template = block(rows, h, w, s, k, 10);
    let path = std::env::temp_dir().join(format!("qpik-bench-write-{}.h5", std::process::id()));
    let mut size = 0;
    let mut write = || {
        let mut writer = DatasetWriter::create(&path, &info, &kernels, n, s).expect("creates");
        for start in (0..n).step_by(rows) {
            writer.write_block(start, &template).expect("writes");
        }
        writer.finish().expect("finishes");
        size = std::fs::metadata(&path).expect("written").len();
    };
    write();
    let times: Vec<f64> = (0..3)
        .map(|run| {
            let t = Instant::now();
            write();
            let dt = t.elapsed().as_secs_f64();
            println!("run {run}: {dt:.2} s");
            dt
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    println!(
        "{n} observations {h}x{w}, {s} defect slots: median write {:.2} s, {:.0} MB/s of file \
         ({:.0} MB, {} threads)",
        median(times.clone()),
        size as f64 / 1e6 / median(times),
        size as f64 / 1e6,
        rayon::current_num_threads()
    );
}
