//! Rendering a drawn scene into a map: the defect signal (clipped when saturated), the
//! outliers and the lattice, then the scan-time artefacts from `Rng::stream(seed, 1)`.

use super::scene::{Scene, blob_value};
use super::{RealScan, RealScanConfig};
use crate::Result;
use crate::rng::Rng;
use crate::synthesis::{Artefacts, apply_artefacts, check_finite, std_dev};
use ndarray::Array2;

/// Half width of the excluded band along a step edge, pixels.
const STEP_EXCLUDED_PX: f64 = 4.0;
/// Width of the step's tanh profile, pixels.
const STEP_WIDTH_PX: f64 = 1.0;
/// A cluster's footprint: where its blobs exceed this (ring units), then grown by
/// [`CLUSTER_MARGIN_PX`].
const CLUSTER_LEVEL: f64 = 1.0;
const CLUSTER_MARGIN_PX: usize = 2;

/// One part of the scan: rows, displacement `(rows, cols)`, core and ripple factors.
struct Frame {
    rows: std::ops::Range<usize>,
    shift: [f64; 2],
    core_scale: f64,
    ripple_scale: f64,
}

fn frames(scene: &Scene, n: usize) -> Vec<Frame> {
    match scene.tip {
        None => vec![Frame {
            rows: 0..n,
            shift: [0.0; 2],
            core_scale: 1.0,
            ripple_scale: 1.0,
        }],
        Some(t) => vec![
            Frame {
                rows: 0..t.row,
                shift: [0.0; 2],
                core_scale: 1.0,
                ripple_scale: 1.0,
            },
            Frame {
                rows: t.row..n,
                shift: [t.shift_px[0] as f64, t.shift_px[1] as f64],
                core_scale: t.core_scale,
                ripple_scale: t.ripple_scale,
            },
        ],
    }
}

pub(super) fn render_scan(config: &RealScanConfig, scene: &Scene, seed: u64) -> Result<RealScan> {
    let n = config.size;
    let mut z = vec![0.0f32; n * n];
    let mut cluster_mask = vec![0u8; n * n];
    let mut excluded = vec![0u8; n * n];
    let frames = frames(scene, n);
    for f in &frames {
        let at = |p: [f64; 2]| [p[0] + f.shift[0], p[1] + f.shift[1]];
        for d in &scene.defects {
            scene.kernels[d.kind as usize].add(
                &mut z,
                n,
                f.rows.clone(),
                at(d.position),
                d.amplitude,
                f.ripple_scale,
                f.core_scale,
            );
        }
        for c in &scene.clusters {
            for &(p, a) in &c.rings {
                scene.kernels[0].add(&mut z, n, f.rows.clone(), at(p), a, f.ripple_scale, 0.0);
            }
            let shifted: Vec<_> = c
                .blobs
                .iter()
                .map(|b| super::scene::Blob {
                    centre: at(b.centre),
                    ..*b
                })
                .collect();
            for i in f.rows.clone() {
                for j in 0..n {
                    let v = f.core_scale * blob_value(&shifted, [i as f64, j as f64]);
                    z[i * n + j] += v as f32;
                    if v > CLUSTER_LEVEL {
                        cluster_mask[i * n + j] = 1;
                    }
                }
            }
        }
    }
    if let Some(level) = scene.saturation {
        let level = level as f32;
        z.iter_mut().for_each(|v| *v = v.min(level));
    }
    for f in &frames {
        for i in f.rows.clone() {
            for j in 0..n {
                let p = [i as f64 - f.shift[0], j as f64 - f.shift[1]];
                let (v, near_step) = background(scene, p);
                z[i * n + j] += v as f32;
                if near_step {
                    excluded[i * n + j] = 1;
                }
            }
        }
    }
    dilate_into(&cluster_mask, &mut excluded, n, CLUSTER_MARGIN_PX);
    let (core, zero_lines) = scan_artefacts(config, scene, &mut z, &mut excluded, seed);
    check_finite(&z, n)?;
    let kernels: Vec<Array2<f32>> = scene.kernels.iter().map(|k| k.image()).collect();
    Ok(RealScan {
        map: Array2::from_shape_vec((n, n), z).expect("shape"),
        pixel_size_m: scene.pixel_size_a * 1e-10,
        positions: scene.defects.iter().map(|d| d.position).collect(),
        types: scene.defects.iter().map(|d| d.kind).collect(),
        amplitudes: scene.defects.iter().map(|d| d.amplitude as f32).collect(),
        kernels,
        core_radius_px: scene.kernels.iter().map(|k| k.core_radius_px()).collect(),
        excluded: Array2::from_shape_vec((n, n), excluded).expect("shape"),
        ring_period_m: scene
            .ring_period_px()
            .map(|p| p * scene.pixel_size_a * 1e-10),
        isotropic: scene.isotropic,
        core_height: core,
        surface: scene.surface.clone(),
        tip_change: scene.tip,
        saturation: scene.saturation,
        zero_lines,
        dimers: scene.dimers.clone(),
    })
}

/// Step edge (height and standing wave) and corrugation at scene position `p`; whether `p`
/// is within the step's excluded band.
fn background(scene: &Scene, p: [f64; 2]) -> (f64, bool) {
    let mut v = 0.0;
    let mut near = false;
    if let Some(s) = &scene.step {
        let d = (p[0] - s.point[0]) * s.normal[0] + (p[1] - s.point[1]) * s.normal[1];
        v += s.height * 0.5 * (1.0 + (d / STEP_WIDTH_PX).tanh());
        if let Some((k, decay)) = scene.wave {
            // The 1-D standing wave of a reflecting edge, like J0(2 k d): period pi / k.
            let side = usize::from(d > 0.0);
            let a = d.abs();
            v += s.wave_amplitude[side] * (2.0 * k * a + s.wave_phase[side]).cos()
                / (1.0 + k * a).sqrt()
                * (-a / decay).exp();
        }
        near = d.abs() <= STEP_EXCLUDED_PX;
    }
    if let Some(c) = &scene.corrugation {
        let (x, y) = (p[0] - c.origin[0], p[1] - c.origin[1]);
        let sum: f64 = c.g.iter().map(|g| (g[0] * x + g[1] * y).cos()).sum();
        v += c.amplitude / 3.0 * sum;
    }
    (v, near)
}

/// Sets `out` to 1 within `margin` pixels (a square) of every 1 in `mask`.
fn dilate_into(mask: &[u8], out: &mut [u8], n: usize, margin: usize) {
    for i in 0..n {
        for j in 0..n {
            if mask[i * n + j] == 0 {
                continue;
            }
            for a in i.saturating_sub(margin)..(i + margin + 1).min(n) {
                for b in j.saturating_sub(margin)..(j + margin + 1).min(n) {
                    out[a * n + b] = 1;
                }
            }
        }
    }
}

/// Plane, line offsets, 1/f and white noise (the crate's [`apply_artefacts`], strengths
/// converted from ring units), then glitch lines, spikes and trailing zero lines, all from
/// `Rng::stream(seed, 1)`. Returns the adatom core height and the number of zero lines.
fn scan_artefacts(
    config: &RealScanConfig,
    scene: &Scene,
    z: &mut [f32],
    excluded: &mut [u8],
    seed: u64,
) -> (f64, usize) {
    let n = config.size;
    let rng = &mut Rng::stream(seed, 1);
    let core = scene.kernels[0].core_height;
    // apply_artefacts states strengths relative to the map's std s: divide by it.
    let s = std_dev(z).max(f64::MIN_POSITIVE);
    let artefacts = Artefacts {
        snr: (config.noise > 0.0).then(|| s / config.noise),
        flicker: config.flicker / s,
        line_offsets: config.line_offsets / s,
        plane: config.plane * core / s,
        ..Artefacts::default()
    };
    apply_artefacts(z, n, n, &artefacts, rng);
    for _ in 0..rng.poisson(config.glitch_lines) {
        let row = rng.int_inclusive(0, n - 1);
        let start = rng.int_inclusive(0, n / 2);
        let len = rng.int_inclusive(n / 5, n - start);
        let offset = rng.normal() * config.glitch_size;
        for j in start..start + len {
            z[row * n + j] += (offset + 0.3 * config.glitch_size * rng.normal()) as f32;
            excluded[row * n + j] = 1;
        }
    }
    for _ in 0..rng.poisson(config.spikes) {
        let (i, j) = (rng.int_inclusive(0, n - 1), rng.int_inclusive(0, n - 1));
        let len = rng.int_inclusive(1, 3).min(n - j);
        let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
        let height = sign * config.spike_size * rng.range(1.0, 3.0);
        for b in j..j + len {
            z[i * n + b] += height as f32;
        }
        for a in i.saturating_sub(1)..(i + 2).min(n) {
            for b in j.saturating_sub(1)..(j + len + 1).min(n) {
                excluded[a * n + b] = 1;
            }
        }
    }
    let mut zero_lines = 0;
    if config.zero_lines_max > 0 && rng.uniform() < config.zero_lines_probability {
        zero_lines = rng.int_inclusive(1, config.zero_lines_max.min(n / 2).max(1));
        z[(n - zero_lines) * n..].iter_mut().for_each(|v| *v = 0.0);
        excluded[(n - zero_lines) * n..]
            .iter_mut()
            .for_each(|e| *e = 1);
    }
    (core, zero_lines)
}
