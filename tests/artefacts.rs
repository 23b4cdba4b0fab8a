//! Each of the seven synthesis artefacts alone, against what it is stated to add: every test
//! fails when its artefact is missing (adds nothing) or has the wrong shape.

use qpik::physics::{PixelGrid, SimContext, catalog::find};
use qpik::rng::Rng;
use qpik::synthesis::{Artefacts, DefectConfig, KernelStamps, apply_artefacts, place_defects};

const H: usize = 64;
const W: usize = 64;

/// A smooth, non-constant map (std about 0.7) to add artefacts to.
fn base() -> Vec<f32> {
    (0..H * W)
        .map(|k| {
            let (i, j) = ((k / W) as f32, (k % W) as f32);
            (0.3 * i).sin() + (0.2 * j).cos()
        })
        .collect()
}

fn std_dev(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// What `artefacts` (all else off) adds to the base map, and the base map's std.
fn added(artefacts: Artefacts, seed: u64) -> (Vec<f32>, f64) {
    let clean = base();
    let mut img = clean.clone();
    apply_artefacts(&mut img, H, W, &artefacts, &mut Rng::new(seed));
    let diff = img.iter().zip(&clean).map(|(a, b)| a - b).collect();
    (diff, std_dev(&clean))
}

fn none() -> Artefacts {
    Artefacts::default()
}

/// Correlation of consecutive raster samples.
fn lag1(x: &[f32]) -> f64 {
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
    let c0: f64 = x.iter().map(|&v| (v as f64 - m).powi(2)).sum();
    let c1: f64 = x
        .windows(2)
        .map(|w| (w[0] as f64 - m) * (w[1] as f64 - m))
        .sum();
    c1 / c0
}

#[test]
fn the_default_adds_nothing() {
    let (d, _) = added(none(), 1);
    assert!(d.iter().all(|&x| x == 0.0));
}

#[test]
fn white_noise_has_the_stated_snr_and_no_correlation() {
    let (d, s) = added(
        Artefacts {
            snr: Some(4.0),
            ..none()
        },
        2,
    );
    let ratio = s / std_dev(&d);
    assert!((ratio - 4.0).abs() < 0.2, "snr {ratio}");
    assert!(
        lag1(&d).abs() < 0.05,
        "white noise lag-1 correlation {}",
        lag1(&d)
    );
}

#[test]
fn flicker_noise_has_its_strength_and_is_correlated_in_scan_order() {
    let (d, s) = added(
        Artefacts {
            flicker: 0.3,
            ..none()
        },
        3,
    );
    let strength = std_dev(&d) / s;
    assert!(
        (strength - 0.3).abs() < 0.01,
        "flicker std {strength} x map std"
    );
    assert!(lag1(&d) > 0.5, "1/f noise lag-1 correlation {}", lag1(&d));
}

#[test]
fn line_offsets_are_one_value_per_scan_line_of_the_stated_spread() {
    let (d, s) = added(
        Artefacts {
            line_offsets: 0.5,
            ..none()
        },
        4,
    );
    let per_row: Vec<f32> = d.chunks(W).map(|row| row[0]).collect();
    for (row, &off) in d.chunks(W).zip(&per_row) {
        assert!(
            row.iter().all(|&x| (x - off).abs() < 1e-6),
            "not constant along a line"
        );
    }
    let distinct = per_row.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        distinct > H / 2,
        "offsets differ from line to line: {distinct}"
    );
    let spread = std_dev(&per_row) / s;
    assert!(
        (spread - 0.5).abs() < 0.15,
        "offset spread {spread} x map std"
    );
}

#[test]
fn tip_changes_are_steps_in_scan_order() {
    let (d, s) = added(
        Artefacts {
            tip_changes: 4.0,
            tip_change_size: 0.5,
            ..none()
        },
        5,
    );
    // Piecewise constant in raster order (to float32 rounding), zero before the first change.
    let tol = (1e-5 * s) as f32;
    let jumps: Vec<usize> = (1..d.len())
        .filter(|&k| (d[k] - d[k - 1]).abs() > tol)
        .collect();
    assert!(
        !jumps.is_empty() && jumps.len() <= 15,
        "{} steps",
        jumps.len()
    );
    assert!(d[..jumps[0]].iter().all(|&x| x == 0.0));
    let sizes: Vec<f64> = jumps
        .iter()
        .map(|&k| ((d[k] - d[k - 1]) as f64 / s).abs())
        .collect();
    assert!(
        sizes.iter().all(|&x| x < 5.0 * 0.5),
        "steps of {sizes:?} map stds"
    );
}

#[test]
fn spikes_are_isolated_pixels_of_the_stated_size() {
    let (d, s) = added(
        Artefacts {
            spikes: 6.0,
            spike_size: 4.0,
            ..none()
        },
        6,
    );
    let hit: Vec<f64> = d
        .iter()
        .filter(|&&x| x != 0.0)
        .map(|&x| x as f64 / s)
        .collect();
    assert!(!hit.is_empty() && hit.len() <= 20, "{} spikes", hit.len());
    // Each is spike_size x U(1, 3) map stds (two may share a pixel: up to twice that).
    assert!(
        hit.iter().all(|x| (4.0 * 0.999..=24.0).contains(&x.abs())),
        "{hit:?}"
    );
}

#[test]
fn the_plane_is_a_plane_of_the_stated_tilt() {
    let (d, s) = added(
        Artefacts {
            plane: 2.0,
            ..none()
        },
        7,
    );
    let at = |i: usize, j: usize| d[i * W + j] as f64;
    let (gx, gy) = (at(0, 1) - at(0, 0), at(1, 0) - at(0, 0));
    for i in 0..H {
        for j in 0..W {
            let plane = at(0, 0) + gx * j as f64 + gy * i as f64;
            assert!(
                (at(i, j) - plane).abs() < 1e-4 * s,
                "not a plane at ({i}, {j})"
            );
        }
    }
    // Gradient plane * std / diagonal per pixel.
    let diag = ((H * H + W * W) as f64).sqrt();
    let g = gx.hypot(gy);
    assert!((g - 2.0 * s / diag).abs() < 1e-3 * g, "gradient {g}");
}

#[test]
fn drift_shears_the_frame_line_by_line() {
    let spec = find("square-tp0-300meV").unwrap();
    let field = spec.simulate(&mut SimContext::new()).unwrap();
    let grid = PixelGrid {
        height: 32,
        width: 32,
        ..spec.grid()
    };
    let stamps = KernelStamps::new(&field, &grid, 16, 1).unwrap();
    let cfg = DefectConfig {
        subpixel_steps: 1,
        ..DefectConfig::default()
    };
    let (h, w) = (32, 48);
    let place = |drift: [f64; 2]| {
        let mut img = vec![0.0f32; h * w];
        let mut mask = ndarray::Array2::<u8>::zeros((h, w));
        let (p, _) = place_defects(
            &stamps,
            2,
            &cfg,
            drift,
            &mut img,
            &mut mask,
            &mut Rng::new(8),
        )
        .unwrap();
        (img, p)
    };
    let (still, p0) = place([0.0, 0.0]);
    // 32 columns over 32 lines: line i sees every defect i columns to the left.
    let (sheared, p1) = place([0.0, 32.0]);
    assert_eq!(p0, p1, "drift moves what is seen, not the defects");
    let mut compared = 0;
    for i in 0..h {
        for j in 0..w - i {
            let (a, b) = (sheared[i * w + j], still[i * w + j + i]);
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-6),
                "({i}, {j}): {a} vs {b}"
            );
            compared += 1;
        }
    }
    assert!(compared > h * w / 2);
    assert!(sheared != still, "drift changed nothing");
}
