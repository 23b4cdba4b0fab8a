//! How pixel values map onto a colormap, and how the ends of a scale are labelled.

use ndarray::ArrayView2;

use crate::{Error, Result};

/// How pixel values map onto the colormap's [0, 1]. Only finite pixels count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Smallest finite value to largest.
    MinMax,
    /// `[-m, m]` with `m = max |x|`, so 0 sits in the middle (white in [`Colormap::Diverging`]).
    Symmetric,
    /// Clip to the `[p, 100 - p]` percentiles (`p` in percent, `0 <= p < 50`): robust to spikes.
    Percentile(f64),
    /// Like [`Scale::Symmetric`] but `m` is the `(100 - p)`-th percentile of `|x|`: a clipped
    /// scale that shows weak interference tails next to a strong impurity centre.
    SymmetricPercentile(f64),
}

impl Scale {
    /// The value range `(lo, hi)` this scale maps to the ends of a colormap.
    ///
    /// An image without finite pixels gives `(0, 0)`. `lo == hi` (a constant image) is allowed:
    /// every finite pixel then takes the middle colour.
    pub fn range(self, image: ArrayView2<f32>) -> Result<(f64, f64)> {
        let finite = image.iter().filter(|v| v.is_finite()).map(|&v| v as f64);
        match self {
            Scale::MinMax => {
                let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
                Ok(if lo <= hi { (lo, hi) } else { (0.0, 0.0) })
            }
            Scale::Symmetric => {
                let m = finite.fold(0.0f64, |m, v| m.max(v.abs()));
                Ok((-m, m))
            }
            Scale::SymmetricPercentile(p) => {
                if !(0.0..50.0).contains(&p) {
                    return Err(Error::invalid(format!(
                        "Scale::SymmetricPercentile({p}): the percentile must be in [0, 50)"
                    )));
                }
                let mut values: Vec<f64> = finite.map(f64::abs).collect();
                if values.is_empty() {
                    return Ok((0.0, 0.0));
                }
                values.sort_unstable_by(f64::total_cmp);
                let m = quantile(&values, 1.0 - p / 100.0);
                Ok((-m, m))
            }
            Scale::Percentile(p) => {
                if !(0.0..50.0).contains(&p) {
                    return Err(Error::invalid(format!(
                        "Scale::Percentile({p}): the percentile must be in [0, 50)"
                    )));
                }
                let mut values: Vec<f64> = finite.collect();
                if values.is_empty() {
                    return Ok((0.0, 0.0));
                }
                values.sort_unstable_by(f64::total_cmp);
                Ok((
                    quantile(&values, p / 100.0),
                    quantile(&values, 1.0 - p / 100.0),
                ))
            }
        }
    }
}

/// Linearly interpolated quantile `q` in [0, 1] of sorted, non-empty `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    let x = q * (values.len() - 1) as f64;
    let i = (x.floor() as usize).min(values.len() - 1);
    let j = (i + 1).min(values.len() - 1);
    values[i] + (x - i as f64) * (values[j] - values[i])
}

/// Position of `v` in `[lo, hi]` as t in [0, 1]; NaN for non-finite `v`, 0.5 when `lo == hi`.
pub(crate) fn normalise(v: f32, lo: f64, hi: f64) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    if hi > lo {
        ((v as f64 - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

/// Compact label: `0`, `-0.0123`, `12.3`, `1234`, `-1.2e-3`, `1e-3`, `4.5e6`.
pub(crate) fn format_value(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-2..1e4).contains(&a) {
        // Three significant digits, trailing zeros dropped.
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        s.to_string()
    } else {
        // Two significant digits; `1.0e-3` shortens to `1e-3`.
        format!("{v:.1e}").replace(".0e", "e")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn scale_ranges() {
        // 0..=99 and one spike: percentiles by hand on the 101 sorted values.
        let mut values: Vec<f32> = (0..100).map(|v| v as f32).collect();
        values.push(1e6);
        values.push(f32::NAN);
        let image = Array2::from_shape_vec((1, 102), values).unwrap();
        assert_eq!(Scale::MinMax.range(image.view()).unwrap(), (0.0, 1e6));
        assert_eq!(Scale::Symmetric.range(image.view()).unwrap(), (-1e6, 1e6));
        let (lo, hi) = Scale::SymmetricPercentile(1.0).range(image.view()).unwrap();
        assert!(
            lo == -hi && hi < 1e6,
            "clipped symmetric scale ignores the outlier: {hi}"
        );
        assert_eq!(
            Scale::Percentile(1.0).range(image.view()).unwrap(),
            (1.0, 99.0)
        );
        assert_eq!(
            Scale::Percentile(0.0).range(image.view()).unwrap(),
            (0.0, 1e6)
        );
        // q = 0.005: position 0.5 between 0 and 1.
        assert_eq!(Scale::Percentile(0.5).range(image.view()).unwrap().0, 0.5);
        let negative = array![[-4.0f32, 1.0]];
        assert_eq!(
            Scale::Symmetric.range(negative.view()).unwrap(),
            (-4.0, 4.0)
        );
        for p in [50.0, -1.0, f64::NAN, 120.0] {
            let err = Scale::Percentile(p).range(image.view()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput(ref m) if m.contains("percentile")),
                "{p}"
            );
        }
    }

    #[test]
    fn value_labels_are_compact() {
        let cases = [
            (0.0, "0"),
            (-1.2e-3, "-1.2e-3"),
            (1e-3, "1e-3"),
            (4.5e6, "4.5e6"),
            (12.34, "12.3"),
            (1234.0, "1234"),
            (0.0123, "0.0123"),
            (-0.5, "-0.5"),
            (1.0, "1"),
            (99999.0, "1e5"),
        ];
        for (v, s) in cases {
            assert_eq!(format_value(v), s, "{v}");
        }
    }
}
