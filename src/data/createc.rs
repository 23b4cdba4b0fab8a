//! Createc `.dat` scan files (the format of Createc low-temperature STM controllers).
//!
//! # Layout
//! | bytes | content |
//! |---|---|
//! | 0 .. 16,384 | ASCII (Latin-1) header: first line `[Paramco32]` (compressed) or `[Paramet32]` (plain), then `key=value` lines, usually CRLF, padded with NULs |
//! | 16,384 .. | `[Paramco32]`: one zlib stream; `[Paramet32]`: the same bytes uncompressed |
//!
//! The (inflated) data are little-endian 32-bit floats: one unused value, then `Channels`
//! frames of `Num.Y` lines x `Num.X` points, lines top to bottom, points left to right.
//! Createc writes a few lines of padding after the last frame; they are ignored.
//! Keys appear either plain (`GainZ`) or doubled (`GainZ / GainZ`); both are read.
//!
//! | key | meaning, as qpik uses it |
//! |---|---|
//! | `Num.X`, `Num.Y` | points per line, lines |
//! | `Channels` | frames stored (both directions together) |
//! | `Scanmode / ScanXMode` | `2`: forward and backward; the first half of the frames are forward |
//! | `Channelselectval` | which signals, one bit each: 1 topography (`Z`), 2 `Current`, 4 `ADC1`, 8 `ADC2`, ... in that order |
//! | `Length x[A]`, `Length y[A]` | frame size in Angstrom; pixel size = length / points |
//! | `Dacto[A]z`, `GainZ` | height in Angstrom = value x `Dacto[A]z` x `GainZ` |
//! | `DAC-Type`, `ZPiezoconst` | without `Dacto[A]z`: `Dacto[A]z` = 20 V / 2^bits x `ZPiezoconst` (Angstrom/V) |
//! | `Gainpreamp` (`GainPre 10^`) | current in A = value x 20 V / 2^bits / 10^gain |
//! | `Biasvolt[mV]` (`BiasVolt.[mV]`) | sample bias |
//! | `Rotation` | frame rotation in degrees |
//! | `Scanrotoffx`, `Scanrotoffy` (`OffsetX`, `OffsetY`), `Dacto[A]xy` | frame centre = offset x `Dacto[A]xy` Angstrom |
//!
//! # Conventions of [`CreatecFile`]
//! - Images `[row, col]`, row 0 the first recorded line (top of the frame), as Createc shows.
//! - Backward frames are stored as the tip moved (right to left) and mirrored back, so forward
//!   and backward images of one channel line up, as in [`super::sxm`].
//! - `Z` in metres, `Current` in amperes, `ADC` channels in volts (20 V / 2^bits a step).
//!   Unnamed frames (no `Channelselectval`, or one that does not match `Channels`) keep the
//!   controller's units (`""`), except the first, which is the topography.
//! - Aborted scans: Createc writes the whole frame and leaves the lines it did not reach at
//!   exactly 0. Trailing lines that are 0 in every frame are counted
//!   ([`CreatecFile::missing_lines`]) and set to NaN, so no engine treats them as data.
//!
//! Gwyddion 2.62 (`modules/file/createc.c`) reads the same frames; it takes the frame size
//! from `Delta X` x `GainX` x `Xpiezoconst` x 20 V / 2^bits (which agrees with `Length x[A]`)
//! and the height from 20 V / 2^bits x `GainZ` x `ZPiezoconst` (which agrees with `Dacto[A]z`
//! x `GainZ`), and the same units from `Channelselectval`; but it scales every frame by that
//! height step, so its current and ADC values are not in amperes and volts.
//! `plugins/gwyddion/tests/gwy_createc.c` checks the two readers against each other.

use std::io::Read;
use std::path::Path;

use ndarray::Array2;

use super::sxm::{Direction, SxmImage};
use crate::budget::{self, MemoryBudget};
use crate::{Error, Result};

/// Header size in bytes.
pub const HEADER_BYTES: usize = 16_384;
/// Largest `.dat` file read (bytes).
pub const MAX_CREATEC_BYTES: u64 = 4 << 30;
/// Most frames accepted from `Channels`.
pub const MAX_FRAMES: usize = 256;
/// Inflated bytes accepted past what the header promises (Createc's trailing padding).
const PADDING_BYTES: usize = 1 << 16;

/// A Createc scan: its images and the header fields qpik uses.
#[derive(Clone, Debug)]
pub struct CreatecFile {
    /// `(rows, cols)` = (`Num.Y`, `Num.X`).
    pub shape: (usize, usize),
    /// Frame size `(width, height)` in metres.
    pub range_m: (f64, f64),
    /// Frame centre `(x, y)` in metres (0 when the header does not say).
    pub offset_m: (f64, f64),
    /// `Rotation` in degrees (0 when absent).
    pub angle_deg: f64,
    /// Sample bias in volts, if given.
    pub bias_v: Option<f64>,
    /// Trailing lines an aborted scan did not reach (NaN in every image).
    pub missing_lines: usize,
    /// Every header field in file order, `(key, value)` as written.
    pub header: Vec<(String, String)>,
    /// Frames in file order (forward frames first).
    pub images: Vec<SxmImage>,
}

impl CreatecFile {
    /// Pixel size `(x, y)` in metres.
    pub fn pixel_size_m(&self) -> (f64, f64) {
        (
            self.range_m.0 / self.shape.1 as f64,
            self.range_m.1 / self.shape.0 as f64,
        )
    }

    /// A header value by key, plain (`GainZ`) or doubled (`GainZ / GainZ`).
    pub fn field(&self, key: &str) -> Option<&str> {
        field(&self.header, key)
    }
}

/// Whether `bytes` start like a Createc image file this reader reads.
pub fn looks_like_createc(bytes: &[u8]) -> bool {
    bytes.starts_with(b"[Paramco32]") || bytes.starts_with(b"[Paramet32]")
}

/// Reads a `.dat` file: a regular file of at most [`MAX_CREATEC_BYTES`], every size the header
/// declares checked against `budget` before anything is allocated or inflated.
pub fn read_createc(path: &Path, budget: &MemoryBudget) -> Result<CreatecFile> {
    let bytes =
        super::checked_read::read_regular_file(path, MAX_CREATEC_BYTES, "Createc .dat file")?;
    parse_createc(&bytes, &path.display().to_string(), budget)
}

/// Parses the bytes of a Createc `.dat` file; `name` is used in messages.
pub fn parse_createc(bytes: &[u8], name: &str, budget: &MemoryBudget) -> Result<CreatecFile> {
    let err = |m: String| Error::format(name, m);
    if !looks_like_createc(bytes) {
        let hint = if bytes.starts_with(b"[Parameter]") {
            "a 16-bit '[Parameter]' file of old Createc versions; qpik reads '[Paramco32]' and \
             '[Paramet32]' files (open it in Gwyddion and save it as .gwy or export .npy)"
        } else {
            "not a Createc image file (it does not start with '[Paramco32]' or '[Paramet32]')"
        };
        return Err(err(hint.into()));
    }
    if bytes.len() < HEADER_BYTES {
        return Err(err(format!(
            "the file is {} bytes, shorter than the {HEADER_BYTES}-byte header (truncated file?)",
            bytes.len()
        )));
    }
    let compressed = bytes.starts_with(b"[Paramco32]");
    let head = &bytes[..HEADER_BYTES];
    let head = &head[..head.iter().position(|&b| b == 0).unwrap_or(HEADER_BYTES)];
    // Latin-1: every byte is the char of the same number (the Angstrom sign is 0xC5).
    let text: String = head.iter().map(|&b| char::from(b)).collect();
    let header = parse_header(&text);
    let get = |key: &str| field(&header, key);
    let number = |key: &str| -> Result<Option<f64>> {
        match get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| err(format!("'{key}' is {v:?}; expected a number"))),
        }
    };
    let count = |key: &str, max: usize| -> Result<usize> {
        let v = get(key).ok_or_else(|| err(format!("the header has no '{key}=' line")))?;
        match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(err(format!(
                "'{key}' is {v:?}; expected a whole number from 1 to {max}"
            ))),
        }
    };
    let cols = count("Num.X", 1_000_000)?;
    let rows = count("Num.Y", 1_000_000)?;
    let frames = count("Channels", MAX_FRAMES)?;
    let length = |key: &str| -> Result<f64> {
        number(key)?
            .filter(|v| *v > 0.0)
            .map(|v| v * 1e-10)
            .ok_or_else(|| err(format!("'{key}' is missing or not a positive length")))
    };
    let range_m = (length("Length x[A]")?, length("Length y[A]")?);

    // Every size the header declares, checked before anything is allocated or inflated.
    let frame_values = rows.checked_mul(cols);
    let need_bytes = frame_values
        .and_then(|n| n.checked_mul(frames))
        .and_then(|n| n.checked_mul(4))
        .and_then(|n| n.checked_add(4));
    // Held at once: the inflated bytes and the f32 images.
    budget.check(
        &format!("Createc scan {name} ({frames} frames of {cols} x {rows})"),
        budget::sum(&[
            need_bytes
                .and_then(|n| n.checked_add(PADDING_BYTES))
                .map(|n| n as u64),
            budget::bytes(&[rows, cols, frames, 4]),
        ]),
    )?;
    let need = need_bytes.expect("checked by the budget");
    let raw = inflate_bounded(&bytes[HEADER_BYTES..], compressed, need, name)?;

    let both = get("Scanmode / ScanXMode")
        .or_else(|| get("ScanXMode"))
        .is_some_and(|v| v.trim() == "2");
    if both && frames % 2 != 0 {
        return Err(err(format!(
            "'Channels' is {frames} but the scan went both ways ('ScanXMode' 2): expected an \
             even number of frames"
        )));
    }
    let per_direction = if both { frames / 2 } else { frames };
    let bits = dac_bits(get("DAC-Type"));
    let volts_per_step = 20.0 / f64::from(1u32 << bits);
    let gain_z = number("GainZ")?.unwrap_or(1.0);
    let angstrom_per_step = match (number("Dacto[A]z")?, number("ZPiezoconst")?) {
        (Some(d), _) => Some(d),
        (None, Some(p)) => Some(volts_per_step * p),
        (None, None) => None,
    };
    let z_scale = angstrom_per_step.map(|a| a * gain_z * 1e-10);
    let current_scale = number("Gainpreamp")?.map(|g| volts_per_step / 10f64.powf(g));
    let signals = signals(
        get("Channelselectval").and_then(|v| v.trim().parse::<u32>().ok()),
        per_direction,
        z_scale,
        current_scale,
        volts_per_step,
    );

    let value = |i: usize| {
        let at = 4 + 4 * i;
        f32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]])
    };
    let frame_len = rows * cols;
    // Lines (from the bottom) that are exactly 0 in every frame: not reached.
    let line_is_zero = |r: usize| {
        (0..frames).all(|f| (0..cols).all(|c| value(f * frame_len + r * cols + c) == 0.0))
    };
    let missing_lines = (0..rows).rev().take_while(|&r| line_is_zero(r)).count();
    if missing_lines == rows {
        return Err(err(format!(
            "every line is 0 in every frame: the scan recorded nothing ({cols} x {rows})"
        )));
    }
    let measured = rows - missing_lines;
    let mut images = Vec::with_capacity(frames);
    for f in 0..frames {
        let direction = if f < per_direction {
            Direction::Forward
        } else {
            Direction::Backward
        };
        let (name, unit, scale) = &signals[f % per_direction];
        let data = Array2::from_shape_fn((rows, cols), |(r, c)| {
            if r >= measured {
                return f32::NAN;
            }
            let sc = match direction {
                Direction::Forward => c,
                Direction::Backward => cols - 1 - c,
            };
            (f64::from(value(f * frame_len + r * cols + sc)) * scale) as f32
        });
        images.push(SxmImage {
            name: name.clone(),
            unit: unit.clone(),
            direction,
            data,
        });
    }
    let xy_a = number("Dacto[A]xy")?.unwrap_or(f64::NAN);
    let offset = |keys: [&str; 2]| -> Result<f64> {
        let v = match number(keys[0])? {
            Some(v) => Some(v),
            None => number(keys[1])?,
        };
        Ok(v.map_or(0.0, |v| v * xy_a * 1e-10))
    };
    Ok(CreatecFile {
        shape: (rows, cols),
        range_m,
        offset_m: (
            offset(["Scanrotoffx", "OffsetX"])?,
            offset(["Scanrotoffy", "OffsetY"])?,
        ),
        angle_deg: number("Rotation")?.unwrap_or(0.0),
        bias_v: match number("Biasvolt[mV]")? {
            Some(mv) => Some(mv / 1000.0),
            None => number("BiasVolt.[mV]")?.map(|mv| mv / 1000.0),
        },
        missing_lines,
        header,
        images,
    })
}

/// The data after the header, at least `need` bytes, never more than `need` plus the padding
/// allowance inflated (a zip bomb or a lying header cannot make it allocate more).
fn inflate_bounded(data: &[u8], compressed: bool, need: usize, name: &str) -> Result<Vec<u8>> {
    let limit = need.saturating_add(PADDING_BYTES);
    let out = if compressed {
        let mut out = Vec::new();
        out.try_reserve_exact(need).map_err(|_| {
            Error::OverBudget(format!(
                "{name}: the system could not provide {} for the scan",
                budget::human(need as u64)
            ))
        })?;
        flate2::read::ZlibDecoder::new(data)
            .take(limit as u64)
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::format(
                    name,
                    format!(
                        "the compressed data are damaged after {} of the {need} bytes the \
                         header promises ({e}; truncated file?)",
                        out.len()
                    ),
                )
            })?;
        out
    } else {
        data[..data.len().min(limit)].to_vec()
    };
    if out.len() < need {
        return Err(Error::format(
            name,
            format!(
                "the data are {} bytes, but the header promises {need} (truncated file?)",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// `(name, unit, scale)` of the frames of one direction.
fn signals(
    select: Option<u32>,
    n: usize,
    z_scale: Option<f64>,
    current_scale: Option<f64>,
    volts_per_step: f64,
) -> Vec<(String, String, f64)> {
    let z = || match z_scale {
        Some(s) => ("Z".to_string(), "m".to_string(), s),
        None => ("Z".to_string(), String::new(), 1.0),
    };
    let by_bits: Option<Vec<u32>> = select
        .map(|s| (0..32).filter(|b| s & (1 << b) != 0).collect::<Vec<u32>>())
        .filter(|b| b.len() == n);
    match by_bits {
        Some(bits) => bits
            .into_iter()
            .map(|b| match b {
                0 => z(),
                1 => match current_scale {
                    Some(s) => ("Current".into(), "A".into(), s),
                    None => ("Current".into(), String::new(), 1.0),
                },
                b => (format!("ADC{}", b - 1), "V".into(), volts_per_step),
            })
            .collect(),
        None => (0..n)
            .map(|i| {
                if i == 0 {
                    z()
                } else {
                    (format!("Channel {}", i + 1), String::new(), 1.0)
                }
            })
            .collect(),
    }
}

/// Bits of the DAC from `DAC-Type` (`20bit`), 16 when absent or unreadable.
fn dac_bits(v: Option<&str>) -> u32 {
    v.and_then(|v| {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    })
    .filter(|b| (8..=31).contains(b))
    .unwrap_or(16)
}

/// `key=value` lines after the first; keys and values trimmed.
fn parse_header(text: &str) -> Vec<(String, String)> {
    text.split(['\r', '\n'])
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// A value by key: `key` itself, `key / ...` (Createc's doubled form) or `... / key`.
fn field<'a>(header: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let matches = |k: &str| {
        k == key
            || k.split_once(" / ")
                .is_some_and(|(a, b)| a.trim() == key || b.trim() == key)
    };
    header
        .iter()
        .find(|(k, _)| matches(k))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
#[path = "createc_tests.rs"]
pub(crate) mod tests;
