//! The result of a fit: values with standard errors, the fitted spec as TOML (with a
//! `[fit.result]` table), the dispersion of continuum models, and JSON.

use super::lm::{self, Solution};
use super::path;
use super::problem::{Nuisance, Param, Problem};
use crate::physics::ParabolicBand;
use crate::physics::spec::{FIT_TABLE, KernelSpec, ModelSpec};
use crate::{Error, Result};
use ndarray::Array3;
use serde_json::json;

/// One fitted (or held) value.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedValue {
    /// A spec path (`model.effective_mass`) or a nuisance name (`pixel_calibration`).
    pub name: String,
    pub start: f64,
    pub value: f64,
    /// Standard error (NaN for a held value or a singular fit).
    pub std_error: f64,
    /// Why it was held, when it was.
    pub fixed: Option<String>,
}

/// The scattering wave vector of a continuum model at one energy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DispersionPoint {
    pub energy_ev: f64,
    /// `2 Re k_F(E)`, 1/Angstrom (the wave vector of the LDOS oscillation).
    pub q_per_a: f64,
    pub q_std_per_a: f64,
}

/// What a fit found.
#[derive(Clone, Debug)]
pub struct FitResult {
    /// The spec's free values, in `[fit] free` order.
    pub parameters: Vec<FittedValue>,
    /// Impurity offset, pixel calibration, rotation (moved or held).
    pub nuisance: Vec<FittedValue>,
    /// Scale of the model at each energy (data = scale x model).
    pub scales: Vec<f64>,
    pub energies_ev: Vec<f64>,
    pub chi2: f64,
    pub dof: usize,
    pub reduced_chi2: f64,
    /// Factor the covariance was multiplied by for residuals correlated between neighbouring
    /// pixels (see [`correlation_inflation`]); 1 for independent pixels.
    pub correlation_inflation: f64,
    /// Names of the moved parameters, the order of `correlation`'s rows.
    pub correlation_names: Vec<String>,
    pub correlation: Vec<Vec<f64>>,
    /// Degeneracies and held values, in words.
    pub notes: Vec<String>,
    /// Continuum models: `2 k_F(E)` of the fitted band at each energy.
    pub dispersion: Vec<DispersionPoint>,
    /// The fitted spec (best values in place, render grid of the data, the file's energies)
    /// with `[fit]` and a `[fit.result]` table.
    pub spec_toml: String,
    /// `[E, S, S]` data, scaled model and fit weights (0 where left out), for pictures.
    pub data: Array3<f64>,
    pub model: Array3<f64>,
    pub weights: Array3<f64>,
    pub evaluations: usize,
    pub simulations: usize,
    pub seconds: f64,
}

fn round_trip_value(v: f64) -> toml::Value {
    toml::Value::Float(v)
}

/// Builds the result from the best solution.
pub fn assemble(
    prob: &mut Problem,
    original: &toml::Value,
    best: &Solution,
    x0: &[f64],
    notes: Vec<String>,
    seconds: f64,
) -> Result<FitResult> {
    let n = best.x.len();
    let e = prob.data.energies_ev.len();
    let used = prob.data.used_pixels();
    let dof = used.saturating_sub(n + e).max(1);
    let reduced = best.cost / dof as f64;
    prob.exact = true;
    let eval = prob.evaluate(&best.x)?;
    // A symmetry-projected kernel's orbits are one value each: at least that much.
    let inflation = correlation_inflation(prob, &eval.model).max(prob.data.orbit_pixels);
    let cov: Vec<f64> = match lm::invert(&best.jtj, n) {
        Some(inv) => inv.iter().map(|v| v * reduced * inflation).collect(),
        None => vec![f64::NAN; n * n],
    };
    let std: Vec<f64> = (0..n).map(|i| cov[i * n + i].max(0.0).sqrt()).collect();
    let correlation: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| cov[i * n + j] / (std[i] * std[j])).collect())
        .collect();
    let names: Vec<String> = prob.params.iter().map(Param::name).collect();
    let mut parameters = Vec::new();
    for (i, p) in prob.params.iter().enumerate() {
        if let Param::Spec(name) = p {
            parameters.push(FittedValue {
                name: name.clone(),
                start: x0[i],
                value: best.x[i],
                std_error: std[i],
                fixed: None,
            });
        }
    }
    let nu = prob.nuisance(&best.x);
    let nuisance = Nuisance::ALL
        .iter()
        .map(|&k| {
            let moved = prob.params.iter().position(|p| *p == Param::Nuisance(k));
            FittedValue {
                name: k.name().to_string(),
                start: prob.nuisance_start[k as usize],
                value: nu[k as usize],
                std_error: moved.map_or(f64::NAN, |i| std[i]),
                fixed: match moved {
                    Some(_) => None,
                    None => notes
                        .iter()
                        .find(|t| t.starts_with(k.name()))
                        .map(|t| t[k.name().len() + 2..].to_string()),
                },
            }
        })
        .collect();
    let spec = prob.spec(&best.x)?;
    let dispersion = dispersion(prob, &best.x, &cov)?;
    let mut result = FitResult {
        parameters,
        nuisance,
        scales: eval.scales,
        energies_ev: prob.data.energies_ev.clone(),
        chi2: best.cost,
        dof,
        reduced_chi2: reduced,
        correlation_inflation: inflation,
        correlation_names: names,
        correlation,
        notes,
        dispersion,
        spec_toml: String::new(),
        data: prob.data.kernels.clone(),
        model: eval.model,
        weights: prob.data.weights.clone(),
        evaluations: best.evaluations,
        simulations: prob.simulations,
        seconds,
    };
    result.spec_toml = fitted_spec_toml(original, &result, &spec, prob)?;
    Ok(result)
}

/// Most lag (pixels) of the residual autocorrelation summed by [`correlation_inflation`].
const MAX_CORRELATION_LAG: usize = 8;

/// How much more the fitted values scatter than independent pixels would make them: the
/// sum of the weighted residual's normalised autocorrelation `rho(dE, d)` over every energy
/// lag `dE` and the pixel lags `d` shorter than the first zero of its radial mean at
/// `dE = 0` (the energy lags' part only where positive), at least 1. An extracted kernel's pixels share noise through its smoothness
/// penalty and the defects' amplitudes, and its energies through the defects' shared
/// positions, so `J^T J` alone (which counts every pixel as independent) understates the
/// errors; for slowly varying model derivatives the variance of a fitted value grows by
/// this sum, as the variance of a mean of correlated samples does.
pub fn correlation_inflation(prob: &Problem, model: &Array3<f64>) -> f64 {
    let data = prob.data;
    let (e, n, _) = data.kernels.dim();
    let lag = MAX_CORRELATION_LAG.min(n / 4);
    let w = 2 * lag + 1;
    let residual: Vec<ndarray::Array2<Option<f64>>> = (0..e)
        .map(|k| {
            ndarray::Array2::from_shape_fn((n, n), |(i, j)| {
                let wt = data.weights[[k, i, j]];
                (wt > 0.0).then(|| wt * (data.kernels[[k, i, j]] - model[[k, i, j]]))
            })
        })
        .collect();
    // sums[dE][di * w + dj], dE >= 0 (negative energy lags are the same pairs).
    let mut sums = vec![vec![0.0; w * w]; e];
    let mut counts = vec![vec![0usize; w * w]; e];
    for k in 0..e {
        for (de, (sum, count)) in sums.iter_mut().zip(counts.iter_mut()).enumerate() {
            let Some(other) = residual.get(k + de) else {
                break;
            };
            for ((i, j), a) in residual[k].indexed_iter() {
                let Some(a) = a else { continue };
                for di in 0..w {
                    let ii = i as isize + di as isize - lag as isize;
                    if ii < 0 || ii >= n as isize {
                        continue;
                    }
                    for dj in 0..w {
                        let jj = j as isize + dj as isize - lag as isize;
                        if jj < 0 || jj >= n as isize {
                            continue;
                        }
                        if let Some(b) = other[[ii as usize, jj as usize]] {
                            sum[di * w + dj] += a * b;
                            count[di * w + dj] += 1;
                        }
                    }
                }
            }
        }
    }
    let mean = |de: usize, k: usize| sums[de][k] / counts[de][k].max(1) as f64;
    let zero = mean(0, lag * w + lag);
    if zero.is_nan() || zero <= 0.0 {
        return 1.0;
    }
    let rho = |de: usize, di: usize, dj: usize| mean(de, di * w + dj) / zero;
    let dist = |di: usize, dj: usize| {
        ((di as f64 - lag as f64).powi(2) + (dj as f64 - lag as f64).powi(2)).sqrt()
    };
    // First radius where the radial mean of rho at dE = 0 is <= 0.
    let mut cut = lag + 1;
    for radius in 1..=lag {
        let (mut s, mut c) = (0.0, 0);
        for di in 0..w {
            for dj in 0..w {
                if (dist(di, dj) - radius as f64).abs() < 0.5 {
                    s += rho(0, di, dj);
                    c += 1;
                }
            }
        }
        if s / c.max(1) as f64 <= 0.0 {
            cut = radius;
            break;
        }
    }
    let (mut within, mut across) = (0.0, 0.0);
    for de in 0..e {
        // Each energy lag dE > 0 stands for dE and -dE; both are averaged over the same
        // number of energies as the sum over E of a mean-of-correlated-samples variance.
        let weight = if de == 0 {
            1.0
        } else {
            2.0 * (e - de) as f64 / e as f64
        };
        for di in 0..w {
            for dj in 0..w {
                if dist(di, dj) < cut as f64 - 0.5 {
                    let v = weight * rho(de, di, dj);
                    if de == 0 {
                        within += v;
                    } else {
                        across += v;
                    }
                }
            }
        }
    }
    // Energy lags only ever add: an anti-correlation between energies (the per-energy
    // scales leave some) is not taken as a reason to trust each pixel more.
    (within + across.max(0.0)).max(1.0)
}

/// `2 Re k(E)` of the fitted parabolic band at each energy, with its standard error from the
/// covariance (numerical gradient over the spec values); empty for lattice models.
fn dispersion(prob: &Problem, x: &[f64], cov: &[f64]) -> Result<Vec<DispersionPoint>> {
    let q_at = |x: &[f64], e: f64| -> Result<Option<f64>> {
        let spec = prob.spec(x)?;
        Ok(match spec.model {
            ModelSpec::Parabolic {
                band_bottom_ev,
                effective_mass,
            } => Some(
                2.0 * ParabolicBand {
                    band_bottom_ev,
                    effective_mass,
                }
                .wave_vector(e, spec.broadening_ev)
                .re,
            ),
            ModelSpec::TightBinding { .. } => None,
        })
    };
    let n = x.len();
    let mut out = Vec::new();
    for &e in &prob.data.energies_ev {
        let Some(q) = q_at(x, e)? else {
            return Ok(Vec::new());
        };
        let mut grad = vec![0.0; n];
        for (i, p) in prob.params.iter().enumerate() {
            if let Param::Spec(_) = p {
                let h = 1e-6 * x[i].abs().max(0.01);
                let mut xs = x.to_vec();
                xs[i] += h;
                grad[i] = (q_at(&xs, e)?.unwrap_or(q) - q) / h;
            }
        }
        let var: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| grad[i] * cov[i * n + j] * grad[j])
            .sum();
        out.push(DispersionPoint {
            energy_ev: e,
            q_per_a: q,
            q_std_per_a: var.max(0.0).sqrt(),
        });
    }
    Ok(out)
}

fn table_of(v: &mut toml::Value) -> &mut toml::Table {
    match v {
        toml::Value::Table(t) => t,
        _ => unreachable!("specs are parsed as tables"),
    }
}

fn floats(v: &[f64]) -> toml::Value {
    toml::Value::Array(v.iter().map(|&x| round_trip_value(x)).collect())
}

/// The spec with the fitted values in place, the data's render grid and energies, and a
/// `[fit.result]` table; `qpik simulate kernel --spec` on it gives the model kernel(s).
fn fitted_spec_toml(
    original: &toml::Value,
    r: &FitResult,
    spec: &KernelSpec,
    prob: &Problem,
) -> Result<String> {
    let mut out = original.clone();
    for p in &r.parameters {
        path::set(&mut out, &p.name, p.value)?;
    }
    let nu: Vec<f64> = r.nuisance.iter().map(|v| v.value).collect();
    let t = table_of(&mut out);
    for k in ["energy_ev", "energies_ev", "energy_range"] {
        t.remove(k);
    }
    if r.energies_ev.len() == 1 {
        t.insert("energy_ev".into(), round_trip_value(r.energies_ev[0]));
    } else {
        t.insert("energies_ev".into(), floats(&r.energies_ev));
    }
    let render = t
        .entry("render")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(render) = render {
        let s = prob.data.size() as i64;
        render.insert(
            "size".into(),
            toml::Value::Array(vec![toml::Value::Integer(s), toml::Value::Integer(s)]),
        );
        render.insert(
            "pixel_size_a".into(),
            round_trip_value(prob.data.pixel_size_a * nu[Nuisance::PixelCalibration as usize]),
        );
        render.insert(
            "rotation_deg".into(),
            round_trip_value(nu[Nuisance::Rotation as usize]),
        );
    }
    let fit = table_of(&mut out)
        .entry(FIT_TABLE)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let fit = table_of(fit);
    let mut res = toml::Table::new();
    res.insert("chi2".into(), round_trip_value(r.chi2));
    res.insert("dof".into(), toml::Value::Integer(r.dof as i64));
    res.insert("reduced_chi2".into(), round_trip_value(r.reduced_chi2));
    res.insert(
        "correlation_inflation".into(),
        round_trip_value(r.correlation_inflation),
    );
    res.insert("energies_ev".into(), floats(&r.energies_ev));
    res.insert("scales".into(), floats(&r.scales));
    let mut values = toml::Table::new();
    for v in r.parameters.iter().chain(&r.nuisance) {
        let mut e = toml::Table::new();
        e.insert("value".into(), round_trip_value(v.value));
        e.insert("start".into(), round_trip_value(v.start));
        match &v.fixed {
            Some(why) => {
                e.insert("fixed".into(), toml::Value::String(why.clone()));
            }
            None => {
                e.insert("std_error".into(), round_trip_value(v.std_error));
            }
        }
        values.insert(v.name.clone(), toml::Value::Table(e));
    }
    res.insert("values".into(), toml::Value::Table(values));
    res.insert(
        "correlation_names".into(),
        toml::Value::Array(
            r.correlation_names
                .iter()
                .map(|s| toml::Value::String(s.clone()))
                .collect(),
        ),
    );
    res.insert(
        "correlation".into(),
        toml::Value::Array(r.correlation.iter().map(|row| floats(row)).collect()),
    );
    res.insert(
        "notes".into(),
        toml::Value::Array(
            r.notes
                .iter()
                .map(|s| toml::Value::String(s.clone()))
                .collect(),
        ),
    );
    if !r.dispersion.is_empty() {
        let mut d = toml::Table::new();
        let col = |f: fn(&DispersionPoint) -> f64| {
            floats(&r.dispersion.iter().map(f).collect::<Vec<_>>())
        };
        d.insert("energy_ev".into(), col(|p| p.energy_ev));
        d.insert("q_per_a".into(), col(|p| p.q_per_a));
        d.insert("q_std_per_a".into(), col(|p| p.q_std_per_a));
        res.insert("dispersion".into(), toml::Value::Table(d));
    }
    fit.insert("result".into(), toml::Value::Table(res));
    let text = toml::to_string(&out).map_err(|e| Error::invalid(format!("fitted spec: {e}")))?;
    // The written spec must describe the fitted kernel.
    let back = KernelSpec::from_toml(&text)?;
    debug_assert_eq!(back.model, spec.model);
    Ok(text)
}

impl FitResult {
    /// One JSON object with everything but the images.
    pub fn to_json(&self) -> serde_json::Value {
        let value = |v: &FittedValue| {
            json!({
                "name": v.name, "start": v.start, "value": v.value,
                "std_error": finite(v.std_error), "fixed": v.fixed,
            })
        };
        json!({
            "parameters": self.parameters.iter().map(value).collect::<Vec<_>>(),
            "nuisance": self.nuisance.iter().map(value).collect::<Vec<_>>(),
            "scales": self.scales,
            "energies_ev": self.energies_ev,
            "chi2": self.chi2,
            "dof": self.dof,
            "reduced_chi2": self.reduced_chi2,
            "correlation_inflation": self.correlation_inflation,
            "correlation_names": self.correlation_names,
            "correlation": self.correlation.iter()
                .map(|r| r.iter().map(|&v| finite(v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "notes": self.notes,
            "dispersion": self.dispersion.iter().map(|p| json!({
                "energy_ev": p.energy_ev, "q_per_a": p.q_per_a,
                "q_std_per_a": finite(p.q_std_per_a),
            })).collect::<Vec<_>>(),
            "evaluations": self.evaluations,
            "simulations": self.simulations,
            "seconds": self.seconds,
        })
    }

    /// The value of a spec path or nuisance name.
    pub fn get(&self, name: &str) -> Option<&FittedValue> {
        self.parameters
            .iter()
            .chain(&self.nuisance)
            .find(|v| v.name == name)
    }
}

/// JSON has no NaN: null instead.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
