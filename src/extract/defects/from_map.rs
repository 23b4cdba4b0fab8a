//! Defects from the dI/dV map itself (first version): the sharpest robust extrema.

use super::Detected;
use super::Polarity;
use super::filter::{median, peak_offset};
use crate::{Error, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Settings of [`defects_from_map`]; the defaults reproduce [`crate::extract::estimate_mask`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapDefectSettings {
    /// Sign of the defects' centres. `Auto` (default): the sign of the strongest extremum.
    pub polarity: Polarity,
    /// Absolute threshold in robust standard deviations of the map. Default 6.
    pub threshold_sigma: f64,
    /// Relative threshold: a fraction of the strongest extremum. Default 0.35.
    pub relative_threshold: f64,
    /// A defect is an extremum over the `(2n + 1) x (2n + 1)` neighbourhood. Default 2.
    pub neighbourhood_px: usize,
    /// Refine positions to subpixel precision (log-parabola through the 3 x 3 peak, per axis).
    pub subpixel: bool,
}

impl Default for MapDefectSettings {
    fn default() -> Self {
        MapDefectSettings {
            polarity: Polarity::Auto,
            threshold_sigma: 6.0,
            relative_threshold: 0.35,
            neighbourhood_px: 2,
            subpixel: true,
        }
    }
}

impl MapDefectSettings {
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold_sigma.is_finite() && self.threshold_sigma > 0.0) {
            return Err(Error::invalid(format!(
                "map defect threshold_sigma = {} must be positive",
                self.threshold_sigma
            )));
        }
        if !(0.0..=1.0).contains(&self.relative_threshold) {
            return Err(Error::invalid(format!(
                "map defect relative_threshold = {} must be in [0, 1]",
                self.relative_threshold
            )));
        }
        if !(1..=64).contains(&self.neighbourhood_px) {
            return Err(Error::invalid(format!(
                "map defect neighbourhood_px = {} must be in 1..=64",
                self.neighbourhood_px
            )));
        }
        Ok(())
    }
}

/// Integer peaks found in a map: `(row, col, sign x score)`, and the standardised map.
pub(crate) struct MapPeaks {
    pub peaks: Vec<(usize, usize, f32)>,
    /// `sign x (x - median) / scale`, 0 at non-finite pixels; row-major.
    pub score: Vec<f32>,
    pub sign: f32,
}

/// The detection step shared by [`defects_from_map`] and [`crate::extract::estimate_mask`].
///
/// The map is standardised robustly (median, 1.4826 x MAD over finite pixels; scale 1 when
/// the MAD is 0); the polarity fixes the sign; every local extremum of that sign over the
/// neighbourhood reaching both `threshold_sigma` and `relative_threshold` x the strongest
/// is a defect. Ties go to the first pixel in raster order. Peaks in raster order.
pub(crate) fn map_peaks(obs: ArrayView2<f32>, s: &MapDefectSettings) -> MapPeaks {
    let (h, w) = obs.dim();
    let empty = |sign| MapPeaks {
        peaks: Vec::new(),
        score: vec![0.0; h * w],
        sign,
    };
    let mut v: Vec<f32> = obs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 9 {
        return empty(1.0);
    }
    let med = median(&mut v).unwrap_or(0.0);
    v.iter_mut().for_each(|x| *x = (*x - med).abs());
    let mad = median(&mut v).unwrap_or(0.0);
    let scale = if mad > 0.0 { 1.4826 * mad } else { 1.0 };
    let z: Vec<f32> = obs
        .iter()
        .map(|&x| {
            if x.is_finite() {
                (x - med) / scale
            } else {
                0.0
            }
        })
        .collect();
    let (lo, hi) = z
        .iter()
        .fold((0.0f32, 0.0f32), |(a, b), &x| (a.min(x), b.max(x)));
    let sign = match s.polarity {
        Polarity::Bright => 1.0,
        Polarity::Dark => -1.0,
        Polarity::Auto if hi >= -lo => 1.0,
        Polarity::Auto => -1.0,
    };
    let score: Vec<f32> = z.into_iter().map(|x| sign * x).collect();
    let peak = if sign > 0.0 { hi } else { -lo };
    let threshold = (s.relative_threshold as f32 * peak).max(s.threshold_sigma as f32);
    if peak < threshold {
        return MapPeaks {
            peaks: Vec::new(),
            score,
            sign,
        };
    }
    let n = s.neighbourhood_px;
    let mut peaks = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let x = score[r * w + c];
            if x < threshold {
                continue;
            }
            let mut is_max = true;
            'n: for rr in r.saturating_sub(n)..(r + n + 1).min(h) {
                for cc in c.saturating_sub(n)..(c + n + 1).min(w) {
                    let y = score[rr * w + cc];
                    if y > x || (y == x && (rr, cc) < (r, c)) {
                        is_max = false;
                        break 'n;
                    }
                }
            }
            if is_max {
                peaks.push((r, c, x));
            }
        }
    }
    MapPeaks { peaks, score, sign }
}

/// Defects from a dI/dV map alone, for users without topography or a mask (first version; a
/// blind method that also uses the kernel is to come).
///
/// A defect's own site carries the strongest LDOS change of its kernel, so defects show as
/// the sharpest robust extrema (see [`MapDefectSettings`]). NaN pixels are ignored. Positions
/// `(row, col)` in pixels, pixel centres at integers, strongest first; `strength` is the
/// signed score in robust standard deviations. Accurate for isolated sharp centres; positions
/// from a topography ([`super::find_defects`]) are better when one exists.
pub fn defects_from_map(
    map: ArrayView2<f32>,
    settings: &MapDefectSettings,
) -> Result<Vec<Detected>> {
    settings.validate()?;
    let (h, w) = map.dim();
    if map.iter().any(|x| x.is_infinite()) {
        return Err(Error::invalid(
            "the map holds infinite values: replace them with NaN (missing) or finite values",
        ));
    }
    let MapPeaks { peaks, score, sign } = map_peaks(map, settings);
    let finite = |i: usize, j: usize| map[[i, j]].is_finite();
    let at = |i: Option<usize>, j: Option<usize>| match (i, j) {
        (Some(i), Some(j)) if i < h && j < w && finite(i, j) => score[i * w + j],
        _ => f32::NAN,
    };
    let mut out: Vec<Detected> = peaks
        .into_iter()
        .map(|(i, j, x)| {
            let (mut row, mut col) = (i as f64, j as f64);
            if settings.subpixel {
                row += peak_offset(at(i.checked_sub(1), Some(j)), x, at(Some(i + 1), Some(j)));
                col += peak_offset(at(Some(i), j.checked_sub(1)), x, at(Some(i), Some(j + 1)));
            }
            Detected {
                row,
                col,
                strength: (sign * x) as f64,
            }
        })
        .collect();
    out.sort_by(|a, b| b.strength.abs().total_cmp(&a.strength.abs()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::estimate_mask;
    use ndarray::Array2;

    #[test]
    fn map_defects_agree_with_the_mask_and_refine_sharp_peaks() {
        // Sharp Gaussian centres (sigma 0.8 px) with rings, plus a NaN line.
        let truth = [[12.25, 20.5], [40.0, 9.75], [33.5, 50.25]];
        let mut rng = crate::rng::Rng::new(2);
        let map = Array2::from_shape_fn((60, 64), |(i, j)| {
            let mut v = 0.05 * rng.normal() as f32;
            for t in &truth {
                let d2 = (i as f64 - t[0]).powi(2) + (j as f64 - t[1]).powi(2);
                v += (-(d2 / (2.0 * 0.8 * 0.8))).exp() as f32
                    + 0.2 * ((d2.sqrt() * 1.3).cos() * (-d2.sqrt() / 8.0).exp()) as f32;
            }
            if i == 25 { f32::NAN } else { v }
        });
        let found = defects_from_map(map.view(), &MapDefectSettings::default()).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        for t in &truth {
            let d = found
                .iter()
                .map(|f| (f.row - t[0]).hypot(f.col - t[1]))
                .fold(f64::INFINITY, f64::min);
            assert!(d < 0.15, "{t:?}: nearest at {d} px");
        }
        // Without refinement the positions are exactly the mask's pixels.
        let integer = MapDefectSettings {
            subpixel: false,
            ..MapDefectSettings::default()
        };
        let found = defects_from_map(map.view(), &integer).unwrap();
        let mask = estimate_mask(map.view());
        assert_eq!(mask.iter().filter(|&&m| m == 1).count(), found.len());
        assert!(
            found
                .iter()
                .all(|f| mask[[f.row as usize, f.col as usize]] == 1)
        );
        assert!(
            defects_from_map(
                map.view(),
                &MapDefectSettings {
                    neighbourhood_px: 0,
                    ..MapDefectSettings::default()
                }
            )
            .is_err()
        );
    }
}
