//! The background the fit carries beside the kernels: a constant, a plane, or a slope along
//! the fast axis plus one offset per scan line (which absorbs the constant and the slope along
//! the slow axis).

use super::settings::Background;

/// Background basis on an `H x W` map; coefficients are a plain vector.
#[derive(Clone, Debug)]
pub struct Basis {
    pub kind: Background,
    pub height: usize,
    pub width: usize,
    /// Column coordinates scaled to [-1, 1].
    xs: Vec<f64>,
}

/// Coordinate of pixel `i` of `n` scaled to [-1, 1] (0 when `n == 1`).
fn unit(i: usize, n: usize) -> f64 {
    if n > 1 {
        (2.0 * i as f64 - (n - 1) as f64) / (n - 1) as f64
    } else {
        0.0
    }
}

impl Basis {
    pub fn new(kind: Background, height: usize, width: usize) -> Self {
        Basis {
            kind,
            height,
            width,
            xs: (0..width).map(|j| unit(j, width)).collect(),
        }
    }

    /// Number of coefficients.
    pub fn len(&self) -> usize {
        match self.kind {
            Background::Constant => 1,
            Background::Plane => 3,
            Background::PlaneAndLines => self.height + 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// `out += B beta`.
    pub fn add(&self, beta: &[f64], out: &mut [f64]) {
        let w = self.width;
        for (i, row) in out.chunks_mut(w).enumerate() {
            let y = unit(i, self.height);
            let (base, slope) = match self.kind {
                Background::Constant => (beta[0], 0.0),
                Background::Plane => (beta[0] + beta[2] * y, beta[1]),
                Background::PlaneAndLines => (beta[1 + i], beta[0]),
            };
            for (v, x) in row.iter_mut().zip(&self.xs) {
                *v += base + slope * x;
            }
        }
    }

    /// `B^T r`.
    pub fn adjoint(&self, r: &[f64]) -> Vec<f64> {
        let w = self.width;
        let mut g = vec![0.0; self.len()];
        for (i, row) in r.chunks(w).enumerate() {
            let y = unit(i, self.height);
            let (mut sum, mut sx) = (0.0, 0.0);
            for (v, x) in row.iter().zip(&self.xs) {
                sum += v;
                sx += v * x;
            }
            match self.kind {
                Background::Constant => g[0] += sum,
                Background::Plane => {
                    g[0] += sum;
                    g[1] += sx;
                    g[2] += sum * y;
                }
                Background::PlaneAndLines => {
                    g[0] += sx;
                    g[1 + i] += sum;
                }
            }
        }
        g
    }

    /// Diagonal of `B^T diag(weights) B` (a preconditioner).
    pub fn diagonal(&self, weights: &[f64]) -> Vec<f64> {
        let w = self.width;
        let mut d = vec![0.0; self.len()];
        for (i, row) in weights.chunks(w).enumerate() {
            let y = unit(i, self.height);
            let sum: f64 = row.iter().sum();
            let sxx: f64 = row.iter().zip(&self.xs).map(|(v, x)| v * x * x).sum();
            match self.kind {
                Background::Constant => d[0] += sum,
                Background::Plane => {
                    d[0] += sum;
                    d[1] += sxx;
                    d[2] += sum * y * y;
                }
                Background::PlaneAndLines => {
                    d[0] += sxx;
                    d[1 + i] += sum;
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn adjoint_and_diagonal_agree_with_the_forward_basis() {
        let mut rng = Rng::new(1);
        for kind in [
            Background::Constant,
            Background::Plane,
            Background::PlaneAndLines,
        ] {
            let b = Basis::new(kind, 7, 5);
            let beta: Vec<f64> = (0..b.len()).map(|_| rng.normal()).collect();
            let r: Vec<f64> = (0..35).map(|_| rng.normal()).collect();
            let mut y = vec![0.0; 35];
            b.add(&beta, &mut y);
            let lhs: f64 = y.iter().zip(&r).map(|(a, b)| a * b).sum();
            let rhs: f64 = b.adjoint(&r).iter().zip(&beta).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-10, "{kind:?}: {lhs} vs {rhs}");
            // Diagonal entry j = |B e_j|^2 with unit weights.
            let d = b.diagonal(&[1.0; 35]);
            for (j, &dj) in d.iter().enumerate() {
                let mut e = vec![0.0; b.len()];
                e[j] = 1.0;
                let mut col = vec![0.0; 35];
                b.add(&e, &mut col);
                let n2: f64 = col.iter().map(|v| v * v).sum();
                assert!((n2 - dj).abs() < 1e-10, "{kind:?} diag {j}: {n2} vs {dj}");
            }
        }
    }
}
