//! Drawing a real-scan scene: the kernels of the map and where everything is. Nothing is
//! rendered here but the kernels ([`super::render`] makes the map).

use super::kernel::{self, Renderer, TypeKernel, core_radius_px, quantise};
use super::{RealScanConfig, Surface, TipChange};
use crate::physics::continuum::{ContinuumKernel, Scatterer};
use crate::physics::spec::ModelSpec;
use crate::physics::{KernelField, ParabolicBand, SimContext};
use crate::rng::Rng;
use crate::{Error, Result};
use std::f64::consts::{PI, TAU};

/// Largest kernel half side, pixels.
const MAX_KERNEL_RADIUS: usize = 96;
/// Least distance between independent point defects, and from outliers, pixels.
const MIN_SEPARATION_PX: f64 = 8.0;
/// Tries to place a defect apart from the others before the separation is given up.
const PLACEMENT_TRIES: usize = 200;
/// FWHM range of the dark defects' depression, Angstrom; their depth and ripple gain.
const DARK_FWHM_A: [f64; 2] = [8.0, 12.0];
const DARK_DEPTH: [f64; 2] = [2.0, 5.0];
const DARK_RIPPLE_GAIN: [f64; 2] = [0.3, 0.5];
/// Range of a tip change's core and ripple factors.
const TIP_SCALE: [f64; 2] = [0.7, 1.3];

/// A point defect: position `(row, col)` pixels (quarter-pixel grid), amplitude, type.
#[derive(Clone, Copy, Debug)]
pub(super) struct Defect {
    pub position: [f64; 2],
    pub amplitude: f64,
    pub kind: u8,
}

/// One Gaussian part of a cluster (`(row, col)` pixels, sigma pixels, height ring units).
#[derive(Clone, Copy, Debug)]
pub(super) struct Blob {
    pub centre: [f64; 2],
    pub sigma: f64,
    pub height: f64,
}

/// A bright cluster: its Gaussian parts, and the ring sources (position, ripple amplitude)
/// that make it scatter.
#[derive(Clone, Debug)]
pub(super) struct Cluster {
    pub blobs: Vec<Blob>,
    pub rings: Vec<([f64; 2], f64)>,
}

/// A straight step edge: signed distance `d = (r - point) . normal` (pixels), the upper
/// terrace at `d > 0`, height in ring units; the standing wave on each side (`[lower,
/// upper]`) has an amplitude and a phase.
#[derive(Clone, Copy, Debug)]
pub(super) struct StepEdge {
    pub point: [f64; 2],
    pub normal: [f64; 2],
    pub height: f64,
    pub wave_amplitude: [f64; 2],
    pub wave_phase: [f64; 2],
}

/// Triangular atomic corrugation: `amplitude / 3 sum_j cos(g_j . (r - origin))`, `g_j` in
/// radians per pixel `(row, col)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Corrugation {
    pub g: [[f64; 2]; 3],
    pub origin: [f64; 2],
    pub amplitude: f64,
}

/// Everything a map is made of, before the scan-time artefacts.
pub(super) struct Scene {
    pub pixel_size_a: f64,
    /// Type 0 (adatom) and type 1 (dark defect).
    pub kernels: Vec<TypeKernel>,
    /// Wave vector `Re k` (radians per pixel) and decay length of `|G|^2` (pixels) of a
    /// continuum kernel.
    pub wave: Option<(f64, f64)>,
    pub isotropic: bool,
    pub surface: String,
    pub defects: Vec<Defect>,
    pub dimers: Vec<[usize; 2]>,
    pub clusters: Vec<Cluster>,
    pub step: Option<StepEdge>,
    pub corrugation: Option<Corrugation>,
    pub tip: Option<TipChange>,
    pub saturation: Option<f64>,
}

impl Scene {
    pub fn ring_period_px(&self) -> Option<f64> {
        self.wave.map(|(k, _)| PI / k)
    }
}

fn draw(rng: &mut Rng, r: [f64; 2]) -> f64 {
    if r[1] > r[0] {
        rng.range(r[0], r[1])
    } else {
        r[0]
    }
}

/// The scene of `config` from `Rng::stream(seed, 0)`.
pub(super) fn draw_scene(config: &RealScanConfig, seed: u64) -> Result<Scene> {
    let rng = &mut Rng::stream(seed, 0);
    let size = config.size;
    let pixel_size_a = match config.pixel_size_m {
        Some(p) => p * 1e10,
        None => rng.range(1.6, 2.3),
    };
    let core_ratio = draw(rng, config.core_ratio);
    let fwhm_px = draw(rng, config.core_fwhm_a) / pixel_size_a;
    let sigma0 = fwhm_px / (2.0 * (2.0 * 2f64.ln()).sqrt());
    let dark_sigma = draw(rng, DARK_FWHM_A) / pixel_size_a / (2.0 * (2.0 * 2f64.ln()).sqrt());
    let dark_depth = -draw(rng, DARK_DEPTH);
    let dark_gain = draw(rng, DARK_RIPPLE_GAIN);
    let max_radius = MAX_KERNEL_RADIUS.min(size / 2 - 1);
    let surfaces = surface_fields(config, pixel_size_a, max_radius, rng)?;
    let core0 = core_radius_px(core_ratio, sigma0);
    let min_radius = ((core0 + 8.0).ceil() as usize).min(max_radius);
    // Windows reach at most sqrt(2) (max_radius + 1) from the impurity.
    let reach = std::f64::consts::SQRT_2 * (max_radius + 2) as f64;
    let render0 = Renderer::new(&surfaces.adatom, pixel_size_a, surfaces.rotation_deg, reach);
    let scale0 = kernel::ripple_scale(&render0, core0, min_radius, max_radius)?;
    let adatom = TypeKernel {
        radius: scale0.radius,
        ripple: kernel::ripple_phases(&render0, scale0.radius, scale0.divisor, 1.0)?,
        core_height: core_ratio,
        core_sigma_px: sigma0,
    };
    let dark = match &surfaces.dark {
        Some(field) => {
            let render1 = Renderer::new(field, pixel_size_a, surfaces.rotation_deg, reach);
            let s = kernel::ripple_scale(&render1, core0, min_radius, max_radius)?;
            TypeKernel {
                radius: s.radius,
                ripple: kernel::ripple_phases(&render1, s.radius, s.divisor, dark_gain)?,
                core_height: dark_depth,
                core_sigma_px: dark_sigma,
            }
        }
        // A lattice kernel: the same ripple, weaker and of the opposite sign.
        None => TypeKernel {
            radius: adatom.radius,
            ripple: adatom
                .ripple
                .iter()
                .map(|p| p.iter().map(|&v| -(dark_gain as f32) * v).collect())
                .collect(),
            core_height: dark_depth,
            core_sigma_px: dark_sigma,
        },
    };
    let wave = surfaces.wave.map(|(k_a, decay_a)| {
        (k_a * pixel_size_a, decay_a / pixel_size_a) // per pixel, pixels
    });
    let mut scene = Scene {
        pixel_size_a,
        kernels: vec![adatom, dark],
        wave,
        isotropic: surfaces.isotropic,
        surface: config.surface.name(),
        defects: Vec::new(),
        dimers: Vec::new(),
        clusters: Vec::new(),
        step: None,
        corrugation: None,
        tip: None,
        saturation: None,
    };
    draw_outliers(config, &mut scene, core_ratio, rng);
    draw_defects(config, &mut scene, rng);
    Ok(scene)
}

/// The ripple fields of the two types and what is known of them.
struct SurfaceFields {
    adatom: KernelField,
    /// The dark defects' own field (continuum kernels: another phase shift); `None`: the
    /// adatom ripple, weaker and inverted.
    dark: Option<KernelField>,
    rotation_deg: f64,
    /// `Re k` (1/Angstrom) and the decay length of `|G|^2` (Angstrom) of a continuum band.
    wave: Option<(f64, f64)>,
    isotropic: bool,
}

fn continuum_fields(
    band: ParabolicBand,
    energy_ev: f64,
    eta_ev: f64,
    delta0: f64,
    pixel_size_a: f64,
    rng: &mut Rng,
) -> Result<SurfaceFields> {
    if energy_ev <= band.band_bottom_ev {
        return Err(Error::invalid(format!(
            "bias {energy_ev} eV is below the band bottom {} eV: the surface state has no rings there",
            band.band_bottom_ev
        )));
    }
    let delta1 = rng.range(-0.3 * PI, -0.1 * PI);
    let make = |delta: f64| -> Result<KernelField> {
        Ok(KernelField::Continuum(ContinuumKernel::new(
            band,
            energy_ev,
            eta_ev,
            Scatterer::PhaseShift(delta),
            0.5 * pixel_size_a,
        )?))
    };
    let k = band.wave_vector(energy_ev, eta_ev);
    Ok(SurfaceFields {
        adatom: make(delta0)?,
        dark: Some(make(delta1)?),
        rotation_deg: 0.0,
        wave: Some((k.re, 1.0 / (2.0 * k.im.max(1e-12)))),
        isotropic: true,
    })
}

fn surface_fields(
    config: &RealScanConfig,
    pixel_size_a: f64,
    max_radius: usize,
    rng: &mut Rng,
) -> Result<SurfaceFields> {
    match &config.surface {
        Surface::Shockley(metal) => {
            let (e0, mass, _) = metal.band();
            let band = ParabolicBand {
                band_bottom_ev: e0,
                effective_mass: draw(rng, mass),
            };
            // The catalog's broadening: 10 meV plus 5 % of the kinetic energy.
            let eta = 0.01 + 0.05 * (config.bias_ev - e0).max(0.0);
            let delta0 = rng.range(0.35 * PI, 0.5 * PI);
            continuum_fields(band, config.bias_ev, eta, delta0, pixel_size_a, rng)
        }
        Surface::Catalog(name) => {
            let mut spec = crate::physics::catalog::find(name).ok_or_else(|| {
                Error::invalid(format!(
                    "no catalog kernel named '{name}' (and not ag111, cu111 or au111); `qpik catalog` lists all"
                ))
            })?;
            if let ModelSpec::Parabolic {
                band_bottom_ev,
                effective_mass,
            } = spec.model
            {
                let band = ParabolicBand {
                    band_bottom_ev,
                    effective_mass,
                };
                let delta0 = spec.impurity.phase_shift_rad.unwrap_or(PI / 2.0);
                return continuum_fields(
                    band,
                    spec.energy_ev,
                    spec.broadening_ev,
                    delta0,
                    pixel_size_a,
                    rng,
                );
            }
            let rotation_deg = rng.range(0.0, 360.0);
            spec.render.pixel_size_a = pixel_size_a;
            spec.render.rotation_deg = rotation_deg;
            spec.render.size = [2 * max_radius + 2, 2 * max_radius + 2];
            spec.validate()?;
            let field = spec.simulate(&mut SimContext::new())?;
            Ok(SurfaceFields {
                adatom: field,
                dark: None,
                rotation_deg,
                wave: None,
                isotropic: false,
            })
        }
    }
}

/// Clusters, step edge, tip change, saturation and corrugation.
fn draw_outliers(config: &RealScanConfig, scene: &mut Scene, core: f64, rng: &mut Rng) {
    let size = config.size as f64;
    let n_clusters = rng.int_inclusive(config.clusters[0], config.clusters[1]);
    for _ in 0..n_clusters {
        let across = rng.range(5.0, 20.0);
        let centre = [rng.range(0.0, size - 1.0), rng.range(0.0, size - 1.0)];
        let parts = rng.int_inclusive(3, 6);
        let target = draw(rng, config.cluster_height) * core;
        let mut blobs: Vec<Blob> = (0..parts)
            .map(|_| {
                let (a, d) = (rng.range(0.0, TAU), rng.range(0.0, 0.3 * across));
                Blob {
                    centre: [centre[0] + d * a.sin(), centre[1] + d * a.cos()],
                    sigma: rng.range(0.1, 0.22) * across,
                    height: rng.range(0.5, 1.0),
                }
            })
            .collect();
        // Scale so the blob's highest pixel is the target height.
        let peak = blob_peak(&blobs, centre, across);
        for b in &mut blobs {
            b.height *= target / peak;
        }
        let rings = blobs
            .iter()
            .map(|b| {
                (
                    [quantise(b.centre[0]), quantise(b.centre[1])],
                    rng.range(0.3, 1.0),
                )
            })
            .collect();
        scene.clusters.push(Cluster { blobs, rings });
    }
    if rng.uniform() < config.step_edge_probability {
        let a = rng.range(0.0, TAU);
        scene.step = Some(StepEdge {
            point: [rng.range(0.25, 0.75) * size, rng.range(0.25, 0.75) * size],
            normal: [a.sin(), a.cos()],
            height: draw(rng, config.step_height) * core,
            wave_amplitude: [rng.range(0.5, 1.5), rng.range(0.5, 1.5)],
            wave_phase: [rng.range(0.0, TAU), rng.range(0.0, TAU)],
        });
    }
    if rng.uniform() < config.tip_change_probability {
        let n = config.size;
        let sign = if rng.uniform() < 0.5 { -1 } else { 1 };
        scene.tip = Some(TipChange {
            row: rng.int_inclusive(n / 5, 4 * n / 5),
            shift_px: [
                rng.int_inclusive(0, 1) as i32,
                sign * rng.int_inclusive(1, 2) as i32,
            ],
            core_scale: draw(rng, TIP_SCALE),
            ripple_scale: draw(rng, TIP_SCALE),
        });
    }
    if rng.uniform() < config.saturation_probability {
        scene.saturation = Some(draw(rng, config.saturation_level) * core);
    }
    let lattice_a = match &config.surface {
        Surface::Shockley(m) => m.band().2,
        Surface::Catalog(_) => super::Metal::Ag111.band().2,
    };
    let (angle, origin) = (
        rng.range(0.0, TAU),
        [rng.range(0.0, 10.0), rng.range(0.0, 10.0)],
    );
    if config.lattice_amplitude > 0.0 {
        // Reciprocal vectors of a triangular lattice, |g| = 4 pi / (sqrt 3 a), per pixel.
        let g = 4.0 * PI / (3f64.sqrt() * lattice_a) * scene.pixel_size_a;
        let gj = |j: f64| {
            let t = angle + j * TAU / 3.0;
            [g * t.sin(), g * t.cos()]
        };
        scene.corrugation = Some(Corrugation {
            g: [gj(0.0), gj(1.0), gj(2.0)],
            origin,
            amplitude: config.lattice_amplitude,
        });
    }
}

/// Largest value of a cluster's blobs on the pixels around `centre`.
fn blob_peak(blobs: &[Blob], centre: [f64; 2], across: f64) -> f64 {
    let reach = across.ceil() as i64;
    let (r0, c0) = (centre[0].round() as i64, centre[1].round() as i64);
    let mut peak = f64::MIN_POSITIVE;
    for i in r0 - reach..=r0 + reach {
        for j in c0 - reach..=c0 + reach {
            peak = peak.max(blob_value(blobs, [i as f64, j as f64]));
        }
    }
    peak
}

pub(super) fn blob_value(blobs: &[Blob], p: [f64; 2]) -> f64 {
    blobs
        .iter()
        .map(|b| {
            let d2 = (p[0] - b.centre[0]).powi(2) + (p[1] - b.centre[1]).powi(2);
            b.height * (-d2 / (2.0 * b.sigma * b.sigma)).exp()
        })
        .sum()
}

/// Adatoms (singles and dimers) then dark defects, apart from each other and the outliers.
fn draw_defects(config: &RealScanConfig, scene: &mut Scene, rng: &mut Rng) {
    let size = config.size as f64;
    let n = rng.int_inclusive(config.adatoms[0], config.adatoms[1]);
    let fraction = draw(rng, config.dimer_fraction);
    let pairs = ((n as f64 * fraction / 2.0).round() as usize).min(n / 2);
    let n_dark = rng.int_inclusive(config.dark_defects[0], config.dark_defects[1]);
    let mut taken: Vec<[f64; 2]> = Vec::new();
    for i in 0..n - pairs {
        let p = free_position(size, &mut taken, scene, rng);
        let amplitude = rng.range(0.9, 1.1);
        scene.defects.push(Defect {
            position: p,
            amplitude,
            kind: 0,
        });
        if i < pairs {
            // The partner 2-4 px away, inside the image.
            let mut q = p;
            for _ in 0..PLACEMENT_TRIES {
                let (a, d) = (rng.range(0.0, TAU), rng.range(2.0, 4.0));
                q = [quantise(p[0] + d * a.sin()), quantise(p[1] + d * a.cos())];
                if (0.0..=size - 1.0).contains(&q[0]) && (0.0..=size - 1.0).contains(&q[1]) {
                    break;
                }
            }
            let q = [q[0].clamp(0.0, size - 1.0), q[1].clamp(0.0, size - 1.0)];
            taken.push(q);
            let amplitude = rng.range(0.9, 1.1);
            let first = scene.defects.len() - 1;
            scene.defects.push(Defect {
                position: q,
                amplitude,
                kind: 0,
            });
            scene.dimers.push([first, first + 1]);
        }
    }
    for _ in 0..n_dark {
        let p = free_position(size, &mut taken, scene, rng);
        let amplitude = rng.range(0.9, 1.1);
        scene.defects.push(Defect {
            position: p,
            amplitude,
            kind: 1,
        });
    }
}

/// A quarter-pixel position apart from `taken` and the outliers (or the last one tried),
/// added to `taken`.
fn free_position(size: f64, taken: &mut Vec<[f64; 2]>, scene: &Scene, rng: &mut Rng) -> [f64; 2] {
    let mut p = [0.0; 2];
    for _ in 0..PLACEMENT_TRIES {
        p = [
            quantise(rng.range(0.0, size - 1.0)),
            quantise(rng.range(0.0, size - 1.0)),
        ];
        if is_free(p, taken, scene) {
            break;
        }
    }
    taken.push(p);
    p
}

/// `p` is at least [`MIN_SEPARATION_PX`] from every placed defect, cluster and the step.
fn is_free(p: [f64; 2], taken: &[[f64; 2]], scene: &Scene) -> bool {
    let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    if taken.iter().any(|&q| dist(p, q) < MIN_SEPARATION_PX) {
        return false;
    }
    let near_cluster = scene.clusters.iter().any(|c| {
        c.blobs
            .iter()
            .any(|b| dist(p, b.centre) < 3.0 * b.sigma + MIN_SEPARATION_PX)
    });
    let near_step = scene.step.is_some_and(|s| {
        ((p[0] - s.point[0]) * s.normal[0] + (p[1] - s.point[1]) * s.normal[1]).abs()
            < MIN_SEPARATION_PX
    });
    !(near_cluster || near_step)
}
