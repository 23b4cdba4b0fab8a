//! Nanonis `.3ds` grid-spectroscopy files: a spectrum (one sweep, several channels) at every
//! point of a grid, the usual source of a dI/dV map stack `[E, H, W]`.
//!
//! # Layout
//! A text header of `Key=Value` lines (values often in double quotes, lines ending `\r\n`)
//! up to a `:HEADER_END:` line, then big-endian 32-bit floats. The fields qpik uses:
//! - `Grid dim="nx x ny"`: points per line, lines;
//! - `Grid settings=cx;cy;width;height;angle`: frame centre and size in metres, angle in degrees;
//! - `Filetype=Linear` or `MLS` (a multi-segment sweep, with a segment table
//!   `Segment Start (V), Segment End (V), ..., Steps (xn), ...=s0,e0,..,n0,..;s1,...`);
//! - `Sweep Signal="Bias (V)"`: what was swept, with its unit;
//! - `Fixed parameters="Sweep Start;Sweep End"`, `Experiment parameters="X (m);Y (m);Z (m);..."`
//!   and `# Parameters (4 byte)`: their total count;
//! - `Points`: sweep points; `Channels="Current (A);LIY 1 omega (A);..."` (backward sweeps as
//!   `Name [bwd] (unit)`); `Experiment size (bytes)` = Points x channels x 4.
//!
//! The data are, point after point, the parameters (fixed then experiment) followed by each
//! channel's `Points` values. Nanonis records a grid line by line, points along a line first,
//! and lines upwards: the first line is at the bottom of the frame.
//!
//! # Conventions of [`Grid3ds`]
//! - Images are `[row, col]` as the rest of qpik: row 0 at the top of the frame, columns left
//!   to right. Lines recorded upwards are mirrored top-bottom to get there. Where the points
//!   carry their positions (`X (m)`, `Y (m)`, as Nanonis writes), the directions are taken from
//!   them ([`Grid3ds::lines_go_up`], [`Grid3ds::points_reversed`]), so a grid that was recorded
//!   downwards or right to left comes out the same way up; without positions, upwards and left
//!   to right are assumed.
//! - The frame is rotated by `angle_deg` clockwise about its centre (Nanonis' sense: a point at
//!   frame coordinates `(u, v)` is at `centre + (u cos a + v sin a, -u sin a + v cos a)`).
//! - Lengths in metres, values in each channel's unit, unscaled.
//! - Energies: for a bias sweep, `E = e V` in eV, so layer `k` shows states at `E_F + e V_k`
//!   (positive: empty states), taking the swept bias as the sample bias as Nanonis applies it.
//! - Points an aborted grid did not reach: Nanonis writes them as NaN or as zeros, or the file
//!   stops at a point boundary. Trailing points that are 0 in every value (no position, no
//!   sweep: never a measurement) and points missing from the file are read as NaN;
//!   [`Grid3ds::points_in_file`] says how many were measured, [`Grid3ds::unmeasured_points`]
//!   how many were not. A file that stops inside a point is damaged and refused.
//! - Every size from the header is checked (overflow-checked arithmetic, caps above, and the
//!   memory budget of [`parse_3ds_within`]) before anything is allocated.

use std::path::Path;

use ndarray::{Array2, Array3};

use crate::budget::MemoryBudget;
use crate::{Error, Result};

/// Largest `.3ds` file read (bytes); the whole file is held in memory as f32.
pub const MAX_3DS_BYTES: u64 = 8 << 30;
/// The header must end within this many bytes (real headers are a few kilobytes).
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// Most sweep points, channels and parameters per point accepted from a header.
pub const MAX_POINTS: usize = 1 << 20;
pub const MAX_CHANNELS: usize = 4096;
pub const MAX_PARAMETERS: usize = 4096;

const HEADER_END: &[u8] = b":HEADER_END:";

/// A signal name and its unit, as `Name (unit)` in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    pub name: String,
    /// Unit without parentheses; `""` when the header gives none.
    pub unit: String,
}

/// A Nanonis grid: header fields, the sweep and every point's parameters and spectra.
#[derive(Clone, Debug)]
pub struct Grid3ds {
    /// `(rows, cols)` = (lines, points per line) of the grid.
    pub shape: (usize, usize),
    /// Frame size `(width, height)` in metres.
    pub size_m: (f64, f64),
    /// Frame centre `(x, y)` in metres.
    pub centre_m: (f64, f64),
    /// Frame rotation in degrees, clockwise (see the module doc).
    pub angle_deg: f64,
    /// Whether the first recorded line is the bottom one (Nanonis' way), so rows are mirrored.
    pub lines_go_up: bool,
    /// Whether points along a line were recorded right to left, so columns are mirrored.
    pub points_reversed: bool,
    /// The swept signal (`Bias` in `V` for bias spectroscopy).
    pub sweep_signal: Signal,
    /// The swept signal's value at each sweep point, in its unit; NaN when the file does not
    /// say (no `Sweep Start`/`Sweep End` parameters, or an unreadable MLS segment table).
    pub sweep_values: Vec<f64>,
    /// Channels in file order.
    pub channels: Vec<Signal>,
    /// Per-point parameters in file order (fixed, then experiment): `Sweep Start`, `X` (m), ...
    pub parameters: Vec<Signal>,
    /// Measured points stored (`rows * cols` unless the grid was aborted: the file ends early
    /// or its last points are zero-filled).
    pub points_in_file: usize,
    /// Points of the grid with no measurement (NaN in every image): `rows * cols -
    /// points_in_file`, the points after an abort, whether missing from the file or zero-filled.
    pub unmeasured_points: usize,
    /// Every header field in file order, value without surrounding quotes.
    pub header: Vec<(String, String)>,
    /// f32 values per point: parameters, then each channel's sweep.
    record: usize,
    /// `points_in_file * record` values in file order.
    values: Vec<f32>,
}

impl Grid3ds {
    /// Pixel size `(x, y)` in metres: frame size over points (points sit at pixel centres).
    pub fn pixel_size_m(&self) -> (f64, f64) {
        (
            self.size_m.0 / self.shape.1 as f64,
            self.size_m.1 / self.shape.0 as f64,
        )
    }

    /// Energies in eV of the sweep points when the sweep is a bias in volts (`E = e V`),
    /// NaN otherwise.
    pub fn energies_ev(&self) -> Vec<f64> {
        let bias =
            self.sweep_signal.name.eq_ignore_ascii_case("bias") && self.sweep_signal.unit == "V";
        self.sweep_values
            .iter()
            .map(|&v| if bias { v } else { f64::NAN })
            .collect()
    }

    /// A header field's value (`"Lock-in>Amplitude"`), without quotes.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Index of channel `name` (case-insensitive, spaces and underscores alike; a backward
    /// channel is `"Name [bwd]"`).
    pub fn channel_index(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| same_name(&c.name, name))
    }

    /// Channel `name` as `[E, rows, cols]` (E = sweep points), in the image convention of the
    /// module doc; NaN at points the file does not hold.
    pub fn channel(&self, name: &str) -> Result<Array3<f32>> {
        let k = self.channel_index(name).ok_or_else(|| {
            Error::invalid(format!(
                "the grid has no channel {name:?}; it has {}",
                list(&self.channels)
            ))
        })?;
        let e = self.sweep_values.len();
        let start = self.parameters.len() + k * e;
        let (rows, cols) = self.shape;
        let mut out = Array3::from_elem((e, rows, cols), f32::NAN);
        for r in 0..rows {
            for c in 0..cols {
                if let Some(rec) = self.record_at(r, c) {
                    for (j, &v) in rec[start..start + e].iter().enumerate() {
                        out[[j, r, c]] = v;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Parameter `name` (`"Z"`, `"X"`, `"Sweep Start"`; unit not included) at every point,
    /// `[rows, cols]`, NaN where the file holds no point.
    pub fn parameter(&self, name: &str) -> Result<Array2<f32>> {
        let k = self
            .parameters
            .iter()
            .position(|p| same_name(&p.name, name))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the grid has no parameter {name:?}; it has {}",
                    list(&self.parameters)
                ))
            })?;
        let (rows, cols) = self.shape;
        Ok(Array2::from_shape_fn((rows, cols), |(r, c)| {
            self.record_at(r, c).map_or(f32::NAN, |rec| rec[k])
        }))
    }

    /// The stored values of the point shown at image pixel `(row, col)`, if the file holds it.
    fn record_at(&self, row: usize, col: usize) -> Option<&[f32]> {
        let (rows, cols) = self.shape;
        let line = if self.lines_go_up {
            rows - 1 - row
        } else {
            row
        };
        let along = if self.points_reversed {
            cols - 1 - col
        } else {
            col
        };
        let i = line * cols + along;
        (i < self.points_in_file).then(|| &self.values[i * self.record..(i + 1) * self.record])
    }
}

/// Reads a `.3ds` file (a regular file of at most [`MAX_3DS_BYTES`]) within the default
/// memory budget.
pub fn read_3ds(path: &Path) -> Result<Grid3ds> {
    read_3ds_within(path, &MemoryBudget::default())
}

/// [`read_3ds`], the grid the header declares checked against `budget` (see
/// [`parse_3ds_within`]).
pub fn read_3ds_within(path: &Path, budget: &MemoryBudget) -> Result<Grid3ds> {
    let bytes = super::checked_read::read_regular_file(path, MAX_3DS_BYTES, "Nanonis .3ds file")?;
    parse_3ds_within(&bytes, &path.display().to_string(), budget)
}

/// Whether `bytes` (the start of a file suffices) look like a Nanonis grid: a `Grid dim=`
/// line before `:HEADER_END:` or before the end of what is given.
pub fn looks_like_3ds(bytes: &[u8]) -> bool {
    let head = &bytes[..find(bytes, HEADER_END).unwrap_or(bytes.len())];
    head.starts_with(b"Grid dim=") || find(head, b"\nGrid dim=").is_some()
}

/// Parses the bytes of a `.3ds` file within the default memory budget; `name` is used in
/// error messages.
pub fn parse_3ds(bytes: &[u8], name: &str) -> Result<Grid3ds> {
    parse_3ds_within(bytes, name, &MemoryBudget::default())
}

/// Parses the bytes of a `.3ds` file. What the header declares is checked against `budget`
/// before anything is allocated: the values in the file and one channel expanded to the
/// whole grid (`[points, rows, cols]` f32, what [`Grid3ds::channel`] returns), however few
/// points an aborted file holds.
pub fn parse_3ds_within(bytes: &[u8], name: &str, budget: &MemoryBudget) -> Result<Grid3ds> {
    let err = |m: String| Error::format(name, m);
    let scan = &bytes[..bytes.len().min(MAX_HEADER_BYTES)];
    let end = find(scan, HEADER_END).ok_or_else(|| {
        if looks_like_3ds(scan) {
            err(format!(
                "no ':HEADER_END:' line in the first {MAX_HEADER_BYTES} bytes \
                 (truncated or damaged file?)"
            ))
        } else {
            err("not a Nanonis .3ds file (no 'Grid dim=' header line)".into())
        }
    })?;
    // Data start after the end tag's line break (`\r\n` as Nanonis writes, or `\n`).
    let mut start = end + HEADER_END.len();
    if bytes.get(start) == Some(&b'\r') {
        start += 1;
    }
    if bytes.get(start) == Some(&b'\n') {
        start += 1;
    }
    let header = parse_header(&String::from_utf8_lossy(&bytes[..end]));
    let field = |key: &str| {
        header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| err(format!("the header has no '{key}=' line")))
    };
    let count = |key: &str, max: usize| -> Result<usize> {
        let v = field(key)?;
        match v.trim().parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(err(format!(
                "'{key}' is {v:?}; expected a whole number from 0 to {max}"
            ))),
        }
    };

    let dim = field("Grid dim")?;
    let (cols, rows) = dim
        .split_once('x')
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .filter(|&(a, b)| (1..=1_000_000).contains(&a) && (1..=1_000_000).contains(&b))
        .ok_or_else(|| {
            err(format!(
                "'Grid dim' is {dim:?}; expected \"nx x ny\" with whole numbers from 1 to 1,000,000"
            ))
        })?;
    let settings = field("Grid settings")?;
    let frame: Vec<f64> = settings
        .split(';')
        .map(|t| t.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()
        .filter(|v: &Vec<f64>| {
            v.len() == 5 && v.iter().all(|x| x.is_finite()) && v[2] > 0.0 && v[3] > 0.0
        })
        .ok_or_else(|| {
            err(format!(
                "'Grid settings' is {settings:?}; expected centre x;centre y;width;height;angle \
                 (metres, degrees) with a positive width and height"
            ))
        })?;

    let sweep_signal = split_unit(field("Sweep Signal")?);
    let names = |key: &str| -> Result<Vec<Signal>> {
        Ok(field(key)?
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(split_unit)
            .collect())
    };
    let mut parameters = names("Fixed parameters")?;
    parameters.extend(names("Experiment parameters")?);
    let n_params = count("# Parameters (4 byte)", MAX_PARAMETERS)?;
    if n_params != parameters.len() {
        return Err(err(format!(
            "'# Parameters (4 byte)' is {n_params}, but 'Fixed parameters' and \
             'Experiment parameters' name {}",
            parameters.len()
        )));
    }
    let points = count("Points", MAX_POINTS)?;
    if points == 0 {
        return Err(err(
            "'Points' is 0; a grid needs at least one sweep point".into()
        ));
    }
    let channels = names("Channels")?;
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        return Err(err(format!(
            "'Channels' lists {} channels; expected 1 to {MAX_CHANNELS}",
            channels.len()
        )));
    }
    if let Ok(size) = field("Experiment size (bytes)") {
        let want = points.saturating_mul(channels.len()).saturating_mul(4);
        if size.trim().parse::<usize>().ok() != Some(want) {
            return Err(err(format!(
                "'Experiment size (bytes)' is {size:?}, but {points} points x {} channels \
                 x 4 bytes = {want}",
                channels.len()
            )));
        }
    }

    // Bounded by the caps above, so these cannot overflow.
    let record = n_params + channels.len() * points;
    let record_bytes = record * 4;
    let total_points = rows
        .checked_mul(cols)
        .ok_or_else(|| err(format!("'Grid dim' {cols} x {rows} is too large")))?;
    // The whole grid must fit the file budget even when an aborted file holds less of it:
    // images of every point are allocated.
    let need = total_points
        .checked_mul(record_bytes)
        .filter(|&n| n as u64 <= MAX_3DS_BYTES)
        .ok_or_else(|| {
            err(format!(
                "'Grid dim' {cols} x {rows} with {record_bytes} bytes a point is over the \
                 {MAX_3DS_BYTES}-byte limit of a grid"
            ))
        })?;
    budget.check(
        &format!("Nanonis grid {name} ({cols} x {rows} points of {points} sweep points)"),
        crate::budget::sum(&[
            Some(bytes.len() as u64),
            crate::budget::bytes(&[total_points, points, 4]),
        ]),
    )?;
    let data = &bytes[start..];
    let found = data.len() / record_bytes;
    if data.len() % record_bytes != 0 || data.len() > need || found == 0 {
        return Err(err(format!(
            "the data are {} bytes: {found} whole points and {} bytes over, but the header \
             describes {total_points} points ({cols} x {rows}) of {record_bytes} bytes; \
             the file is truncated or its header does not match its data",
            data.len(),
            data.len() % record_bytes
        )));
    }
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // Points an aborted grid did not reach, written as zeros: trailing records that are 0 in
    // every value (parameters included; a measured point has its position and sweep).
    let zero_filled = (0..found)
        .rev()
        .take_while(|&i| {
            values[i * record..(i + 1) * record]
                .iter()
                .all(|&v| v == 0.0)
        })
        .count();
    if zero_filled == found {
        return Err(err(format!(
            "every one of the {found} points in the file is 0: the grid recorded nothing"
        )));
    }

    let mut grid = Grid3ds {
        shape: (rows, cols),
        size_m: (frame[2], frame[3]),
        centre_m: (frame[0], frame[1]),
        angle_deg: frame[4],
        lines_go_up: true,
        points_reversed: false,
        sweep_signal,
        sweep_values: Vec::new(),
        channels,
        parameters,
        points_in_file: found - zero_filled,
        unmeasured_points: total_points - (found - zero_filled),
        header,
        record,
        values,
    };
    grid.sweep_values = sweep_values(&grid, points);
    orient_from_positions(&mut grid);
    Ok(grid)
}

/// The sweep axis: from the segment table of an MLS file, else linear from the first stored
/// point's `Sweep Start` to `Sweep End` (inclusive); NaN where neither is available.
fn sweep_values(g: &Grid3ds, points: usize) -> Vec<f64> {
    let unknown = vec![f64::NAN; points];
    if g.field("Filetype")
        .is_some_and(|t| t.eq_ignore_ascii_case("MLS"))
    {
        return mls_sweep(g, points).unwrap_or(unknown);
    }
    let (Some(a), Some(b)) = (
        g.parameters.iter().position(|p| p.name == "Sweep Start"),
        g.parameters.iter().position(|p| p.name == "Sweep End"),
    ) else {
        return unknown;
    };
    let first = (0..g.points_in_file)
        .map(|i| &g.values[i * g.record..(i + 1) * g.record])
        .find(|rec| rec[a].is_finite() && rec[b].is_finite());
    let Some(rec) = first else {
        return unknown;
    };
    linspace(f64::from(rec[a]), f64::from(rec[b]), points)
}

/// Segments `start,end,settling,integration,steps,...` joined by `;`: each segment's `steps`
/// values from start to end, a boundary shared with the previous segment counted once.
fn mls_sweep(g: &Grid3ds, points: usize) -> Option<Vec<f64>> {
    let (_, table) = g
        .header
        .iter()
        .find(|(k, _)| k.starts_with("Segment Start"))?;
    let mut out = Vec::new();
    for (i, seg) in table
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .enumerate()
    {
        let cells: Vec<&str> = seg.split(',').map(str::trim).collect();
        let (start, end) = (cells.first()?.parse().ok()?, cells.get(1)?.parse().ok()?);
        let steps: usize = cells.get(4)?.parse().ok()?;
        // Checked: a header's step counts may sum past the machine's integers.
        if steps == 0 || out.len().checked_add(steps)? > points.checked_add(1)? {
            return None;
        }
        let seg = linspace(start, end, steps);
        out.extend_from_slice(if i == 0 { &seg[..] } else { &seg[1..] });
    }
    (out.len() == points).then_some(out)
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Sets the line and point directions from the stored `X`/`Y` positions when they say:
/// the first point against the last stored line's first point and the first line's last point,
/// in frame coordinates.
fn orient_from_positions(g: &mut Grid3ds) {
    let pos = |name: &str| g.parameters.iter().position(|p| p.name == name);
    let (Some(ix), Some(iy)) = (pos("X"), pos("Y")) else {
        return;
    };
    let (_, cols) = g.shape;
    let (sin, cos) = g.angle_deg.to_radians().sin_cos();
    let frame = |i: usize| -> Option<(f64, f64)> {
        let rec = g.values.get(i * g.record..(i + 1) * g.record)?;
        let (x, y) = (f64::from(rec[ix]), f64::from(rec[iy]));
        let (dx, dy) = (x - g.centre_m.0, y - g.centre_m.1);
        (x.is_finite() && y.is_finite()).then_some((dx * cos - dy * sin, dx * sin + dy * cos))
    };
    let Some((u0, v0)) = frame(0) else {
        return;
    };
    let last_line = (g.points_in_file - 1) / cols;
    if let Some((_, v1)) = (1..=last_line).rev().find_map(|l| frame(l * cols)) {
        g.lines_go_up = v1 > v0;
    }
    if let Some((u1, _)) = (cols > 1 && g.points_in_file >= cols)
        .then(|| frame(cols - 1))
        .flatten()
    {
        g.points_reversed = u1 < u0;
    }
}

/// `Key=Value` lines (`\r\n` or `\n`), value without surrounding double quotes.
fn parse_header(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.trim_end_matches('\r').split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// `"LIY 1 omega (A)"` -> name `LIY 1 omega`, unit `A`.
pub(crate) fn split_unit(s: &str) -> Signal {
    let s = s.trim();
    match s.strip_suffix(')').and_then(|t| t.rsplit_once(" (")) {
        Some((name, unit)) => Signal {
            name: name.trim().to_string(),
            unit: unit.to_string(),
        },
        None => Signal {
            name: s.to_string(),
            unit: String::new(),
        },
    }
}

/// Channel names compare case-insensitively, spaces and underscores alike.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace(' ', "_");
    norm(a) == norm(b)
}

fn list(signals: &[Signal]) -> String {
    signals
        .iter()
        .map(|s| format!("{:?}", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "nanonis3ds_tests.rs"]
pub(crate) mod tests;
