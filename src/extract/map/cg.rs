//! Preconditioned conjugate gradients for the symmetric positive (semi-)definite normal
//! equations of the fit.

/// Solve `A x = b` from the starting point in `x` with a diagonal (Jacobi) preconditioner.
/// Stops when `|r| <= tol |b|`, after `max_iter` products, or when `stop()` says so (polled
/// every iteration: the work was cancelled, and the caller reports it); returns the
/// products used.
pub fn solve(
    apply: &mut dyn FnMut(&[f64], &mut [f64]),
    b: &[f64],
    precond: &[f64],
    x: &mut [f64],
    tol: f64,
    max_iter: usize,
    stop: &dyn Fn() -> bool,
) -> usize {
    let n = b.len();
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    let inv: Vec<f64> = precond
        .iter()
        .map(|&d| {
            if d > 0.0 && d.is_finite() {
                1.0 / d
            } else {
                0.0
            }
        })
        .collect();
    let bnorm = dot(b, b).sqrt();
    if bnorm == 0.0 {
        x.iter_mut().for_each(|v| *v = 0.0);
        return 0;
    }
    let mut ax = vec![0.0; n];
    apply(x, &mut ax);
    let mut r: Vec<f64> = b.iter().zip(&ax).map(|(b, a)| b - a).collect();
    let mut z: Vec<f64> = r.iter().zip(&inv).map(|(r, m)| r * m).collect();
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    let mut ap = vec![0.0; n];
    for it in 0..max_iter {
        if dot(&r, &r).sqrt() <= tol * bnorm || rz <= 0.0 || stop() {
            return it;
        }
        apply(&p, &mut ap);
        let pap = dot(&p, &ap);
        if pap <= 0.0 || !pap.is_finite() {
            return it;
        }
        let alpha = rz / pap;
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        for i in 0..n {
            z[i] = r[i] * inv[i];
        }
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..n {
            p[i] = z[i] + beta * p[i];
        }
    }
    max_iter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_spd_system_to_the_direct_answer() {
        // A = M^T M + I for a fixed M; x* known, b = A x*.
        let n = 12;
        let m: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5)
            .collect();
        let apply_a = |x: &[f64], out: &mut [f64]| {
            let mx: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| m[i * n + j] * x[j]).sum())
                .collect();
            for j in 0..n {
                out[j] = x[j] + (0..n).map(|i| m[i * n + j] * mx[i]).sum::<f64>();
            }
        };
        let truth: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut b = vec![0.0; n];
        apply_a(&truth, &mut b);
        let mut x = vec![0.0; n];
        let mut f = apply_a;
        let used = solve(&mut f, &b, &vec![1.0; n], &mut x, 1e-12, 100, &|| false);
        let err = x
            .iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 1e-9 && used <= n + 2,
            "error {err} after {used} products"
        );
    }
}
