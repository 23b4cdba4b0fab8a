//! Choosing the k-grid: the broadening `eta` against wrap-around of the periodic supercell.
//!
//! On an N x N grid the computed Green's function is exactly the sum over periodic images,
//! `G_N(R) = sum_L G(R + N L)` (Poisson summation). With broadening, `|G(R)|` decays at least
//! as `exp(-eta |R| / v_max)`, `v_max` the largest band velocity (eV Angstrom). The images
//! nearest a point at distance `r` lie at `D - r`, `D = N * shortest lattice vector`, so the
//! relative error of the LDOS within radius `r` is bounded (to first order in eta) by
//! `wrap_error_bound = 4 exp(-eta (D - r) / v_max)` (four nearest images).

use super::model::TightBinding;
use crate::{Error, Result};
use num_complex::Complex64 as C64;

/// An upper bound of the band velocity hbar|v| (eV Angstrom) over the Brillouin zone:
/// `|v_n(k)| <= ||grad H(k)||_F`, maximised over a 48 x 48 sample with a 10 % margin.
pub fn max_band_velocity(model: &TightBinding) -> f64 {
    let n = model.matrix_size();
    let norb = model.n_orbitals();
    let lat = model.lattice;
    // Reciprocal vectors b_i with a_i . b_j = 2 pi delta_ij.
    let area = lat.a1[0] * lat.a2[1] - lat.a1[1] * lat.a2[0];
    let tau = std::f64::consts::TAU;
    let b1 = [tau * lat.a2[1] / area, -tau * lat.a2[0] / area];
    let b2 = [-tau * lat.a1[1] / area, tau * lat.a1[0] / area];
    let samples = 48;
    let mut best: f64 = 0.0;
    let mut terms: Vec<(usize, usize, [f64; 2], C64, f64)> = Vec::new();
    for h in &model.hoppings {
        let r = lat.to_cartesian([h.cell[0] as f64, h.cell[1] as f64]);
        terms.push((h.to, h.from, r, h.amplitude, 1.0));
        if model.is_nambu() {
            terms.push((
                norb + h.from,
                norb + h.to,
                [-r[0], -r[1]],
                -h.amplitude,
                1.0,
            ));
        }
    }
    if let Some(p) = &model.pairing {
        for d in p {
            let r = lat.to_cartesian([d.cell[0] as f64, d.cell[1] as f64]);
            terms.push((d.to, norb + d.from, r, d.amplitude, 1.0));
            terms.push((norb + d.from, d.to, [-r[0], -r[1]], d.amplitude.conj(), 1.0));
        }
    }
    let mut gx = vec![C64::default(); n * n];
    let mut gy = vec![C64::default(); n * n];
    for i in 0..samples {
        for j in 0..samples {
            let (f1, f2) = (i as f64 / samples as f64, j as f64 / samples as f64);
            let k = [f1 * b1[0] + f2 * b2[0], f1 * b1[1] + f2 * b2[1]];
            gx.iter_mut()
                .chain(gy.iter_mut())
                .for_each(|x| *x = C64::default());
            for &(a, b, r, t, _) in &terms {
                let e = t * C64::from_polar(1.0, -(k[0] * r[0] + k[1] * r[1]));
                gx[a * n + b] += e * C64::new(0.0, -r[0]);
                gy[a * n + b] += e * C64::new(0.0, -r[1]);
            }
            let norm2: f64 = gx.iter().chain(gy.iter()).map(|z| z.norm_sqr()).sum();
            best = best.max(norm2.sqrt());
        }
    }
    1.1 * best.max(1e-6)
}

/// Estimated relative wrap-around error of the LDOS within `radius_a` of the impurity.
pub fn wrap_error_bound(model: &TightBinding, eta_ev: f64, n: usize, radius_a: f64) -> f64 {
    let d = n as f64 * model.lattice.min_length();
    if d <= radius_a {
        return f64::INFINITY;
    }
    4.0 * (-eta_ev * (d - radius_a) / max_band_velocity(model)).exp()
}

/// Smallest even grid of the form 2^a 3^b (fast FFTs) whose wrap bound is below `tolerance`.
pub fn auto_size(
    model: &TightBinding,
    eta_ev: f64,
    radius_a: f64,
    tolerance: f64,
) -> Result<usize> {
    if !(tolerance > 0.0 && tolerance < 1.0) {
        return Err(Error::invalid(format!(
            "k-grid tolerance {tolerance} must be in (0, 1)"
        )));
    }
    let v = max_band_velocity(model);
    let needed = radius_a + v / eta_ev * (4.0 / tolerance).ln();
    let n_min = (needed / model.lattice.min_length()).ceil() as usize;
    fft_size_at_least(n_min.max(16)).map_err(|_| {
        Error::invalid(format!(
            "broadening eta = {eta_ev} eV needs a k-grid of {n_min} > 8192 to keep wrap-around below {tolerance}; \
             raise the broadening or the tolerance"
        ))
    })
}

/// Smallest even size of the form 2^a 3^b (a >= 1, fast FFTs) that is at least `n`, up to 8192.
pub fn fft_size_at_least(n: usize) -> Result<usize> {
    let mut best: Option<usize> = None;
    let mut p2 = 2usize;
    while p2 <= 8192 {
        let mut c = p2;
        while c <= 8192 {
            if c >= n && best.is_none_or(|b| c < b) {
                best = Some(c);
            }
            c *= 3;
        }
        p2 *= 2;
    }
    best.ok_or_else(|| Error::invalid(format!("a k-grid of {n} exceeds the maximum of 8192")))
}
