//! Dataset files (HDF5, qpik-dataset v1): generate, read, write.

use super::{
    ArrayRef, CError, FLOATS, FLOATS_OR_U8, c_str, free_handle, guard, handle, options_or_default,
    put_handle, qpik_array, qpik_options, qpik_progress_fn, qpik_status, with_progress,
    write_sized, write_string,
};
use crate::data::Dataset;
use crate::data::hdf5_io::{DatasetReader, write_dataset};
use crate::synthesis::dataset::generate_dataset_within;
use ndarray::Array3;
use std::ffi::{c_char, c_void};
use std::path::Path;

/// An open dataset file (the C type `qpik_dataset`). Reads are serialised by the HDF5
/// library's lock, so one handle may be read from several threads.
pub struct qpik_dataset {
    reader: DatasetReader,
}

/// What a dataset holds. The caller sets `struct_size = sizeof(qpik_dataset_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_dataset_info {
    pub struct_size: u32,
    /// Most defects recorded per observation.
    pub max_defects: u32,
    pub observations: i64,
    pub kernels: i64,
    /// Image size of kernels and observations.
    pub rows: i64,
    pub cols: i64,
    /// Common pixel size in metres (NaN when kernels differ; see qpik_dataset_kernel).
    pub pixel_size_m: f64,
}

/// One kernel's labels. The caller sets `struct_size = sizeof(qpik_dataset_kernel_info)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_dataset_kernel_info {
    pub struct_size: u32,
    /// n-fold rotation symmetry label (1 = isotropic, 0 = unknown).
    pub symmetry: u32,
    /// 0 = training kernel, 1 = held out ("unseen").
    pub split: u32,
    pub reserved: u32,
    /// Pixel size in metres.
    pub pixel_size_m: f64,
}

/// Generate a simulated dataset file at `path` (HDF5; written under a temporary name and
/// renamed, so an existing file is replaced only on success). Options (NULL = defaults, the
/// paper's scale: 100 kernels x 500 observations of 64 x 64): `seed`, `size`,
/// `pixel_size_m`, `dataset.*`, `defects.*`, `artefacts*`, `memory_budget_bytes` (a dataset
/// whose generation needs more, or whose kernels x per_kernel overflows, gives
/// `QPIK_ERR_MEMORY_BUDGET` before anything is allocated). `progress` (may be NULL) is
/// called on this thread; returning nonzero cancels (`QPIK_ERR_CANCELLED`).
/// Uses all cores. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_generate(
    path: *const c_char,
    opts: *const qpik_options,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    guard("qpik_dataset_generate", || {
        let path = unsafe { c_str(path, "path") }?;
        let o = unsafe { options_or_default(opts) };
        let cfg = o.dataset()?;
        let budget = o.budget()?;
        with_progress(progress, user_data, |p| {
            generate_dataset_within(&cfg, Path::new(path), &budget, p)
        })?;
        Ok(())
    })
}

/// Open a dataset file for reading (validates its layout). `*out` receives a handle to free
/// with `qpik_dataset_free`. `QPIK_ERR_IO` if it cannot be opened, `QPIK_ERR_FORMAT` if it
/// is not a valid qpik dataset. Thread-safe.
///
/// libhdf5 never parses the file in the calling process: this call and every
/// `qpik_dataset_read` fork a short-lived child (POSIX) that reads the file and streams the
/// data back, so a damaged file that would crash or hang libhdf5 gives `QPIK_ERR_FORMAT`
/// ("libhdf5 crashed ...", "did not finish ... within N s") and the host goes on. The child
/// runs no host code: it closes inherited descriptors, restores default crash signals and
/// leaves with `_exit`. Environment: `QPIK_DATASET_CHECK_TIMEOUT_S` sets the time allowed
/// per call (default 10 s plus 1 s per 10 MB read); `QPIK_DATASET_CHECK=off` reads in the
/// calling process instead (no protection).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_open(
    path: *const c_char,
    out: *mut *mut qpik_dataset,
) -> qpik_status {
    guard("qpik_dataset_open", || {
        let path = unsafe { c_str(path, "path") }?;
        if out.is_null() {
            return Err(CError::null("out"));
        }
        let p = Path::new(path);
        if !p.is_file() {
            let why = if p.exists() {
                "not a regular file"
            } else {
                "no such file"
            };
            return Err(CError::new(
                qpik_status::QPIK_ERR_IO,
                format!("{path}: {why}"),
            ));
        }
        let reader = DatasetReader::open(p)?;
        unsafe { put_handle(out, qpik_dataset { reader }) };
        Ok(())
    })
}

/// Close a dataset; NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_free(dataset: *mut qpik_dataset) {
    unsafe { free_handle(dataset) }
}

/// Describe a dataset into `*info` (set `info->struct_size = sizeof(*info)` first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_get_info(
    dataset: *const qpik_dataset,
    info: *mut qpik_dataset_info,
) -> qpik_status {
    guard("qpik_dataset_get_info", || {
        let d = &unsafe { handle(dataset, "dataset") }?.reader;
        let (h, w) = d.image_shape();
        let v = qpik_dataset_info {
            struct_size: 0,
            max_defects: d.max_defects() as u32,
            observations: d.len() as i64,
            kernels: d.kernels().names.len() as i64,
            rows: h as i64,
            cols: w as i64,
            pixel_size_m: d.info().pixel_size_m,
        };
        unsafe { write_sized(info, v, "info") }
    })
}

fn kernel_row(d: &DatasetReader, index: usize) -> Result<usize, CError> {
    let k = d.kernels().names.len();
    if index >= k {
        return Err(CError::new(
            qpik_status::QPIK_ERR_NOT_FOUND,
            format!("kernel {index} requested but the dataset has {k}"),
        ));
    }
    Ok(index)
}

/// Kernel `index` of the dataset: its image into `image` (2-D rows x cols, QPIK_F32 or
/// QPIK_F64; NULL to skip; physical units, impurity at (rows/2, cols/2)), its labels into
/// `info` (NULL to skip). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_kernel(
    dataset: *const qpik_dataset,
    index: usize,
    image: *const qpik_array,
    info: *mut qpik_dataset_kernel_info,
) -> qpik_status {
    guard("qpik_dataset_kernel", || {
        let d = &unsafe { handle(dataset, "dataset") }?.reader;
        let k = kernel_row(d, index)?;
        let t = d.kernels();
        if !image.is_null() {
            let a = unsafe { ArrayRef::new(image, "image", &[2], FLOATS) }?;
            let (_, h, w) = t.kernels.dim();
            a.expect_shape(&[h, w])?;
            let v: Vec<f32> = t
                .kernels
                .index_axis(ndarray::Axis(0), k)
                .iter()
                .copied()
                .collect();
            a.write_f32(&v)?;
        }
        if !info.is_null() {
            let v = qpik_dataset_kernel_info {
                struct_size: 0,
                symmetry: t.symmetry[k] as u32,
                split: t.split[k] as u32,
                reserved: 0,
                pixel_size_m: t.pixel_size_m[k],
            };
            unsafe { write_sized(info, v, "info") }?;
        }
        Ok(())
    })
}

/// Name of kernel `index` (`buf, buf_len, needed` convention). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_kernel_name(
    dataset: *const qpik_dataset,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_dataset_kernel_name", || {
        let d = &unsafe { handle(dataset, "dataset") }?.reader;
        let k = kernel_row(d, index)?;
        unsafe { write_string(&d.kernels().names[k], buf, buf_len, needed) }
    })
}

/// Read observations `start .. start+n` where n is `observations->shape[0]` (3-D, n x rows
/// x cols, QPIK_F32 or QPIK_F64), with their masks into `masks` (same shape, NULL to skip)
/// and their kernel rows into `kernel_index` (n values, NULL to skip). Thread-safe. Reads
/// in a child process, as `qpik_dataset_open` explains; a file changed since it was opened
/// gives `QPIK_ERR_FORMAT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_read(
    dataset: *const qpik_dataset,
    start: usize,
    observations: *const qpik_array,
    masks: *const qpik_array,
    kernel_index: *mut u32,
) -> qpik_status {
    guard("qpik_dataset_read", || {
        let d = &unsafe { handle(dataset, "dataset") }?.reader;
        let o = unsafe { ArrayRef::new(observations, "observations", &[3], FLOATS) }?;
        let (h, w) = d.image_shape();
        let n = o.shape[0];
        o.expect_shape(&[n, h, w])?;
        let end = start
            .checked_add(n)
            .filter(|&e| e <= d.len())
            .ok_or_else(|| {
                CError::invalid(format!(
                    "observations {start}..{start}+{n} requested but the dataset has {}",
                    d.len()
                ))
            })?;
        let m = if masks.is_null() {
            None
        } else {
            let m = unsafe { ArrayRef::new(masks, "masks", &[3], FLOATS_OR_U8) }?;
            m.expect_shape(&[n, h, w])?;
            Some(m)
        };
        let t = d.read_observations(start..end)?;
        o.write_f32(&t.observations.iter().copied().collect::<Vec<_>>())?;
        if let Some(m) = m {
            m.write_f32(&t.masks.iter().map(|&x| x as f32).collect::<Vec<_>>())?;
        }
        if !kernel_index.is_null() {
            // SAFETY: the caller promises room for n values.
            unsafe { std::ptr::copy_nonoverlapping(t.kernel_index.as_ptr(), kernel_index, n) };
        }
        Ok(())
    })
}

/// Write your own data as a qpik dataset file at `path` (train on it with `qpik_train`):
/// `kernels` (3-D, k x rows x cols, ground-truth kernels, impurity at (rows/2, cols/2)),
/// `observations` and `masks` (3-D, n x rows x cols; masks binary), `kernel_index` (n
/// values, the kernel row of each observation). QPIK_F32 or QPIK_F64 (masks also QPIK_U8),
/// finite. Option `pixel_size_m` is required (the pixel size in metres; `pixel_size_a`, in
/// Angstrom, is a deprecated alias). Kernels are named
/// kernel-0, kernel-1, ..., all in the training split, symmetry 0 (unknown); defect
/// positions are the mask pixels. Written atomically. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_dataset_write(
    path: *const c_char,
    kernels: *const qpik_array,
    observations: *const qpik_array,
    masks: *const qpik_array,
    kernel_index: *const u32,
    opts: *const qpik_options,
) -> qpik_status {
    guard("qpik_dataset_write", || {
        let path = unsafe { c_str(path, "path") }?;
        let opts = unsafe { options_or_default(opts) };
        // Checked when set (crate::units): plausible and in metres.
        let pixel_a = opts.pixel_size_m().ok_or_else(|| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                "set option pixel_size_m (metres) to write a dataset",
            )
        })? / crate::units::ANGSTROM_M;
        let ka = unsafe { ArrayRef::new(kernels, "kernels", &[3], FLOATS) }?;
        let oa = unsafe { ArrayRef::new(observations, "observations", &[3], FLOATS) }?;
        let ma = unsafe { ArrayRef::new(masks, "masks", &[3], FLOATS_OR_U8) }?;
        let (k, h, w) = (ka.shape[0], ka.shape[1], ka.shape[2]);
        let n = oa.shape[0];
        oa.expect_shape(&[n, h, w])?;
        ma.expect_shape(&[n, h, w])?;
        if kernel_index.is_null() {
            return Err(CError::null("kernel_index"));
        }
        // SAFETY: the caller promises n values.
        let index = unsafe { std::slice::from_raw_parts(kernel_index, n) }.to_vec();
        let shaped = |v: Vec<f32>, d| Array3::from_shape_vec(d, v).expect("shape checked");
        let ds = Dataset::from_masks(
            shaped(ka.read_f32(true)?, (k, h, w)),
            shaped(oa.read_f32(true)?, (n, h, w)),
            Array3::from_shape_vec((n, h, w), ma.read_mask()?).expect("shape checked"),
            index,
            pixel_a * 1e-10,
        )?;
        write_dataset(Path::new(path), &ds)?;
        Ok(())
    })
}
