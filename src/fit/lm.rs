//! Levenberg-Marquardt with a finite-difference Jacobian and box bounds.
//!
//! Written here rather than taken from the `levenberg-marquardt` crate (0.15): that crate is
//! built on nalgebra (not otherwise in the tree, a long build), has no bounds, and offers no
//! hook between iterations where a long fit can report progress or be cancelled. The
//! problems here have at most a few dozen parameters, so the normal equations are solved
//! densely.

use crate::Result;

/// What the solver needs to know about each parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamInfo {
    pub lower: f64,
    pub upper: f64,
    /// Finite-difference step (absolute).
    pub step: f64,
}

/// The end of a solve.
#[derive(Clone, Debug)]
pub struct Solution {
    pub x: Vec<f64>,
    /// Sum of squared residuals.
    pub cost: f64,
    /// Residuals at `x`.
    pub residual: Vec<f64>,
    /// `J^T J` at `x` (row-major, n x n).
    pub jtj: Vec<f64>,
    pub iterations: usize,
    pub evaluations: usize,
}

/// Solver limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_iterations: usize,
    /// Stop when an accepted step lowers the cost by less than this fraction.
    pub cost_tolerance: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iterations: 40,
            cost_tolerance: 1e-7,
        }
    }
}

fn sum_sq(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

fn clamp(x: f64, p: &ParamInfo) -> f64 {
    x.max(p.lower).min(p.upper)
}

/// The Jacobian of `f` at `x` by forward differences (backward at an upper bound),
/// column-major: `n` columns of `r0.len()`.
pub fn jacobian(
    f: &mut dyn FnMut(&[f64]) -> Result<Vec<f64>>,
    x: &[f64],
    r0: &[f64],
    info: &[ParamInfo],
) -> Result<Vec<Vec<f64>>> {
    let mut cols = Vec::with_capacity(x.len());
    for (i, p) in info.iter().enumerate() {
        let mut xs = x.to_vec();
        let h = if x[i] + p.step <= p.upper {
            p.step
        } else {
            -p.step
        };
        xs[i] += h;
        let r = f(&xs)?;
        cols.push(r.iter().zip(r0).map(|(a, b)| (a - b) / h).collect());
    }
    Ok(cols)
}

/// `J^T J` (n x n, row-major) and `J^T r`.
fn normal_equations(cols: &[Vec<f64>], r: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = cols.len();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v: f64 = cols[i].iter().zip(&cols[j]).map(|(p, q)| p * q).sum();
            a[i * n + j] = v;
            a[j * n + i] = v;
        }
    }
    let g = cols
        .iter()
        .map(|c| c.iter().zip(r).map(|(p, q)| p * q).sum())
        .collect();
    (a, g)
}

/// Solves `a x = b` (n x n, row-major) by Gaussian elimination with partial pivoting;
/// `None` when singular.
pub fn solve_dense(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m = a.to_vec();
    let mut x = b.to_vec();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs()))?;
        if m[p * n + c].abs() <= 1e-300 || m[p * n + c].is_nan() {
            return None;
        }
        if p != c {
            for k in 0..n {
                m.swap(c * n + k, p * n + k);
            }
            x.swap(c, p);
        }
        for i in c + 1..n {
            let f = m[i * n + c] / m[c * n + c];
            for k in c..n {
                m[i * n + k] -= f * m[c * n + k];
            }
            x[i] -= f * x[c];
        }
    }
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| m[c * n + k] * x[k]).sum();
        x[c] = (x[c] - s) / m[c * n + c];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The inverse of `a` (n x n, row-major), `None` when singular.
pub fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let e: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i == j))).collect();
        let col = solve_dense(a, &e)?;
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    Some(inv)
}

/// Minimises `sum f(x)^2` from `x0` within the bounds. `between` runs before each
/// iteration (progress, cancellation) and stops the solve with its error.
pub fn minimise(
    f: &mut dyn FnMut(&[f64]) -> Result<Vec<f64>>,
    x0: &[f64],
    info: &[ParamInfo],
    limits: Limits,
    between: &mut dyn FnMut(usize, f64) -> Result<()>,
) -> Result<Solution> {
    let n = x0.len();
    let mut x: Vec<f64> = x0.iter().zip(info).map(|(&v, p)| clamp(v, p)).collect();
    let mut r = f(&x)?;
    let mut cost = sum_sq(&r);
    let mut evaluations = 1;
    let mut lambda = 1e-3;
    let mut iterations = 0;
    let mut cols = jacobian(f, &x, &r, info)?;
    evaluations += n;
    while iterations < limits.max_iterations {
        between(iterations, cost)?;
        iterations += 1;
        let (a, g) = normal_equations(&cols, &r);
        let mut improved = false;
        for _ in 0..12 {
            let mut damped = a.clone();
            for i in 0..n {
                damped[i * n + i] += lambda * a[i * n + i].max(1e-12);
            }
            let Some(delta) = solve_dense(&damped, &g.iter().map(|v| -v).collect::<Vec<_>>())
            else {
                lambda *= 10.0;
                continue;
            };
            let trial: Vec<f64> = x
                .iter()
                .zip(&delta)
                .zip(info)
                .map(|((&v, &d), p)| clamp(v + d, p))
                .collect();
            let rt = f(&trial)?;
            evaluations += 1;
            let ct = sum_sq(&rt);
            if ct.is_finite() && ct < cost {
                let gain = (cost - ct) / cost.max(f64::MIN_POSITIVE);
                x = trial;
                r = rt;
                cost = ct;
                lambda = (lambda / 3.0).max(1e-9);
                improved = gain > limits.cost_tolerance;
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
        cols = jacobian(f, &x, &r, info)?;
        evaluations += n;
    }
    let (jtj, _) = normal_equations(&cols, &r);
    Ok(Solution {
        x,
        cost,
        residual: r,
        jtj,
        iterations,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_an_exponential_and_respects_bounds() {
        // y = a exp(-b t) with a = 2, b = 0.7, against a naive fit's known answer.
        let t: Vec<f64> = (0..30).map(|i| i as f64 * 0.2).collect();
        let y: Vec<f64> = t.iter().map(|t| 2.0 * (-0.7 * t).exp()).collect();
        let mut f = |p: &[f64]| -> Result<Vec<f64>> {
            Ok(t.iter()
                .zip(&y)
                .map(|(t, y)| p[0] * (-p[1] * t).exp() - y)
                .collect())
        };
        let info = [ParamInfo {
            lower: 0.0,
            upper: 10.0,
            step: 1e-6,
        }; 2];
        let s = minimise(
            &mut f,
            &[1.0, 0.1],
            &info,
            Limits::default(),
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert!(
            (s.x[0] - 2.0).abs() < 1e-5 && (s.x[1] - 0.7).abs() < 1e-5,
            "{:?}",
            s.x
        );
        let bounded = [
            info[0],
            ParamInfo {
                lower: 0.0,
                upper: 0.5,
                step: 1e-6,
            },
        ];
        let s = minimise(
            &mut f,
            &[1.0, 0.1],
            &bounded,
            Limits::default(),
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert!(s.x[1] <= 0.5 && (s.x[1] - 0.5).abs() < 1e-3, "{:?}", s.x);
    }

    #[test]
    fn dense_solve_and_inverse_match_by_hand() {
        let a = [4.0, 1.0, 1.0, 3.0];
        let inv = invert(&a, 2).unwrap();
        let det = 11.0;
        for (got, want) in inv
            .iter()
            .zip([3.0 / det, -1.0 / det, -1.0 / det, 4.0 / det])
        {
            assert!((got - want).abs() < 1e-12);
        }
        assert!(solve_dense(&[1.0, 2.0, 2.0, 4.0], &[1.0, 2.0]).is_none());
    }
}
