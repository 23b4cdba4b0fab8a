//! Single-impurity LDOS change by the T-matrix method on a tight-binding lattice.
//!
//! `G0(R, w) = (1/N^2) sum_k e^{i k.R} [(w + i eta) - H(k)]^{-1}` on an N x N k-grid (FFT),
//! `T = [1 - V G0(0, w)]^{-1} V`,
//! `drho_a(R, w) = -(1/pi) Im [G0(R) T G0(-R)]_aa` (per spin for spinless models).
//!
//! For Nambu models the LDOS sums both spins: `rho_up(w) + rho_down(w)` where the
//! spin-down part is the hole block at `-w`: `-(1/pi) Im G_hh(-w + i eta)`.

mod greens;
mod scatter;

use super::fft2::Fft2Planner;
use super::model::{Lattice, TightBinding};
use crate::progress::{NoProgress, Progress};
use crate::{Error, Result};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use scatter::{apply_tmatrix, component_pairs};

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

/// The energy of a simulation and its broadening, in eV.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Energy {
    pub energy_ev: f64,
    pub eta_ev: f64,
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

impl SimContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// `count` grids of `len` values, reused from earlier calls where possible; refused with
    /// the budget error (instead of aborting) when the system cannot provide them.
    fn take_buffers(&mut self, count: usize, len: usize) -> Result<Vec<Vec<C64>>> {
        let mut out = Vec::new();
        out.try_reserve_exact(count)
            .map_err(|_| grid_refused(count, len))?;
        for _ in 0..count {
            let mut b = self.buffers.pop().unwrap_or_default();
            if b.len() < len {
                b.try_reserve_exact(len - b.len())
                    .map_err(|_| grid_refused(count, len))?;
            }
            b.resize(len, C64::default());
            out.push(b);
        }
        Ok(out)
    }

    fn return_buffers(&mut self, bufs: Vec<Vec<C64>>) {
        self.buffers.extend(bufs);
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
        let at = Energy { energy_ev, eta_ev };
        self.lattice_ldos_polling(model, impurity, at, n, reach, &NoProgress)
    }

    /// As [`SimContext::lattice_ldos_within`], polling `progress` at every k-grid row, k point
    /// group and FFT pass: a request to cancel stops an 8192^2 grid with
    /// [`Error::Cancelled`] within a fraction of a second.
    pub fn lattice_ldos_polling(
        &mut self,
        model: &TightBinding,
        impurity: &Impurity,
        at: Energy,
        n: usize,
        reach: usize,
        progress: &dyn Progress,
    ) -> Result<LatticeLdos> {
        let Energy { energy_ev, eta_ev } = at;
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
        let mut values = crate::budget::try_vec("the LDOS box", side * side * n_sites, 0.0)?;
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
                progress,
            )?;
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
                    progress,
                )?;
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
            self.accumulate(
                model,
                z,
                n,
                &support,
                &v,
                &all,
                1.0,
                &site_of,
                &mut values,
                progress,
            )?;
        } else {
            let support = impurity.orbitals.clone();
            let all: Vec<usize> = (0..norb).collect();
            if m == 0.0 {
                let v = vec![p; support.len()];
                self.accumulate(
                    model,
                    z,
                    n,
                    &support,
                    &v,
                    &all,
                    1.0,
                    &site_of,
                    &mut values,
                    progress,
                )?;
            } else {
                // Per-spin average of the two spin species seeing p +- m.
                let (set, bufs) = self.greens(
                    model,
                    z,
                    n,
                    &support,
                    &component_pairs(&all, &support),
                    reach,
                    progress,
                )?;
                for sign in [1.0, -1.0] {
                    let v = vec![p + sign * m; support.len()];
                    apply_tmatrix(
                        &set,
                        &bufs,
                        &v,
                        &all,
                        0.5,
                        &site_of,
                        n_sites,
                        &mut values,
                        progress,
                    )?;
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
        progress: &dyn Progress,
    ) -> Result<()> {
        let n_sites = n_sites_of(model);
        let reach = ((values.len() / n_sites) as f64).sqrt().round() as usize / 2;
        let pairs = component_pairs(ldos_orbitals, support);
        let (set, bufs) = self.greens(model, z, n, support, &pairs, reach, progress)?;
        apply_tmatrix(
            &set,
            &bufs,
            v,
            ldos_orbitals,
            weight,
            site_of,
            n_sites,
            values,
            progress,
        )?;
        self.return_buffers(bufs);
        Ok(())
    }

    /// Green's function G0(R)_{ab} of a model for checks: returns the N x N grid for one entry.
    pub fn green_component(
        &mut self,
        model: &TightBinding,
        z: C64,
        n: usize,
        row: usize,
        col: usize,
    ) -> Result<Vec<C64>> {
        let (_, mut bufs) = self.greens(model, z, n, &[col], &[(row, col)], n / 2, &NoProgress)?;
        let t = bufs.remove(0);
        let out = (0..n * n).map(|i| t[(i % n) * n + i / n]).collect();
        self.return_buffers(bufs);
        Ok(out)
    }

    /// Time the FFT work alone for a grid of size `n` and `count` components (benchmark baseline).
    pub fn fft_only(&mut self, n: usize, count: usize) -> Result<()> {
        let mut bufs = self.take_buffers(count, n * n)?;
        for b in bufs.iter_mut() {
            self.fft.inverse_2d(b, n)?;
            let norm = 1.0 / (n * n) as f64;
            b.par_iter_mut().for_each(|x| *x *= norm);
        }
        self.return_buffers(bufs);
        Ok(())
    }
}

/// The budget error of k-grid buffers the system could not provide.
fn grid_refused(count: usize, len: usize) -> Error {
    Error::OverBudget(format!(
        "the k-grid needs {count} complex grids of {len} values ({}), which the system could \
         not provide; use a smaller k-grid or fewer orbitals",
        crate::budget::human(crate::budget::bytes(&[count, len, 16]).unwrap_or(u64::MAX))
    ))
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
        let g = SimContext::new()
            .green_component(&model, z, n, 0, 0)
            .unwrap();
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
