//! The held-out score of a blind result, with kernels that never saw the held-out pixels,
//! and a structureless control.
//!
//! The map engine's held-out R^2 keeps the positions it was given. For a blind result those
//! positions were found on the whole map, held-out pixels included, and the search shaped its
//! kernel on them: on correlated noise it put "defects" on the held-out half's bumps, and the
//! score rewarded it (1/f noise gave 0.59-0.68). Here the held-out half is scored as a new map
//! would be:
//!
//! 1. The engine's blocks (side `S`, seeded) are dealt into halves A and B, as in
//!    [`crate::extract::map::heldout`].
//! 2. **Train on A** (B's pixels weigh 0): defects detected with the result's kernels
//!    ([`super::clean`]), kernels, amplitudes and background fitted to A at the result's
//!    smoothness, decay and symmetry (positions refined by at most [`REFINE_PX`] on the layer
//!    of largest variance, then shared by every layer).
//! 3. **Score on B** with A's kernels held: B's defects are detected afresh on B alone at the
//!    search's constant-false-alarm threshold (`detection_sigma^2` times the kernel's filter
//!    noise on B: bumps of correlated noise, a lattice or a checkerboard do not pass), their
//!    positions refined and amplitudes and background fitted on B; the kernels stay A's.
//! 4. The same with A and B swapped; per energy `R^2 = 1 - (SS_B + SS_A) / (SS_bg,B +
//!    SS_bg,A)`, the background-only residuals the baseline.
//!
//! **Control.** Step 3 with a dictionary of two structureless kernels, a bright and a dark
//! Gaussian blob (`sigma` in [`BLOB_SIGMAS_PX`] or the kernels' own width, the best kept),
//! on the layer of largest
//! variance: what bumps explain without any kernel structure under the same detection
//! budget. A kernel that scores no better than the blobs has shown nothing beyond a bump.

use super::clean::{CleanInput, clean, filter_noise};
use super::correlate::Correlator;
use crate::Result;
use crate::data::map_data::MapData;
use crate::extract::map::background::Basis;
use crate::extract::map::fit::{FitOptions, Problem, State};
use crate::extract::map::heldout::Blocks;
use crate::extract::map::operator::Stamper;
use crate::extract::map::solve::loudest_layer;
use crate::extract::map::symmetry::Symmetry;
use crate::extract::map::{Extraction, MapSettings};
use crate::progress::{Progress, check_cancelled};

/// How far a position found on one half may move as that half is fitted, in pixels.
const REFINE_PX: f64 = 0.5;
/// Widths of the control's blobs, in pixels, beside the kernels' own (see [`own_width`]).
const BLOB_SIGMAS_PX: [f64; 3] = [1.5, 3.0, 6.0];
/// Smallest distance between two detections, in pixels (as the search's).
const SEPARATION: f64 = 2.5;
/// Detections weaker than this fraction of the strongest are echoes (as the search's).
const RELATIVE_FLOOR: f64 = 0.02;
/// Alternations of kernel and amplitude fits on a half.
const OUTER: usize = 3;

/// The split scores of a blind result.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitScore {
    /// Per energy: the held-out R^2, kernels trained on the other half.
    pub r2: Vec<f64>,
    /// The same of the layers' first principal component (the one layer of a single map):
    /// the evidence of every energy at once, which decides whether there are defects at all.
    pub pooled_r2: f64,
    /// The control's held-out R^2 on the layer of largest variance (bright and dark Gaussian
    /// blobs), with the blob width that scored best.
    pub blob_r2: f64,
    pub blob_sigma_px: f64,
}

/// What every detection and fit of the score shares.
struct Ctx<'a> {
    basis: &'a Basis,
    /// Given defects (type 0), kept on both halves.
    known: &'a [[f64; 2]],
    /// The result's residual on the layer of largest variance (0 where missing): the noise
    /// the detection thresholds are measured on, as the search's final prune measures them.
    noise: &'a [f64],
    settings: &'a MapSettings,
    progress: &'a dyn Progress,
}

/// One half: the weights of its pixels (the valid ones of its blocks) and how many.
struct Half {
    weights: Vec<f64>,
    count: usize,
}

/// The layers of `map` as f64, 0 at missing pixels, and the valid weights.
fn layers_of(map: &MapData) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (_, h, w) = map.data.dim();
    let first = map.data.outer_iter().next();
    let valid: Vec<f64> = match first {
        Some(l) => l
            .iter()
            .map(|x| f64::from(u8::from(x.is_finite())))
            .collect(),
        None => vec![0.0; h * w],
    };
    let layers = map
        .data
        .outer_iter()
        .map(|l| {
            l.iter()
                .zip(&valid)
                .map(|(&x, &v)| {
                    if v > 0.0 && x.is_finite() {
                        f64::from(x)
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    (layers, valid)
}

/// The two halves of `blocks` over the `valid` pixels (seeded, as the engine's).
fn halves_of(blocks: &Blocks, valid: &[f64], seed: u64) -> [Half; 2] {
    let (a, b) = blocks.halves(valid, seed);
    [a, b].map(|weights| Half {
        count: weights.iter().filter(|x| **x > 0.0).count(),
        weights,
    })
}

/// The split held-out scores of `ex`, a blind result fitted to `map` (the map the engine saw:
/// excluded pixels NaN); its first `known` defects were given, not searched, and are kept on
/// both halves. With `cores` (the map with the defects' cores and the fit to it, when `map`
/// has them left out, and the largest core radius in pixels), each half's defects are found
/// there, by their cores, with that fit's kernels, and the control's blobs sit on them: the rings alone are too faint to find a
/// defect by, and a blob on a left-out core explains nothing.
pub fn split_score(
    map: &MapData,
    ex: &Extraction,
    cores: Option<(&MapData, &Extraction, f64)>,
    known: usize,
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<SplitScore> {
    let (e, h, w) = map.data.dim();
    let s = ex.kernel_size();
    let kinds = ex.type_count();
    let (layers, valid) = layers_of(map);
    let layer = loudest_layer(&layers, &valid);
    let blocks = Blocks::for_kernel(h, w, s, settings.block_px);
    let halves = halves_of(&blocks, &valid, settings.seed);
    let basis = Basis::new(settings.background, h, w);
    let known_at: Vec<[f64; 2]> = ex.positions[..known.min(ex.positions.len())]
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    // Defects are found on the layers' first principal component, as the search found them
    // (a stack's single layers may be too noisy), with the kernels and residuals combined
    // the same way.
    let (found_on, w_e) = super::principal::principal_weights(map, &valid);
    let noise = combine(
        &(0..e).map(|li| residual_of(ex, li)).collect::<Vec<_>>(),
        &w_e,
    );
    let ctx = Ctx {
        basis: &basis,
        known: &known_at,
        noise: &noise,
        settings,
        progress,
    };
    // Where each half's defects are found when the cores decide: that map's layer, halves,
    // kernels and noise.
    let by_cores = cores.map(|(m, fit, _)| {
        let (_, v) = layers_of(m);
        let halves = halves_of(&blocks, &v, settings.seed);
        let (y, w_e) = super::principal::principal_weights(m, &v);
        let per_layer =
            |f: &dyn Fn(usize) -> Vec<f64>| combine(&(0..e).map(f).collect::<Vec<_>>(), &w_e);
        (
            y,
            halves,
            per_layer(&|li| kernels_of(fit, li)),
            per_layer(&|li| residual_of(fit, li)),
        )
    });
    let searchable: Vec<bool> = (0..kinds).map(|t| known == 0 || t > 0).collect();
    let sym = Symmetry {
        order: ex.symmetry,
        mirror: ex.mirror_axis_deg.iter().any(|a| a.is_finite()),
    };
    let opt = |li: usize, refine: f64| FitOptions {
        smoothness: ex.smoothness.get(li).copied().unwrap_or(0.03),
        decay: ex.decay.get(li).copied().unwrap_or(1.0),
        refine_px: refine,
        symmetry: sym,
        outer: OUTER,
        cg_iterations: settings.cg_iterations,
        tol: 1e-4,
    };
    let cor = Correlator::new(h, w, s);
    let find = |hj: usize, kernels: &[Vec<f64>]| match &by_cores {
        Some((y, halves, k, noise)) => detect(
            &cor,
            y,
            &halves[hj],
            k,
            &searchable,
            usize::MAX,
            &Ctx { noise, ..ctx },
        ),
        None => detect(
            &cor,
            &found_on,
            &halves[hj],
            &combine(kernels, &w_e),
            &searchable,
            usize::MAX,
            &ctx,
        ),
    };
    // Scored: every layer, and for a stack the principal component too (the evidence of
    // every energy, which decides whether the stack holds defects at all).
    let mut scored_on: Vec<&[f64]> = layers.iter().map(Vec::as_slice).collect();
    if e > 1 {
        scored_on.push(&found_on);
    }
    // Train on half `hi`, score on the other: per layer (residual, baseline) there, and the
    // defects found there.
    let run = |hi: usize| -> Result<(Vec<[f64; 2]>, Option<Detected>)> {
        let (train, test) = (&halves[hi], &halves[1 - hi]);
        if train.count == 0 || test.count == 0 {
            return Ok((vec![[0.0; 2]; scored_on.len()], None));
        }
        // Train: every layer's kernels from this half alone.
        let found = find(hi, &(0..e).map(|li| kernels_of(ex, li)).collect::<Vec<_>>())?;
        let trained: Option<Vec<Vec<f64>>> = if found.positions.is_empty() {
            None
        } else {
            let stamper = Stamper::new(h, w, s, &found.positions).with_types(found.types, kinds);
            let fit = |li: usize, from: &State, refine: f64| {
                let p = Problem::new(&from.stamper, &basis, &layers[li], train.weights.clone())
                    .cancellable(progress);
                let mut start = from.clone();
                start.kernel = kernels_of(ex, li);
                p.fit(start, &opt(li, refine))
            };
            let mut first = State::start(&stamper, &basis);
            first.amplitudes = found.amplitudes;
            let placed = fit(layer, &first, REFINE_PX);
            check_cancelled(progress)?;
            Some(
                (0..e)
                    .map(|li| {
                        if li == layer {
                            placed.kernel.clone()
                        } else {
                            fit(li, &placed, 0.0).kernel
                        }
                    })
                    .collect(),
            )
        };
        check_cancelled(progress)?;
        // Score: the other half as a new map, with these kernels held.
        let (scored, found) = match &trained {
            Some(k) => {
                let found = find(1 - hi, k)?;
                let mut k = k.clone();
                if e > 1 {
                    k.push(combine(&k, &w_e));
                }
                (
                    score_half(&cor, &scored_on, layer, test, &k, &found, &ctx)?,
                    Some(found),
                )
            }
            None => (vec![None; scored_on.len()], None),
        };
        let ss = scored_on
            .iter()
            .zip(scored)
            .map(|(y, scored)| {
                let baseline = background_ss(y, test, &ctx);
                // A fit on the pixels it is scored on is never worse than no defects at all;
                // more would be the solver's failure, not the kernel's.
                [scored.map_or(baseline, |v| v.min(baseline)), baseline]
            })
            .collect();
        Ok((ss, found))
    };
    // Half 0 trained scores half 1, and the other way round.
    let (to_b, to_a) = rayon::join(|| run(0), || run(1));
    let (to_b, to_a) = (to_b?, to_a?);
    let ss: Vec<[f64; 2]> = to_a
        .0
        .iter()
        .zip(&to_b.0)
        .map(|(a, b)| [a[0] + b[0], a[1] + b[1]])
        .collect();
    // Each test half's defects: the control's budget there, and where its blobs sit when
    // the cores found them.
    let placed = [to_a.1, to_b.1];
    let budget = placed
        .each_ref()
        .map(|d| d.as_ref().map_or(0, |d| d.positions.len() - known_at.len()));
    check_cancelled(progress)?;
    let mut r2: Vec<f64> = ss
        .iter()
        .map(|[res, base]| {
            if *base > 0.0 {
                1.0 - res / base
            } else {
                f64::NAN
            }
        })
        .collect();
    let pooled_r2 = if e > 1 {
        r2.pop().unwrap_or(f64::NAN)
    } else {
        r2[0]
    };
    let widths: Vec<f64> = BLOB_SIGMAS_PX
        .into_iter()
        .chain(own_width(&kernels_of(ex, layer), s, 0.0))
        .chain(cores.and_then(|c| own_width(&kernels_of(ex, layer), s, c.2)))
        .collect();
    let on_cores = by_cores.as_ref().map(|_| &placed);
    let (blob_r2, blob_sigma_px) =
        blob_control(&layers[layer], &halves, &widths, budget, on_cores, &ctx)?;
    Ok(SplitScore {
        r2,
        pooled_r2,
        blob_r2,
        blob_sigma_px,
    })
}

/// `sum_e w_e v_e` of per-layer vectors of one length.
fn combine(per_layer: &[Vec<f64>], w_e: &[f64]) -> Vec<f64> {
    let n = per_layer.first().map_or(0, Vec::len);
    let mut out = vec![0.0; n];
    for (v, wt) in per_layer.iter().zip(w_e) {
        for (o, x) in out.iter_mut().zip(v) {
            *o += wt * x;
        }
    }
    out
}

/// The residual of `ex`'s layer `li`, 0 where missing.
fn residual_of(ex: &Extraction, li: usize) -> Vec<f64> {
    ex.residual
        .index_axis(
            ndarray::Axis(0),
            li.min(ex.residual.dim().0.saturating_sub(1)),
        )
        .iter()
        .map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 })
        .collect()
}

/// Residual sum of squares of the best background alone on `half`.
fn background_ss(y: &[f64], half: &Half, ctx: &Ctx) -> f64 {
    let (h, w) = (ctx.basis.height, ctx.basis.width);
    let empty = Stamper::new(h, w, 1, &[]);
    Problem::new(&empty, ctx.basis, y, half.weights.clone())
        .background_only_ss(ctx.settings.cg_iterations)
}

/// The width of a Gaussian blob with the kernels' second moment, `sigma^2 = sum r^2 K^2 / sum
/// K^2` over every type and the pixels from radius `from` on (for a Gaussian kernel and
/// `from` 0, its own sigma): the structureless version of a kernel that is one bump, or of
/// its tail around a left-out core. `None` for a zero kernel.
fn own_width(kernels: &[f64], s: usize, from: f64) -> Option<f64> {
    let c = (s / 2) as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, k) in kernels.iter().enumerate() {
        let p = i % (s * s);
        let r2 = ((p / s) as f64 - c).powi(2) + ((p % s) as f64 - c).powi(2);
        if r2 < from * from {
            continue;
        }
        num += r2 * k * k;
        den += k * k;
    }
    (den > 0.0).then(|| (num / den).sqrt().max(1.0))
}

/// `ex`'s kernels of energy `li`, type after type (`T S^2` values).
fn kernels_of(ex: &Extraction, li: usize) -> Vec<f64> {
    (0..ex.type_count())
        .flat_map(|t| {
            ex.kernels
                .slice(ndarray::s![t, li, .., ..])
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Residual sum of squares of each layer on `test`, with `kernels` (per layer, type-major)
/// held at the defects `found` there: positions refined on layer `layer`, amplitudes and
/// background fitted per layer. `None` where nothing was found.
fn score_half(
    cor: &Correlator,
    layers: &[&[f64]],
    layer: usize,
    test: &Half,
    kernels: &[Vec<f64>],
    found: &Detected,
    ctx: &Ctx,
) -> Result<Vec<Option<f64>>> {
    let (h, w, s) = (cor.height, cor.width, cor.size);
    let kinds = kernels[layer].len() / (s * s);
    if found.positions.is_empty() {
        return Ok(vec![None; layers.len()]);
    }
    let stamper = Stamper::new(h, w, s, &found.positions).with_types(found.types.clone(), kinds);
    let held = FitOptions {
        smoothness: 0.0,
        decay: 0.0,
        refine_px: 0.0,
        symmetry: Symmetry::NONE,
        outer: 1,
        cg_iterations: ctx.settings.cg_iterations,
        tol: 1e-4,
    };
    // Amplitudes start at 0: the solver then only ever improves on no defects at all.
    let start = |stamper: &Stamper, kernel: &[f64]| {
        let mut st = State::start(stamper, ctx.basis);
        st.kernel = kernel.to_vec();
        st.amplitudes.iter_mut().for_each(|a| *a = 0.0);
        st
    };
    let problem = |stamper, y| {
        Problem::new(stamper, ctx.basis, y, test.weights.clone()).cancellable(ctx.progress)
    };
    let moved = {
        let mut st = start(&stamper, &kernels[layer]);
        let p = problem(&stamper, layers[layer]);
        p.amplitude_step(&mut st, &held);
        p.position_step(&mut st, REFINE_PX);
        st.stamper
    };
    check_cancelled(ctx.progress)?;
    let ss = layers
        .iter()
        .zip(kernels)
        .map(|(y, k)| {
            let mut st = start(&moved, k);
            let p = problem(&moved, y);
            p.amplitude_step(&mut st, &held);
            Some(p.residual_ss(&st))
        })
        .collect();
    Ok(ss)
}

/// What [`detect`] found: positions, types and the detections' amplitudes (1 for given ones).
struct Detected {
    positions: Vec<[f64; 2]>,
    types: Vec<u8>,
    amplitudes: Vec<f64>,
}

/// Defects of `y` seen on `half` alone: the given ones (type 0) and those that [`clean`] finds
/// with `kernels` at the search's final threshold, `detection_sigma^2` times the larger of the
/// residual variance and each kernel's filter noise, both measured on `ctx.noise` over the
/// half.
fn detect(
    cor: &Correlator,
    y: &[f64],
    half: &Half,
    kernels: &[f64],
    searchable: &[bool],
    max_picks: usize,
    ctx: &Ctx,
) -> Result<Detected> {
    let s = cor.size;
    let (h, w) = (cor.height, cor.width);
    let empty = Stamper::new(h, w, s, &[]);
    let beta = Problem::new(&empty, ctx.basis, y, half.weights.clone())
        .cancellable(ctx.progress)
        .background_only(ctx.settings.cg_iterations);
    let mut b = vec![0.0; h * w];
    ctx.basis.add(&beta, &mut b);
    let r: Vec<f64> = y
        .iter()
        .zip(&b)
        .zip(&half.weights)
        .map(|((y, b), v)| if *v > 0.0 { y - b } else { 0.0 })
        .collect();
    let noise: Vec<f64> = ctx
        .noise
        .iter()
        .zip(&half.weights)
        .map(|(x, v)| if *v > 0.0 { *x } else { 0.0 })
        .collect();
    let sigma2 = noise.iter().map(|x| x * x).sum::<f64>() / half.count.max(1) as f64;
    let each: Vec<&[f64]> = kernels.chunks(s * s).collect();
    let thresholds: Vec<f64> = filter_noise(cor, &noise, &half.weights, &each)?
        .iter()
        .map(|n| ctx.settings.detection_sigma.powi(2) * n.max(sigma2))
        .collect();
    check_cancelled(ctx.progress)?;
    let picks = clean(
        cor,
        &CleanInput {
            residual: &r,
            valid: &half.weights,
            kernels,
            searchable,
            thresholds: &thresholds,
            relative_floor: RELATIVE_FLOOR,
            exclude: ctx.known,
            separation: SEPARATION,
            max_picks: max_picks.min(half.count / 16),
        },
    )?;
    let mut positions = ctx.known.to_vec();
    let mut types = vec![0u8; ctx.known.len()];
    let mut amplitudes = vec![1.0; ctx.known.len()];
    for p in picks {
        positions.push([p.row as f64, p.col as f64]);
        types.push(p.kind as u8);
        amplitudes.push(p.amplitude);
    }
    Ok(Detected {
        positions,
        types,
        amplitudes,
    })
}

/// The control: bright and dark Gaussian blobs of one width detected on each half and fitted
/// there (amplitudes and background; nothing is trained), as many as the kernels detected
/// there (`budget`), the best width kept. Returns `(R^2, sigma)`; given defects count as
/// bright blobs.
fn blob_control(
    y: &[f64],
    halves: &[Half; 2],
    widths: &[f64],
    budget: [usize; 2],
    on_cores: Option<&[Option<Detected>; 2]>,
    ctx: &Ctx,
) -> Result<(f64, f64)> {
    let (h, w) = (ctx.basis.height, ctx.basis.width);
    let baselines = halves.each_ref().map(|test| background_ss(y, test, ctx));
    let mut best = (f64::NEG_INFINITY, f64::NAN);
    for &sigma in widths {
        let s = (2.0 * (3.0 * sigma).ceil() + 1.0) as usize;
        if s > h.min(w) {
            continue;
        }
        let c = (s / 2) as f64;
        let blob: Vec<f64> = (0..s * s)
            .map(|i| {
                let d2 = ((i / s) as f64 - c).powi(2) + ((i % s) as f64 - c).powi(2);
                (-0.5 * d2 / (sigma * sigma)).exp()
            })
            .collect();
        let kernels: Vec<f64> = blob
            .iter()
            .copied()
            .chain(blob.iter().map(|v| -v))
            .collect();
        let cor = Correlator::new(h, w, s);
        let (mut res, mut base) = (0.0, 0.0);
        let layers = [y];
        for (hi, (test, &most)) in halves.iter().zip(&budget).enumerate() {
            check_cancelled(ctx.progress)?;
            if test.count == 0 {
                continue;
            }
            let baseline = baselines[hi];
            let found = match on_cores {
                // Bright blobs where the cores found the defects.
                Some(placed) => placed[hi].as_ref().map(|d| Detected {
                    positions: d.positions.clone(),
                    types: vec![0; d.positions.len()],
                    amplitudes: vec![0.0; d.positions.len()],
                }),
                None if most == 0 => None,
                None => Some(detect(&cor, y, test, &kernels, &[true, true], most, ctx)?),
            };
            let scored = match found {
                None => vec![None],
                Some(found) => score_half(
                    &cor,
                    &layers,
                    0,
                    test,
                    std::slice::from_ref(&kernels),
                    &found,
                    ctx,
                )?,
            };
            res += scored[0].map_or(baseline, |v| v.min(baseline));
            base += baseline;
        }
        let r2 = if base > 0.0 {
            1.0 - res / base
        } else {
            f64::NAN
        };
        if r2 > best.0 {
            best = (r2, sigma);
        }
    }
    Ok(best)
}
