//! The map engine through the C ABI: `qpik_extract_map` and the `qpik_extraction` result.

use super::{
    ArrayRef, CError, CResult, FLOATS, FLOATS_OR_U8, free_handle, guard, handle,
    options_or_default, put_handle, qpik_array, qpik_dtype, qpik_options, qpik_progress_fn,
    qpik_status, with_progress, write_sized, write_string,
};
use crate::extract::map::{Extraction, MapSettings, extract_kernels};
use ndarray::{Array3, Axis};
use std::ffi::{c_char, c_void};

/// The result of `qpik_extract_map` (the C type `qpik_extraction`). Immutable: any number of
/// threads may read one at once.
pub struct qpik_extraction {
    ex: Extraction,
    positions_estimated: bool,
}

/// Sizes and scores of an extraction. The caller sets
/// `struct_size = sizeof(qpik_extraction_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_extraction_info {
    pub struct_size: u32,
    /// Rotation order the kernel was projected onto: 0 = none, 1 = isotropic, else n-fold.
    pub symmetry: u32,
    /// T: kernel types (1).
    pub types: i64,
    /// E: energies (layers of the map; 1 for a single map).
    pub energies: i64,
    /// S: kernel size in pixels (S x S, impurity at pixel (S/2, S/2)).
    pub kernel_size: i64,
    /// H, W: the map's rows and columns.
    pub rows: i64,
    pub cols: i64,
    /// N: defects used.
    pub defects: i64,
    /// Held-out R^2, mean over energies: the fraction of the variance left by the background
    /// that the kernel explains on pixels it was not fitted to. Near 0 or below: the kernel
    /// means nothing.
    pub heldout_r2: f64,
    /// R^2 of the final fit on all pixels, mean over energies.
    pub fit_r2: f64,
    /// The map's pixel size in metres (option `map.pixel_size_m`; NaN when not given).
    pub pixel_size_m: f64,
    /// 1 when no defects were given and qpik found them from the map (blind).
    pub positions_estimated: u32,
    pub reserved: u32,
    /// Angle in degrees of a mirror line of the (first type's) kernel, when it was projected
    /// onto a group with mirrors (`map.symmetry` m, 2mm, 3m, 4mm, 6mm or auto), else NaN. The
    /// line runs along (d_row, d_col) = (sin a, cos a): 0 along a row, 90 along a column.
    /// Added after `reserved`: callers built against an older header get the fields they know.
    pub mirror_axis_deg: f64,
    /// How the defects were found, a `qpik_extraction_method` value: `QPIK_METHOD_FORWARD`
    /// (all given) or `QPIK_METHOD_BLIND` (searched in the map: no defects given, or
    /// `map.blind`). This field and the two after it were appended after `mirror_axis_deg`:
    /// a caller built with the 96-byte struct sets `struct_size` 96 and gets the rest.
    pub method: u32,
    /// 1 when the kernel explains under 10 % of the held-out variance (`heldout_r2` below
    /// 0.1, or NaN): the kernel probably means nothing, and a host should tell its user (the
    /// CLI prints a warning).
    pub explains_little: u32,
    /// Pixels of the map the blind search left out as something no kernel explains
    /// (aborted or constant scan lines, saturated plateaus, glitch rows, spikes, clusters,
    /// step edges); `qpik_extraction_excluded` gives the mask, `qpik_extraction_notes` the
    /// reasons. 0 for a forward extraction.
    pub excluded_pixels: i64,
    /// A blind result's structureless control: the held-out R^2 that bright and dark
    /// Gaussian blobs, as many as the kernels found, reach when trained and scored the same
    /// way as `heldout_r2` (for a stack, both on the energies' first principal component).
    /// A `heldout_r2` no higher means the kernel shows nothing beyond a bump. NaN for a
    /// forward extraction. Appended after `excluded_pixels`: a caller built with the
    /// 112-byte struct sets `struct_size` 112 and gets the rest.
    pub control_heldout_r2: f64,
}

/// How an extraction found its defects (`qpik_extraction_info.method`). Values are fixed
/// forever; new ones are only appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qpik_extraction_method {
    /// All defects were given (a mask or positions).
    QPIK_METHOD_FORWARD = 0,
    /// The blind search found the defects (or added types to the given ones).
    QPIK_METHOD_BLIND = 1,
}

impl qpik_extraction_method {
    /// The C value of the core's method name.
    fn of(ex: &Extraction) -> CResult<Self> {
        match ex.method.as_str() {
            "forward" => Ok(Self::QPIK_METHOD_FORWARD),
            "blind" => Ok(Self::QPIK_METHOD_BLIND),
            m => Err(CError::new(
                qpik_status::QPIK_ERR_INTERNAL,
                format!("the extraction's method '{m}' has no qpik_extraction_method value"),
            )),
        }
    }
}

/// Where the defects come from.
enum Defects {
    Positions(Vec<[f64; 2]>),
    Estimate,
}

/// Read the caller's defects: a mask of the map's `H x W` (a pixel above 0.5 is one defect
/// at that pixel) or positions `[N, 2]` (row, col), or `Estimate` for NULL.
unsafe fn read_defects(p: *const qpik_array, h: usize, w: usize) -> CResult<Defects> {
    if p.is_null() {
        return Ok(Defects::Estimate);
    }
    let raw = unsafe { p.read_unaligned() };
    if raw.ndim == 2 && raw.shape[0] == 0 {
        return Err(CError::invalid(
            "defects is empty (0 positions): the kernel needs at least one defect; pass NULL to estimate positions from the map",
        ));
    }
    let d = unsafe { ArrayRef::new(p, "defects", &[2], FLOATS_OR_U8) }?;
    if d.shape == [h, w] {
        let v = d.read_f32(false)?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(CError::new(
                qpik_status::QPIK_ERR_NOT_FINITE,
                format!(
                    "defects (a mask) holds {} at flat index {i}; a mask is 0 or 1",
                    v[i]
                ),
            ));
        }
        let pos: Vec<[f64; 2]> = v
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.5)
            .map(|(i, _)| [(i / w) as f64, (i % w) as f64])
            .collect();
        if pos.len() == h * w {
            return Err(CError::invalid(format!(
                "defects (a mask) marks every one of the {h} x {w} pixels as a defect; mark one pixel per defect (values above 0.5), 0 elsewhere"
            )));
        }
        return Ok(Defects::Positions(pos));
    }
    if d.shape[1] != 2 {
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!(
                "defects has shape {:?} but must be a mask of the map's shape [{h}, {w}] or positions [N, 2]",
                d.shape
            ),
        ));
    }
    if d.dtype == qpik_dtype::QPIK_U8 {
        return Err(CError::new(
            qpik_status::QPIK_ERR_DTYPE,
            "defects of shape [N, 2] are positions and must be QPIK_F32 or QPIK_F64 (subpixel rows and columns)",
        ));
    }
    let v = d.read_f32(true)?;
    if v.len() / 2 > h * w {
        return Err(CError::invalid(format!(
            "defects holds {} positions, more than the map's {} pixels",
            v.len() / 2,
            h * w
        )));
    }
    Ok(Defects::Positions(
        v.chunks_exact(2)
            .map(|p| [f64::from(p[0]), f64::from(p[1])])
            .collect(),
    ))
}

/// The largest kernel the settings may use on an `h x w` map: half of it is how far outside
/// the map a defect may sit and still touch it.
fn kernel_reach(settings: &MapSettings, h: usize, w: usize) -> usize {
    settings
        .kernel_size
        .unwrap_or(MapSettings::MAX_AUTO_KERNEL.min(h.min(w)))
}

unsafe fn run(
    opts: *const qpik_options,
    map: *const qpik_array,
    defects: *const qpik_array,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
    out: *mut *mut qpik_extraction,
) -> CResult<()> {
    if out.is_null() {
        return Err(CError::null("out"));
    }
    let opts = unsafe { options_or_default(opts) };
    let settings = opts.map_settings()?;
    let m = unsafe { ArrayRef::new(map, "map", &[2, 3], FLOATS) }?;
    let (e, h, w) = match m.shape[..] {
        [h, w] => (1, h, w),
        [e, h, w] => (e, h, w),
        _ => unreachable!("ArrayRef checked the dimensions"),
    };
    if h < 3 || w < 3 {
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!("map is {h} x {w} pixels; the smallest kernel is 3 x 3"),
        ));
    }
    if settings.kernel_size.is_none() && (h < 5 || w < 5) {
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!(
                "map is {h} x {w} pixels; an automatic kernel size needs at least 5 x 5 (or set map.kernel_size)"
            ),
        ));
    }
    if let Some(s) = settings.kernel_size
        && (h < s || w < s)
    {
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!(
                "map is {h} x {w} pixels, smaller than the {s} x {s} kernel (option map.kernel_size); use a smaller kernel or a larger map"
            ),
        ));
    }
    // The map's copy is the first allocation the budget covers.
    let bytes = (e * h * w * std::mem::size_of::<f32>()) as u64;
    if bytes > settings.memory_budget_bytes {
        return Err(CError::invalid(format!(
            "map needs {bytes} bytes, more than the memory budget of {} (option map.memory_budget_bytes)",
            settings.memory_budget_bytes
        )));
    }
    let defects = unsafe { read_defects(defects, h, w) }?;
    let values = m.read_f32(false)?;
    if let Some(i) = values.iter().position(|x| x.is_infinite()) {
        return Err(CError::new(
            qpik_status::QPIK_ERR_NOT_FINITE,
            format!(
                "map holds an infinite value at flat index {i} (or one beyond the float32 range); NaN marks missing pixels, infinity is not allowed"
            ),
        ));
    }
    let data = Array3::from_shape_vec((e, h, w), values).expect("e*h*w values");
    for (k, layer) in data.axis_iter(Axis(0)).enumerate() {
        if layer.iter().all(|x| x.is_nan()) {
            return Err(CError::invalid(format!(
                "map layer {k} is all NaN: nothing was measured there"
            )));
        }
    }
    let estimated = matches!(defects, Defects::Estimate);
    let positions = match defects {
        Defects::Positions(p) => p,
        Defects::Estimate => Vec::new(),
    };
    if positions.is_empty() && !estimated {
        return Err(CError::invalid(
            "defects marks no defect (no mask value above 0.5); the kernel needs at least one",
        ));
    }
    let reach = (kernel_reach(&settings, h, w) / 2) as f64;
    if let Some((i, p)) = positions.iter().enumerate().find(|(_, p)| {
        !(p[0] > -0.5 - reach
            && p[0] < h as f64 - 0.5 + reach
            && p[1] > -0.5 - reach
            && p[1] < w as f64 - 0.5 + reach)
    }) {
        return Err(CError::invalid(format!(
            "defect {i} at (row {}, col {}) is outside the {h} x {w} map by more than half the kernel ({reach} pixels), so no pixel of the map sees it; positions are (row, col) pixels of the map",
            p[0], p[1]
        )));
    }
    let map_data = opts.map_data(data, "C API map")?;
    // No defects given, or map.blind: the blind search (given defects are type 0).
    let ex = with_progress(progress, user_data, |p| {
        extract_kernels(&map_data, &positions, &settings, p)
    })?;
    unsafe {
        put_handle(
            out,
            qpik_extraction {
                ex,
                positions_estimated: estimated,
            },
        )
    };
    Ok(())
}

/// Extract the kernel of a dI/dV map (or an energy stack) by least squares on the forward
/// model `Y = sum_i a_i K(r - r_i) + B + noise`, with defects at known or estimated positions.
///
/// - `opts` (NULL = defaults): `map.*` (kernel size, symmetry, background, smoothness,
///   bootstrap, blocks, iterations, seed, memory budget; see `qpik_options_describe`), and
///   the map's metadata: `map.pixel_size_m` (metres, 1e-12 to 1e-6; the deprecated
///   `map.pixel_size_a` takes Angstrom),
///   `map.value_unit`, `map.energies_ev` (one per layer). `seed` seeds it when `map.seed`
///   is not set.
/// - `map`: 2-D `[H, W]` or 3-D `[E, H, W]` (E energies sharing the defects), QPIK_F32 or
///   QPIK_F64, any strides (row- or column-major). NaN marks missing pixels (bad lines):
///   they are left out of the fit; infinity is refused (`QPIK_ERR_NOT_FINITE`), and so is a
///   layer that is all NaN (`QPIK_ERR_INVALID_ARGUMENT`). H and W are at least
///   `map.kernel_size`, or 5 when it is auto (`QPIK_ERR_SHAPE`).
/// - `defects_or_null`: either a mask of shape `[H, W]` (QPIK_U8, QPIK_F32 or QPIK_F64; each
///   pixel with a value above 0.5 is one defect at that pixel, so mark one pixel per
///   defect), or positions `[N, 2]` (QPIK_F32 or QPIK_F64) of (row, col) in pixels of the
///   map, subpixel allowed, finite. A position may lie outside the map by up to half the
///   kernel (its kernel still reaches the map); further out is `QPIK_ERR_INVALID_ARGUMENT`.
///   Positions are refined with the kernel by up to `map.refine_positions_px` (default
///   1.5 pixels; 0 keeps them): `qpik_extraction_positions` gives the ones used.
///   NULL: blind extraction: the defects, their types (`map.types`, default 1; `auto`
///   chooses 1 to 3) and the kernels are found from the map itself (a stack's first
///   principal component over energies), and the extraction's method is "blind". With defects given and
///   `map.blind = true` (or `defects.from = blind`), the given defects are type 0 and the
///   search adds `map.types` blind types. A map where no repeated defect pattern clears
///   the detection threshold (`map.detection_sigma`) or explains at least 1 % of the
///   held-out half is `QPIK_ERR_INVALID_ARGUMENT` ("no defects found"). No defect at all
///   in a given mask, or a mask marking every pixel, is `QPIK_ERR_INVALID_ARGUMENT`.
/// - `*out` receives a new `qpik_extraction` (free it with `qpik_extraction_free`);
///   untouched on failure.
///
/// Uses all cores. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extract_map(
    opts: *const qpik_options,
    map: *const qpik_array,
    defects_or_null: *const qpik_array,
    out: *mut *mut qpik_extraction,
) -> qpik_status {
    guard("qpik_extract_map", || unsafe {
        run(opts, map, defects_or_null, None, std::ptr::null_mut(), out)
    })
}

/// `qpik_extract_map` with progress (the arguments are the same; `progress` and `user_data`
/// come last, as in `qpik_train`): `progress` (may be NULL) is called on this thread with
/// one stage per energy; returning nonzero cancels (`QPIK_ERR_CANCELLED`, `*out` untouched).
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extract_map_progress(
    opts: *const qpik_options,
    map: *const qpik_array,
    defects_or_null: *const qpik_array,
    out: *mut *mut qpik_extraction,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    guard("qpik_extract_map_progress", || unsafe {
        run(opts, map, defects_or_null, progress, user_data, out)
    })
}

/// Write an extraction as a qpik extraction result file (HDF5, `format = "qpik-extraction"`,
/// what `qpik extract -o` writes), the input of `qpik_fit_file` and `qpik_gap_sign_file`.
/// The file appears whole or not at all (written beside it, then renamed); an existing
/// regular file is replaced. Statuses: `QPIK_ERR_NULL`, `QPIK_ERR_INVALID_ARGUMENT` (a path
/// that is a folder or another non-file), `QPIK_ERR_IO` (the folder, the disk). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_write(
    ex: *const qpik_extraction,
    path: *const c_char,
) -> qpik_status {
    guard("qpik_extraction_write", || unsafe {
        let ex = handle(ex, "ex")?;
        let path = std::path::Path::new(super::c_str(path, "path")?);
        let target = crate::data::output_file::OutputFile::create(path)?;
        crate::data::extraction_file::write_extraction(target.temp_path(), &ex.ex)?;
        target.commit()?;
        Ok(())
    })
}

/// Free an extraction; NULL is a no-op. No other call may be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_free(ex: *mut qpik_extraction) {
    unsafe { free_handle(ex) }
}

/// Sizes and scores of an extraction into `*info` (set `info->struct_size = sizeof(*info)`
/// first). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_get_info(
    ex: *const qpik_extraction,
    info: *mut qpik_extraction_info,
) -> qpik_status {
    guard("qpik_extraction_get_info", || {
        let x = unsafe { handle(ex, "ex") }?;
        let (e, h, w) = x.ex.map_shape();
        let fit = x.ex.fit_r2.iter().sum::<f64>() / x.ex.fit_r2.len().max(1) as f64;
        let v = qpik_extraction_info {
            struct_size: 0,
            symmetry: x.ex.symmetry,
            types: x.ex.type_count() as i64,
            energies: e as i64,
            kernel_size: x.ex.kernel_size() as i64,
            rows: h as i64,
            cols: w as i64,
            defects: x.ex.positions.len() as i64,
            heldout_r2: x.ex.heldout_r2_mean(),
            fit_r2: fit,
            pixel_size_m: x.ex.pixel_size_m,
            positions_estimated: u32::from(x.positions_estimated),
            reserved: 0,
            mirror_axis_deg: x.ex.mirror_axis_deg.first().copied().unwrap_or(f64::NAN),
            method: qpik_extraction_method::of(&x.ex)? as u32,
            explains_little: u32::from(x.ex.explains_little()),
            excluded_pixels: x.ex.excluded_pixels() as i64,
            control_heldout_r2: x.ex.control_heldout_r2,
        };
        unsafe { write_sized(info, v, "info") }
    })
}

/// What was chosen automatically and why, and what was left out, one line each (kernel
/// size, types, symmetry, lattice removal, excluded pixels and their reasons), with the
/// `buf, buf_len, needed` convention (`qpik_catalog_name`): UTF-8, "" when nothing was
/// chosen (a forward extraction with every setting given). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_notes(
    ex: *const qpik_extraction,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_extraction_notes", || {
        let x = unsafe { handle(ex, "ex") }?;
        unsafe { write_string(&x.ex.notes, buf, buf_len, needed) }
    })
}

/// The point group the kernels were projected onto, as chosen (`map.symmetry` auto picks
/// one): "none", "isotropic", a rotation order "2", "3", "4", "6", or a group with mirror
/// lines "m", "2mm", "3m", "4mm", "6mm" (`qpik_extraction_info.symmetry` holds the rotation
/// order alone). `buf, buf_len, needed` convention (`qpik_catalog_name`): UTF-8.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_symmetry_name(
    ex: *const qpik_extraction,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_extraction_symmetry_name", || {
        let x = unsafe { handle(ex, "ex") }?;
        unsafe { write_string(&x.ex.symmetry_name(), buf, buf_len, needed) }
    })
}

/// Copy `values` (row-major, full shape `full`) into `out`, whose shape must be `full` or
/// `full` without leading dimensions of length 1 (down to `min_dims` dimensions).
unsafe fn copy_out(
    out: *const qpik_array,
    what: &str,
    full: &[usize],
    min_dims: usize,
    dtypes: &[qpik_dtype],
    values: &[f32],
) -> CResult<()> {
    let a = unsafe { ArrayRef::new(out, what, &[1, 2, 3, 4], dtypes) }?;
    let mut accepted = vec![full.to_vec()];
    let mut shape = full;
    while shape.len() > min_dims && shape[0] == 1 {
        shape = &shape[1..];
        accepted.push(shape.to_vec());
    }
    if !accepted.contains(&a.shape) {
        let list: Vec<String> = accepted.iter().map(|s| format!("{s:?}")).collect();
        return Err(CError::new(
            qpik_status::QPIK_ERR_SHAPE,
            format!(
                "{what} has shape {:?} but the extraction's is {}",
                a.shape,
                list.join(" or ")
            ),
        ));
    }
    a.write_f32(values)
}

/// The body of every array accessor: borrow the handle, copy one array out.
unsafe fn accessor(
    name: &str,
    ex: *const qpik_extraction,
    out: *const qpik_array,
    min_dims: usize,
    dtypes: &[qpik_dtype],
    get: impl FnOnce(&Extraction) -> (Vec<usize>, Vec<f32>),
) -> qpik_status {
    guard(name, || {
        let x = &unsafe { handle(ex, "ex") }?.ex;
        let (full, values) = get(x);
        unsafe { copy_out(out, "out", &full, min_dims, dtypes, &values) }
    })
}

/// The kernels into `out`: `[T, E, S, S]`, or `[E, S, S]` when T = 1, or `[S, S]` when
/// T = E = 1 (QPIK_F32 or QPIK_F64, any strides). Impurity at pixel (S/2, S/2); in the
/// map's unit (the amplitudes have mean 1 per type and energy). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_kernels(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_kernels", ex, out, 2, FLOATS, |x| {
            (
                x.kernels.shape().to_vec(),
                x.kernels.iter().copied().collect(),
            )
        })
    }
}

/// The standard error of each kernel pixel into `out`, shaped like the output of
/// `qpik_extraction_kernels`: the larger of the block bootstrap's spread (`map.bootstrap`
/// replicates; none when 0) and the noise floor (residual noise over the data's curvature at
/// that pixel), in the map's unit. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_kernel_std(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_kernel_std", ex, out, 2, FLOATS, |x| {
            (
                x.kernel_std.shape().to_vec(),
                x.kernel_std.iter().copied().collect(),
            )
        })
    }
}

/// The defect positions used into `out`: `[N, 2]` (row, col) in pixels of the map, in the
/// order given (a mask's in raster order), after refinement (`map.refine_positions_px`)
/// (QPIK_F32 or QPIK_F64). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_positions(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_positions", ex, out, 2, FLOATS, |x| {
            (
                vec![x.positions.len(), 2],
                x.positions.iter().flat_map(|p| p.iter().copied()).collect(),
            )
        })
    }
}

/// The signed amplitude of each defect at each energy into `out`: `[N, E]` (QPIK_F32 or
/// QPIK_F64). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_amplitudes(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_amplitudes", ex, out, 2, FLOATS, |x| {
            (
                x.amplitudes.shape().to_vec(),
                x.amplitudes.iter().copied().collect(),
            )
        })
    }
}

/// The kernel type of each defect into `out`: `[N]` (QPIK_U8, QPIK_F32 or QPIK_F64; 0 for
/// a single type). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_types(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_types", ex, out, 1, FLOATS_OR_U8, |x| {
            (
                vec![x.types.len()],
                x.types.iter().map(|&t| f32::from(t)).collect(),
            )
        })
    }
}

/// The map minus the fitted model (kernels and background) into `out`: `[E, H, W]`, or
/// `[H, W]` when E = 1 (QPIK_F32 or QPIK_F64, any strides); NaN where the map is NaN.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_residual(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_residual", ex, out, 2, FLOATS, |x| {
            (
                x.residual.shape().to_vec(),
                x.residual.iter().copied().collect(),
            )
        })
    }
}

/// The pixels the blind search left out into `out`: `[H, W]` (QPIK_U8, QPIK_F32 or
/// QPIK_F64, any strides), 1 where a measured pixel was left out as something no kernel
/// explains (see `qpik_extraction_info.excluded_pixels`), 0 elsewhere; all 0 for a forward
/// extraction. Shared by all energies of a stack. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_excluded(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    unsafe {
        accessor("qpik_extraction_excluded", ex, out, 2, FLOATS_OR_U8, |x| {
            (
                x.excluded.shape().to_vec(),
                x.excluded.iter().map(|&v| f32::from(v)).collect(),
            )
        })
    }
}

/// The held-out R^2 of each energy into `out`: `[E]` (QPIK_F32 or QPIK_F64; f64 keeps every
/// digit). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extraction_heldout_r2(
    ex: *const qpik_extraction,
    out: *const qpik_array,
) -> qpik_status {
    guard("qpik_extraction_heldout_r2", || {
        let x = &unsafe { handle(ex, "ex") }?.ex;
        let a = unsafe { ArrayRef::new(out, "out", &[1], FLOATS) }?;
        a.expect_shape(&[x.heldout_r2.len()])?;
        a.write_f64(&x.heldout_r2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_is_half_the_largest_possible_kernel() {
        let mut s = MapSettings::default();
        assert_eq!(kernel_reach(&s, 50, 300), 50);
        assert_eq!(kernel_reach(&s, 500, 300), MapSettings::MAX_AUTO_KERNEL);
        s.kernel_size = Some(21);
        assert_eq!(kernel_reach(&s, 500, 300), 21);
    }
}
