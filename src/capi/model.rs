//! Models and extraction.

use super::{
    ArrayRef, CError, FLOATS, FLOATS_OR_U8, c_str, check_sized, free_handle, guard, handle,
    options_or_default, put_handle, qpik_array, qpik_options, qpik_status, write_sized,
};
use crate::extract::{Extractor, Method, estimate_mask, select_device};
use crate::model::file::ModelFile;
use ndarray::ArrayView2;
use std::ffi::{c_char, c_void};

/// A loaded extraction model (the C type `qpik_model`). Immutable after creation: one model
/// may be used by `qpik_extract` from any number of threads at once.
pub struct qpik_model {
    ex: Extractor,
    fell_back: bool,
    /// From the options at creation: bounds what `qpik_extract` holds at once.
    budget: crate::budget::MemoryBudget,
}

/// Observations `qpik_extract` runs through the network at a time: a stack is processed in
/// such chunks so its working memory (about 0.85 MB per 64 x 64 image) stays bounded.
const EXTRACT_CHUNK: usize = 32;

/// Elements of a network's largest activation for one image: a stage's channels times its
/// resolution (full, half, quarter size).
fn largest_activation(c: &crate::model::NetConfig) -> usize {
    (0..3)
        .map(|i| c.channels[i].saturating_mul((c.size >> i).saturating_pow(2)))
        .max()
        .unwrap_or(0)
}

/// What a model is. The caller sets `struct_size = sizeof(qpik_model_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_model_info {
    pub struct_size: u32,
    /// 0 = two-step (VAE latent alignment), 1 = one-step baseline.
    pub method: u32,
    /// Image size the model takes and returns (size x size pixels).
    pub size: i64,
    /// 0 = CPU, 1 = CUDA.
    pub device: u32,
    /// 1 when CUDA was asked for but unavailable, so the model runs on the CPU.
    pub fell_back_to_cpu: u32,
}

/// What an extraction did. The caller sets `struct_size = sizeof(qpik_extract_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct qpik_extract_info {
    pub struct_size: u32,
    /// 1 when no mask was given and qpik estimated it (`qpik_estimate_mask`).
    pub mask_estimated: u32,
    /// Observations processed (1 for a 2-D input).
    pub items: i64,
    /// Defects in the mask used (summed over items).
    pub defects: i64,
}

fn finish(
    out: *mut *mut qpik_model,
    opts: &qpik_options,
    load: impl FnOnce(&candle_core::Device) -> crate::Result<Extractor>,
) -> Result<(), CError> {
    if out.is_null() {
        return Err(CError::null("out"));
    }
    let budget = opts.budget()?;
    let (device, note) = select_device(opts.want_cuda());
    let ex = load(&device)?;
    unsafe {
        put_handle(
            out,
            qpik_model {
                ex,
                fell_back: note.is_some(),
                budget,
            },
        )
    };
    Ok(())
}

/// Load the default model embedded in the library. Options (NULL = defaults): `method`
/// (two-step or one-step), `device` (cpu or cuda; cuda falls back to the CPU, see
/// `qpik_model_get_info`). `QPIK_ERR_UNAVAILABLE` if this build embeds no model.
/// `*out` receives a handle to free with `qpik_model_free`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_model_new_default(
    opts: *const qpik_options,
    out: *mut *mut qpik_model,
) -> qpik_status {
    guard("qpik_model_new_default", || {
        let opts = unsafe { options_or_default(opts) };
        let method = if opts.text("method") == Some("one-step") {
            Method::OneStep
        } else {
            Method::TwoStep
        };
        finish(out, &opts, |d| Extractor::embedded(method, d))
    })
}

/// Load a model file (`qpik train` output, safetensors) from `path`. A missing file gives
/// `QPIK_ERR_IO`; a file that is not a qpik two-step or one-step model `QPIK_ERR_FORMAT`
/// or `QPIK_ERR_INVALID_ARGUMENT` (a VAE alone cannot extract). Options as for
/// `qpik_model_new_default` (only `device`). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_model_new_from_file(
    path: *const c_char,
    opts: *const qpik_options,
    out: *mut *mut qpik_model,
) -> qpik_status {
    guard("qpik_model_new_from_file", || {
        let path = unsafe { c_str(path, "path") }?;
        let opts = unsafe { options_or_default(opts) };
        finish(out, &opts, |d| {
            Extractor::open(std::path::Path::new(path), d)
        })
    })
}

/// Load a model from `len` bytes at `bytes` (the content of a model file; copied, so the
/// buffer may be freed after the call). Errors as `qpik_model_new_from_file`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_model_new_from_memory(
    bytes: *const c_void,
    len: usize,
    opts: *const qpik_options,
    out: *mut *mut qpik_model,
) -> qpik_status {
    guard("qpik_model_new_from_memory", || {
        if bytes.is_null() {
            return Err(CError::null("bytes"));
        }
        // SAFETY: the caller promises `len` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(bytes as *const u8, len) };
        let opts = unsafe { options_or_default(opts) };
        finish(out, &opts, |d| {
            Extractor::from_file(&ModelFile::from_bytes(data, "model bytes", d)?, d)
        })
    })
}

/// Free a model; NULL is a no-op. No other call may be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_model_free(model: *mut qpik_model) {
    unsafe { free_handle(model) }
}

/// Describe a model into `*info` (set `info->struct_size = sizeof(*info)` first).
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_model_get_info(
    model: *const qpik_model,
    info: *mut qpik_model_info,
) -> qpik_status {
    guard("qpik_model_get_info", || {
        let m = unsafe { handle(model, "model") }?;
        let v = qpik_model_info {
            struct_size: 0,
            method: match m.ex.method() {
                Method::TwoStep => 0,
                Method::OneStep => 1,
            },
            size: m.ex.config.size as i64,
            device: u32::from(m.ex.device.is_cuda()),
            fell_back_to_cpu: u32::from(m.fell_back),
        };
        unsafe { write_sized(info, v, "info") }
    })
}

/// Estimate a defect mask from an observation alone (2-D, QPIK_F32 or QPIK_F64, finite)
/// into `mask` (same shape; QPIK_U8, QPIK_F32 or QPIK_F64; 1 = defect). A heuristic for
/// maps without topography: the sharpest extrema of the defects' sign (see the README).
/// `*count` (if not NULL) receives the number of defects found. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_estimate_mask(
    observation: *const qpik_array,
    mask: *const qpik_array,
    count: *mut usize,
) -> qpik_status {
    guard("qpik_estimate_mask", || {
        let o = unsafe { ArrayRef::new(observation, "observation", &[2], FLOATS) }?;
        let m = unsafe { ArrayRef::new(mask, "mask", &[2], FLOATS_OR_U8) }?;
        m.expect_shape(&o.shape)?;
        let v = o.read_f32(true)?;
        let est =
            estimate_mask(ArrayView2::from_shape((o.shape[0], o.shape[1]), &v).expect("shape"));
        let f: Vec<f32> = est.iter().map(|&x| x as f32).collect();
        m.write_f32(&f)?;
        if !count.is_null() {
            unsafe { *count = est.iter().filter(|&&x| x == 1).count() };
        }
        Ok(())
    })
}

/// Extract kernels. `observation`: 2-D (size x size) or 3-D (n x size x size, a stack),
/// QPIK_F32 or QPIK_F64, finite, any units (each image is min-max scaled). `mask`: the
/// binary defect mask(s) of the same shape (QPIK_U8, QPIK_F32 or QPIK_F64, values 0 or 1),
/// or NULL to estimate each with `qpik_estimate_mask`. `kernel`: output of the same shape
/// (QPIK_F32 or QPIK_F64), the predicted kernel on the scale of the min-max scaled training
/// kernels (0 = the kernel's minimum, 1 = its maximum; not clamped), impurity at pixel
/// (size/2, size/2), same pixel size as the observation. `info` (optional, NULL to skip)
/// says what was done. size is `qpik_model_info.size` (64 for the default models).
/// Nothing is written to `kernel` unless the call succeeds.
/// Thread-safe: any number of threads may extract with one model at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_extract(
    model: *const qpik_model,
    observation: *const qpik_array,
    mask: *const qpik_array,
    kernel: *const qpik_array,
    info: *mut qpik_extract_info,
) -> qpik_status {
    guard("qpik_extract", || {
        let m = unsafe { handle(model, "model") }?;
        let s = m.ex.config.size;
        let o = unsafe { ArrayRef::new(observation, "observation", &[2, 3], FLOATS) }?;
        let (n, want) = if o.shape.len() == 2 {
            (1, vec![s, s])
        } else {
            (o.shape[0], vec![o.shape[0], s, s])
        };
        if o.shape != want {
            return Err(CError::new(
                qpik_status::QPIK_ERR_SHAPE,
                format!(
                    "observation has shape {:?} but this model takes {s} x {s} images (or n x {s} x {s}); crop or resample first",
                    o.shape
                ),
            ));
        }
        let k = unsafe { ArrayRef::new(kernel, "kernel", &[2, 3], FLOATS) }?;
        k.expect_shape(&o.shape)?;
        let maskref = if mask.is_null() {
            None
        } else {
            let r = unsafe { ArrayRef::new(mask, "mask", &[2, 3], FLOATS_OR_U8) }?;
            r.expect_shape(&o.shape).map_err(|e| {
                CError::new(
                    e.status,
                    format!("{} (the mask must match the observation)", e.message),
                )
            })?;
            Some(r)
        };
        if !info.is_null() {
            unsafe { check_sized(info, "info") }?;
        }
        let px = s * s;
        // Copies of the input, the masks and the output, plus one chunk's network work.
        let per_chunk = crate::budget::bytes(&[EXTRACT_CHUNK.min(n), px, 4 * 60]);
        m.budget.check(
            &format!("extracting {n} observations of {s} x {s}"),
            crate::budget::sum(&[crate::budget::bytes(&[n, px, 4 + 1 + 4]), per_chunk]),
        )?;
        let obs = o.read_f32(true)?;
        let masks: Vec<u8> = match &maskref {
            Some(r) => r.read_mask()?,
            None => obs
                .chunks_exact(px)
                .flat_map(|c| estimate_mask(ArrayView2::from_shape((s, s), c).expect("shape")))
                .collect(),
        };
        // Where candle's own worker pool is lost (a fork of a process that ran the
        // networks; see fork.rs), one image at a time, which keeps a model whose largest
        // activation per image is below that pool's threshold off it.
        let chunk = if super::fork::candle_pool_lost() {
            1
        } else {
            EXTRACT_CHUNK.min(n)
        };
        if m.ex.device.is_cpu() {
            super::fork::networks_start("extraction", chunk * largest_activation(&m.ex.config))?;
        }
        let mut flat: Vec<f32> = Vec::with_capacity(n * px);
        for (obs, masks) in obs.chunks(chunk * px).zip(masks.chunks(chunk * px)) {
            let items: Vec<(ArrayView2<f32>, ArrayView2<u8>)> = obs
                .chunks_exact(px)
                .zip(masks.chunks_exact(px))
                .map(|(a, b)| {
                    (
                        ArrayView2::from_shape((s, s), a).expect("shape"),
                        ArrayView2::from_shape((s, s), b).expect("shape"),
                    )
                })
                .collect();
            let out = m.ex.extract_batch(&items)?;
            flat.extend(out.iter().flat_map(|a| a.iter().copied()));
        }
        if let Some(i) = flat.iter().position(|x| !x.is_finite()) {
            return Err(CError::new(
                qpik_status::QPIK_ERR_NOT_FINITE,
                format!(
                    "the model produced a non-finite value (observation {}, pixel {}); its weights or this input are unusable, nothing was written",
                    i / px,
                    i % px
                ),
            ));
        }
        k.write_f32(&flat)?;
        if !info.is_null() {
            let v = qpik_extract_info {
                struct_size: 0,
                mask_estimated: u32::from(maskref.is_none()),
                items: n as i64,
                defects: masks.iter().filter(|&&x| x == 1).count() as i64,
            };
            unsafe { write_sized(info, v, "info") }?;
        }
        Ok(())
    })
}
