//! Catalog, kernel simulation and observation synthesis.

use super::{
    ArrayRef, CError, CResult, FLOATS, FLOATS_OR_U8, c_str, c_str_opt, free_handle, guard, handle,
    options_or_default, put_handle, qpik_array, qpik_options, qpik_progress_fn, qpik_status,
    with_progress, write_sized, write_string,
};
use crate::physics::catalog::{catalog, find};
use crate::physics::{KernelField, KernelSpec, PixelGrid, SimContext};
use crate::progress::check_cancelled;
use crate::rng::Rng;
use crate::synthesis::{KernelStamps, MAX_IMAGE_SIZE, Observation, synthesize};
use std::ffi::{c_char, c_void};

/// A simulated single-impurity kernel (the C type `qpik_kernel`). Immutable: thread-safe.
pub struct qpik_kernel {
    spec: KernelSpec,
    field: KernelField,
    image: Vec<f64>,
}

/// What a kernel is. The caller sets `struct_size = sizeof(qpik_kernel_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_kernel_info {
    pub struct_size: u32,
    /// n-fold rotation symmetry label (1 = isotropic).
    pub symmetry: u32,
    /// Image size in pixels.
    pub rows: i64,
    pub cols: i64,
    /// Pixel size in metres.
    pub pixel_size_m: f64,
    /// Scan rotation in degrees.
    pub rotation_deg: f64,
    /// Bias energy in eV.
    pub energy_ev: f64,
    /// Impurity position in pixels: (rows/2, cols/2), integer division.
    pub centre_row: f64,
    pub centre_col: f64,
}

/// A synthesised observation (the C type `qpik_observation`). Immutable: thread-safe.
pub struct qpik_observation {
    obs: Observation,
}

/// Number of kernels in the built-in catalog into `*count`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_catalog_count(count: *mut usize) -> qpik_status {
    guard("qpik_catalog_count", || {
        if count.is_null() {
            return Err(CError::null("count"));
        }
        unsafe { *count = catalog().len() };
        Ok(())
    })
}

/// Name of catalog kernel `index` (0-based, < `qpik_catalog_count`), with the
/// `buf, buf_len, needed` convention: `*needed` (if not NULL) receives the size including
/// the NUL; a `buf_len` too small gives `QPIK_ERR_BUFFER_TOO_SMALL` and writes nothing.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_catalog_name(
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_catalog_name", || {
        let all = catalog();
        let k = all.get(index).ok_or_else(|| {
            CError::new(
                qpik_status::QPIK_ERR_NOT_FOUND,
                format!("index {index} is past the catalog's {} kernels", all.len()),
            )
        })?;
        unsafe { write_string(&k.name, buf, buf_len, needed) }
    })
}

fn lookup(name: &str) -> CResult<KernelSpec> {
    find(name).ok_or_else(|| {
        CError::new(
            qpik_status::QPIK_ERR_NOT_FOUND,
            format!("no catalog kernel is named '{name}' (qpik_catalog_name lists them)"),
        )
    })
}

/// The TOML spec of catalog kernel `name` (edit it and pass it to `qpik_kernel_new`), with
/// the `buf, buf_len, needed` convention. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_catalog_spec(
    name: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_catalog_spec", || {
        let spec = lookup(unsafe { c_str(name, "name") }?)?;
        unsafe { write_string(&spec.to_toml(), buf, buf_len, needed) }
    })
}

/// Simulate a kernel: a catalog kernel by `name`, or a TOML spec in `spec_toml` (exactly one
/// of them non-NULL). Options (NULL = defaults): `size`, `pixel_size_m`, `rotation_deg`
/// override the spec's image grid; `memory_budget_bytes` bounds the simulation (a k-grid or
/// orbital count that needs more gives `QPIK_ERR_MEMORY_BUDGET` before allocating). Units: the image is the LDOS change in states/eV per
/// Angstrom^2 (per spin for spinless models), impurity at pixel (rows/2, cols/2).
/// On success `*out` receives a handle to free with `qpik_kernel_free`. Thread-safe.
/// Takes milliseconds to a second (lattice models at fine energy resolution); large k-grids
/// take minutes: `qpik_kernel_new_progress` can cancel them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_kernel_new(
    name: *const c_char,
    spec_toml: *const c_char,
    opts: *const qpik_options,
    out: *mut *mut qpik_kernel,
) -> qpik_status {
    let no_progress = (None, std::ptr::null_mut());
    unsafe { new_kernel("qpik_kernel_new", name, spec_toml, opts, out, no_progress) }
}

/// `qpik_kernel_new` with a progress callback: `progress` (may be NULL) is called on this
/// thread at least every 0.2 s while the kernel is simulated; returning nonzero cancels
/// (`QPIK_ERR_CANCELLED` within a second, at any k-grid size; `*out` untouched).
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_kernel_new_progress(
    name: *const c_char,
    spec_toml: *const c_char,
    opts: *const qpik_options,
    out: *mut *mut qpik_kernel,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    let call = "qpik_kernel_new_progress";
    unsafe { new_kernel(call, name, spec_toml, opts, out, (progress, user_data)) }
}

/// Both kernel constructors; `call` names the entry point in errors.
unsafe fn new_kernel(
    call: &str,
    name: *const c_char,
    spec_toml: *const c_char,
    opts: *const qpik_options,
    out: *mut *mut qpik_kernel,
    (progress, user_data): (qpik_progress_fn, *mut c_void),
) -> qpik_status {
    guard(call, || {
        if out.is_null() {
            return Err(CError::null("out"));
        }
        let name = unsafe { c_str_opt(name, "name") }?;
        let toml = unsafe { c_str_opt(spec_toml, "spec_toml") }?;
        let opts = unsafe { options_or_default(opts) };
        let mut spec = match (name, toml) {
            (Some(n), None) => lookup(n)?,
            (None, Some(t)) => KernelSpec::from_toml(t)?,
            _ => {
                return Err(CError::invalid(
                    "pass exactly one of name (a catalog kernel) and spec_toml (a TOML spec)",
                ));
            }
        };
        if let Some((r, c)) = opts.size() {
            spec.render.size = [r, c];
        }
        if let Some(p) = opts.pixel_size_m() {
            spec.render.pixel_size_a = p / crate::units::ANGSTROM_M;
        }
        if let Some(r) = opts.rotation_deg() {
            spec.render.rotation_deg = r;
        }
        spec.validate()?;
        let budget = opts.budget()?;
        let [rows, cols] = spec.render.size;
        // The f64 render and the copy kept in the handle.
        budget.check(
            &format!("a {rows} x {cols} kernel image"),
            crate::budget::bytes(&[rows, cols, 16]),
        )?;
        let mut ctx = SimContext::new();
        ctx.memory_budget = budget;
        let (field, image) = with_progress(progress, user_data, |p| {
            p.stage("simulating the kernel", 1);
            let field = spec.simulate_polling(&mut ctx, p)?;
            check_cancelled(p)?;
            let image = spec.render_kernel(&field)?;
            p.advance(1);
            crate::Result::Ok((field, image))
        })?;
        let kernel = qpik_kernel {
            image: image.iter().copied().collect(),
            spec,
            field,
        };
        unsafe { put_handle(out, kernel) };
        Ok(())
    })
}

/// Free a kernel; NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_kernel_free(kernel: *mut qpik_kernel) {
    unsafe { free_handle(kernel) }
}

/// Describe a kernel into `*info` (set `info->struct_size = sizeof(*info)` first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_kernel_get_info(
    kernel: *const qpik_kernel,
    info: *mut qpik_kernel_info,
) -> qpik_status {
    guard("qpik_kernel_get_info", || {
        let k = unsafe { handle(kernel, "kernel") }?;
        let g = k.spec.grid();
        let c = g.centre();
        let v = qpik_kernel_info {
            struct_size: 0,
            symmetry: k.spec.symmetry as u32,
            rows: g.height as i64,
            cols: g.width as i64,
            pixel_size_m: g.pixel_size_a * 1e-10,
            rotation_deg: g.rotation_deg,
            energy_ev: k.spec.energy_ev,
            centre_row: c[0],
            centre_col: c[1],
        };
        unsafe { write_sized(info, v, "info") }
    })
}

/// Copy the kernel image into `image` (2-D, rows x cols of `qpik_kernel_get_info`,
/// QPIK_F32 or QPIK_F64, any layout). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_kernel_image(
    kernel: *const qpik_kernel,
    image: *const qpik_array,
) -> qpik_status {
    guard("qpik_kernel_image", || {
        let k = unsafe { handle(kernel, "kernel") }?;
        let a = unsafe { ArrayRef::new(image, "image", &[2], FLOATS) }?;
        a.expect_shape(&[k.spec.render.size[0], k.spec.render.size[1]])?;
        a.write_f64(&k.image)
    })
}

/// Synthesise a `rows x cols` observation of `kernel` at random defects: the sum of the
/// kernel shifted to each defect, times its amplitude, plus the artefacts asked for.
/// Options (NULL = defaults): `seed`, `defects.*`, `artefacts`, `artefacts.*`,
/// `memory_budget_bytes` (`QPIK_ERR_MEMORY_BUDGET` before allocating when the kernel's
/// subpixel stamps and the map need more); the pixel size is the kernel's. `*out` receives a handle to free with `qpik_observation_free`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_observation_new(
    kernel: *const qpik_kernel,
    rows: i64,
    cols: i64,
    opts: *const qpik_options,
    out: *mut *mut qpik_observation,
) -> qpik_status {
    guard("qpik_observation_new", || {
        let k = unsafe { handle(kernel, "kernel") }?;
        if out.is_null() {
            return Err(CError::null("out"));
        }
        let max = MAX_IMAGE_SIZE as i64;
        if !(1..=max).contains(&rows) || !(1..=max).contains(&cols) {
            return Err(CError::new(
                qpik_status::QPIK_ERR_SHAPE,
                format!("observation size {rows} x {cols} must be within 1..={max} pixels"),
            ));
        }
        let opts = unsafe { options_or_default(opts) };
        let defects = opts.defects()?;
        let artefacts = opts.artefacts()?;
        let grid: PixelGrid = k.spec.grid();
        let radius = grid.height.max(grid.width);
        // The stamps (steps^2 f32 renders of a 2 radius window, one f64 render per worker)
        // and the map with its mask and working copy.
        let (steps, side) = (defects.subpixel_steps, 2 * radius);
        opts.budget()?.check(
            &format!(
                "a {rows} x {cols} observation of a {} x {} kernel at {steps} subpixel steps",
                grid.height, grid.width
            ),
            crate::budget::sum(&[
                crate::budget::bytes(&[steps, steps, side, side, 4]),
                crate::budget::bytes(&[rayon::current_num_threads(), side, side, 8]),
                crate::budget::bytes(&[rows as usize, cols as usize, 4 + 1 + 8]),
            ]),
        )?;
        let stamps = KernelStamps::for_grid(&k.field, &grid, steps)?;
        let mut rng = Rng::new(opts.seed());
        let obs = synthesize(
            &stamps,
            rows as usize,
            cols as usize,
            grid.pixel_size_a,
            &defects,
            &artefacts,
            &mut rng,
        )?;
        unsafe { put_handle(out, qpik_observation { obs }) };
        Ok(())
    })
}

/// Free an observation; NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_observation_free(observation: *mut qpik_observation) {
    unsafe { free_handle(observation) }
}

/// Copy the observed map into `image` (2-D rows x cols, QPIK_F32 or QPIK_F64) and, if
/// `mask` is not NULL, the defect mask (1 at the pixel nearest each defect) into `mask`
/// (same shape; QPIK_U8, QPIK_F32 or QPIK_F64). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_observation_image(
    observation: *const qpik_observation,
    image: *const qpik_array,
    mask: *const qpik_array,
) -> qpik_status {
    guard("qpik_observation_image", || {
        let o = &unsafe { handle(observation, "observation") }?.obs;
        let (h, w) = o.image.dim();
        let a = unsafe { ArrayRef::new(image, "image", &[2], FLOATS) }?;
        a.expect_shape(&[h, w])?;
        let m = if mask.is_null() {
            None
        } else {
            let m = unsafe { ArrayRef::new(mask, "mask", &[2], FLOATS_OR_U8) }?;
            m.expect_shape(&[h, w])?;
            Some(m)
        };
        a.write_f32(&o.image.iter().copied().collect::<Vec<_>>())?;
        if let Some(m) = m {
            let v: Vec<f32> = o.mask.iter().map(|&x| x as f32).collect();
            m.write_f32(&v)?;
        }
        Ok(())
    })
}

/// Number of defects of an observation into `*count`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_observation_defect_count(
    observation: *const qpik_observation,
    count: *mut usize,
) -> qpik_status {
    guard("qpik_observation_defect_count", || {
        let o = &unsafe { handle(observation, "observation") }?.obs;
        if count.is_null() {
            return Err(CError::null("count"));
        }
        unsafe { *count = o.positions.len() };
        Ok(())
    })
}

/// The defects into `defects` (2-D, count x 3, QPIK_F32 or QPIK_F64): row and column in
/// pixels (subpixel, as rendered) and amplitude. An observation without defects (possible
/// with a density or count_min = 0) gives `QPIK_ERR_INVALID_ARGUMENT`: check
/// `qpik_observation_defect_count` first. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_observation_defects(
    observation: *const qpik_observation,
    defects: *const qpik_array,
) -> qpik_status {
    guard("qpik_observation_defects", || {
        let o = &unsafe { handle(observation, "observation") }?.obs;
        let n = o.positions.len();
        if n == 0 {
            return Err(CError::invalid(
                "the observation has no defects; check qpik_observation_defect_count first",
            ));
        }
        let a = unsafe { ArrayRef::new(defects, "defects", &[2], FLOATS) }?;
        a.expect_shape(&[n, 3])?;
        let v: Vec<f32> = o
            .positions
            .iter()
            .zip(&o.amplitudes)
            .flat_map(|(p, &amp)| [p[0], p[1], amp])
            .collect();
        a.write_f32(&v)
    })
}
