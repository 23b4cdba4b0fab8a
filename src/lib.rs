//! qpik: quasiparticle-interference kernels for STM.
//!
//! A dI/dV map is the sum of one single-scatterer pattern, the *kernel*, shifted to
//! every defect, plus noise: `Y(r) = sum_i a_i K(r - r_i) + noise`. qpik simulates
//! kernels from band structures (T-matrix), synthesises realistic multi-defect
//! observations, stores them as HDF5 datasets, and extracts kernels.
//!
//! # Conventions
//! - Energies in eV, measured from the Fermi level. A map's pixel size is in metres at
//!   every interface, with the unit in the name (`pixel_size_m`) and a plausibility check
//!   ([`units`]); kernel specs and the physics inside use Angstrom (`pixel_size_a`), and
//!   files metres (`*_m` attributes). Wave vectors in 1/Angstrom.
//! - Images are row-major `[row, col]`. Pixel `(i, j)` of an image of size `H x W`
//!   sits at `x = (j - W/2) p`, `y = (i - H/2) p` (pixel size `p`, integer division),
//!   so the impurity of a kernel is at pixel `(H/2, W/2)`. Row 0 is the top of a picture.
//! - Scan rotation `theta` (degrees, counter-clockwise) maps image coordinates to sample
//!   coordinates: `r_sample = R(theta) r_image`.
//! - Green's functions: `G0(R) = (1/N^2) sum_k e^{i k.R} [(w + i eta) - H(k)]^-1`; the FFT
//!   used is the unnormalised inverse DFT followed by an explicit `1/N^2`.
//! - LDOS in states / eV / Angstrom^2. Spinless normal-state models give the LDOS per
//!   spin; Nambu (superconducting) and explicitly spinful models sum both spins.
//! - Symmetry labels are n-fold rotation orders; `1` means isotropic (the convention of
//!   arXiv 2506.05325), not "no symmetry".
//! - Every random draw comes from an explicit seed ([`rng::Rng`]).

pub mod budget;
pub mod capi;
pub mod cli;
pub mod data;
pub mod error;
pub mod extract;
pub mod fit;
pub mod model;
pub mod physics;
pub mod picture;
pub mod progress;
pub mod rng;
pub mod synthesis;
pub mod units;

pub use error::{Error, Result};
