//! Exact continuum solution for a point scatterer in a parabolic 2D band (Shockley surface states).
//!
//! With `C = hbar^2 / 2m*`: `G0(r, E) = -(i / 4C) H0^(1)(k r)`, `k = sqrt((E - E0 + i eta) / C)`.
//! An s-wave scatterer with phase shift `delta` has `t = -4C e^{i delta} sin delta`, and
//! `drho(r) = -(1/pi) Im[G0(r)^2 t]` in states / eV / Angstrom^2 per spin.

use super::bessel::hankel1_0;
use super::model::ParabolicBand;
use crate::{Error, Result};
use num_complex::Complex64 as C64;
use std::f64::consts::PI;

/// How the impurity scatters in the continuum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scatterer {
    /// s-wave phase shift in radians (pi/2 is the unitary, "black dot", limit).
    PhaseShift(f64),
    /// Explicit T-matrix in eV Angstrom^2 (used to compare with lattice results).
    TMatrix(C64),
}

/// A continuum kernel at one energy, ready to evaluate anywhere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContinuumKernel {
    pub band: ParabolicBand,
    pub energy_ev: f64,
    pub eta_ev: f64,
    pub scatterer: Scatterer,
    /// Radius below which `r` is replaced by `sqrt(r^2 + core^2)`: the tip cannot resolve the log singularity at r = 0.
    pub core_radius_a: f64,
}

impl ContinuumKernel {
    pub fn new(
        band: ParabolicBand,
        energy_ev: f64,
        eta_ev: f64,
        scatterer: Scatterer,
        core_radius_a: f64,
    ) -> Result<Self> {
        band.validate()?;
        if !(energy_ev.is_finite() && eta_ev.is_finite() && eta_ev >= 0.0) {
            return Err(Error::invalid(format!(
                "energy {energy_ev} eV and broadening {eta_ev} eV must be finite, eta >= 0"
            )));
        }
        if !(core_radius_a.is_finite() && core_radius_a >= 0.0) {
            return Err(Error::invalid("core radius must be >= 0"));
        }
        if let Scatterer::PhaseShift(d) = scatterer {
            if !d.is_finite() {
                return Err(Error::invalid("phase shift must be finite"));
            }
        }
        Ok(ContinuumKernel {
            band,
            energy_ev,
            eta_ev,
            scatterer,
            core_radius_a,
        })
    }

    /// Wave vector (1/Angstrom), `Im k >= 0`.
    pub fn wave_vector(&self) -> C64 {
        self.band.wave_vector(self.energy_ev, self.eta_ev)
    }

    /// T-matrix in eV Angstrom^2.
    pub fn t_matrix(&self) -> C64 {
        match self.scatterer {
            Scatterer::TMatrix(t) => t,
            Scatterer::PhaseShift(d) => {
                -4.0 * self.band.kinetic_coefficient() * C64::from_polar(1.0, d) * d.sin()
            }
        }
    }

    /// Free Green's function at distance `r` (Angstrom) in 1/(eV Angstrom^2).
    pub fn green(&self, r: f64) -> C64 {
        let c = self.band.kinetic_coefficient();
        -C64::new(0.0, 1.0) / (4.0 * c) * hankel1_0(self.wave_vector() * r)
    }

    /// LDOS change at distance `r` (Angstrom), per spin.
    pub fn delta_rho(&self, r: f64) -> f64 {
        let r = (r * r + self.core_radius_a * self.core_radius_a)
            .sqrt()
            .max(1e-9);
        let g = self.green(r);
        -(g * g * self.t_matrix()).im / PI
    }
}
