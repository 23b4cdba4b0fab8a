//! Single-impurity LDOS change by the T-matrix method on a tight-binding lattice.
//!
//! `G0(R, w) = (1/N^2) sum_k e^{i k.R} [(w + i eta) - H(k)]^{-1}` on an N x N k-grid (FFT),
//! `T = [1 - V G0(0, w)]^{-1} V`,
//! `drho_a(R, w) = -(1/pi) Im [G0(R) T G0(-R)]_aa` (per spin for spinless models).
//!
//! For Nambu models the LDOS sums both spins: `rho_up(w) + rho_down(w)` where the
//! spin-down part is the hole block at `-w`: `-(1/pi) Im G_hh(-w + i eta)`.

use super::fft2::Fft2Planner;
use super::model::{Lattice, TightBinding};
use crate::{Error, Result};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use std::f64::consts::PI;

/// Where the impurity sits and how strongly it scatters.
#[derive(Clone, Debug, PartialEq)]
pub struct Impurity {
    /// Orbitals of the home cell (spatial sites for spinful models) carrying the potential.
    pub orbitals: Vec<usize>,
    /// Scalar (non-magnetic) potential in eV.
    pub potential_ev: f64,
    /// Magnetic (exchange) potential in eV, moment along z.
    pub magnetic_ev: f64,
}

/// LDOS change on the lattice sites within `reach` cells of the impurity
/// (`|n1|, |n2| <= reach`), computed on an N x N periodic supercell.
#[derive(Clone, Debug)]
pub struct LatticeLdos {
    /// k-grid (supercell) size.
    pub n: usize,
    /// Half-width of the stored box of cells.
    pub reach: usize,
    pub lattice: Lattice,
    /// Fractional positions of the spatial sites (one entry per site, spin summed).
    pub sites: Vec<[f64; 2]>,
    /// `values[((n2 + reach) * (2 reach + 1) + n1 + reach) * sites + s]`; use [`LatticeLdos::at`].
    pub values: Vec<f64>,
}

impl LatticeLdos {
    /// Side of the stored box, `2 reach + 1`.
    pub fn side(&self) -> usize {
        2 * self.reach + 1
    }

    /// LDOS change (states/eV per site) at cell `(n1, n2)`, site `s`; NaN outside the stored box.
    #[inline]
    pub fn at(&self, n1: i64, n2: i64, s: usize) -> f64 {
        let r = self.reach as i64;
        if n1.abs() > r || n2.abs() > r {
            return f64::NAN;
        }
        self.values[(((n2 + r) as usize) * self.side() + (n1 + r) as usize) * self.sites.len() + s]
    }
}

/// Reusable state for simulations: FFT plans, buffers and phase tables.
#[derive(Default)]
pub struct SimContext {
    fft: Fft2Planner,
    buffers: Vec<Vec<C64>>,
    /// When false (default) a Nambu model with a purely scalar impurity uses
    /// `rho = 2 rho_e(w)`, exact by spin symmetry; tests switch it on to check.
    pub nambu_exact_spin_sum: bool,
    /// Memory a simulation may hold; larger k-grids and orbital counts are refused before
    /// allocating (default [`crate::budget::DEFAULT_MEMORY_BUDGET_BYTES`]).
    pub memory_budget: crate::budget::MemoryBudget,
}

/// Green's-function components needed for one LDOS evaluation.
struct GreensSet {
    n: usize,
    support: Vec<usize>,
    /// Local Green's function G0(0) on the support, `|S| x |S|` row-major.
    local: Vec<C64>,
    /// (row, col) -> buffer index.
    index: Vec<((usize, usize), usize)>,
}

impl GreensSet {
    fn buffer(&self, row: usize, col: usize) -> usize {
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
    /// Distinct n2 values (already reduced mod N) and their phase rows, split re/im.
    n2s: Vec<usize>,
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
        let mut n2s: Vec<usize> = Vec::new();
        let mut entries: Vec<EntryTerms> = Vec::new();
        for (r, c, n1, n2, t) in raw {
            let m = n2.rem_euclid(n as i64) as usize;
            let slot = n2s.iter().position(|&x| x == m).unwrap_or_else(|| {
                n2s.push(m);
                n2s.len() - 1
            });
            match entries.iter_mut().find(|e| e.0 == r && e.1 == c) {
                Some(e) => e.2.push((n1, slot, t)),
                None => entries.push((r, c, vec![(n1, slot, t)])),
            }
        }
        let tau = std::f64::consts::TAU;
        let rows_re = n2s
            .iter()
            .map(|&m| {
                (0..n)
                    .map(|j| (-tau * ((j * m) % n) as f64 / n as f64).cos())
                    .collect()
            })
            .collect();
        let rows_im = n2s
            .iter()
            .map(|&m| {
                (0..n)
                    .map(|j| (-tau * ((j * m) % n) as f64 / n as f64).sin())
                    .collect()
            })
            .collect();
        BlochTable {
            dim,
            n2s,
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
    pub fn new() -> Self {
        Self::default()
    }

    fn take_buffers(&mut self, count: usize, len: usize) -> Vec<Vec<C64>> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let mut b = self.buffers.pop().unwrap_or_default();
            b.resize(len, C64::default());
            out.push(b);
        }
        out
    }

    fn return_buffers(&mut self, bufs: Vec<Vec<C64>>) {
        self.buffers.extend(bufs);
    }

    /// Fill G(k) components for `(row, col)` pairs, accumulate G0(0) on the support, FFT.
    fn greens(
        &mut self,
        model: &TightBinding,
        z: C64,
        n: usize,
        support: &[usize],
        pairs: &[(usize, usize)],
        reach: usize,
    ) -> (GreensSet, Vec<Vec<C64>>) {
        let table = BlochTable::new(model, n);
        let dim = table.dim;
        let phases = phase_table(n);
        let mut bufs = self.take_buffers(pairs.len(), n * n);
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
        let local: Vec<C64> = rows
            .into_par_iter()
            .enumerate()
            .map_init(
                || vec![C64::default(); scratch_len],
                |scratch, (m1, mut outs)| {
                    let mut local = vec![C64::default(); ns * ns];
                    if single_band {
                        fill_row_single_band(&table, &phases, m1, z, norm, outs[0]);
                        local[0] = outs[0].iter().sum();
                    } else {
                        fill_row_general(
                            &table, &phases, m1, z, norm, pairs, support, &mut outs, &mut local,
                        );
                    }
                    for row in outs.iter_mut() {
                        plan.process_with_scratch(row, scratch);
                    }
                    local
                },
            )
            .reduce(
                || vec![C64::default(); ns * ns],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        // Only cells within `reach` are needed: prune the column pass to those n2 (and -n2).
        let only: Option<Vec<usize>> =
            (reach < n / 2 - 1).then(|| (0..=2 * reach).map(|b| (b + n - reach) % n).collect());
        // Buffers end up transposed: G(R = (n1, n2)) at [n2 * N + n1].
        for b in bufs.iter_mut() {
            self.fft.columns_transposed(b, n, only.as_deref());
        }
        let index = pairs.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        (
            GreensSet {
                n,
                support: support.to_vec(),
                local,
                index,
            },
            bufs,
        )
    }

    /// Lattice LDOS change around one impurity at energy `energy_ev` with broadening `eta_ev`,
    /// on an `n x n` supercell (n even, >= 8), for every cell of the supercell.
    pub fn lattice_ldos(
        &mut self,
        model: &TightBinding,
        impurity: &Impurity,
        energy_ev: f64,
        eta_ev: f64,
        n: usize,
    ) -> Result<LatticeLdos> {
        self.lattice_ldos_within(model, impurity, energy_ev, eta_ev, n, n / 2)
    }

    /// As [`SimContext::lattice_ldos`] but only for cells within `reach` of the impurity
    /// (clamped to `n/2 - 1`): the FFTs are the same, the T-matrix pass is smaller.
    pub fn lattice_ldos_within(
        &mut self,
        model: &TightBinding,
        impurity: &Impurity,
        energy_ev: f64,
        eta_ev: f64,
        n: usize,
        reach: usize,
    ) -> Result<LatticeLdos> {
        model.validate()?;
        validate_common(impurity, energy_ev, eta_ev, n)?;
        let needed = super::memory::lattice_ldos_bytes(
            model,
            impurity.orbitals.len(),
            n,
            reach.min(n / 2 - 1),
            rayon::current_num_threads(),
        );
        self.memory_budget.check(
            &format!(
                "a {n} x {n} k-grid with {} orbitals ({} on the impurity)",
                model.n_orbitals(),
                impurity.orbitals.len()
            ),
            needed,
        )?;
        let norb = model.n_orbitals();
        let n_sites = if model.spinful { norb / 2 } else { norb };
        for &o in &impurity.orbitals {
            if o >= n_sites {
                return Err(Error::invalid(format!(
                    "impurity orbital {o} does not exist: the model has {n_sites} {}",
                    if model.spinful { "sites" } else { "orbitals" }
                )));
            }
        }
        let site_of = |orbital: usize| {
            if model.spinful { orbital / 2 } else { orbital }
        };
        let sites: Vec<[f64; 2]> = (0..n_sites)
            .map(|s| model.orbitals[if model.spinful { 2 * s } else { s }])
            .collect();
        let reach = reach.min(n / 2 - 1);
        let side = 2 * reach + 1;
        let mut values = vec![0.0; side * side * n_sites];
        let (p, m) = (impurity.potential_ev, impurity.magnetic_ev);
        let z = C64::new(energy_ev, eta_ev);

        if model.is_nambu() {
            // Basis (c_up, c^dagger_down): scalar -> p tau3, magnetic -> m tau0.
            let support: Vec<usize> = impurity
                .orbitals
                .iter()
                .flat_map(|&o| [o, o + norb])
                .collect();
            let v: Vec<f64> = impurity
                .orbitals
                .iter()
                .flat_map(|_| [p + m, -p + m])
                .collect();
            let electrons: Vec<usize> = (0..norb).collect();
            let exact = m != 0.0 || self.nambu_exact_spin_sum;
            let weight = if exact { 1.0 } else { 2.0 };
            self.accumulate(
                model,
                z,
                n,
                &support,
                &v,
                &electrons,
                weight,
                &site_of,
                &mut values,
            );
            if exact {
                let holes: Vec<usize> = (norb..2 * norb).collect();
                let z_hole = C64::new(-energy_ev, eta_ev);
                self.accumulate(
                    model,
                    z_hole,
                    n,
                    &support,
                    &v,
                    &holes,
                    1.0,
                    &|o| site_of(o - norb),
                    &mut values,
                );
            }
        } else if model.spinful {
            let support: Vec<usize> = impurity
                .orbitals
                .iter()
                .flat_map(|&s| [2 * s, 2 * s + 1])
                .collect();
            let v: Vec<f64> = impurity
                .orbitals
                .iter()
                .flat_map(|_| [p + m, p - m])
                .collect();
            let all: Vec<usize> = (0..norb).collect();
            self.accumulate(model, z, n, &support, &v, &all, 1.0, &site_of, &mut values);
        } else {
            let support = impurity.orbitals.clone();
            let all: Vec<usize> = (0..norb).collect();
            if m == 0.0 {
                let v = vec![p; support.len()];
                self.accumulate(model, z, n, &support, &v, &all, 1.0, &site_of, &mut values);
            } else {
                // Per-spin average of the two spin species seeing p +- m.
                let (set, bufs) = self.greens(
                    model,
                    z,
                    n,
                    &support,
                    &component_pairs(&all, &support),
                    reach,
                );
                for sign in [1.0, -1.0] {
                    let v = vec![p + sign * m; support.len()];
                    apply_tmatrix(&set, &bufs, &v, &all, 0.5, &site_of, n_sites, &mut values);
                }
                self.return_buffers(bufs);
            }
        }
        Ok(LatticeLdos {
            n,
            reach,
            lattice: model.lattice,
            sites,
            values,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn accumulate(
        &mut self,
        model: &TightBinding,
        z: C64,
        n: usize,
        support: &[usize],
        v: &[f64],
        ldos_orbitals: &[usize],
        weight: f64,
        site_of: &(dyn Fn(usize) -> usize + Sync),
        values: &mut [f64],
    ) {
        let n_sites = n_sites_of(model);
        let reach = ((values.len() / n_sites) as f64).sqrt().round() as usize / 2;
        let pairs = component_pairs(ldos_orbitals, support);
        let (set, bufs) = self.greens(model, z, n, support, &pairs, reach);
        apply_tmatrix(
            &set,
            &bufs,
            v,
            ldos_orbitals,
            weight,
            site_of,
            n_sites,
            values,
        );
        self.return_buffers(bufs);
    }

    /// Green's function G0(R)_{ab} of a model for checks: returns the N x N grid for one entry.
    pub fn green_component(
        &mut self,
        model: &TightBinding,
        z: C64,
        n: usize,
        row: usize,
        col: usize,
    ) -> Vec<C64> {
        let (_, mut bufs) = self.greens(model, z, n, &[col], &[(row, col)], n / 2);
        let t = bufs.remove(0);
        let out = (0..n * n).map(|i| t[(i % n) * n + i / n]).collect();
        self.return_buffers(bufs);
        out
    }

    /// Time the FFT work alone for a grid of size `n` and `count` components (benchmark baseline).
    pub fn fft_only(&mut self, n: usize, count: usize) {
        let mut bufs = self.take_buffers(count, n * n);
        for b in bufs.iter_mut() {
            self.fft.inverse_2d(b, n);
            let norm = 1.0 / (n * n) as f64;
            b.par_iter_mut().for_each(|x| *x *= norm);
        }
        self.return_buffers(bufs);
    }
}

fn n_sites_of(model: &TightBinding) -> usize {
    if model.spinful {
        model.n_orbitals() / 2
    } else {
        model.n_orbitals()
    }
}

fn validate_common(impurity: &Impurity, energy_ev: f64, eta_ev: f64, n: usize) -> Result<()> {
    if !energy_ev.is_finite() {
        return Err(Error::invalid(format!(
            "energy {energy_ev} eV is not finite"
        )));
    }
    if !(eta_ev.is_finite() && eta_ev > 0.0) {
        return Err(Error::invalid(format!(
            "broadening eta = {eta_ev} eV must be positive"
        )));
    }
    if !(8..=8192).contains(&n) || n % 2 != 0 {
        return Err(Error::invalid(format!(
            "k-grid size {n} must be even and between 8 and 8192"
        )));
    }
    if impurity.orbitals.is_empty() {
        return Err(Error::invalid(
            "the impurity must sit on at least one orbital",
        ));
    }
    if !(impurity.potential_ev.is_finite() && impurity.magnetic_ev.is_finite()) {
        return Err(Error::invalid("impurity potentials must be finite"));
    }
    Ok(())
}

/// Components G_ls (for G0(R)) and G_sl (for G0(-R)) without duplicates.
fn component_pairs(ldos: &[usize], support: &[usize]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for &l in ldos {
        for &s in support {
            for p in [(l, s), (s, l)] {
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
    }
    pairs
}

/// drho_l(R) += weight * -(1/pi) Im sum_{s,s'} G_ls(R) T_ss' G_s'l(-R), summed into sites.
#[allow(clippy::too_many_arguments)]
fn apply_tmatrix(
    set: &GreensSet,
    bufs: &[Vec<C64>],
    v: &[f64],
    ldos_orbitals: &[usize],
    weight: f64,
    site_of: &(dyn Fn(usize) -> usize + Sync),
    n_sites: usize,
    values: &mut [f64],
) {
    let ns = set.support.len();
    let t = tmatrix(&set.local, v);
    let n = set.n;
    let plan: Vec<(usize, Vec<usize>, Vec<usize>)> = ldos_orbitals
        .iter()
        .map(|&l| {
            let fwd = set.support.iter().map(|&s| set.buffer(l, s)).collect();
            let back = set.support.iter().map(|&s| set.buffer(s, l)).collect();
            (site_of(l), fwd, back)
        })
        .collect();
    let scale = -weight / PI;
    let side = ((values.len() / n_sites) as f64).sqrt().round() as usize;
    let reach = side / 2;
    // Storage index of box coordinate b (cell b - reach) along one axis, and of its negative;
    // tabulated once: integer division is slow in the inner loops.
    let pos: Vec<usize> = (0..side).map(|b| (b + n - reach) % n).collect();
    let neg: Vec<usize> = pos.iter().map(|&i| (n - i) % n).collect();
    if ns == 1 && plan.len() == 1 {
        // One band: drho(R) = -(w/pi) Im[T G(R) G(-R)], one pass over the box.
        let (site, fwd, back) = (plan[0].0, plan[0].1[0], plan[0].2[0]);
        let (gf, gb, t0) = (&bufs[fwd], &bufs[back], t[0]);
        values
            .par_chunks_mut(side * n_sites)
            .enumerate()
            .for_each(|(b2, row)| {
                let here = &gf[pos[b2] * n..(pos[b2] + 1) * n];
                let there = &gb[neg[b2] * n..(neg[b2] + 1) * n];
                for b1 in 0..side {
                    let g2 = here[pos[b1]] * there[neg[b1]];
                    row[b1 * n_sites + site] += scale * (t0 * g2).im;
                }
            });
        return;
    }
    values
        .par_chunks_mut(side * n_sites)
        .enumerate()
        .for_each(|(b2, row)| {
            let mut gl = vec![C64::default(); ns];
            for b1 in 0..side {
                let here = pos[b2] * n + pos[b1];
                let there = neg[b2] * n + neg[b1];
                for (site, fwd, back) in &plan {
                    for (s, &b) in fwd.iter().enumerate() {
                        gl[s] = bufs[b][here];
                    }
                    let mut acc = C64::default();
                    for (s2, &b) in back.iter().enumerate() {
                        let g_back = bufs[b][there];
                        let mut tg = C64::default();
                        for s in 0..ns {
                            tg += gl[s] * t[s * ns + s2];
                        }
                        acc += tg * g_back;
                    }
                    row[b1 * n_sites + site] += scale * acc.im;
                }
            }
        });
}

/// T = [1 - V G]^{-1} V for diagonal V on the support.
fn tmatrix(local: &[C64], v: &[f64]) -> Vec<C64> {
    let ns = v.len();
    let mut a = vec![C64::default(); ns * ns];
    for i in 0..ns {
        for j in 0..ns {
            a[i * ns + j] = if i == j {
                C64::new(1.0, 0.0)
            } else {
                C64::default()
            } - v[i] * local[i * ns + j];
        }
    }
    let inv = invert(&a, ns).unwrap_or_else(|| vec![C64::default(); ns * ns]);
    let mut t = vec![C64::default(); ns * ns];
    for i in 0..ns {
        for j in 0..ns {
            t[i * ns + j] = inv[i * ns + j] * v[j];
        }
    }
    t
}

/// Gauss-Jordan inverse with partial pivoting; None when singular.
pub(crate) fn invert(a: &[C64], n: usize) -> Option<Vec<C64>> {
    let mut m = a.to_vec();
    let mut inv = vec![C64::default(); n * n];
    for i in 0..n {
        inv[i * n + i] = C64::new(1.0, 0.0);
    }
    invert_in_place(&mut m, &mut inv, n).then_some(inv)
}

fn invert_in_place(m: &mut [C64], inv: &mut [C64], n: usize) -> bool {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| {
                m[x * n + col]
                    .norm_sqr()
                    .total_cmp(&m[y * n + col].norm_sqr())
            })
            .unwrap();
        if m[pivot * n + col].norm_sqr() < 1e-300 {
            return false;
        }
        if pivot != col {
            for j in 0..n {
                m.swap(pivot * n + j, col * n + j);
                inv.swap(pivot * n + j, col * n + j);
            }
        }
        let d = C64::new(1.0, 0.0) / m[col * n + col];
        for j in 0..n {
            m[col * n + j] *= d;
            inv[col * n + j] *= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != C64::default() {
                    for j in 0..n {
                        let (mc, ic) = (m[col * n + j], inv[col * n + j]);
                        m[r * n + j] -= f * mc;
                        inv[r * n + j] -= f * ic;
                    }
                }
            }
        }
    }
    true
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
    let mut coef = vec![C64::default(); table.n2s.len()];
    table.coefficients(0, m1, phases, &mut coef);
    let mut eps = vec![0.0f64; n];
    for (slot, c) in coef.iter().enumerate() {
        if table.n2s[slot] == 0 {
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
) {
    let n = phases.len();
    let dim = table.dim;
    // H row for all m2: h[m2 * dim^2 + r * dim + c]
    let mut h = vec![C64::default(); n * dim * dim];
    let mut coef = vec![C64::default(); table.n2s.len()];
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::model::{Lattice, TightBindingBuilder};

    fn square(t: f64, mu: f64) -> TightBinding {
        TightBindingBuilder::new(Lattice::square(1.0), vec![[0.0, 0.0]])
            .onsite(0, -mu)
            .hop_real(0, 0, [1, 0], -t)
            .hop_real(0, 0, [0, 1], -t)
            .build()
            .unwrap()
    }

    #[test]
    fn green_function_matches_a_direct_k_sum() {
        let model = square(1.0, 0.3);
        let n = 16;
        let z = C64::new(0.1, 0.05);
        let g = SimContext::new().green_component(&model, z, n, 0, 0);
        for &(n1, n2) in &[(0usize, 0usize), (1, 0), (3, 2), (5, 7)] {
            let mut s = C64::default();
            for m1 in 0..n {
                for m2 in 0..n {
                    let (kx, ky) = (
                        std::f64::consts::TAU * m1 as f64 / n as f64,
                        std::f64::consts::TAU * m2 as f64 / n as f64,
                    );
                    let eps = -2.0 * (kx.cos() + ky.cos()) - 0.3;
                    s += C64::from_polar(1.0, kx * n1 as f64 + ky * n2 as f64) / (z - eps);
                }
            }
            s /= (n * n) as f64;
            assert!(
                (s - g[n1 * n + n2]).norm() < 1e-12,
                "({n1},{n2}): {s} vs {}",
                g[n1 * n + n2]
            );
        }
    }

    #[test]
    fn general_path_agrees_with_single_band_fast_path() {
        // The same band written as two decoupled orbitals must give the same LDOS on orbital 0.
        let one = square(1.0, 0.2);
        let two = TightBindingBuilder::new(Lattice::square(1.0), vec![[0.0, 0.0], [0.5, 0.5]])
            .onsite(0, -0.2)
            .hop_real(0, 0, [1, 0], -1.0)
            .hop_real(0, 0, [0, 1], -1.0)
            .onsite(1, 3.0)
            .build()
            .unwrap();
        let imp = Impurity {
            orbitals: vec![0],
            potential_ev: 0.7,
            magnetic_ev: 0.0,
        };
        let mut ctx = SimContext::new();
        let a = ctx.lattice_ldos(&one, &imp, 0.15, 0.05, 32).unwrap();
        let b = ctx.lattice_ldos(&two, &imp, 0.15, 0.05, 32).unwrap();
        for n1 in -5..5 {
            for n2 in -5..5 {
                let (x, y) = (a.at(n1, n2, 0), b.at(n1, n2, 0));
                assert!((x - y).abs() < 1e-12, "({n1},{n2}): {x} vs {y}");
                assert!(b.at(n1, n2, 1).abs() < 1e-12);
            }
        }
    }
}
