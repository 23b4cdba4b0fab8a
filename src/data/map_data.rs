//! A map as a user has it: a stack of dI/dV images `[E, H, W]` with its physical metadata.

use ndarray::Array3;

/// One map or energy stack, in the map's own unit.
#[derive(Clone, Debug)]
pub struct MapData {
    /// `[E, H, W]` values, row 0 at the top of the scan frame; NaN where nothing was measured.
    pub data: Array3<f32>,
    /// Pixel size in metres (NaN when unknown). Square pixels are assumed by the engine.
    pub pixel_size_m: f64,
    /// Unit of the values (`"A"`, `"V"`, `"S"`; `""` when unknown).
    pub value_unit: String,
    /// Energy of each layer in eV (NaN when unknown); length E.
    pub energies_ev: Vec<f64>,
    /// Where it came from (file and channel), for messages and provenance.
    pub source: String,
}

impl MapData {
    /// A single map with no metadata.
    pub fn from_image(image: ndarray::Array2<f32>) -> Self {
        let (h, w) = image.dim();
        MapData {
            data: image.into_shape_with_order((1, h, w)).expect("same length"),
            pixel_size_m: f64::NAN,
            value_unit: String::new(),
            energies_ev: vec![f64::NAN],
            source: String::new(),
        }
    }
}
