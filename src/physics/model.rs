//! Band-structure models: tight-binding Hamiltonians on Bravais lattices (any number of
//! orbitals or sublattices, optional spin and Nambu pairing), and the parabolic continuum band.
//!
//! Hamiltonian convention: site basis `|R, a>` (cell `R = n1 a1 + n2 a2`, orbital `a` at
//! fractional position `tau_a`). A hopping `t_ab(R)` is the amplitude from `(0, b)` to `(R, a)`;
//! the Bloch matrix is `H_ab(k) = sum_R t_ab(R) e^{-i k.R}`.

use crate::{Error, Result};
use num_complex::Complex64 as C64;

/// hbar^2 / (2 m_e) in eV Angstrom^2.
pub const HBAR2_OVER_2ME_EV_A2: f64 = 3.809_982_1;

/// Primitive vectors of a 2D Bravais lattice, in Angstrom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lattice {
    pub a1: [f64; 2],
    pub a2: [f64; 2],
}

impl Lattice {
    /// Square lattice of constant `a`.
    pub fn square(a: f64) -> Self {
        Lattice {
            a1: [a, 0.0],
            a2: [0.0, a],
        }
    }
    /// Rectangular (C2) lattice.
    pub fn rectangular(ax: f64, ay: f64) -> Self {
        Lattice {
            a1: [ax, 0.0],
            a2: [0.0, ay],
        }
    }
    /// Triangular (hexagonal Bravais) lattice with a 60 degree angle between a1 and a2.
    pub fn triangular(a: f64) -> Self {
        Lattice {
            a1: [a, 0.0],
            a2: [0.5 * a, 0.5 * 3f64.sqrt() * a],
        }
    }
    /// Cartesian position of fractional coordinates `(f1, f2)`.
    pub fn to_cartesian(&self, f: [f64; 2]) -> [f64; 2] {
        [
            f[0] * self.a1[0] + f[1] * self.a2[0],
            f[0] * self.a1[1] + f[1] * self.a2[1],
        ]
    }
    /// Fractional coordinates of a Cartesian point.
    pub fn to_fractional(&self, r: [f64; 2]) -> [f64; 2] {
        let det = self.a1[0] * self.a2[1] - self.a1[1] * self.a2[0];
        [
            (r[0] * self.a2[1] - r[1] * self.a2[0]) / det,
            (self.a1[0] * r[1] - self.a1[1] * r[0]) / det,
        ]
    }
    /// Unit-cell area in Angstrom^2.
    pub fn cell_area(&self) -> f64 {
        (self.a1[0] * self.a2[1] - self.a1[1] * self.a2[0]).abs()
    }
    /// Shortest lattice-vector length.
    pub fn min_length(&self) -> f64 {
        let n = |v: [f64; 2]| (v[0] * v[0] + v[1] * v[1]).sqrt();
        let s = [self.a1[0] + self.a2[0], self.a1[1] + self.a2[1]];
        let d = [self.a1[0] - self.a2[0], self.a1[1] - self.a2[1]];
        n(self.a1).min(n(self.a2)).min(n(s)).min(n(d))
    }
    fn validate(&self) -> Result<()> {
        let ok = self.a1.iter().chain(self.a2.iter()).all(|x| x.is_finite());
        if !ok || self.cell_area() < 1e-6 {
            return Err(Error::invalid(format!(
                "lattice vectors a1={:?}, a2={:?} must be finite and not parallel",
                self.a1, self.a2
            )));
        }
        Ok(())
    }
}

/// One Fourier term of a Bloch matrix: `M_ab(k) += amplitude * e^{-i k.(n1 a1 + n2 a2)}`,
/// with `a = to`, `b = from`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hopping {
    pub to: usize,
    pub from: usize,
    pub cell: [i32; 2],
    pub amplitude: C64,
}

/// A tight-binding model, optionally spinful and optionally superconducting (Nambu).
#[derive(Clone, Debug, PartialEq)]
pub struct TightBinding {
    pub lattice: Lattice,
    /// Fractional positions of the orbitals in the cell. For spinful models the orbital
    /// list is `[site0 up, site0 down, site1 up, ...]`.
    pub orbitals: Vec<[f64; 2]>,
    /// Whether orbitals come in (up, down) pairs.
    pub spinful: bool,
    /// All Fourier terms of `H(k)`, both directions (use [`TightBindingBuilder`]).
    pub hoppings: Vec<Hopping>,
    /// Singlet pairing `Delta_ab(R)` Fourier terms; `Some` makes the model a BdG superconductor
    /// in the basis `(c_{k,a,up}, c^dagger_{-k,a,down})`.
    pub pairing: Option<Vec<Hopping>>,
}

impl TightBinding {
    /// Number of orbitals per cell (without Nambu doubling).
    pub fn n_orbitals(&self) -> usize {
        self.orbitals.len()
    }
    /// Size of the Bloch matrix (doubled for Nambu).
    pub fn matrix_size(&self) -> usize {
        if self.pairing.is_some() {
            2 * self.n_orbitals()
        } else {
            self.n_orbitals()
        }
    }
    pub fn is_nambu(&self) -> bool {
        self.pairing.is_some()
    }

    /// Check indices, finiteness and Hermiticity (`t_ba(-R) = conj t_ab(R)`).
    pub fn validate(&self) -> Result<()> {
        self.lattice.validate()?;
        let n = self.n_orbitals();
        if n == 0 {
            return Err(Error::invalid(
                "a tight-binding model needs at least one orbital",
            ));
        }
        if self.spinful && n % 2 != 0 {
            return Err(Error::invalid(
                "a spinful model needs orbitals in (up, down) pairs",
            ));
        }
        if self.spinful && self.pairing.is_some() {
            return Err(Error::invalid(
                "spinful models with pairing are not supported; use the spin-degenerate Nambu form",
            ));
        }
        let check = |list: &[Hopping], what: &str| -> Result<()> {
            for h in list {
                if h.to >= n || h.from >= n {
                    return Err(Error::invalid(format!(
                        "{what} between orbitals {} and {} but the model has {n} orbitals",
                        h.from, h.to
                    )));
                }
                if !(h.amplitude.re.is_finite() && h.amplitude.im.is_finite()) {
                    return Err(Error::invalid(format!(
                        "{what} amplitude {} is not finite",
                        h.amplitude
                    )));
                }
                if h.cell.iter().any(|c| c.abs() > 64) {
                    return Err(Error::invalid(format!(
                        "{what} range {:?} cells is beyond 64",
                        h.cell
                    )));
                }
            }
            Ok(())
        };
        check(&self.hoppings, "hopping")?;
        if let Some(p) = &self.pairing {
            check(p, "pairing")?;
        }
        // Hermiticity of H(k): sum of t_ab(R) must equal conj of sum t_ba(-R).
        let mut sums: std::collections::HashMap<(usize, usize, i32, i32), C64> = Default::default();
        for h in &self.hoppings {
            *sums
                .entry((h.to, h.from, h.cell[0], h.cell[1]))
                .or_default() += h.amplitude;
        }
        for (&(a, b, n1, n2), &t) in &sums {
            let partner = sums.get(&(b, a, -n1, -n2)).copied().unwrap_or_default();
            if (t - partner.conj()).norm() > 1e-9 * (1.0 + t.norm()) {
                return Err(Error::invalid(format!(
                    "hoppings are not Hermitian: t[{a},{b}]({n1},{n2}) = {t} but its partner t[{b},{a}]({},{}) = {partner}",
                    -n1, -n2
                )));
            }
        }
        Ok(())
    }

    /// Dense Bloch matrix `H(k)` at Cartesian `k` (1/Angstrom), row-major, size n_orbitals^2.
    /// Used for checks and band-velocity estimates; the Green's-function code uses FFT grids.
    pub fn bloch(&self, k: [f64; 2]) -> Vec<C64> {
        let n = self.n_orbitals();
        let mut h = vec![C64::default(); n * n];
        for t in &self.hoppings {
            let r = self
                .lattice
                .to_cartesian([t.cell[0] as f64, t.cell[1] as f64]);
            let phase = -(k[0] * r[0] + k[1] * r[1]);
            h[t.to * n + t.from] += t.amplitude * C64::from_polar(1.0, phase);
        }
        h
    }
}

/// Builds Hermitian tight-binding models term by term.
#[derive(Clone, Debug)]
pub struct TightBindingBuilder {
    model: TightBinding,
}

impl TightBindingBuilder {
    /// Spinless model on `lattice` with orbitals at fractional positions.
    pub fn new(lattice: Lattice, orbitals: Vec<[f64; 2]>) -> Self {
        TightBindingBuilder {
            model: TightBinding {
                lattice,
                orbitals,
                spinful: false,
                hoppings: vec![],
                pairing: None,
            },
        }
    }
    /// Spinful model: each site gets an (up, down) orbital pair.
    pub fn spinful(lattice: Lattice, sites: Vec<[f64; 2]>) -> Self {
        let orbitals = sites.iter().flat_map(|&s| [s, s]).collect();
        TightBindingBuilder {
            model: TightBinding {
                lattice,
                orbitals,
                spinful: true,
                hoppings: vec![],
                pairing: None,
            },
        }
    }
    /// On-site energy of orbital `a` (eV).
    pub fn onsite(mut self, a: usize, energy: f64) -> Self {
        self.model.hoppings.push(Hopping {
            to: a,
            from: a,
            cell: [0, 0],
            amplitude: C64::new(energy, 0.0),
        });
        self
    }
    /// Hopping `t` from `(0, from)` to `(cell, to)` plus its Hermitian conjugate.
    pub fn hop(mut self, to: usize, from: usize, cell: [i32; 2], t: C64) -> Self {
        self.model.hoppings.push(Hopping {
            to,
            from,
            cell,
            amplitude: t,
        });
        self.model.hoppings.push(Hopping {
            to: from,
            from: to,
            cell: [-cell[0], -cell[1]],
            amplitude: t.conj(),
        });
        self
    }
    /// Real hopping with its conjugate.
    pub fn hop_real(self, to: usize, from: usize, cell: [i32; 2], t: f64) -> Self {
        self.hop(to, from, cell, C64::new(t, 0.0))
    }
    /// Adds `c * cos(k.R)` to `H_aa`.
    pub fn cos_term(self, a: usize, cell: [i32; 2], c: f64) -> Self {
        self.hop(a, a, cell, C64::new(0.5 * c, 0.0))
    }
    /// Adds `c * sin(k.R)` to `H_aa`.
    pub fn sin_term(self, a: usize, cell: [i32; 2], c: f64) -> Self {
        self.hop(a, a, cell, C64::new(0.0, 0.5 * c))
    }
    /// Adds `c * sin(k.R)` to `H_ab` (a != b) and the conjugate to `H_ba`; `c` may be complex.
    pub fn sin_offdiag(self, a: usize, b: usize, cell: [i32; 2], c: C64) -> Self {
        // sin(x) = (e^{ix} - e^{-ix}) / 2i with e^{-ik.R} convention: R -> -c/2i, -R -> c/2i
        let i2 = C64::new(0.0, 2.0);
        let mut s = self;
        s.model.hoppings.push(Hopping {
            to: a,
            from: b,
            cell,
            amplitude: -c / i2,
        });
        s.model.hoppings.push(Hopping {
            to: a,
            from: b,
            cell: [-cell[0], -cell[1]],
            amplitude: c / i2,
        });
        s.model.hoppings.push(Hopping {
            to: b,
            from: a,
            cell: [-cell[0], -cell[1]],
            amplitude: (-c / i2).conj(),
        });
        s.model.hoppings.push(Hopping {
            to: b,
            from: a,
            cell,
            amplitude: (c / i2).conj(),
        });
        s
    }
    /// Singlet pairing term `Delta_ab(R)` with its partner `Delta_ba(-R)` (same value).
    pub fn pair(mut self, a: usize, b: usize, cell: [i32; 2], delta: f64) -> Self {
        let p = self.model.pairing.get_or_insert_with(Vec::new);
        let d = C64::new(delta, 0.0);
        p.push(Hopping {
            to: a,
            from: b,
            cell,
            amplitude: d,
        });
        if !(a == b && cell == [0, 0]) {
            p.push(Hopping {
                to: b,
                from: a,
                cell: [-cell[0], -cell[1]],
                amplitude: d,
            });
        }
        self
    }
    /// Make the model superconducting even if every pairing term is zero (gapless Nambu form).
    pub fn nambu(mut self) -> Self {
        self.model.pairing.get_or_insert_with(Vec::new);
        self
    }
    /// Finish, validating indices and Hermiticity.
    pub fn build(self) -> Result<TightBinding> {
        self.model.validate()?;
        Ok(self.model)
    }
}

/// A parabolic (free-electron-like) surface state, solved exactly in the continuum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParabolicBand {
    /// Band bottom in eV relative to the Fermi level (negative for occupied Shockley states).
    pub band_bottom_ev: f64,
    /// Effective mass in units of the electron mass.
    pub effective_mass: f64,
}

impl ParabolicBand {
    /// hbar^2 / (2 m*) in eV Angstrom^2.
    pub fn kinetic_coefficient(&self) -> f64 {
        HBAR2_OVER_2ME_EV_A2 / self.effective_mass
    }
    /// Complex wave vector (1/Angstrom) at complex energy `E + i eta`, with `Im k >= 0`.
    pub fn wave_vector(&self, energy_ev: f64, eta_ev: f64) -> C64 {
        let k2 = C64::new(energy_ev - self.band_bottom_ev, eta_ev) / self.kinetic_coefficient();
        let k = k2.sqrt();
        if k.im < 0.0 { -k } else { k }
    }
    pub fn validate(&self) -> Result<()> {
        if !(self.effective_mass.is_finite() && self.effective_mass > 0.0) {
            return Err(Error::invalid(format!(
                "effective mass {} must be positive",
                self.effective_mass
            )));
        }
        if !self.band_bottom_ev.is_finite() {
            return Err(Error::invalid("band bottom must be finite"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_hermitian_hoppings_are_rejected_with_the_offending_term() {
        let mut m = TightBindingBuilder::new(Lattice::square(1.0), vec![[0.0, 0.0]])
            .hop_real(0, 0, [1, 0], -1.0)
            .build()
            .unwrap();
        m.hoppings.push(Hopping {
            to: 0,
            from: 0,
            cell: [0, 1],
            amplitude: C64::new(0.3, 0.0),
        });
        let e = m.validate().unwrap_err().to_string();
        assert!(e.contains("not Hermitian") && e.contains("(0,1)"), "{e}");
    }

    #[test]
    fn builder_terms_give_the_intended_bloch_functions() {
        let lat = Lattice::square(2.0);
        let m = TightBindingBuilder::new(lat, vec![[0.0, 0.0], [0.0, 0.0]])
            .cos_term(0, [1, 0], 3.0)
            .sin_term(1, [0, 1], 2.0)
            .sin_offdiag(0, 1, [1, 0], C64::new(0.0, 1.5))
            .build()
            .unwrap();
        let k = [0.37, -0.81];
        let h = m.bloch(k);
        let (kx, ky) = (k[0] * 2.0, k[1] * 2.0);
        assert!((h[0] - C64::new(3.0 * kx.cos(), 0.0)).norm() < 1e-12);
        assert!((h[3] - C64::new(2.0 * ky.sin(), 0.0)).norm() < 1e-12);
        assert!((h[1] - C64::new(0.0, 1.5) * kx.sin()).norm() < 1e-12);
        assert!((h[2] - h[1].conj()).norm() < 1e-12);
    }

    #[test]
    fn fractional_cartesian_round_trip() {
        let lat = Lattice::triangular(3.0);
        let f = [0.3, -1.7];
        let back = lat.to_fractional(lat.to_cartesian(f));
        assert!((back[0] - f[0]).abs() < 1e-12 && (back[1] - f[1]).abs() < 1e-12);
        assert!((lat.min_length() - 3.0).abs() < 1e-12);
    }
}
