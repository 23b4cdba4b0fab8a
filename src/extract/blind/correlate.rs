//! Cross-correlation of a map with small kernels by FFT, without wrap-around: the map is
//! zero-padded to a size with small prime factors, rows by real FFT (realfft), columns by
//! complex FFT (rustfft); plans and the map's spectrum are reused across kernels.
//!
//! Convention: `C[p] = sum_k K[k] x[p + k - c]` over kernel pixels `k` of an `S x S` kernel
//! with centre `c = (S/2, S/2)`, `x` zero outside the map. That is the matched filter's
//! response of a defect at pixel `p` (the adjoint of stamping the kernel there).
//!
//! The padded spectra and the output are map-sized: they are allocated fallibly, so a map
//! the budget check let through but the system cannot hold is the budget error, not an abort.

use crate::Result;
use crate::budget::try_vec;
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// The smallest `n' >= n` whose prime factors are 2, 3 and 5.
pub fn fast_size(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r % p == 0 {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Plans for one map size and one kernel size.
pub struct Correlator {
    pub height: usize,
    pub width: usize,
    pub size: usize,
    rows: usize,
    cols: usize,
    row_fwd: Arc<dyn RealToComplex<f64>>,
    row_inv: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

/// A spectrum on the padded grid: `rows x (cols/2 + 1)`, stored column by column.
pub struct Spectrum(Vec<C64>);

impl Correlator {
    pub fn new(height: usize, width: usize, size: usize) -> Self {
        let rows = fast_size(height + size);
        let cols = fast_size(width + size);
        let mut real = RealFftPlanner::<f64>::new();
        let mut complex = FftPlanner::<f64>::new();
        Correlator {
            height,
            width,
            size,
            rows,
            cols,
            row_fwd: real.plan_fft_forward(cols),
            row_inv: real.plan_fft_inverse(cols),
            col_fwd: complex.plan_fft_forward(rows),
            col_inv: complex.plan_fft_inverse(rows),
        }
    }

    fn half(&self) -> usize {
        self.cols / 2 + 1
    }

    /// Spectrum of an `h x w` row-major image placed at the padded grid's origin.
    fn forward(&self, image: &[f64], h: usize, w: usize) -> Result<Spectrum> {
        let (rows, cols, half) = (self.rows, self.cols, self.half());
        // Row transforms of the image's rows (the padded rows below are zero).
        let mut row_spec = try_vec("a padded map spectrum", rows * half, C64::default())?;
        row_spec
            .par_chunks_mut(half)
            .take(h)
            .enumerate()
            .for_each_init(
                || (vec![0.0; cols], self.row_fwd.make_scratch_vec()),
                |(buf, scratch), (r, out)| {
                    buf.fill(0.0);
                    buf[..w].copy_from_slice(&image[r * w..(r + 1) * w]);
                    // Lengths match by construction, so this cannot fail.
                    let _ = self.row_fwd.process_with_scratch(buf, out, scratch);
                },
            );
        // Column transforms, stored column-major.
        let mut spec = try_vec("a padded map spectrum", rows * half, C64::default())?;
        spec.par_chunks_mut(rows).enumerate().for_each_init(
            || vec![C64::default(); self.col_fwd.get_inplace_scratch_len()],
            |scratch, (c, col)| {
                for (r, v) in col.iter_mut().enumerate() {
                    *v = row_spec[r * half + c];
                }
                self.col_fwd.process_with_scratch(col, scratch);
            },
        );
        Ok(Spectrum(spec))
    }

    /// Spectrum of a map of this correlator's size.
    pub fn map_spectrum(&self, map: &[f64]) -> Result<Spectrum> {
        self.forward(map, self.height, self.width)
    }

    /// `C[p] = sum_k K[k] x[p + k - c]` for every map pixel `p` (`H x W`, row-major), with
    /// `x` given by its spectrum and `kernel` of `S x S`.
    pub fn correlate(&self, x: &Spectrum, kernel: &[f64]) -> Result<Vec<f64>> {
        let (rows, cols, half, s) = (self.rows, self.cols, self.half(), self.size);
        // Product with the conjugate (in place of the kernel's spectrum), then inverse columns.
        let Spectrum(mut prod) = self.forward(kernel, s, s)?;
        prod.iter_mut()
            .zip(&x.0)
            .for_each(|(b, a)| *b = a * b.conj());
        prod.par_chunks_mut(rows).for_each_init(
            || vec![C64::default(); self.col_inv.get_inplace_scratch_len()],
            |scratch, col| self.col_inv.process_with_scratch(col, scratch),
        );
        // Inverse rows, keeping circular lags d = p - c for map pixels p.
        let c = (s / 2) as isize;
        let norm = 1.0 / (rows * cols) as f64;
        let (h, w) = (self.height, self.width);
        let mut out = try_vec("a correlation map", h * w, 0.0)?;
        out.par_chunks_mut(w).enumerate().for_each_init(
            || {
                (
                    vec![C64::default(); half],
                    vec![0.0; cols],
                    self.row_inv.make_scratch_vec(),
                )
            },
            |(buf, real, scratch), (p_row, dst)| {
                let lag = (p_row as isize - c).rem_euclid(rows as isize) as usize;
                for (j, v) in buf.iter_mut().enumerate() {
                    *v = prod[j * rows + lag];
                }
                // The DC and Nyquist bins of a real signal's spectrum are real; rounding may
                // leave a tiny imaginary part that realfft refuses.
                buf[0].im = 0.0;
                if cols % 2 == 0 {
                    buf[half - 1].im = 0.0;
                }
                let _ = self.row_inv.process_with_scratch(buf, real, scratch);
                for (p_col, d) in dst.iter_mut().enumerate() {
                    let lag = (p_col as isize - c).rem_euclid(cols as isize) as usize;
                    *d = real[lag] * norm;
                }
            },
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn fast_sizes_have_small_factors() {
        assert_eq!(fast_size(1), 1);
        assert_eq!(fast_size(7), 8);
        assert_eq!(fast_size(305), 320);
        assert_eq!(fast_size(243), 243);
    }

    #[test]
    fn correlation_matches_the_direct_sum_without_wrap_around() {
        let mut rng = Rng::new(5);
        let (h, w, s) = (23, 37, 9);
        let x: Vec<f64> = (0..h * w).map(|_| rng.normal()).collect();
        let k: Vec<f64> = (0..s * s).map(|_| rng.normal()).collect();
        let cor = Correlator::new(h, w, s);
        let got = cor.correlate(&cor.map_spectrum(&x).unwrap(), &k).unwrap();
        let c = (s / 2) as i64;
        let mut worst: f64 = 0.0;
        for pr in 0..h as i64 {
            for pc in 0..w as i64 {
                let mut sum = 0.0;
                for kr in 0..s as i64 {
                    for kc in 0..s as i64 {
                        let (r, q) = (pr + kr - c, pc + kc - c);
                        if (0..h as i64).contains(&r) && (0..w as i64).contains(&q) {
                            sum +=
                                k[(kr * s as i64 + kc) as usize] * x[(r * w as i64 + q) as usize];
                        }
                    }
                }
                worst = worst.max((sum - got[(pr * w as i64 + pc) as usize]).abs());
            }
        }
        assert!(
            worst < 1e-10,
            "FFT correlation differs from the direct sum by {worst}"
        );
    }
}
