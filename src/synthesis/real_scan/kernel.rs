//! The true kernels of a real-scan map: a Gaussian apparent-height core plus the ring
//! pattern of the surface, in ring units (the ripple's largest magnitude outside the
//! adatom core is 1), on an odd `(2R + 1) x (2R + 1)` window with the impurity at `(R, R)`.
//!
//! The ripple is rendered by the physics code ([`KernelField::render`]): the exact continuum
//! (Hankel) solution of a Shockley band, or a catalog lattice kernel. It is tapered to zero
//! over the outer quarter of the window (a cosine), so the map holds exactly the kernel the
//! truth states and no square cut. Subpixel positions use pre-rendered phases (quarter
//! pixels), as [`crate::synthesis::KernelStamps`] does.

use crate::physics::{KernelField, PixelGrid};
use crate::{Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

/// Subpixel steps of defect positions: quarter pixels.
pub const STEPS: usize = 4;

/// Ripple magnitude (ring units) below which the kernel window ends.
const REACH_LEVEL: f64 = 0.03;

/// Core level (ring units) that bounds the core radius: where the Gaussian core has fallen
/// to a tenth of the ring amplitude.
const CORE_LEVEL: f64 = 0.1;

/// One defect type's kernel, ready to stamp.
#[derive(Clone, Debug)]
pub(super) struct TypeKernel {
    /// Half side R: the window is `(2R + 1)^2`, impurity at `(R, R)`.
    pub radius: usize,
    /// Tapered ripple (ring units) of each subpixel phase `(a, b)`, impurity at
    /// `(R + a / STEPS, R + b / STEPS)`, `ripple[a * STEPS + b]`, row-major `(2R + 1)^2`.
    pub ripple: Vec<Vec<f32>>,
    /// Core height in ring units (negative: a depression) and its Gaussian sigma in pixels.
    pub core_height: f64,
    pub core_sigma_px: f64,
}

impl TypeKernel {
    pub fn side(&self) -> usize {
        2 * self.radius + 1
    }

    /// The truth: phase (0, 0) of the ripple plus the core at the centre.
    pub fn image(&self) -> Array2<f32> {
        let s = self.side();
        let r = self.radius as f64;
        Array2::from_shape_fn((s, s), |(i, j)| {
            let d2 = (i as f64 - r).powi(2) + (j as f64 - r).powi(2);
            self.ripple[0][i * s + j] + self.core_at(d2) as f32
        })
    }

    /// The core at squared distance `d2` (pixels^2).
    #[inline]
    pub fn core_at(&self, d2: f64) -> f64 {
        self.core_height * (-d2 / (2.0 * self.core_sigma_px * self.core_sigma_px)).exp()
    }

    /// Radius (pixels) outside which the core is below a tenth of the ring amplitude; at
    /// least the core's half width at half maximum.
    pub fn core_radius_px(&self) -> f64 {
        core_radius_px(self.core_height, self.core_sigma_px)
    }

    /// Adds `amplitude x (ripple_scale x ripple + core_scale x core)` with the impurity at
    /// `position` (pixels, quantised to quarter pixels) to the rows `rows` of `image`
    /// (`width` columns, row-major).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &self,
        image: &mut [f32],
        width: usize,
        rows: std::ops::Range<usize>,
        position: [f64; 2],
        amplitude: f64,
        ripple_scale: f64,
        core_scale: f64,
    ) {
        let (r0, fr) = split(position[0]);
        let (c0, fc) = split(position[1]);
        let stamp = &self.ripple[fr * STEPS + fc];
        let side = self.side() as i64;
        let r = self.radius as i64;
        let (ar, ac) = (amplitude * ripple_scale, amplitude * core_scale);
        let (pr, pc) = (quantise(position[0]), quantise(position[1]));
        let core_reach2 = (4.0 * self.core_sigma_px).powi(2);
        let i_lo = (r0 - r).max(rows.start as i64);
        let i_hi = (r0 + r + 1).min(rows.end as i64);
        let j_lo = (c0 - r).max(0);
        let j_hi = (c0 + r + 1).min(width as i64);
        for i in i_lo..i_hi {
            let y = (i - r0 + r) as usize;
            let srow = &stamp[y * side as usize..(y + 1) * side as usize];
            let row = &mut image[i as usize * width..(i as usize + 1) * width];
            let di2 = (i as f64 - pr).powi(2);
            for j in j_lo..j_hi {
                let x = (j - c0 + r) as usize;
                let mut v = ar * srow[x] as f64;
                let d2 = di2 + (j as f64 - pc).powi(2);
                if d2 < core_reach2 {
                    v += ac * self.core_at(d2);
                }
                row[j as usize] += v as f32;
            }
        }
    }
}

/// Radius (pixels) where a Gaussian core of `height` (ring units) and `sigma` falls to a
/// tenth of the ring amplitude, at least its half width at half maximum.
pub(super) fn core_radius_px(height: f64, sigma: f64) -> f64 {
    let hwhm = sigma * (2.0 * 2f64.ln()).sqrt();
    let level = (height.abs() / CORE_LEVEL).max(1.0);
    (sigma * (2.0 * level.ln()).sqrt()).max(hwhm)
}

/// A coordinate quantised to quarter pixels.
pub(super) fn quantise(x: f64) -> f64 {
    (x * STEPS as f64).round() / STEPS as f64
}

/// (integer pixel, phase index) of a coordinate on the quarter-pixel grid.
fn split(x: f64) -> (i64, usize) {
    let q = (x * STEPS as f64).round() as i64;
    (
        q.div_euclid(STEPS as i64),
        q.rem_euclid(STEPS as i64) as usize,
    )
}

/// Steps of the radial table of an isotropic field, per pixel.
const TABLE_STEPS_PER_PX: f64 = 256.0;

/// Renders a field on square pixel windows. An isotropic continuum field is read from a
/// radial table (1/256-pixel steps, linear interpolation: its Hankel functions are the cost,
/// and the table is within 1e-5 of the renderer), a lattice field by
/// [`KernelField::render`].
pub(super) struct Renderer<'a> {
    field: &'a KernelField,
    pixel_size_a: f64,
    rotation_deg: f64,
    /// `delta_rho` at `r = n / TABLE_STEPS_PER_PX` pixels (continuum fields).
    table: Option<Vec<f64>>,
}

impl<'a> Renderer<'a> {
    /// A renderer of windows reaching at most `max_radius_px` from the impurity.
    pub fn new(
        field: &'a KernelField,
        pixel_size_a: f64,
        rotation_deg: f64,
        max_radius_px: f64,
    ) -> Self {
        let table = match field {
            KernelField::Continuum(k) => {
                let n = (max_radius_px * TABLE_STEPS_PER_PX).ceil() as usize + 2;
                Some(
                    (0..n)
                        .into_par_iter()
                        .map(|i| k.delta_rho(i as f64 / TABLE_STEPS_PER_PX * pixel_size_a))
                        .collect(),
                )
            }
            KernelField::Lattice { .. } => None,
        };
        Renderer {
            field,
            pixel_size_a,
            rotation_deg,
            table,
        }
    }

    /// The field on a `side x side` window, impurity at `centre` `(row, col)`.
    pub fn render(&self, side: usize, centre: [f64; 2]) -> Result<Array2<f64>> {
        let Some(table) = &self.table else {
            let grid = PixelGrid {
                height: side,
                width: side,
                pixel_size_a: self.pixel_size_a,
                rotation_deg: self.rotation_deg,
            };
            return self.field.render(&grid, centre);
        };
        let last = table.len() - 2;
        Ok(Array2::from_shape_fn((side, side), |(i, j)| {
            let r = (i as f64 - centre[0]).hypot(j as f64 - centre[1]) * TABLE_STEPS_PER_PX;
            let k = (r.floor() as usize).min(last);
            let f = (r - k as f64).min(1.0);
            table[k] * (1.0 - f) + table[k + 1] * f
        }))
    }
}

/// The normalisation and extent of a ripple: rendered once on a `(2 max_radius + 1)^2`
/// window, it is divided by its largest magnitude at `r > norm_radius_px` (so it is 1 in
/// ring units), and the window ends where the magnitude stays below [`REACH_LEVEL`],
/// between `min_radius` and `max_radius`.
pub(super) struct RippleScale {
    pub divisor: f64,
    pub radius: usize,
}

pub(super) fn ripple_scale(
    field: &Renderer,
    norm_radius_px: f64,
    min_radius: usize,
    max_radius: usize,
) -> Result<RippleScale> {
    let c = max_radius as f64;
    let img = field.render(2 * max_radius + 1, [c, c])?;
    // Largest magnitude in each whole-pixel radius shell, and beyond the norm radius.
    let mut shell = vec![0.0f64; 2 * max_radius + 2];
    let mut divisor = 0.0f64;
    for ((i, j), &v) in img.indexed_iter() {
        let r = ((i as f64 - c).powi(2) + (j as f64 - c).powi(2)).sqrt();
        let b = r.round() as usize;
        shell[b] = shell[b].max(v.abs());
        if r > norm_radius_px && r <= max_radius as f64 {
            divisor = divisor.max(v.abs());
        }
    }
    if !(divisor.is_finite() && divisor > 0.0) {
        return Err(Error::invalid(
            "the kernel has no ripple outside its core: choose another surface or kernel",
        ));
    }
    // The window ends where the ripple stays below the level, the taper (outer quarter)
    // included: R = reach / 0.75.
    let reach = (0..=max_radius)
        .rev()
        .find(|&r| shell[r] / divisor >= REACH_LEVEL)
        .unwrap_or(0);
    let radius = ((reach as f64 / 0.75).ceil() as usize).clamp(min_radius, max_radius);
    Ok(RippleScale { divisor, radius })
}

/// The `STEPS^2` tapered phases of a ripple, each divided by `divisor` and multiplied by
/// `gain`, on a `(2 radius + 1)^2` window.
pub(super) fn ripple_phases(
    field: &Renderer,
    radius: usize,
    divisor: f64,
    gain: f64,
) -> Result<Vec<Vec<f32>>> {
    let side = 2 * radius + 1;
    let r = radius as f64;
    let taper_start = 0.75 * r;
    (0..STEPS * STEPS)
        .into_par_iter()
        .map(|p| {
            let (a, b) = (p / STEPS, p % STEPS);
            let centre = [r + a as f64 / STEPS as f64, r + b as f64 / STEPS as f64];
            let img = field.render(side, centre)?;
            Ok(img
                .indexed_iter()
                .map(|((i, j), &v)| {
                    let d =
                        ((i as f64 - centre[0]).powi(2) + (j as f64 - centre[1]).powi(2)).sqrt();
                    (v / divisor * gain * taper(d, taper_start, r)) as f32
                })
                .collect())
        })
        .collect()
}

/// 1 inside `start`, a cosine down to 0 at `end`, 0 beyond.
fn taper(d: f64, start: f64, end: f64) -> f64 {
    if d <= start {
        1.0
    } else if d >= end {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * (d - start) / (end - start)).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::ParabolicBand;
    use crate::physics::continuum::{ContinuumKernel, Scatterer};

    #[test]
    fn the_radial_table_is_the_physics_renderer_within_1e_5() {
        let band = ParabolicBand {
            band_bottom_ev: -0.065,
            effective_mass: 0.41,
        };
        let k = ContinuumKernel::new(band, 0.1, 0.018, Scatterer::PhaseShift(1.3), 1.0).unwrap();
        let field = KernelField::Continuum(k);
        let table = Renderer::new(&field, 2.0, 0.0, 60.0);
        let grid = PixelGrid::new(41, 41, 2.0);
        for centre in [[20.0, 20.0], [20.25, 19.75], [3.5, 30.0]] {
            let a = table.render(41, centre).unwrap();
            let b = field.render(&grid, centre).unwrap();
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = a
                .iter()
                .zip(b.iter())
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            assert!(err < 1e-5 * scale, "{err:e} of {scale:e} at {centre:?}");
        }
    }
}
