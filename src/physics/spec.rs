//! Kernel specifications: everything needed to simulate and render one kernel.
//!
//! The same struct describes built-in catalog entries and user kernels read from TOML:
//!
//! ```toml
//! name = "my-square-lattice"  # optional (default "user-kernel")
//! symmetry = 4            # optional n-fold label (1 = isotropic; absent = not stated)
//! energy_ev = 0.05        # bias energy relative to the Fermi level
//! broadening_ev = 0.01    # eta
//!
//! [model]
//! kind = "tight-binding"
//! a1 = [3.5, 0.0]         # Angstrom
//! a2 = [0.0, 3.5]
//! orbitals = [[0.0, 0.0]] # fractional positions
//! orbital_radius_a = 1.0  # Gaussian orbital smearing (Angstrom, >= 0; default 0.6 x NN distance)
//! hoppings = [
//!   { to = 0, from = 0, cell = [0, 0], t = 0.1 },     # on-site energy (eV)
//!   { to = 0, from = 0, cell = [1, 0], t = -0.25 },   # Hermitian partner added
//!   { to = 0, from = 0, cell = [0, 1], t = -0.25 },
//! ]
//! # superconducting = true; pairing = [{ to = 0, from = 0, cell = [1, 0], t = 0.01 }]
//! # (singlet: Delta(k) = sum_R Delta(R) e^{-ik.R}, partner Delta_ba(-R) = Delta_ab(R) added)
//!
//! [impurity]
//! orbitals = [0]
//! potential_ev = 0.5      # scalar: V on each spin, V tau3 in Nambu space
//!
//! [kgrid]
//! n = 512                 # omit for automatic choice within `tolerance`; raised if too small
//!
//! [render]
//! size = [64, 64]
//! pixel_size_a = 4.0
//! # sites = true          # lattice-site values instead of the smeared LDOS
//! ```
//! A continuum surface state uses `[model] kind = "parabolic"`, `band_bottom_ev`,
//! `effective_mass`, and `[impurity] phase_shift_rad`.

use super::continuum::{ContinuumKernel, Scatterer};
use super::model::{Hopping, Lattice, ParabolicBand, TightBinding};
use super::render::{KernelField, PixelGrid};
use super::tmatrix::{Energy, Impurity, SimContext};
use crate::progress::{NoProgress, Progress};
use crate::{Error, Result};
use ndarray::Array2;
use num_complex::Complex64 as C64;
use serde::{Deserialize, Serialize};

/// A hopping or pairing amplitude: a real number or `[re, im]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amplitude {
    Real(f64),
    Complex([f64; 2]),
}

impl Amplitude {
    fn value(self) -> C64 {
        match self {
            Amplitude::Real(x) => C64::new(x, 0.0),
            Amplitude::Complex([r, i]) => C64::new(r, i),
        }
    }
    fn from_c64(z: C64) -> Self {
        if z.im == 0.0 {
            Amplitude::Real(z.re)
        } else {
            Amplitude::Complex([z.re, z.im])
        }
    }
}

/// One Fourier term `M_ab(k) += t e^{-i k.(n1 a1 + n2 a2)}` (a = `to`, b = `from`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermSpec {
    pub to: usize,
    pub from: usize,
    pub cell: [i32; 2],
    pub t: Amplitude,
}

fn default_true() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Orbital radius when a spec gives none: this fraction of the nearest-neighbour distance
/// (the catalog's choice: neighbouring orbitals' clouds overlap as Wannier functions do).
pub const DEFAULT_ORBITAL_RADIUS_NN_FRACTION: f64 = 0.6;

/// The band-structure part of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelSpec {
    TightBinding {
        a1: [f64; 2],
        a2: [f64; 2],
        orbitals: Vec<[f64; 2]>,
        #[serde(default, skip_serializing_if = "is_false")]
        spinful: bool,
        /// Gaussian radius (sigma) of each orbital's charge cloud, Angstrom, `>= 0`; absent:
        /// [`DEFAULT_ORBITAL_RADIUS_NN_FRACTION`] of the nearest-neighbour distance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        orbital_radius_a: Option<f64>,
        /// When true (default) every listed term gets its partner: hoppings `t_ab(R)` their
        /// Hermitian partner `t_ba(-R) = conj t_ab(R)`, pairing terms `Delta_ab(R)` their
        /// singlet partner `Delta_ba(-R) = Delta_ab(R)`; on-site terms (`to = from`,
        /// `cell = [0, 0]`) get none.
        #[serde(default = "default_true", skip_serializing_if = "is_true")]
        add_partners: bool,
        hoppings: Vec<TermSpec>,
        /// Nambu (BdG) superconductor even when `pairing` is empty (a gapless one).
        #[serde(default, skip_serializing_if = "is_false")]
        superconducting: bool,
        /// Singlet gap terms: `Delta(k) = sum_R Delta(R) e^{-i k.R}` in the basis
        /// `(c_{k,a,up}, c^dagger_{-k,b,down})`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pairing: Vec<TermSpec>,
    },
    Parabolic {
        band_bottom_ev: f64,
        effective_mass: f64,
    },
}

/// The impurity part of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpuritySpec {
    /// Home-cell orbitals (spatial sites of spinful models) carrying the potential; default `[0]`.
    #[serde(default = "default_orbitals")]
    pub orbitals: Vec<usize>,
    /// Scalar (non-magnetic) potential `V`, eV: `V` on each spin, `V tau3` in Nambu space
    /// (it scatters electrons with `+V`, holes with `-V`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub potential_ev: f64,
    /// Magnetic (exchange) potential `J`, eV, moment along z: `+J` on spin up, `-J` on spin
    /// down, `J tau0` in Nambu space.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub magnetic_ev: f64,
    /// Continuum models only: s-wave phase shift (radians).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_shift_rad: Option<f64>,
}

fn default_orbitals() -> Vec<usize> {
    vec![0]
}

/// k-grid choice: a fixed `n`, or automatic within a wrap-around `tolerance`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KGridSpec {
    /// A fixed N x N grid; absent: the smallest that meets `tolerance`. Either way a grid
    /// too small for the render window is raised (see [`KernelSpec::kgrid_used`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Largest wrap-around error bound of the automatic choice (relative).
    #[serde(
        default = "default_tolerance",
        skip_serializing_if = "is_default_tolerance"
    )]
    pub tolerance: f64,
}

fn default_tolerance() -> f64 {
    1e-3
}

fn is_default_tolerance(t: &f64) -> bool {
    *t == default_tolerance()
}

impl KGridSpec {
    fn is_default(&self) -> bool {
        *self == KGridSpec::default()
    }
}

impl Default for KGridSpec {
    fn default() -> Self {
        KGridSpec {
            n: None,
            tolerance: default_tolerance(),
        }
    }
}

/// Output grid of the kernel image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderSpec {
    /// `[rows, cols]` of the kernel image; the impurity sits at pixel `(rows/2, cols/2)`.
    #[serde(default = "default_size")]
    pub size: [usize; 2],
    pub pixel_size_a: f64,
    /// Scan rotation, degrees, counter-clockwise, image to sample frame.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotation_deg: f64,
    /// Lattice models only: when true the kernel image holds the lattice-site values
    /// (states/eV per site, each site's value in the pixel nearest it, summed where several
    /// share one, 0 elsewhere) instead of the Gaussian-smeared LDOS. Observations are always
    /// rendered smeared.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sites: bool,
}

fn default_size() -> [usize; 2] {
    [64, 64]
}

/// Evenly spaced energies `start_ev, ..., stop_ev` (both included; `count` of them), eV.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyRange {
    pub start_ev: f64,
    pub stop_ev: f64,
    pub count: usize,
}

/// Most energies of one K(E) stack.
pub const MAX_ENERGIES: usize = 1024;

fn no_energy() -> f64 {
    f64::NAN
}

fn is_no_energy(e: &f64) -> bool {
    e.is_nan()
}

/// A complete kernel description.
///
/// One energy (`energy_ev`), or a K(E) stack: `energies_ev = [...]` or
/// `energy_range = { start_ev, stop_ev, count }` instead of `energy_ev`
/// ([`KernelSpec::energies`], [`KernelSpec::at_energy`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSpec {
    /// Name for files, titles and dataset tables; default [`DEFAULT_KERNEL_NAME`].
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family: String,
    /// n-fold rotation symmetry label (1 = isotropic, 2, 3, 4, 6); 0 (the default) = not
    /// stated, which training's symmetry loss skips.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub symmetry: u8,
    /// The energy (eV from the Fermi level); NaN (absent in TOML) for a stack spec.
    #[serde(default = "no_energy", skip_serializing_if = "is_no_energy")]
    pub energy_ev: f64,
    /// The energies of a K(E) stack, eV, in output order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energies_ev: Option<Vec<f64>>,
    /// The energies of a K(E) stack as a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_range: Option<EnergyRange>,
    pub broadening_ev: f64,
    pub model: ModelSpec,
    pub impurity: ImpuritySpec,
    #[serde(default, skip_serializing_if = "KGridSpec::is_default")]
    pub kgrid: KGridSpec,
    pub render: RenderSpec,
}

/// The top-level table of a spec that `qpik fit` reads and writes; not part of the kernel.
pub const FIT_TABLE: &str = "fit";

/// The name of a spec that gives none.
pub const DEFAULT_KERNEL_NAME: &str = "user-kernel";

fn default_name() -> String {
    DEFAULT_KERNEL_NAME.to_string()
}

fn is_zero_u8(x: &u8) -> bool {
    *x == 0
}

impl KernelSpec {
    /// Parse a TOML spec; errors name the offending key.
    /// A top-level `[fit]` table (the fit settings and result of `qpik fit`, see
    /// [`crate::fit`]) is not part of the kernel and is ignored.
    pub fn from_toml(text: &str) -> Result<Self> {
        let invalid = |e: &dyn std::fmt::Display| Error::invalid(format!("kernel spec: {e}"));
        let spec: KernelSpec = match text.parse::<toml::Table>() {
            Ok(mut table) if table.contains_key(FIT_TABLE) => {
                table.remove(FIT_TABLE);
                table.try_into().map_err(|e| invalid(&e))?
            }
            // Parsed from the text itself, so errors keep their line and column.
            _ => toml::from_str(text).map_err(|e| invalid(&e))?,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as TOML text (round-trips through [`KernelSpec::from_toml`]), without the
    /// fields that hold their defaults. A fixed `kgrid.n` that a simulation raises (see
    /// [`KernelSpec::kgrid_used`]) is written as the raised size, so the text, kept as a
    /// file's provenance, reproduces the simulation.
    pub fn to_toml(&self) -> String {
        let mut spec = self.clone();
        if let (Some(n), Ok(Some(used))) = (spec.kgrid.n, self.kgrid_used()) {
            if used != n {
                spec.kgrid.n = Some(used);
            }
        }
        toml::to_string(&spec).expect("kernel specs always serialise")
    }

    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("kernel spec: name is empty"));
        }
        if ![0, 1, 2, 3, 4, 6].contains(&self.symmetry) {
            return Err(Error::invalid(format!(
                "kernel spec '{}': symmetry {} must be 1, 2, 3, 4 or 6 (n-fold; 1 = isotropic), \
                 or 0 / absent for not stated",
                self.name, self.symmetry
            )));
        }
        self.validate_energies()?;
        self.grid().validate()?;
        match self.model {
            ModelSpec::TightBinding {
                orbital_radius_a, ..
            } => {
                if let Some(r) = orbital_radius_a {
                    if !(r.is_finite() && r >= 0.0) {
                        return Err(Error::invalid(format!(
                            "kernel spec '{}': orbital_radius_a = {r} Angstrom must be a finite \
                             number >= 0 (or absent for {DEFAULT_ORBITAL_RADIUS_NN_FRACTION} of \
                             the nearest-neighbour distance)",
                            self.name
                        )));
                    }
                }
                self.tight_binding()?;
            }
            ModelSpec::Parabolic { .. } if self.render.sites => {
                return Err(Error::invalid(format!(
                    "kernel spec '{}': render.sites needs a lattice model; a parabolic \
                     (continuum) model has no sites",
                    self.name
                )));
            }
            ModelSpec::Parabolic { .. } => {}
        }
        Ok(())
    }

    /// One energy (`energy_ev`, finite), or a stack: exactly one of `energies_ev` and
    /// `energy_range`, 1 to [`MAX_ENERGIES`] finite energies, and no `energy_ev`.
    fn validate_energies(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(format!("kernel spec '{}': {m}", self.name)));
        match (&self.energies_ev, &self.energy_range) {
            (None, None) if self.energy_ev.is_finite() => Ok(()),
            (None, None) => bad(format!(
                "energy_ev = {} must be a finite number (eV), or give energies_ev = [...] or \
                 energy_range = {{ start_ev, stop_ev, count }} for a stack",
                self.energy_ev
            )),
            (Some(_), Some(_)) => bad("give energies_ev or energy_range, not both".into()),
            _ if !self.energy_ev.is_nan() => bad(
                "a stack spec (energies_ev or energy_range) takes no energy_ev: remove it".into(),
            ),
            (Some(list), None) => {
                if list.is_empty() || list.len() > MAX_ENERGIES {
                    return bad(format!(
                        "energies_ev has {} energies; give 1 to {MAX_ENERGIES}",
                        list.len()
                    ));
                }
                match list.iter().find(|e| !e.is_finite()) {
                    Some(e) => bad(format!(
                        "energies_ev holds {e}; every energy must be finite"
                    )),
                    None => Ok(()),
                }
            }
            (None, Some(r)) => {
                if !(1..=MAX_ENERGIES).contains(&r.count) {
                    return bad(format!(
                        "energy_range count {} must be 1 to {MAX_ENERGIES}",
                        r.count
                    ));
                }
                if !(r.start_ev.is_finite() && r.stop_ev.is_finite()) {
                    return bad(format!(
                        "energy_range {}..{} eV must be finite",
                        r.start_ev, r.stop_ev
                    ));
                }
                Ok(())
            }
        }
    }

    /// Whether this spec describes a K(E) stack (`energies_ev` or `energy_range`).
    pub fn is_stack(&self) -> bool {
        self.energies_ev.is_some() || self.energy_range.is_some()
    }

    /// The energies this spec describes, eV: the stack's, in order (a range from `start_ev`
    /// to `stop_ev` inclusive, `start + i (stop - start) / (count - 1)`), or `[energy_ev]`.
    pub fn energies(&self) -> Vec<f64> {
        match (&self.energies_ev, &self.energy_range) {
            (Some(list), _) => list.clone(),
            (None, Some(r)) if r.count == 1 => vec![r.start_ev],
            (None, Some(r)) => (0..r.count)
                .map(|i| r.start_ev + i as f64 * (r.stop_ev - r.start_ev) / (r.count - 1) as f64)
                .collect(),
            (None, None) => vec![self.energy_ev],
        }
    }

    /// This spec at one energy: a single-energy spec (`energy_ev = energy_ev`, no stack).
    pub fn at_energy(&self, energy_ev: f64) -> KernelSpec {
        KernelSpec {
            energy_ev,
            energies_ev: None,
            energy_range: None,
            ..self.clone()
        }
    }

    /// The pixel grid of the kernel image.
    pub fn grid(&self) -> PixelGrid {
        PixelGrid {
            height: self.render.size[0],
            width: self.render.size[1],
            pixel_size_a: self.render.pixel_size_a,
            rotation_deg: self.render.rotation_deg,
        }
    }

    /// Gaussian orbital radius (Angstrom) of a lattice model: the spec's `orbital_radius_a`,
    /// or [`DEFAULT_ORBITAL_RADIUS_NN_FRACTION`] of the nearest-neighbour distance; 0 for
    /// continuum models.
    pub fn orbital_radius_a(&self) -> f64 {
        match &self.model {
            ModelSpec::TightBinding {
                orbital_radius_a: Some(r),
                ..
            } => *r,
            ModelSpec::TightBinding { .. } => self.tight_binding().map_or(0.0, |m| {
                DEFAULT_ORBITAL_RADIUS_NN_FRACTION * super::catalog::nearest_neighbour_distance(&m)
            }),
            ModelSpec::Parabolic { .. } => 0.0,
        }
    }

    /// The tight-binding model, if this is one.
    pub fn tight_binding(&self) -> Result<TightBinding> {
        let ModelSpec::TightBinding {
            a1,
            a2,
            orbitals,
            spinful,
            add_partners,
            hoppings,
            superconducting,
            pairing,
            ..
        } = &self.model
        else {
            return Err(Error::invalid(format!(
                "kernel '{}' is not a tight-binding model",
                self.name
            )));
        };
        let expand = |list: &[TermSpec], conj: bool| -> Vec<Hopping> {
            let mut out = Vec::new();
            for t in list {
                let amp = t.t.value();
                out.push(Hopping {
                    to: t.to,
                    from: t.from,
                    cell: t.cell,
                    amplitude: amp,
                });
                let self_partner = t.to == t.from && t.cell == [0, 0];
                if *add_partners && !self_partner {
                    let partner = if conj { amp.conj() } else { amp };
                    out.push(Hopping {
                        to: t.from,
                        from: t.to,
                        cell: [-t.cell[0], -t.cell[1]],
                        amplitude: partner,
                    });
                }
            }
            out
        };
        let model = TightBinding {
            lattice: Lattice { a1: *a1, a2: *a2 },
            orbitals: orbitals.clone(),
            spinful: *spinful,
            hoppings: expand(hoppings, true),
            pairing: if *superconducting || !pairing.is_empty() {
                Some(expand(pairing, false))
            } else {
                None
            },
        };
        model
            .validate()
            .map_err(|e| Error::invalid(format!("kernel '{}': {e}", self.name)))?;
        Ok(model)
    }

    /// Record a built tight-binding model in a spec, as compact as it stays exact: each term
    /// whose partner (see `add_partners`) follows it is listed once, zero terms are left out,
    /// and `-0.0` is written as `0.0`. A model whose terms do not pair up is written in full
    /// with `add_partners = false`.
    pub fn tight_binding_model_spec(model: &TightBinding, orbital_radius_a: f64) -> ModelSpec {
        let pairing = model.pairing.as_deref().unwrap_or_default();
        let compact = (
            without_partners(&model.hoppings, |t| t.conj()),
            without_partners(pairing, |d| d),
        );
        let (add_partners, hoppings, pairing) = match compact {
            (Some(h), Some(p)) => (true, h, p),
            _ => (
                false,
                model.hoppings.iter().filter_map(term_spec).collect(),
                pairing.iter().filter_map(term_spec).collect(),
            ),
        };
        ModelSpec::TightBinding {
            a1: model.lattice.a1,
            a2: model.lattice.a2,
            orbitals: model.orbitals.clone(),
            spinful: model.spinful,
            orbital_radius_a: Some(orbital_radius_a),
            add_partners,
            hoppings,
            superconducting: model.pairing.is_some(),
            pairing,
        }
    }

    /// Largest distance from the impurity that an extended render (twice the kernel size) reaches.
    pub fn extended_radius_a(&self) -> f64 {
        let g = self.grid();
        let (h, w) = (g.height as f64, g.width as f64);
        let smear = match self.model {
            ModelSpec::TightBinding { .. } => self.orbital_radius_a().max(g.pixel_size_a),
            ModelSpec::Parabolic { .. } => 0.0,
        };
        (h * h + w * w).sqrt() * g.pixel_size_a + 6.0 * smear
    }

    /// The k-grid size the spec asks for: fixed, or the smallest FFT-friendly size meeting the
    /// tolerance.
    pub fn kgrid_size(&self, model: &TightBinding) -> Result<usize> {
        match self.kgrid.n {
            Some(n) => Ok(n),
            None => super::kgrid::auto_size(
                model,
                self.broadening_ev,
                self.extended_radius_a(),
                self.kgrid.tolerance,
            ),
        }
    }

    /// Cells from the impurity that an extended (stamp) render can touch, Gaussian cut-off
    /// included.
    fn lattice_reach(&self, model: &TightBinding) -> usize {
        let lat = model.lattice;
        let longest = lat.a1[0].hypot(lat.a1[1]).max(lat.a2[0].hypot(lat.a2[1]));
        (self.extended_radius_a() * longest / lat.cell_area()).ceil() as usize + 8
    }

    /// The k-grid a simulation uses: [`KernelSpec::kgrid_size`], raised to the smallest
    /// FFT-friendly size whose supercell holds the extended render window when it is smaller
    /// (a simulation never wraps around). `None` for continuum models.
    pub fn kgrid_used(&self) -> Result<Option<usize>> {
        let ModelSpec::TightBinding { .. } = self.model else {
            return Ok(None);
        };
        let model = self.tight_binding()?;
        let reach = self.lattice_reach(&model);
        let n = self.kgrid_size(&model)?;
        if reach + 1 < n / 2 {
            Ok(Some(n))
        } else {
            super::kgrid::fft_size_at_least(2 * reach + 4).map(Some)
        }
    }

    /// Simulate the single-impurity field (the expensive part: FFTs for lattice models).
    pub fn simulate(&self, ctx: &mut SimContext) -> Result<KernelField> {
        self.simulate_polling(ctx, &NoProgress)
    }

    /// As [`KernelSpec::simulate`], polling `progress` for cancellation throughout the
    /// lattice simulation (every k-grid row, k point and FFT pass).
    pub fn simulate_polling(
        &self,
        ctx: &mut SimContext,
        progress: &dyn Progress,
    ) -> Result<KernelField> {
        let wrap = |e: Error| match e {
            // Keep the status: a request over the memory budget is not a bad spec.
            Error::OverBudget(m) => Error::OverBudget(format!("kernel '{}': {m}", self.name)),
            Error::Cancelled => Error::Cancelled,
            e => Error::invalid(format!("kernel '{}': {e}", self.name)),
        };
        if self.is_stack() || !self.energy_ev.is_finite() {
            return Err(Error::invalid(format!(
                "kernel '{}' describes {} energies; simulate each with at_energy (the CLI \
                 `qpik simulate kernel` does)",
                self.name,
                self.energies().len()
            )));
        }
        match &self.model {
            ModelSpec::Parabolic {
                band_bottom_ev,
                effective_mass,
            } => {
                let band = ParabolicBand {
                    band_bottom_ev: *band_bottom_ev,
                    effective_mass: *effective_mass,
                };
                let delta = self
                    .impurity
                    .phase_shift_rad
                    .unwrap_or(std::f64::consts::FRAC_PI_2);
                let core = self.render.pixel_size_a * 0.5;
                let k = ContinuumKernel::new(
                    band,
                    self.energy_ev,
                    self.broadening_ev,
                    Scatterer::PhaseShift(delta),
                    core,
                )
                .map_err(wrap)?;
                Ok(KernelField::Continuum(k))
            }
            ModelSpec::TightBinding { .. } => {
                let model = self.tight_binding()?;
                let reach = self.lattice_reach(&model);
                let n = self
                    .kgrid_used()
                    .map_err(wrap)?
                    .expect("a lattice model has a k-grid");
                let imp = Impurity {
                    orbitals: self.impurity.orbitals.clone(),
                    potential_ev: self.impurity.potential_ev,
                    magnetic_ev: self.impurity.magnetic_ev,
                };
                let at = Energy {
                    energy_ev: self.energy_ev,
                    eta_ev: self.broadening_ev,
                };
                let ldos = ctx
                    .lattice_ldos_polling(&model, &imp, at, n, reach, progress)
                    .map_err(wrap)?;
                Ok(KernelField::Lattice {
                    ldos,
                    orbital_sigma_a: self.orbital_radius_a(),
                })
            }
        }
    }

    /// Simulate and render the kernel image at its own grid (impurity at `(H/2, W/2)`).
    pub fn kernel_image(&self, ctx: &mut SimContext) -> Result<Array2<f64>> {
        let field = self.simulate(ctx)?;
        self.render_kernel(&field)
    }

    /// Render a field simulated from this spec as its kernel image: on the spec's grid,
    /// impurity at `(H/2, W/2)`, smeared, or the lattice-site values with `render.sites`.
    pub fn render_kernel(&self, field: &KernelField) -> Result<Array2<f64>> {
        let grid = self.grid();
        if self.render.sites {
            field.render_sites(&grid, grid.centre())
        } else {
            field.render(&grid, grid.centre())
        }
    }
}

/// A model term as written in a spec: `None` for a zero amplitude; `-0.0` becomes `0.0`.
fn term_spec(h: &Hopping) -> Option<TermSpec> {
    (h.amplitude != C64::default()).then(|| TermSpec {
        to: h.to,
        from: h.from,
        cell: h.cell,
        // Adding +0.0 turns -0.0 into 0.0 and leaves every other value as it is.
        t: Amplitude::from_c64(C64::new(h.amplitude.re + 0.0, h.amplitude.im + 0.0)),
    })
}

/// The terms of `list` with each term's partner (`to` and `from` swapped, cell negated,
/// amplitude `partner(t)`) dropped where it appears, exactly, after the term; `None` when a
/// term other than an on-site one has no such partner, so the list cannot be written with
/// `add_partners = true`. Zero terms are left out.
fn without_partners(list: &[Hopping], partner: impl Fn(C64) -> C64) -> Option<Vec<TermSpec>> {
    let mut kept: Vec<(Hopping, bool)> = Vec::new(); // (term, partner seen)
    for h in list {
        let is_partner_of = |k: &Hopping| {
            h.to == k.from
                && h.from == k.to
                && h.cell == [-k.cell[0], -k.cell[1]]
                && h.amplitude == partner(k.amplitude)
        };
        match kept.iter_mut().find(|(k, seen)| !*seen && is_partner_of(k)) {
            Some(entry) => entry.1 = true,
            None => kept.push((*h, h.to == h.from && h.cell == [0, 0])),
        }
    }
    kept.iter()
        .all(|(_, seen)| *seen)
        .then(|| kept.iter().filter_map(|(h, _)| term_spec(h)).collect())
}
