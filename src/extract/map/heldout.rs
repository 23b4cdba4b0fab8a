//! Held-out score, choice of the smoothness and the symmetry, and the bootstrap.
//!
//! **Protocol.** The map is cut into square blocks (side = the kernel size unless set) and
//! the blocks are dealt at random (seeded) into two halves A and B. The kernel, amplitudes and
//! background are fitted on A's pixels; then, with that kernel fixed, amplitudes and
//! background are fitted on B's pixels alone, and B's residual is compared with the residual
//! of the best background alone on B. The same is done with A and B swapped, and
//! `R^2 = 1 - (SS_A + SS_B) / (SS_bg,A + SS_bg,B)`: the fraction of the map's variance around
//! its background that the kernel explains on pixels it was not fitted to. Near 0 (or below)
//! the kernel means nothing.
//!
//! **Bootstrap.** Each replicate weights every block by a Poisson(1) count (seeded), refits
//! kernel, amplitudes and kernel again from the full fit, and the per-pixel standard deviation
//! over replicates is the kernel's standard error.

use super::fit::{FitOptions, Problem, State, normalise};
use crate::rng::Rng;
use rayon::prelude::*;

/// Held-out blocks are at most this fraction of the map's smaller side, so that a small map
/// (64 x 64 with a 64-pixel kernel) still has blocks to hold out.
const MIN_BLOCKS_PER_SIDE: usize = 4;
/// Smallest block side, in pixels.
const MIN_BLOCK: usize = 4;

/// Block index of every pixel.
pub struct Blocks {
    pub of_pixel: Vec<usize>,
    pub count: usize,
}

impl Blocks {
    pub fn new(height: usize, width: usize, side: usize) -> Self {
        let side = side.max(1);
        let (br, bc) = (height.div_ceil(side), width.div_ceil(side));
        let of_pixel = (0..height * width)
            .map(|i| (i / width / side) * bc + (i % width) / side)
            .collect();
        Blocks {
            of_pixel,
            count: br * bc,
        }
    }

    /// The held-out blocks of an `h x w` map fitted with an `s`-pixel kernel: side `block_px`
    /// when given, else `s` but at most a quarter of the smaller side; at least 4 pixels.
    pub fn for_kernel(height: usize, width: usize, s: usize, block_px: Option<usize>) -> Self {
        let side = block_px.unwrap_or_else(|| s.min(height.min(width) / MIN_BLOCKS_PER_SIDE));
        Self::new(height, width, side.max(MIN_BLOCK))
    }

    /// Two complementary pixel weightings from a seeded random half of the blocks.
    pub fn halves(&self, valid: &[f64], seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut order: Vec<usize> = (0..self.count).collect();
        Rng::stream(seed, 0x4e1d).shuffle(&mut order);
        let mut in_a = vec![false; self.count];
        for &b in order.iter().step_by(2) {
            in_a[b] = true;
        }
        let a = valid
            .iter()
            .zip(&self.of_pixel)
            .map(|(&v, &b)| if in_a[b] { v } else { 0.0 })
            .collect();
        let b = valid
            .iter()
            .zip(&self.of_pixel)
            .map(|(&v, &b)| if in_a[b] { 0.0 } else { v })
            .collect();
        (a, b)
    }

    /// Poisson(1) block counts times the valid weights: one bootstrap replicate.
    pub fn resample(&self, valid: &[f64], rng: &mut Rng) -> Vec<f64> {
        let counts: Vec<f64> = (0..self.count).map(|_| rng.poisson(1.0) as f64).collect();
        valid
            .iter()
            .zip(&self.of_pixel)
            .map(|(&v, &b)| v * counts[b])
            .collect()
    }
}

/// The two fold fits of one setting, kept to warm-start the next setting.
#[derive(Clone)]
pub struct Folds {
    pub a: State,
    pub b: State,
}

/// Residual sum of squares on `test` of a kernel fitted elsewhere, with the amplitudes and
/// background refitted there.
fn test_ss(test: &Problem, fitted: &State, kernel: Vec<f64>, opt: &FitOptions) -> f64 {
    let mut st = State {
        kernel,
        amplitudes: fitted.amplitudes.clone(),
        beta: vec![0.0; fitted.beta.len()],
        stamper: fitted.stamper.clone(),
    };
    test.amplitude_step(&mut st, opt);
    test.residual_ss(&st)
}

/// Held-out scorer of one energy: the two halves and their background-only baselines.
pub struct Scorer<'a> {
    pub a: Problem<'a>,
    pub b: Problem<'a>,
    baseline: f64,
}

impl<'a> Scorer<'a> {
    pub fn new(a: Problem<'a>, b: Problem<'a>, cg_iterations: usize) -> Self {
        let baseline = a.background_only_ss(cg_iterations) + b.background_only_ss(cg_iterations);
        Scorer { a, b, baseline }
    }

    /// Fit both halves from `start` (or from scratch).
    pub fn fit(&self, start: Option<&Folds>, opt: &FitOptions) -> Folds {
        let fresh = || State::start(self.a.stamper, self.a.basis);
        let (sa, sb) = match start {
            Some(f) => (f.a.clone(), f.b.clone()),
            None => (fresh(), fresh()),
        };
        let (a, b) = rayon::join(|| self.a.fit(sa, opt), || self.b.fit(sb, opt));
        Folds { a, b }
    }

    /// Held-out R^2 of the fold kernels, each first projected onto `symmetry`.
    pub fn score(
        &self,
        folds: &Folds,
        symmetry: super::symmetry::Symmetry,
        opt: &FitOptions,
    ) -> f64 {
        if self.baseline <= 0.0 {
            return f64::NAN;
        }
        let s = self.a.stamper.size;
        let project = |k: &[f64]| -> Vec<f64> {
            k.chunks(s * s)
                .flat_map(|kt| super::symmetry::project(kt, s, symmetry))
                .collect()
        };
        let ka = project(&folds.a.kernel);
        let kb = project(&folds.b.kernel);
        let (ss_b, ss_a) = rayon::join(
            || test_ss(&self.b, &folds.a, ka, opt),
            || test_ss(&self.a, &folds.b, kb, opt),
        );
        1.0 - (ss_a + ss_b) / self.baseline
    }
}

/// Per-pixel standard deviation of the kernel over `replicates` block-bootstrap refits.
pub fn bootstrap_std<'a>(
    make: &(dyn Fn(Vec<f64>) -> Problem<'a> + Sync),
    blocks: &Blocks,
    valid: &[f64],
    full: &State,
    opt: &FitOptions,
    replicates: usize,
    seed: u64,
) -> Vec<f64> {
    let n = full.kernel.len();
    if replicates < 2 {
        return vec![f64::NAN; n];
    }
    let kernels: Vec<Vec<f64>> = (0..replicates)
        .into_par_iter()
        .map(|i| {
            let mut rng = Rng::stream(seed, 0xb007 + i as u64);
            let problem = make(blocks.resample(valid, &mut rng));
            let mut st = full.clone();
            if problem.stopped() {
                return st.kernel;
            }
            problem.kernel_step(&mut st, opt);
            problem.amplitude_step(&mut st, opt);
            problem.kernel_step(&mut st, opt);
            normalise(&mut st);
            st.kernel
        })
        .collect();
    let m = replicates as f64;
    (0..n)
        .map(|p| {
            let mean = kernels.iter().map(|k| k[p]).sum::<f64>() / m;
            (kernels.iter().map(|k| (k[p] - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt()
        })
        .collect()
}
