//! Defects from a topography through the C ABI: `qpik_find_defects`, what the CLI's
//! `--defects-from CHANNEL` does, for hosts that hold the topography themselves (MATLAB,
//! Gwyddion).

use super::{
    ArrayRef, CError, CResult, FLOATS, guard, options_or_default, qpik_array, qpik_options,
    qpik_status,
};
use crate::extract::defects::{Polarity, TopographySettings, find_defects, positions_of};
use ndarray::ArrayView2;

/// Find point defects in a topography image and write their positions.
///
/// - `opts` (NULL = defaults): `map.pixel_size_a` (Angstrom) sizes the filter for defects
///   6 Angstrom wide (FWHM); without it defects are taken to be 4 pixels wide.
/// - `topography`: 2-D `[H, W]` (QPIK_F32 or QPIK_F64, any strides, any unit), NaN for
///   missing pixels; at least 3 x 3.
/// - `polarity`: 0 = bright defects (protrusions), 1 = dark (depressions, vacancies),
///   2 = whichever of the two stands out more.
/// - `positions` (NULL to only count): `[capacity, 2]` (QPIK_F32 or QPIK_F64) receives
///   (row, col) in pixels of the image, subpixel, strongest first, in rows `0..*count`;
///   rows beyond are untouched.
/// - `*count` (required) receives the number found, also when it exceeds the capacity: then
///   the call returns `QPIK_ERR_BUFFER_TOO_SMALL` and writes no position. Finding none is
///   not an error (`*count` = 0).
///
/// The steps (levelling, band-pass, robust threshold of 5 MAD-sigmas, minimum separation,
/// Gaussian-fit subpixel centres) are those of `qpik extract --defects-from`. Pass the
/// positions to `qpik_extract_map` as its `defects`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_find_defects(
    opts: *const qpik_options,
    topography: *const qpik_array,
    polarity: i32,
    positions: *const qpik_array,
    count: *mut usize,
) -> qpik_status {
    guard("qpik_find_defects", || unsafe {
        run(opts, topography, polarity, positions, count)
    })
}

unsafe fn run(
    opts: *const qpik_options,
    topography: *const qpik_array,
    polarity: i32,
    positions: *const qpik_array,
    count: *mut usize,
) -> CResult<()> {
    if count.is_null() {
        return Err(CError::null("count"));
    }
    let polarity = match polarity {
        0 => Polarity::Bright,
        1 => Polarity::Dark,
        2 => Polarity::Auto,
        p => {
            return Err(CError::invalid(format!(
                "polarity is {p}; use 0 (bright defects), 1 (dark) or 2 (auto)"
            )));
        }
    };
    let opts = unsafe { options_or_default(opts) };
    let mut settings = match opts.map_pixel_size_a() {
        Some(a) => TopographySettings::for_pixel_size(a)?,
        None => TopographySettings::default(),
    };
    settings.polarity = polarity;
    let z = unsafe { ArrayRef::new(topography, "topography", &[2], FLOATS) }?;
    let capacity = if positions.is_null() {
        None
    } else {
        // Checked before the work, so a bad buffer fails fast.
        let p = unsafe { ArrayRef::new(positions, "positions", &[2], FLOATS) }?;
        if p.shape[1] != 2 {
            return Err(CError::new(
                qpik_status::QPIK_ERR_SHAPE,
                format!(
                    "positions has shape {:?} but must be [capacity, 2] (row, col)",
                    p.shape
                ),
            ));
        }
        Some(p.shape[0])
    };
    let (h, w) = (z.shape[0], z.shape[1]);
    let values = z.read_f32(false)?;
    let view = ArrayView2::from_shape((h, w), &values).expect("h*w values");
    let found = positions_of(&find_defects(view, &settings)?);
    unsafe { *count = found.len() };
    let Some(capacity) = capacity else {
        return Ok(());
    };
    if found.len() > capacity {
        return Err(CError::new(
            qpik_status::QPIK_ERR_BUFFER_TOO_SMALL,
            format!(
                "found {} defects but positions holds {capacity} rows; pass [{}, 2] (count has the number)",
                found.len(),
                found.len()
            ),
        ));
    }
    if found.is_empty() {
        return Ok(());
    }
    // The first `found.len()` rows of the caller's buffer.
    let mut rows = unsafe { positions.read_unaligned() };
    rows.shape[0] = found.len() as i64;
    let out = unsafe { ArrayRef::new(&rows, "positions", &[2], FLOATS) }?;
    let flat: Vec<f64> = found.iter().flat_map(|p| [p[0], p[1]]).collect();
    out.write_f64(&flat)
}
