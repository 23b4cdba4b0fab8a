//! The bare Green's function `G0(R, w)` on the N x N k-grid: the Bloch matrix row by row,
//! its inverse at each k, then the 2D FFT (row passes fused with the fill, column passes
//! pruned to the cells needed).

use super::SimContext;
use super::scatter::invert_in_place;
use crate::physics::model::TightBinding;
use crate::progress::{Progress, check_cancelled};
use num_complex::Complex64 as C64;
use rayon::prelude::*;

/// Green's-function components needed for one LDOS evaluation.
pub(super) struct GreensSet {
    pub(super) n: usize,
    pub(super) support: Vec<usize>,
    /// Local Green's function G0(0) on the support, `|S| x |S|` row-major.
    pub(super) local: Vec<C64>,
    /// (row, col) -> buffer index.
    index: Vec<((usize, usize), usize)>,
}

impl GreensSet {
    pub(super) fn buffer(&self, row: usize, col: usize) -> usize {
        self.index
            .iter()
            .find(|(rc, _)| *rc == (row, col))
            .map(|(_, i)| *i)
            .expect("component computed")
    }
}

/// One matrix entry (row, col) and its terms as (n1, slot of n2, amplitude).
type EntryTerms = (usize, usize, Vec<(i64, usize, C64)>);

/// Bloch-matrix terms grouped for fast row-wise evaluation on the N x N k-grid.
///
/// `M_rc(m1, m2) = sum_terms t e^{-2 pi i (m1 n1 + m2 n2) / N}`: per row m1 the terms that
/// share an `n2` collapse into one coefficient, so each k point costs one complex
/// multiply-add per distinct `n2` and matrix entry, with contiguous phase rows.
struct BlochTable {
    dim: usize,
    /// The distinct second cell indices n2 of the terms (reduced mod N), one slot each, and
    /// each slot's phase row `e^{-2 pi i m2 n2 / N}` over m2, split re/im.
    cell2_values: Vec<usize>,
    rows_re: Vec<Vec<f64>>,
    rows_im: Vec<Vec<f64>>,
    /// Per matrix entry (row, col): its terms as (n1, slot of n2, amplitude).
    entries: Vec<EntryTerms>,
}

impl BlochTable {
    fn new(model: &TightBinding, n: usize) -> Self {
        let norb = model.n_orbitals();
        // (row, col, n1, n2, amplitude) in the full (Nambu) basis.
        let mut raw: Vec<(usize, usize, i64, i64, C64)> = Vec::new();
        for h in &model.hoppings {
            raw.push((
                h.to,
                h.from,
                h.cell[0] as i64,
                h.cell[1] as i64,
                h.amplitude,
            ));
        }
        if let Some(pairing) = &model.pairing {
            for h in &model.hoppings {
                // -H(-k)^T: entry (n+b, n+a) gets -t_ab(R) e^{+ik.R}, i.e. cell -R.
                raw.push((
                    norb + h.from,
                    norb + h.to,
                    -h.cell[0] as i64,
                    -h.cell[1] as i64,
                    -h.amplitude,
                ));
            }
            for d in pairing {
                // Delta(k) block (a, n+b); Delta(k)^dagger block (n+b, a) with cell -R.
                raw.push((
                    d.to,
                    norb + d.from,
                    d.cell[0] as i64,
                    d.cell[1] as i64,
                    d.amplitude,
                ));
                raw.push((
                    norb + d.from,
                    d.to,
                    -d.cell[0] as i64,
                    -d.cell[1] as i64,
                    d.amplitude.conj(),
                ));
            }
        }
        let dim = model.matrix_size();
        if dim == 1 {
            // Only Re(eps) matters for one real band: fold each term onto n2 >= 0 by conjugation.
            for t in raw.iter_mut() {
                if t.3 < 0 || (t.3 == 0 && t.2 < 0) {
                    *t = (t.0, t.1, -t.2, -t.3, t.4.conj());
                }
            }
        }
        let mut cell2_values: Vec<usize> = Vec::new();
        let mut entries: Vec<EntryTerms> = Vec::new();
        for (r, c, n1, n2, t) in raw {
            let m = n2.rem_euclid(n as i64) as usize;
            let slot = cell2_values
                .iter()
                .position(|&x| x == m)
                .unwrap_or_else(|| {
                    cell2_values.push(m);
                    cell2_values.len() - 1
                });
            match entries.iter_mut().find(|e| e.0 == r && e.1 == c) {
                Some(e) => e.2.push((n1, slot, t)),
                None => entries.push((r, c, vec![(n1, slot, t)])),
            }
        }
        // Row of slot m: e^{-2 pi i j m / N} for j in 0..N, split into re and im.
        let (rows_re, rows_im) = cell2_values
            .iter()
            .map(|&m| {
                (0..n)
                    .map(|j| (-std::f64::consts::TAU * ((j * m) % n) as f64 / n as f64).sin_cos())
                    .map(|(sin, cos)| (cos, sin))
                    .unzip()
            })
            .unzip();
        BlochTable {
            dim,
            cell2_values,
            rows_re,
            rows_im,
            entries,
        }
    }

    /// Per-slot coefficients of entry `e` on row `m1`.
    fn coefficients(&self, e: usize, m1: usize, phases: &[C64], out: &mut [C64]) {
        let n = phases.len() as i64;
        out.iter_mut().for_each(|c| *c = C64::default());
        for &(n1, slot, t) in &self.entries[e].2 {
            out[slot] += t * phases[(m1 as i64 * n1).rem_euclid(n) as usize];
        }
    }
}

/// `e^{-2 pi i j / N}` for j in 0..N.
fn phase_table(n: usize) -> Vec<C64> {
    (0..n)
        .map(|j| C64::from_polar(1.0, -std::f64::consts::TAU * j as f64 / n as f64))
        .collect()
}

impl SimContext {
    /// Fill G(k) components for `(row, col)` pairs, accumulate G0(0) on the support, FFT.
    /// Polls `progress` at every k-grid row and during the column passes.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn greens(
        &mut self,
        model: &TightBinding,
        z: C64,
        n: usize,
        support: &[usize],
        pairs: &[(usize, usize)],
        reach: usize,
        progress: &dyn Progress,
    ) -> crate::Result<(GreensSet, Vec<Vec<C64>>)> {
        let table = BlochTable::new(model, n);
        let dim = table.dim;
        let phases = phase_table(n);
        let mut bufs = self.take_buffers(pairs.len(), n * n)?;
        let ns = support.len();

        // Row-wise views of every buffer so rows can be filled in parallel.
        let mut rows: Vec<Vec<&mut [C64]>> =
            (0..n).map(|_| Vec::with_capacity(pairs.len())).collect();
        for b in bufs.iter_mut() {
            for (m1, row) in b.chunks_mut(n).enumerate() {
                rows[m1].push(row);
            }
        }
        let single_band = dim == 1;
        let norm = 1.0 / (n * n) as f64;
        let plan = self.fft.plan(n);
        let scratch_len = plan.get_inplace_scratch_len();
        // Fill each k-grid row, normalise, and transform it while it is still in cache.
        // Rows are summed in fixed groups of ROWS_PER_SUM, each in row order, and the groups
        // in order: a parallel reduce would add in an order that depends on work stealing,
        // and results must repeat bit for bit (memory: n / ROWS_PER_SUM partial sums).
        const ROWS_PER_SUM: usize = 32;
        // A row that fails (a Bloch row the system cannot provide) stops the other workers
        // at their next k point too, instead of after their group of rows (minutes).
        let stop = StopOnError::new(progress);
        let partial: crate::Result<Vec<Vec<C64>>> = rows
            .into_par_iter()
            .enumerate()
            .chunks(ROWS_PER_SUM)
            .map_init(
                || vec![C64::default(); scratch_len],
                |scratch, group| -> crate::Result<Vec<C64>> {
                    let mut sum = vec![C64::default(); ns * ns];
                    for (m1, mut outs) in group {
                        check_cancelled(&stop)?;
                        let mut local = vec![C64::default(); ns * ns];
                        if single_band {
                            fill_row_single_band(&table, &phases, m1, z, norm, outs[0]);
                            local[0] = outs[0].iter().sum();
                        } else {
                            fill_row_general(
                                &table, &phases, m1, z, norm, pairs, support, &mut outs,
                                &mut local, &stop,
                            )
                            .map_err(|e| stop.fail(e))?;
                        }
                        for row in outs.iter_mut() {
                            plan.process_with_scratch(row, scratch);
                        }
                        sum.iter_mut().zip(&local).for_each(|(x, y)| *x += y);
                    }
                    Ok(sum)
                },
            )
            .collect();
        let partial = stop.first_error(partial)?;
        let local = partial
            .into_iter()
            .fold(vec![C64::default(); ns * ns], |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            });
        // Only cells within `reach` are needed: prune the column pass to those n2 (and -n2).
        let only: Option<Vec<usize>> =
            (reach < n / 2 - 1).then(|| (0..=2 * reach).map(|b| (b + n - reach) % n).collect());
        // Buffers end up transposed: G(R = (n1, n2)) at [n2 * N + n1].
        for b in bufs.iter_mut() {
            self.fft
                .columns_transposed(b, n, only.as_deref(), progress)?;
        }
        let index = pairs.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        Ok((
            GreensSet {
                n,
                support: support.to_vec(),
                local,
                index,
            },
            bufs,
        ))
    }
}

/// [`Progress`] that also reports "cancelled" once a worker has failed, and keeps that
/// worker's error: the others then stop with [`crate::Error::Cancelled`], which must not
/// hide the real error.
struct StopOnError<'a> {
    inner: &'a dyn Progress,
    failed: std::sync::Mutex<Option<crate::Error>>,
    any: std::sync::atomic::AtomicBool,
}

impl<'a> StopOnError<'a> {
    fn new(inner: &'a dyn Progress) -> Self {
        StopOnError {
            inner,
            failed: std::sync::Mutex::new(None),
            any: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Keeps `e` (the first one wins) for [`StopOnError::first_error`]; the worker itself
    /// returns [`crate::Error::Cancelled`] in its place.
    fn fail(&self, e: crate::Error) -> crate::Error {
        if matches!(e, crate::Error::Cancelled) {
            return e;
        }
        let mut slot = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        self.any.store(true, std::sync::atomic::Ordering::Relaxed);
        crate::Error::Cancelled
    }

    /// `result`, with the recorded error in place of any other.
    fn first_error<T>(&self, result: crate::Result<T>) -> crate::Result<T> {
        let recorded = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (recorded, result) {
            (Some(e), _) => Err(e),
            (None, r) => r,
        }
    }
}

impl Progress for StopOnError<'_> {
    fn cancelled(&self) -> bool {
        self.any.load(std::sync::atomic::Ordering::Relaxed) || self.inner.cancelled()
    }
}

/// Single-band normal state: G(k) = 1 / (z - eps(k)) with eps real; one row of the k-grid.
/// Values are multiplied by `norm` (the FFT's 1/N^2) on the way out.
fn fill_row_single_band(
    table: &BlochTable,
    phases: &[C64],
    m1: usize,
    z: C64,
    norm: f64,
    out: &mut [C64],
) {
    let n = out.len();
    let mut coef = vec![C64::default(); table.cell2_values.len()];
    table.coefficients(0, m1, phases, &mut coef);
    let mut eps = vec![0.0f64; n];
    for (slot, c) in coef.iter().enumerate() {
        if table.cell2_values[slot] == 0 {
            eps.iter_mut().for_each(|e| *e += c.re);
            continue;
        }
        let (pr, pi) = (&table.rows_re[slot], &table.rows_im[slot]);
        for ((e, &a), &b) in eps.iter_mut().zip(pr).zip(pi) {
            *e += c.re * a - c.im * b;
        }
    }
    let (zr, zi) = (z.re, z.im);
    for (o, &e) in out.iter_mut().zip(&eps) {
        let x = zr - e;
        let d = norm / (x * x + zi * zi);
        *o = C64::new(x * d, -zi * d);
    }
}

/// General case: build (z - H(k)) per k of row m1, invert, store the requested entries.
#[allow(clippy::too_many_arguments)]
fn fill_row_general(
    table: &BlochTable,
    phases: &[C64],
    m1: usize,
    z: C64,
    norm: f64,
    pairs: &[(usize, usize)],
    support: &[usize],
    outs: &mut [&mut [C64]],
    local: &mut [C64],
    progress: &dyn Progress,
) -> crate::Result<()> {
    let n = phases.len();
    let dim = table.dim;
    // H row for all m2: h[m2 * dim^2 + r * dim + c] (per worker; fallible, as it is the
    // largest buffer after the grids).
    let mut h = crate::budget::try_vec(
        "a k-grid row of Bloch matrices",
        n * dim * dim,
        C64::default(),
    )?;
    let mut coef = vec![C64::default(); table.cell2_values.len()];
    for (e, (r, c, _)) in table.entries.iter().enumerate() {
        table.coefficients(e, m1, phases, &mut coef);
        let entry = r * dim + c;
        for (slot, cf) in coef.iter().enumerate() {
            if *cf == C64::default() {
                continue;
            }
            let (pr, pi) = (&table.rows_re[slot], &table.rows_im[slot]);
            for m2 in 0..n {
                h[m2 * dim * dim + entry] += cf * C64::new(pr[m2], pi[m2]);
            }
        }
    }
    let ns = support.len();
    let mut m = vec![C64::default(); dim * dim];
    let mut inv = vec![C64::default(); dim * dim];
    for m2 in 0..n {
        // A row of large matrices takes seconds (8192 inversions of 200 x 200).
        check_cancelled(progress)?;
        let hk = &h[m2 * dim * dim..(m2 + 1) * dim * dim];
        for i in 0..dim * dim {
            m[i] = -hk[i];
            inv[i] = C64::default();
        }
        for i in 0..dim {
            m[i * dim + i] += z;
            inv[i * dim + i] = C64::new(1.0, 0.0);
        }
        if !invert_in_place(&mut m, &mut inv, dim) {
            // Singular only at an exact pole with eta = 0, which validation forbids.
            continue;
        }
        for (p, &(r, c)) in pairs.iter().enumerate() {
            outs[p][m2] = inv[r * dim + c] * norm;
        }
        for (i, &si) in support.iter().enumerate() {
            for (j, &sj) in support.iter().enumerate() {
                local[i * ns + j] += inv[si * dim + sj] * norm;
            }
        }
    }
    Ok(())
}
