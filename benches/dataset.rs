//! Reading a dataset file in a child process against reading it in this process
//! (`cargo bench --bench dataset`): open + read every observation, and open + read 8, as
//! interleaved runs, medians and their ratio. Uses `QPIK_BENCH_DATASET` (a dataset file) or a
//! generated file of 10,000 noisy 64 x 64 observations.

use ndarray::{Array2, Array3};
use qpik::data::hdf5_io::{DatasetReader, write_dataset};
use qpik::data::{Dataset, DatasetInfo, KernelTable, ObservationTable};
use qpik::rng::Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "common/timing.rs"]
#[allow(dead_code)]
mod timing;
use timing::median;

fn generated(path: &Path) {
    let (n, k, s, size) = (10_000, 10, 20, 64);
    let mut rng = Rng::new(7);
    let ds = Dataset {
        info: DatasetInfo {
            pixel_size_m: 6.25e-10,
            seed: 7,
            generator: "bench".into(),
        },
        kernels: KernelTable {
            kernels: Array3::from_shape_fn((k, size, size), |_| rng.normal() as f32),
            names: (0..k).map(|i| format!("k{i}")).collect(),
            symmetry: vec![4; k],
            split: vec![0; k],
            pixel_size_m: vec![6.25e-10; k],
        },
        observations: ObservationTable {
            observations: Array3::from_shape_fn((n, size, size), |_| rng.normal() as f32),
            masks: Array3::from_shape_fn((n, size, size), |_| (rng.next_u64() % 97 == 0) as u8),
            kernel_index: (0..n).map(|i| (i % k) as u32).collect(),
            positions: Array3::from_elem((n, s, 2), 3.0),
            amplitudes: Array2::from_elem((n, s), 1.0),
            types: Array2::zeros((n, s)),
            type_kernels: Array2::from_shape_fn((n, 1), |(i, _)| (i % k) as u32),
        },
    };
    write_dataset(path, &ds).expect("write the bench dataset");
}

fn main() {
    let (path, temp): (PathBuf, bool) = match std::env::var("QPIK_BENCH_DATASET") {
        Ok(p) => (p.into(), false),
        Err(_) => {
            let p = std::env::temp_dir().join(format!("qpik-bench-{}.h5", std::process::id()));
            generated(&p);
            (p, true)
        }
    };
    let bytes = std::fs::metadata(&path).expect("dataset file").len();
    let n = DatasetReader::open_in_process(&path).expect("opens").len();
    println!(
        "{} ({n} observations, {:.0} MB)",
        path.display(),
        bytes as f64 / 1e6
    );
    // Opens (here or in a child) and reads the first `rows` observations (all when None).
    let run = |child: bool, rows: Option<usize>| {
        let r = if child {
            DatasetReader::open_in_child(&path)
        } else {
            DatasetReader::open_in_process(&path)
        }
        .expect("opens");
        r.read_observations(0..rows.unwrap_or(r.len()).min(r.len()))
            .expect("reads");
    };
    for (name, rows, reps) in [("open + read all", None, 7), ("open + read 8", Some(8), 51)] {
        let f = |child| run(child, rows);
        f(true);
        f(false);
        let (mut here, mut there) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let t = Instant::now();
            f(false);
            here.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            f(true);
            there.push(t.elapsed().as_secs_f64());
        }
        let (h, c) = (median(here), median(there));
        println!(
            "{name:>16}: in process {:9.2} ms, in a child {:9.2} ms, ratio {:.3}",
            h * 1e3,
            c * 1e3,
            c / h
        );
    }
    if temp {
        let _ = std::fs::remove_file(&path);
    }
}
