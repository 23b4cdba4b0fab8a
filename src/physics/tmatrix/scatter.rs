//! The T-matrix of the impurity, `T = [1 - V G0(0)]^{-1} V`, and the LDOS change it makes,
//! `drho_l(R) = -(1/pi) Im sum_{s,s'} G_ls(R) T_ss' G_s'l(-R)`.

use super::greens::GreensSet;
use crate::progress::{Progress, check_cancelled};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use std::f64::consts::PI;

/// Components G_ls (for G0(R)) and G_sl (for G0(-R)) without duplicates.
pub(super) fn component_pairs(ldos: &[usize], support: &[usize]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for &l in ldos {
        for &s in support {
            for p in [(l, s), (s, l)] {
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
    }
    pairs
}

/// drho_l(R) += weight * -(1/pi) Im sum_{s,s'} G_ls(R) T_ss' G_s'l(-R), summed into sites.
/// Polls `progress` at every row of the box (hundreds of orbitals make a row slow).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_tmatrix(
    set: &GreensSet,
    bufs: &[Vec<C64>],
    v: &[f64],
    ldos_orbitals: &[usize],
    weight: f64,
    site_of: &(dyn Fn(usize) -> usize + Sync),
    n_sites: usize,
    values: &mut [f64],
    progress: &dyn Progress,
) -> crate::Result<()> {
    let ns = set.support.len();
    let t = tmatrix(&set.local, v);
    let n = set.n;
    let plan: Vec<(usize, Vec<usize>, Vec<usize>)> = ldos_orbitals
        .iter()
        .map(|&l| {
            let fwd = set.support.iter().map(|&s| set.buffer(l, s)).collect();
            let back = set.support.iter().map(|&s| set.buffer(s, l)).collect();
            (site_of(l), fwd, back)
        })
        .collect();
    let scale = -weight / PI;
    let side = ((values.len() / n_sites) as f64).sqrt().round() as usize;
    let reach = side / 2;
    // Storage index of box coordinate b (cell b - reach) along one axis, and of its negative;
    // tabulated once: integer division is slow in the inner loops.
    let pos: Vec<usize> = (0..side).map(|b| (b + n - reach) % n).collect();
    let neg: Vec<usize> = pos.iter().map(|&i| (n - i) % n).collect();
    if ns == 1 && plan.len() == 1 {
        // One band: drho(R) = -(w/pi) Im[T G(R) G(-R)], one pass over the box.
        let (site, fwd, back) = (plan[0].0, plan[0].1[0], plan[0].2[0]);
        let (gf, gb, t0) = (&bufs[fwd], &bufs[back], t[0]);
        values
            .par_chunks_mut(side * n_sites)
            .enumerate()
            .for_each(|(b2, row)| {
                if progress.cancelled() {
                    return;
                }
                let here = &gf[pos[b2] * n..(pos[b2] + 1) * n];
                let there = &gb[neg[b2] * n..(neg[b2] + 1) * n];
                for b1 in 0..side {
                    let g2 = here[pos[b1]] * there[neg[b1]];
                    row[b1 * n_sites + site] += scale * (t0 * g2).im;
                }
            });
        return check_cancelled(progress);
    }
    values
        .par_chunks_mut(side * n_sites)
        .enumerate()
        .for_each(|(b2, row)| {
            if progress.cancelled() {
                return;
            }
            let mut gl = vec![C64::default(); ns];
            for b1 in 0..side {
                let here = pos[b2] * n + pos[b1];
                let there = neg[b2] * n + neg[b1];
                for (site, fwd, back) in &plan {
                    for (s, &b) in fwd.iter().enumerate() {
                        gl[s] = bufs[b][here];
                    }
                    let mut acc = C64::default();
                    for (s2, &b) in back.iter().enumerate() {
                        let g_back = bufs[b][there];
                        let mut tg = C64::default();
                        for s in 0..ns {
                            tg += gl[s] * t[s * ns + s2];
                        }
                        acc += tg * g_back;
                    }
                    row[b1 * n_sites + site] += scale * acc.im;
                }
            }
        });
    check_cancelled(progress)
}

/// T = [1 - V G]^{-1} V for diagonal V on the support.
fn tmatrix(local: &[C64], v: &[f64]) -> Vec<C64> {
    let ns = v.len();
    let mut a = vec![C64::default(); ns * ns];
    for i in 0..ns {
        for j in 0..ns {
            a[i * ns + j] = if i == j {
                C64::new(1.0, 0.0)
            } else {
                C64::default()
            } - v[i] * local[i * ns + j];
        }
    }
    let inv = invert(&a, ns).unwrap_or_else(|| vec![C64::default(); ns * ns]);
    let mut t = vec![C64::default(); ns * ns];
    for i in 0..ns {
        for j in 0..ns {
            t[i * ns + j] = inv[i * ns + j] * v[j];
        }
    }
    t
}

/// Gauss-Jordan inverse with partial pivoting; None when singular.
fn invert(a: &[C64], n: usize) -> Option<Vec<C64>> {
    let mut m = a.to_vec();
    let mut inv = vec![C64::default(); n * n];
    for i in 0..n {
        inv[i * n + i] = C64::new(1.0, 0.0);
    }
    invert_in_place(&mut m, &mut inv, n).then_some(inv)
}

pub(super) fn invert_in_place(m: &mut [C64], inv: &mut [C64], n: usize) -> bool {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| {
                m[x * n + col]
                    .norm_sqr()
                    .total_cmp(&m[y * n + col].norm_sqr())
            })
            .unwrap();
        if m[pivot * n + col].norm_sqr() < 1e-300 {
            return false;
        }
        if pivot != col {
            for j in 0..n {
                m.swap(pivot * n + j, col * n + j);
                inv.swap(pivot * n + j, col * n + j);
            }
        }
        let d = C64::new(1.0, 0.0) / m[col * n + col];
        for j in 0..n {
            m[col * n + j] *= d;
            inv[col * n + j] *= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != C64::default() {
                    for j in 0..n {
                        let (mc, ic) = (m[col * n + j], inv[col * n + j]);
                        m[r * n + j] -= f * mc;
                        inv[r * n + j] -= f * ic;
                    }
                }
            }
        }
    }
    true
}
