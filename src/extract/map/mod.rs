//! The map engine: kernels from whole dI/dV maps of any size by least squares on the forward
//! model, with known defect positions.
//!
//! Model: `Y_e(r) = sum_i a_ie K_e(r - r_i) + B_e(r) + noise` for each energy `e` of a map
//! stack `[E, H, W]` (a single map is `E = 1`). Known: the positions `r_i` (pixels, subpixel
//! allowed). Unknown: the kernel `K_e` on `S x S` pixels, per-defect signed amplitudes
//! `a_ie`, and a background `B_e` (a constant, a plane, optionally one offset per scan line).
//!
//! # Conventions of the result
//! - **Centre.** The impurity sits at pixel `(S/2, S/2)` (integer division) of every kernel;
//!   pixel `(i, j)` of a kernel is the offset `(i - S/2, j - S/2)` pixels from the defect.
//! - **Scale and sign.** The amplitudes of each type at each energy have mean 1, so the kernel
//!   carries the map's own unit (for example siemens or volts of a lock-in signal) and the
//!   defects' amplitudes are positive on average.
//! - **Rows and columns** as everywhere in qpik: `[row, col]`, row 0 at the top.
//! - **Pixel size** is the map's, in metres, when the caller knows it (NaN otherwise); a
//!   known one must be a plausible STM pixel, 1e-12 to 1e-6 m ([`crate::units`]).
//! - **Kernel size** S is odd (the impurity is the centre pixel): an even `kernel_size` is
//!   refused with the odd sizes beside it, never rounded.
//! - **Positions** refined with the kernel stay on the map's pixels (`[-0.5, H-0.5] x
//!   [-0.5, W-0.5]`), or no further off it than they were given ([`fit::keep_on_map`]).
//! - **One entry point**, [`extract_kernels`], for every interface: forward or blind.
//! - **No wrap-around.** The operators work on the map's own pixels only (valid-region
//!   convolution): defects near or beyond the edge count with the part of their kernel that
//!   falls on the map; NaN pixels are left out of the fit.

pub mod background;
pub mod cg;
pub mod entry;
pub mod fit;
pub mod heldout;
pub mod inputs;
pub mod operator;
pub mod settings;
pub mod solve;
pub mod symmetry;

pub use entry::extract_kernels;
pub use settings::{Background, MapSettings, Smoothness, SymmetryChoice, TypeCount, Weight};
pub use solve::{extract_map, extract_map_typed};

use crate::data::provenance::Provenance;
use ndarray::{Array2, Array3, Array4};

/// The held-out R^2 below which a kernel explains too little of a map to be trusted (10 % of
/// the variance left by the background): the CLI warns, and so does every host.
pub const TRUSTED_HELDOUT_R2: f64 = 0.1;

/// What an extraction found, with the numbers that say whether to trust it.
#[derive(Clone, Debug)]
pub struct Extraction {
    /// `[T, E, S, S]`: T kernel types, E energies, impurity at `(S/2, S/2)`, in the map's unit.
    pub kernels: Array4<f32>,
    /// Standard error of each kernel pixel, same shape and unit as `kernels`:
    /// the larger of the bootstrap's spread and the noise floor (see [`heldout`]).
    pub kernel_std: Array4<f32>,
    /// `[N]` defect positions `(row, col)` in pixels of the map.
    pub positions: Vec<[f32; 2]>,
    /// `[N]` type of each defect (0 for a single type).
    pub types: Vec<u8>,
    /// `[N, E]` signed amplitudes (mean 1 per type and energy).
    pub amplitudes: Array2<f32>,
    /// `[E, H, W]` map minus the fitted model (kernels and background); NaN where the map is.
    pub residual: Array3<f32>,
    /// `[E, H, W]` the fitted background.
    pub background: Array3<f32>,
    /// Held-out R^2 per energy: the fraction of the variance left by the background alone that
    /// the kernel explains on pixels it was not fitted to (see [`heldout`] for the protocol).
    pub heldout_r2: Vec<f64>,
    /// R^2 of the final fit on all pixels, per energy, by the same definition.
    pub fit_r2: Vec<f64>,
    /// Rotation order the kernel was projected onto (0 = none, 1 = isotropic, else n-fold).
    pub symmetry: u32,
    /// Angle of a mirror line of each type's kernel in degrees (see [`symmetry`] for the
    /// convention), NaN when the kernel was not projected onto mirrors.
    pub mirror_axis_deg: Vec<f64>,
    /// The smoothness weight used (dimensionless, relative to the data term), per energy.
    pub smoothness: Vec<f64>,
    /// The decay weight used (dimensionless, relative to the data term), per energy.
    pub decay: Vec<f64>,
    /// Pixel size of the map in metres (NaN when unknown).
    pub pixel_size_m: f64,
    /// The map's unit (`"A"`, `"V"`, `""` when unknown); the kernels carry it.
    pub value_unit: String,
    /// Energies of the stack's layers in eV (NaN when unknown).
    pub energies_ev: Vec<f64>,
    /// `"forward"` (known positions) or `"blind"`.
    pub method: String,
    /// The settings used, as TOML.
    pub settings_toml: String,
    /// `[H, W]`: 1 where a pixel of the map was left out as something no kernel explains
    /// (aborted-scan lines, saturation, outliers, glitches; see
    /// [`crate::extract::blind::screen`]), 0 elsewhere; all 0 for a forward extraction.
    pub excluded: Array2<u8>,
    /// What was chosen automatically and why, and what was left out (one line each).
    pub notes: String,
    /// The structureless control's held-out R^2 beside `heldout_r2` (a blind result's):
    /// bright and dark Gaussian blobs, as many as the kernels found, trained and scored the
    /// same way ([`crate::extract::blind::split`]; for a stack, on the energies' first
    /// principal component, as the notes' pooled score). A kernel that does no better shows
    /// no structure beyond a bump. NaN where no control was scored (forward extractions, files
    /// written before it was stored).
    pub control_heldout_r2: f64,
    /// The qpik version that made it, and the input file's name and checksum (empty when
    /// the input was no file); the CLI sets the file's.
    pub provenance: Provenance,
}

impl Extraction {
    /// Kernel size S.
    /// An extraction holding only kernels `[T, E, S, S]` and their standard errors (no
    /// defects, map or scores): what a fit or a gap-sign analysis reads, for kernels that
    /// come from elsewhere (simulations, other tools). Method `forward`, symmetry none.
    pub fn of_kernels(
        kernels: Array4<f32>,
        kernel_std: Array4<f32>,
        energies_ev: Vec<f64>,
        pixel_size_m: f64,
        value_unit: &str,
    ) -> Self {
        let e = energies_ev.len();
        Extraction {
            kernels,
            kernel_std,
            positions: vec![],
            types: vec![],
            amplitudes: Array2::zeros((0, e)),
            residual: Array3::zeros((e, 1, 1)),
            background: Array3::zeros((e, 1, 1)),
            heldout_r2: vec![0.0; e],
            fit_r2: vec![0.0; e],
            symmetry: 0,
            mirror_axis_deg: vec![f64::NAN],
            smoothness: vec![0.0; e],
            decay: vec![0.0; e],
            pixel_size_m,
            value_unit: value_unit.into(),
            energies_ev,
            method: "forward".into(),
            settings_toml: String::new(),
            excluded: Array2::zeros((1, 1)),
            notes: String::new(),
            control_heldout_r2: f64::NAN,
            provenance: Provenance::default(),
        }
    }

    pub fn kernel_size(&self) -> usize {
        self.kernels.dim().2
    }
    /// `(E, H, W)` of the map.
    pub fn map_shape(&self) -> (usize, usize, usize) {
        self.residual.dim()
    }
    /// Number of kernel types T.
    pub fn type_count(&self) -> usize {
        self.kernels.dim().0
    }
    /// The point group the kernels were projected onto, as chosen: `none`, `isotropic`, a
    /// rotation order (`2`, `3`, `4`, `6`) or a group with mirror lines (`m`, `2mm`, `3m`,
    /// `4mm`, `6mm`).
    pub fn symmetry_name(&self) -> String {
        let sym = symmetry::Symmetry {
            order: self.symmetry,
            mirror: self.mirror_axis_deg.iter().any(|a| a.is_finite()),
        };
        if sym == symmetry::Symmetry::NONE {
            "none".into()
        } else {
            sym.name()
        }
    }
    /// Mean held-out R^2 over energies.
    pub fn heldout_r2_mean(&self) -> f64 {
        self.heldout_r2.iter().sum::<f64>() / self.heldout_r2.len().max(1) as f64
    }
    /// Whether the kernel explains too little of the held-out variance to be trusted: the
    /// mean held-out R^2 is below [`TRUSTED_HELDOUT_R2`] or NaN. Every host warns then.
    pub fn explains_little(&self) -> bool {
        let r2 = self.heldout_r2_mean();
        r2.is_nan() || r2 < TRUSTED_HELDOUT_R2
    }
    /// Pixels of the map left out as something no kernel explains (the 1s of `excluded`).
    pub fn excluded_pixels(&self) -> usize {
        self.excluded.iter().filter(|&&x| x > 0).count()
    }
}
