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
    /// the budget; see [`crate::budget`]).
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

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
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
