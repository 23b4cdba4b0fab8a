//! Observation synthesis: `Y = sum_i a_i K(r - r_i) + artefacts`, exactly the forward model.
//!
//! Artefact strengths are dimensionless, relative to the standard deviation `s` of the
//! clean (artefact-free) map, so one setting means the same for every kernel's units.
//! [`Artefacts::default`] switches every artefact off (the pure forward model, as the
//! published dataset); [`Artefacts::realistic`] switches all on at moderate levels.

pub mod controls;
pub mod dataset;
pub mod real_scan;
pub mod scene;
pub mod stamps;
pub mod topography;
pub mod typed_scene;

use crate::rng::Rng;
use crate::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
pub use stamps::KernelStamps;

/// Where defects may sit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Region {
    /// Anywhere in the image.
    Full,
    /// Within the central fraction of each axis (the published dataset uses a central region).
    Central { fraction: f64 },
}

/// How many defects, where, and how strong.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectConfig {
    /// Defect count drawn uniformly in `[count_min, count_max]` ...
    pub count_min: usize,
    pub count_max: usize,
    /// ... unless a density (defects per nm^2) is given, for large images: Poisson count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density_per_nm2: Option<f64>,
    pub region: Region,
    /// Amplitude magnitudes uniform in `[amplitude_min, amplitude_max]`.
    pub amplitude_min: f64,
    pub amplitude_max: f64,
    /// Probability of a negative amplitude (a defect of opposite sign).
    pub negative_fraction: f64,
    /// Subpixel resolution of positions: 1/steps of a pixel.
    pub subpixel_steps: usize,
}

impl Default for DefectConfig {
    fn default() -> Self {
        DefectConfig {
            count_min: 1,
            count_max: 20,
            density_per_nm2: None,
            region: Region::Full,
            amplitude_min: 0.5,
            amplitude_max: 1.5,
            negative_fraction: 0.0,
            subpixel_steps: 4,
        }
    }
}

/// Measurement artefacts of a real STM; every strength is relative to the clean map's std.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artefacts {
    /// White noise with `std = s / snr`; `None` = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr: Option<f64>,
    /// 1/f noise in scan (raster) time, mostly along the fast axis; std relative to `s`.
    pub flicker: f64,
    /// Random offset per scan line, std relative to `s`.
    pub line_offsets: f64,
    /// Mean number of tip changes per image (Poisson): a step offset from then on.
    pub tip_changes: f64,
    /// Std of each tip-change step, relative to `s`.
    pub tip_change_size: f64,
    /// Mean number of spikes per image (Poisson).
    pub spikes: f64,
    /// Spike height relative to `s` (random sign, 1x..3x).
    pub spike_size: f64,
    /// Background plane rising by this many `s` across the image diagonal, random direction.
    pub plane: f64,
    /// Thermal drift: total displacement over the frame in pixels (random direction), a shear.
    pub drift_px: f64,
}

impl Default for Artefacts {
    fn default() -> Self {
        Artefacts {
            snr: None,
            flicker: 0.0,
            line_offsets: 0.0,
            tip_changes: 0.0,
            tip_change_size: 0.0,
            spikes: 0.0,
            spike_size: 0.0,
            plane: 0.0,
            drift_px: 0.0,
        }
    }
}

impl Artefacts {
    /// All artefacts on at levels typical of a good low-temperature STM map.
    pub fn realistic() -> Self {
        Artefacts {
            snr: Some(8.0),
            flicker: 0.15,
            line_offsets: 0.1,
            tip_changes: 0.3,
            tip_change_size: 0.5,
            spikes: 2.0,
            spike_size: 4.0,
            plane: 1.0,
            drift_px: 1.5,
        }
    }

    /// Largest relative strength (noise, offsets, steps, spikes, plane), in clean-map stds.
    pub const MAX_STRENGTH: f64 = 1e3;
    /// Largest mean number of tip changes or spikes per image.
    pub const MAX_EVENTS: f64 = 1e6;
    /// Largest thermal drift over the frame, in pixels.
    pub const MAX_DRIFT_PX: f64 = 1e4;
    /// Smallest signal-to-noise ratio.
    pub const MIN_SNR: f64 = 1e-3;

    /// Every value finite and within its stated bound, so a map stays finite in f32.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("flicker", self.flicker, Self::MAX_STRENGTH),
            ("line_offsets", self.line_offsets, Self::MAX_STRENGTH),
            ("tip_changes", self.tip_changes, Self::MAX_EVENTS),
            ("tip_change_size", self.tip_change_size, Self::MAX_STRENGTH),
            ("spikes", self.spikes, Self::MAX_EVENTS),
            ("spike_size", self.spike_size, Self::MAX_STRENGTH),
            ("plane", self.plane, Self::MAX_STRENGTH),
            ("drift_px", self.drift_px, Self::MAX_DRIFT_PX),
        ];
        for (name, v, max) in fields {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(Error::invalid(format!(
                    "artefact '{name}' = {} must be between 0 and {max}",
                    crate::error::show_number(v)
                )));
            }
        }
        if let Some(s) = self.snr {
            if !(s.is_finite() && s >= Self::MIN_SNR) {
                return Err(Error::invalid(format!(
                    "snr = {} must be at least {}",
                    crate::error::show_number(s),
                    Self::MIN_SNR
                )));
            }
        }
        Ok(())
    }
}

impl DefectConfig {
    pub fn validate(&self) -> Result<()> {
        if self.count_min > self.count_max || self.count_max > 100_000 {
            return Err(Error::invalid(format!(
                "defect count range {}..{} must be increasing and at most 100000",
                self.count_min, self.count_max
            )));
        }
        if let Some(d) = self.density_per_nm2 {
            if !(d.is_finite() && d > 0.0 && d <= 1e3) {
                return Err(Error::invalid(format!(
                    "defect density {} per nm^2 must be positive and at most 1000",
                    crate::error::show_number(d)
                )));
            }
        }
        if let Region::Central { fraction } = self.region {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(Error::invalid(format!(
                    "central region fraction {fraction} must be in (0, 1]"
                )));
            }
        }
        let a = (self.amplitude_min, self.amplitude_max);
        if !(a.0.is_finite() && a.1.is_finite() && 0.0 <= a.0 && a.0 <= a.1 && a.1 <= 1e6) {
            return Err(Error::invalid(format!(
                "amplitude range {}..{} must satisfy 0 <= min <= max <= 1e6",
                crate::error::show_number(a.0),
                crate::error::show_number(a.1)
            )));
        }
        if !(0.0..=1.0).contains(&self.negative_fraction) {
            return Err(Error::invalid("negative_fraction must be in [0, 1]"));
        }
        if !(1..=16).contains(&self.subpixel_steps) {
            return Err(Error::invalid("subpixel_steps must be in 1..=16"));
        }
        Ok(())
    }
}

/// Largest image side in pixels the library simulates, for every caller (CLI, C ABI, dataset
/// generation, scenes): kernels, observations and maps. An 8192 x 8192 f32 map is 256 MiB;
/// the memory budget (`memory_budget_bytes`) bounds what a whole run holds.
pub const MAX_IMAGE_SIZE: usize = 8192;

/// Smallest image side a simulated observation or dataset may have.
pub const MIN_IMAGE_SIZE: usize = 8;

/// `size` within [`MIN_IMAGE_SIZE`] to [`MAX_IMAGE_SIZE`], else an error naming both.
pub fn check_image_size(size: usize) -> Result<()> {
    if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(Error::invalid(format!(
            "size {size} must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels"
        )));
    }
    Ok(())
}

/// Most defects a density may ask for in one map (its Poisson mean).
pub const MAX_DENSITY_DEFECTS: f64 = 1e6;

/// One synthesised map with everything that made it.
#[derive(Clone, Debug)]
pub struct Observation {
    /// The observed map (clean + artefacts).
    pub image: Array2<f32>,
    /// Binary defect map: 1 at the pixel nearest each defect.
    pub mask: Array2<u8>,
    /// Defect positions `(row, col)` in pixels (as rendered, i.e. quantised).
    pub positions: Vec<[f32; 2]>,
    pub amplitudes: Vec<f32>,
}

/// Synthesise one observation of size `height x width` from a kernel's stamps.
///
/// Draws, in this order: the defect count ([`draw_count`]), the drift direction
/// ([`draw_drift`]), the defects ([`place_defects`]), then the artefacts
/// ([`apply_artefacts`]), all from `rng`; the same `rng` state gives the same map.
pub fn synthesize(
    stamps: &KernelStamps,
    height: usize,
    width: usize,
    pixel_size_a: f64,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    rng: &mut Rng,
) -> Result<Observation> {
    defects.validate()?;
    artefacts.validate()?;
    if height == 0 || width == 0 {
        return Err(Error::invalid("observation size must be positive"));
    }
    let count = draw_count(defects, height, width, pixel_size_a, rng)?;
    let drift = draw_drift(artefacts, rng);
    let mut image = vec![0.0f32; height * width];
    let mut mask = Array2::<u8>::zeros((height, width));
    let (positions, amplitudes) =
        place_defects(stamps, count, defects, drift, &mut image, &mut mask, rng)?;
    apply_artefacts(&mut image, height, width, artefacts, rng);
    check_finite(&image, width)?;
    let image = Array2::from_shape_vec((height, width), image).expect("shape");
    Ok(Observation {
        image,
        mask,
        positions,
        amplitudes,
    })
}

/// Draws how many defects one map of `height x width` pixels of `pixel_size_a` Angstrom
/// gets: uniform in `count_min..=count_max`, or Poisson (at least 1) for a density.
pub fn draw_count(
    defects: &DefectConfig,
    height: usize,
    width: usize,
    pixel_size_a: f64,
    rng: &mut Rng,
) -> Result<usize> {
    Ok(match defects.density_per_nm2 {
        Some(d) => {
            let area_nm2 = height as f64 * width as f64 * (pixel_size_a / 10.0).powi(2);
            let mean = d * area_nm2;
            if mean.is_nan() || mean > MAX_DENSITY_DEFECTS {
                return Err(Error::invalid(format!(
                    "a density of {d} per nm^2 on {area_nm2:.0} nm^2 means {mean:.3e} defects; at most {MAX_DENSITY_DEFECTS:e} are drawn: lower the density"
                )));
            }
            rng.poisson(mean).max(1)
        }
        None => rng.int_inclusive(defects.count_min, defects.count_max),
    })
}

/// Draws the thermal drift of one frame: its total displacement `(rows, cols)` in pixels
/// over the frame (length `artefacts.drift_px`, uniform direction). Always draws once, so
/// the defects drawn next do not depend on whether drift is on.
pub fn draw_drift(artefacts: &Artefacts, rng: &mut Rng) -> [f64; 2] {
    let drift_dir = rng.range(0.0, std::f64::consts::TAU);
    [
        artefacts.drift_px * drift_dir.sin(),
        artefacts.drift_px * drift_dir.cos(),
    ]
}

/// Adds `count` defects of one kernel to `image` (`mask.dim()`, row-major) and marks them in
/// `mask`: positions uniform in the config's region, quantised to the stamps' subpixel
/// grid, signed amplitudes; `drift` (from [`draw_drift`]) shears the frame, a defect being
/// seen at `position - drift * row / height` on each scan line. Returns the positions
/// `(row, col)` as rendered and the amplitudes, in drawing order.
pub fn place_defects(
    stamps: &KernelStamps,
    count: usize,
    defects: &DefectConfig,
    drift: [f64; 2],
    image: &mut [f32],
    mask: &mut Array2<u8>,
    rng: &mut Rng,
) -> Result<(Vec<[f32; 2]>, Vec<f32>)> {
    let (height, width) = mask.dim();
    if height == 0 || width == 0 || image.len() != height * width {
        return Err(Error::invalid(format!(
            "image of {} pixels does not match a {height}x{width} mask",
            image.len()
        )));
    }
    if stamps.steps != defects.subpixel_steps {
        return Err(Error::invalid(
            "stamps were rendered for a different subpixel step count",
        ));
    }
    let (lo_r, hi_r, lo_c, hi_c) = match defects.region {
        Region::Full => (0.0, height as f64 - 1.0, 0.0, width as f64 - 1.0),
        Region::Central { fraction } => {
            let (mr, mc) = (
                (1.0 - fraction) * 0.5 * (height as f64 - 1.0),
                (1.0 - fraction) * 0.5 * (width as f64 - 1.0),
            );
            (mr, height as f64 - 1.0 - mr, mc, width as f64 - 1.0 - mc)
        }
    };
    let drift_at = move |i: usize| {
        [
            drift[0] * i as f64 / height as f64,
            drift[1] * i as f64 / height as f64,
        ]
    };
    let mut positions = Vec::with_capacity(count);
    let mut amplitudes = Vec::with_capacity(count);
    for _ in 0..count {
        let p = [
            stamps.quantise(rng.range(lo_r, hi_r)),
            stamps.quantise(rng.range(lo_c, hi_c)),
        ];
        let sign = if rng.uniform() < defects.negative_fraction {
            -1.0
        } else {
            1.0
        };
        let a = sign
            * rng.range(
                defects.amplitude_min,
                defects.amplitude_max.max(defects.amplitude_min + 1e-12),
            );
        stamps.add(image, width, p, a as f32, &drift_at);
        let (mr, mc) = (
            p[0].round().clamp(0.0, height as f64 - 1.0),
            p[1].round().clamp(0.0, width as f64 - 1.0),
        );
        mask[[mr as usize, mc as usize]] = 1;
        positions.push([p[0] as f32, p[1] as f32]);
        amplitudes.push(a as f32);
    }
    Ok((positions, amplitudes))
}

/// Population standard deviation of a map (the `s` of the artefact strengths).
pub(crate) fn std_dev(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Apply every enabled artefact in place (raster order = scan time, rows = slow axis).
/// A synthesised map beyond the float32 range is an error, not a map of infinities.
pub(crate) fn check_finite(image: &[f32], width: usize) -> Result<()> {
    match image.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(format!(
            "the synthesised map is not finite at pixel ({}, {}) (beyond the float32 range): lower the amplitudes or the artefact strengths",
            i / width,
            i % width
        ))),
    }
}

pub fn apply_artefacts(
    image: &mut [f32],
    height: usize,
    width: usize,
    a: &Artefacts,
    rng: &mut Rng,
) {
    let s = std_dev(image).max(f64::MIN_POSITIVE);
    let n = image.len();
    if a.tip_changes > 0.0 && a.tip_change_size > 0.0 {
        for _ in 0..rng.poisson(a.tip_changes) {
            let start = rng.int_inclusive(0, n - 1);
            let step = (rng.normal() * a.tip_change_size * s) as f32;
            image[start..].iter_mut().for_each(|v| *v += step);
        }
    }
    if a.plane > 0.0 {
        let theta = rng.range(0.0, std::f64::consts::TAU);
        let diag = ((height * height + width * width) as f64).sqrt();
        let g = a.plane * s / diag;
        for i in 0..height {
            for j in 0..width {
                image[i * width + j] +=
                    (g * (j as f64 * theta.cos() + i as f64 * theta.sin())) as f32;
            }
        }
    }
    if a.line_offsets > 0.0 {
        for row in image.chunks_mut(width) {
            let off = (rng.normal() * a.line_offsets * s) as f32;
            row.iter_mut().for_each(|v| *v += off);
        }
    }
    if a.flicker > 0.0 {
        let noise = pink_noise(n, rng);
        let scale = (a.flicker * s) as f32;
        image
            .iter_mut()
            .zip(noise)
            .for_each(|(v, x)| *v += scale * x);
    }
    if let Some(snr) = a.snr {
        let sigma = s / snr;
        image
            .iter_mut()
            .for_each(|v| *v += (rng.normal() * sigma) as f32);
    }
    if a.spikes > 0.0 && a.spike_size > 0.0 {
        for _ in 0..rng.poisson(a.spikes) {
            let at = rng.int_inclusive(0, n - 1);
            let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
            image[at] += (sign * a.spike_size * s * rng.range(1.0, 3.0)) as f32;
        }
    }
}

/// Unit-variance noise with a 1/f power spectrum over `n` raster samples.
fn pink_noise(n: usize, rng: &mut Rng) -> Vec<f32> {
    use rustfft::{FftPlanner, num_complex::Complex};
    let fft = FftPlanner::<f64>::new().plan_fft_inverse(n);
    let mut spec: Vec<Complex<f64>> = (0..n)
        .map(|k| {
            let f = k.min(n - k) as f64;
            if f == 0.0 {
                Complex::new(0.0, 0.0)
            } else {
                Complex::new(rng.normal(), rng.normal()) / f.sqrt()
            }
        })
        .collect();
    fft.process(&mut spec);
    // In f64: f64::MIN_POSITIVE is 0 in f32, and a constant (one-sample) series would give 0/0.
    let mean = spec.iter().map(|c| c.re).sum::<f64>() / n as f64;
    let sd = (spec.iter().map(|c| (c.re - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    if sd.is_nan() || sd <= 0.0 {
        return vec![0.0; n];
    }
    spec.iter().map(|c| ((c.re - mean) / sd) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::SimContext;
    use crate::physics::catalog::find;

    fn stamps(
        name: &str,
        steps: usize,
    ) -> (
        KernelStamps,
        crate::physics::KernelField,
        crate::physics::PixelGrid,
    ) {
        let spec = find(name).unwrap();
        let field = spec.simulate(&mut SimContext::new()).unwrap();
        let grid = crate::physics::PixelGrid {
            height: 32,
            width: 32,
            ..spec.grid()
        };
        (
            KernelStamps::new(&field, &grid, 32, steps).unwrap(),
            field,
            grid,
        )
    }

    #[test]
    fn observation_is_exactly_the_forward_model_of_directly_rendered_kernels() {
        let (st, field, grid) = stamps("bi2212-normal-0meV", 4);
        let cfg = DefectConfig {
            count_min: 5,
            count_max: 5,
            negative_fraction: 0.3,
            ..DefectConfig::default()
        };
        let obs = synthesize(
            &st,
            32,
            32,
            grid.pixel_size_a,
            &cfg,
            &Artefacts::default(),
            &mut Rng::new(3),
        )
        .unwrap();
        let mut expected = Array2::<f64>::zeros((32, 32));
        for (p, &a) in obs.positions.iter().zip(&obs.amplitudes) {
            expected =
                expected + field.render(&grid, [p[0] as f64, p[1] as f64]).unwrap() * a as f64;
        }
        let scale = expected.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let err = obs
            .image
            .iter()
            .zip(expected.iter())
            .map(|(&x, &y)| (x as f64 - y).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 1e-5 * scale,
            "forward model mismatch {err:e} (scale {scale:e})"
        );
        assert!(obs.mask.iter().map(|&m| m as usize).sum::<usize>() <= 5);
        for p in &obs.positions {
            assert_eq!(obs.mask[[p[0].round() as usize, p[1].round() as usize]], 1);
            assert_eq!((p[0] * 4.0).fract(), 0.0, "positions are quarter-pixel");
        }
        assert!(
            obs.amplitudes.iter().any(|&a| a < 0.0),
            "some negative defects expected at 30 %"
        );
    }

    #[test]
    fn seeds_reproduce_and_artefacts_add_what_they_say() {
        let (st, _, grid) = stamps("shockley-ag111-50meV", 2);
        let cfg = DefectConfig {
            subpixel_steps: 2,
            region: Region::Central { fraction: 0.5 },
            ..DefectConfig::default()
        };
        let clean = synthesize(
            &st,
            32,
            32,
            grid.pixel_size_a,
            &cfg,
            &Artefacts::default(),
            &mut Rng::new(9),
        )
        .unwrap();
        let again = synthesize(
            &st,
            32,
            32,
            grid.pixel_size_a,
            &cfg,
            &Artefacts::default(),
            &mut Rng::new(9),
        )
        .unwrap();
        assert_eq!(clean.image, again.image);
        for p in &clean.positions {
            assert!(
                (7.75..=23.25).contains(&p[0]) && (7.75..=23.25).contains(&p[1]),
                "central region: {p:?}"
            );
        }
        // White noise at SNR 4: residual std is a quarter of the clean std.
        let noisy_cfg = Artefacts {
            snr: Some(4.0),
            ..Artefacts::default()
        };
        let mut r1 = Rng::new(9);
        let noisy = synthesize(&st, 32, 32, grid.pixel_size_a, &cfg, &noisy_cfg, &mut r1).unwrap();
        let diff: Vec<f32> = noisy
            .image
            .iter()
            .zip(clean.image.iter())
            .map(|(a, b)| a - b)
            .collect();
        let ratio = std_dev(clean.image.as_slice().unwrap()) / std_dev(&diff);
        assert!((ratio - 4.0).abs() < 0.5, "snr ratio {ratio}");
        // Each artefact alone, against what it adds: tests/artefacts.rs.
        assert!(
            Artefacts {
                snr: Some(-1.0),
                ..Artefacts::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn pink_noise_has_more_power_at_low_frequency() {
        let x = pink_noise(4096, &mut Rng::new(5));
        let lag1: f64 = x.windows(2).map(|w| (w[0] * w[1]) as f64).sum::<f64>() / 4095.0;
        assert!(
            lag1 > 0.5,
            "1/f noise is strongly correlated at lag 1, got {lag1}"
        );
    }
}
