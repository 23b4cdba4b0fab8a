//! Writes an extraction result file and its pictures for a hand-made extraction, to look at:
//! `cargo run --release --example extraction_pictures -- OUT_DIR` (default: a new temp dir).
//!
//! The "extraction" is built by hand, not solved: two defect types with 4-fold QPI kernels at
//! four energies, a 160 x 144 map made from them with a plane background and noise.

use std::f64::consts::PI;
use std::path::PathBuf;

use ndarray::{Array2, Array3, Array4, s};
use qpik::data::extraction_file::{read_extraction, write_extraction};
use qpik::data::map_data::MapData;
use qpik::extract::map::Extraction;
use qpik::picture::{write_comparison_png, write_extraction_png, write_extraction_sheet};

/// A kernel with 4-fold rings: `cos(k r) / (1 + r/4)` modulated by `1 + a cos(4 phi)`.
fn kernel(size: usize, k: f64, anisotropy: f64) -> Array2<f32> {
    let c = (size / 2) as f64;
    Array2::from_shape_fn((size, size), |(i, j)| {
        let (y, x) = (i as f64 - c, j as f64 - c);
        let r = (x * x + y * y).sqrt();
        let phi = y.atan2(x);
        ((k * r).cos() / (1.0 + r / 4.0) * (1.0 + anisotropy * (4.0 * phi).cos())) as f32
    })
}

fn main() -> qpik::Result<()> {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("qpik_pictures_{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| qpik::Error::io(dir.display().to_string(), e))?;
    let (t, e, size, h, w) = (2, 4, 33, 160, 144);
    let energies: Vec<f64> = (0..e).map(|l| -0.02 + 0.01 * l as f64).collect();
    let mut kernels = Array4::<f32>::zeros((t, e, size, size));
    for k in 0..t {
        for l in 0..e {
            let q = 0.6 + 0.15 * l as f64 + 0.2 * k as f64;
            kernels
                .slice_mut(s![k, l, .., ..])
                .assign(&kernel(size, q, 0.3 * (k as f64 + 1.0)));
        }
    }
    // Defects on a jittered grid, seeded by a fixed formula.
    let positions: Vec<[f32; 2]> = (0..30)
        .map(|i| {
            let golden = (i as f64 * 0.618_034).fract();
            [
                (golden * h as f64) as f32,
                ((i as f64 * 0.414_214).fract() * w as f64) as f32,
            ]
        })
        .collect();
    let types: Vec<u8> = (0..positions.len()).map(|i| (i % 3 == 0) as u8).collect();
    let amplitudes = Array2::from_shape_fn((positions.len(), e), |(i, _)| {
        1.0 + 0.2 * ((i * 7 % 5) as f32 - 2.0) / 2.0
    });
    let mut data = Array3::<f32>::zeros((e, h, w));
    let c = (size / 2) as isize;
    for (n, (p, &ty)) in positions.iter().zip(&types).enumerate() {
        for l in 0..e {
            let a = amplitudes[[n, l]];
            for di in -c..=c {
                for dj in -c..=c {
                    let (i, j) = (p[0].round() as isize + di, p[1].round() as isize + dj);
                    if i >= 0 && j >= 0 && (i as usize) < h && (j as usize) < w {
                        data[[l, i as usize, j as usize]] +=
                            a * kernels[[ty as usize, l, (di + c) as usize, (dj + c) as usize]];
                    }
                }
            }
        }
    }
    let background = Array3::from_shape_fn((e, h, w), |(l, i, j)| {
        0.2 + 0.002 * i as f32 - 0.001 * j as f32 + 0.01 * l as f32
    });
    let noise = Array3::from_shape_fn((e, h, w), |(l, i, j)| {
        0.05 * ((2.0 * PI * ((i * 131 + j * 71 + l * 29) % 97) as f64 / 97.0).sin() as f32)
    });
    let map = MapData {
        data: &data + &background + &noise,
        pixel_size_m: 1.2e-10,
        value_unit: "S".into(),
        energies_ev: energies.clone(),
        source: "example".into(),
    };
    let mut residual = noise.clone();
    residual.slice_mut(s![.., 5, ..]).fill(f32::NAN);
    let ex = Extraction {
        kernel_std: kernels.mapv(|v| 0.02 + 0.05 * v.abs()),
        kernels: kernels.clone(),
        positions,
        types,
        amplitudes,
        residual,
        background,
        heldout_r2: vec![0.91, 0.88, 0.86, 0.8],
        fit_r2: vec![0.95, 0.93, 0.92, 0.9],
        symmetry: 4,
        smoothness: vec![1e-3; e],
        decay: vec![1.0; e],
        mirror_axis_deg: vec![f64::NAN],
        pixel_size_m: 1.2e-10,
        value_unit: "S".into(),
        energies_ev: energies,
        method: "forward".into(),
        settings_toml: "kernel_size = 33\n".into(),
        excluded: ndarray::Array2::zeros((h, w)),
        notes: String::new(),
        control_heldout_r2: f64::NAN,
        provenance: Default::default(),
    };
    let h5 = dir.join("extraction.h5");
    write_extraction(&h5, &ex)?;
    let back = read_extraction(&h5)?;
    assert_eq!(back.kernels, ex.kernels);
    write_extraction_png(&dir.join("extraction.png"), &map, &ex, 1)?;
    write_extraction_sheet(&dir.join("sheet.png"), &ex)?;
    let truth = kernels.slice(s![0, 1, .., ..]);
    let found = &truth.mapv(|v| 2.0 * v) + &noise.slice(s![0, ..size, ..size]);
    write_comparison_png(
        &dir.join("comparison.png"),
        truth,
        found.view(),
        1.2e-10,
        "Example:",
    )?;
    println!("{}", dir.display());
    Ok(())
}
