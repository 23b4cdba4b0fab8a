//! One energy's fit: alternate a conjugate-gradient solve for the kernel (with the
//! background) given the amplitudes and one for the amplitudes (with the background) given
//! the kernel, on the pixels with nonzero weight.
//!
//! Kernel step: minimise
//! `|W^1/2 (y - A_a K - B beta)|^2 + mu |grad K|^2 + sum_k (eps + nu (r_k / R)^2) K_k^2`, with
//! `mu = smoothness * d`, `nu = decay * d` and `d = mean diag(A_a^T W A_a)`, so both weights
//! are dimensionless. The gradient penalty leaves out the pairs that touch the impurity's own
//! pixel `(S/2, S/2)`: the local density of states at the impurity site is a value of its
//! own (a one-pixel spike in most kernels), not a sample of the oscillation around it. The
//! decay penalty grows with the distance `r_k` from the impurity (`R = S/2`): quasiparticle
//! interference decays away from its scatterer, and without this prior a small map with
//! overlapping defects (a handful in 64 x 64, S = 64) is fitted as well by wrong amplitudes
//! and a kernel that compensates them far from the centre.
//! Amplitude step: minimise `|W^1/2 (y - A_K a - B beta)|^2`. After each amplitude step the
//! scale is moved into the kernel so that the amplitudes have mean 1.

use super::background::Basis;
use super::cg;
use super::operator::Stamper;
use super::symmetry;
use crate::progress::Progress;

/// The data of one energy and the pixels that count.
pub struct Problem<'a> {
    pub stamper: &'a Stamper,
    pub basis: &'a Basis,
    /// Map values, 0 where the map is NaN.
    pub y: &'a [f64],
    /// Pixel weights: 0 for NaN and held-out pixels, bootstrap counts otherwise 1.
    pub weights: Vec<f64>,
    /// `weights * y`.
    wy: Vec<f64>,
    /// Polled by every solver iteration: once it says cancelled, fits stop early (their
    /// result is then meaningless, and the caller returns [`crate::Error::Cancelled`]).
    cancel: Option<&'a dyn Progress>,
}

/// Unknowns of a fit; the positions (in the stamper) move when refinement is on.
#[derive(Clone, Debug)]
pub struct State {
    /// The kernels of the stamper's `T` types one after another (`T S^2` values).
    pub kernel: Vec<f64>,
    pub amplitudes: Vec<f64>,
    pub beta: Vec<f64>,
    pub stamper: Stamper,
}

/// How to fit.
#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    /// Relative smoothness weight.
    pub smoothness: f64,
    /// Relative weight of the penalty growing with the distance from the impurity.
    pub decay: f64,
    /// Largest distance a position may move from where it was given, in pixels (0 = fixed).
    pub refine_px: f64,
    /// The point group to project the kernel onto.
    pub symmetry: symmetry::Symmetry,
    pub outer: usize,
    pub cg_iterations: usize,
    pub tol: f64,
}

const RIDGE: f64 = 1e-6;
const AMPLITUDE_RIDGE: f64 = 1e-3;

/// Median of the positive entries (1 when there are none).
fn median_positive(v: &[f64]) -> f64 {
    let mut p: Vec<f64> = v.iter().copied().filter(|x| *x > 0.0).collect();
    if p.is_empty() {
        return 1.0;
    }
    let mid = p.len() / 2;
    *p.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// `out += mu * D^T D k`: the squared-gradient penalty over nearest-neighbour pairs, except
/// the pairs that touch the impurity's pixel `(S/2, S/2)`.
fn add_gradient_penalty(k: &[f64], s: usize, mu: f64, out: &mut [f64]) {
    let centre = (s / 2) * s + s / 2;
    for r in 0..s {
        for c in 0..s {
            let i = r * s + c;
            if c + 1 < s && i != centre && i + 1 != centre {
                let d = mu * (k[i] - k[i + 1]);
                out[i] += d;
                out[i + 1] -= d;
            }
            if r + 1 < s && i != centre && i + s != centre {
                let d = mu * (k[i] - k[i + s]);
                out[i] += d;
                out[i + s] -= d;
            }
        }
    }
}

/// The diagonal penalty of every kernel pixel (`S x S`, row-major): the ridge plus the decay
/// term `decay (r / R)^2`, both relative to the data's mean curvature `mean_d`.
fn diagonal_penalty(s: usize, mean_d: f64, decay: f64) -> Vec<f64> {
    let half = (s / 2).max(1) as f64;
    let c = (s / 2) as f64;
    (0..s * s)
        .map(|i| {
            let (dr, dc) = ((i / s) as f64 - c, (i % s) as f64 - c);
            mean_d * (RIDGE + decay * (dr * dr + dc * dc) / (half * half))
        })
        .collect()
}

impl State {
    pub fn start(stamper: &Stamper, basis: &Basis) -> Self {
        State {
            kernel: vec![0.0; stamper.kinds * stamper.size * stamper.size],
            amplitudes: vec![1.0; stamper.defects],
            beta: vec![0.0; basis.len()],
            stamper: stamper.clone(),
        }
    }
}

impl<'a> Problem<'a> {
    pub fn new(stamper: &'a Stamper, basis: &'a Basis, y: &'a [f64], weights: Vec<f64>) -> Self {
        let wy = y.iter().zip(&weights).map(|(a, w)| a * w).collect();
        Problem {
            stamper,
            basis,
            y,
            weights,
            wy,
            cancel: None,
        }
    }

    /// This problem with its fits stopping early once `progress` is cancelled.
    pub fn cancellable(self, progress: &'a dyn Progress) -> Self {
        Problem {
            cancel: Some(progress),
            ..self
        }
    }

    /// Whether the work was cancelled (the fits then stop early).
    pub fn stopped(&self) -> bool {
        self.cancel.is_some_and(|p| p.cancelled())
    }

    /// `m *= weights` in place.
    fn weigh(&self, m: &mut [f64]) {
        for (v, w) in m.iter_mut().zip(&self.weights) {
            *v *= w;
        }
    }
    /// The model `A K a + B beta` on every pixel.
    pub fn model(&self, st: &State) -> Vec<f64> {
        let mut m = vec![0.0; self.y.len()];
        st.stamper
            .add_defect_stamps(&st.kernel, &st.amplitudes, &mut m);
        self.basis.add(&st.beta, &mut m);
        m
    }

    /// Weighted sum of squared residuals of a state.
    pub fn residual_ss(&self, st: &State) -> f64 {
        self.misfit(&self.model(st))
    }

    /// Weighted sum of squared differences between the map and a model of it.
    fn misfit(&self, model: &[f64]) -> f64 {
        self.y
            .iter()
            .zip(model)
            .zip(&self.weights)
            .map(|((y, m), w)| w * (y - m) * (y - m))
            .sum()
    }

    /// Sum of squared residuals of the best background alone.
    pub fn background_only_ss(&self, cg_iterations: usize) -> f64 {
        let beta = self.background_only(cg_iterations);
        let mut m = vec![0.0; self.y.len()];
        self.basis.add(&beta, &mut m);
        self.misfit(&m)
    }

    /// Coefficients of the best background alone.
    pub fn background_only(&self, cg_iterations: usize) -> Vec<f64> {
        let nb = self.basis.len();
        let rhs = self.basis.adjoint(&self.wy);
        let pre = self.basis.diagonal(&self.weights);
        let mut beta = vec![0.0; nb];
        let mut m = vec![0.0; self.y.len()];
        let mut apply = |x: &[f64], out: &mut [f64]| {
            m.iter_mut().for_each(|v| *v = 0.0);
            self.basis.add(x, &mut m);
            self.weigh(&mut m);
            out.copy_from_slice(&self.basis.adjoint(&m));
        };
        cg::solve(
            &mut apply,
            &rhs,
            &pre,
            &mut beta,
            1e-10,
            cg_iterations.max(nb + 2),
            &|| self.stopped(),
        );
        beta
    }

    /// Kernel and background given the amplitudes.
    pub fn kernel_step(&self, st: &mut State, opt: &FitOptions) {
        let stamper = &st.stamper;
        let s = stamper.size;
        let s2 = s * s;
        let nk = stamper.kinds * s2;
        let coef = stamper.tap_coefficients(&st.amplitudes);
        let coef2: Vec<f64> = coef.iter().map(|c| c * c).collect();
        let data_diag = stamper.correlate_kernel(&coef2, &self.weights);
        // Each type's penalty scales with its own data term.
        let mean_diag: Vec<f64> = data_diag
            .chunks(s2)
            .map(|d| d.iter().sum::<f64>() / s2 as f64)
            .collect();
        if mean_diag.iter().all(|&d| d <= 0.0) {
            return;
        }
        let floor = mean_diag.iter().cloned().fold(0.0, f64::max) * 1e-9;
        let mu: Vec<f64> = mean_diag
            .iter()
            .map(|&d| opt.smoothness * d.max(floor))
            .collect();
        let eps: Vec<f64> = mean_diag
            .iter()
            .flat_map(|&d| diagonal_penalty(s, d.max(floor), opt.decay))
            .collect();
        let amplitudes = &st.amplitudes;
        let mut rhs = stamper.correlate_kernel_defects(amplitudes, &self.wy);
        rhs.extend(self.basis.adjoint(&self.wy));
        let mut pre: Vec<f64> = data_diag
            .iter()
            .enumerate()
            .map(|(i, d)| d + 4.0 * mu[i / s2] + eps[i])
            .collect();
        pre.extend(self.basis.diagonal(&self.weights));
        let mut x = st.kernel.clone();
        x.extend_from_slice(&st.beta);
        let mut m = vec![0.0; self.y.len()];
        let mut apply = |u: &[f64], out: &mut [f64]| {
            let (k, beta) = u.split_at(nk);
            m.iter_mut().for_each(|v| *v = 0.0);
            stamper.add_defect_stamps(k, amplitudes, &mut m);
            self.basis.add(beta, &mut m);
            self.weigh(&mut m);
            let r = &m;
            let g = stamper.correlate_kernel_defects(amplitudes, r);
            for i in 0..nk {
                out[i] = g[i] + eps[i] * k[i];
            }
            for (t, (kt, ot)) in k.chunks(s2).zip(out[..nk].chunks_mut(s2)).enumerate() {
                add_gradient_penalty(kt, s, mu[t], ot);
            }
            out[nk..].copy_from_slice(&self.basis.adjoint(r));
        };
        cg::solve(
            &mut apply,
            &rhs,
            &pre,
            &mut x,
            opt.tol,
            opt.cg_iterations,
            &|| self.stopped(),
        );
        let beta = x[nk..].to_vec();
        x.truncate(nk);
        st.beta = beta;
        st.kernel = x
            .chunks(s2)
            .flat_map(|k| symmetry::project(k, s, opt.symmetry))
            .collect();
    }

    /// Amplitudes and background given the kernel; then the scale moves into the kernel.
    pub fn amplitude_step(&self, st: &mut State, opt: &FitOptions) {
        let stamper = &st.stamper;
        let n = stamper.defects;
        let k2: Vec<f64> = st.kernel.iter().map(|k| k * k).collect();
        let tap_diag = stamper.correlate_taps(&k2, &self.weights);
        let mut pre = vec![0.0; n];
        for (t, d) in stamper.taps.iter().zip(&tap_diag) {
            pre[t.defect] += t.weight * t.weight * d;
        }
        // A ridge of a thousandth of a typical defect's curvature keeps defects that the
        // weights barely see (a kernel's tail on a few pixels) from taking huge amplitudes.
        let ridge = AMPLITUDE_RIDGE * median_positive(&pre);
        pre.iter_mut().for_each(|p| *p += ridge);
        pre.extend(self.basis.diagonal(&self.weights));
        let mut rhs = stamper.correlate_defects(&st.kernel, &self.wy);
        rhs.extend(self.basis.adjoint(&self.wy));
        let mut x = st.amplitudes.clone();
        x.extend_from_slice(&st.beta);
        let kernel = &st.kernel;
        let mut m = vec![0.0; self.y.len()];
        let mut apply = |v: &[f64], out: &mut [f64]| {
            let (a, beta) = v.split_at(n);
            m.iter_mut().for_each(|v| *v = 0.0);
            stamper.add_defect_stamps(kernel, a, &mut m);
            self.basis.add(beta, &mut m);
            self.weigh(&mut m);
            let z = stamper.correlate_defects(kernel, &m);
            for i in 0..n {
                out[i] = z[i] + ridge * a[i];
            }
            out[n..].copy_from_slice(&self.basis.adjoint(&m));
        };
        cg::solve(
            &mut apply,
            &rhs,
            &pre,
            &mut x,
            opt.tol,
            opt.cg_iterations,
            &|| self.stopped(),
        );
        st.beta.copy_from_slice(&x[n..]);
        x.truncate(n);
        // Defects the weights never see keep amplitude 0 rather than noise.
        for (a, p) in x.iter_mut().zip(&pre[..n]) {
            if *p <= ridge {
                *a = 0.0;
            }
        }
        st.amplitudes = x;
        normalise(st);
    }

    /// Alternate kernel and amplitude steps from `start`.
    pub fn fit(&self, start: State, opt: &FitOptions) -> State {
        let mut st = start;
        for _ in 0..opt.outer {
            if self.stopped() {
                return st;
            }
            self.kernel_step(&mut st, opt);
            self.amplitude_step(&mut st, opt);
            if opt.refine_px > 0.0 && !self.stopped() {
                self.position_step(&mut st, opt.refine_px);
                self.amplitude_step(&mut st, opt);
            }
        }
        if opt.refine_px > 0.0 && !self.stopped() {
            self.recentre(&mut st, opt);
        }
        st
    }
}

impl Problem<'_> {
    /// Put the kernel's centre of inversion symmetry, when it has one, on `(S/2, S/2)`: all
    /// positions move by the kernel's offset, and kernel and amplitudes are fitted again.
    /// Without such a centre the positions stay, on average, where they were given.
    pub fn recentre(&self, st: &mut State, opt: &FitOptions) {
        let reach = opt.refine_px.ceil() as usize + 1;
        self.recentre_within(st, opt, reach);
    }

    /// [`Self::recentre`] searching centres up to `reach` pixels from `(S/2, S/2)`; each type
    /// moves by its own kernel's offset.
    pub fn recentre_within(&self, st: &mut State, opt: &FitOptions, reach: usize) {
        let s = st.stamper.size;
        let s2 = s * s;
        for _ in 0..2 {
            let offsets: Vec<[f64; 2]> = st
                .kernel
                .chunks(s2)
                .map(|k| match symmetry::inversion_offset(k, s, reach) {
                    Some((d, _)) if d[0].hypot(d[1]) >= 0.02 => d,
                    _ => [0.0, 0.0],
                })
                .collect();
            if !shift_types(st, &offsets) {
                return;
            }
            self.kernel_step(st, opt);
            self.amplitude_step(st, opt);
        }
    }

    /// One Gauss-Newton step of every defect's position given the kernel and amplitudes,
    /// each step at most half a pixel, the total at most `limit` pixels from the given
    /// position; the mean shift is taken out, so positions stay on average where they were
    /// given (the kernel's centre stays on the impurity).
    pub fn position_step(&self, st: &mut State, limit: f64) {
        let s = st.stamper.size;
        // Central-difference derivatives of each kernel along rows and columns.
        let len = st.kernel.len();
        let (mut ky, mut kx) = (vec![0.0; len], vec![0.0; len]);
        for b in (0..len).step_by(s * s) {
            for r in 0..s {
                for c in 0..s {
                    let at = |rr: usize, cc: usize| st.kernel[b + rr * s + cc];
                    let i = b + r * s + c;
                    ky[i] = match (r > 0, r + 1 < s) {
                        (true, true) => 0.5 * (at(r + 1, c) - at(r - 1, c)),
                        (false, true) => at(r + 1, c) - at(r, c),
                        (true, false) => at(r, c) - at(r - 1, c),
                        _ => 0.0,
                    };
                    kx[i] = match (c > 0, c + 1 < s) {
                        (true, true) => 0.5 * (at(r, c + 1) - at(r, c - 1)),
                        (false, true) => at(r, c + 1) - at(r, c),
                        (true, false) => at(r, c) - at(r, c - 1),
                        _ => 0.0,
                    };
                }
            }
        }
        let prod = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).collect::<Vec<f64>>();
        let st_ = &st.stamper;
        let mut r = self.model(st);
        for ((m, y), w) in r.iter_mut().zip(self.y).zip(&self.weights) {
            *m = w * (y - *m);
        }
        let gy = st_.correlate_defects(&ky, &r);
        let gx = st_.correlate_defects(&kx, &r);
        let hyy = st_.correlate_defects(&prod(&ky, &ky), &self.weights);
        let hxx = st_.correlate_defects(&prod(&kx, &kx), &self.weights);
        let hxy = st_.correlate_defects(&prod(&kx, &ky), &self.weights);
        let n = st_.defects;
        let traces: Vec<f64> = (0..n).map(|i| hyy[i] + hxx[i]).collect();
        let typical = median_positive(&traces);
        let mut steps = vec![[0.0f64; 2]; n];
        let (mut sum, mut wsum) = ([0.0f64; 2], 0.0);
        for i in 0..n {
            let a = st.amplitudes[i];
            let det = hyy[i] * hxx[i] - hxy[i] * hxy[i];
            // Defects seen on too few pixels (at an edge, in the other half) stay put.
            if a == 0.0
                || traces[i] < 0.25 * typical
                || det <= 1e-6 * (hyy[i] * hxx[i]).max(f64::MIN_POSITIVE)
            {
                continue;
            }
            // model(p + d) ~ model(p) - a d . grad K: minimise |r + a d.grad K|^2.
            let dy = -(hxx[i] * gy[i] - hxy[i] * gx[i]) / (det * a);
            let dx = -(hyy[i] * gx[i] - hxy[i] * gy[i]) / (det * a);
            steps[i] = [dy.clamp(-0.5, 0.5), dx.clamp(-0.5, 0.5)];
            let wgt = a.abs();
            sum[0] += wgt * steps[i][0];
            sum[1] += wgt * steps[i][1];
            wsum += wgt;
        }
        if wsum == 0.0 {
            return;
        }
        let mean = [sum[0] / wsum, sum[1] / wsum];
        let sides = [st.stamper.height, st.stamper.width];
        let mut positions = st.stamper.positions.clone();
        for (i, p) in positions.iter_mut().enumerate() {
            for d in 0..2 {
                let given = st.stamper.given[i][d];
                let moved = (p[d] + steps[i][d] - mean[d]).clamp(given - limit, given + limit);
                p[d] = keep_on_map(moved, given, sides[d]);
            }
        }
        st.stamper = st.stamper.moved(positions);
    }
}

impl Problem<'_> {
    /// Noise floor of the kernel's standard error: `sigma^2 / (d_k + penalty)` per pixel, with
    /// `d_k = sum_t (a w)_t^2 W` the data's curvature at kernel pixel k (the diagonal of the
    /// normal matrix) and `sigma^2` the residual variance per degree of freedom. The decay
    /// penalty is left out: it is a prior, and the floor states what the data alone pin down.
    pub fn noise_floor(&self, st: &State, opt: &FitOptions) -> Vec<f64> {
        let s = st.stamper.size;
        let coef = st.stamper.tap_coefficients(&st.amplitudes);
        let coef2: Vec<f64> = coef.iter().map(|c| c * c).collect();
        let d = st.stamper.correlate_kernel(&coef2, &self.weights);
        let pixels: f64 = self.weights.iter().sum();
        let unknowns = (d.len() + st.amplitudes.len() + st.beta.len()) as f64;
        let sigma2 = self.residual_ss(st) / (pixels - unknowns).max(1.0);
        d.chunks(s * s)
            .flat_map(|dt| {
                let mean_d = dt.iter().sum::<f64>() / dt.len().max(1) as f64;
                let penalty = (4.0 * opt.smoothness + RIDGE) * mean_d;
                dt.iter()
                    .map(move |dk| (sigma2 / (dk + penalty).max(f64::MIN_POSITIVE)).sqrt())
            })
            .collect()
    }
}

/// A coordinate `moved` from `from` along an axis of `side` pixels, kept on the map: within
/// the map's pixels, `[-0.5, side - 0.5]` (pixel centres at `0..side`, each half a pixel
/// wide either side), or no further outside than `from` was (a defect may be given off the
/// map, where its kernel still reaches it, but refinement never carries one off it). Half a
/// pixel, not the last centre: a defect detected on the edge pixel whose centre lies in its
/// outer half must be free to go there (clamped at the centre, real-scan seeds 0 and 8 fell
/// from maxdot 0.92 and 0.63 to 0.86 and 0.57).
pub fn keep_on_map(moved: f64, from: f64, side: usize) -> f64 {
    let last = side as f64 - 0.5;
    moved.clamp(from.min(-0.5), from.max(last))
}

/// Move every defect of type `t` (and where it was given) by `offsets[t]` pixels, kept on
/// the map ([`keep_on_map`]); false when all offsets are 0 (nothing moves).
pub fn shift_types(st: &mut State, offsets: &[[f64; 2]]) -> bool {
    if offsets.iter().all(|d| d == &[0.0, 0.0]) {
        return false;
    }
    let types = &st.stamper.types;
    let sides = [st.stamper.height, st.stamper.width];
    let shift = |(i, p): (usize, &[f64; 2])| {
        let d = offsets[usize::from(types[i])];
        [0, 1].map(|a| keep_on_map(p[a] + d[a], p[a], sides[a]))
    };
    let positions = st.stamper.positions.iter().enumerate().map(shift).collect();
    let mut moved = st.stamper.moved(positions);
    moved.given = st.stamper.given.iter().enumerate().map(shift).collect();
    st.stamper = moved;
    true
}

/// Move the amplitudes' scale into the kernels: mean amplitude 1 per type (positive on
/// average).
pub fn normalise(st: &mut State) {
    let s2 = st.stamper.size * st.stamper.size;
    for t in 0..st.stamper.kinds {
        let of_type = |i: &usize| usize::from(st.stamper.types[*i]) == t;
        let idx: Vec<usize> = (0..st.amplitudes.len()).filter(of_type).collect();
        let n = idx.len().max(1) as f64;
        let mean = idx.iter().map(|&i| st.amplitudes[i]).sum::<f64>() / n;
        let rms = (idx.iter().map(|&i| st.amplitudes[i].powi(2)).sum::<f64>() / n).sqrt();
        let scale = if mean.abs() > 1e-3 * rms { mean } else { rms };
        if scale == 0.0 || !scale.is_finite() {
            continue;
        }
        idx.iter().for_each(|&i| st.amplitudes[i] /= scale);
        st.kernel[t * s2..(t + 1) * s2]
            .iter_mut()
            .for_each(|k| *k *= scale);
    }
}

#[cfg(test)]
mod tests {
    use super::keep_on_map;

    #[test]
    fn refined_coordinates_stay_on_the_map() {
        // 224 columns: the map's pixels reach 223.5; 225.16 was once reported.
        assert_eq!(keep_on_map(225.16, 223.0, 224), 223.5);
        assert_eq!(keep_on_map(223.3, 223.0, 224), 223.3);
        assert_eq!(keep_on_map(-0.7, 0.4, 224), -0.5);
        assert_eq!(keep_on_map(100.3, 99.0, 224), 100.3);
        // Given off the map: it may come closer but not go further out.
        assert_eq!(keep_on_map(-3.5, -2.0, 224), -2.0);
        assert_eq!(keep_on_map(-1.0, -2.0, 224), -1.0);
        assert_eq!(keep_on_map(226.0, 225.0, 224), 225.0);
    }
}
