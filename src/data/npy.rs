//! NumPy `.npy` files: 2-D images and 3-D stacks in, float32 out.
//!
//! # Layout
//! The magic `\x93NUMPY`, a version (1.0: header length as u16, 2.0/3.0: u32, little endian),
//! a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (H, W), }` padded
//! with spaces to a multiple of 64 bytes and ended by `\n`, then the raw elements.
//!
//! # Conventions
//! - Arrays come back row-major (C order) as qpik uses them: an `[H, W]` image has row 0 first;
//!   `[E, H, W]` is a stack of E images. A `fortran_order: True` file (what MATLAB and Igor
//!   users' writers often produce) holds the same logical array with the first index varying
//!   fastest; it is read to the same logical array.
//! - Element types: float32/64, int8/16/32/64, uint8/16/32/64, bool, either byte order; all
//!   are converted to f32 (int64 and float64 values round to the nearest f32).

use std::io::Write;
use std::path::Path;

use ndarray::{Array2, Array3, ArrayD, ArrayViewD, IxDyn};

use crate::{Error, Result};

/// Largest `.npy` file read (bytes).
pub const MAX_NPY_BYTES: u64 = 8 << 30;
/// Largest header accepted (numpy writes a few hundred bytes).
pub const MAX_HEADER_LEN: usize = 1 << 20;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a 2-D `.npy` array as f32 `[H, W]`.
pub fn read_f32(path: &Path) -> Result<Array2<f32>> {
    let a = read_f32_nd(path)?;
    let name = path.display().to_string();
    let shape = a.shape().to_vec();
    a.into_dimensionality()
        .map_err(|_| Error::format(name, format!("expected a 2-D image, found shape {shape:?}")))
}

/// Reads a 2-D `[H, W]` or 3-D `[E, H, W]` `.npy` array as f32 (a regular file of at most
/// [`MAX_NPY_BYTES`]).
pub fn read_f32_nd(path: &Path) -> Result<ArrayD<f32>> {
    let bytes = super::checked_read::read_regular_file(path, MAX_NPY_BYTES, ".npy file")?;
    parse_npy(&bytes, &path.display().to_string())
}

/// Reads a `.npy` image or stack as `[E, H, W]` (a 2-D array gives E = 1).
pub fn read_stack_f32(path: &Path) -> Result<Array3<f32>> {
    Ok(as_stack(read_f32_nd(path)?))
}

/// `[H, W]` -> `[1, H, W]`; a 3-D array as it is. `a` has 2 or 3 axes ([`parse_npy`]'s output).
pub fn as_stack(a: ArrayD<f32>) -> Array3<f32> {
    let a = if a.ndim() == 2 {
        a.insert_axis(ndarray::Axis(0))
    } else {
        a
    };
    a.into_dimensionality()
        .expect("parse_npy returns 2 or 3 axes")
}

/// Element type of a `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Dtype {
    /// `b'f'`, `b'i'`, `b'u'` or `b'b'`.
    kind: u8,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Self> {
        let b = descr.as_bytes();
        if b.len() < 3 || !descr.is_ascii() {
            return None;
        }
        let big_endian = match b[0] {
            b'<' | b'=' | b'|' => false,
            b'>' => true,
            _ => return None,
        };
        let size: usize = descr[2..].parse().ok()?;
        let ok = match b[1] {
            b'f' => matches!(size, 4 | 8),
            b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
            b'b' => size == 1,
            _ => false,
        };
        ok.then_some(Dtype {
            kind: b[1],
            size,
            big_endian,
        })
    }

    fn value(self, b: &[u8]) -> f32 {
        let mut w = [0u8; 8];
        w[..self.size].copy_from_slice(b);
        if self.big_endian {
            w[..self.size].reverse();
        }
        // Little-endian from here on.
        match (self.kind, self.size) {
            (b'f', 4) => f32::from_le_bytes([w[0], w[1], w[2], w[3]]),
            (b'f', _) => f64::from_le_bytes(w) as f32,
            (b'i', 1) => f32::from(w[0] as i8),
            (b'i', 2) => f32::from(i16::from_le_bytes([w[0], w[1]])),
            (b'i', 4) => i32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f32,
            (b'i', _) => i64::from_le_bytes(w) as f32,
            (b'u', 1) | (b'b', _) => f32::from(w[0]),
            (b'u', 2) => f32::from(u16::from_le_bytes([w[0], w[1]])),
            (b'u', 4) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f32,
            _ => u64::from_le_bytes(w) as f32,
        }
    }
}

/// Parses the bytes of a 2-D or 3-D `.npy` file; `name` is used in error messages.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<ArrayD<f32>> {
    let err = |m: String| Error::format(name, m);
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(err("not a .npy file (missing the \\x93NUMPY magic)".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(err(format!("unsupported .npy version {v}"))),
    };
    if hlen > MAX_HEADER_LEN {
        return Err(err(format!(
            "the header claims {hlen} bytes; qpik reads headers of at most {MAX_HEADER_LEN}"
        )));
    }
    let header = bytes
        .get(start..start + hlen)
        .ok_or_else(|| err(format!("truncated header ({hlen} bytes announced)")))?;
    let header = std::str::from_utf8(header).map_err(|_| err("the header is not text".into()))?;
    let field = |key: &str| -> Result<&str> {
        let i = header
            .find(&format!("'{key}'"))
            .ok_or_else(|| err(format!("the header lacks '{key}': {header:?}")))?;
        let rest = &header[i + key.len() + 2..];
        let colon = rest
            .find(':')
            .ok_or_else(|| err(format!("the header's '{key}' has no value")))?;
        Ok(rest[colon + 1..].trim_start())
    };
    let descr = field("descr")?;
    let dtype = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .and_then(|d| Dtype::parse(d).map(|t| (d, t)));
    let Some((_, dtype)) = dtype else {
        return Err(err(format!(
            "dtype {} is not supported (use float32/64, (u)int8/16/32/64 or bool)",
            descr.split([',', '}']).next().unwrap_or(descr).trim()
        )));
    };
    let fortran = match field("fortran_order")? {
        f if f.starts_with("True") => true,
        f if f.starts_with("False") => false,
        f => {
            return Err(err(format!(
                "'fortran_order' is {:?}; expected True or False",
                f.split([',', '}']).next().unwrap_or(f)
            )));
        }
    };
    let shape_txt = field("shape")?
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| err("the header's 'shape' is not a tuple".into()))?;
    let dims: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| err(format!("bad shape ({shape_txt})")))?;
    if !(2..=3).contains(&dims.len()) {
        return Err(err(format!(
            "expected a 2-D image [H, W] or a 3-D stack [E, H, W], found shape {dims:?}"
        )));
    }
    if dims.contains(&0) {
        return Err(err(format!("the array is empty (shape {dims:?})")));
    }
    let data = &bytes[start + hlen..];
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let need = n.and_then(|n| n.checked_mul(dtype.size));
    let (Some(n), Some(need)) = (n, need) else {
        return Err(err(format!("shape {dims:?} is too large")));
    };
    if data.len() != need {
        return Err(err(format!(
            "the data are {} bytes, but shape {dims:?} of {}-byte elements needs {need} \
             (truncated or damaged file?)",
            data.len(),
            dtype.size
        )));
    }
    let values: Vec<f32> = data
        .chunks_exact(dtype.size)
        .map(|b| dtype.value(b))
        .collect();
    debug_assert_eq!(values.len(), n);
    let a = if fortran {
        // First index fastest: the C-order array of the reversed shape, transposed.
        let rev: Vec<usize> = dims.iter().rev().copied().collect();
        ArrayD::from_shape_vec(IxDyn(&rev), values)
            .map(|a| a.reversed_axes().as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(IxDyn(&dims), values)
    };
    a.map_err(|e| err(e.to_string()))
}

/// Writes a 2-D or 3-D float32 array as a version 1.0 `.npy` file (little endian), in C order
/// or, with `fortran_order`, first index fastest (the same logical array either way).
/// Atomic: written to a temporary file in the target folder, then renamed over `path`.
pub fn write_npy_f32(path: &Path, array: ArrayViewD<'_, f32>, fortran_order: bool) -> Result<()> {
    let name = path.display().to_string();
    if !(2..=3).contains(&array.ndim()) {
        return Err(Error::invalid(format!(
            "{name}: write_npy_f32 writes 2-D or 3-D arrays, got shape {:?}",
            array.shape()
        )));
    }
    let shape = array
        .shape()
        .iter()
        .map(|d| format!("{d}, "))
        .collect::<String>();
    let shape = shape.trim_end_matches(' ').trim_end_matches(',');
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': {}, 'shape': ({shape}), }}",
        if fortran_order { "True" } else { "False" }
    );
    // Magic, version, length and header (ending in '\n') fill a multiple of 64 bytes.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * array.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    let hlen = u16::try_from(header.len()).expect("a short header");
    bytes.extend_from_slice(&hlen.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    let ordered = if fortran_order {
        array.reversed_axes()
    } else {
        array
    };
    for v in ordered.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }

    // A device or folder is refused (a rename would have replaced /dev/full itself).
    let mut out = crate::data::output_file::OutputFile::create(path)?;
    out.file()
        .write_all(&bytes)
        .map_err(|e| Error::io(&name, e))?;
    out.commit()
}

#[cfg(test)]
#[path = "npy_tests.rs"]
mod tests;
