//! What a gap-sign analysis found: the verdict, its confidence, the signal per energy, and
//! the comparison of the model's two gap forms; as JSON and TOML.

use serde_json::json;

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    SignChanging,
    SignPreserving,
    Undecided,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::SignChanging => "sign-changing",
            Verdict::SignPreserving => "sign-preserving",
            Verdict::Undecided => "undecided",
        }
    }
}

/// The signal of one `+E` / `-E` pair.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergySignal {
    /// `+E`, eV.
    pub energy_ev: f64,
    /// The partner layer's energy (`~ -E`), eV.
    pub minus_energy_ev: f64,
    /// `rho^-(E)`: the sum over every shell of `Re g(q, +E) - Re g(q, -E)`, in the kernel's
    /// unit.
    pub signal: f64,
    pub std: f64,
    /// `rho^-` per `|q|` shell and its standard error.
    pub shells: Vec<f64>,
    pub shells_std: Vec<f64>,
}

/// The two gap forms of the given spec, each fitted to the data.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelComparison {
    /// `"d against s"` or `"s+- against s++"`.
    pub comparison: String,
    /// Whether the spec as given has a sign-changing gap.
    pub given_changes_sign: bool,
    /// Largest `|Delta(k)|` of the given gap (both forms have it), eV.
    pub gap_max_ev: f64,
    /// Weighted sum of squared residuals of `rho^-` and `rho^+` per shell and energy, each
    /// form with its own non-negative scale per energy.
    pub chi2_sign_changing: f64,
    pub chi2_sign_preserving: f64,
    /// Data points minus scales.
    pub dof: usize,
    /// The better form's `chi^2 / dof` (floored at 1): the factor the difference is divided
    /// by, so a model that fits neither way decides nothing.
    pub inflation: f64,
    /// Predicted `rho^-(E)` (summed over shells, scaled) of each form.
    pub predicted_sign_changing: Vec<f64>,
    pub predicted_sign_preserving: Vec<f64>,
    /// Predicted `rho^-` per energy and shell (scaled) of each form.
    pub predicted_shells_sign_changing: Vec<Vec<f64>>,
    pub predicted_shells_sign_preserving: Vec<Vec<f64>>,
    /// `sqrt(|chi2_pres - chi2_chg| / inflation)`, signed: positive favours sign-changing.
    pub sigma: f64,
    pub verdict: Verdict,
    pub simulations: usize,
}

/// The model-free (HAEM) reading of `rho^-(E)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFree {
    pub verdict: Verdict,
    /// Significance in standard errors of what decided (or of the strongest energy).
    pub sigma: f64,
    /// Why, in words.
    pub reason: String,
}

/// The result of [`super::gap_sign`].
#[derive(Clone, Debug)]
pub struct GapSignResult {
    pub verdict: Verdict,
    /// Two-sided Gaussian probability of the significance that decided, `erf(sigma / sqrt 2)`
    /// (0 when undecided for lack of signal).
    pub confidence: f64,
    pub sigma: f64,
    /// Why the verdict is what it is.
    pub reason: String,
    pub energies: Vec<EnergySignal>,
    /// Shell edges in 1/Angstrom (NaN when the pixel size is unknown).
    pub shell_edges_per_a: Vec<f64>,
    pub model_free: ModelFree,
    pub model: Option<ModelComparison>,
    pub notes: Vec<String>,
    pub seconds: f64,
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() { json!(v) } else { json!(null) }
}

impl GapSignResult {
    pub fn to_json(&self) -> serde_json::Value {
        let model = self.model.as_ref().map(|m| {
            json!({
                "comparison": m.comparison,
                "given_changes_sign": m.given_changes_sign,
                "gap_max_ev": m.gap_max_ev,
                "chi2_sign_changing": m.chi2_sign_changing,
                "chi2_sign_preserving": m.chi2_sign_preserving,
                "dof": m.dof,
                "inflation": m.inflation,
                "sigma": finite(m.sigma),
                "verdict": m.verdict.name(),
                "predicted_sign_changing": m.predicted_sign_changing,
                "predicted_sign_preserving": m.predicted_sign_preserving,
                "predicted_shells_sign_changing": m.predicted_shells_sign_changing,
                "predicted_shells_sign_preserving": m.predicted_shells_sign_preserving,
                "simulations": m.simulations,
            })
        });
        json!({
            "verdict": self.verdict.name(),
            "confidence": self.confidence,
            "sigma": finite(self.sigma),
            "reason": self.reason,
            "energies": self.energies.iter().map(|e| json!({
                "energy_ev": e.energy_ev,
                "minus_energy_ev": e.minus_energy_ev,
                "signal": e.signal,
                "std": e.std,
                "shells": e.shells,
                "shells_std": e.shells_std,
            })).collect::<Vec<_>>(),
            "shell_edges_per_a": self.shell_edges_per_a.iter().map(|&v| finite(v))
                .collect::<Vec<_>>(),
            "model_free": {
                "verdict": self.model_free.verdict.name(),
                "sigma": finite(self.model_free.sigma),
                "reason": self.model_free.reason,
            },
            "model": model,
            "notes": self.notes,
            "seconds": self.seconds,
        })
    }

    /// The result as a TOML document (`[gap_sign]`, `[[gap_sign.energy]]`,
    /// `[gap_sign.model]`).
    pub fn to_toml(&self) -> String {
        // Through JSON, with nulls dropped (TOML has none).
        fn strip(v: serde_json::Value) -> Option<toml::Value> {
            Some(match v {
                serde_json::Value::Null => return None,
                serde_json::Value::Bool(b) => toml::Value::Boolean(b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => toml::Value::Integer(i),
                    None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => toml::Value::String(s),
                serde_json::Value::Array(a) => {
                    toml::Value::Array(a.into_iter().filter_map(strip).collect())
                }
                serde_json::Value::Object(o) => toml::Value::Table(
                    o.into_iter()
                        .filter_map(|(k, v)| strip(v).map(|v| (k, v)))
                        .collect(),
                ),
            })
        }
        let mut body = self.to_json();
        if let Some(o) = body.as_object_mut() {
            if let Some(e) = o.remove("energies") {
                o.insert("energy".into(), e);
            }
        }
        let mut doc = toml::Table::new();
        if let Some(v) = strip(body) {
            doc.insert("gap_sign".into(), v);
        }
        toml::to_string(&doc).unwrap_or_default()
    }
}

/// `erf(x)`, Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        assert!((erf(0.0)).abs() < 1e-7);
        assert!((erf(3.0 / 2f64.sqrt()) - 0.997_300_2).abs() < 1e-6);
        assert!((erf(-1.0) + 0.842_700_8).abs() < 1e-6);
    }
}
