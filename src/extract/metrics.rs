//! Kernel error metrics, per sample and per group, on the published [-1, 1] scale.

/// Per-sample errors on the [0, 1] scale, reported x2 (i.e. on a [-1, 1] scale) as published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleMetrics {
    pub mae2: f64,
    pub rmse2: f64,
    pub pearson: f64,
    /// Shift- and sign-invariant similarity ([`MaxDot`]); NaN where not computed.
    pub maxdot: f64,
}

/// Metrics of a prediction against the truth (both already on [0, 1]).
pub fn sample_metrics(pred: &[f32], truth: &[f32]) -> SampleMetrics {
    let n = pred.len() as f64;
    let (mut ae, mut se) = (0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        let d = (p - t) as f64;
        ae += d.abs();
        se += d * d;
    }
    let mp = pred.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mt = truth.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        let (a, b) = (p as f64 - mp, t as f64 - mt);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    let pearson = if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else {
        0.0
    };
    SampleMetrics {
        mae2: 2.0 * ae / n,
        rmse2: 2.0 * (se / n).sqrt(),
        pearson,
        maxdot: f64::NAN,
    }
}

/// Mean and max of each metric over a group of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct GroupMetrics {
    pub count: usize,
    pub mae2_mean: f64,
    pub mae2_max: f64,
    pub rmse2_mean: f64,
    pub rmse2_max: f64,
    pub pearson_mean: f64,
    /// Mean maxdot (NaN when a sample has none).
    pub maxdot_mean: f64,
}

impl GroupMetrics {
    pub fn of(samples: &[SampleMetrics]) -> Self {
        let n = samples.len();
        if n == 0 {
            return GroupMetrics::default();
        }
        let mean =
            |f: &dyn Fn(&SampleMetrics) -> f64| samples.iter().map(f).sum::<f64>() / n as f64;
        let max = |f: &dyn Fn(&SampleMetrics) -> f64| {
            samples.iter().map(f).fold(f64::NEG_INFINITY, f64::max)
        };
        GroupMetrics {
            count: n,
            mae2_mean: mean(&|s| s.mae2),
            mae2_max: max(&|s| s.mae2),
            rmse2_mean: mean(&|s| s.rmse2),
            rmse2_max: max(&|s| s.rmse2),
            pearson_mean: mean(&|s| s.pearson),
            maxdot_mean: mean(&|s| s.maxdot),
        }
    }

    /// One JSON object (serde; a NaN becomes null).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computed_example() {
        // pred - truth = [0.1, -0.1, 0.3, -0.1]: MAE 0.15, RMSE sqrt(0.12/4) = 0.17320508.
        let pred = [0.1f32, 0.2, 0.9, 0.3];
        let truth = [0.0f32, 0.3, 0.6, 0.4];
        let m = sample_metrics(&pred, &truth);
        assert!((m.mae2 - 0.30).abs() < 1e-6, "{m:?}");
        assert!((m.rmse2 - 2.0 * 0.173_205_08).abs() < 1e-6, "{m:?}");
        // Pearson by hand: means 0.375 and 0.325; sxy = 0.2325, sxx = 0.3875, syy = 0.1875.
        let r = 0.2325 / (0.3875f64 * 0.1875).sqrt();
        assert!((m.pearson - r).abs() < 1e-5, "{} vs {r}", m.pearson);
        let g = GroupMetrics::of(&[
            m,
            SampleMetrics {
                mae2: 0.5,
                rmse2: 0.7,
                pearson: 0.1,
                maxdot: f64::NAN,
            },
        ]);
        assert!(
            (g.mae2_mean - 0.4).abs() < 1e-6 && g.rmse2_max == 0.7 && g.count == 2,
            "{g:?}"
        );
    }
}

/// Shift-invariant similarity of two kernels (the "maxdot" of short-and-sparse deconvolution):
/// the largest absolute normalised correlation of the mean-subtracted kernels over every
/// relative shift (zero padding, no wrap-around). 1 means equal up to a shift and a sign.
/// The correlation is computed by FFT on a `2S x 2S` grid, plans reused across calls.
pub struct MaxDot {
    size: (usize, usize),
    pad: (usize, usize),
    rows: std::sync::Arc<dyn rustfft::Fft<f64>>,
    rows_inv: std::sync::Arc<dyn rustfft::Fft<f64>>,
    cols: std::sync::Arc<dyn rustfft::Fft<f64>>,
    cols_inv: std::sync::Arc<dyn rustfft::Fft<f64>>,
}

impl MaxDot {
    pub fn new(height: usize, width: usize) -> Self {
        let pad = (2 * height, 2 * width);
        let mut planner = rustfft::FftPlanner::<f64>::new();
        MaxDot {
            size: (height, width),
            pad,
            rows: planner.plan_fft_forward(pad.1),
            rows_inv: planner.plan_fft_inverse(pad.1),
            cols: planner.plan_fft_forward(pad.0),
            cols_inv: planner.plan_fft_inverse(pad.0),
        }
    }

    fn transform(&self, data: &mut [rustfft::num_complex::Complex<f64>], inverse: bool) {
        let (ph, pw) = self.pad;
        let (rows, cols) = if inverse {
            (&self.rows_inv, &self.cols_inv)
        } else {
            (&self.rows, &self.cols)
        };
        for row in data.chunks_mut(pw) {
            rows.process(row);
        }
        let mut col = vec![rustfft::num_complex::Complex::new(0.0, 0.0); ph];
        for c in 0..pw {
            for r in 0..ph {
                col[r] = data[r * pw + c];
            }
            cols.process(&mut col);
            for r in 0..ph {
                data[r * pw + c] = col[r];
            }
        }
    }

    fn padded(&self, k: &[f32]) -> Option<Vec<rustfft::num_complex::Complex<f64>>> {
        let (h, w) = self.size;
        let (_, pw) = self.pad;
        let mean = k.iter().map(|&v| v as f64).sum::<f64>() / k.len() as f64;
        let norm = k
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return None;
        }
        let mut out = vec![rustfft::num_complex::Complex::new(0.0, 0.0); self.pad.0 * pw];
        for r in 0..h {
            for c in 0..w {
                out[r * pw + c].re = (k[r * w + c] as f64 - mean) / norm;
            }
        }
        Some(out)
    }

    /// maxdot of two `height x width` kernels (0 when either is constant).
    pub fn of(&self, a: &[f32], b: &[f32]) -> f64 {
        let (Some(mut fa), Some(mut fb)) = (self.padded(a), self.padded(b)) else {
            return 0.0;
        };
        self.transform(&mut fa, false);
        self.transform(&mut fb, false);
        for (x, y) in fa.iter_mut().zip(&fb) {
            *x *= y.conj();
        }
        self.transform(&mut fa, true);
        let scale = (self.pad.0 * self.pad.1) as f64;
        fa.iter().map(|v| v.re.abs() / scale).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod maxdot_tests {
    use super::*;

    #[test]
    fn maxdot_is_one_for_shifted_copies_and_matches_a_direct_sum() {
        let (h, w) = (12, 10);
        let f = |r: f64, c: f64| {
            ((r - 5.0) * 0.7).sin() * ((c - 4.0) * 0.4).cos() * (-(r - 5.0).powi(2) / 20.0).exp()
        };
        let a: Vec<f32> = (0..h * w)
            .map(|i| f((i / w) as f64, (i % w) as f64) as f32)
            .collect();
        // b = a shifted by (2, -1) with zeros entering.
        let b: Vec<f32> = (0..h * w)
            .map(|i| {
                let (r, c) = ((i / w) as i64 - 2, (i % w) as i64 + 1);
                if (0..h as i64).contains(&r) && (0..w as i64).contains(&c) {
                    a[r as usize * w + c as usize]
                } else {
                    0.0
                }
            })
            .collect();
        let md = MaxDot::new(h, w);
        assert!((md.of(&a, &a) - 1.0).abs() < 1e-9);
        let neg: Vec<f32> = a.iter().map(|v| -v).collect();
        assert!((md.of(&a, &neg) - 1.0).abs() < 1e-9, "sign invariant");
        // Direct: max over shifts of the normalised, mean-subtracted correlation.
        let norm = |k: &[f32]| {
            let m = k.iter().map(|&v| v as f64).sum::<f64>() / k.len() as f64;
            let s = k
                .iter()
                .map(|&v| (v as f64 - m).powi(2))
                .sum::<f64>()
                .sqrt();
            k.iter().map(|&v| (v as f64 - m) / s).collect::<Vec<f64>>()
        };
        let (na, nb) = (norm(&a), norm(&b));
        let mut best: f64 = 0.0;
        for dr in -(h as i64 - 1)..h as i64 {
            for dc in -(w as i64 - 1)..w as i64 {
                let mut s = 0.0;
                for r in 0..h as i64 {
                    for c in 0..w as i64 {
                        let (rr, cc) = (r + dr, c + dc);
                        if (0..h as i64).contains(&rr) && (0..w as i64).contains(&cc) {
                            s +=
                                na[(r * w as i64 + c) as usize] * nb[(rr * w as i64 + cc) as usize];
                        }
                    }
                }
                best = best.max(s.abs());
            }
        }
        assert!(
            (md.of(&a, &b) - best).abs() < 1e-9,
            "{} vs {best}",
            md.of(&a, &b)
        );
        assert!(best > 0.8);
    }
}
