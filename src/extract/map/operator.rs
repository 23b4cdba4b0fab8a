//! The forward model's linear operators on the map's own pixels (no wrap-around).
//!
//! A defect at a subpixel position is a few *taps*: integer pixels with Keys cubic
//! interpolation weights (a = -1/2), so `sum_t w_t K(r - n_t)` is the kernel interpolated at
//! `r - r_i`. A tap at pixel `n` puts kernel pixel `k` (row-major, `S x S`, centre
//! `c = S/2`) on map pixel `n + k - c` when that falls on the map; the rest of the kernel is
//! simply not seen (valid-region convolution).
//!
//! Direct stamping costs `O(taps * S^2)` per product, against `O(H W log(H W))` for an FFT
//! convolution of the padded map; by that count it is the cheaper for the sparse defects of
//! STM maps (tens to hundreds of defects, one tap each at integer positions; not timed
//! against an FFT version), and it needs no padding, so edges and NaN pixels are exact.

use rayon::prelude::*;

/// One interpolation tap of a defect.
#[derive(Clone, Copy, Debug)]
pub struct Tap {
    pub row: i64,
    pub col: i64,
    pub weight: f64,
    pub defect: usize,
}

/// Keys cubic convolution kernel (a = -1/2): exact for integer shifts, C1, third order.
fn keys(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        (1.5 * x - 2.5) * x * x + 1.0
    } else if x < 2.0 {
        ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    } else {
        0.0
    }
}

/// Interpolation weights of a coordinate: `(first pixel, weights)`; one tap when integer.
fn axis_taps(x: f64) -> Vec<(i64, f64)> {
    let base = x.floor();
    let f = x - base;
    if !(1e-6..=1.0 - 1e-6).contains(&f) {
        return vec![(x.round() as i64, 1.0)];
    }
    (-1..=2)
        .map(|d| (base as i64 + d, keys(f - d as f64)))
        .filter(|&(_, w)| w != 0.0)
        .collect()
}

/// The taps of defects at `positions` (`(row, col)` pixels).
pub fn taps_of(positions: &[[f64; 2]]) -> Vec<Tap> {
    let mut taps = Vec::with_capacity(positions.len());
    for (defect, p) in positions.iter().enumerate() {
        let (rows, cols) = (axis_taps(p[0]), axis_taps(p[1]));
        for &(row, wr) in &rows {
            for &(col, wc) in &cols {
                taps.push(Tap {
                    row,
                    col,
                    weight: wr * wc,
                    defect,
                });
            }
        }
    }
    taps
}

/// Geometry of the map and the kernel, and the operators between them.
#[derive(Clone, Debug)]
pub struct Stamper {
    pub height: usize,
    pub width: usize,
    /// Kernel side S; the impurity at pixel `(S/2, S/2)`.
    pub size: usize,
    pub taps: Vec<Tap>,
    pub defects: usize,
    /// Current positions `(row, col)`.
    pub positions: Vec<[f64; 2]>,
    /// Positions as given, before any refinement.
    pub given: Vec<[f64; 2]>,
    /// Kernel type of each defect (`< kinds`); kernels are stored one after another, type `t`
    /// at `[t S^2, (t + 1) S^2)` of every kernel vector.
    pub types: Vec<u8>,
    /// Number of kernel types T.
    pub kinds: usize,
    rows_per_chunk: usize,
}

impl Stamper {
    pub fn new(height: usize, width: usize, size: usize, positions: &[[f64; 2]]) -> Self {
        let threads = rayon::current_num_threads().max(1);
        Stamper {
            height,
            width,
            size,
            taps: taps_of(positions),
            defects: positions.len(),
            positions: positions.to_vec(),
            given: positions.to_vec(),
            types: vec![0; positions.len()],
            kinds: 1,
            rows_per_chunk: height.div_ceil(4 * threads).max(1),
        }
    }

    /// The same geometry with defect `i` of type `types[i]` out of `kinds` types.
    pub fn with_types(mut self, types: Vec<u8>, kinds: usize) -> Self {
        debug_assert_eq!(types.len(), self.defects);
        debug_assert!(types.iter().all(|&t| usize::from(t) < kinds));
        self.types = types;
        self.kinds = kinds;
        self
    }

    /// Offset of a tap's kernel in a kernel vector.
    fn kernel_offset(&self, t: &Tap) -> usize {
        usize::from(self.types[t.defect]) * self.size * self.size
    }

    /// The same geometry with defects moved to `positions` (the given ones are kept).
    pub fn moved(&self, positions: Vec<[f64; 2]>) -> Self {
        Stamper {
            taps: taps_of(&positions),
            positions,
            given: self.given.clone(),
            ..self.clone()
        }
    }

    fn centre(&self) -> i64 {
        (self.size / 2) as i64
    }

    /// Kernel columns `[lo, hi)` of a tap that fall on the map (empty when none).
    fn col_span(&self, t: &Tap) -> (usize, usize) {
        let c = self.centre();
        let lo = (c - t.col).clamp(0, self.size as i64) as usize;
        let hi = (self.width as i64 + c - t.col).clamp(0, self.size as i64) as usize;
        (lo, hi.max(lo))
    }

    /// Kernel rows `[lo, hi)` of a tap that fall on map rows `[r0, r1)`.
    fn row_span(&self, t: &Tap, r0: usize, r1: usize) -> (usize, usize) {
        let c = self.centre();
        let lo = (r0 as i64 + c - t.row).clamp(0, self.size as i64) as usize;
        let hi = (r1 as i64 + c - t.row).clamp(0, self.size as i64) as usize;
        (lo, hi.max(lo))
    }

    /// `out += sum_t coef_t * shift(kernel_t, n_t)` over the map; `coef` per tap, `kernel_t`
    /// the kernel of the tap's type.
    pub fn add_stamps(&self, kernel: &[f64], coef: &[f64], out: &mut [f64]) {
        let (w, s, c) = (self.width, self.size, self.centre());
        let chunk = self.rows_per_chunk * w;
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(ci, block)| {
                let r0 = ci * self.rows_per_chunk;
                let r1 = r0 + block.len() / w;
                for (t, &a) in self.taps.iter().zip(coef) {
                    if a == 0.0 {
                        continue;
                    }
                    let (klo, khi) = self.row_span(t, r0, r1);
                    let (clo, chi) = self.col_span(t);
                    if klo >= khi || clo >= chi {
                        continue;
                    }
                    let kernel = &kernel[self.kernel_offset(t)..];
                    for kr in klo..khi {
                        let ir = (t.row + kr as i64 - c) as usize - r0;
                        let ic = (t.col + clo as i64 - c) as usize;
                        let dst = &mut block[ir * w + ic..ir * w + ic + (chi - clo)];
                        let src = &kernel[kr * s + clo..kr * s + chi];
                        for (d, &k) in dst.iter_mut().zip(src) {
                            *d += a * k;
                        }
                    }
                }
            });
    }

    /// Adjoint of [`Self::add_stamps`] in the kernels: `g[k] = sum_t coef_t * r[n_t + k - c]`
    /// over the taps of each type (`T S^2` values).
    pub fn correlate_kernel(&self, coef: &[f64], r: &[f64]) -> Vec<f64> {
        let (w, s, c) = (self.width, self.size, self.centre());
        let len = self.kinds * s * s;
        let per = self
            .taps
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        self.taps
            .par_chunks(per)
            .zip(coef.par_chunks(per))
            .map(|(taps, coefs)| {
                let mut g = vec![0.0; len];
                for (t, &a) in taps.iter().zip(coefs) {
                    if a == 0.0 {
                        continue;
                    }
                    let (klo, khi) = self.row_span(t, 0, self.height);
                    let (clo, chi) = self.col_span(t);
                    if clo >= chi {
                        continue;
                    }
                    let g = &mut g[self.kernel_offset(t)..];
                    for kr in klo..khi {
                        let ir = (t.row + kr as i64 - c) as usize;
                        let ic = (t.col + clo as i64 - c) as usize;
                        let src = &r[ir * w + ic..ir * w + ic + (chi - clo)];
                        let dst = &mut g[kr * s + clo..kr * s + chi];
                        for (d, &x) in dst.iter_mut().zip(src) {
                            *d += a * x;
                        }
                    }
                }
                g
            })
            .collect::<Vec<Vec<f64>>>()
            // Partial sums added in chunk order: the same result on every run.
            .into_iter()
            .reduce(|mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                a
            })
            .unwrap_or_else(|| vec![0.0; len])
    }

    /// Adjoint in the tap coefficients: `z_t = sum_k kernel_t[k] * r[n_t + k - c]`, `kernel_t`
    /// the kernel of the tap's type.
    pub fn correlate_taps(&self, kernel: &[f64], r: &[f64]) -> Vec<f64> {
        let (w, s, c) = (self.width, self.size, self.centre());
        self.taps
            .par_iter()
            .map(|t| {
                let (klo, khi) = self.row_span(t, 0, self.height);
                let (clo, chi) = self.col_span(t);
                let mut z = 0.0;
                if clo >= chi {
                    return z;
                }
                let kernel = &kernel[self.kernel_offset(t)..];
                for kr in klo..khi {
                    let ir = (t.row + kr as i64 - c) as usize;
                    let ic = (t.col + clo as i64 - c) as usize;
                    let src = &r[ir * w + ic..ir * w + ic + (chi - clo)];
                    let k = &kernel[kr * s + clo..kr * s + chi];
                    z += src.iter().zip(k).map(|(x, y)| x * y).sum::<f64>();
                }
                z
            })
            .collect()
    }

    /// Per-tap coefficients `a_defect * w_tap` from per-defect amplitudes.
    pub fn tap_coefficients(&self, amplitudes: &[f64]) -> Vec<f64> {
        self.taps
            .iter()
            .map(|t| amplitudes[t.defect] * t.weight)
            .collect()
    }

    /// Per-defect sums of per-tap values weighted by the tap weights.
    pub fn gather_defects(&self, per_tap: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.defects];
        for (t, &z) in self.taps.iter().zip(per_tap) {
            out[t.defect] += t.weight * z;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n).map(|_| rng.normal()).collect()
    }

    #[test]
    fn stamps_match_a_naive_sum_and_the_adjoints_are_adjoint() {
        let mut rng = Rng::new(3);
        let (h, w, s) = (23, 31, 9);
        // Defects inside, at the edges and beyond them, integer and subpixel.
        let positions = [
            [5.0, 6.0],
            [0.0, 30.0],
            [-3.0, 12.5],
            [22.25, -2.75],
            [11.5, 15.0],
            [25.0, 33.0],
        ];
        let st = Stamper::new(h, w, s, &positions);
        let kernel = random(s * s, &mut rng);
        let amps = random(positions.len(), &mut rng);
        let coef = st.tap_coefficients(&amps);
        let mut y = vec![0.0; h * w];
        st.add_stamps(&kernel, &coef, &mut y);
        // Naive: every tap, every kernel pixel, kept when it lands on the map.
        let mut naive = vec![0.0; h * w];
        let c = (s / 2) as i64;
        for (t, &a) in st.taps.iter().zip(&coef) {
            for kr in 0..s as i64 {
                for kc in 0..s as i64 {
                    let (r, q) = (t.row + kr - c, t.col + kc - c);
                    if (0..h as i64).contains(&r) && (0..w as i64).contains(&q) {
                        naive[(r * w as i64 + q) as usize] +=
                            a * kernel[(kr * s as i64 + kc) as usize];
                    }
                }
            }
        }
        let err = y
            .iter()
            .zip(&naive)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "stamping differs from the naive sum by {err}");
        // <A k, r> = <k, A^T r> in both unknowns.
        let r = random(h * w, &mut rng);
        let lhs: f64 = y.iter().zip(&r).map(|(a, b)| a * b).sum();
        let g = st.correlate_kernel(&coef, &r);
        let rhs_k: f64 = g.iter().zip(&kernel).map(|(a, b)| a * b).sum();
        let z = st.gather_defects(&st.correlate_taps(&kernel, &r));
        let rhs_a: f64 = z.iter().zip(&amps).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs_k).abs() < 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs_k}"
        );
        assert!(
            (lhs - rhs_a).abs() < 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs_a}"
        );
    }

    #[test]
    fn cubic_taps_interpolate_a_smooth_kernel_shift() {
        // A smooth kernel stamped at a half-pixel position equals the kernel sampled there.
        let s = 21;
        let c = (s / 2) as f64;
        let f = |y: f64, x: f64| (-(y * y + x * x) / 18.0).exp();
        let kernel: Vec<f64> = (0..s * s)
            .map(|i| f((i / s) as f64 - c, (i % s) as f64 - c))
            .collect();
        let (h, w) = (40, 40);
        let p = [20.5, 19.25];
        let st = Stamper::new(h, w, s, &[p]);
        let mut y = vec![0.0; h * w];
        st.add_stamps(&kernel, &st.tap_coefficients(&[1.0]), &mut y);
        let mut worst: f64 = 0.0;
        for r in 14..27 {
            for q in 13..26 {
                worst = worst.max((y[r * w + q] - f(r as f64 - p[0], q as f64 - p[1])).abs());
            }
        }
        assert!(worst < 5e-3, "interpolation error {worst}");
    }
}
