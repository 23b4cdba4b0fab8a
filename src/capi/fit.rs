//! `qpik_fit_file`: a kernel spec's free values from an extraction result file
//! (the C face of [`crate::fit::fit_file`]).

use super::{CError, CallbackProgress, c_str, c_str_opt, free_handle, guard, handle, put_handle};
use super::{qpik_progress_fn, qpik_status, write_string};
use crate::fit::{FitResult, FitSettings, fit_file};
use std::ffi::{c_char, c_void};
use std::path::Path;

/// The result of a fit (opaque). Immutable: may be read from several threads at once.
pub struct qpik_fit_result {
    result: FitResult,
    json: String,
}

/// Fit the kernel spec at `spec_path` (TOML with a `[fit]` table: `free = [paths]`,
/// optional `[fit.bounds]`, `fixed`, `core_radius_px`; see `qpik fit --help` and the README)
/// to kernel type 0 of the extraction result at `result_path` (`qpik extract` output).
///
/// - `out_toml_path_or_null`: where to write the fitted spec (best values in place, with a
///   `[fit.result]` table); NULL writes nothing. The file appears whole or not at all.
/// - `*out` receives a new `qpik_fit_result` (free with `qpik_fit_result_free`); untouched
///   on failure. Read it with `qpik_fit_result_json` and `qpik_fit_result_spec_toml`.
/// - `progress` (may be NULL) is called on this thread per stage (coarse search, fit);
///   returning nonzero cancels (`QPIK_ERR_CANCELLED`, nothing written, `*out` untouched).
///
/// Statuses: `QPIK_ERR_NULL` (a required pointer), `QPIK_ERR_IO` / `QPIK_ERR_FORMAT` (files),
/// `QPIK_ERR_INVALID_ARGUMENT` (a spec, path or bound the message names),
/// `QPIK_ERR_MEMORY_BUDGET`. Uses all cores. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_fit_file(
    result_path: *const c_char,
    spec_path: *const c_char,
    out_toml_path_or_null: *const c_char,
    out: *mut *mut qpik_fit_result,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    guard("qpik_fit_file", || unsafe {
        let result_path = c_str(result_path, "result_path")?;
        let spec_path = c_str(spec_path, "spec_path")?;
        let toml_path = c_str_opt(out_toml_path_or_null, "out_toml_path_or_null")?;
        if out.is_null() {
            return Err(CError::null("out"));
        }
        let cb = CallbackProgress::new(progress, user_data);
        let result = fit_file(
            Path::new(result_path),
            Path::new(spec_path),
            &FitSettings::default(),
            &cb,
        )?;
        if let Some(p) = toml_path {
            write_text(Path::new(p), &result.spec_toml)?;
        }
        let json = result.to_json().to_string();
        put_handle(out, qpik_fit_result { result, json });
        Ok(())
    })
}

fn write_text(path: &Path, text: &str) -> Result<(), CError> {
    let target = crate::data::output_file::OutputFile::create(path)?;
    std::fs::write(target.temp_path(), text)
        .map_err(|e| crate::Error::io(path.display().to_string(), e))?;
    target.commit()?;
    Ok(())
}

/// Free a fit result; NULL is a no-op. No other call may be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_fit_result_free(r: *mut qpik_fit_result) {
    unsafe { free_handle(r) }
}

/// The fit as one JSON object (parameters with standard errors, nuisance values, scales,
/// chi^2/dof, correlations, notes, dispersion), `buf, buf_len, needed` convention.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_fit_result_json(
    r: *const qpik_fit_result,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_fit_result_json", || unsafe {
        let r = handle(r, "r")?;
        write_string(&r.json, buf, buf_len, needed)
    })
}

/// The fitted spec as TOML (what `out_toml_path_or_null` receives), `buf, buf_len, needed`
/// convention. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_fit_result_spec_toml(
    r: *const qpik_fit_result,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_fit_result_spec_toml", || unsafe {
        let r = handle(r, "r")?;
        write_string(&r.result.spec_toml, buf, buf_len, needed)
    })
}
