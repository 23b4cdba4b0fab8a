//! One error type for the whole crate: every variant says what to fix.

use std::fmt;

/// Everything that can go wrong in qpik, in words a user can act on.
#[derive(Debug)]
pub enum Error {
    /// A parameter or input array is out of range or inconsistent.
    InvalidInput(String),
    /// A file could not be read or written.
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A file was read but is not what qpik expects (foreign, truncated, wrong schema).
    Format { path: String, message: String },
    /// The HDF5 library reported an error.
    Hdf5 { path: String, message: String },
    /// Something this build or machine lacks (an embedded model).
    Unavailable(String),
    /// Long work was stopped on request (a progress receiver asked to cancel).
    Cancelled,
    /// The request needs more memory than the budget allows (the message names the size and
    /// the budget; see [`crate::budget`]), or than the device has (a GPU out of memory).
    OverBudget(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The message without the kind's "invalid input: " prefix, for a boundary that puts
    /// its own context (an option or flag name) in front.
    pub fn message(&self) -> String {
        match self {
            Error::InvalidInput(m) => m.clone(),
            other => other.to_string(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl Error {
    /// A Candle error by its cause, `context` naming the work ("training", "model"):
    /// - the device out of memory (CUDA's `CUDA_ERROR_OUT_OF_MEMORY`) -> [`Error::OverBudget`];
    /// - reading or writing a file -> [`Error::Io`] (on the file's path where Candle names
    ///   it, else on `context`);
    /// - tensors in a file that are not what was asked for -> [`Error::Format`];
    /// - a GPU that fails, or a backend this build lacks -> [`Error::Unavailable`];
    /// - shapes, dtypes and the rest -> [`Error::InvalidInput`].
    pub fn from_candle(context: &str, e: candle_core::Error) -> Error {
        Self::candle_cause(context, None, e)
    }

    fn candle_cause(context: &str, path: Option<String>, e: candle_core::Error) -> Error {
        use candle_core::Error as C;
        let text = e.to_string();
        if is_out_of_memory(&text) {
            return Error::OverBudget(format!(
                "{context}: the device ran out of memory ({text}); use a smaller batch or \
                 image, or the CPU"
            ));
        }
        let place = || path.clone().unwrap_or_else(|| context.to_string());
        match e {
            C::Context { inner, .. } | C::WithBacktrace { inner, .. } => {
                Self::candle_cause(context, path, *inner)
            }
            C::WithPath { inner, path } => {
                Self::candle_cause(context, Some(path.display().to_string()), *inner)
            }
            C::Io(source) => Error::Io {
                path: place(),
                source,
            },
            C::SafeTensor(_)
            | C::UnsupportedSafeTensorDtype(_)
            | C::CannotFindTensor { .. }
            | C::Npy(_)
            | C::Zip(_) => Error::format(place(), format!("{context}: {text}")),
            C::Cuda(_)
            | C::Metal(_)
            | C::NotCompiledWithCudaSupport
            | C::NotCompiledWithMetalSupport => Error::Unavailable(format!("{context}: {text}")),
            _ => Error::invalid(format!("{context}: {text}")),
        }
    }
}

/// Whether a device error's text says it ran out of memory (CUDA's driver:
/// `CUDA_ERROR_OUT_OF_MEMORY`, "out of memory"; cuBLAS: `CUBLAS_STATUS_ALLOC_FAILED`).
fn is_out_of_memory(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("out_of_memory") || t.contains("out of memory") || t.contains("alloc_failed")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Format { path, message } => write!(f, "{path}: {message}"),
            Error::Hdf5 { path, message } => write!(f, "{path}: HDF5 error: {message}"),
            Error::Unavailable(m) => write!(f, "{m}"),
            Error::Cancelled => write!(f, "cancelled on request"),
            Error::OverBudget(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A number for a message: plain when moderate (`0.001`, `250`), in exponent form when very
/// large or small (`1e30`, `1e-320`), so that an absurd value never spells out hundreds of
/// digits; always exact (the shortest text that reads back as `v`).
pub fn show_number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e7).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod show_number_tests {
    #[test]
    fn moderate_numbers_plain_extremes_in_exponent_form() {
        for (v, want) in [
            (0.001, "0.001"),
            (250.0, "250"),
            (-3.5, "-3.5"),
            (1e30, "1e30"),
            (-1e308, "-1e308"),
            (1e-320, "1e-320"),
            (0.0, "0"),
        ] {
            let got = super::show_number(v);
            assert_eq!(got, want);
            assert_eq!(got.parse::<f64>().ok(), Some(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn candle_errors_are_mapped_by_cause() {
        // A real shape error: invalid input, with the context.
        let a = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let e = a.matmul(&a).unwrap_err();
        match Error::from_candle("training", e) {
            Error::InvalidInput(m) => assert!(m.starts_with("training: "), "{m}"),
            other => panic!("{other:?}"),
        }
        // A real missing file: I/O, on the context (Candle does not name the file here) or,
        // where Candle names it, on the file's path.
        let missing = std::env::temp_dir().join("qpik-no-such-dir/weights.safetensors");
        let e = candle_core::safetensors::load(&missing, &Device::Cpu).unwrap_err();
        match Error::from_candle("model", e) {
            Error::Io { path, source } => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
                assert_eq!(path, "model");
            }
            other => panic!("{other:?}"),
        }
        let named = candle_core::Error::from(std::fs::File::open(&missing).unwrap_err())
            .with_path(&missing)
            .context("loading");
        match Error::from_candle("model", named) {
            Error::Io { path, .. } => assert!(path.contains("qpik-no-such-dir"), "{path}"),
            other => panic!("{other:?}"),
        }
        // Real damaged tensor bytes: a format error.
        let e = candle_core::safetensors::load_buffer(b"not tensors", &Device::Cpu).unwrap_err();
        assert!(matches!(
            Error::from_candle("model", e),
            Error::Format { .. }
        ));
        // A backend this build lacks: unavailable (a CUDA build on a GPU machine opens it).
        if let Err(e) = Device::new_cuda(0) {
            let mapped = Error::from_candle("model", e);
            assert!(
                matches!(mapped, Error::Unavailable(_) | Error::OverBudget(_)),
                "{mapped:?}"
            );
        }
        // CUDA out of memory, as cudarc 0.19 words it (no GPU here to run out): over budget,
        // also under a context, and so QPIK_ERR_MEMORY_BUDGET at the C boundary.
        for text in [
            "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")",
            "cublas error: CUBLAS_STATUS_ALLOC_FAILED",
        ] {
            let e = candle_core::Error::Cuda(Box::new(std::io::Error::other(text)))
                .context("allocating the batch");
            match Error::from_candle("training", e) {
                Error::OverBudget(m) => assert!(m.contains(text), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        // Another CUDA failure is the device's, not the caller's input.
        let e = candle_core::Error::Cuda(Box::new(std::io::Error::other(
            "DriverError(CUDA_ERROR_LAUNCH_FAILED, \"unspecified launch failure\")",
        )));
        assert!(matches!(
            Error::from_candle("model", e),
            Error::Unavailable(_)
        ));
    }
}
