//! Defects from a topography channel: level, band-pass, robust threshold, separate, refine.

use super::Detected;
use super::filter::{
    blur_normalised, fit_gaussian, peak_offset, robust_stats, subtract_line_medians, subtract_plane,
};
use crate::{Error, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Largest image [`find_defects`] accepts: 2^26 pixels (8192 x 8192); it allocates about
/// seven f32 copies.
pub const MAX_PIXELS: usize = 1 << 26;

/// Full width at half maximum of a Gaussian in units of its sigma: `2 sqrt(2 ln 2)`.
const FWHM_PER_SIGMA: f64 = 2.354_820_045;

/// Which defects to look for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Polarity {
    /// Protrusions (the usual look of adatoms and many substitutions in topography).
    #[default]
    Bright,
    /// Depressions (vacancies).
    Dark,
    /// Whichever of the two gives the larger total excess over the threshold.
    Auto,
}

/// How the topography is flattened before filtering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Levelling {
    None,
    /// Subtract a least-squares plane.
    Plane,
    /// Subtract each scan line's (row's) median.
    Lines,
    /// A plane, then each line's median (the default: removes tilt and line offsets).
    #[default]
    PlaneAndLines,
}

/// Settings of [`find_defects`]. Lengths in pixels. `None` fields follow from
/// `defect_size_px` as documented on each.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopographySettings {
    pub polarity: Polarity,
    pub levelling: Levelling,
    /// Expected apparent size of a defect: full width at half maximum of its bump, in pixels.
    /// Sets the defaults below. Default 4 (for unknown pixel sizes); from Angstrom with
    /// [`TopographySettings::with_defect_size_a`] or [`TopographySettings::for_pixel_size`].
    pub defect_size_px: f64,
    /// Smoothing sigma of the band-pass (difference of Gaussians), in pixels. Default: half
    /// the sigma of the expected bump, `0.5 x defect_size_px / 2.355` (at least 0.5): enough
    /// to average noise and atomic corrugation finer than a defect, little enough to keep
    /// close pairs apart (the matched filter, the bump's own sigma, merges pairs up to about
    /// 1.7 widths apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_small_px: Option<f64>,
    /// Background sigma of the band-pass, in pixels. Default twice the expected bump's sigma,
    /// `2 x defect_size_px / 2.355` (at least twice the smoothing sigma): slower height
    /// changes (terraces, tip-height drift, residual tilt) are taken out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_large_px: Option<f64>,
    /// Detection threshold on the band-passed image in robust standard deviations
    /// (`(x - median) / (1.4826 MAD)`). Default 5.
    pub threshold_sigma: f64,
    /// Two defects closer than this (pixels) are one: the stronger is kept. Default
    /// `0.8 x defect_size_px`: two bumps of the expected size closer than about 0.85 of their
    /// width merge into a single maximum, so closer maxima are one defect's own structure
    /// (lobes, dimers) or noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_separation_px: Option<f64>,
    /// Refine each position to subpixel precision (default true; false gives integer pixel
    /// positions): a least-squares fit of a Gaussian bump of the expected size on a local
    /// plane to the levelled image, over the pixels within `max(2, ceil(1.5 sigma))` of the peak
    /// (`sigma = defect_size_px / 2.355`); where that fit fails, per axis the vertex of a
    /// parabola through the logarithm of the band-passed peak and its two neighbours.
    pub subpixel: bool,
}

impl Default for TopographySettings {
    fn default() -> Self {
        TopographySettings {
            polarity: Polarity::Bright,
            levelling: Levelling::PlaneAndLines,
            defect_size_px: 4.0,
            sigma_small_px: None,
            sigma_large_px: None,
            threshold_sigma: 5.0,
            min_separation_px: None,
            subpixel: true,
        }
    }
}

/// Typical apparent size (FWHM) of a point defect in STM topography, in Angstrom: the
/// default of [`TopographySettings::for_pixel_size`]. The bright defects of the FeSe scan in
/// tests/data are about this size.
pub const DEFAULT_DEFECT_SIZE_A: f64 = 6.0;

impl TopographySettings {
    /// The defaults for a scan with `pixel_size_a` Angstrom pixels: defects
    /// [`DEFAULT_DEFECT_SIZE_A`] wide. Prefer this to [`Default`] when the pixel size is known.
    pub fn for_pixel_size(pixel_size_a: f64) -> Result<Self> {
        Self::with_defect_size_a(DEFAULT_DEFECT_SIZE_A, pixel_size_a)
    }

    /// The defaults for defects `defect_size_a` Angstrom wide (FWHM) on pixels of
    /// `pixel_size_a` Angstrom.
    pub fn with_defect_size_a(defect_size_a: f64, pixel_size_a: f64) -> Result<Self> {
        if !(defect_size_a > 0.0
            && pixel_size_a > 0.0
            && defect_size_a.is_finite()
            && pixel_size_a.is_finite())
        {
            return Err(Error::invalid(format!(
                "defect size {defect_size_a} Angstrom and pixel size {pixel_size_a} Angstrom \
                 must be positive"
            )));
        }
        let s = TopographySettings {
            defect_size_px: defect_size_a / pixel_size_a,
            ..TopographySettings::default()
        };
        s.validate()?;
        Ok(s)
    }

    /// The band-pass smoothing sigma in pixels (explicit or derived).
    pub fn sigma_small(&self) -> f64 {
        self.sigma_small_px
            .unwrap_or((0.5 * self.defect_size_px / FWHM_PER_SIGMA).max(0.5))
    }

    /// The band-pass background sigma in pixels (explicit or derived).
    pub fn sigma_large(&self) -> f64 {
        self.sigma_large_px
            .unwrap_or((2.0 * self.defect_size_px / FWHM_PER_SIGMA).max(2.0 * self.sigma_small()))
    }

    /// The minimum separation in pixels (explicit or derived).
    pub fn min_separation(&self) -> f64 {
        self.min_separation_px.unwrap_or(0.8 * self.defect_size_px)
    }

    /// Check every field's range; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let in_range = |name: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "topography setting {name} = {v} must be in [{lo}, {hi}]"
                )))
            }
        };
        in_range("defect_size_px", self.defect_size_px, 0.5, 512.0)?;
        in_range("sigma_small_px", self.sigma_small(), 0.3, 256.0)?;
        in_range("sigma_large_px", self.sigma_large(), 0.3, 256.0)?;
        in_range("threshold_sigma", self.threshold_sigma, 0.5, 1000.0)?;
        in_range("min_separation_px", self.min_separation(), 0.0, 4096.0)?;
        if self.sigma_large() <= 1.5 * self.sigma_small() {
            return Err(Error::invalid(format!(
                "topography setting sigma_large_px = {} must exceed 1.5 x sigma_small_px = {} \
                 (the band-pass needs a background scale well above the defect scale)",
                self.sigma_large(),
                self.sigma_small()
            )));
        }
        Ok(())
    }
}

/// Find defects in a topography image `z` (`[row, col]`, any unit, NaN for missing pixels
/// such as bad lines).
///
/// Steps: levelling (see [`Levelling`]); band-pass `G(sigma_small) * z - G(sigma_large) * z`
/// by NaN-tolerant normalised convolution (missing pixels and the outside of the image carry
/// no weight, so defects at the edge or next to a bad line are still seen); standardise by the
/// median and 1.4826 x MAD of the band-passed image; keep local maxima (3 x 3) of
/// `sign x score` above `threshold_sigma`, where the smoothing covered at least a fifth of
/// its weight with measured pixels (a corner pixel has a quarter); drop any within
/// `min_separation` of a stronger one; refine to subpixel. Positions are `(row, col)` in
/// pixels, pixel centres at integers, strongest first; `strength` is the score in robust
/// standard deviations, negative for dark defects.
pub fn find_defects(z: ArrayView2<f32>, settings: &TopographySettings) -> Result<Vec<Detected>> {
    settings.validate()?;
    let (h, w) = z.dim();
    if h < 3 || w < 3 || h.saturating_mul(w) > MAX_PIXELS {
        return Err(Error::invalid(format!(
            "topography of {h} x {w} pixels: each side must be at least 3 and the image at \
             most {MAX_PIXELS} pixels"
        )));
    }
    let mut level: Vec<f32> = z.iter().copied().collect();
    let (finite, infinite) = level.iter().fold((0usize, 0usize), |(f, i), v| {
        (f + v.is_finite() as usize, i + v.is_infinite() as usize)
    });
    if infinite > 0 {
        return Err(Error::invalid(
            "topography holds infinite values: replace them with NaN (missing) or finite heights",
        ));
    }
    if finite < 9 {
        return Err(Error::invalid(
            "topography has fewer than 9 finite pixels: nothing to search",
        ));
    }
    if matches!(
        settings.levelling,
        Levelling::Plane | Levelling::PlaneAndLines
    ) {
        subtract_plane(&mut level, h, w);
    }
    if matches!(
        settings.levelling,
        Levelling::Lines | Levelling::PlaneAndLines
    ) {
        subtract_line_medians(&mut level, w);
    }
    let (small, weight) = blur_normalised(&level, h, w, settings.sigma_small());
    let (large, _) = blur_normalised(&level, h, w, settings.sigma_large());
    // The smoothing weight is 0.5 at a straight image edge and 0.25 at a corner; below 0.2 the
    // pixel sits in (or beside) a wide gap of missing data and is not searched.
    let mut score: Vec<f32> = small
        .iter()
        .zip(&large)
        .zip(&weight)
        .map(|((&s, &l), &g)| if g >= 0.2 { s - l } else { f32::NAN })
        .collect();
    let Some((med, scale)) = robust_stats(&score) else {
        return Ok(Vec::new()); // a flat image: no defect stands out
    };
    score.iter_mut().for_each(|b| *b = (*b - med) / scale);
    let pick = |sign: f32| peaks(&score, &level, h, w, sign, settings);
    let found = match settings.polarity {
        Polarity::Bright => pick(1.0),
        Polarity::Dark => pick(-1.0),
        Polarity::Auto => {
            let excess = |d: &[Detected]| -> f64 {
                d.iter()
                    .map(|p| p.strength.abs() - settings.threshold_sigma)
                    .sum()
            };
            let (bright, dark) = (pick(1.0), pick(-1.0));
            if excess(&bright) >= excess(&dark) {
                bright
            } else {
                dark
            }
        }
    };
    Ok(found)
}

/// Local maxima of `sign * score` above the threshold, thinned by separation, refined.
fn peaks(
    score: &[f32],
    level: &[f32],
    h: usize,
    w: usize,
    sign: f32,
    settings: &TopographySettings,
) -> Vec<Detected> {
    let at = |i: usize, j: usize| sign * score[i * w + j];
    let thr = settings.threshold_sigma as f32;
    let mut cand: Vec<(usize, usize, f32)> = Vec::new();
    for i in 0..h {
        for j in 0..w {
            let x = at(i, j);
            if x.is_nan() || x < thr {
                continue;
            }
            let mut is_max = true;
            'n: for ii in i.saturating_sub(1)..(i + 2).min(h) {
                for jj in j.saturating_sub(1)..(j + 2).min(w) {
                    let y = at(ii, jj);
                    // Ties go to the first pixel in raster order.
                    if y > x || (y == x && (ii, jj) < (i, j)) {
                        is_max = false;
                        break 'n;
                    }
                }
            }
            if is_max {
                cand.push((i, j, x));
            }
        }
    }
    cand.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    let kept = separate(&cand, h, w, settings.min_separation());
    kept.into_iter()
        .map(|(i, j, x)| {
            let (mut row, mut col) = (i as f64, j as f64);
            if settings.subpixel {
                let get = |ii: Option<usize>, jj: Option<usize>| match (ii, jj) {
                    (Some(ii), Some(jj)) if ii < h && jj < w => at(ii, jj),
                    _ => f32::NAN,
                };
                let start = [
                    peak_offset(get(i.checked_sub(1), Some(j)), x, get(Some(i + 1), Some(j))),
                    peak_offset(get(Some(i), j.checked_sub(1)), x, get(Some(i), Some(j + 1))),
                ];
                let sigma = settings.defect_size_px / FWHM_PER_SIGMA;
                let radius = ((1.5 * sigma).ceil() as usize).max(2);
                let fit = fit_gaussian(level, h, w, (i, j), start, sigma, radius, sign);
                let [dr, dc] = fit.map_or(start, |p| [p[0] - i as f64, p[1] - j as f64]);
                row += dr;
                col += dc;
            }
            Detected {
                row,
                col,
                strength: (sign * x) as f64,
            }
        })
        .collect()
}

/// Greedy thinning of candidates sorted strongest first: keep one unless a kept one lies
/// within `min_sep` pixels. A grid of `min_sep`-sized cells makes each check local.
pub(crate) fn separate(
    cand: &[(usize, usize, f32)],
    h: usize,
    w: usize,
    min_sep: f64,
) -> Vec<(usize, usize, f32)> {
    if min_sep <= 0.0 {
        return cand.to_vec();
    }
    let cell = min_sep.ceil().max(1.0) as usize;
    let (gh, gw) = (h.div_ceil(cell), w.div_ceil(cell));
    let mut grid: Vec<Vec<(usize, usize)>> = vec![Vec::new(); gh * gw];
    let mut kept = Vec::new();
    for &(i, j, x) in cand {
        let (gi, gj) = (i / cell, j / cell);
        let near = (gi.saturating_sub(1)..(gi + 2).min(gh)).any(|a| {
            (gj.saturating_sub(1)..(gj + 2).min(gw)).any(|b| {
                grid[a * gw + b].iter().any(|&(ki, kj)| {
                    let (di, dj) = (ki as f64 - i as f64, kj as f64 - j as f64);
                    di * di + dj * dj < min_sep * min_sep
                })
            })
        });
        if !near {
            grid[gi * gw + gj].push((i, j));
            kept.push((i, j, x));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Gaussian bumps of FWHM `fwhm` at `pos` on a tilted plane with line offsets and a NaN line.
    fn scene(pos: &[[f64; 2]], fwhm: f64, sign: f32) -> Array2<f32> {
        let s = fwhm / 2.355;
        let mut rng = crate::rng::Rng::new(4);
        Array2::from_shape_fn((64, 80), |(i, j)| {
            let mut v = 0.02 * i as f32 - 0.03 * j as f32
                + 0.1 * ((i * 7) % 5) as f32
                + 0.02 * rng.normal() as f32;
            for p in pos {
                let d2 = (i as f64 - p[0]).powi(2) + (j as f64 - p[1]).powi(2);
                v += sign * (-(d2 / (2.0 * s * s))).exp() as f32;
            }
            if i == 30 { f32::NAN } else { v }
        })
    }

    #[test]
    fn finds_bright_and_dark_bumps_at_subpixel_positions() {
        let truth = [[10.25, 12.5], [30.75, 40.0], [50.5, 70.25], [0.0, 40.0]];
        for (sign, polarity) in [(1.0, Polarity::Bright), (-1.0, Polarity::Auto)] {
            let z = scene(&truth, 4.0, sign);
            let found = find_defects(
                z.view(),
                &TopographySettings {
                    polarity,
                    ..TopographySettings::default()
                },
            )
            .unwrap();
            assert_eq!(found.len(), truth.len(), "{found:?}");
            for t in &truth {
                let d = found
                    .iter()
                    .map(|f| ((f.row - t[0]).powi(2) + (f.col - t[1]).powi(2)).sqrt())
                    .fold(f64::INFINITY, f64::min);
                // The edge defect (row 0) is half cut off: its refinement is one-sided; the
                // one next to the missing line 30 is seen through the interpolated gap.
                let tol = match t[0] {
                    0.0 => 0.5,
                    30.75 => 0.25,
                    _ => 0.1,
                };
                assert!(d < tol, "{t:?}: nearest detection {d} px away ({found:?})");
            }
            assert!(found.iter().all(|f| f.strength.signum() == sign as f64));
        }
        // Looking for dark defects in a bright scene finds none of the bumps.
        let z = scene(&truth, 4.0, 1.0);
        let dark = TopographySettings {
            polarity: Polarity::Dark,
            ..TopographySettings::default()
        };
        let found = find_defects(z.view(), &dark).unwrap();
        assert!(
            found.iter().all(|f| truth
                .iter()
                .all(|t| (f.row - t[0]).hypot(f.col - t[1]) > 2.0)),
            "{found:?}"
        );
    }

    #[test]
    fn separation_keeps_the_stronger_of_close_pairs() {
        let cand = vec![(10, 10, 9.0), (10, 12, 8.0), (10, 20, 7.0), (0, 0, 6.0)];
        let kept = separate(&cand, 32, 32, 3.0);
        assert_eq!(kept, vec![(10, 10, 9.0), (10, 20, 7.0), (0, 0, 6.0)]);
        assert_eq!(separate(&cand, 32, 32, 0.0).len(), 4);
    }

    #[test]
    fn bad_settings_and_inputs_are_refused() {
        let z = Array2::<f32>::zeros((16, 16));
        for bad in [
            TopographySettings {
                defect_size_px: f64::NAN,
                ..TopographySettings::default()
            },
            TopographySettings {
                sigma_small_px: Some(3.0),
                sigma_large_px: Some(3.0),
                ..TopographySettings::default()
            },
            TopographySettings {
                threshold_sigma: 0.0,
                ..TopographySettings::default()
            },
        ] {
            assert!(find_defects(z.view(), &bad).is_err(), "{bad:?}");
        }
        let ok = TopographySettings::default();
        assert!(find_defects(Array2::<f32>::zeros((2, 50)).view(), &ok).is_err());
        let mut inf = z.clone();
        inf[[3, 3]] = f32::INFINITY;
        assert!(find_defects(inf.view(), &ok).is_err());
        assert!(find_defects(Array2::from_elem((8, 8), f32::NAN).view(), &ok).is_err());
        // A flat image has no defects (and no error).
        assert!(find_defects(z.view(), &ok).unwrap().is_empty());
        // TOML round trip with partial input.
        let s: TopographySettings =
            toml::from_str("polarity = \"dark\"\ndefect_size_px = 8.0").unwrap();
        assert_eq!(s.polarity, Polarity::Dark);
        assert_eq!(s.min_separation(), 6.4);
        assert!(toml::from_str::<TopographySettings>("threshold = 3").is_err());
        let a = TopographySettings::with_defect_size_a(8.0, 2.0).unwrap();
        assert_eq!(a.defect_size_px, 4.0);
    }
}
