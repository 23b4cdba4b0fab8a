//! In-place 2D inverse DFT on square N x N grids with plans and scratch reused.
//!
//! Convention (like RustFFT, unnormalised): `out[n1][n2] = sum_{m1,m2} in[m1][m2] e^{+2 pi i (m1 n1 + m2 n2)/N}`.
//! Callers divide by N^2 themselves.

use crate::Result;
use crate::progress::{Progress, check_cancelled};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// RustFFT's planner (which caches its plans per length) plus a transpose buffer; one per
/// simulation context.
pub struct Fft2Planner {
    planner: FftPlanner<f64>,
    transpose: Vec<C64>,
}

impl Default for Fft2Planner {
    fn default() -> Self {
        Fft2Planner {
            planner: FftPlanner::new(),
            transpose: Vec::new(),
        }
    }
}

impl Fft2Planner {
    /// The 1D inverse plan of length `n` (the planner returns its cached plan after the first).
    pub fn plan(&mut self, n: usize) -> Arc<dyn Fft<f64>> {
        self.planner.plan_fft_inverse(n)
    }

    /// The N x N transpose buffer, allocated fallibly: it is as large as a k-grid.
    fn transpose_buffer(&mut self, n: usize) -> Result<()> {
        if self.transpose.len() != n * n {
            self.transpose = Vec::new();
            self.transpose = crate::budget::try_vec("a k-grid transpose", n * n, C64::default())?;
        }
        Ok(())
    }

    /// Inverse 2D DFT of `data` (row-major N x N) in place, rows in parallel.
    pub fn inverse_2d(&mut self, data: &mut [C64], n: usize) -> Result<()> {
        assert_eq!(data.len(), n * n, "fft2: buffer is not N x N");
        let fft = self.plan(n);
        self.transpose_buffer(n)?;
        let rows = |buf: &mut [C64]| {
            let scratch_len = fft.get_inplace_scratch_len();
            // A few rows per task: enough work to amortise the scratch allocation.
            buf.par_chunks_mut(n * 16).for_each_init(
                || vec![C64::default(); scratch_len],
                |scratch, chunk| fft.process_with_scratch(chunk, scratch),
            );
        };
        rows(data);
        transpose(data, &mut self.transpose, n);
        rows(&mut self.transpose);
        transpose(&self.transpose, data, n);
        Ok(())
    }
}

impl Fft2Planner {
    /// Second half of a 2D inverse DFT whose rows were already transformed: transforms the
    /// columns and leaves the result *transposed*, `data[n2][n1]` (saves a transpose).
    /// With `only = Some(cols)` just those output rows `n2` are computed (a pruned FFT: the
    /// T-matrix needs G(R) only near the impurity); the other rows hold stale values.
    /// Polls `progress` every few columns: a cancelled pass stops with [`crate::Error::Cancelled`]
    /// (an 8192^2 pass takes seconds).
    pub fn columns_transposed(
        &mut self,
        data: &mut Vec<C64>,
        n: usize,
        only: Option<&[usize]>,
        progress: &dyn Progress,
    ) -> Result<()> {
        assert_eq!(data.len(), n * n, "fft2: buffer is not N x N");
        let fft = self.plan(n);
        self.transpose_buffer(n)?;
        let scratch_len = fft.get_inplace_scratch_len();
        match only {
            None => {
                transpose(data, &mut self.transpose, n);
                self.transpose.par_chunks_mut(n * 16).for_each_init(
                    || vec![C64::default(); scratch_len],
                    |scratch, chunk| {
                        if !progress.cancelled() {
                            fft.process_with_scratch(chunk, scratch)
                        }
                    },
                );
            }
            Some(cols) => {
                let mut wanted = vec![false; n];
                cols.iter().for_each(|&c| wanted[c] = true);
                let src: &[C64] = data;
                self.transpose
                    .par_chunks_mut(n)
                    .enumerate()
                    .filter(|(c, _)| wanted[*c])
                    .for_each_init(
                        || vec![C64::default(); scratch_len],
                        |scratch, (c, row)| {
                            if progress.cancelled() {
                                return;
                            }
                            for (m1, x) in row.iter_mut().enumerate() {
                                *x = src[m1 * n + c];
                            }
                            fft.process_with_scratch(row, scratch);
                        },
                    );
            }
        }
        check_cancelled(progress)?;
        std::mem::swap(data, &mut self.transpose);
        Ok(())
    }
}

/// Blocked parallel transpose of an N x N matrix.
fn transpose(src: &[C64], dst: &mut [C64], n: usize) {
    const B: usize = 32;
    dst.par_chunks_mut(n * B)
        .enumerate()
        .for_each(|(bi, block)| {
            let r0 = bi * B;
            let rows = block.len() / n;
            for c0 in (0..n).step_by(B) {
                for r in 0..rows {
                    let out = &mut block[r * n..(r + 1) * n];
                    for c in c0..(c0 + B).min(n) {
                        out[c] = src[c * n + r0 + r];
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn row_then_transposed_column_pass_equals_the_full_transform() {
        let n = 16;
        let input: Vec<C64> = (0..n * n)
            .map(|i| C64::new((i as f64).cos(), (i as f64 * 0.3).sin()))
            .collect();
        let mut planner = Fft2Planner::default();
        let mut full = input.clone();
        planner.inverse_2d(&mut full, n).unwrap();
        let mut split = input;
        let plan = planner.plan(n);
        for row in split.chunks_mut(n) {
            plan.process(row);
        }
        planner
            .columns_transposed(&mut split, n, None, &NoProgress)
            .unwrap();
        for a in 0..n {
            for b in 0..n {
                assert!((full[a * n + b] - split[b * n + a]).norm() < 1e-10);
            }
        }
        // Pruned: only the requested output rows, and they are exact.
        let mut pruned: Vec<C64> = (0..n * n)
            .map(|i| C64::new((i as f64).cos(), (i as f64 * 0.3).sin()))
            .collect();
        for row in pruned.chunks_mut(n) {
            plan.process(row);
        }
        planner
            .columns_transposed(&mut pruned, n, Some(&[0, 1, 15]), &NoProgress)
            .unwrap();
        for b in [0usize, 1, 15] {
            for a in 0..n {
                assert!((full[a * n + b] - pruned[b * n + a]).norm() < 1e-10);
            }
        }
    }

    #[test]
    fn matches_a_naive_dft() {
        let n = 12;
        let input: Vec<C64> = (0..n * n)
            .map(|i| C64::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect();
        let mut fast = input.clone();
        Fft2Planner::default().inverse_2d(&mut fast, n).unwrap();
        for n1 in 0..n {
            for n2 in 0..n {
                let mut s = C64::default();
                for m1 in 0..n {
                    for m2 in 0..n {
                        let ph = std::f64::consts::TAU * ((m1 * n1 + m2 * n2) as f64) / n as f64;
                        s += input[m1 * n + m2] * C64::from_polar(1.0, ph);
                    }
                }
                assert!((s - fast[n1 * n + n2]).norm() < 1e-9, "({n1},{n2})");
            }
        }
    }
}
