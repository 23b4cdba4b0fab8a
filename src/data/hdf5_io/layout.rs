//! Layout constants of the qpik dataset file (chunk size, deflate level, the HDF5 signature,
//! element types of the datasets) and the helpers that name a file and a libhdf5 error in
//! messages.

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};

use crate::Error;

/// Uncompressed size aimed at for one chunk of a per-observation dataset.
pub const CHUNK_TARGET_BYTES: usize = 512 * 1024;
/// Deflate level of every compressed dataset (1: fast; the data are mostly noise anyway).
pub const DEFLATE_LEVEL: u8 = 1;

/// HDF5 file signature (at offset 0 when the file has no user block).
pub(super) const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

pub(super) fn show(path: &Path) -> String {
    path.display().to_string()
}

pub(super) fn h5_error(path: &Path, what: &str, e: hdf5::Error) -> Error {
    Error::Hdf5 {
        path: show(path),
        message: format!("{what}: {e}"),
    }
}

/// An error of libhdf5 while *writing* `path`: an I/O error (a full disk, a quota, a folder
/// that went away), with libhdf5's own stack cut to its first line, since its later lines
/// ("bytes actually written = 18446744073709551615") say nothing a user can act on.
pub(super) fn h5_write_error(path: &Path, what: &str, e: hdf5::Error) -> Error {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let mut first = first.to_string();
    if first.len() > 200 {
        let mut end = 200;
        while !first.is_char_boundary(end) {
            end -= 1;
        }
        first.truncate(end);
        first.push_str("...");
    }
    Error::io(
        show(path),
        std::io::Error::other(format!(
            "{what}: the write failed (is the disk full, or the folder not writable?); libhdf5 said: {first}"
        )),
    )
}

/// Rows per chunk for rows of `row_bytes`, at most `n_rows`.
pub(super) fn chunk_rows(row_bytes: usize, n_rows: usize) -> usize {
    (CHUNK_TARGET_BYTES / row_bytes.max(1)).clamp(1, n_rows.max(1))
}

/// Short type names used in messages ("u8", "f32", "string").
pub(super) fn type_name(t: &TypeDescriptor) -> String {
    let bits = |s: &IntSize| 8 * *s as usize;
    match t {
        TypeDescriptor::Unsigned(s) => format!("u{}", bits(s)),
        TypeDescriptor::Integer(s) => format!("i{}", bits(s)),
        TypeDescriptor::Float(FloatSize::U4) => "f32".into(),
        TypeDescriptor::Float(FloatSize::U8) => "f64".into(),
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => "string".into(),
        other => other.to_string(),
    }
}

pub(super) const F32: TypeDescriptor = TypeDescriptor::Float(FloatSize::U4);
pub(super) const F64: TypeDescriptor = TypeDescriptor::Float(FloatSize::U8);
pub(super) const U8: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U1);
pub(super) const U32: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U4);
pub(super) const U64: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U8);
