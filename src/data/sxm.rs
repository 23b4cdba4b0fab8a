//! Nanonis `.sxm` scan files (the format of Nanonis SPM controllers' topography and dI/dV maps).
//!
//! # Layout
//! A text header of `:KEY:` lines, each followed by its value lines, ends with `:SCANIT_END:`;
//! the data start after the two bytes `0x1A 0x04`. `:DATA_INFO:` is a tab-separated table
//! of channels (`Channel Name Unit Direction Calibration Offset`); the data are, channel by
//! channel in that order, the forward image and, for `both`, the backward image, each
//! `lines x pixels` 32-bit floats (`:SCANIT_TYPE:` says the byte order, `MSBFIRST` = big
//! endian, `LSBFIRST` = little endian; a header naming neither is refused, and so are data
//! that plainly are in the other order), stored in the order the tip moved. Pixels the scan
//! did not reach are NaN. The header is Latin-1 (the degree sign is 0xB0); blocks such as
//! `:Multipass-Config:` are kept as fields like any other.
//!
//! # Conventions of [`SxmFile`]
//! - Images are `[row, col]` as the rest of qpik: row 0 at the top of the scan frame, columns
//!   left to right, whatever the scan direction. So a backward image is mirrored left-right
//!   and a scan that went up is mirrored top-bottom, as Nanonis' own viewer shows them.
//! - Lengths in metres as in the file (`range_m`, `offset_m`).
//! - `angle_deg` is `:SCAN_ANGLE:`, degrees, in Nanonis' sense: a positive angle turns the
//!   scan frame clockwise about its centre (sample `x` right, `y` up), the same convention as
//!   the `.3ds` reader's; [`SxmFile::sample_position_m`] applies it. qpik reports the angle
//!   and does not undo it: images, defect positions and extracted kernels stay in the scan
//!   frame. The same number is qpik's simulation `rotation_deg` (README, "Conventions").
//! - Values in the channel's unit (`m`, `A`, ...), unscaled.

use std::path::Path;

use ndarray::Array2;

use crate::{Error, Result};

/// Which way the tip moved along a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
        }
    }
}

/// One image of a scan: a channel in one direction.
#[derive(Clone, Debug)]
pub struct SxmImage {
    /// Channel name as in `:DATA_INFO:` (`Z`, `Current`, `LIY_1_omega`, ...).
    pub name: String,
    /// Unit of the values (`m`, `A`, `V`, ...).
    pub unit: String,
    pub direction: Direction,
    /// `[row, col]`, row 0 at the top of the scan frame; NaN where the scan did not reach.
    pub data: Array2<f32>,
}

/// A Nanonis scan: the images and the header fields qpik uses (all fields in `header`).
#[derive(Clone, Debug)]
pub struct SxmFile {
    /// `(rows, cols)` of every image.
    pub shape: (usize, usize),
    /// Scan frame size `(width, height)` in metres.
    pub range_m: (f64, f64),
    /// Scan frame centre `(x, y)` in metres.
    pub offset_m: (f64, f64),
    /// Scan frame rotation in degrees, clockwise (Nanonis' `:SCAN_ANGLE:`; see the module doc).
    pub angle_deg: f64,
    /// Whether the scan went up (first line at the bottom) rather than down.
    pub scanned_up: bool,
    /// Sample bias in volts (`:BIAS:`), if given.
    pub bias_v: Option<f64>,
    /// Every header field, in file order: key without colons, value lines joined by `\n`.
    pub header: Vec<(String, String)>,
    pub images: Vec<SxmImage>,
}

impl SxmFile {
    /// Pixel size `(x, y)` in metres.
    pub fn pixel_size_m(&self) -> (f64, f64) {
        (
            self.range_m.0 / self.shape.1 as f64,
            self.range_m.1 / self.shape.0 as f64,
        )
    }

    /// Sample position `(x, y)` in metres (the scanner's coordinates, `y` up) of the centre of
    /// pixel `(row, col)` (row 0 at the top of the frame): frame coordinates
    /// `u = (col + 1/2 - cols/2) px`, `v = (rows/2 - row - 1/2) py` turned clockwise by
    /// `angle_deg` about the frame centre `offset_m`:
    /// `offset + (u cos a + v sin a, -u sin a + v cos a)`.
    pub fn sample_position_m(&self, row: f64, col: f64) -> (f64, f64) {
        let (px, py) = self.pixel_size_m();
        let (rows, cols) = (self.shape.0 as f64, self.shape.1 as f64);
        let u = (col + 0.5 - cols / 2.0) * px;
        let v = (rows / 2.0 - row - 0.5) * py;
        let (sin, cos) = self.angle_deg.to_radians().sin_cos();
        (
            self.offset_m.0 + u * cos + v * sin,
            self.offset_m.1 - u * sin + v * cos,
        )
    }

    /// The pixel `(row, col)` (fractional; pixel centres at whole numbers) at sample position
    /// `(x, y)` in metres: the inverse of [`SxmFile::sample_position_m`], for placing a point
    /// spectrum's `X (m)`, `Y (m)` on the scan. Outside the frame when a coordinate is below
    /// -0.5 or above the size less 0.5.
    pub fn pixel_at_m(&self, x: f64, y: f64) -> (f64, f64) {
        let (px, py) = self.pixel_size_m();
        let (rows, cols) = (self.shape.0 as f64, self.shape.1 as f64);
        let (dx, dy) = (x - self.offset_m.0, y - self.offset_m.1);
        let (sin, cos) = self.angle_deg.to_radians().sin_cos();
        // Turned back anticlockwise by the angle.
        let (u, v) = (dx * cos - dy * sin, dx * sin + dy * cos);
        (rows / 2.0 - 0.5 - v / py, u / px + cols / 2.0 - 0.5)
    }

    /// The image of channel `name` (case-insensitive; `LIY 1 omega` matches `LIY_1_omega`)
    /// in `direction`.
    pub fn image(&self, name: &str, direction: Direction) -> Option<&SxmImage> {
        let norm = |s: &str| s.to_ascii_lowercase().replace(' ', "_");
        self.images
            .iter()
            .find(|i| i.direction == direction && norm(&i.name) == norm(name))
    }

    /// A header field's value (key without the colons, e.g. `"Lock-in>Amplitude"`).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a `.sxm` file: a regular file of at most [`crate::data::map_file::MAX_SXM_BYTES`]
/// (a FIFO, a device or a larger file is refused before anything is read).
pub fn read_sxm(path: &Path) -> Result<SxmFile> {
    let bytes = crate::data::checked_read::read_regular_file(
        path,
        crate::data::map_file::MAX_SXM_BYTES,
        "Nanonis .sxm file",
    )?;
    parse_sxm(&bytes, &path.display().to_string())
}

/// Whether `bytes` start like a Nanonis scan file.
pub fn looks_like_sxm(bytes: &[u8]) -> bool {
    bytes.starts_with(b":NANONIS_VERSION:")
}

/// Parses the bytes of a `.sxm` file; `name` is used in error messages.
pub fn parse_sxm(bytes: &[u8], name: &str) -> Result<SxmFile> {
    let err = |m: String| Error::format(name, m);
    if !looks_like_sxm(bytes) {
        return Err(err(
            "not a Nanonis .sxm file (it does not start with ':NANONIS_VERSION:')".into(),
        ));
    }
    const END: &[u8] = b":SCANIT_END:";
    let end = find(bytes, END).ok_or_else(|| {
        err("the header has no ':SCANIT_END:' line (truncated or damaged file?)".into())
    })?;
    let marker = find(&bytes[end..], b"\x1a\x04")
        .map(|i| end + i)
        .ok_or_else(|| err("no data marker (0x1A 0x04) after the header".into()))?;
    let data = &bytes[marker + 2..];
    // Latin-1 (Nanonis writes the degree sign as 0xB0): every byte is the char of its number.
    let header = parse_header(
        &bytes[..end]
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>(),
    );
    let field = |key: &str| {
        header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| err(format!("the header has no ':{key}:' field")))
    };
    let numbers = |key: &str, n: usize| -> Result<Vec<f64>> {
        let v = field(key)?;
        let parsed: Option<Vec<f64>> = v.split_whitespace().map(|t| t.parse().ok()).collect();
        match parsed {
            Some(p) if p.len() == n => Ok(p),
            _ => Err(err(format!(
                "':{key}:' is {v:?}, expected {n} number{}",
                if n == 1 { "" } else { "s" }
            ))),
        }
    };
    let kind = field("SCANIT_TYPE")?;
    if !kind.contains("FLOAT") {
        return Err(err(format!(
            "':SCANIT_TYPE:' is {kind:?}; qpik reads FLOAT data"
        )));
    }
    let big_endian = match (kind.contains("MSBFIRST"), kind.contains("LSBFIRST")) {
        (true, false) => true,
        (false, true) => false,
        _ => {
            return Err(err(format!(
                "':SCANIT_TYPE:' is {kind:?}; expected the byte order MSBFIRST or LSBFIRST"
            )));
        }
    };
    let pixels = numbers("SCAN_PIXELS", 2)?;
    let (cols, rows) = (pixels[0], pixels[1]);
    let valid = |v: f64| (1.0..=1e6).contains(&v) && v.fract() == 0.0;
    if !valid(cols) || !valid(rows) {
        return Err(err(format!(
            "':SCAN_PIXELS:' is {cols} x {rows}; expected whole numbers from 1 to 1,000,000"
        )));
    }
    let (rows, cols) = (rows as usize, cols as usize);
    let range = numbers("SCAN_RANGE", 2)?;
    if !range.iter().all(|v| v.is_finite() && *v > 0.0) {
        return Err(err(format!(
            "':SCAN_RANGE:' is {range:?}; expected two positive lengths in metres"
        )));
    }
    let offset = numbers("SCAN_OFFSET", 2).unwrap_or_else(|_| vec![0.0, 0.0]);
    let angle_deg = numbers("SCAN_ANGLE", 1).map_or(0.0, |v| v[0]);
    let scanned_up = field("SCAN_DIR").is_ok_and(|d| d.trim().eq_ignore_ascii_case("up"));
    let bias_v = numbers("BIAS", 1).ok().map(|v| v[0]);

    let channels = parse_data_info(field("DATA_INFO")?).map_err(err)?;
    let n_images: usize = channels.iter().map(|c| c.2.len()).sum();
    let per_image = rows * cols * 4;
    let need = n_images.saturating_mul(per_image);
    if data.len() < need {
        return Err(err(format!(
            "the data are {} bytes, but {n_images} images of {rows} x {cols} need {need} \
             (truncated file?)",
            data.len()
        )));
    }
    check_byte_order(&data[..need], big_endian).map_err(err)?;
    let mut images = Vec::with_capacity(n_images);
    let mut at = 0;
    for (cname, unit, dirs) in channels {
        for direction in dirs {
            let raw = &data[at..at + per_image];
            at += per_image;
            let value = |i: usize| {
                let b: [u8; 4] = raw[4 * i..4 * i + 4].try_into().expect("4 bytes");
                if big_endian {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            };
            let data = Array2::from_shape_fn((rows, cols), |(r, c)| {
                // Stored in the tip's order: undo the mirrors of backward lines and upward scans.
                let sr = if scanned_up { rows - 1 - r } else { r };
                let sc = match direction {
                    Direction::Forward => c,
                    Direction::Backward => cols - 1 - c,
                };
                value(sr * cols + sc)
            });
            images.push(SxmImage {
                name: cname.clone(),
                unit: unit.clone(),
                direction,
                data,
            });
        }
    }
    Ok(SxmFile {
        shape: (rows, cols),
        range_m: (range[0], range[1]),
        offset_m: (offset[0], offset[1]),
        angle_deg,
        scanned_up,
        bias_v,
        header,
        images,
    })
}

/// Refuses data that look written in the other byte order than the header declares: many
/// values absurd (infinite, or nonzero beyond 1e20 or below 1e-30 in size) as declared, and
/// almost none byte-swapped. Measured values in SI units (metres, amperes, volts) are never
/// absurd, while a swapped float takes its exponent from random low mantissa bits (over a
/// third absurd). NaN as declared (pixels the scan did not reach) are not counted.
fn check_byte_order(data: &[u8], big_endian: bool) -> std::result::Result<(), String> {
    let absurd = |v: f32| v.is_infinite() || (v != 0.0 && !(1e-30..=1e20).contains(&v.abs()));
    let (mut n, mut as_declared, mut swapped) = (0usize, 0usize, 0usize);
    // Up to 65,536 values spread over the data.
    let values = data.len() / 4;
    let stride = (values / 65_536).max(1);
    for i in (0..values).step_by(stride) {
        let b: [u8; 4] = data[4 * i..4 * i + 4].try_into().expect("4 bytes");
        let (be, le) = (f32::from_be_bytes(b), f32::from_le_bytes(b));
        let (declared, other) = if big_endian { (be, le) } else { (le, be) };
        if declared.is_nan() {
            continue;
        }
        n += 1;
        as_declared += usize::from(absurd(declared));
        swapped += usize::from(other.is_nan() || absurd(other));
    }
    if n >= 16 && as_declared * 5 > n && swapped * 20 < n {
        let (said, looks) = if big_endian {
            ("MSBFIRST (big-endian)", "little-endian")
        } else {
            ("LSBFIRST (little-endian)", "big-endian")
        };
        return Err(format!(
            "':SCANIT_TYPE:' says {said}, but the data look {looks}: {as_declared} of {n} \
             values sampled are infinite or beyond 1e20 or below 1e-30 in size as declared, \
             {swapped} byte-swapped; the file was rewritten with a wrong header (fix \
             ':SCANIT_TYPE:' or the data)"
        ));
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `:KEY:` lines and the value lines after each; values trimmed of surrounding blank lines.
fn parse_header(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let t = line.trim_end_matches('\r');
        if t.len() >= 2 && t.starts_with(':') && t.ends_with(':') {
            out.push((t[1..t.len() - 1].to_string(), String::new()));
        } else if let Some((_, v)) = out.last_mut() {
            if !v.is_empty() {
                v.push('\n');
            }
            v.push_str(t);
        }
    }
    for (_, v) in &mut out {
        let trimmed = v.trim_matches(|c| c == '\n' || c == ' ');
        *v = trimmed.to_string();
    }
    out
}

/// `(name, unit, directions)` of each channel in `:DATA_INFO:`.
fn parse_data_info(
    text: &str,
) -> std::result::Result<Vec<(String, String, Vec<Direction>)>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let head: Vec<&str> = lines
        .next()
        .ok_or("':DATA_INFO:' is empty")?
        .split('\t')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        head.iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or(format!("':DATA_INFO:' has no '{name}' column"))
    };
    let (name_col, unit_col, dir_col) = (col("Name")?, col("Unit")?, col("Direction")?);
    let mut out = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let cell = |i: usize| {
            cells
                .get(i)
                .copied()
                .ok_or(format!("':DATA_INFO:' row {line:?} has too few columns"))
        };
        let dirs = match cell(dir_col)?.to_ascii_lowercase().as_str() {
            "both" => vec![Direction::Forward, Direction::Backward],
            "forward" => vec![Direction::Forward],
            "backward" => vec![Direction::Backward],
            other => return Err(format!("':DATA_INFO:' direction {other:?} is unknown")),
        };
        out.push((
            cell(name_col)?.to_string(),
            cell(unit_col)?.to_string(),
            dirs,
        ));
    }
    if out.is_empty() {
        return Err("':DATA_INFO:' lists no channels".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fese() -> (Vec<u8>, SxmFile) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/FeSe_topography.sxm");
        let bytes = std::fs::read(&path).unwrap();
        let f = read_sxm(&path).unwrap();
        (bytes, f)
    }

    /// Pearson correlation of two images (pixel by pixel).
    fn pearson(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
        let (a, b): (Vec<f32>, Vec<f32>) =
            (a.iter().copied().collect(), b.iter().copied().collect());
        crate::extract::sample_metrics(&a, &b).pearson
    }

    #[test]
    fn the_fese_scan_frame_is_turned_45_degrees_clockwise() {
        let (_, f) = fese();
        assert_eq!(f.angle_deg, 45.0);
        let (cx, cy) = f.offset_m;
        let (rows, cols) = (f.shape.0 as f64, f.shape.1 as f64);
        // A square frame turned 45 degrees clockwise stands on a corner: its top-left corner
        // straight above the centre, its top-right corner straight to the right, at half a
        // diagonal. (Counter-clockwise would put the top-left corner to the left.)
        let half_diagonal = f.range_m.0 / 2.0 * 2f64.sqrt();
        let tol = 1e-12;
        let (x, y) = f.sample_position_m(-0.5, -0.5);
        assert!(
            (x - cx).abs() < tol && (y - (cy + half_diagonal)).abs() < tol,
            "({x}, {y})"
        );
        let (x, y) = f.sample_position_m(-0.5, cols - 0.5);
        assert!(
            (x - (cx + half_diagonal)).abs() < tol && (y - cy).abs() < tol,
            "({x}, {y})"
        );
        let (x, y) = f.sample_position_m(rows - 0.5, cols - 0.5);
        assert!(
            (x - cx).abs() < tol && (y - (cy - half_diagonal)).abs() < tol,
            "({x}, {y})"
        );
        // The centre of the frame is the offset, whatever the angle.
        let (x, y) = f.sample_position_m(rows / 2.0 - 0.5, cols / 2.0 - 0.5);
        assert!((x - cx).abs() < tol && (y - cy).abs() < tol);
    }

    #[test]
    fn real_fese_scan_header_and_channels() {
        let (_, f) = fese();
        assert_eq!(f.shape, (224, 224));
        assert_eq!(f.range_m, (2e-8, 2e-8));
        assert!((f.pixel_size_m().0 - 2e-8 / 224.0).abs() < 1e-15);
        assert_eq!(f.angle_deg, 45.0);
        assert!(!f.scanned_up);
        assert_eq!(f.bias_v, Some(0.045));
        assert_eq!(f.offset_m, (-3.196416e-7, -1.834589e-7));
        assert_eq!(f.field("Lock-in>Amplitude"), Some("4E-3"));
        let names: Vec<(&str, &str, &str)> = f
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.unit.as_str(), i.direction.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Z", "m", "forward"),
                ("Z", "m", "backward"),
                ("Current", "A", "forward"),
                ("Current", "A", "backward"),
                ("LIY_1_omega", "A", "forward"),
                ("LIY_1_omega", "A", "backward"),
                ("LIY_n_omega", "A", "forward"),
                ("LIY_n_omega", "A", "backward"),
            ]
        );
        assert!(f.image("LIY 1 omega", Direction::Backward).is_some());
        assert!(f.image("nope", Direction::Forward).is_none());
        // Topography in metres: a few Angstrom of corrugation around the controller's Z.
        let z = &f.image("Z", Direction::Forward).unwrap().data;
        assert!(z.iter().all(|v| v.is_finite()));
        let (lo, hi) = z
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(
            lo > -3e-7 && hi < 0.0 && hi - lo > 1e-11 && hi - lo < 5e-9,
            "{lo} {hi}"
        );
    }

    #[test]
    fn backward_images_are_mirrored_back_to_match_forward() {
        // The same surface is scanned both ways: after undoing the mirror the two images agree;
        // left mirrored they would not.
        let (_, f) = fese();
        for name in ["Z", "LIY_1_omega"] {
            // Levelled: the slow drift along the frame would otherwise dominate the correlation.
            let level = |a: &Array2<f32>| {
                let mut a = a.clone();
                crate::picture::level_lines(&mut a);
                a
            };
            let fw = &level(&f.image(name, Direction::Forward).unwrap().data);
            let bw = &level(&f.image(name, Direction::Backward).unwrap().data);
            let mut mirrored = bw.clone();
            mirrored.invert_axis(ndarray::Axis(1));
            let (same, flipped) = (pearson(fw, bw), pearson(fw, &mirrored));
            assert!(
                same > 0.4 && flipped < same - 0.3,
                "{name}: {same} vs {flipped}"
            );
        }
    }

    #[test]
    fn little_endian_and_upward_scans() {
        let (bytes, f) = fese();
        // Rewrite the file as LSBFIRST, scanned up: the images must come back identical.
        let end = find(&bytes, b"\x1a\x04").unwrap() + 2;
        let head = String::from_utf8_lossy(&bytes[..end])
            .replace("MSBFIRST", "LSBFIRST")
            .replace(":SCAN_DIR:\ndown", ":SCAN_DIR:\nup");
        let mut out = head.into_bytes();
        let (rows, cols) = f.shape;
        for chunk in bytes[end..].chunks(rows * cols * 4) {
            for r in (0..rows).rev() {
                for c in 0..cols {
                    let i = 4 * (r * cols + c);
                    let v = f32::from_be_bytes(chunk[i..i + 4].try_into().unwrap());
                    out.extend(v.to_le_bytes());
                }
            }
        }
        let g = parse_sxm(&out, "rewritten").unwrap();
        assert!(g.scanned_up);
        for (a, b) in f.images.iter().zip(&g.images) {
            assert_eq!(a.data, b.data, "{} {}", a.name, a.direction.as_str());
        }
    }

    #[test]
    fn damaged_files_give_clear_errors() {
        let (bytes, _) = fese();
        let end = find(&bytes, b"\x1a\x04").unwrap() + 2;
        let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let with = |from: &str, to: &str| {
            assert!(text.contains(from), "{from}");
            let mut b = text.replace(from, to).into_bytes();
            b.extend_from_slice(&bytes[end..]);
            b
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"hello".to_vec(), "not a Nanonis .sxm file"),
            (bytes[..2000].to_vec(), "no ':SCANIT_END:'"),
            (bytes[..end - 2].to_vec(), "no data marker"),
            (bytes[..end + 1000].to_vec(), "truncated file?"),
            (bytes[..bytes.len() - 1].to_vec(), "truncated file?"),
            (
                with("       224       224", " 224"),
                "':SCAN_PIXELS:' is \"224\"",
            ),
            (
                with("       224       224", "  4000000000 4000000000"),
                "expected whole numbers from 1 to 1,000,000",
            ),
            (with("       224       224", "  0 224"), "whole numbers"),
            (
                with(":SCAN_RANGE:", ":SCAN_RANGX:"),
                "no ':SCAN_RANGE:' field",
            ),
            (
                with("2.000000E-8           2.000000E-8", "-2E-8 2E-8"),
                "two positive lengths",
            ),
            (with("FLOAT", "INT"), "qpik reads FLOAT data"),
            (
                with("\tDirection\t", "\tDirektion\t"),
                "no 'Direction' column",
            ),
            (
                with("\tZ\tm\tboth", "\tZ\tm\tsideways"),
                "\"sideways\" is unknown",
            ),
            (with(":DATA_INFO:", ":DATA_INFX:"), "no ':DATA_INFO:' field"),
        ];
        for (b, want) in cases {
            let e = parse_sxm(&b, "f.sxm").unwrap_err().to_string();
            assert!(e.starts_with("f.sxm: ") && e.contains(want), "{e}");
        }
    }

    /// The FeSe file with `edit` applied to its header bytes (data unchanged).
    fn with_header(edit: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
        let (bytes, _) = fese();
        let end = find(&bytes, b"\x1a\x04").unwrap();
        let mut out = edit(bytes[..end].to_vec());
        out.extend_from_slice(&bytes[end..]);
        out
    }

    fn insert_before_end(head: Vec<u8>, block: &[u8]) -> Vec<u8> {
        let at = find(&head, b":SCANIT_END:").unwrap();
        [&head[..at], block, &head[at..]].concat()
    }

    #[test]
    fn latin1_header_and_multipass_config_block() {
        let (_, f) = fese();
        let b = with_header(|h| {
            insert_before_end(
                h,
                b":Multipass-Config:\n\tRecord-Ch\tPlayback\tPlayback-Offset\tBias override\t\
                  Bias override value\tZ-Gain\tSpeed factor\n\
                  \t0\tFALSE\t0E+0\tTRUE\t1E-1\t1E+0\t1E+0\n\
                  \t0\tTRUE\t0E+0\tTRUE\t-1E-1\t1E+0\t1E+0\n\
                  :TEMPERATURE:\n4.3 \xb0C\n:QPIK_NOTE:\nPointe \xe9tch\xe9e, 5 \xb5m\n",
            )
        });
        let g = parse_sxm(&b, "m.sxm").unwrap();
        assert_eq!(g.field("TEMPERATURE"), Some("4.3 \u{b0}C"));
        assert_eq!(
            g.field("QPIK_NOTE"),
            Some("Pointe \u{e9}tch\u{e9}e, 5 \u{b5}m")
        );
        let mp = g.field("Multipass-Config").unwrap();
        assert_eq!(mp.lines().count(), 3, "{mp}");
        assert!(
            mp.contains("Bias override value") && mp.contains("-1E-1"),
            "{mp}"
        );
        // The block changes nothing else.
        assert_eq!(g.shape, f.shape);
        assert_eq!(g.field("SCAN_PIXELS"), f.field("SCAN_PIXELS"));
        for (a, b) in f.images.iter().zip(&g.images) {
            assert_eq!(a.data, b.data);
        }
    }

    #[test]
    fn byte_order_must_be_declared_and_match_the_data() {
        let swap = |from: &[u8], to: &[u8]| {
            with_header(|h| {
                let at = find(&h, from).unwrap();
                [&h[..at], to, &h[at + from.len()..]].concat()
            })
        };
        // Big-endian data under a header that says little-endian: refused, not misread.
        let e = parse_sxm(&swap(b"MSBFIRST", b"LSBFIRST"), "s.sxm")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("says LSBFIRST") && e.contains("look big-endian"),
            "{e}"
        );
        let e = parse_sxm(&swap(b"MSBFIRST", b"MIDFIRST"), "s.sxm")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected the byte order"), "{e}");
        // The honest little-endian rewrite reads (little_endian_and_upward_scans), and so
        // does a scan that is all NaN (not reached) whatever its order.
        let (bytes, f) = fese();
        let end = find(&bytes, b"\x1a\x04").unwrap() + 2;
        let mut nan = bytes[..end].to_vec();
        for _ in 0..(bytes.len() - end) / 4 {
            nan.extend(f32::NAN.to_be_bytes());
        }
        let g = parse_sxm(&nan, "nan.sxm").unwrap();
        assert_eq!(g.images.len(), f.images.len());
    }

    #[test]
    fn point_spectrum_positions_land_on_their_pixels_in_a_turned_frame() {
        let (_, f) = fese();
        assert_eq!(f.angle_deg, 45.0);
        let (rows, cols) = (f.shape.0 as f64, f.shape.1 as f64);
        let (r, c) = f.pixel_at_m(f.offset_m.0, f.offset_m.1);
        assert!((r - (rows / 2.0 - 0.5)).abs() < 1e-9 && (c - (cols / 2.0 - 0.5)).abs() < 1e-9);
        // A spectrum taken at the centre of pixel (10, 200), as a Nanonis .dat records it.
        let (x, y) = f.sample_position_m(10.0, 200.0);
        let spectrum = format!(
            "Experiment\tbias spectroscopy\t\r\nX (m)\t{x:E}\t\r\nY (m)\t{y:E}\t\r\n\r\n[DATA]\r\n\
             Bias calc (V)\tCurrent (A)\t\r\n-1E-1\t2E-10\t\r\n1E-1\t3E-10\t\r\n"
        );
        let s = crate::data::nanonis_dat::parse_nanonis_dat(spectrum.as_bytes(), "p.dat").unwrap();
        let (sx, sy) = s.position_m.unwrap();
        let (r, c) = f.pixel_at_m(sx, sy);
        assert!(
            (r - 10.0).abs() < 1e-6 && (c - 200.0).abs() < 1e-6,
            "({r}, {c})"
        );
        // Ignoring the 45-degree turn would put it elsewhere: the angle matters here.
        let unturned = SxmFile {
            angle_deg: 0.0,
            ..f.clone()
        };
        let (r0, c0) = unturned.pixel_at_m(sx, sy);
        assert!(
            (r0 - 10.0).abs() + (c0 - 200.0).abs() > 50.0,
            "({r0}, {c0})"
        );
        assert_eq!(s.energies_ev().unwrap(), [-0.1, 0.1]);
    }
}
