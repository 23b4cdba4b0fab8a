//! The Fourier amplitude of a kernel: the QPI pattern in q-space that physicists read.
//!
//! Conventions: the mean of the finite pixels is removed first (so the q = 0 pixel carries no
//! offset), non-finite pixels count as that mean; the DFT is unnormalised,
//! `F(q) = sum_r K(r) exp(-i q.r)`; the result is shifted (as NumPy's `fftshift`) so that q = 0
//! sits at pixel `(H/2, W/2)`. Pixel `(i, j)` of the result is the wave vector
//! `q = 2 pi ((i - H/2) / (H p), (j - W/2) / (W p))` for a pixel size `p`; a kernel of `S`
//! pixels thus has a q-pixel of `2 pi / (S p)`.

use ndarray::{Array2, ArrayView2};
use num_complex::Complex;
use rustfft::FftPlanner;

/// `|F(K)|` of `kernel` (mean removed), q = 0 at `(H/2, W/2)`; see the module docs.
pub fn fourier_amplitude(kernel: ArrayView2<f32>) -> Array2<f32> {
    let (h, w) = kernel.dim();
    if h == 0 || w == 0 {
        return Array2::zeros((h, w));
    }
    let (sum, n) = kernel
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0usize), |(s, n), &v| (s + v as f64, n + 1));
    let mean = if n > 0 { sum / n as f64 } else { 0.0 };
    let mut data: Vec<Complex<f64>> = kernel
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v as f64 - mean } else { 0.0 };
            Complex::new(v, 0.0)
        })
        .collect();
    let mut planner = FftPlanner::<f64>::new();
    // Rows (contiguous), then columns through a buffer.
    let row_fft = planner.plan_fft_forward(w);
    row_fft.process(&mut data);
    let col_fft = planner.plan_fft_forward(h);
    let mut column = vec![Complex::new(0.0, 0.0); h];
    for j in 0..w {
        for i in 0..h {
            column[i] = data[i * w + j];
        }
        col_fft.process(&mut column);
        for i in 0..h {
            data[i * w + j] = column[i];
        }
    }
    // fftshift: frequency index k goes to (k + n/2) mod n.
    Array2::from_shape_fn((h, w), |(i, j)| {
        let (ki, kj) = ((i + h - h / 2) % h, (j + w - w / 2) % w);
        data[ki * w + kj].norm() as f32
    })
}

/// The picture of [`fourier_amplitude`]: `log10(|F| + 1e-3 max |F|)`, so weak rings show
/// beside strong ones and the removed mean at q = 0 stays finite.
pub fn fourier_log_picture(kernel: ArrayView2<f32>) -> Array2<f32> {
    let amp = fourier_amplitude(kernel);
    let max = amp.iter().fold(0.0f32, |m, &v| m.max(v));
    let floor = if max > 0.0 { 1e-3 * max } else { 1.0 };
    amp.mapv(|v| (v + floor).log10())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// `|sum_r K(r) exp(-2 pi i (k.r / n))|` by the definition, mean removed, unshifted.
    fn naive(kernel: &Array2<f32>) -> Array2<f64> {
        let (h, w) = kernel.dim();
        let mean = kernel.iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64;
        Array2::from_shape_fn((h, w), |(ki, kj)| {
            let mut acc = Complex::new(0.0, 0.0);
            for ((i, j), &v) in kernel.indexed_iter() {
                let phase =
                    -2.0 * PI * (ki as f64 * i as f64 / h as f64 + kj as f64 * j as f64 / w as f64);
                acc += Complex::from_polar(v as f64 - mean, phase);
            }
            acc.norm()
        })
    }

    #[test]
    fn matches_a_naive_dft_with_q0_at_the_centre() {
        for (h, w) in [(7, 7), (6, 9), (8, 5)] {
            let kernel = Array2::from_shape_fn((h, w), |(i, j)| {
                ((3 * i + 5 * j * j + 1) % 11) as f32 - 4.5 + 0.1 * i as f32
            });
            let fast = fourier_amplitude(kernel.view());
            let slow = naive(&kernel);
            for ((i, j), &v) in fast.indexed_iter() {
                // Shifted pixel (i, j) holds frequency index (i - h/2, j - w/2) mod n.
                let (ki, kj) = ((i + h - h / 2) % h, (j + w - w / 2) % w);
                let want = slow[[ki, kj]];
                assert!(
                    (v as f64 - want).abs() < 1e-4 * (1.0 + want),
                    "({h},{w}) ({i},{j}): {v} vs {want}"
                );
            }
            assert!(
                fast[[h / 2, w / 2]].abs() < 1e-4,
                "mean removed: q = 0 is empty"
            );
        }
    }

    #[test]
    fn a_cosine_kernel_peaks_at_its_wave_vector() {
        // cos(2 pi (3 i / 16 + 2 j / 16)): peaks at q-index +-(3, 2) from the centre.
        let n = 16;
        let kernel = Array2::from_shape_fn((n, n), |(i, j)| {
            (2.0 * PI * (3.0 * i as f64 + 2.0 * j as f64) / n as f64).cos() as f32 + 0.7
        });
        let amp = fourier_amplitude(kernel.view());
        let c = n / 2;
        let peak = amp[[c + 3, c + 2]];
        assert!((peak as f64 - (n * n) as f64 / 2.0).abs() < 1e-3, "{peak}");
        assert!((amp[[c - 3, c - 2]] - peak).abs() < 1e-3);
        for ((i, j), &v) in amp.indexed_iter() {
            if (i, j) != (c + 3, c + 2) && (i, j) != (c - 3, c - 2) {
                assert!(v < 1e-3, "({i}, {j}) = {v}");
            }
        }
        let picture = fourier_log_picture(kernel.view());
        let max = picture.iter().fold(f32::MIN, |m, &v| m.max(v));
        assert_eq!(picture[[c + 3, c + 2]], max);
        assert!(picture.iter().all(|v| v.is_finite()));
    }
}
