//! Blind and multi-type extraction: defects, their types and their kernels from the map
//! alone, `Y = sum_t K_t * X_t + B + noise` with sparse activations `X_t`.
//!
//! The search ([`search`]) alternates greedy detection with the kernels held
//! ([`clean`], a matched-filter CLEAN) and the map engine's least-squares fit with the
//! detections held, adding one type at a time. The defects it finds then go to the map engine
//! ([`crate::extract::map::extract_map_typed`]), which chooses smoothness and symmetry by the
//! held-out score, refines the positions and reports the standard error: a blind result is a
//! forward result on positions the map itself gave.
//!
//! # Ambiguities, resolved
//! - **Shift.** Each kernel is centred on its impurity: the centre of its inversion symmetry
//!   when it has one (found up to S/4 from the window's centre), otherwise the strongest
//!   extremum of the smoothed kernel (also within S/4).
//! - **Sign.** Amplitudes are positive on average per type.
//! - **Scale.** Mean amplitude 1 per type, so each kernel carries the map's unit.
//! - **Types.** Given defects (a mask, a list, a topography) are type 0 when there are any;
//!   blind types follow in the order found, the strongest first.

pub mod clean;
pub mod correlate;
pub mod search;

use crate::data::map_data::MapData;
use crate::extract::map::background::Basis;
use crate::extract::map::solve::{
    check_memory, choose_kernel_size, extract_map_typed, memory_needed, valid_pixels,
};
use crate::extract::map::{Extraction, MapSettings, TypeCount};
use crate::progress::{Progress, check_cancelled};
use crate::{Error, Result};
use search::{Found, Search};

/// Below this held-out R^2 a blind result explains nothing, and is refused.
pub const MIN_HELDOUT_R2: f64 = 0.01;
/// Held-out R^2 a further type must add to be chosen by `types = auto`.
pub const TYPE_PENALTY: f64 = 0.01;
/// Kernel size of the first search when the size is automatic (then chosen from the count).
const FIRST_KERNEL: usize = 41;

/// The search's map for a stack: the layers' first principal component, `sum_e w_e (Y_e -
/// mean_e)` with `w` the top eigenvector of the layers' covariance (power iteration). When
/// defects keep their relative strength across energies, it is the map of one kernel,
/// `sum_e w_e K_e`, with the evidence of every energy and the least noise; a single map is
/// itself. Missing pixels are 0.
fn principal_map(map: &MapData, valid: &[f64]) -> Vec<f64> {
    let (e, h, w) = map.data.dim();
    let layers: Vec<Vec<f64>> = map
        .data
        .outer_iter()
        .map(|l| {
            let v: Vec<f64> = l
                .iter()
                .zip(valid)
                .map(|(x, m)| if *m > 0.0 { *x as f64 } else { 0.0 })
                .collect();
            let n = valid.iter().sum::<f64>().max(1.0);
            let mean = v.iter().sum::<f64>() / n;
            v.iter()
                .zip(valid)
                .map(|(x, m)| if *m > 0.0 { x - mean } else { 0.0 })
                .collect()
        })
        .collect();
    if e == 1 {
        return layers
            .into_iter()
            .next()
            .unwrap_or_else(|| vec![0.0; h * w]);
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov: Vec<f64> = (0..e * e)
        .map(|i| dot(&layers[i / e], &layers[i % e]))
        .collect();
    // Start from the loudest layer; the covariance is positive semi-definite.
    let mut v: Vec<f64> = (0..e).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    if let Some(l) = (0..e).max_by(|&a, &b| cov[a * e + a].total_cmp(&cov[b * e + b])) {
        v = (0..e).map(|i| if i == l { 1.0 } else { 0.0 }).collect();
    }
    for _ in 0..100 {
        let next: Vec<f64> = (0..e).map(|i| dot(&cov[i * e..(i + 1) * e], &v)).collect();
        let norm = dot(&next, &next).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        v = next.iter().map(|x| x / norm).collect();
    }
    let mut out = vec![0.0; h * w];
    for (layer, wt) in layers.iter().zip(&v) {
        for (o, x) in out.iter_mut().zip(layer) {
            *o += wt * x;
        }
    }
    out
}

/// Bytes the search holds at once for a `[e, h, w]` map, a kernel of `s` and `types` kernel
/// types (saturating): the principal map and its working copies (blur, residuals, masks, one
/// fit's buffers: about `e + 24` map-sized f64 arrays), two response maps per type, and the
/// correlator's padded spectra (the map's, the mask's, each kernel's and one product).
fn search_memory(e: usize, h: usize, w: usize, s: usize, types: usize) -> u64 {
    let [e, h, w, t] = [e, h, w, types].map(|x| x as u64);
    let px = h.saturating_mul(w);
    let maps = e
        .saturating_add(24)
        .saturating_add(2 * t)
        .saturating_mul(px)
        .saturating_mul(8);
    let rows = correlate::fast_size(h as usize + s) as u64;
    let half = correlate::fast_size(w as usize + s) as u64 / 2 + 1;
    let spectra = rows
        .saturating_mul(half)
        .saturating_mul(16)
        .saturating_mul(t + 4);
    maps.saturating_add(spectra)
}

/// Refuses, before any map-sized allocation, a blind extraction whose search or final fit
/// needs more than the memory budget.
fn check_budget(map: &MapData, known: bool, settings: &MapSettings) -> Result<()> {
    let (e, h, w) = map.data.dim();
    let s = settings
        .kernel_size
        .unwrap_or(FIRST_KERNEL.min(h.min(w)))
        .max(3);
    let types = match settings.types {
        TypeCount::Fixed(t) => t,
        TypeCount::Auto => MapSettings::MAX_AUTO_TYPES,
    } + usize::from(known);
    // The final fit of at least one defect per type (its count is unknown yet).
    let fit = memory_needed(e, h, w, s, types, types, settings);
    let need = fit.max(search_memory(e, h, w, s, types));
    check_memory(need, (e, h, w), s, settings)
}

/// Defects and kernels of `map` found blind, beyond the given `known` positions (which may be
/// empty): `settings.types` blind types (given defects are one more type, 0). Progress and
/// cancel as [`crate::extract::map::extract_map`].
pub fn extract_blind(
    map: &MapData,
    known: &[[f64; 2]],
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    settings.validate()?;
    let (e, h, w) = map.data.dim();
    if e == 0 || h < 5 || w < 5 {
        return Err(Error::invalid(format!(
            "the map ({e} x {h} x {w}) is too small for a blind search: at least 5 x 5 pixels are needed"
        )));
    }
    check_budget(map, !known.is_empty(), settings)?;
    progress.stage("blind search", 0);
    check_cancelled(progress)?;
    let (valid, valid_count) = valid_pixels(map)?;
    let y = principal_map(map, &valid);
    let (lo, hi) = y
        .iter()
        .zip(&valid)
        .filter(|(_, v)| **v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
    if lo == hi {
        return Err(Error::invalid(
            "the map is constant: there is nothing to extract",
        ));
    }
    let basis = Basis::new(settings.background, h, w);
    let search = Search {
        y: &y,
        valid: &valid,
        height: h,
        width: w,
        basis: &basis,
        known,
        detection_sigma: settings.detection_sigma,
        cg_iterations: settings.cg_iterations,
        max_defects: valid_count / 16,
    };
    let counts: Vec<usize> = match settings.types {
        TypeCount::Fixed(t) => vec![t],
        TypeCount::Auto => (1..=MapSettings::MAX_AUTO_TYPES).collect(),
    };
    let mut best: Option<Extraction> = None;
    for t in counts {
        let Some(found) = find(&search, settings, t, valid_count, progress)? else {
            break;
        };
        let ex = finish(map, &found, settings, progress)?;
        let better = best
            .as_ref()
            .is_none_or(|b| ex.heldout_r2_mean() > b.heldout_r2_mean() + TYPE_PENALTY);
        if !better {
            break;
        }
        best = Some(ex);
    }
    let Some(ex) = best else {
        return Err(Error::invalid(
            "no defects found: no position of the map fits a repeated pattern above the detection threshold (a map without defects, or too noisy; lower detection_sigma to search deeper)",
        ));
    };
    let r2 = ex.heldout_r2_mean();
    if r2.is_nan() || r2 < MIN_HELDOUT_R2 {
        return Err(Error::invalid(format!(
            "no defects found: the blind search's best kernel explains {:.3} of the held-out half of the map (below {MIN_HELDOUT_R2}); the map shows no repeated defect pattern",
            ex.heldout_r2_mean()
        )));
    }
    Ok(ex)
}

/// The search with `blind_types` types at the caller's kernel size, or at the size that the
/// count of defects found at a first size gives.
fn find(
    search: &Search,
    settings: &MapSettings,
    blind_types: usize,
    valid_count: usize,
    progress: &dyn Progress,
) -> Result<Option<Found>> {
    let (h, w) = (search.height, search.width);
    if let Some(s) = settings.kernel_size {
        return search.run(s, blind_types, progress);
    }
    // The largest odd size up to FIRST_KERNEL that fits the map.
    let first = (FIRST_KERNEL.min(h.min(w)) - 1) | 1;
    let Some(found) = search.run(first, blind_types, progress)? else {
        return Ok(None);
    };
    let s = choose_kernel_size(settings, h, w, valid_count, found.positions.len())?;
    if s == first {
        return Ok(Some(found));
    }
    search.run(s, blind_types, progress)
}

/// The map engine on the defects found: kernels per type and energy, held-out score, error.
fn finish(
    map: &MapData,
    found: &Found,
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    let engine = MapSettings {
        kernel_size: Some(found.kernel_size),
        refine_positions_px: settings.refine_positions_px.min(1.0),
        ..settings.clone()
    };
    let mut ex = extract_map_typed(map, &found.positions, &found.types, &engine, progress)?;
    ex.method = "blind".into();
    ex.settings_toml = toml::to_string(settings).unwrap_or_default();
    Ok(ex)
}
