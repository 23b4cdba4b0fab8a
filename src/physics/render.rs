//! Rendering a kernel onto an STM pixel grid.
//!
//! Pixel `(i, j)` samples image coordinates `x = (j - c_col) p`, `y = (i - c_row) p` around the
//! impurity at pixel `(c_row, c_col)` (normally `(H/2, W/2)`), rotated into the sample frame by
//! the scan angle. Lattice LDOS becomes a continuous map by Gaussian orbital smearing,
//! `rho(r) = sum_{R,s} drho_s(R) g_sigma(r - R - tau_s)`, with
//! `sigma^2 = sigma_orbital^2 + p^2/12` (the orbital's extent plus the pixel's own average,
//! which also keeps lattices finer than the pixel from aliasing).

use super::continuum::ContinuumKernel;
use super::tmatrix::LatticeLdos;
use crate::{Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::f64::consts::PI;

/// Gaussians are cut at this many sigma.
const CUTOFF_SIGMAS: f64 = 3.5;

/// The pixel grid of an STM image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelGrid {
    pub height: usize,
    pub width: usize,
    /// Pixel size in Angstrom.
    pub pixel_size_a: f64,
    /// Scan rotation in degrees (counter-clockwise, image -> sample frame).
    pub rotation_deg: f64,
}

impl PixelGrid {
    pub fn new(height: usize, width: usize, pixel_size_a: f64) -> Self {
        PixelGrid {
            height,
            width,
            pixel_size_a,
            rotation_deg: 0.0,
        }
    }

    /// Impurity pixel of a kernel image: `(H/2, W/2)`.
    pub fn centre(&self) -> [f64; 2] {
        [(self.height / 2) as f64, (self.width / 2) as f64]
    }

    pub fn validate(&self) -> Result<()> {
        if self.height == 0 || self.width == 0 || self.height > 16384 || self.width > 16384 {
            return Err(Error::invalid(format!(
                "image size {}x{} must be between 1 and 16384",
                self.height, self.width
            )));
        }
        if !(self.pixel_size_a.is_finite() && self.pixel_size_a > 0.0) {
            return Err(Error::invalid(format!(
                "pixel size {} Angstrom must be positive",
                self.pixel_size_a
            )));
        }
        if !self.rotation_deg.is_finite() {
            return Err(Error::invalid("scan rotation must be finite"));
        }
        Ok(())
    }

    /// Sample-frame position (Angstrom) of pixel `(i, j)` relative to an impurity at `centre`.
    #[inline]
    fn sample_position(
        &self,
        i: usize,
        j: usize,
        centre: [f64; 2],
        cos: f64,
        sin: f64,
    ) -> [f64; 2] {
        let x = (j as f64 - centre[1]) * self.pixel_size_a;
        let y = (i as f64 - centre[0]) * self.pixel_size_a;
        [x * cos - y * sin, x * sin + y * cos]
    }

    /// Pixel `(row, col)` nearest the sample-frame position `p` (Angstrom, relative to an
    /// impurity at `centre`): the inverse of `sample_position`, rounded; `None` outside.
    fn nearest_pixel(
        &self,
        p: [f64; 2],
        centre: [f64; 2],
        cos: f64,
        sin: f64,
    ) -> Option<(usize, usize)> {
        let x = (p[0] * cos + p[1] * sin) / self.pixel_size_a;
        let y = (-p[0] * sin + p[1] * cos) / self.pixel_size_a;
        let (i, j) = ((centre[0] + y).round(), (centre[1] + x).round());
        let inside =
            (0.0..self.height as f64).contains(&i) && (0.0..self.width as f64).contains(&j);
        inside.then_some((i as usize, j as usize))
    }

    /// Largest distance (Angstrom) from `centre` to any pixel.
    fn max_radius(&self, centre: [f64; 2]) -> f64 {
        let dr = centre[0]
            .abs()
            .max((self.height as f64 - 1.0 - centre[0]).abs());
        let dc = centre[1]
            .abs()
            .max((self.width as f64 - 1.0 - centre[1]).abs());
        (dr * dr + dc * dc).sqrt() * self.pixel_size_a
    }
}

/// A simulated single-impurity LDOS field that can be rendered on any grid.
#[derive(Clone, Debug)]
pub enum KernelField {
    /// Lattice-site LDOS with Gaussian orbitals of radius `orbital_sigma_a`.
    Lattice {
        ldos: LatticeLdos,
        orbital_sigma_a: f64,
    },
    /// Exact continuum solution.
    Continuum(ContinuumKernel),
}

impl LatticeLdos {
    /// Refuses a render that needs `cells` cells around the impurity (reaching `reach_a`
    /// Angstrom) when fewer were computed.
    fn check_reach(&self, cells: usize, reach_a: f64) -> Result<()> {
        if cells <= self.reach {
            return Ok(());
        }
        let lat = self.lattice;
        let longest = lat.a1[0].hypot(lat.a1[1]).max(lat.a2[0].hypot(lat.a2[1]));
        let computed_a = self.reach as f64 * lat.cell_area() / longest;
        Err(Error::invalid(format!(
            "the render window reaches {reach_a:.0} Angstrom from the impurity but the LDOS was \
             computed only within {computed_a:.0} Angstrom ({n}x{n} k-grid); use a larger k-grid or \
             a smaller window",
            n = self.n
        )))
    }
}

impl KernelField {
    /// The lattice-site values on a grid, unsmeared: each site's LDOS change (states/eV per
    /// site) added to the pixel nearest its position, the impurity's home cell origin at
    /// `centre = (row, col)`; pixels with no site hold 0. Several sites in one pixel are
    /// summed, so a pixel no larger than the shortest site spacing keeps them apart.
    /// Continuum fields have no sites and are refused.
    pub fn render_sites(&self, grid: &PixelGrid, centre: [f64; 2]) -> Result<Array2<f64>> {
        grid.validate()?;
        if !(centre[0].is_finite() && centre[1].is_finite()) {
            return Err(Error::invalid("impurity position must be finite"));
        }
        let KernelField::Lattice { ldos, .. } = self else {
            return Err(Error::invalid(
                "lattice-site values need a lattice model; a continuum kernel has no sites",
            ));
        };
        let lat = ldos.lattice;
        let reach = grid.max_radius(centre) + grid.pixel_size_a;
        let longest = lat.a1[0].hypot(lat.a1[1]).max(lat.a2[0].hypot(lat.a2[1]));
        ldos.check_reach(
            (reach * longest / lat.cell_area()).ceil() as usize + 1,
            reach,
        )?;
        let (sin, cos) = grid.rotation_deg.to_radians().sin_cos();
        let mut out = Array2::<f64>::zeros((grid.height, grid.width));
        let r = ldos.reach as i64;
        for n2 in -r..=r {
            for n1 in -r..=r {
                for (s, tau) in ldos.sites.iter().enumerate() {
                    let p = lat.to_cartesian([n1 as f64 + tau[0], n2 as f64 + tau[1]]);
                    if let Some(px) = grid.nearest_pixel(p, centre, cos, sin) {
                        out[px] += ldos.at(n1, n2, s);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Render with the impurity at `centre = (row, col)` (pixels, subpixel allowed).
    pub fn render(&self, grid: &PixelGrid, centre: [f64; 2]) -> Result<Array2<f64>> {
        grid.validate()?;
        if !(centre[0].is_finite() && centre[1].is_finite()) {
            return Err(Error::invalid("impurity position must be finite"));
        }
        let (sin, cos) = grid.rotation_deg.to_radians().sin_cos();
        let mut out = Array2::<f64>::zeros((grid.height, grid.width));
        let w = grid.width;
        match self {
            KernelField::Continuum(k) => {
                out.as_slice_mut()
                    .unwrap()
                    .par_chunks_mut(w)
                    .enumerate()
                    .for_each(|(i, row)| {
                        for (j, o) in row.iter_mut().enumerate() {
                            let p = grid.sample_position(i, j, centre, cos, sin);
                            *o = k.delta_rho((p[0] * p[0] + p[1] * p[1]).sqrt());
                        }
                    });
            }
            KernelField::Lattice {
                ldos,
                orbital_sigma_a,
            } => {
                let sigma2 = orbital_sigma_a * orbital_sigma_a
                    + grid.pixel_size_a * grid.pixel_size_a / 12.0;
                let sigma = sigma2.sqrt();
                let cutoff = CUTOFF_SIGMAS * sigma;
                let lat = ldos.lattice;
                let area = lat.cell_area();
                let norm_len = |v: [f64; 2]| (v[0] * v[0] + v[1] * v[1]).sqrt();
                let m1 = (cutoff * norm_len(lat.a2) / area).ceil() as i64;
                let m2 = (cutoff * norm_len(lat.a1) / area).ceil() as i64;
                let reach = grid.max_radius(centre) + cutoff;
                let f_reach = reach * norm_len(lat.a1).max(norm_len(lat.a2)) / area;
                ldos.check_reach(f_reach.ceil() as usize + m1.max(m2) as usize + 1, reach)?;
                let gauss_norm = 1.0 / (2.0 * PI * sigma2);
                let inv2s2 = 1.0 / (2.0 * sigma2);
                let cut2 = cutoff * cutoff;
                let site_cart: Vec<[f64; 2]> =
                    ldos.sites.iter().map(|&f| lat.to_cartesian(f)).collect();
                // exp(-|d - i a1 - j a2|^2 / 2s^2) = e(d) u_i(d) v_j(d) F^(ij): only the row and
                // column factors depend on the pixel, F = exp(-a1.a2 / s^2) is a constant table.
                let dot = |u: [f64; 2], v: [f64; 2]| u[0] * v[0] + u[1] * v[1];
                let (l11, l22, l12) = (
                    dot(lat.a1, lat.a1),
                    dot(lat.a2, lat.a2),
                    dot(lat.a1, lat.a2),
                );
                let (w1, w2) = (2 * m1 as usize + 1, 2 * m2 as usize + 1);
                let cross: Vec<f64> = (0..w1 * w2)
                    .map(|k| {
                        let (j, i) = ((k / w1) as i64 - m2, (k % w1) as i64 - m1);
                        (-2.0 * (i * j) as f64 * l12 * inv2s2).exp()
                    })
                    .collect();
                // e^{-(2i+1) l c} for i = -m..m: the recurrence steps of the axis factors.
                let steps1: Vec<f64> = (0..w1)
                    .map(|k| (-(2.0 * (k as f64 - m1 as f64) + 1.0) * l11 * inv2s2).exp())
                    .collect();
                let steps2: Vec<f64> = (0..w2)
                    .map(|k| (-(2.0 * (k as f64 - m2 as f64) + 1.0) * l22 * inv2s2).exp())
                    .collect();
                out.as_slice_mut()
                    .unwrap()
                    .par_chunks_mut(w)
                    .enumerate()
                    .for_each(|(i, row)| {
                        let mut u = vec![0.0; w1];
                        let mut v = vec![0.0; w2];
                        for (j, o) in row.iter_mut().enumerate() {
                            let p = grid.sample_position(i, j, centre, cos, sin);
                            let mut acc = 0.0;
                            for (s, tau) in site_cart.iter().enumerate() {
                                let rel = [p[0] - tau[0], p[1] - tau[1]];
                                let f = lat.to_fractional(rel);
                                let (c1, c2) = (f[0].round() as i64, f[1].round() as i64);
                                let d = [
                                    rel[0] - (c1 as f64 * lat.a1[0] + c2 as f64 * lat.a2[0]),
                                    rel[1] - (c1 as f64 * lat.a1[1] + c2 as f64 * lat.a2[1]),
                                ];
                                let (d1, d2) = (dot(d, lat.a1), dot(d, lat.a2));
                                // u_i = exp((2 i d1 - i^2 l11) c) by the recurrence
                                // u_{i+1} = u_i e^{2 d1 c} e^{-(2i+1) l11 c}: two exps per axis.
                                let (g1, g2) =
                                    ((2.0 * d1 * inv2s2).exp(), (2.0 * d2 * inv2s2).exp());
                                let mut x = ((-2.0 * m1 as f64 * d1 - (m1 * m1) as f64 * l11)
                                    * inv2s2)
                                    .exp();
                                for (k, uk) in u.iter_mut().enumerate() {
                                    *uk = x;
                                    x *= g1 * steps1[k];
                                }
                                let mut x = ((-2.0 * m2 as f64 * d2 - (m2 * m2) as f64 * l22)
                                    * inv2s2)
                                    .exp();
                                for (k, vk) in v.iter_mut().enumerate() {
                                    *vk = x;
                                    x *= g2 * steps2[k];
                                }
                                let dd = dot(d, d);
                                // Sum along a1 innermost: consecutive i1 are adjacent in memory.
                                let mut sum = 0.0;
                                let stride = ldos.sites.len();
                                let side = ldos.side();
                                let r = ldos.reach as i64;
                                let i1_start = (c1 - m1 + r) as usize;
                                for (b, vb) in v.iter().enumerate() {
                                    let i2 = (c2 + b as i64 - m2 + r) as usize;
                                    let line = &ldos.values[(i2 * side + i1_start) * stride
                                        ..(i2 * side + i1_start + w1) * stride];
                                    let fc = &cross[b * w1..(b + 1) * w1];
                                    let jb = (b as i64 - m2) as f64;
                                    // |d - i a1 - j a2|^2 = base_j + i (q_j + i l11): cut at the same
                                    // radius in every direction, so rotations see the same terms.
                                    let base_j = dd - 2.0 * jb * d2 + jb * jb * l22;
                                    let q_j = -2.0 * d1 + 2.0 * jb * l12;
                                    let mut inner = 0.0;
                                    for (a, (ua, fab)) in u.iter().zip(fc).enumerate() {
                                        let ia = (a as i64 - m1) as f64;
                                        let r2 = base_j + ia * (q_j + ia * l11);
                                        let w = if r2 < cut2 { ua * fab } else { 0.0 };
                                        inner += w * line[a * stride + s];
                                    }
                                    sum += vb * inner;
                                }
                                acc += (-dd * inv2s2).exp() * sum;
                            }
                            *o = acc * gauss_norm;
                        }
                    });
            }
        }
        Ok(out)
    }
}
