//! Training through the C ABI.

use super::{
    CError, c_str, guard, options_or_default, qpik_options, qpik_progress_fn, qpik_status,
    with_progress,
};
use crate::data::hdf5_io::DatasetReader;
use crate::extract::select_device;
use crate::model::train::{train_align, train_one_step, train_vae};
use std::ffi::{c_char, c_void};
use std::path::Path;

/// Train a model on a dataset file and write it to `out_path` (safetensors, written
/// atomically after every epoch as a checkpoint). `what`: "vae" (step 1, the kernel VAE),
/// "align" (step 2; option `train.vae` names the VAE file; the result extracts) or
/// "one-step" (the baseline; extracts). Options (NULL = defaults): `seed`, `device`,
/// `train.*`. `progress` (may be NULL) is called on this thread with the epoch, step and
/// loss; returning nonzero cancels (`QPIK_ERR_CANCELLED`; the last finished epoch's
/// checkpoint stays, and `train.resume = true` continues from it). Long-running (minutes to
/// hours); uses all cores. Thread-safe (different output paths).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_train(
    what: *const c_char,
    data_path: *const c_char,
    out_path: *const c_char,
    opts: *const qpik_options,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    guard("qpik_train", || {
        let what = unsafe { c_str(what, "what") }?;
        let data = Path::new(unsafe { c_str(data_path, "data_path") }?);
        let out = Path::new(unsafe { c_str(out_path, "out_path") }?);
        let opts = unsafe { options_or_default(opts) };
        let mut cfg = opts.train(data)?;
        // The network takes the dataset's image size.
        let (h, w) = DatasetReader::open(data)?.image_shape();
        if h != w {
            return Err(CError::invalid(format!(
                "the dataset's images are {h} x {w}; training needs square images"
            )));
        }
        cfg.net.size = h;
        cfg.net.validate()?;
        let (device, _) = select_device(opts.want_cuda());
        if device.is_cpu() {
            // A batch's activations always reach candle's own worker pool.
            super::fork::networks_start("training", usize::MAX)?;
        }
        let resume = opts.resume();
        if !matches!(what, "vae" | "align" | "one-step") {
            return Err(CError::invalid(format!(
                "what = '{what}': expected \"vae\", \"align\" or \"one-step\""
            )));
        }
        let vae = opts.text("train.vae");
        if what == "align" && vae.is_none() {
            return Err(CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                "alignment needs the trained VAE: set option train.vae to its file",
            ));
        }
        with_progress(progress, user_data, |p| match (what, vae) {
            ("vae", _) => train_vae(&cfg, out, resume, &device, p),
            ("align", Some(vae)) => train_align(&cfg, Path::new(vae), out, resume, &device, p),
            _ => train_one_step(&cfg, out, resume, &device, p),
        })?;
        Ok(())
    })
}
