//! Kernel error metrics, per sample and per group, on the published [-1, 1] scale.

/// Per-sample errors on the [0, 1] scale, reported x2 (i.e. on a [-1, 1] scale) as published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleMetrics {
    pub mae2: f64,
    pub rmse2: f64,
    pub pearson: f64,
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
    }
}

/// Mean and max of each metric over a group of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroupMetrics {
    pub count: usize,
    pub mae2_mean: f64,
    pub mae2_max: f64,
    pub rmse2_mean: f64,
    pub rmse2_max: f64,
    pub pearson_mean: f64,
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
        }
    }

    pub fn to_json(&self) -> String {
        format!(
            "{{\"count\":{},\"mae2_mean\":{:.6},\"mae2_max\":{:.6},\"rmse2_mean\":{:.6},\"rmse2_max\":{:.6},\"pearson_mean\":{:.6}}}",
            self.count,
            self.mae2_mean,
            self.mae2_max,
            self.rmse2_mean,
            self.rmse2_max,
            self.pearson_mean
        )
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
            },
        ]);
        assert!(
            (g.mae2_mean - 0.4).abs() < 1e-6 && g.rmse2_max == 0.7 && g.count == 2,
            "{g:?}"
        );
    }
}
