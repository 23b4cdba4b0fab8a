//! What the map engine checks before it works ([`super::solve`]): the settings, the map's
//! shape and pixel size, the kernel size (the caller's or one from the defect spacing), the
//! memory the extraction needs against the budget, the work it would do, and where the
//! defects are. Each refusal names what to change.

use super::settings::MapSettings;
use crate::data::map_data::MapData;
use crate::{Error, Result};

/// The kernel size: the caller's, or 1.5 x the mean defect spacing, odd, within the map.
pub fn choose_kernel_size(
    settings: &MapSettings,
    h: usize,
    w: usize,
    valid: usize,
    n: usize,
) -> Result<usize> {
    let side = h.min(w);
    if let Some(s) = settings.kernel_size {
        // Up to twice the map: a defect anywhere on the map reaches every pixel of it.
        if s > 2 * side - 1 {
            return Err(Error::invalid(format!(
                "the kernel ({s} x {s} pixels) is larger than the map ({h} x {w}) can constrain: choose a kernel size of at most {}",
                2 * side - 1
            )));
        }
        return Ok(s);
    }
    if side < 5 {
        return Err(Error::invalid(format!(
            "the map ({h} x {w} pixels) is too small to extract a kernel from: at least 5 x 5 is needed"
        )));
    }
    let spacing = (valid as f64 / n.max(1) as f64).sqrt();
    let mut s = (1.5 * spacing).round() as usize;
    s = s.clamp(9, MapSettings::MAX_AUTO_KERNEL).min(side);
    if s % 2 == 0 {
        s -= 1;
    }
    Ok(s.max(3))
}

/// Memory the extraction needs, in bytes (inputs excluded), for the budget check; saturates
/// instead of overflowing.
pub(crate) fn memory_needed(
    e: usize,
    h: usize,
    w: usize,
    s: usize,
    n: usize,
    kinds: usize,
    settings: &MapSettings,
) -> u64 {
    let [e, h, w, s, n, kinds] = [e, h, w, s, n, kinds].map(|x| x as u64);
    let px = h.saturating_mul(w);
    let s2 = s.saturating_mul(s);
    let threads = rayon::current_num_threads() as u64;
    // Result: residual, background (f32) and working copies of one energy per worker (f64):
    // data, weights x 4, model and residual buffers x ~8.
    let result = e.saturating_mul(px).saturating_mul(4 * 2);
    let per_fit = px
        .saturating_mul(8 * 14)
        .saturating_add(s2.saturating_mul(8 * 16))
        .saturating_add(n.saturating_mul(16 * 8 * 4));
    let concurrent = threads.max(1) * (1 + (settings.bootstrap as u64).min(threads));
    let types = kinds
        .saturating_sub(1)
        .saturating_mul(s2.saturating_mul(8 * 24));
    result
        .saturating_add(per_fit.saturating_mul(concurrent))
        .saturating_add(types)
}

/// Refuses an extraction of `memory_needed` bytes over the budget, as [`Error::OverBudget`].
pub(crate) fn check_memory(
    need: u64,
    (e, h, w): (usize, usize, usize),
    s: usize,
    settings: &MapSettings,
) -> Result<()> {
    if need > settings.memory_budget_bytes {
        return Err(Error::OverBudget(format!(
            "extracting from a {e} x {h} x {w} map with a {s} x {s} kernel needs about {} MiB, over the memory budget of {} MiB: raise the budget (map.memory_budget_bytes; --memory-budget in the CLI) or crop the map",
            need >> 20,
            settings.memory_budget_bytes >> 20
        )));
    }
    Ok(())
}

pub(super) fn check_inputs(
    map: &MapData,
    positions: &[[f64; 2]],
    types: &[u8],
    settings: &MapSettings,
) -> Result<usize> {
    settings.validate()?;
    crate::units::check_map_pixel_size_m(map.pixel_size_m)?;
    let (e, h, w) = map.data.dim();
    if e == 0 || h == 0 || w == 0 {
        return Err(Error::invalid(format!(
            "the map is empty ({e} x {h} x {w}): it needs at least one layer of at least 5 x 5 pixels"
        )));
    }
    if map.energies_ev.len() != e {
        return Err(Error::invalid(format!(
            "the map has {e} layers but {} energies",
            map.energies_ev.len()
        )));
    }
    if positions.is_empty() {
        return Err(Error::invalid(
            "no defects: give defect positions (a mask, a position list, or a topography channel)",
        ));
    }
    for (i, p) in positions.iter().enumerate() {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return Err(Error::invalid(format!(
                "defect {i} has a non-finite position ({}, {})",
                p[0], p[1]
            )));
        }
    }
    if types.len() != positions.len() {
        return Err(Error::invalid(format!(
            "{} defect types for {} positions: give one type per defect",
            types.len(),
            positions.len()
        )));
    }
    let kinds = types.iter().map(|&t| usize::from(t) + 1).max().unwrap_or(1);
    if kinds > MapSettings::MAX_TYPES {
        return Err(Error::invalid(format!(
            "{kinds} defect types: at most {} are supported",
            MapSettings::MAX_TYPES
        )));
    }
    if let Some(t) = (0..kinds).find(|&t| !types.iter().any(|&k| usize::from(k) == t)) {
        return Err(Error::invalid(format!(
            "type {t} has no defect: types must be numbered 0..T-1 with at least one defect each"
        )));
    }
    Ok(kinds)
}

/// The pixels finite in every layer (weight 1; the rest 0, left out) and their count; a map
/// without any is an error.
pub fn valid_pixels(map: &MapData) -> Result<(Vec<f64>, usize)> {
    let (_, h, w) = map.data.dim();
    let mut valid = crate::budget::try_vec("the map's valid pixels", h * w, 1.0f64)?;
    for layer in map.data.outer_iter() {
        for (v, x) in valid.iter_mut().zip(layer.iter()) {
            if !x.is_finite() {
                *v = 0.0;
            }
        }
    }
    let count = valid.iter().filter(|&&v| v > 0.0).count();
    if count == 0 {
        return Err(Error::invalid(
            "the map has no finite pixels (every pixel is NaN or infinite in some layer)",
        ));
    }
    Ok((valid, count))
}

/// At most one defect per this many valid pixels (a mean spacing of at least 4 pixels;
/// the blind search stops at the same density). Denser defects cannot be told apart by a
/// kernel of at least 9 pixels, and each costs a fit of its own amplitude and position:
/// 100,000 positions on a 512 x 512 map took 20 minutes.
const MIN_PIXELS_PER_DEFECT: usize = 16;
/// At most this much work per extraction: layers x defects x kernel pixels, the size of
/// the stamping that every solver iteration repeats (2^31: for example 2,000 defects with
/// a 129-pixel kernel on 64 layers).
const MAX_WORK: u64 = 1 << 31;

/// Refuses work beyond the stated limits (see [`MIN_PIXELS_PER_DEFECT`] and
/// [`MAX_WORK`]) before it starts.
pub(super) fn check_work(e: usize, n: usize, s: usize, valid_count: usize) -> Result<()> {
    let most = valid_count / MIN_PIXELS_PER_DEFECT;
    if n > most {
        return Err(Error::invalid(format!(
            "too many defects for this map: {n} defects on {valid_count} valid pixels; at most one defect per {} pixels ({most} here) is accepted (is the mask inverted?)",
            MIN_PIXELS_PER_DEFECT
        )));
    }
    let work = (e as u64)
        .saturating_mul(n as u64)
        .saturating_mul((s * s) as u64);
    if work > MAX_WORK {
        return Err(Error::invalid(format!(
            "too much work: {e} layers x {n} defects x a {s} x {s} kernel is {work} stamped pixels per solver iteration, more than the limit of {} (2^31); give fewer layers or defects, or a smaller kernel",
            MAX_WORK
        )));
    }
    Ok(())
}

/// Positions whose kernel cannot reach the map are errors.
pub(super) fn check_positions(positions: &[[f64; 2]], h: usize, w: usize, s: usize) -> Result<()> {
    let c = (s / 2) as f64;
    let reach = (s - 1) as f64 - c;
    for (i, p) in positions.iter().enumerate() {
        let inside = |x: f64, n: usize| x > -reach - 0.5 && x < (n - 1) as f64 + c + 0.5;
        if !(inside(p[0], h) && inside(p[1], w)) {
            return Err(Error::invalid(format!(
                "defect {i} at (row {}, col {}) lies outside the {h} x {w} map, beyond the reach of a {s} x {s} kernel",
                p[0], p[1]
            )));
        }
    }
    Ok(())
}
