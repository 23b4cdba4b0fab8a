//! From kernels to physics: fit a kernel spec's free values to extracted kernels.
//!
//! The data are one type's kernels `[E, S, S]` of an extraction result
//! ([`crate::extract::map::Extraction`]), weighted by `1 / kernel_std` (floored at
//! [`data::STD_FLOOR_FRACTION`] of the median), with the impurity core masked. The model is
//! the kernel spec itself, simulated by the same code as `qpik simulate kernel`, at the file's
//! energies and pixel size. The spec names what moves in a `[fit]` table:
//!
//! ```toml
//! [fit]
//! free = ["model.effective_mass", "model.band_bottom_ev"]   # paths into the spec
//! fixed = ["rotation_deg"]             # nuisance parameters to hold (optional)
//! core_radius_px = 2.0                 # masked impurity core (optional)
//! [fit.bounds]
//! "model.effective_mass" = [0.1, 0.8]
//! ```
//!
//! | parameter | kind | how |
//! |---|---|---|
//! | `free` paths | physics | Levenberg-Marquardt ([`lm`]), after a coarse grid over the bounds |
//! | scale per energy | nuisance, linear | closed form inside each residual |
//! | `impurity_row_px`, `impurity_col_px` | nuisance | always fitted, within 1.5 px |
//! | `pixel_calibration` | nuisance | within 0.9..1.1; fixed to 1 where degenerate (below) |
//! | `rotation_deg` | nuisance | within 10 degrees of the spec's; fixed for isotropic models |
//!
//! **Degeneracies** (said in the result's `notes`): a continuum kernel depends on the pixel
//! calibration `c` and the effective mass only through `m* c^2`, and an isotropic kernel not
//! at all on the rotation; at one energy the calibration trades with the band's length scale
//! (the hopping scale) in any model. Those are fixed (calibration to 1).
//!
//! **Errors** are `sqrt(diag((J^T J)^-1) f chi^2/dof)` at the optimum, with `J` the weighted
//! Jacobian of the free and nuisance parameters (the per-energy scales are projected out),
//! `dof` the used pixels minus every fitted parameter (scales included), and `f` the
//! residual's correlation inflation ([`report::correlation_inflation`]): an extracted
//! kernel's neighbouring pixels share noise, so they are not independent data.

pub mod data;
pub mod gap_sign;
pub mod lm;
pub mod path;
pub mod problem;
pub mod report;

use crate::budget::MemoryBudget;
use crate::extract::map::Extraction;
use crate::physics::spec::{FIT_TABLE, ModelSpec};
use crate::physics::{KernelSpec, SimContext};
use crate::progress::{Progress, check_cancelled};
use crate::{Error, Result};
use lm::{Limits, ParamInfo};
use problem::{FitData, Nuisance, Param, Problem};
pub use report::{FitResult, FittedValue};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// How a fit runs (the spec's `[fit]` table says what moves).
#[derive(Clone, Debug)]
pub struct FitSettings {
    /// Which kernel type of the result file.
    pub kernel_type: usize,
    /// Radius of the masked impurity core, pixels; `None`: the spec's `core_radius_px`, else
    /// [`data::DEFAULT_CORE_RADIUS_PX`].
    pub core_radius_px: Option<f64>,
    /// Solver runs: from the spec's values and from the best points of the coarse grid.
    pub starts: usize,
    /// Points of the coarse grid over the free values' bounds; `None`: 81 for continuum
    /// models, 9 for lattice models (each point is a T-matrix simulation per energy used).
    pub coarse_points: Option<usize>,
    /// Energies the coarse grid evaluates (spread over the series).
    pub coarse_energies: usize,
    pub max_iterations: usize,
    pub memory_budget: MemoryBudget,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            kernel_type: 0,
            core_radius_px: None,
            starts: 3,
            coarse_points: None,
            coarse_energies: 4,
            max_iterations: 40,
            memory_budget: MemoryBudget::default(),
        }
    }
}

/// The `[fit]` table of a spec.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FitTable {
    free: Vec<String>,
    #[serde(default)]
    fixed: Vec<String>,
    #[serde(default)]
    bounds: BTreeMap<String, [f64; 2]>,
    #[serde(default)]
    core_radius_px: Option<f64>,
    /// Written by a previous fit; ignored when read.
    #[serde(default)]
    #[allow(dead_code)]
    result: Option<toml::Value>,
}

fn parse_fit_table(spec: &toml::Value) -> Result<FitTable> {
    let t = spec.get(FIT_TABLE).ok_or_else(|| {
        Error::invalid(
            "the spec has no [fit] table: add one naming the free values, like \
             [fit] free = [\"model.effective_mass\"]",
        )
    })?;
    let table: FitTable = t
        .clone()
        .try_into()
        .map_err(|e| Error::invalid(format!("[fit] table: {e}")))?;
    if table.free.is_empty() {
        return Err(Error::invalid(
            "[fit] free is empty: name at least one value",
        ));
    }
    Ok(table)
}

/// Fits the spec in `spec_toml` (with its `[fit]` table) to the kernels of `ex`.
pub fn fit(
    ex: &Extraction,
    spec_toml: &str,
    settings: &FitSettings,
    progress: &dyn Progress,
) -> Result<FitResult> {
    let started = Instant::now();
    let original: toml::Value = spec_toml
        .parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| Error::invalid(format!("kernel spec: {e}")))?;
    let table = parse_fit_table(&original)?;
    let start_spec = problem::spec_from_value(original.clone())?;
    let core = settings
        .core_radius_px
        .or(table.core_radius_px)
        .unwrap_or(data::DEFAULT_CORE_RADIUS_PX);
    let data = data::fit_data(
        ex,
        settings.kernel_type,
        core,
        &start_spec.energies(),
        start_spec.render.pixel_size_a,
    )?;
    let mut base = original.clone();
    if let toml::Value::Table(t) = &mut base {
        t.remove(FIT_TABLE);
    }
    let (params, infos, x0, nuisance_start, notes) = parameters(&table, &base, &start_spec, &data)?;
    check_budget(&data, params.len(), settings.memory_budget)?;
    let cal_max = infos
        .iter()
        .zip(&params)
        .find(|(_, p)| **p == Param::Nuisance(Nuisance::PixelCalibration))
        .map_or(1.0, |(i, _)| i.upper);
    let mut ctx = SimContext::new();
    ctx.memory_budget = settings.memory_budget;
    let mut prob = Problem::new(&data, base, params, nuisance_start, cal_max, ctx);
    prob.progress = progress;

    let starts = coarse_starts(&mut prob, &infos, &x0, &start_spec, settings, progress)?;
    progress.stage("fit", starts.len() as u64);
    let mut best: Option<lm::Solution> = None;
    let limits = Limits {
        max_iterations: settings.max_iterations,
        ..Limits::default()
    };
    for s in &starts {
        let mut f = |x: &[f64]| prob.residual(x);
        let sol = lm::minimise(&mut f, s, &infos, limits, &mut |_, _| {
            check_cancelled(progress)
        })?;
        progress.advance(1);
        if best.as_ref().is_none_or(|b| sol.cost < b.cost) {
            best = Some(sol);
        }
    }
    let best = best.expect("at least one start");
    report::assemble(
        &mut prob,
        &original,
        &best,
        &x0,
        notes,
        started.elapsed().as_secs_f64(),
    )
}

/// Reads an extraction result and a spec file, and fits.
pub fn fit_file(
    result_path: &Path,
    spec_path: &Path,
    settings: &FitSettings,
    progress: &dyn Progress,
) -> Result<FitResult> {
    let ex = crate::data::extraction_file::read_extraction(result_path)?;
    let text = std::fs::read_to_string(spec_path)
        .map_err(|e| Error::io(spec_path.display().to_string(), e))?;
    fit(&ex, &text, settings, progress)
}

type Parameters = (Vec<Param>, Vec<ParamInfo>, Vec<f64>, [f64; 4], Vec<String>);

/// The moved parameters, their bounds and starts, the nuisance starts, and the notes on
/// what was fixed and why.
fn parameters(
    table: &FitTable,
    base: &toml::Value,
    spec: &KernelSpec,
    data: &FitData,
) -> Result<Parameters> {
    let mut params = Vec::new();
    let mut infos = Vec::new();
    let mut x0 = Vec::new();
    let mut notes = Vec::new();
    for name in table.bounds.keys() {
        if !table.free.contains(name) && Nuisance::from_name(name).is_none() {
            return Err(Error::invalid(format!(
                "[fit.bounds] names '{name}', which is neither in [fit] free nor a nuisance \
                 parameter ({})",
                Nuisance::ALL.map(|n| n.name()).join(", ")
            )));
        }
    }
    let bounds_of = |name: &str| -> Result<Option<(f64, f64)>> {
        match table.bounds.get(name) {
            Some(&[lo, hi]) if lo < hi && !lo.is_nan() && !hi.is_nan() => Ok(Some((lo, hi))),
            Some(b) => Err(Error::invalid(format!(
                "[fit.bounds] '{name}' = {b:?} must be [min, max] with min < max"
            ))),
            None => Ok(None),
        }
    };
    for (i, p) in table.free.iter().enumerate() {
        if table.free[..i].contains(p) {
            return Err(Error::invalid(format!("[fit] free names '{p}' twice")));
        }
        let v = path::get(base, p)?;
        let (lo, hi) = match bounds_of(p)? {
            Some(b) => b,
            // A mass or a broadening must stay positive for the model to exist.
            None if p.ends_with("effective_mass") || p.ends_with("broadening_ev") => {
                (1e-4, f64::INFINITY)
            }
            None => (f64::NEG_INFINITY, f64::INFINITY),
        };
        if !(lo..=hi).contains(&v) {
            return Err(Error::invalid(format!(
                "'{p}' starts at {v}, outside its bounds [{lo}, {hi}]"
            )));
        }
        params.push(Param::Spec(p.clone()));
        infos.push(ParamInfo {
            lower: lo,
            upper: hi,
            step: 1e-5 * v.abs().max(0.01),
        });
        x0.push(v);
    }
    let continuum = matches!(spec.model, ModelSpec::Parabolic { .. });
    let mass_free = table.free.iter().any(|p| p.ends_with("effective_mass"));
    let one_energy = data.energies_ev.len() == 1;
    let nuisance_start = [0.0, 0.0, 1.0, spec.render.rotation_deg];
    for n in Nuisance::ALL {
        let fixed_reason = if table.fixed.iter().any(|f| f == n.name()) {
            Some("held by [fit] fixed".to_string())
        } else if n == Nuisance::Rotation && continuum {
            Some("a continuum kernel is isotropic: the rotation has no effect".to_string())
        } else if n == Nuisance::PixelCalibration && continuum && mass_free {
            Some(
                "degenerate with the effective mass (a continuum kernel depends on m* c^2): \
                 fixed to 1"
                    .to_string(),
            )
        } else if n == Nuisance::PixelCalibration && one_energy {
            Some(
                "degenerate with the band's length scale (overall hopping scale or mass) at \
                 one energy: fixed to 1"
                    .to_string(),
            )
        } else {
            None
        };
        let start = nuisance_start[n as usize];
        if let Some(reason) = fixed_reason {
            notes.push(format!("{}: {reason}", n.name()));
            continue;
        }
        let (dlo, dhi, step) = n.default_bounds(start);
        let (lo, hi) = bounds_of(n.name())?.unwrap_or((dlo, dhi));
        params.push(Param::Nuisance(n));
        infos.push(ParamInfo {
            lower: lo,
            upper: hi,
            step,
        });
        x0.push(start.clamp(lo, hi));
    }
    for f in &table.fixed {
        if Nuisance::from_name(f).is_none() {
            return Err(Error::invalid(format!(
                "[fit] fixed names '{f}'; only nuisance parameters can be held ({}); a spec \
                 value is held by leaving it out of free",
                Nuisance::ALL.map(|n| n.name()).join(", ")
            )));
        }
    }
    Ok((params, infos, x0, nuisance_start, notes))
}

/// Refuses a fit whose Jacobian and images would not fit in the memory budget.
fn check_budget(data: &FitData, params: usize, budget: MemoryBudget) -> Result<()> {
    let pixels = data.kernels.len() as u64;
    let needed = pixels
        .checked_mul(params as u64 + 8)
        .and_then(|v| v.checked_mul(8));
    budget.check(
        &format!("a fit of {params} parameters to {pixels} kernel pixels"),
        needed,
    )
}

/// The solver's starts: the spec's values, then the best points of a coarse grid over the
/// free values' ranges (their bounds, or 30 % either side of the start where unbounded),
/// evaluated on a few energies spread over the series with the nuisance at its start.
fn coarse_starts(
    prob: &mut Problem,
    infos: &[ParamInfo],
    x0: &[f64],
    spec: &KernelSpec,
    settings: &FitSettings,
    progress: &dyn Progress,
) -> Result<Vec<Vec<f64>>> {
    let free: Vec<usize> = (0..x0.len())
        .filter(|&i| matches!(prob.params[i], Param::Spec(_)))
        .collect();
    let continuum = matches!(spec.model, ModelSpec::Parabolic { .. });
    let budget = settings
        .coarse_points
        .unwrap_or(if continuum { 81 } else { 9 });
    let per_axis = (budget as f64).powf(1.0 / free.len().max(1) as f64).floor() as usize;
    if settings.starts <= 1 || per_axis < 2 || free.is_empty() {
        return Ok(vec![x0.to_vec()]);
    }
    let ranges: Vec<(f64, f64)> = free
        .iter()
        .map(|&i| {
            let (p, v) = (&infos[i], x0[i]);
            let half = (0.3 * v.abs()).max(0.05);
            let lo = if p.lower.is_finite() {
                p.lower
            } else {
                v - half
            };
            let hi = if p.upper.is_finite() {
                p.upper
            } else {
                v + half
            };
            (lo.max(p.lower), hi.min(p.upper))
        })
        .collect();
    let e = prob.data.energies_ev.len();
    let used = settings.coarse_energies.clamp(1, e);
    let subset: Vec<usize> = (0..used)
        .map(|k| {
            if used == 1 {
                e / 2
            } else {
                k * (e - 1) / (used - 1)
            }
        })
        .collect();
    prob.energy_subset = Some(subset);
    let total = per_axis.pow(free.len() as u32);
    progress.stage("coarse search", total as u64);
    let mut scored: Vec<(f64, Vec<f64>)> = Vec::with_capacity(total);
    for index in 0..total {
        check_cancelled(progress)?;
        let mut x = x0.to_vec();
        let mut rest = index;
        for (k, &i) in free.iter().enumerate() {
            let step = rest % per_axis;
            rest /= per_axis;
            let (lo, hi) = ranges[k];
            // Cell centres, so no point sits on a bound where a model may not exist.
            x[i] = lo + (step as f64 + 0.5) * (hi - lo) / per_axis as f64;
        }
        let r = prob.residual(&x);
        let cost = r?.iter().map(|v| v * v).sum::<f64>();
        scored.push((cost, x));
        progress.advance(1);
    }
    prob.energy_subset = None;
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = vec![x0.to_vec()];
    out.extend(scored.into_iter().take(settings.starts - 1).map(|(_, x)| x));
    Ok(out)
}

#[cfg(test)]
mod tests;
