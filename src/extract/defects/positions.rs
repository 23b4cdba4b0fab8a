//! Defect positions given by the user: a mask, or a list in a text or `.npy` file.

use crate::{Error, Result};
use ndarray::ArrayView2;
use std::path::Path;

/// Largest positions file [`read_positions`] reads: 64 MiB (millions of positions).
pub const MAX_POSITIONS_FILE_BYTES: u64 = 64 << 20;

/// Mask values above this are defects.
pub const MASK_THRESHOLD: f64 = 0.5;

/// One position per defect pixel of a mask, `(row, col)` in pixels (pixel centres at
/// integers), in raster order.
///
/// Policy: a value above 0.5 marks a defect, anything else (0, negative values, small
/// weights) is background, so 0/1 masks (`u8`, `f32`, ...) and soft masks both work. NaN or
/// infinite values are an error, as is a mask without any defect.
/// Works for any element type convertible to `f64`: `u8`, `f32`, `f64`, ...
pub fn positions_from_mask<T: Copy + Into<f64>>(mask: ArrayView2<T>) -> Result<Vec<[f64; 2]>> {
    let (h, w) = mask.dim();
    if h == 0 || w == 0 {
        return Err(Error::invalid(format!(
            "the defect mask is empty ({h} x {w}): it must have the map's shape"
        )));
    }
    let mut out = Vec::new();
    for ((i, j), &v) in mask.indexed_iter() {
        let v: f64 = v.into();
        if !v.is_finite() {
            return Err(Error::invalid(format!(
                "the defect mask holds {v} at (row {i}, col {j}): use 1 for a defect and 0 \
                 elsewhere"
            )));
        }
        if v > MASK_THRESHOLD {
            out.push([i as f64, j as f64]);
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "the defect mask marks no defect (no value above 0.5): mark each defect with 1",
        ));
    }
    if out.len() == h * w {
        return Err(Error::invalid(format!(
            "the defect mask marks every one of the {h} x {w} pixels as a defect: mark one pixel per defect (above 0.5), 0 elsewhere"
        )));
    }
    Ok(out)
}

/// Read defect positions `(row, col)` in pixels (pixel centres at integers, subpixel allowed)
/// from a file:
/// - a `.npy` array of shape `[N, 2]` (float32, float64 or uint8; recognised by its magic
///   bytes, whatever the file's extension), or
/// - text: one position per line, `row, col` separated by a comma, semicolon, tab or spaces;
///   an optional header line of non-numbers (e.g. `row,col`); `#` starts a comment; blank
///   lines are skipped.
///
/// The file must be a regular file of at most [`MAX_POSITIONS_FILE_BYTES`]. Errors name the
/// file and, for text, the line. Values must be finite; whether they lie inside the map is for
/// the caller to check (this reader does not know the map).
pub fn read_positions(path: &Path) -> Result<Vec<[f64; 2]>> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(&name, e))?;
    if !meta.is_file() {
        return Err(Error::format(
            &name,
            "not a regular file: give a CSV/text list of row, col positions or a .npy array",
        ));
    }
    if meta.len() > MAX_POSITIONS_FILE_BYTES {
        return Err(Error::format(
            &name,
            format!(
                "{} bytes is more than the {MAX_POSITIONS_FILE_BYTES}-byte limit for a positions file",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    if bytes.starts_with(b"\x93NUMPY") {
        return positions_from_npy(path, &name);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::format(
            &name,
            format!(
                "not UTF-8 text (byte {}) and not a .npy file: give row, col lines or an [N, 2] .npy",
                e.valid_up_to()
            ),
        )
    })?;
    parse_positions(text, &name)
}

fn positions_from_npy(path: &Path, name: &str) -> Result<Vec<[f64; 2]>> {
    let a = crate::data::npy::read_f32(path)?;
    if a.ncols() != 2 {
        return Err(Error::format(
            name,
            format!(
                "a positions array must have shape [N, 2] (row, col per defect); this one is {:?}",
                a.dim()
            ),
        ));
    }
    let mut out = Vec::with_capacity(a.nrows());
    for (k, r) in a.rows().into_iter().enumerate() {
        if !(r[0].is_finite() && r[1].is_finite()) {
            return Err(Error::format(
                name,
                format!(
                    "position {k} is ({}, {}): positions must be finite",
                    r[0], r[1]
                ),
            ));
        }
        out.push([r[0] as f64, r[1] as f64]);
    }
    if out.is_empty() {
        return Err(Error::format(
            name,
            "the array holds no positions (shape [0, 2])",
        ));
    }
    Ok(out)
}

/// Parse the text format of [`read_positions`]; `name` is used in errors.
pub fn parse_positions(text: &str, name: &str) -> Result<Vec<[f64; 2]>> {
    let mut out = Vec::new();
    let mut header_allowed = true;
    for (k, line) in text.lines().enumerate() {
        let line_no = k + 1;
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        let numbers: Vec<Option<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        if header_allowed && numbers.iter().all(Option::is_none) {
            header_allowed = false; // a header line such as `row,col`
            continue;
        }
        header_allowed = false;
        let bad = |what: String| Error::format(name, format!("line {line_no}: {what}"));
        if fields.len() != 2 {
            return Err(bad(format!(
                "expected 2 values (row, col), found {} in '{content}'",
                fields.len()
            )));
        }
        let (Some(r), Some(c)) = (numbers[0], numbers[1]) else {
            return Err(bad(format!("'{content}' is not two numbers (row, col)")));
        };
        if !(r.is_finite() && c.is_finite()) {
            return Err(bad(format!("position ({r}, {c}) is not finite")));
        }
        out.push([r, c]);
    }
    if out.is_empty() {
        return Err(Error::format(
            name,
            "no positions found: expected lines of 'row, col' in pixels",
        ));
    }
    Ok(out)
}

/// Write positions as the text format of [`read_positions`]: a `row,col` header, then one
/// position per line with every digit needed to read back the same `f64`. Written atomically
/// ([`OutputFile`](crate::data::output_file::OutputFile)).
pub fn write_positions(path: &Path, positions: &[[f64; 2]]) -> Result<()> {
    let mut text = String::from("row,col\n");
    for p in positions {
        text.push_str(&format!("{:?},{:?}\n", p[0], p[1]));
    }
    let mut out = crate::data::output_file::OutputFile::create(path)?;
    std::io::Write::write_all(out.file(), text.as_bytes())
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A temporary directory removed on drop.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let d =
                std::env::temp_dir().join(format!("qpik-positions-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A `.npy` file of f32 written byte by byte from the format's specification.
    fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape_txt = if dims.len() == 1 {
            format!("({},)", dims[0])
        } else {
            format!("({})", dims.join(", "))
        };
        let mut header =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        for v in data {
            b.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn masks_give_their_defect_pixels_under_the_stated_policy() {
        let mut m = Array2::<u8>::zeros((5, 7));
        m[[1, 2]] = 1;
        m[[4, 6]] = 255;
        assert_eq!(
            positions_from_mask(m.view()).unwrap(),
            vec![[1.0, 2.0], [4.0, 6.0]]
        );
        let mut f = Array2::<f32>::zeros((5, 7));
        f[[0, 0]] = 0.5; // not above 0.5: background
        f[[2, 3]] = 0.51;
        f[[3, 1]] = -4.0;
        assert_eq!(positions_from_mask(f.view()).unwrap(), vec![[2.0, 3.0]]);
        f[[1, 1]] = f32::NAN;
        let e = positions_from_mask(f.view()).unwrap_err().to_string();
        assert!(e.contains("row 1, col 1"), "{e}");
        assert!(positions_from_mask(Array2::<u8>::zeros((4, 4)).view()).is_err());
        assert!(positions_from_mask(Array2::<f32>::zeros((0, 4)).view()).is_err());
    }

    #[test]
    fn positions_round_trip_through_text_and_npy() {
        let dir = TempDir::new("rt");
        let pos = vec![[1.25, 2.5], [100.0, 0.125], [7.0 / 3.0, 1e-3]];
        let csv = dir.0.join("p.csv");
        write_positions(&csv, &pos).unwrap();
        assert_eq!(read_positions(&csv).unwrap(), pos);
        // Whitespace, semicolons, comments, blank lines and a CRLF header.
        let txt = dir.0.join("p.txt");
        std::fs::write(
            &txt,
            "# from my script\r\ny x\r\n\r\n1.25 2.5  # first\n100;0.125\n",
        )
        .unwrap();
        assert_eq!(read_positions(&txt).unwrap(), pos[..2].to_vec());
        let npy = dir.0.join("p.npy");
        let flat: Vec<f32> = pos
            .iter()
            .flat_map(|p| [p[0] as f32, p[1] as f32])
            .collect();
        write_npy(&npy, &[3, 2], &flat);
        let back = read_positions(&npy).unwrap();
        for (a, b) in back.iter().zip(&pos) {
            assert!((a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_position_files_are_refused_with_the_line() {
        let dir = TempDir::new("bad");
        let err = |name: &str, content: &[u8]| {
            let p = dir.0.join(name);
            std::fs::write(&p, content).unwrap();
            read_positions(&p).unwrap_err().to_string()
        };
        assert!(err("empty.csv", b"").contains("no positions"));
        assert!(err("hdr.csv", b"row,col\n# nothing\n").contains("no positions"));
        let e = err("three.csv", b"row,col\n1,2\n3,4,5\n");
        assert!(e.contains("line 3") && e.contains("found 3"), "{e}");
        let e = err("word.csv", b"1,2\n3,abc\n");
        assert!(e.contains("line 2"), "{e}");
        // A second non-numeric line is not a header.
        assert!(err("two-headers.csv", b"row,col\ny,x\n1,2\n").contains("line 2"));
        assert!(err("nan.csv", b"1,nan\n").contains("not finite"));
        assert!(err("bin.csv", &[0xff, 0xfe, 0x00, 0x01]).contains("not UTF-8"));
        // A directory, and a path that does not exist.
        assert!(
            read_positions(&dir.0)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        assert!(read_positions(&dir.0.join("missing.csv")).is_err());
        // .npy of the wrong shape or with NaN.
        let npy = dir.0.join("wide.npy");
        write_npy(&npy, &[2, 3], &[0.0; 6]);
        assert!(
            read_positions(&npy)
                .unwrap_err()
                .to_string()
                .contains("[N, 2]")
        );
        write_npy(&npy, &[1, 2], &[f32::NAN, 1.0]);
        assert!(
            read_positions(&npy)
                .unwrap_err()
                .to_string()
                .contains("finite")
        );
        write_npy(&npy, &[4], &[0.0; 4]);
        assert!(read_positions(&npy).is_err());
    }
}
