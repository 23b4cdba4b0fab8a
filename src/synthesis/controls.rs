//! Negative controls: maps that hold no repeated defect, on which a blind search must find
//! nothing (or explain nothing of the held-out pixels).
//!
//! # Conventions
//! - Maps are `[H, W]` f32, row-major, unit standard deviation of the noise (arbitrary unit).
//! - Spectral noise: `F(k)` Gaussian with power `|k|^-beta` (`k` in cycles per pixel, the
//!   zero frequency left out), back-transformed, scaled to unit variance, plus white noise of
//!   std 0.05. `beta = 1` is pink (1/f) noise, `beta = 2` brown (random-walk-like) noise.
//! - Lattice: three plane waves at 120 degrees of period 6 px (a triangular lattice), unit
//!   amplitude each, plus white noise of std 0.2.
//! - Checkerboard: `(-1)^(row + col)`, plus white noise of std 0.2.
//! - Clusters: the real-scan preset ([`super::real_scan`]) with no adatom and no dark defect:
//!   5-10 irregular bright clusters with the preset's artefacts.

use crate::rng::Rng;
use crate::synthesis::real_scan::{RealScanConfig, real_scan};
use crate::{Error, Result};
use ndarray::Array2;
use num_complex::Complex64;
use rustfft::FftPlanner;
use std::f64::consts::TAU;

/// A map with nothing repeated in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    WhiteNoise,
    PinkNoise,
    BrownNoise,
    Lattice,
    Checkerboard,
    Clusters,
}

impl Control {
    pub const ALL: [Control; 6] = [
        Control::WhiteNoise,
        Control::PinkNoise,
        Control::BrownNoise,
        Control::Lattice,
        Control::Checkerboard,
        Control::Clusters,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Control::WhiteNoise => "white-noise",
            Control::PinkNoise => "pink-noise",
            Control::BrownNoise => "brown-noise",
            Control::Lattice => "lattice",
            Control::Checkerboard => "checkerboard",
            Control::Clusters => "clusters",
        }
    }
}

/// The `size x size` map of `control` (seeded).
pub fn control_map(control: Control, size: usize, seed: u64) -> Result<Array2<f32>> {
    crate::synthesis::check_image_size(size)?;
    if size < 32 {
        return Err(Error::invalid(format!(
            "control map size {size} must be at least 32 pixels"
        )));
    }
    let mut rng = Rng::stream(seed, 0xc0_47_01);
    let n = size;
    let mut white = |sd: f64| -> Vec<f64> { (0..n * n).map(|_| sd * rng.normal()).collect() };
    let map: Vec<f64> = match control {
        Control::WhiteNoise => white(1.0),
        Control::PinkNoise | Control::BrownNoise => {
            let beta = if control == Control::PinkNoise {
                1.0
            } else {
                2.0
            };
            let field = spectral_noise(n, beta, &mut Rng::stream(seed, 0x5bec));
            field.iter().zip(white(0.05)).map(|(a, b)| a + b).collect()
        }
        Control::Lattice => {
            let k = TAU / 6.0;
            let dirs: Vec<[f64; 2]> = (0..3)
                .map(|i| {
                    let a = i as f64 * TAU / 3.0 + 0.3;
                    [k * a.sin(), k * a.cos()]
                })
                .collect();
            white(0.2)
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let (r, c) = ((i / n) as f64, (i % n) as f64);
                    e + dirs
                        .iter()
                        .map(|d| (d[0] * r + d[1] * c).cos())
                        .sum::<f64>()
                })
                .collect()
        }
        Control::Checkerboard => white(0.2)
            .iter()
            .enumerate()
            .map(|(i, e)| e + if (i / n + i % n) % 2 == 0 { 1.0 } else { -1.0 })
            .collect(),
        Control::Clusters => {
            let config = RealScanConfig {
                size,
                adatoms: [0, 0],
                dark_defects: [0, 0],
                clusters: [5, 10],
                ..RealScanConfig::default()
            };
            return Ok(real_scan(&config, seed)?.map);
        }
    };
    Ok(Array2::from_shape_fn((n, n), |(r, c)| {
        map[r * n + c] as f32
    }))
}

/// Gaussian noise on an `n x n` grid with power spectrum `|k|^-beta`, unit variance.
fn spectral_noise(n: usize, beta: f64, rng: &mut Rng) -> Vec<f64> {
    let fft = FftPlanner::<f64>::new().plan_fft_inverse(n);
    let freq = |i: usize| {
        let f = if i <= n / 2 {
            i as f64
        } else {
            i as f64 - n as f64
        };
        f / n as f64
    };
    let mut grid: Vec<Complex64> = (0..n * n)
        .map(|i| {
            let k = freq(i / n).hypot(freq(i % n));
            if k == 0.0 {
                Complex64::new(0.0, 0.0)
            } else {
                let a = k.powf(-beta / 2.0);
                Complex64::new(a * rng.normal(), a * rng.normal())
            }
        })
        .collect();
    // Rows, then columns (through a transpose).
    for row in grid.chunks_mut(n) {
        fft.process(row);
    }
    let mut t: Vec<Complex64> = (0..n * n).map(|i| grid[(i % n) * n + i / n]).collect();
    for col in t.chunks_mut(n) {
        fft.process(col);
    }
    let real: Vec<f64> = (0..n * n).map(|i| t[(i % n) * n + i / n].re).collect();
    let mean = real.iter().sum::<f64>() / real.len() as f64;
    let sd = (real.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / real.len() as f64).sqrt();
    real.iter().map(|x| (x - mean) / sd.max(1e-300)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pink_noise_is_correlated_and_white_is_not() {
        let lag1 = |m: &Array2<f32>| {
            let (h, w) = m.dim();
            let (mut num, mut den) = (0.0, 0.0);
            for r in 0..h {
                for c in 0..w - 1 {
                    num += (m[[r, c]] * m[[r, c + 1]]) as f64;
                    den += (m[[r, c]] * m[[r, c]]) as f64;
                }
            }
            num / den
        };
        let pink = control_map(Control::PinkNoise, 64, 1).unwrap();
        let brown = control_map(Control::BrownNoise, 64, 1).unwrap();
        let white = control_map(Control::WhiteNoise, 64, 1).unwrap();
        assert!(lag1(&pink) > 0.3, "pink lag-1 {}", lag1(&pink));
        assert!(
            lag1(&brown) > lag1(&pink),
            "brown {} pink {}",
            lag1(&brown),
            lag1(&pink)
        );
        assert!(lag1(&white).abs() < 0.1, "white lag-1 {}", lag1(&white));
    }

    #[test]
    fn every_control_has_its_size() {
        for c in Control::ALL {
            assert_eq!(
                control_map(c, 40, 0).unwrap().dim(),
                (40, 40),
                "{}",
                c.name()
            );
        }
    }
}
