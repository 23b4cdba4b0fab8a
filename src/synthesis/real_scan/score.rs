//! Scoring a blind extraction against a [`RealScan`]'s truth: the figures the blind search
//! reports.
//!
//! # Conventions
//! | item               | convention                                                            |
//! |--------------------|-----------------------------------------------------------------------|
//! | positions          | `(row, col)` pixels of the map, pixel centres at integers              |
//! | kernel centre      | the impurity pixel; `None` = `(H/2, W/2)`, integer division (the crate's convention) |
//! | truth positions    | as seen in the map: rows below a tip change displaced by its shift ([`RealScan::seen_positions`]) |
//! | countable defect   | its seen position rounds to a pixel inside the map that is not excluded |
//! | match              | one-to-one, closest pairs first, within [`MATCH_RADIUS_PX`]            |
//! | kernel comparison  | against the adatom kernel (type 0), on the offsets `o` from the centre with `|o_row|, |o_col| <= h` and `|o| > core_radius_px[0]`, `h` the smaller half extent of the two kernels (both cropped to it; a part of the shifted kernel beyond its array counts as 0) |
//!
//! - `recall_2px`: matched countable true defects / countable true defects (all types);
//!   per type in `recall_2px_by_type` (NaN when a type has no countable defect).
//! - `false_positive_fraction`: found positions with no true defect (any, countable or
//!   not) and no excluded pixel within [`MATCH_RADIUS_PX`], or outside the map, over all
//!   found positions (0 when none is found).
//! - `maxdot_outside_core`: `max |<t, e_s>| / (|t| |e_s|)` over integer shifts `s` of the
//!   extracted kernel's centre within [`MAX_SHIFT_PX`] (both signs: the absolute value); no
//!   mean is removed. 1 = the true kernel's ring pattern up to a scale.
//! - `ring_period_error`: `|P_est - P_true| / P_true`, `P_est` from the extracted kernel's
//!   radial profile ([`estimate_ring_period_px`]); `None` for lattice kernels (no period)
//!   or when no period can be estimated.
//! - `anisotropy`: the power not in the `m = 0` angular component, `sum (K - <K>_r)^2 /
//!   sum K^2` over the compared pixels, `<K>_r` the mean over pixels of the same exact
//!   radius (`o_row^2 + o_col^2`); 0 for an isotropic kernel. Rings of few pixels cannot see
//!   every symmetry (4 pixels at `r^2 = 1` are blind to 4-fold), the sum over all rings can.

use super::RealScan;
use crate::{Error, Result};
use ndarray::Array2;
use std::f64::consts::TAU;

/// A found defect matches a true one within this distance, pixels.
pub const MATCH_RADIUS_PX: f64 = 2.0;
/// Largest shift of the extracted kernel's centre tried by the kernel comparison, pixels.
pub const MAX_SHIFT_PX: i32 = 2;
/// Shortest ring period [`estimate_ring_period_px`] looks for, pixels.
pub const MIN_PERIOD_PX: f64 = 2.5;

/// The figures of one blind extraction (see the module docs for each definition).
#[derive(Clone, Debug, PartialEq)]
pub struct RealScanScore {
    pub recall_2px: f64,
    pub recall_2px_by_type: Vec<f64>,
    pub false_positive_fraction: f64,
    /// Countable true defects, how many were matched, found positions, false positives.
    pub countable: usize,
    pub recalled: usize,
    pub found: usize,
    pub false_positives: usize,
    pub maxdot_outside_core: f64,
    /// The shift `(rows, cols)` of the extracted kernel's centre that gave the best match.
    pub best_shift_px: [i32; 2],
    pub ring_period_error: Option<f64>,
    pub anisotropy: f64,
}

impl RealScan {
    /// Every defect's position as the map shows it: below a tip change (when the displaced
    /// position's row is at or after the change's row) displaced by its shift.
    pub fn seen_positions(&self) -> Vec<[f64; 2]> {
        self.positions
            .iter()
            .map(|&p| match self.tip_change {
                Some(t) if p[0] + t.shift_px[0] as f64 >= t.row as f64 => {
                    [p[0] + t.shift_px[0] as f64, p[1] + t.shift_px[1] as f64]
                }
                _ => p,
            })
            .collect()
    }

    fn pixel(&self, p: [f64; 2]) -> Option<[usize; 2]> {
        let (h, w) = self.map.dim();
        let (i, j) = (p[0].round(), p[1].round());
        (i >= 0.0 && j >= 0.0 && (i as usize) < h && (j as usize) < w)
            .then_some([i as usize, j as usize])
    }

    fn near_excluded(&self, p: [f64; 2], radius: f64) -> bool {
        let (h, w) = self.map.dim();
        let reach = radius.ceil() as i64;
        let (i0, j0) = (p[0].round() as i64, p[1].round() as i64);
        for i in (i0 - reach).max(0)..=(i0 + reach).min(h as i64 - 1) {
            for j in (j0 - reach).max(0)..=(j0 + reach).min(w as i64 - 1) {
                let d = (i as f64 - p[0]).hypot(j as f64 - p[1]);
                if d <= radius && self.excluded[[i as usize, j as usize]] == 1 {
                    return true;
                }
            }
        }
        false
    }
}

/// Score found `positions` and an extracted adatom `kernel` (impurity at `centre`, `None`:
/// `(H/2, W/2)`) against `truth`.
pub fn score_blind(
    truth: &RealScan,
    positions: &[[f64; 2]],
    kernel: &Array2<f32>,
    centre: Option<[usize; 2]>,
) -> Result<RealScanScore> {
    let (kh, kw) = kernel.dim();
    let centre = centre.unwrap_or([kh / 2, kw / 2]);
    if kh == 0 || kw == 0 || centre[0] >= kh || centre[1] >= kw {
        return Err(Error::invalid(format!(
            "kernel centre {centre:?} must lie inside the {kh}x{kw} kernel"
        )));
    }
    if let Some(p) = positions
        .iter()
        .find(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(Error::invalid(format!(
            "found position {p:?} is not finite"
        )));
    }
    if kernel.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("the extracted kernel is not finite"));
    }
    let seen = truth.seen_positions();
    let countable: Vec<bool> = seen
        .iter()
        .map(|&p| {
            truth
                .pixel(p)
                .is_some_and(|[i, j]| truth.excluded[[i, j]] == 0)
        })
        .collect();
    let matched = match_one_to_one(&seen, &countable, positions);
    let n_types = truth.kernels.len();
    let mut by_type = vec![(0usize, 0usize); n_types];
    for (&t, (&c, &m)) in truth.types.iter().zip(countable.iter().zip(&matched)) {
        if c {
            let e = &mut by_type[(t as usize).min(n_types - 1)];
            e.0 += 1;
            e.1 += usize::from(m);
        }
    }
    let n_countable: usize = by_type.iter().map(|e| e.0).sum();
    let recalled: usize = by_type.iter().map(|e| e.1).sum();
    let false_positives = positions
        .iter()
        .filter(|&&f| {
            truth.pixel(f).is_none()
                || !(seen
                    .iter()
                    .any(|&t| (t[0] - f[0]).hypot(t[1] - f[1]) <= MATCH_RADIUS_PX)
                    || truth.near_excluded(f, MATCH_RADIUS_PX))
        })
        .count();
    let t = &truth.kernels[0];
    let tc = [t.dim().0 / 2, t.dim().1 / 2];
    let core = truth.core_radius_px[0];
    let (maxdot, best_shift) = max_normalised_dot(t, tc, kernel, centre, core);
    let ring_period_error = truth.ring_period_m.and_then(|p| {
        let px = truth.pixel_size_m;
        estimate_ring_period_px(kernel, centre, core).map(|e| (e * px - p).abs() / p)
    });
    Ok(RealScanScore {
        recall_2px: ratio(recalled, n_countable),
        recall_2px_by_type: by_type.iter().map(|e| ratio(e.1, e.0)).collect(),
        false_positive_fraction: if positions.is_empty() {
            0.0
        } else {
            false_positives as f64 / positions.len() as f64
        },
        countable: n_countable,
        recalled,
        found: positions.len(),
        false_positives,
        maxdot_outside_core: maxdot,
        best_shift_px: best_shift,
        ring_period_error,
        anisotropy: anisotropy(kernel, centre, half_extent(kernel, centre).min(tc[0]), core),
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// Which true defects are matched: closest (true, found) pairs within the match radius
/// first, each used once; only countable true defects take part.
fn match_one_to_one(truth: &[[f64; 2]], countable: &[bool], found: &[[f64; 2]]) -> Vec<bool> {
    let mut pairs = Vec::new();
    for (a, t) in truth.iter().enumerate().filter(|&(a, _)| countable[a]) {
        for (b, f) in found.iter().enumerate() {
            let d = (t[0] - f[0]).hypot(t[1] - f[1]);
            if d <= MATCH_RADIUS_PX {
                pairs.push((d, a, b));
            }
        }
    }
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut true_used = vec![false; truth.len()];
    let mut found_used = vec![false; found.len()];
    for (_, a, b) in pairs {
        if !true_used[a] && !found_used[b] {
            true_used[a] = true;
            found_used[b] = true;
        }
    }
    true_used
}

/// Smallest distance from `centre` to the kernel's last row or column on any side.
fn half_extent(k: &Array2<f32>, c: [usize; 2]) -> usize {
    let (h, w) = k.dim();
    c[0].min(c[1]).min(h - 1 - c[0]).min(w - 1 - c[1])
}

/// The compared offsets: `|o_row|, |o_col| <= h` and `|o| > core`.
fn offsets(h: usize, core: f64) -> Vec<[i64; 2]> {
    let h = h as i64;
    let mut out = Vec::new();
    for a in -h..=h {
        for b in -h..=h {
            if ((a * a + b * b) as f64).sqrt() > core {
                out.push([a, b]);
            }
        }
    }
    out
}

fn value(k: &Array2<f32>, c: [usize; 2], o: [i64; 2]) -> f64 {
    let (h, w) = k.dim();
    let (i, j) = (c[0] as i64 + o[0], c[1] as i64 + o[1]);
    if i < 0 || j < 0 || i >= h as i64 || j >= w as i64 {
        0.0
    } else {
        k[[i as usize, j as usize]] as f64
    }
}

/// The largest `|<t, e_s>| / (|t| |e_s|)` outside the core and its shift.
fn max_normalised_dot(
    t: &Array2<f32>,
    tc: [usize; 2],
    e: &Array2<f32>,
    ec: [usize; 2],
    core: f64,
) -> (f64, [i32; 2]) {
    let h = half_extent(t, tc).min(half_extent(e, ec));
    let offs = offsets(h, core);
    let tv: Vec<f64> = offs.iter().map(|&o| value(t, tc, o)).collect();
    let nt = tv.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut best = (0.0, [0, 0]);
    for sr in -MAX_SHIFT_PX..=MAX_SHIFT_PX {
        for sc in -MAX_SHIFT_PX..=MAX_SHIFT_PX {
            let (mut dot, mut ne) = (0.0, 0.0);
            for (o, &x) in offs.iter().zip(&tv) {
                let y = value(e, ec, [o[0] + sr as i64, o[1] + sc as i64]);
                dot += x * y;
                ne += y * y;
            }
            let s = if nt > 0.0 && ne > 0.0 {
                dot.abs() / (nt * ne.sqrt())
            } else {
                0.0
            };
            if s > best.0 {
                best = (s, [sr, sc]);
            }
        }
    }
    best
}

/// The ring period (pixels) of a kernel's radial profile outside `core`: the period `P`
/// (at least [`MIN_PERIOD_PX`], at most the half extent) whose Friedel profile
/// `c + (a cos(2 pi |o| / P) + b sin(2 pi |o| / P)) / |o|` (least squares in a, b, c over
/// the pixels `core < |o| <= h`) explains the most of the kernel; scanned on a coarse then
/// a fine frequency grid. A fitted phase and offset keep it unbiased on windows of two or
/// three periods, where a radial Fourier sum's peak is pulled by its own mirror frequency
/// (by 3-8 % on the real-scan kernels cropped to the sizes the search picks; measured).
/// `None` when the window holds less than two periods of the shortest one.
pub fn estimate_ring_period_px(kernel: &Array2<f32>, centre: [usize; 2], core: f64) -> Option<f64> {
    let (kh, kw) = kernel.dim();
    if centre[0] >= kh || centre[1] >= kw {
        return None;
    }
    let h = half_extent(kernel, centre);
    let pts: Vec<(f64, f64)> = offsets(h, core)
        .into_iter()
        .map(|o| (((o[0] * o[0] + o[1] * o[1]) as f64).sqrt(), o))
        .filter(|&(r, _)| r <= h as f64)
        .map(|(r, o)| (r, value(kernel, centre, o)))
        .collect();
    if (h as f64 - core) < 2.0 * MIN_PERIOD_PX || pts.len() < 16 {
        return None;
    }
    // How much of the profile `c + (a cos(2 pi f r) + b sin(2 pi f r)) / r` explains (least
    // squares in a, b, c): a fitted phase and offset, unlike a Fourier sum, do not pull the
    // peak when the window holds only two or three periods.
    let power = |f: f64| {
        let mut m = [[0.0f64; 3]; 3];
        let mut rhs = [0.0f64; 3];
        for &(r, v) in &pts {
            let (s, c) = (TAU * f * r).sin_cos();
            let basis = [1.0, c / r, s / r];
            for i in 0..3 {
                rhs[i] += basis[i] * v;
                for j in 0..3 {
                    m[i][j] += basis[i] * basis[j];
                }
            }
        }
        solve3(m, rhs).map_or(0.0, |x| x[1] * rhs[1] + x[2] * rhs[2] + x[0] * rhs[0])
    };
    let (f_lo, f_hi) = (1.0 / h as f64, 1.0 / MIN_PERIOD_PX);
    let coarse = 1.0 / (4.0 * h as f64);
    let mut best = (f64::MIN, f_lo);
    let mut f = f_lo;
    while f <= f_hi {
        let p = power(f);
        if p > best.0 {
            best = (p, f);
        }
        f += coarse;
    }
    let fine = coarse / 50.0;
    let mut f = (best.1 - coarse).max(f_lo);
    let end = (best.1 + coarse).min(f_hi);
    while f <= end {
        let p = power(f);
        if p > best.0 {
            best = (p, f);
        }
        f += fine;
    }
    (best.0 > 0.0).then(|| 1.0 / best.1)
}

/// The solution of the 3 x 3 system `m x = rhs` (Gaussian elimination with partial
/// pivoting), `None` when it is singular.
fn solve3(mut m: [[f64; 3]; 3], mut rhs: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        for row in col + 1..3 {
            let k = m[row][col] / m[col][col];
            let pivot_row = m[col];
            for (x, p) in m[row].iter_mut().zip(pivot_row).skip(col) {
                *x -= k * p;
            }
            rhs[row] -= k * rhs[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let tail: f64 = (row + 1..3).map(|j| m[row][j] * x[j]).sum();
        x[row] = (rhs[row] - tail) / m[row][row];
    }
    Some(x)
}

/// The power outside the `m = 0` angular component (see the module docs).
fn anisotropy(k: &Array2<f32>, c: [usize; 2], h: usize, core: f64) -> f64 {
    use std::collections::BTreeMap;
    let mut rings: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    let offs = offsets(h, core);
    for &o in &offs {
        let e = rings.entry(o[0] * o[0] + o[1] * o[1]).or_insert((0.0, 0));
        e.0 += value(k, c, o);
        e.1 += 1;
    }
    let (mut resid, mut total) = (0.0, 0.0);
    for &o in &offs {
        let v = value(k, c, o);
        let (s, n) = rings[&(o[0] * o[0] + o[1] * o[1])];
        resid += (v - s / n as f64).powi(2);
        total += v * v;
    }
    if total > 0.0 { resid / total } else { 0.0 }
}
