//! Minimal NumPy `.npy` reading (2D float32/float64/uint8, little-endian, C or Fortran order).

use crate::{Error, Result};
use ndarray::Array2;
use std::path::Path;

/// Read a 2D `.npy` array as f32 (row-major; Fortran-ordered files are transposed correctly).
pub fn read_f32(path: &Path) -> Result<Array2<f32>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY".as_slice() {
        return Err(Error::format(
            &name,
            "not a .npy file (missing the \\x93NUMPY magic)",
        ));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(Error::format(
                &name,
                format!("unsupported .npy version {v}"),
            ));
        }
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + hlen)
            .ok_or_else(|| Error::format(&name, "truncated header"))?,
    )
    .map_err(|_| Error::format(&name, "header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = &header[i + key.len() + 2..];
        Some(rest[rest.find(':')? + 1..].trim_start())
    };
    let descr = field("descr")
        .and_then(|d| d.split('\'').nth(1))
        .ok_or_else(|| Error::format(&name, "header lacks 'descr'"))?;
    let fortran = field("fortran_order").is_some_and(|f| f.starts_with("True"));
    let shape_txt = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| Error::format(&name, "header lacks 'shape'"))?;
    let dims: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::format(&name, format!("bad shape ({shape_txt})")))?;
    if dims.len() != 2 {
        return Err(Error::format(
            &name,
            format!("expected a 2D image, found shape {dims:?}"),
        ));
    }
    let n = dims[0] * dims[1];
    let data = &bytes[start + hlen..];
    let values: Vec<f32> = match descr {
        "<f4" => data
            .chunks_exact(4)
            .take(n)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        "<f8" => data
            .chunks_exact(8)
            .take(n)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        "|u1" | "|b1" => data.iter().take(n).map(|&b| b as f32).collect(),
        d => {
            return Err(Error::format(
                &name,
                format!("dtype {d} is not supported (use float32, float64 or uint8)"),
            ));
        }
    };
    if values.len() != n {
        return Err(Error::format(
            &name,
            format!("data is truncated: {} of {n} values", values.len()),
        ));
    }
    let a = if fortran {
        Array2::from_shape_vec((dims[1], dims[0]), values)
            .map(|a| a.reversed_axes().as_standard_layout().to_owned())
    } else {
        Array2::from_shape_vec((dims[0], dims[1]), values)
    };
    a.map_err(|e| Error::format(&name, e.to_string()))
}
