//! The forward model's linear operators on the map's own pixels (no wrap-around).
//!
//! A defect at a subpixel position is a few *taps*: integer pixels with Keys cubic
//! interpolation weights (a = -1/2), so `sum_t w_t K(r - n_t)` is the kernel interpolated at
//! `r - r_i`. A tap at pixel `n` puts kernel pixel `k` (row-major, `S x S`, centre
//! `c = S/2`) on map pixel `n + k - c` when that falls on the map; the rest of the kernel is
//! simply not seen (valid-region convolution).
//!
//! Direct stamping costs `O(defects * S^2)` per product, against `O(H W log(H W))` for an
//! FFT convolution of the padded map; by that count it is the cheaper for the sparse defects
//! of STM maps (tens to hundreds of defects; not timed against an FFT version), and it needs
//! no padding, so edges and NaN pixels are exact. A subpixel defect has up to 4 x 4 taps; its
//! products are built separably (columns, then rows: [`Stamper::add_defect_stamps`],
//! [`Stamper::correlate_kernel_defects`], [`Stamper::correlate_defects`]), which took the
//! real-scan preset's median blind time from 2.6 s to 1.9 s (2-core VM, identical results to
//! 1e-12). The per-tap operators remain for the preconditioners' squared weights.

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

/// A defect's interpolation as two axes: its taps are the outer product of `wr` (rows
/// `row..row + nr`) and `wc` (columns `col..col + nc`), so its stamp is the kernel filtered
/// along the columns, then along the rows: 8 multiply-adds per pixel instead of 16, written to
/// the map once instead of once per tap.
#[derive(Clone, Copy, Debug)]
struct Placement {
    row: i64,
    col: i64,
    wr: [f64; 4],
    nr: usize,
    wc: [f64; 4],
    nc: usize,
}

impl Placement {
    /// The one tap of a whole-pixel defect `defect`, stamped without filtering.
    fn single(&self, defect: usize) -> Option<Tap> {
        (self.nr == 1 && self.nc == 1).then_some(Tap {
            row: self.row,
            col: self.col,
            weight: self.wr[0] * self.wc[0],
            defect,
        })
    }
}

/// First pixel, weights (consecutive pixels) and count of one coordinate's taps.
fn axis_span(x: f64) -> (i64, [f64; 4], usize) {
    let taps = axis_taps(x);
    let first = taps.first().map_or(x.round() as i64, |t| t.0);
    let mut w = [0.0; 4];
    let mut n = 1;
    for (p, wt) in taps {
        let i = (p - first) as usize;
        w[i] = wt;
        n = n.max(i + 1);
    }
    (first, w, n)
}

fn placements_of(positions: &[[f64; 2]]) -> Vec<Placement> {
    positions
        .iter()
        .map(|p| {
            let (row, wr, nr) = axis_span(p[0]);
            let (col, wc, nc) = axis_span(p[1]);
            Placement {
                row,
                col,
                wr,
                nr,
                wc,
                nc,
            }
        })
        .collect()
}

/// The element-wise sum of per-chunk partial sums, added in chunk order (the same result on
/// every run); zeros of `len` when there are none.
fn sum_in_order(parts: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    parts
        .into_iter()
        .reduce(|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        })
        .unwrap_or_else(|| vec![0.0; len])
}

/// Dot product in four lanes (vectorised; the same order on every run).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
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
    placements: Vec<Placement>,
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
            placements: placements_of(positions),
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
            placements: placements_of(&positions),
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

    /// The rows of a tap's kernel that land on map rows `[r0, r1)`: per kernel row, the
    /// kernel index of its first pixel on the map, the map index (from row `r0`) where it
    /// lands, and how many pixels land.
    fn tap_rows(
        &self,
        t: &Tap,
        r0: usize,
        r1: usize,
    ) -> impl Iterator<Item = (usize, usize, usize)> {
        let (w, s, c) = (self.width as i64, self.size, self.centre());
        let (klo, khi) = self.row_span(t, r0, r1);
        let (clo, chi) = self.col_span(t);
        let rows = if clo < chi { klo..khi } else { 0..0 };
        rows.map(move |kr| {
            let at = (t.row + kr as i64 - c - r0 as i64) * w + t.col + clo as i64 - c;
            (kr * s + clo, at as usize, chi - clo)
        })
    }

    /// `out += sum_t coef_t * shift(kernel_t, n_t)` over the map; `coef` per tap, `kernel_t`
    /// the kernel of the tap's type. The reference for [`Self::add_defect_stamps`].
    #[cfg(test)]
    pub fn add_stamps(&self, kernel: &[f64], coef: &[f64], out: &mut [f64]) {
        let w = self.width;
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
                    let kernel = &kernel[self.kernel_offset(t)..];
                    for (k, m, n) in self.tap_rows(t, r0, r1) {
                        for (d, &x) in block[m..m + n].iter_mut().zip(&kernel[k..k + n]) {
                            *d += a * x;
                        }
                    }
                }
            });
    }

    /// Adjoint of [`Self::add_stamps`] in the kernels: `g[k] = sum_t coef_t * r[n_t + k - c]`
    /// over the taps of each type (`T S^2` values).
    pub fn correlate_kernel(&self, coef: &[f64], r: &[f64]) -> Vec<f64> {
        let s = self.size;
        let len = self.kinds * s * s;
        let per = self
            .taps
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        let parts: Vec<Vec<f64>> = self
            .taps
            .par_chunks(per)
            .zip(coef.par_chunks(per))
            .map(|(taps, coefs)| {
                let mut g = vec![0.0; len];
                for (t, &a) in taps.iter().zip(coefs) {
                    if a == 0.0 {
                        continue;
                    }
                    let g = &mut g[self.kernel_offset(t)..];
                    for (k, m, n) in self.tap_rows(t, 0, self.height) {
                        for (d, &x) in g[k..k + n].iter_mut().zip(&r[m..m + n]) {
                            *d += a * x;
                        }
                    }
                }
                g
            })
            .collect();
        sum_in_order(parts, len)
    }

    /// Adjoint in the tap coefficients: `z_t = sum_k kernel_t[k] * r[n_t + k - c]`, `kernel_t`
    /// the kernel of the tap's type.
    pub fn correlate_taps(&self, kernel: &[f64], r: &[f64]) -> Vec<f64> {
        self.taps
            .par_iter()
            .map(|t| {
                let kernel = &kernel[self.kernel_offset(t)..];
                self.tap_rows(t, 0, self.height)
                    .map(|(k, m, n)| {
                        r[m..m + n]
                            .iter()
                            .zip(&kernel[k..k + n])
                            .map(|(x, y)| x * y)
                            .sum::<f64>()
                    })
                    .sum()
            })
            .collect()
    }

    /// `out += sum_d a_d * shift(kernel_d, r_d)` over the map: [`Self::add_stamps`] with the
    /// coefficients [`Self::tap_coefficients`]`(amplitudes)`, each defect's stamp built
    /// separably (see [`Placement`]).
    pub fn add_defect_stamps(&self, kernel: &[f64], amplitudes: &[f64], out: &mut [f64]) {
        let (w, s, c) = (self.width, self.size, self.centre());
        let (si, wi) = (s as i64, w as i64);
        let rows = self.rows_per_chunk;
        out.par_chunks_mut(rows * w).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(padded, filtered), (ci, block)| {
                let r0 = (ci * rows) as i64;
                let r1 = r0 + (block.len() / w) as i64;
                for (d, (p, &a)) in self.placements.iter().zip(amplitudes).enumerate() {
                    if a == 0.0 {
                        continue;
                    }
                    let kernel = &kernel[usize::from(self.types[d]) * s * s..][..s * s];
                    if let Some(t) = p.single(d) {
                        // A whole-pixel defect: its kernel, stamped as it is.
                        let aw = a * t.weight;
                        for (k, m, n) in self.tap_rows(&t, r0 as usize, r1 as usize) {
                            for (x, &y) in block[m..m + n].iter_mut().zip(&kernel[k..k + n]) {
                                *x += aw * y;
                            }
                        }
                        continue;
                    }
                    let (nr, nc) = (p.nr as i64, p.nc as i64);
                    // Stamp pixel (i, j), i < S + nr - 1, j < S + nc - 1, lands on map pixel
                    // (top + i, left + j).
                    let (top, left) = (p.row - c, p.col - c);
                    let ilo = (r0 - top).clamp(0, si + nr - 1);
                    let ihi = (r1 - top).clamp(0, si + nr - 1);
                    let jlo = (-left).clamp(0, si + nc - 1);
                    let jhi = (wi - left).clamp(0, si + nc - 1);
                    if ilo >= ihi || jlo >= jhi {
                        continue;
                    }
                    let span = (jhi - jlo) as usize;
                    // Kernel rows klo..khi filtered along the columns, at stamp columns
                    // jlo..jhi: filtered[k][j] = sum_b wc[b] K[k][j - b].
                    let (klo, khi) = ((ilo - nr + 1).max(0), ihi.min(si));
                    filtered.clear();
                    filtered.resize((khi - klo).max(0) as usize * span, 0.0);
                    padded.clear();
                    padded.resize(s + 2 * (p.nc - 1), 0.0);
                    for k in klo..khi {
                        let row = &kernel[k as usize * s..][..s];
                        padded[p.nc - 1..p.nc - 1 + s].copy_from_slice(row);
                        let f = &mut filtered[(k - klo) as usize * span..][..span];
                        for b in 0..p.nc {
                            // padded index of K[k][j - b] is j - b + nc - 1.
                            let from = (jlo - b as i64 + nc - 1) as usize;
                            let src = &padded[from..from + span];
                            let wb = p.wc[b];
                            for (x, &y) in f.iter_mut().zip(src) {
                                *x += wb * y;
                            }
                        }
                    }
                    for i in ilo..ihi {
                        let at = ((top + i - r0) * wi + left + jlo) as usize;
                        let dst = &mut block[at..at + span];
                        for (ar, &wrow) in p.wr[..p.nr].iter().enumerate() {
                            let k = i - ar as i64;
                            if k < klo || k >= khi {
                                continue;
                            }
                            let f = &filtered[(k - klo) as usize * span..][..span];
                            let aw = a * wrow;
                            for (x, &y) in dst.iter_mut().zip(f) {
                                *x += aw * y;
                            }
                        }
                    }
                }
            },
        );
    }

    /// The map window under defect `p`'s stamp, filtered along the columns by its weights:
    /// `out[i][kc] = sum_b wc[b] r[top + i][left + kc + b]` (`S + nr - 1` rows of `S`; zero
    /// where the window leaves the map), and whether each row is on the map.
    fn window_filtered(&self, p: &Placement, r: &[f64], row: &mut Vec<f64>, out: &mut Vec<f64>) {
        let (h, w, s, c) = (
            self.height as i64,
            self.width as i64,
            self.size,
            self.centre(),
        );
        let (top, left) = (p.row - c, p.col - c);
        let sw = s + p.nc - 1;
        out.clear();
        out.resize((s + p.nr - 1) * s, 0.0);
        row.clear();
        row.resize(sw, 0.0);
        let jlo = (-left).clamp(0, sw as i64);
        let jhi = (w - left).clamp(0, sw as i64);
        if jlo >= jhi {
            return;
        }
        for i in 0..s + p.nr - 1 {
            let mr = top + i as i64;
            if mr < 0 || mr >= h {
                continue;
            }
            row.iter_mut().for_each(|x| *x = 0.0);
            let at = (mr * w + left + jlo) as usize;
            row[jlo as usize..jhi as usize].copy_from_slice(&r[at..at + (jhi - jlo) as usize]);
            let o = &mut out[i * s..(i + 1) * s];
            for b in 0..p.nc {
                let wb = p.wc[b];
                for (x, &y) in o.iter_mut().zip(&row[b..b + s]) {
                    *x += wb * y;
                }
            }
        }
    }

    /// Adjoint of [`Self::add_defect_stamps`] in the kernels: [`Self::correlate_kernel`]
    /// with the coefficients [`Self::tap_coefficients`]`(amplitudes)`.
    pub fn correlate_kernel_defects(&self, amplitudes: &[f64], r: &[f64]) -> Vec<f64> {
        let s = self.size;
        let len = self.kinds * s * s;
        let per = self
            .defects
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        let parts: Vec<Vec<f64>> = self
            .placements
            .par_chunks(per)
            .zip(amplitudes.par_chunks(per))
            .enumerate()
            .map(|(ci, (places, amps))| {
                let mut g = vec![0.0; len];
                let (mut row, mut win) = (Vec::new(), Vec::new());
                for (j, (p, &a)) in places.iter().zip(amps).enumerate() {
                    if a == 0.0 {
                        continue;
                    }
                    let d = ci * per + j;
                    let g = &mut g[usize::from(self.types[d]) * s * s..][..s * s];
                    if let Some(t) = p.single(d) {
                        let aw = a * t.weight;
                        for (k, m, n) in self.tap_rows(&t, 0, self.height) {
                            for (x, &y) in g[k..k + n].iter_mut().zip(&r[m..m + n]) {
                                *x += aw * y;
                            }
                        }
                        continue;
                    }
                    self.window_filtered(p, r, &mut row, &mut win);
                    for kr in 0..s {
                        let dst = &mut g[kr * s..][..s];
                        for (ar, &wrow) in p.wr[..p.nr].iter().enumerate() {
                            let aw = a * wrow;
                            for (x, &y) in dst.iter_mut().zip(&win[(kr + ar) * s..][..s]) {
                                *x += aw * y;
                            }
                        }
                    }
                }
                g
            })
            .collect();
        sum_in_order(parts, len)
    }

    /// Adjoint of [`Self::add_defect_stamps`] in the amplitudes: per defect,
    /// `sum_k shift(kernel_d, r_d)[k] r[k]`, which is
    /// [`Self::gather_defects`]`(`[`Self::correlate_taps`]`(kernel, r))`.
    pub fn correlate_defects(&self, kernel: &[f64], r: &[f64]) -> Vec<f64> {
        let s = self.size;
        self.placements
            .par_iter()
            .enumerate()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(row, win), (d, p)| {
                    let kernel = &kernel[usize::from(self.types[d]) * s * s..][..s * s];
                    if let Some(t) = p.single(d) {
                        let z: f64 = self
                            .tap_rows(&t, 0, self.height)
                            .map(|(k, m, n)| dot(&kernel[k..k + n], &r[m..m + n]))
                            .sum();
                        return t.weight * z;
                    }
                    self.window_filtered(p, r, row, win);
                    let mut z = 0.0;
                    for (ar, &wrow) in p.wr[..p.nr].iter().enumerate() {
                        let mut zr = 0.0;
                        for kr in 0..s {
                            zr += dot(&kernel[kr * s..][..s], &win[(kr + ar) * s..][..s]);
                        }
                        z += wrow * zr;
                    }
                    z
                },
            )
            .collect()
    }

    /// Per-tap coefficients `a_defect * w_tap` from per-defect amplitudes.
    pub fn tap_coefficients(&self, amplitudes: &[f64]) -> Vec<f64> {
        self.taps
            .iter()
            .map(|t| amplitudes[t.defect] * t.weight)
            .collect()
    }

    /// Per-defect sums of per-tap values weighted by the tap weights. With
    /// [`Self::correlate_taps`], the reference for [`Self::correlate_defects`].
    #[cfg(test)]
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
    fn separable_defect_operators_equal_the_tap_operators() {
        let mut rng = Rng::new(11);
        for (h, w, s) in [(23, 31, 9), (40, 17, 13), (12, 12, 15)] {
            // Inside, at the edges, beyond them (partly and wholly), integer, subpixel and
            // within the integer tolerance; two types.
            let mut positions = vec![
                [5.0, 6.0],
                [0.0, (w - 1) as f64],
                [-3.0, 12.5],
                [(h - 1) as f64 + 0.25, -2.75],
                [h as f64 / 2.0 + 0.5, w as f64 / 2.0],
                [h as f64 + 2.0, w as f64 + 3.0],
                [3.0 + 1e-8, 4.0 - 1e-8],
                [-40.0, 5.5],
            ];
            for _ in 0..12 {
                positions.push([
                    rng.uniform() * (h as f64 + 8.0) - 4.0,
                    rng.uniform() * (w as f64 + 8.0) - 4.0,
                ]);
            }
            let types: Vec<u8> = (0..positions.len()).map(|i| (i % 2) as u8).collect();
            let st = Stamper::new(h, w, s, &positions).with_types(types, 2);
            let kernel = random(2 * s * s, &mut rng);
            let amps = random(positions.len(), &mut rng);
            let coef = st.tap_coefficients(&amps);
            let r = random(h * w, &mut rng);
            let close = |a: &[f64], b: &[f64], what: &str| {
                let scale = b.iter().map(|x| x.abs()).fold(1.0, f64::max);
                let err = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert_eq!(a.len(), b.len());
                assert!(
                    err < 1e-12 * scale,
                    "{what} ({h} x {w}, S {s}) differs by {err}"
                );
            };
            let (mut taps, mut fast) = (vec![0.5; h * w], vec![0.5; h * w]);
            st.add_stamps(&kernel, &coef, &mut taps);
            st.add_defect_stamps(&kernel, &amps, &mut fast);
            close(&fast, &taps, "stamps");
            close(
                &st.correlate_kernel_defects(&amps, &r),
                &st.correlate_kernel(&coef, &r),
                "kernel adjoint",
            );
            close(
                &st.correlate_defects(&kernel, &r),
                &st.gather_defects(&st.correlate_taps(&kernel, &r)),
                "amplitude adjoint",
            );
        }
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
