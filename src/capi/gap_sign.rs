//! `qpik_gap_sign_file`: the gap sign (sign-changing or sign-preserving) from kernels at
//! `+E` and `-E` (the C face of [`crate::fit::gap_sign::gap_sign_files`]).

use super::{CError, CallbackProgress, c_str, c_str_opt, free_handle, guard, handle, put_handle};
use super::{qpik_progress_fn, qpik_status, write_string};
use crate::fit::gap_sign::{GapSignSettings, Verdict, gap_sign_files};
use std::ffi::{c_char, c_void};
use std::path::Path;

/// The verdict of a gap-sign analysis. Values are frozen.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qpik_gap_verdict {
    /// The two gap forms fit equally well (or no spec was given).
    QPIK_GAP_UNDECIDED = 0,
    /// d-wave or s+-: the sign-changing form fits better by at least 3 sigma.
    QPIK_GAP_SIGN_CHANGING = 1,
    /// s or s++: the sign-preserving form fits better by at least 3 sigma.
    QPIK_GAP_SIGN_PRESERVING = 2,
}

/// The result of a gap-sign analysis (opaque). Immutable: may be read from several threads
/// at once.
pub struct qpik_gap_sign_result {
    verdict: qpik_gap_verdict,
    confidence: f64,
    json: String,
}

/// The gap sign of kernel type 0 of the extraction result at `result_path` (energies of both
/// signs), or of it and `partner_path_or_null` (the other sign), compared with both gap
/// forms (s+- / s++ for several orbitals, d / s for one) of the superconducting spec at
/// `spec_path_or_null` (the fitted model). Without a spec the verdict is
/// `QPIK_GAP_UNDECIDED` (the model-free reading is in the JSON but decides nothing).
///
/// - `*out` receives a new `qpik_gap_sign_result` (free with `qpik_gap_sign_result_free`);
///   untouched on failure. Read it with `qpik_gap_sign_result_verdict` and
///   `qpik_gap_sign_result_json`.
/// - `progress` (may be NULL) is called on this thread while both gap forms are simulated;
///   returning nonzero cancels (`QPIK_ERR_CANCELLED`, `*out` untouched).
///
/// Statuses: `QPIK_ERR_NULL` (a required pointer), `QPIK_ERR_IO` / `QPIK_ERR_FORMAT` (files),
/// `QPIK_ERR_INVALID_ARGUMENT` (no `+E` / `-E` pair, a spec without pairing terms),
/// `QPIK_ERR_MEMORY_BUDGET`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_gap_sign_file(
    result_path: *const c_char,
    partner_path_or_null: *const c_char,
    spec_path_or_null: *const c_char,
    out: *mut *mut qpik_gap_sign_result,
    progress: qpik_progress_fn,
    user_data: *mut c_void,
) -> qpik_status {
    guard("qpik_gap_sign_file", || unsafe {
        let result_path = c_str(result_path, "result_path")?;
        let partner = c_str_opt(partner_path_or_null, "partner_path_or_null")?;
        let spec = c_str_opt(spec_path_or_null, "spec_path_or_null")?;
        if out.is_null() {
            return Err(CError::null("out"));
        }
        let cb = CallbackProgress::new(progress, user_data);
        let mut results = vec![Path::new(result_path)];
        if let Some(p) = partner {
            results.push(Path::new(p));
        }
        let r = gap_sign_files(
            &results,
            spec.map(Path::new),
            &GapSignSettings::default(),
            &cb,
        )?;
        let verdict = match r.verdict {
            Verdict::Undecided => qpik_gap_verdict::QPIK_GAP_UNDECIDED,
            Verdict::SignChanging => qpik_gap_verdict::QPIK_GAP_SIGN_CHANGING,
            Verdict::SignPreserving => qpik_gap_verdict::QPIK_GAP_SIGN_PRESERVING,
        };
        put_handle(
            out,
            qpik_gap_sign_result {
                verdict,
                confidence: r.confidence,
                json: r.to_json().to_string(),
            },
        );
        Ok(())
    })
}

/// Free a gap-sign result; NULL is a no-op. No other call may be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_gap_sign_result_free(r: *mut qpik_gap_sign_result) {
    unsafe { free_handle(r) }
}

/// The verdict and its confidence (`erf(sigma / sqrt 2)`, 0 when undecided); either output
/// pointer may be NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_gap_sign_result_verdict(
    r: *const qpik_gap_sign_result,
    verdict: *mut qpik_gap_verdict,
    confidence: *mut f64,
) -> qpik_status {
    guard("qpik_gap_sign_result_verdict", || unsafe {
        let r = handle(r, "r")?;
        if !verdict.is_null() {
            *verdict = r.verdict;
        }
        if !confidence.is_null() {
            *confidence = r.confidence;
        }
        Ok(())
    })
}

/// The analysis as one JSON object (verdict, confidence, reason, `rho^-(E)` per energy and
/// shell with standard errors, the model comparison, the model-free reading), `buf, buf_len,
/// needed` convention. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_gap_sign_result_json(
    r: *const qpik_gap_sign_result,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_gap_sign_result_json", || unsafe {
        let r = handle(r, "r")?;
        write_string(&r.json, buf, buf_len, needed)
    })
}
