//! The one entry point of a map extraction that every interface calls (CLI, C ABI, Python,
//! MATLAB, Igor, Gwyddion): the forward engine or the blind search as the defects and the
//! settings say. Each checks the settings and the map's pixel size itself, once, so a
//! library caller of either gets the same refusals.

use super::{Extraction, MapSettings, extract_map};
use crate::Result;
use crate::data::map_data::MapData;
use crate::extract::blind::extract_blind;
use crate::progress::Progress;

/// Kernels of `map` from defects at `positions` (`(row, col)` pixels, subpixel allowed):
/// the forward engine ([`extract_map`]) when defects are given, the blind search
/// ([`extract_blind`]) when none are or `settings.blind` is set (the given ones are then
/// type 0). Both refuse a map whose pixel size is neither unknown (NaN) nor plausible
/// ([`crate::units::check_map_pixel_size_m`]) and invalid settings
/// ([`MapSettings::validate`]: odd kernel sizes only).
pub fn extract_kernels(
    map: &MapData,
    positions: &[[f64; 2]],
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    if positions.is_empty() || settings.blind {
        extract_blind(map, positions, settings, progress)
    } else {
        extract_map(map, positions, settings, progress)
    }
}
