//! The blind search on one map: alternate greedy detection given the kernels ([`clean`]) and
//! the least-squares fit of kernels, amplitudes and subpixel positions given the detections
//! (the map engine's [`Problem`]), adding one blind type at a time.
//!
//! - **Start of a type.** The residual of the types found so far is smoothed (Gaussian,
//!   1 px) and its strongest extremum taken as a defect: the kernel starts as the tapered
//!   `S x S` window of the residual around it, with amplitude +1 there (a dark defect has a
//!   kernel with a dark centre, not a negative amplitude).
//! - **Detection.** From scratch at every round, on the map minus the background and the
//!   given defects, so that a wrong early pick does not stay. A pick within 1 px of a
//!   position refined in the previous round keeps that refined position.
//! - **Threshold.** A defect is kept when it lowers the residual sum of squares by more than
//!   `(detection_sigma * sigma)^2`, with `sigma^2` the residual variance of the last fit (the
//!   whole map's variance before the first), so early rounds keep only the clearest defects;
//!   or, when larger, the kernel's filter noise on the residual of every defect found so far
//!   ([`filter_noise`], a robust variance): correlated noise, a lattice or a checkerboard
//!   fluctuates far more under a kernel than white noise of the same variance. On a map with
//!   an atomic lattice, where a lattice-periodic kernel's response to the defects not yet
//!   found fills the map, that noise is measured only once the rounds settle, and defects
//!   under it go (a prune, repeated while it removes any).
//! - **Centre.** After each fit every kernel is moved onto its centre of inversion symmetry
//!   when it has one (up to S/4 away), else (blind types) onto the strongest extremum of the
//!   smoothed kernel, with its defects.

use super::clean::{CleanInput, Pick, clean, filter_noise};
use super::common::{MIN_GROUP, gaussian_blur};
use super::correlate::Correlator;
use crate::Result;
use crate::extract::map::background::Basis;
use crate::extract::map::fit::{FitOptions, Problem, State, normalise, shift_types};
use crate::extract::map::operator::Stamper;
use crate::extract::map::symmetry;
use crate::progress::{Progress, check_cancelled};

/// Extremum starts tried for a further type (beside the two of the split).
const STARTS: usize = 2;
/// Rounds of detection and fitting per added type, at most.
const ROUNDS: usize = 8;
/// Smallest distance between two blind defects, in pixels.
const SEPARATION: f64 = 2.5;
/// Picks weaker than this fraction of the strongest pick's residual drop are echoes.
const RELATIVE_FLOOR: f64 = 0.02;
/// Blind defects weaker than this fraction of their type's median amplitude are dropped.
pub(super) const WEAK_AMPLITUDE: f64 = 0.2;
/// What each kernel pixel of a further type costs, in residual variances (a smooth kernel has
/// fewer free values than pixels).
const KERNEL_PIXEL_COST: f64 = 0.5;
/// How far a blind defect may move from its detected pixel as it is refined.
const REFINE_PX: f64 = 1.0;
/// A blind defect within this many pixels of a stronger one of its type ...
const COMPANION_RADIUS: f64 = 4.5;
/// ... and weaker than this fraction of it is a companion: the search's patch for a core
/// the kernel fits a little off (a sharp apparent-height core 20-100 times the rings, at a
/// subpixel position), not a defect. A dimer's two members are about equally strong.
const COMPANION_RATIO: f64 = 0.5;
/// Passes of the filter-noise prune at most (each refits; it stops when nothing goes).
const PRUNE_PASSES: usize = 4;

/// What the search found: positions `(row, col)`, types (given defects are type 0 when there
/// are any), and the kernel size it settled on.
#[derive(Clone, Debug)]
pub struct Found {
    pub positions: Vec<[f64; 2]>,
    pub types: Vec<u8>,
    pub kernel_size: usize,
    /// The searched map minus the search's model (background and defects), 0 where invalid.
    pub residual: Vec<f64>,
    /// The search's kernels, type-major `S_s x S_s` each at the size searched `S_s` (which
    /// may be smaller than `kernel_size`), in the search's own scale.
    pub kernels: Vec<f64>,
    pub searched_size: usize,
}

/// The map and how to search it.
pub struct Search<'a> {
    pub y: &'a [f64],
    pub valid: &'a [f64],
    pub height: usize,
    pub width: usize,
    pub basis: &'a Basis,
    pub known: &'a [[f64; 2]],
    pub detection_sigma: f64,
    pub cg_iterations: usize,
    pub max_defects: usize,
    /// The first blind type's start kernel (`S x S` at the size searched), when the common
    /// defect was found ([`super::common`]); else the strongest extremum of the map.
    pub start: Option<&'a [f64]>,
    /// Whether every round's threshold also holds the kernel's filter noise on the residual
    /// of the defects found so far (see the module doc). Not on a map with an atomic lattice:
    /// there a lattice-periodic kernel's response to the defects not yet found fills the
    /// whole map and would hide them all, and only the final prune applies.
    pub filter_noise_each_round: bool,
    /// Polled by every fit's solver iterations, so that a request to cancel stops a fit
    /// within its iteration (the rounds then return [`crate::Error::Cancelled`]).
    pub progress: &'a dyn Progress,
}

/// Starting kernels of a new type: the tapered windows of `r` around its strongest smoothed
/// extrema (`count` = 1: the strongest of either sign; more: the strongest positive and
/// negative ones in turn, at least S/2 apart). Empty when `r` is flat.
fn start_kernels(
    r: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    s: usize,
    count: usize,
) -> Vec<Vec<f64>> {
    let smooth = gaussian_blur(r, valid, h, w, 1.0);
    let mut order: Vec<usize> = (0..h * w).filter(|&i| valid[i] > 0.0).collect();
    order.sort_by(|&a, &b| smooth[b].abs().total_cmp(&smooth[a].abs()));
    let mut centres: Vec<usize> = Vec::new();
    let far = |p: usize, q: usize| {
        let d = ((p / w) as f64 - (q / w) as f64).hypot((p % w) as f64 - (q % w) as f64);
        d >= s as f64 / 2.0
    };
    for sign in [1.0, -1.0, 1.0, -1.0] {
        if centres.len() >= count {
            break;
        }
        let pick = order.iter().copied().find(|&p| {
            (count == 1 || smooth[p] * sign > 0.0)
                && smooth[p] != 0.0
                && centres.iter().all(|&q| far(p, q))
        });
        if let Some(p) = pick {
            centres.push(p);
        }
    }
    centres
        .into_iter()
        .map(|p| tapered_window(r, h, w, s, p / w, p % w))
        .collect()
}

/// Radial Hann taper of an `S x S` window (1 at the centre, 0 from radius S/2 on).
fn taper(s: usize) -> Vec<f64> {
    let c = (s / 2) as f64;
    let radius = s as f64 / 2.0;
    (0..s * s)
        .map(|i| {
            let d = ((i / s) as f64 - c).hypot((i % s) as f64 - c) / radius;
            if d < 1.0 {
                0.5 + 0.5 * (std::f64::consts::PI * d).cos()
            } else {
                0.0
            }
        })
        .collect()
}

/// The tapered `S x S` window of the `h x w` map `r` centred on pixel `(row, col)` (0 off
/// the map).
fn tapered_window(r: &[f64], h: usize, w: usize, s: usize, row: usize, col: usize) -> Vec<f64> {
    let c = (s / 2) as isize;
    taper(s)
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let rr = row as isize + (i / s) as isize - c;
            let cc = col as isize + (i % s) as isize - c;
            if rr < 0 || cc < 0 || rr >= h as isize || cc >= w as isize {
                0.0
            } else {
                t * r[rr as usize * w + cc as usize]
            }
        })
        .collect()
}

/// A kernel of side `from` cropped or zero-padded about its centre to side `to`.
pub fn resize_kernel(k: &[f64], from: usize, to: usize) -> Vec<f64> {
    let (cf, ct) = ((from / 2) as isize, (to / 2) as isize);
    (0..to * to)
        .map(|i| {
            let (r, c) = ((i / to) as isize - ct + cf, (i % to) as isize - ct + cf);
            if r < 0 || c < 0 || r >= from as isize || c >= from as isize {
                0.0
            } else {
                k[r as usize * from + c as usize]
            }
        })
        .collect()
}

impl Search<'_> {
    /// Fit kernels, amplitudes, positions and background to defects at `positions` of
    /// `types`, from `kernels` (`kinds` types); blind defects move up to [`REFINE_PX`].
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &self,
        s: usize,
        positions: &[[f64; 2]],
        given: &[[f64; 2]],
        types: &[u8],
        kinds: usize,
        kernels: &[f64],
        amplitudes: Option<&[f64]>,
    ) -> State {
        let mut stamper =
            Stamper::new(self.height, self.width, s, positions).with_types(types.to_vec(), kinds);
        stamper.given = given.to_vec();
        let problem = Problem::new(&stamper, self.basis, self.y, self.valid.to_vec())
            .cancellable(self.progress);
        let mut st = State::start(&stamper, self.basis);
        st.kernel = kernels.to_vec();
        if let Some(a) = amplitudes {
            st.amplitudes = a.to_vec();
        }
        let opt = FitOptions {
            smoothness: 0.03,
            decay: 0.0,
            refine_px: REFINE_PX,
            symmetry: symmetry::Symmetry::NONE,
            outer: 2,
            cg_iterations: self.cg_iterations,
            tol: 1e-4,
        };
        // Amplitudes first: the kernel may be a rough start.
        problem.amplitude_step(&mut st, &opt);
        st = problem.fit(st, &opt);
        problem.recentre_within(&mut st, &opt, (s / 4).max(2));
        self.centre_on_extremum(&problem, &mut st, &opt);
        normalise(&mut st);
        st
    }

    /// Starts from splitting the blind defects found so far in two by their looks: each
    /// defect's window (the residual plus its own fitted kernel, tapered, unit norm) is
    /// clustered by 2-means on correlation; each cluster's mean window is a start. A type
    /// that absorbed two species separates this way.
    fn split_starts(&self, st: &State, r: &[f64], first_blind: usize) -> Vec<Vec<f64>> {
        let (h, w) = (self.height, self.width);
        let s = st.stamper.size;
        let s2 = s * s;
        let blind: Vec<usize> = (0..st.amplitudes.len())
            .filter(|&i| usize::from(st.stamper.types[i]) >= first_blind)
            .collect();
        if blind.len() < 4 {
            return Vec::new();
        }
        let weights = taper(s);
        let windows: Vec<Vec<f64>> = blind
            .iter()
            .map(|&i| {
                let p = st.stamper.positions[i];
                let (pr, pc) = (
                    p[0].round().max(0.0) as usize,
                    p[1].round().max(0.0) as usize,
                );
                let t = usize::from(st.stamper.types[i]);
                let k = &st.kernel[t * s2..(t + 1) * s2];
                let mut v = tapered_window(r, h, w, s, pr.min(h - 1), pc.min(w - 1));
                for ((x, wt), kj) in v.iter_mut().zip(&weights).zip(k) {
                    *x += st.amplitudes[i] * wt * kj;
                }
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm > 0.0 {
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                v
            })
            .collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        // Seeds: the window least like the mean, and the one least like that.
        let n = windows.len();
        let mean: Vec<f64> = (0..s2)
            .map(|j| windows.iter().map(|v| v[j]).sum::<f64>() / n as f64)
            .collect();
        let least = |like: &[f64]| {
            (0..n)
                .min_by(|&a, &b| dot(&windows[a], like).total_cmp(&dot(&windows[b], like)))
                .unwrap_or(0)
        };
        let a0 = least(&mean);
        let b0 = least(&windows[a0]);
        let mut centres = [windows[a0].clone(), windows[b0].clone()];
        let mut label = vec![0usize; n];
        for _ in 0..10 {
            for (l, v) in label.iter_mut().zip(&windows) {
                *l = usize::from(dot(v, &centres[1]) > dot(v, &centres[0]));
            }
            for (k, centre) in centres.iter_mut().enumerate() {
                let members: Vec<&Vec<f64>> = windows
                    .iter()
                    .zip(&label)
                    .filter(|(_, l)| **l == k)
                    .map(|(v, _)| v)
                    .collect();
                if members.is_empty() {
                    return Vec::new();
                }
                *centre = (0..s2)
                    .map(|j| members.iter().map(|v| v[j]).sum::<f64>() / members.len() as f64)
                    .collect();
            }
        }
        centres.to_vec()
    }

    /// Blind types whose kernel has no centre of inversion symmetry are centred on the
    /// strongest extremum of the smoothed kernel (within S/4 of the window's centre): their
    /// defects move by its offset and kernels and amplitudes are fitted again.
    fn centre_on_extremum(&self, problem: &Problem, st: &mut State, opt: &FitOptions) {
        let s = st.stamper.size;
        let s2 = s * s;
        let reach = (s / 4).max(2);
        let c = (s / 2) as isize;
        let first_blind = usize::from(!self.known.is_empty());
        let ones = vec![1.0; s2];
        let mut offsets = vec![[0.0f64; 2]; st.stamper.kinds];
        for (t, d) in offsets.iter_mut().enumerate().skip(first_blind) {
            let k = &st.kernel[t * s2..(t + 1) * s2];
            if symmetry::inversion_offset(k, s, reach).is_some() {
                continue;
            }
            let smooth = gaussian_blur(k, &ones, s, s, 1.0);
            let near = |i: &usize| {
                ((i / s) as isize - c).unsigned_abs() <= reach
                    && ((i % s) as isize - c).unsigned_abs() <= reach
            };
            if let Some(i) = (0..s2)
                .filter(near)
                .max_by(|a, b| smooth[*a].abs().total_cmp(&smooth[*b].abs()))
            {
                *d = [(i / s) as f64 - c as f64, (i % s) as f64 - c as f64];
            }
        }
        if !shift_types(st, &offsets) {
            return;
        }
        for _ in 0..2 {
            problem.kernel_step(st, opt);
            problem.amplitude_step(st, opt);
        }
    }

    /// Residual sum of squares of a state on this map.
    fn rss(&self, st: &State) -> f64 {
        Problem::new(&st.stamper, self.basis, self.y, self.valid.to_vec()).residual_ss(st)
    }

    /// Map minus background and the defects of the types in `fixed`, 0 on missing pixels.
    fn residual_without(&self, st: &State, keep: impl Fn(usize) -> bool) -> Vec<f64> {
        let stp = &st.stamper;
        let amps: Vec<f64> = st
            .amplitudes
            .iter()
            .enumerate()
            .map(|(i, a)| if keep(i) { *a } else { 0.0 })
            .collect();
        let mut m = vec![0.0; self.y.len()];
        stp.add_defect_stamps(&st.kernel, &amps, &mut m);
        self.basis.add(&st.beta, &mut m);
        self.y
            .iter()
            .zip(&m)
            .zip(self.valid)
            .map(|((y, m), v)| if *v > 0.0 { y - m } else { 0.0 })
            .collect()
    }

    /// [`not_weak`] of the search's amplitudes.
    fn prune(&self, st: &State, n_known: usize) -> Option<Vec<usize>> {
        not_weak(&st.amplitudes, &st.stamper.types, n_known)
    }

    /// Rounds of detection and fitting with type `t` added (kernels `[..(t+1) S^2]`), from
    /// `st` (the types before `t`); the state has `t + 1` types unless no defect took type `t`.
    #[allow(clippy::too_many_arguments)]
    fn grow(
        &self,
        cor: &Correlator,
        mut st: State,
        mut kernels: Vec<f64>,
        t: usize,
        first_blind: usize,
        cap: usize,
        progress: &dyn Progress,
    ) -> Result<(State, Vec<f64>)> {
        let s = cor.size;
        let s2 = s * s;
        let n_known = self.known.len();
        let valid_count: f64 = self.valid.iter().sum();
        let mut previous: Vec<Pick> = Vec::new();
        for _round in 0..ROUNDS {
            check_cancelled(progress)?;
            // Each type's threshold from its filter's noise on the last fit's residual.
            // White-noise threshold from the last fit's residual variance (the whole
            // map's before the first fit, so early rounds keep only the clearest defects).
            let dof = (st.kernel.len() + st.amplitudes.len() + st.beta.len()) as f64;
            let sigma2 = self.rss(&st) / (valid_count - dof).max(1.0);
            let thresholds: Vec<f64> = if self.filter_noise_each_round {
                // ... or the filter's own noise on the residual of every defect found, when
                // larger: correlated noise fluctuates more under a kernel than white noise.
                let full = self.residual_without(&st, |_| true);
                let each: Vec<&[f64]> = (0..=t).map(|u| &kernels[u * s2..(u + 1) * s2]).collect();
                filter_noise(cor, &full, self.valid, &each)?
                    .iter()
                    .map(|n| self.detection_sigma.powi(2) * n.max(sigma2))
                    .collect()
            } else {
                vec![self.detection_sigma.powi(2) * sigma2; t + 1]
            };
            let fixed: Vec<[f64; 2]> = st.stamper.positions[..n_known].to_vec();
            let r = self.residual_without(&st, |i| i < n_known);
            let searchable: Vec<bool> = (0..=t).map(|u| u >= first_blind).collect();
            let picks = clean(
                cor,
                &CleanInput {
                    residual: &r,
                    valid: self.valid,
                    kernels: &kernels[..(t + 1) * s2],
                    searchable: &searchable,
                    thresholds: &thresholds,
                    relative_floor: RELATIVE_FLOOR,
                    exclude: &fixed,
                    separation: SEPARATION,
                    max_picks: cap.saturating_sub(n_known),
                },
            )?;
            if picks.is_empty() {
                break;
            }
            // Settled when at most one pick in fifty (or one) is new.
            let new = picks
                .iter()
                .filter(|p| {
                    !previous.iter().any(|q| {
                        q.row.abs_diff(p.row) <= 1 && q.col.abs_diff(p.col) <= 1 && q.kind == p.kind
                    })
                })
                .count();
            let same = picks.len().abs_diff(previous.len()) + new <= (picks.len() / 50).max(1);
            // Keep refined positions of defects found again.
            let refined = &st.stamper.positions[n_known..];
            let old_types = &st.stamper.types[n_known..];
            let mut positions: Vec<[f64; 2]> = st.stamper.positions[..n_known].to_vec();
            let mut given: Vec<[f64; 2]> = st.stamper.given[..n_known].to_vec();
            let mut types: Vec<u8> = vec![0; n_known];
            let mut amplitudes: Vec<f64> = st.amplitudes[..n_known].to_vec();
            for p in &picks {
                let at = [p.row as f64, p.col as f64];
                let near = refined.iter().zip(old_types).position(|(q, &k)| {
                    usize::from(k) == p.kind && (q[0] - at[0]).hypot(q[1] - at[1]) <= 1.0
                });
                positions.push(near.map_or(at, |i| refined[i]));
                given.push(at);
                types.push(p.kind as u8);
                amplitudes.push(p.amplitude);
            }
            let present = t + 1;
            // A type no pick took is dropped for this round (its kernel is kept).
            if (first_blind..present).any(|u| !types.iter().any(|&k| usize::from(k) == u)) {
                break;
            }
            st = self.fit(
                s,
                &positions,
                &given,
                &types,
                present,
                &kernels[..present * s2],
                Some(&amplitudes),
            );
            if let Some(kept) = self.prune(&st, n_known) {
                let pick = |v: &[[f64; 2]]| kept.iter().map(|&i| v[i]).collect::<Vec<_>>();
                let types: Vec<u8> = kept.iter().map(|&i| st.stamper.types[i]).collect();
                let amplitudes: Vec<f64> = kept.iter().map(|&i| st.amplitudes[i]).collect();
                st = self.fit(
                    s,
                    &pick(&st.stamper.positions),
                    &pick(&st.stamper.given),
                    &types,
                    present,
                    &st.kernel,
                    Some(&amplitudes),
                );
            }
            kernels[..present * s2].copy_from_slice(&st.kernel);
            if same {
                break;
            }
            previous = picks;
        }
        // Where every round held the filter noise, the prune would repeat it.
        let st = if self.filter_noise_each_round {
            st
        } else {
            self.above_filter_noise(cor, st, first_blind)?
        };
        Ok((st, kernels))
    }

    /// `st` without the blind defects whose own signal, `a^2 |K|^2`, stays under
    /// `detection_sigma^2` times their kernel's filter noise on the residual of every defect
    /// found ([`filter_noise`], a robust variance), refitted. For white noise that noise is
    /// the residual variance the detection used; correlated noise (1/f, a lattice, a
    /// checkerboard) fluctuates far more under a kernel, and its bumps, which the detection
    /// took for defects, go here (a constant false-alarm rate). Measured after the search,
    /// when the defects' own responses have left the residual.
    fn above_filter_noise(&self, cor: &Correlator, st: State, first_blind: usize) -> Result<State> {
        let mut st = st;
        for _ in 0..PRUNE_PASSES {
            check_cancelled(self.progress)?;
            let before = st.amplitudes.len();
            st = self.prune_once(cor, st, first_blind)?;
            if st.amplitudes.len() == before {
                break;
            }
        }
        Ok(st)
    }

    /// One pass of [`Self::above_filter_noise`]: the noise is measured on the residual of the
    /// defects kept so far, so bumps that only explained themselves come back into it and the
    /// next pass sees the noise they hid.
    fn prune_once(&self, cor: &Correlator, st: State, first_blind: usize) -> Result<State> {
        let s2 = cor.size * cor.size;
        let n_known = self.known.len();
        let kinds = st.stamper.kinds;
        if st.amplitudes.len() == n_known {
            return Ok(st);
        }
        let full = self.residual_without(&st, |_| true);
        let each: Vec<&[f64]> = (0..kinds)
            .map(|u| &st.kernel[u * s2..(u + 1) * s2])
            .collect();
        let noise = filter_noise(cor, &full, self.valid, &each)?;
        let norm2: Vec<f64> = each.iter().map(|k| k.iter().map(|v| v * v).sum()).collect();
        let types = &st.stamper.types;
        let kept: Vec<usize> = (0..types.len())
            .filter(|&i| {
                let t = usize::from(types[i]);
                i < n_known
                    || t < first_blind
                    || st.amplitudes[i].powi(2) * norm2[t] > self.detection_sigma.powi(2) * noise[t]
            })
            .collect();
        if kept.len() == types.len() {
            return Ok(st);
        }
        let pick = |v: &[[f64; 2]]| kept.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let types: Vec<u8> = kept.iter().map(|&i| st.stamper.types[i]).collect();
        let amplitudes: Vec<f64> = kept.iter().map(|&i| st.amplitudes[i]).collect();
        Ok(self.fit(
            cor.size,
            &pick(&st.stamper.positions),
            &pick(&st.stamper.given),
            &types,
            kinds,
            &st.kernel,
            Some(&amplitudes),
        ))
    }

    /// Search for `blind_types` types of defects beyond the given ones; `s` is the kernel
    /// size. Returns `None` when not even one defect clears the threshold.
    pub fn run(
        &self,
        s: usize,
        blind_types: usize,
        progress: &dyn Progress,
    ) -> Result<Option<Found>> {
        let (h, w) = (self.height, self.width);
        let s2 = s * s;
        let n_known = self.known.len();
        let first_blind = usize::from(n_known > 0);
        let kinds = first_blind + blind_types;
        let empty = Stamper::new(h, w, s, &[]);
        // The given defects alone first.
        let mut st = if n_known > 0 {
            let start = vec![0.0; s2];
            let types = vec![0u8; n_known];
            self.fit(s, self.known, self.known, &types, 1, &start, None)
        } else {
            let mut st = State::start(&empty, self.basis);
            st.beta = Problem::new(&empty, self.basis, self.y, self.valid.to_vec())
                .background_only(self.cg_iterations);
            st
        };
        let cor = Correlator::new(h, w, s);
        // At most one defect per (S/4)^2 pixels: seven times denser than the automatic
        // kernel size assumes; more means the search is explaining noise.
        let valid_count: f64 = self.valid.iter().sum();
        let cap = self
            .max_defects
            .min((valid_count / ((s as f64 / 4.0).powi(2)).max(1.0)) as usize);
        let mut kernels: Vec<f64> = st.kernel.clone();
        for t in first_blind..kinds {
            check_cancelled(progress)?;
            let r = self.residual_without(&st, |_| true);
            // The first type from the strongest extremum; a further type from several starts,
            // the best by the residual plus the detection threshold per defect.
            let mut starts = match self.start {
                Some(k) if t == first_blind && k.len() == s2 => vec![k.to_vec()],
                _ => start_kernels(&r, self.valid, h, w, s, if t == 0 { 1 } else { STARTS }),
            };
            if t > first_blind {
                starts.extend(self.split_starts(&st, &r, first_blind));
            }
            let dof = (st.kernel.len() + st.amplitudes.len() + st.beta.len()) as f64;
            let penalty =
                self.detection_sigma.powi(2) * self.rss(&st) / (valid_count - dof).max(1.0);
            // Each defect pays the detection threshold, each kernel a share of its pixels.
            let score = |x: &State| {
                self.rss(x)
                    + penalty * x.amplitudes.len() as f64
                    + KERNEL_PIXEL_COST * penalty / self.detection_sigma.powi(2).max(1e-12)
                        * (x.stamper.kinds * s2) as f64
            };
            let mut best: Option<(f64, State, Vec<f64>)> = None;
            for k0 in starts {
                let mut ks = kernels[..t * s2].to_vec();
                ks.extend(k0);
                let (grown, ks) = self.grow(&cor, st.clone(), ks, t, first_blind, cap, progress)?;
                // A kernel of one or two defects fits them whatever they are: a type is a
                // pattern that repeats.
                let members = grown
                    .stamper
                    .types
                    .iter()
                    .filter(|&&k| usize::from(k) == t)
                    .count();
                if grown.stamper.kinds != t + 1 || (t > first_blind && members < MIN_GROUP) {
                    continue;
                }
                let sc = score(&grown);
                if best.as_ref().is_none_or(|b| sc < b.0) {
                    best = Some((sc, grown, ks));
                }
            }
            match best {
                // A further type must pay for its defects.
                Some((sc, grown, ks)) if t == first_blind || sc < score(&st) => {
                    st = grown;
                    kernels = ks;
                }
                _ => break,
            }
        }
        if st.amplitudes.len() == n_known {
            return Ok(None);
        }
        // Companions are the mark of a core that swamps its rings; elsewhere two close
        // defects of unequal strength may both be real.
        let keep = if super::cores::dominant(&st.kernel, s) {
            companions_kept(&st, n_known)
        } else {
            vec![true; st.amplitudes.len()]
        };
        Ok(Some(Found {
            kernels: st.kernel.clone(),
            searched_size: s,
            residual: self.residual_without(&st, |i| keep[i]),
            positions: (0..keep.len())
                .filter(|&i| keep[i])
                .map(|i| st.stamper.positions[i])
                .collect(),
            types: (0..keep.len())
                .filter(|&i| keep[i])
                .map(|i| st.stamper.types[i])
                .collect(),
            kernel_size: s,
        }))
    }
}

/// Which defects of `st` to keep: all but the blind companions (see [`COMPANION_RATIO`]).
fn companions_kept(st: &State, n_known: usize) -> Vec<bool> {
    let (pos, types, a) = (&st.stamper.positions, &st.stamper.types, &st.amplitudes);
    (0..pos.len())
        .map(|i| {
            i < n_known
                || !(n_known..pos.len()).any(|j| {
                    j != i
                        && types[j] == types[i]
                        && a[i] < COMPANION_RATIO * a[j]
                        && (pos[i][0] - pos[j][0]).hypot(pos[i][1] - pos[j][1]) < COMPANION_RADIUS
                })
        })
        .collect()
}

/// Indices of the defects to keep when some blind ones (from `n_known` on) are weaker than
/// [`WEAK_AMPLITUDE`] times the median magnitude of their type's blind `strength`s, or of the
/// opposite sign (echoes of model error beside strong defects), or `None` when all stay.
/// The search prunes its own fits with it, and the blind extraction the engine's.
pub(super) fn not_weak(strength: &[f64], types: &[u8], n_known: usize) -> Option<Vec<usize>> {
    let kinds = types.iter().map(|&t| usize::from(t) + 1).max().unwrap_or(0);
    let mut median = vec![0.0; kinds];
    for (t, m) in median.iter_mut().enumerate() {
        let mut a: Vec<f64> = (n_known..types.len())
            .filter(|&i| usize::from(types[i]) == t)
            .map(|i| strength[i].abs())
            .collect();
        if !a.is_empty() {
            let mid = a.len() / 2;
            *m = *a.select_nth_unstable_by(mid, f64::total_cmp).1;
        }
    }
    let kept: Vec<usize> = (0..types.len())
        .filter(|&i| i < n_known || strength[i] >= WEAK_AMPLITUDE * median[usize::from(types[i])])
        .collect();
    (kept.len() < types.len()).then_some(kept)
}
