//! QPI physics: band models, Green's functions, the T-matrix, continuum solutions, rendering,
//! and the built-in kernel catalog.

pub mod bessel;
pub mod catalog;
pub mod continuum;
pub mod fft2;
pub mod kgrid;
pub mod memory;
pub mod model;
pub mod render;
pub mod spec;
pub mod tmatrix;

pub use model::{HBAR2_OVER_2ME_EV_A2, Lattice, ParabolicBand, TightBinding, TightBindingBuilder};
pub use render::{KernelField, PixelGrid};
pub use spec::KernelSpec;
pub use tmatrix::{Energy, Impurity, LatticeLdos, SimContext};
