//! A topography channel to go with a synthesised map: the same defects as apparent-height
//! bumps, plus the usual artefacts of an STM height image.
//!
//! Heights are returned in metres (as Nanonis stores `Z`); settings are in Angstrom, and
//! artefact strengths are relative to the defects' apparent height, so one setting means the
//! same for any bump height. Thermal drift is not modelled here (the map's drift shears the
//! map only).

use crate::rng::Rng;
use crate::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Largest topography [`synthesize_topography`] makes: 2^26 pixels (8192 x 8192).
pub const MAX_TOPOGRAPHY_PIXELS: usize = 1 << 26;

/// How the defects look in topography, and the artefacts on top.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopographyConfig {
    /// Apparent height of a defect in Angstrom; negative for depressions (dark defects).
    pub defect_height_a: f64,
    /// Apparent width of a defect: full width at half maximum of its Gaussian bump, Angstrom.
    pub defect_width_a: f64,
    /// Each defect's height is scaled by a factor uniform in `[1 - spread, 1 + spread]`.
    pub height_spread: f64,
    /// White noise std, relative to `|defect_height_a|`.
    pub noise: f64,
    /// Random offset per scan line (row), std relative to `|defect_height_a|`.
    pub line_offsets: f64,
    /// A plane rising by this many `|defect_height_a|` across the image diagonal, random
    /// direction.
    pub plane: f64,
    /// Atomic corrugation: peak-to-peak amplitude relative to `|defect_height_a|` of a square
    /// lattice of constant `lattice_a`, random orientation and phase; 0 = off.
    pub corrugation: f64,
    /// Lattice constant of the corrugation in Angstrom.
    pub lattice_a: f64,
}

impl Default for TopographyConfig {
    /// A typical low-temperature topography: 0.5 Angstrom high, 5 Angstrom wide defects (about
    /// what the FeSe scan in tests/data shows) with a
    /// 20 % height spread, 5 % noise, 10 % line offsets, a tilt of 4 heights across the
    /// frame and 10 % corrugation of a 3.8 Angstrom lattice.
    fn default() -> Self {
        TopographyConfig {
            defect_height_a: 0.5,
            defect_width_a: 5.0,
            height_spread: 0.2,
            noise: 0.05,
            line_offsets: 0.1,
            plane: 4.0,
            corrugation: 0.1,
            lattice_a: 3.8,
        }
    }
}

impl TopographyConfig {
    /// Only the bumps, every artefact off.
    pub fn clean() -> Self {
        TopographyConfig {
            height_spread: 0.0,
            noise: 0.0,
            line_offsets: 0.0,
            plane: 0.0,
            corrugation: 0.0,
            ..TopographyConfig::default()
        }
    }

    /// Check every field's range; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let h = self.defect_height_a;
        if !(h.is_finite() && h != 0.0 && h.abs() <= 100.0) {
            return Err(Error::invalid(format!(
                "topography defect_height_a = {h} must be nonzero and at most 100 Angstrom in size"
            )));
        }
        let fields = [
            ("defect_width_a", self.defect_width_a, 1e-3, 1e4),
            ("height_spread", self.height_spread, 0.0, 1.0),
            ("noise", self.noise, 0.0, 1e3),
            ("line_offsets", self.line_offsets, 0.0, 1e3),
            ("plane", self.plane, 0.0, 1e6),
            ("corrugation", self.corrugation, 0.0, 1e3),
            ("lattice_a", self.lattice_a, 0.1, 1e3),
        ];
        for (name, v, lo, hi) in fields {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(Error::invalid(format!(
                    "topography {name} = {v} must be in [{lo}, {hi}]"
                )));
            }
        }
        Ok(())
    }
}

/// The topography of defects at `positions` (`(row, col)` in pixels, pixel centres at integers,
/// as [`super::Observation::positions`]) on a `height x width` image of `pixel_size_a`
/// Angstrom pixels: Gaussian bumps sampled at pixel centres, then the plane, corrugation, line
/// offsets and white noise of `cfg`. Heights in metres, `[row, col]`. Deterministic for a
/// given `rng` state.
pub fn synthesize_topography(
    positions: &[[f32; 2]],
    height: usize,
    width: usize,
    pixel_size_a: f64,
    cfg: &TopographyConfig,
    rng: &mut Rng,
) -> Result<Array2<f32>> {
    cfg.validate()?;
    if height == 0 || width == 0 || height.saturating_mul(width) > MAX_TOPOGRAPHY_PIXELS {
        return Err(Error::invalid(format!(
            "topography of {height} x {width} pixels: both sides must be positive and the image \
             at most {MAX_TOPOGRAPHY_PIXELS} pixels"
        )));
    }
    if !(pixel_size_a.is_finite() && pixel_size_a > 0.0) {
        return Err(Error::invalid(format!(
            "pixel size {pixel_size_a} Angstrom must be positive"
        )));
    }
    if let Some(p) = positions
        .iter()
        .find(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(Error::invalid(format!(
            "defect position {p:?} is not finite"
        )));
    }
    let unit = cfg.defect_height_a.abs();
    // Everything in Angstrom until the end.
    let mut z = Array2::<f64>::zeros((height, width));
    let sigma_px = cfg.defect_width_a / (2.0 * (2.0 * 2f64.ln()).sqrt()) / pixel_size_a;
    let reach = (4.0 * sigma_px).ceil() as i64;
    for p in positions {
        let scale = 1.0 + cfg.height_spread * rng.range(-1.0, 1.0);
        let amp = cfg.defect_height_a * scale;
        let (pr, pc) = (p[0] as f64, p[1] as f64);
        let (r0, c0) = (pr.round() as i64, pc.round() as i64);
        for i in (r0 - reach).max(0)..(r0 + reach + 1).min(height as i64) {
            for j in (c0 - reach).max(0)..(c0 + reach + 1).min(width as i64) {
                let d2 = (i as f64 - pr).powi(2) + (j as f64 - pc).powi(2);
                z[[i as usize, j as usize]] += amp * (-d2 / (2.0 * sigma_px * sigma_px)).exp();
            }
        }
    }
    if cfg.plane > 0.0 {
        let theta = rng.range(0.0, std::f64::consts::TAU);
        let diag = ((height * height + width * width) as f64).sqrt();
        let g = cfg.plane * unit / diag;
        z.indexed_iter_mut()
            .for_each(|((i, j), v)| *v += g * (j as f64 * theta.cos() + i as f64 * theta.sin()));
    }
    if cfg.corrugation > 0.0 {
        let (theta, phase_a, phase_b) = (
            rng.range(0.0, std::f64::consts::FRAC_PI_2),
            rng.range(0.0, std::f64::consts::TAU),
            rng.range(0.0, std::f64::consts::TAU),
        );
        let k = std::f64::consts::TAU * pixel_size_a / cfg.lattice_a; // radians per pixel
        let (ka, kb) = (
            [k * theta.cos(), k * theta.sin()],
            [-k * theta.sin(), k * theta.cos()],
        );
        // cos + cos spans [-2, 2]: a quarter of it gives the stated peak-to-peak amplitude.
        let amp = 0.25 * cfg.corrugation * unit;
        z.indexed_iter_mut().for_each(|((i, j), v)| {
            let (x, y) = (j as f64, i as f64);
            *v += amp
                * ((ka[0] * x + ka[1] * y + phase_a).cos()
                    + (kb[0] * x + kb[1] * y + phase_b).cos());
        });
    }
    if cfg.line_offsets > 0.0 {
        for mut row in z.rows_mut() {
            let off = rng.normal() * cfg.line_offsets * unit;
            row += off;
        }
    }
    if cfg.noise > 0.0 {
        let s = cfg.noise * unit;
        z.iter_mut().for_each(|v| *v += rng.normal() * s);
    }
    Ok(z.mapv(|v| (v * 1e-10) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_bumps_have_the_stated_height_and_width() {
        let cfg = TopographyConfig {
            defect_height_a: 0.8,
            defect_width_a: 6.0,
            ..TopographyConfig::clean()
        };
        let z =
            synthesize_topography(&[[20.0, 30.0]], 40, 64, 0.5, &cfg, &mut Rng::new(1)).unwrap();
        assert!((z[[20, 30]] as f64 - 0.8e-10).abs() < 1e-16);
        // Half maximum at half the FWHM: 3 Angstrom = 6 pixels from the centre.
        assert!(
            (z[[20, 36]] as f64 - 0.4e-10).abs() < 1e-14,
            "{}",
            z[[20, 36]]
        );
        assert!((z[[14, 30]] as f64 - 0.4e-10).abs() < 1e-14);
        assert_eq!(z[[0, 0]], 0.0);
    }

    #[test]
    fn artefacts_are_seeded_and_have_their_size() {
        let cfg = TopographyConfig::default();
        let pos = [[10.25f32, 12.5], [50.0, 40.75]];
        let a = synthesize_topography(&pos, 64, 64, 1.0, &cfg, &mut Rng::new(7)).unwrap();
        let b = synthesize_topography(&pos, 64, 64, 1.0, &cfg, &mut Rng::new(7)).unwrap();
        let c = synthesize_topography(&pos, 64, 64, 1.0, &cfg, &mut Rng::new(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Noise alone: its std is `noise` x the bump height.
        let noise = TopographyConfig {
            noise: 0.2,
            ..TopographyConfig::clean()
        };
        let z = synthesize_topography(&[], 128, 128, 1.0, &noise, &mut Rng::new(3)).unwrap();
        let n = z.len() as f64;
        let std = (z.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            (std / (0.2 * 0.5e-10) - 1.0).abs() < 0.03,
            "noise std {std:e}"
        );
        // Corrugation alone: peak-to-peak close to the stated fraction of the height.
        let corr = TopographyConfig {
            corrugation: 0.4,
            ..TopographyConfig::clean()
        };
        let z = synthesize_topography(&[], 128, 128, 0.5, &corr, &mut Rng::new(3)).unwrap();
        let (lo, hi) = z
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let ptp = (hi - lo) as f64 / (0.4 * 0.5e-10);
        assert!(
            (0.9..=1.0 + 1e-6).contains(&ptp),
            "peak-to-peak ratio {ptp}"
        );
        for bad in [
            TopographyConfig {
                defect_height_a: 0.0,
                ..cfg
            },
            TopographyConfig { noise: -1.0, ..cfg },
            TopographyConfig {
                height_spread: 1.5,
                ..cfg
            },
        ] {
            assert!(synthesize_topography(&pos, 8, 8, 1.0, &bad, &mut Rng::new(1)).is_err());
        }
        assert!(synthesize_topography(&pos, 0, 8, 1.0, &cfg, &mut Rng::new(1)).is_err());
        assert!(
            synthesize_topography(&[[f32::NAN, 1.0]], 8, 8, 1.0, &cfg, &mut Rng::new(1)).is_err()
        );
    }
}
