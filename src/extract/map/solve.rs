//! [`extract_map`]: the choice of smoothness, decay and symmetry, the fits of every energy,
//! and the result in the map's units (the checks before any work are in [`super::inputs`]).

use super::Extraction;
use super::background::Basis;
use super::fit::{FitOptions, Problem, State};
use super::heldout::{Blocks, Folds, Scorer, bootstrap_std};
use super::inputs::{
    check_inputs, check_memory, check_positions, check_work, choose_kernel_size, memory_needed,
    valid_pixels,
};
use super::operator::Stamper;
use super::settings::{MapSettings, SymmetryChoice, Weight};
use super::symmetry::{Symmetry, mirror_axis_deg};
use crate::data::map_data::MapData;
use crate::progress::Progress;
use crate::{Error, Result};
use ndarray::{Array2, Array3, Array4};
use rayon::prelude::*;

/// Smoothness weights tried by `Smoothness::Auto`.
const SMOOTHNESS_GRID: [f64; 4] = [0.3, 0.1, 0.03, 0.01];
/// Decay weights tried by `decay = auto`, after the smoothness (chosen at the provisional
/// decay, which is not tried twice).
const DECAY_GRID: [f64; 4] = [0.0, 0.1, 1.0, 3.0];
/// Symmetries tried by `SymmetryChoice::Auto` after none: rotation order (1 = isotropic) and
/// mirrors.
const SYMMETRY_GRID: [(u32, bool); 10] = [
    (0, true),
    (2, false),
    (2, true),
    (4, false),
    (4, true),
    (3, false),
    (3, true),
    (6, false),
    (6, true),
    (1, false),
];
/// Symmetries scoring within this held-out R^2 of the best are as good: the most constrained
/// of them is chosen.
const SYMMETRY_MARGIN: f64 = 1e-3;

/// How many conditions a point group puts on a kernel: the group's order (a circle the most).
fn constraint(sym: Symmetry) -> u32 {
    match (sym.order, sym.mirror) {
        (1, _) => u32::MAX,
        (0, false) => 1,
        (0, true) => 2,
        (n, m) => n * (1 + u32::from(m)),
    }
}
/// Smoothness and decay of the first whole-map fit, before the held-out choice.
const PROVISIONAL_SMOOTHNESS: f64 = 0.03;
const PROVISIONAL_DECAY: f64 = 1.0;

/// The penalties and the symmetry of a layer's fit.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Chosen {
    smoothness: f64,
    decay: f64,
    symmetry: Symmetry,
}
/// Alternations of warm-started fits (held-out halves, refits, stack layers).
const FOLD_OUTER: usize = 2;

/// What one energy's fit produced.
struct Layer {
    state: State,
    std: Vec<f64>,
    heldout_r2: f64,
    fit_r2: f64,
    chosen: Chosen,
    /// The background alone leaves less than [`FLAT`] of the map's variance: nothing for a
    /// kernel to explain.
    flat: bool,
}

/// A layer whose background alone leaves less than this fraction of its variance (about its
/// mean) is its background, within rounding: a constant or an exact plane.
const FLAT: f64 = 1e-10;
/// A held-out R^2 below this is absurd (the kernel more than doubles the held-out residual of
/// the background alone): it is refused, not returned.
const ABSURD_R2: f64 = -1.0;

/// The weights a setting tries: the grid when `auto`, else the one given.
fn weights(setting: Weight, grid: &[f64]) -> Vec<f64> {
    match setting {
        Weight::Auto => grid.to_vec(),
        Weight::Fixed(v) => vec![v],
    }
}

/// Smoothness, decay and symmetry for a layer, by held-out score, with that score. The
/// smoothness is chosen first (at the provisional decay), then the decay, then the symmetry.
/// The two halves start from `start` (a fit of the whole map, whose refined positions they
/// keep) and each setting from the previous one's halves.
fn choose(
    scorer: &Scorer,
    start: &State,
    settings: &MapSettings,
    opt: &FitOptions,
) -> (Chosen, f64) {
    let fixed_sym = match settings.symmetry {
        SymmetryChoice::None => Some(Symmetry::NONE),
        SymmetryChoice::Rotation(n) => Some(Symmetry::rotation(n)),
        SymmetryChoice::Mirror(n) => Some(Symmetry {
            order: n,
            mirror: true,
        }),
        SymmetryChoice::Auto => None,
    };
    let sym0 = fixed_sym.unwrap_or(Symmetry::NONE);
    let decays = weights(settings.decay, &DECAY_GRID);
    let nu0 = settings.decay.fixed_or(PROVISIONAL_DECAY);
    let mut best: Option<(Chosen, f64, Folds)> = None;
    let mut warm = Folds {
        a: start.clone(),
        b: start.clone(),
    };
    // Once cancelled, no further setting is tried (the fits would stop at once, but their
    // scoring would still cost a residual per fold: 0.7 s on a 1024^2 map of 2,000 defects).
    let mut try_one = |c: Chosen, best: &mut Option<(Chosen, f64, Folds)>| {
        if scorer.a.stopped() {
            return;
        }
        let o = FitOptions {
            smoothness: c.smoothness,
            decay: c.decay,
            symmetry: sym0,
            refine_px: 0.0,
            outer: FOLD_OUTER,
            ..*opt
        };
        let folds = scorer.fit(Some(&warm), &o);
        let r2 = scorer.score(&folds, sym0, &o);
        if best.as_ref().is_none_or(|b| r2 > b.1) {
            *best = Some((c, r2, folds.clone()));
        }
        warm = folds;
    };
    for mu in weights(settings.smoothness, &SMOOTHNESS_GRID) {
        let c = Chosen {
            smoothness: mu,
            decay: nu0,
            symmetry: sym0,
        };
        try_one(c, &mut best);
    }
    let Some(mu) = best.as_ref().map(|b| b.0.smoothness) else {
        // Cancelled before any setting was scored: the caller reports the cancellation.
        let c = Chosen {
            smoothness: settings.smoothness.fixed_or(PROVISIONAL_SMOOTHNESS),
            decay: nu0,
            symmetry: sym0,
        };
        return (c, f64::NAN);
    };
    for &nu in decays.iter().filter(|&&nu| nu != nu0) {
        let c = Chosen {
            smoothness: mu,
            decay: nu,
            symmetry: sym0,
        };
        try_one(c, &mut best);
    }
    let (chosen, r2, folds) = best.expect("the grid is never empty");
    if fixed_sym.is_some() {
        return (chosen, r2);
    }
    let o = FitOptions {
        smoothness: chosen.smoothness,
        decay: chosen.decay,
        symmetry: Symmetry::NONE,
        ..*opt
    };
    // The most constrained group that scores within the margin of the best: a kernel that is
    // isotropic scores as well projected onto 6mm as onto a circle, and is isotropic.
    let mut scored = vec![(Symmetry::NONE, r2)];
    for &(order, mirror) in &SYMMETRY_GRID {
        if scorer.a.stopped() {
            break;
        }
        let sym = Symmetry { order, mirror };
        scored.push((sym, scorer.score(&folds, sym, &o)));
    }
    let top = scored.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
    let pick = scored
        .iter()
        .filter(|x| x.1 >= top - SYMMETRY_MARGIN)
        .max_by(|a, b| {
            constraint(a.0)
                .cmp(&constraint(b.0))
                .then(a.1.total_cmp(&b.1))
        })
        .copied()
        .unwrap_or((Symmetry::NONE, r2));
    (
        Chosen {
            symmetry: pick.0,
            ..chosen
        },
        pick.1,
    )
}

/// Fit one layer: choose (or take) smoothness, decay and symmetry, score, fit all, bootstrap.
#[allow(clippy::too_many_arguments)]
fn fit_layer(
    y: &[f64],
    valid: &[f64],
    stamper: &Stamper,
    basis: &Basis,
    blocks: &Blocks,
    settings: &MapSettings,
    forced: Option<Chosen>,
    start: Option<State>,
    opt: &FitOptions,
    progress: &dyn Progress,
) -> Layer {
    let make = |weights: Vec<f64>| Problem::new(stamper, basis, y, weights).cancellable(progress);
    let all = make(valid.to_vec());
    // 1. The whole map at provisional settings: kernel, amplitudes, refined positions.
    let provisional = forced.unwrap_or(Chosen {
        smoothness: settings.smoothness.fixed_or(PROVISIONAL_SMOOTHNESS),
        decay: settings.decay.fixed_or(PROVISIONAL_DECAY),
        symmetry: Symmetry::NONE,
    });
    let first = FitOptions {
        smoothness: provisional.smoothness,
        decay: provisional.decay,
        symmetry: provisional.symmetry,
        outer: if start.is_some() {
            FOLD_OUTER
        } else {
            opt.outer
        },
        ..*opt
    };
    let from = start.unwrap_or_else(|| State::start(stamper, basis));
    let mut state = all.fit(from, &first);
    // Cancelled: the caller returns Error::Cancelled; skip the scoring and the bootstrap.
    let cancelled = |state: State| Layer {
        std: vec![f64::NAN; state.kernel.len()],
        state,
        heldout_r2: f64::NAN,
        fit_r2: f64::NAN,
        flat: false,
        chosen: provisional,
    };
    if progress.cancelled() {
        return cancelled(state);
    }
    // 2. Held-out halves from that fit (positions kept): choose or score the settings.
    let (wa, wb) = blocks.halves(valid, settings.seed);
    let scorer = Scorer::new(make(wa), make(wb), settings.cg_iterations);
    let fixed = FitOptions {
        refine_px: 0.0,
        ..*opt
    };
    let (chosen, heldout_r2) = match forced {
        None => choose(&scorer, &state, settings, &fixed),
        Some(c) => {
            let o = FitOptions {
                smoothness: c.smoothness,
                decay: c.decay,
                symmetry: Symmetry::NONE,
                outer: 1,
                ..fixed
            };
            let warm = Folds {
                a: state.clone(),
                b: state.clone(),
            };
            let folds = scorer.fit(Some(&warm), &o);
            (c, scorer.score(&folds, c.symmetry, &o))
        }
    };
    if progress.cancelled() {
        return cancelled(state);
    }
    let o = FitOptions {
        smoothness: chosen.smoothness,
        decay: chosen.decay,
        symmetry: chosen.symmetry,
        ..fixed
    };
    // 3. The whole map again when the choice differs from the provisional settings.
    if chosen != provisional {
        state = all.fit(
            state,
            &FitOptions {
                outer: FOLD_OUTER,
                ..o
            },
        );
    }
    let bg = all.background_only_ss(settings.cg_iterations);
    let flat = {
        let n: f64 = valid.iter().filter(|v| **v > 0.0).count() as f64;
        let mean = y
            .iter()
            .zip(valid)
            .filter(|(_, v)| **v > 0.0)
            .map(|(x, _)| x)
            .sum::<f64>()
            / n.max(1.0);
        let energy: f64 = y
            .iter()
            .zip(valid)
            .filter(|(_, v)| **v > 0.0)
            .map(|(x, _)| (x - mean).powi(2))
            .sum();
        bg <= FLAT * energy
    };
    let fit_r2 = if bg > 0.0 {
        1.0 - all.residual_ss(&state) / bg
    } else {
        f64::NAN
    };
    let boot = bootstrap_std(
        &make,
        blocks,
        valid,
        &state,
        &o,
        settings.bootstrap,
        settings.seed,
    );
    let floor = all.noise_floor(&state, &o);
    // The larger of the two: the bootstrap sees model error and position scatter, the floor
    // the noise on pixels that only one defect reaches (where resampling sees nothing).
    let std = boot
        .iter()
        .zip(&floor)
        .map(|(b, f)| if b.is_finite() { b.max(*f) } else { *f })
        .collect();
    Layer {
        state,
        std,
        heldout_r2,
        fit_r2,
        chosen,
        flat,
    }
}

/// Extract the kernel of `map` (one type) from defects at known `positions` (`(row, col)`
/// pixels of the map, subpixel allowed; positions off the map count while their kernel
/// reaches it). Progress: one stage of E steps; cancellable between layers.
pub fn extract_map(
    map: &MapData,
    positions: &[[f64; 2]],
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    extract_map_typed(
        map,
        positions,
        &vec![0; positions.len()],
        settings,
        progress,
    )
}

/// [`extract_map`] with defects of several types, one kernel per type: defect `i` has type
/// `types[i]`, types numbered `0..T` with at least one defect each.
pub fn extract_map_typed(
    map: &MapData,
    positions: &[[f64; 2]],
    types: &[u8],
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    let kinds = check_inputs(map, positions, types, settings)?;
    let (e, h, w) = map.data.dim();
    let n = positions.len();
    // Work limits that need only the sizes (repeated below with the valid pixels).
    check_work(e, n, settings.kernel_size.unwrap_or(1), h.saturating_mul(w))?;
    // Before any map-sized buffer: the smallest kernel the size choice can give (the check
    // below repeats it with the kernel chosen).
    let s_min = settings.kernel_size.unwrap_or(3);
    check_memory(
        memory_needed(e, h, w, s_min, n, kinds, settings),
        (e, h, w),
        s_min,
        settings,
    )?;
    let (valid, valid_count) = valid_pixels(map)?;
    let s = choose_kernel_size(settings, h, w, valid_count, n)?;
    check_positions(positions, h, w, s)?;
    let basis = Basis::new(settings.background, h, w);
    // The kernel is held by its smoothness prior even where few pixels see it; each defect's
    // amplitude and the background need data of their own.
    if 2 * (n + basis.len()) > valid_count {
        return Err(Error::invalid(format!(
            "too many defects for this map: {n} defects need at least {} valid pixels, the map has {valid_count}; give fewer defects (is the mask inverted?)",
            2 * (n + basis.len())
        )));
    }
    check_work(e, n, s, valid_count)?;
    check_memory(
        memory_needed(e, h, w, s, n, kinds, settings),
        (e, h, w),
        s,
        settings,
    )?;
    let layers_data: Vec<Vec<f64>> = map
        .data
        .outer_iter()
        .map(|layer| {
            let mut y = crate::budget::try_vec("a layer of the map", h * w, 0.0)?;
            for (v, &x) in y.iter_mut().zip(layer.iter()) {
                if x.is_finite() {
                    *v = x as f64;
                }
            }
            Ok(y)
        })
        .collect::<Result<_>>()?;
    for (i, y) in layers_data.iter().enumerate() {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, v) in y.iter().zip(&valid) {
            if *v > 0.0 {
                lo = lo.min(*x);
                hi = hi.max(*x);
            }
        }
        if lo == hi {
            return Err(Error::invalid(format!(
                "layer {i} of the map is constant ({lo}): there is nothing to extract"
            )));
        }
    }
    let stamper = Stamper::new(h, w, s, positions).with_types(types.to_vec(), kinds);
    let blocks = Blocks::for_kernel(h, w, s, settings.block_px);
    let opt = FitOptions {
        smoothness: 0.0,
        decay: 0.0,
        refine_px: settings.refine_positions_px,
        symmetry: Symmetry::NONE,
        outer: settings.outer_iterations,
        cg_iterations: settings.cg_iterations,
        tol: 1e-4,
    };
    progress.stage("extracting kernels", e as u64);
    // Stacks: smoothness and symmetry are chosen on the layer of largest variance and used for
    // every layer, so the kernels of a stack are comparable.
    // Positions are refined there too and then held fixed for every layer.
    let (forced, stamper, opt, start) = if e > 1 {
        let pick = loudest_layer(&layers_data, &valid);
        let l = fit_layer(
            &layers_data[pick],
            &valid,
            &stamper,
            &basis,
            &blocks,
            settings,
            None,
            None,
            &opt,
            progress,
        );
        let moved = stamper.moved(l.state.stamper.positions.clone());
        let fixed = FitOptions {
            refine_px: 0.0,
            ..opt
        };
        (Some(l.chosen), moved, fixed, Some(l.state))
    } else {
        (None, stamper, opt, None)
    };
    crate::progress::check_cancelled(progress)?;
    let mut layers: Vec<Layer> = Vec::with_capacity(e);
    let chunk = rayon::current_num_threads().max(1);
    for idx in (0..e).collect::<Vec<_>>().chunks(chunk) {
        let done: Vec<Layer> = idx
            .par_iter()
            .map(|&i| {
                fit_layer(
                    &layers_data[i],
                    &valid,
                    &stamper,
                    &basis,
                    &blocks,
                    settings,
                    forced,
                    start.clone(),
                    &opt,
                    progress,
                )
            })
            .collect();
        layers.extend(done);
        progress.advance(idx.len() as u64);
        crate::progress::check_cancelled(progress)?;
    }
    assemble(map, settings, s, &basis, &layers_data, &valid, layers)
}

/// The layer of largest variance over the valid pixels (0 for none): where a stack's
/// positions are refined and its settings chosen.
pub(crate) fn loudest_layer(layers: &[Vec<f64>], valid: &[f64]) -> usize {
    (0..layers.len())
        .max_by(|&a, &b| variance(&layers[a], valid).total_cmp(&variance(&layers[b], valid)))
        .unwrap_or(0)
}

fn variance(y: &[f64], valid: &[f64]) -> f64 {
    let (mut s1, mut s2, mut n) = (0.0, 0.0, 0.0);
    for (x, v) in y.iter().zip(valid) {
        if *v > 0.0 {
            s1 += x;
            s2 += x * x;
            n += 1.0;
        }
    }
    if n > 0.0 {
        s2 / n - (s1 / n).powi(2)
    } else {
        0.0
    }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    map: &MapData,
    settings: &MapSettings,
    s: usize,
    basis: &Basis,
    layers_data: &[Vec<f64>],
    valid: &[f64],
    layers: Vec<Layer>,
) -> Result<Extraction> {
    let (e, h, w) = map.data.dim();
    if layers.iter().all(|l| l.flat) {
        return Err(Error::invalid(
            "the map is its background alone (a constant or a plane, to rounding): there is no pattern for a kernel to explain",
        ));
    }
    if let Some((i, l)) = layers
        .iter()
        .enumerate()
        .find(|(_, l)| !l.flat && (l.heldout_r2.is_nan() || l.heldout_r2 < ABSURD_R2))
    {
        return Err(Error::invalid(format!(
            "the held-out score of layer {i} is {} (the kernel fits pixels it was not fitted to far worse than the background alone): the positions do not match the map's defects, or the map holds none",
            l.heldout_r2
        )));
    }
    let positions = &layers[0].state.stamper.positions;
    let types = layers[0].state.stamper.types.clone();
    let kinds = layers[0].state.stamper.kinds;
    let n = positions.len();
    let mut kernels = Array4::<f32>::zeros((kinds, e, s, s));
    let mut kernel_std = Array4::<f32>::zeros((kinds, e, s, s));
    let mut amplitudes = Array2::<f32>::zeros((n, e));
    let mut residual = Array3::<f32>::zeros((e, h, w));
    let mut background = Array3::<f32>::zeros((e, h, w));
    for (li, layer) in layers.iter().enumerate() {
        for t in 0..kinds {
            let block = t * s * s..(t + 1) * s * s;
            for (dst, &v) in kernels
                .slice_mut(ndarray::s![t, li, .., ..])
                .iter_mut()
                .zip(&layer.state.kernel[block.clone()])
            {
                *dst = v as f32;
            }
            for (dst, &v) in kernel_std
                .slice_mut(ndarray::s![t, li, .., ..])
                .iter_mut()
                .zip(&layer.std[block])
            {
                *dst = v as f32;
            }
        }
        for (i, &a) in layer.state.amplitudes.iter().enumerate() {
            amplitudes[[i, li]] = a as f32;
        }
        let mut bg = vec![0.0; h * w];
        basis.add(&layer.state.beta, &mut bg);
        let mut model = bg.clone();
        let st = &layer.state.stamper;
        st.add_defect_stamps(&layer.state.kernel, &layer.state.amplitudes, &mut model);
        for p in 0..h * w {
            let (r, c) = (p / w, p % w);
            background[[li, r, c]] = bg[p] as f32;
            residual[[li, r, c]] = if valid[p] > 0.0 {
                (layers_data[li][p] - model[p]) as f32
            } else {
                f32::NAN
            };
        }
    }
    if kernels.iter().any(|v| !v.is_finite()) || amplitudes.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "the fit gave non-finite values (the map's values may be too large or too small to square in double precision)",
        ));
    }
    let settings_toml = toml::to_string(settings).unwrap_or_default();
    let sym = layers
        .first()
        .map(|l| l.chosen.symmetry)
        .unwrap_or(Symmetry::NONE);
    // The mirror line of each type, measured on the first layer's kernel (every layer is
    // projected onto the same group).
    let mirror_axis_deg = (0..kinds)
        .map(|t| match (sym.mirror, layers.first()) {
            (true, Some(l)) if sym.order != 1 => {
                mirror_axis_deg(&l.state.kernel[t * s * s..(t + 1) * s * s], s, sym.order)
            }
            _ => f64::NAN,
        })
        .collect();
    Ok(Extraction {
        kernels,
        kernel_std,
        positions: positions
            .iter()
            .map(|p| [p[0] as f32, p[1] as f32])
            .collect(),
        types,
        amplitudes,
        residual,
        background,
        heldout_r2: layers.iter().map(|l| l.heldout_r2).collect(),
        fit_r2: layers.iter().map(|l| l.fit_r2).collect(),
        symmetry: sym.order,
        mirror_axis_deg,
        smoothness: layers.iter().map(|l| l.chosen.smoothness).collect(),
        decay: layers.iter().map(|l| l.chosen.decay).collect(),
        pixel_size_m: map.pixel_size_m,
        value_unit: map.value_unit.clone(),
        energies_ev: map.energies_ev.clone(),
        method: "forward".into(),
        settings_toml,
        excluded: Array2::zeros((h, w)),
        notes: String::new(),
        control_heldout_r2: f64::NAN,
        provenance: Default::default(),
    })
}
