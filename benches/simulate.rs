//! Benchmarks (run with `cargo bench --bench simulate`); prints medians and ratios.
//!
//! - `kernel_n512`: one single-band kernel (square lattice, N = 512 k-grid, 64 x 64 render)
//!   against a full 2D FFT of the same grid (the target: within 1.5x). The kernel's
//!   column pass is pruned to the cells the render needs, so it can beat a full FFT.
//! - `dataset_paper_scale`: 100 kernels x 500 observations of 64 x 64 including the HDF5 write
//!   (target: under 60 s on 2 cores). Skipped unless `QPIK_BENCH_DATASET=1` (it takes ~1 minute).

use qpik::physics::catalog::square_band;
use qpik::physics::{Impurity, KernelField, PixelGrid, SimContext};
use qpik::progress::NoProgress;
use qpik::synthesis::dataset::{DatasetConfig, generate_dataset};
use std::time::Instant;

#[path = "common/timing.rs"]
mod timing;
use timing::{median, time};

fn main() {
    let threads = rayon::current_num_threads();
    println!("threads: {threads}");
    let model = square_band(3.5, 0.25, -0.075, 0.0);
    let imp = Impurity {
        orbitals: vec![0],
        potential_ev: 0.4,
        magnetic_ev: 0.0,
    };
    let grid = PixelGrid::new(64, 64, 2.0);
    let mut ctx = SimContext::new();
    let n = 512;
    let reps = 31;
    let full = time(reps, || {
        // The LDOS box a 64 x 64 window at 2 Angstrom needs, with the Gaussian cut-off.
        let ldos = ctx
            .lattice_ldos_within(&model, &imp, 0.1, 0.02, n, 36)
            .unwrap();
        let field = KernelField::Lattice {
            ldos,
            orbital_sigma_a: 2.0,
        };
        std::hint::black_box(field.render(&grid, grid.centre()).unwrap());
    });
    let fft = time(reps, || ctx.fft_only(n, 1).unwrap());
    let ldos = ctx.lattice_ldos(&model, &imp, 0.1, 0.02, n).unwrap();
    let field = KernelField::Lattice {
        ldos,
        orbital_sigma_a: 2.0,
    };
    let render = time(reps, || {
        std::hint::black_box(field.render(&grid, grid.centre()).unwrap());
    });
    println!("render_64: {:.2} ms", render * 1e3);
    println!(
        "kernel_n512: full kernel median {:.2} ms, FFT alone {:.2} ms, ratio {:.2}",
        full * 1e3,
        fft * 1e3,
        full / fft
    );

    // The same through the catalog (its LDOS box also covers 2x-size synthesis stamps).
    let spec = qpik::physics::catalog::find("square-tp-3-200meV").unwrap();
    let catalog = time(reps, || {
        std::hint::black_box(spec.kernel_image(&mut ctx).unwrap());
    });
    println!(
        "catalog_square_n512: {:.2} ms, ratio to FFT alone {:.2}",
        catalog * 1e3,
        catalog / fft
    );

    if std::env::var("QPIK_BENCH_DATASET").as_deref() == Ok("1") {
        let path = std::env::temp_dir().join(format!("qpik-bench-{}.h5", std::process::id()));
        let cfg = DatasetConfig::default();
        let runs: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                generate_dataset(&cfg, &path, &NoProgress).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect();
        let _ = std::fs::remove_file(&path);
        println!(
            "dataset_paper_scale: 50,000 observations, runs {runs:.1?} s, median {:.1} s",
            median(runs.clone())
        );
    }
}
