//! Pictures of kernels, observations and scans as PNG: colormaps, scaling, panel grids with
//! titles, colour bars and defect marks; the pictures of a map extraction ([`extraction`]).
//!
//! Conventions: row 0 of an image is the top of the picture; marks are `(row, col)` pixel
//! positions with pixel centres at integer coordinates; NaN and infinite pixels are drawn in
//! [`NAN_RGB`] (magenta) and never take part in scaling. Output is 8-bit RGB.

mod canvas;
pub mod colormap;
pub mod extraction;
pub mod fit;
mod font;
pub mod fourier;
pub mod gap_sign;
mod levelling;
mod panels;
pub mod scale;
#[cfg(test)]
pub(crate) mod testing;

pub use colormap::{Colormap, NAN_RGB, diverging, gray, viridis};
pub use extraction::{write_comparison_png, write_extraction_png, write_extraction_sheet};
pub use fourier::fourier_amplitude;
pub use levelling::level_lines;
pub use panels::{Panel, write_image, write_panels};
pub use scale::Scale;
