//! Where defect positions come from: a user mask or list ([`positions_from_mask`],
//! [`read_positions`]), a topography channel of the same scan ([`find_defects`]), or the dI/dV
//! map itself ([`defects_from_map`], a first version).
//!
//! # Conventions
//! Positions are `(row, col)` in pixels of the image they were found in, pixel centres at
//! integers, row 0 at the top: the convention of the map engine and the dataset files.
//! Subpixel values are allowed everywhere. Missing pixels (bad scan lines) are NaN.

mod filter;
mod from_map;
mod positions;
mod topography;

pub(crate) use from_map::map_peaks;
pub use from_map::{MapDefectSettings, defects_from_map};
pub use positions::{
    MASK_THRESHOLD, MAX_POSITIONS_FILE_BYTES, parse_positions, positions_from_mask, read_positions,
    write_positions,
};
pub use topography::{
    DEFAULT_DEFECT_SIZE_A, Levelling, MAX_PIXELS, Polarity, TopographySettings, find_defects,
};

/// One defect found in an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detected {
    /// Row in pixels (pixel centres at integers, subpixel when refined).
    pub row: f64,
    /// Column in pixels.
    pub col: f64,
    /// How far the defect stands out, in robust standard deviations of the filtered image;
    /// positive for bright (raised) defects, negative for dark ones.
    pub strength: f64,
}

impl Detected {
    /// The position `(row, col)` as the map engine takes it.
    pub fn position(&self) -> [f64; 2] {
        [self.row, self.col]
    }
}

/// The positions of `detected`, in order, as the map engine takes them.
pub fn positions_of(detected: &[Detected]) -> Vec<[f64; 2]> {
    detected.iter().map(Detected::position).collect()
}
