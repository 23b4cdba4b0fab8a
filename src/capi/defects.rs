//! Defect positions from a topography channel through the C ABI: `qpik_find_defects`.

use super::{ArrayRef, CError, CResult, FLOATS, guard, options_or_default, qpik_array};
use super::{qpik_options, qpik_status};
use crate::extract::defects::{MAX_PIXELS, find_defects};
use ndarray::ArrayView2;

unsafe fn run(
    opts: *const qpik_options,
    topography: *const qpik_array,
    positions: *const qpik_array,
    count: *mut usize,
) -> CResult<()> {
    if count.is_null() {
        return Err(CError::null("count"));
    }
    let opts = unsafe { options_or_default(opts) };
    let settings = opts.topography_settings()?;
    let z = unsafe { ArrayRef::new(topography, "topography", &[2], FLOATS) }?;
    let (h, w) = (z.shape[0], z.shape[1]);
    if h < 3 || w < 3 || h.saturating_mul(w) > MAX_PIXELS {
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!(
                "topography is {h} x {w} pixels; each side must be at least 3 and the image at most {MAX_PIXELS} pixels"
            ),
        ));
    }
    // Checked before reading, so a wrong output descriptor costs no search.
    let out = if positions.is_null() {
        None
    } else {
        let a = unsafe { ArrayRef::new(positions, "positions", &[2], FLOATS) }?;
        if a.shape[1] != 2 {
            return Err(CError::new(
                qpik_status::QPIK_ERR_SHAPE,
                format!(
                    "positions has shape {:?} but must be [M, 2] (row, col) with M at least the number of defects",
                    a.shape
                ),
            ));
        }
        Some(a)
    };
    let values = z.read_f32(false)?;
    if let Some(i) = values.iter().position(|x| x.is_infinite()) {
        return Err(CError::new(
            qpik_status::QPIK_ERR_NOT_FINITE,
            format!(
                "topography holds an infinite value at flat index {i}; NaN marks missing pixels, infinity is not allowed"
            ),
        ));
    }
    let view = ArrayView2::from_shape((h, w), &values).expect("h*w values");
    let found = find_defects(view, &settings)?;
    unsafe { *count = found.len() };
    let Some(out) = out else {
        return Ok(());
    };
    if out.shape[0] < found.len() {
        return Err(CError::new(
            qpik_status::QPIK_ERR_BUFFER_TOO_SMALL,
            format!(
                "positions holds {} rows but {} defects were found (*count); pass [{}, 2] or more",
                out.shape[0],
                found.len(),
                found.len()
            ),
        ));
    }
    // Rows past the defects found are left as they were: write only the first N.
    let flat: Vec<f64> = found.iter().flat_map(|d| [d.row, d.col]).collect();
    out.write_f64_rows(&flat, found.len())
}

/// Find point defects in a topography image (the height channel of the scan a dI/dV map
/// comes from), for `qpik_extract_map`'s `defects_or_null` argument.
///
/// - `opts` (NULL = defaults): `topography.polarity` (bright, dark or auto; default
///   bright), `topography.threshold_sigma` (default 5), `topography.defect_size_a` (apparent
///   width in Angstrom, default 6) with `map.pixel_size_m` (the image's pixel size in
///   metres; unset: defects are taken to be 4 pixels wide).
/// - `topography`: 2-D `[H, W]`, QPIK_F32 or QPIK_F64, any unit and strides, H and W at
///   least 3. NaN marks missing pixels; infinity is `QPIK_ERR_NOT_FINITE`.
/// - `positions`: NULL to count only, or `[M, 2]` (QPIK_F32 or QPIK_F64) that receives
///   (row, col) in pixels of the image (pixel centres at integers, subpixel), strongest
///   defect first, in its first N rows; rows from N on are left untouched. M < N gives
///   `QPIK_ERR_BUFFER_TOO_SMALL` and writes nothing there.
/// - `*count` receives N, the number of defects found (also with
///   `QPIK_ERR_BUFFER_TOO_SMALL`); 0 is a success (a flat image).
///
/// Steps: level (plane and line medians), band-pass, robust threshold, separate, refine to
/// subpixel: the search `qpik extract --defects-from` runs. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_find_defects(
    opts: *const qpik_options,
    topography: *const qpik_array,
    positions: *const qpik_array,
    count: *mut usize,
) -> qpik_status {
    guard("qpik_find_defects", || unsafe {
        run(opts, topography, positions, count)
    })
}
