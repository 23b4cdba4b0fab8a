//! Nanonis `.dat` point spectra (`Experiment<TAB>bias spectroscopy` files): the spectrum taken at
//! one tip position, often next to the scan or grid the kernel is extracted from, so that the
//! kernel's energies can be taken from the same measurement.
//!
//! # Layout
//! | part | content |
//! |---|---|
//! | header | `key<TAB>value<TAB>` lines; the first is `Experiment<TAB>bias spectroscopy` (or another experiment). A value without its closing tab goes on over the next lines up to one that ends with a tab (multi-line comments); a line without a tab continues the previous value. Keys may repeat. |
//! | `[DATA]` | a line of its own |
//! | column names | tab-separated `Name (unit)`: `Bias calc (V)`, `Current (A)`, `LIY 1 omega [bwd] (A)`, ... |
//! | table | one tab-separated line of numbers per sweep point |
//!
//! # Conventions of [`NanonisSpectrum`]
//! - Values as in the file, in each column's unit; `NaN` cells stay NaN.
//! - Header values kept as written, in file order, repeats included; [`NanonisSpectrum::field`]
//!   gives the first.
//! - The tip position is the header's `X (m)`, `Y (m)`: the scanner's coordinates, the same
//!   frame as [`super::sxm::SxmFile::sample_position_m`].
//! - Energies: [`NanonisSpectrum::energies_ev`] is `E = e V` of the bias column (`Bias calc
//!   (V)`, else `Bias (V)`), the convention of [`super::nanonis3ds::Grid3ds::energies_ev`].
//! - Bytes are read as Latin-1 (the degree sign of a Nanonis header is 0xB0).

use std::path::Path;

use super::nanonis3ds::{Signal, same_name};
use crate::{Error, Result};

/// Largest `.dat` spectrum file read (bytes): spectra are text of a few kilobytes to megabytes.
pub const MAX_SPECTRUM_BYTES: u64 = 256 << 20;

/// One column of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumColumn {
    pub signal: Signal,
    pub values: Vec<f64>,
}

/// A Nanonis point spectrum.
#[derive(Clone, Debug)]
pub struct NanonisSpectrum {
    /// The `Experiment` field (`bias spectroscopy`, ...).
    pub experiment: String,
    /// Tip position `(x, y)` in metres (`X (m)`, `Y (m)`), if the header gives it.
    pub position_m: Option<(f64, f64)>,
    /// Every header field in file order, repeats included.
    pub header: Vec<(String, String)>,
    /// Columns in file order, each as long as the table.
    pub columns: Vec<SpectrumColumn>,
}

impl NanonisSpectrum {
    /// The first value of header field `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Column `name` (case-insensitive, spaces and underscores alike; a backward sweep is
    /// `"Name [bwd]"`).
    pub fn column(&self, name: &str) -> Option<&SpectrumColumn> {
        self.columns
            .iter()
            .find(|c| same_name(&c.signal.name, name))
    }

    /// Sweep points (rows of the table).
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Energies `E = e V` in eV of the bias column (`Bias calc (V)`, else `Bias (V)`, in
    /// volts): the energies of the layers of a map measured at these biases.
    pub fn energies_ev(&self) -> Result<Vec<f64>> {
        let bias = ["Bias calc", "Bias"]
            .iter()
            .find_map(|n| self.column(n).filter(|c| c.signal.unit == "V"));
        match bias {
            Some(c) => Ok(c.values.clone()),
            None => Err(Error::invalid(format!(
                "the spectrum has no bias column in volts ('Bias calc (V)' or 'Bias (V)'); \
                 its columns are {}",
                self.columns
                    .iter()
                    .map(|c| format!("{:?}", column_title(&c.signal)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// `Name (unit)` as in the file.
pub fn column_title(s: &Signal) -> String {
    if s.unit.is_empty() {
        s.name.clone()
    } else {
        format!("{} ({})", s.name, s.unit)
    }
}

/// Whether `bytes` start like a Nanonis text file (`Experiment<TAB>`).
pub fn looks_like_nanonis_dat(bytes: &[u8]) -> bool {
    bytes.starts_with(b"Experiment\t")
}

/// Reads a Nanonis `.dat` spectrum: a regular file of at most [`MAX_SPECTRUM_BYTES`].
pub fn read_nanonis_dat(path: &Path) -> Result<NanonisSpectrum> {
    let bytes =
        super::checked_read::read_regular_file(path, MAX_SPECTRUM_BYTES, "Nanonis .dat spectrum")?;
    parse_nanonis_dat(&bytes, &path.display().to_string())
}

/// Parses the bytes of a Nanonis `.dat` spectrum; `name` is used in messages.
pub fn parse_nanonis_dat(bytes: &[u8], name: &str) -> Result<NanonisSpectrum> {
    let err = |m: String| Error::format(name, m);
    if !looks_like_nanonis_dat(bytes) {
        return Err(err(
            "not a Nanonis spectrum (it does not start with 'Experiment' and a tab)".into(),
        ));
    }
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).enumerate();
    let mut header: Vec<(String, String)> = Vec::new();
    let mut found_data = false;
    // Nanonis ends every header value with a tab; in a file that does (its first line tells),
    // a line after one that did not continues that value (a multi-line comment).
    let tab_terminated = text
        .lines()
        .next()
        .is_some_and(|l| l.trim_end_matches('\r').ends_with('\t'));
    let mut open = false;
    for (_, line) in lines.by_ref() {
        if line.trim() == "[DATA]" {
            found_data = true;
            break;
        }
        let continues = open || !line.contains('\t');
        match (continues, line.split_once('\t')) {
            (false, Some((k, v))) => {
                header.push((
                    k.trim().to_string(),
                    v.trim_end_matches('\t').trim().to_string(),
                ));
            }
            _ if !line.trim().trim_matches('\t').is_empty() => {
                if let Some((_, v)) = header.last_mut() {
                    v.push('\n');
                    v.push_str(line.trim_end_matches('\t').trim());
                }
            }
            _ => {}
        }
        open = tab_terminated && !line.is_empty() && !line.ends_with('\t');
    }
    if !found_data {
        return Err(err(
            "no '[DATA]' line: the header never ends (truncated file?)".into(),
        ));
    }
    let (_, titles) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| err("nothing after '[DATA]': no column names".into()))?;
    let signals: Vec<Signal> = titles
        .trim_end_matches('\t')
        .split('\t')
        .map(super::nanonis3ds::split_unit)
        .collect();
    let mut columns: Vec<SpectrumColumn> = signals
        .into_iter()
        .map(|signal| SpectrumColumn {
            signal,
            values: Vec::new(),
        })
        .collect();
    for (i, line) in lines {
        let line = line.trim_end_matches('\t');
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() != columns.len() {
            return Err(err(format!(
                "line {} has {} values, but the table has {} columns (truncated or damaged \
                 file?)",
                i + 1,
                cells.len(),
                columns.len()
            )));
        }
        for (c, cell) in columns.iter_mut().zip(cells) {
            let v = cell.trim().parse::<f64>().map_err(|_| {
                err(format!(
                    "line {}: {cell:?} in column {:?} is not a number",
                    i + 1,
                    column_title(&c.signal)
                ))
            })?;
            c.values.push(v);
        }
    }
    let first = |key: &str| {
        header
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let position_m = first("X (m)").zip(first("Y (m)"));
    Ok(NanonisSpectrum {
        experiment: header.first().map(|(_, v)| v.clone()).unwrap_or_default(),
        position_m,
        header,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spectrum as Nanonis writes it: CRLF lines with trailing tabs, a Latin-1 degree sign,
    /// a two-line comment and a repeated key.
    pub(crate) fn spectrum_file(points: usize) -> Vec<u8> {
        let mut t = String::from(
            "Experiment\tbias spectroscopy\t\r\n\
             Date\t07.12.2026 03:00:00\t\r\n\
             X (m)\t1.5E-7\t\r\n\
             Y (m)\t-2E-7\t\r\n\
             Z (m)\t-3.1E-8\t\r\n\
             Temperature\t4.3 \u{b0}K\t\r\n\
             Comment01\tfirst line\r\n\
             second line of the comment\t\r\n\
             Bias (V)\t0.1\t\r\n\
             Bias (V)\t0.2\t\r\n\
             \r\n\
             [DATA]\r\n\
             Bias calc (V)\tCurrent (A)\tLIY 1 omega (A)\tLIY 1 omega [bwd] (A)\t\r\n",
        );
        for j in 0..points {
            let v = -0.1 + 0.2 * j as f64 / (points - 1) as f64;
            t += &format!(
                "{v:E}\t{:E}\t{:E}\tNaN\t\r\n",
                v * 1e-9,
                (j + 1) as f64 * 1e-12
            );
        }
        t.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect()
    }

    #[test]
    fn columns_units_position_and_energies() {
        let s = parse_nanonis_dat(&spectrum_file(5), "p.dat").unwrap();
        assert_eq!(s.experiment, "bias spectroscopy");
        assert_eq!(s.position_m, Some((1.5e-7, -2e-7)));
        assert_eq!(s.field("Temperature"), Some("4.3 \u{b0}K"));
        assert_eq!(
            s.field("Comment01"),
            Some("first line\nsecond line of the comment")
        );
        // Repeated keys are all kept; field() gives the first.
        assert_eq!(s.field("Bias (V)"), Some("0.1"));
        assert_eq!(s.header.iter().filter(|(k, _)| k == "Bias (V)").count(), 2);
        let titles: Vec<String> = s.columns.iter().map(|c| column_title(&c.signal)).collect();
        assert_eq!(
            titles,
            [
                "Bias calc (V)",
                "Current (A)",
                "LIY 1 omega (A)",
                "LIY 1 omega [bwd] (A)"
            ]
        );
        assert_eq!(s.len(), 5);
        let e = s.energies_ev().unwrap();
        for (j, e) in e.iter().enumerate() {
            assert!((e - (-0.1 + 0.05 * j as f64)).abs() < 1e-12, "{j}: {e}");
        }
        assert_eq!(s.column("liy_1_omega").unwrap().values[2], 3e-12);
        assert!(s.column("LIY 1 omega [bwd]").unwrap().values[0].is_nan());
    }

    #[test]
    fn damaged_files_give_clear_errors() {
        let good = String::from_utf8_lossy(&spectrum_file(4)).into_owned();
        let cases: Vec<(String, &str)> = vec![
            ("hello".into(), "not a Nanonis spectrum"),
            (good.replace("[DATA]", "[DATX]"), "no '[DATA]' line"),
            (
                good[..good.find("[DATA]").unwrap() + 8].into(),
                "no column names",
            ),
            (
                good.rsplit_once("\tNaN")
                    .map(|(a, b)| format!("{a}{b}"))
                    .unwrap(),
                "has 3 values, but the table has 4 columns",
            ),
            (
                good.replacen("NaN", "oops", 1),
                "\"oops\" in column \"LIY 1 omega [bwd] (A)\"",
            ),
            (
                good.replace("Bias calc (V)", "Index"),
                "no bias column in volts",
            ),
        ];
        for (text, want) in cases {
            let r = parse_nanonis_dat(text.as_bytes(), "p.dat");
            let e = match r {
                Ok(s) => s.energies_ev().map(|_| ()).unwrap_err(),
                Err(e) => e,
            };
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn read_nanonis_dat_reads_regular_files_only() {
        let e = read_nanonis_dat(&std::env::temp_dir()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.dat");
        std::fs::write(&p, spectrum_file(3)).unwrap();
        assert_eq!(read_nanonis_dat(&p).unwrap().len(), 3);
    }
}
