//! Tests of the `.3ds` reader on files written here in the documented layout (no real grid file
//! is in the repository): header lines, then big-endian f32 records point by point.

use super::*;

/// What the test writer puts in a file.
#[derive(Clone)]
pub(crate) struct Spec {
    pub cols: usize,
    pub rows: usize,
    pub points: usize,
    /// `Name (unit)` entries of `Channels`.
    pub channels: Vec<&'static str>,
    pub sweep: (f32, f32),
    pub centre: (f64, f64),
    pub size: (f64, f64),
    pub angle_deg: f64,
    /// Record lines bottom to top (Nanonis) rather than top to bottom.
    pub lines_up: bool,
    /// Record points along a line right to left.
    pub reversed: bool,
    /// Write `X (m)`, `Y (m)` parameters.
    pub positions: bool,
    /// Extra header lines (after `Experiment`).
    pub extra: Vec<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            cols: 5,
            rows: 4,
            points: 3,
            channels: vec!["Current (A)", "LIY 1 omega (A)", "LIY 1 omega [bwd] (A)"],
            sweep: (-0.05, 0.05),
            centre: (1.5e-7, -2.0e-7),
            size: (5e-9, 4e-9),
            angle_deg: 30.0,
            lines_up: true,
            reversed: false,
            positions: true,
            extra: Vec::new(),
        }
    }
}

/// The value written for channel `ch`, sweep point `j`, at the point shown at image pixel
/// `(row, col)` (row 0 at the top of the frame): exact in f32 for the sizes used here.
pub(crate) fn truth(ch: usize, j: usize, row: usize, col: usize) -> f32 {
    (ch * 1_000_000 + j * 10_000 + row * 100 + col) as f32
}

/// Z parameter of the point at image pixel `(row, col)`.
fn z_truth(row: usize, col: usize) -> f32 {
    -1e-9 * (row * 10 + col) as f32
}

impl Spec {
    fn params(&self) -> Vec<&'static str> {
        if self.positions {
            vec!["X (m)", "Y (m)", "Z (m)", "Z offset (m)"]
        } else {
            vec!["Z (m)"]
        }
    }

    pub fn header(&self) -> String {
        let mut h = vec![
            format!("Grid dim=\"{} x {}\"", self.cols, self.rows),
            format!(
                "Grid settings={:E};{:E};{:E};{:E};{:E}",
                self.centre.0, self.centre.1, self.size.0, self.size.1, self.angle_deg
            ),
            "Filetype=Linear".into(),
            "Sweep Signal=\"Bias (V)\"".into(),
            "Fixed parameters=\"Sweep Start;Sweep End\"".into(),
            format!("Experiment parameters=\"{}\"", self.params().join(";")),
            format!("# Parameters (4 byte)={}", 2 + self.params().len()),
            format!(
                "Experiment size (bytes)={}",
                self.points * self.channels.len() * 4
            ),
            format!("Points={}", self.points),
            format!("Channels=\"{}\"", self.channels.join(";")),
            "Delay before measuring (s)=0E+0".into(),
            "Experiment=\"Grid Spectroscopy\"".into(),
        ];
        h.extend(self.extra.iter().cloned());
        h.push("Lock-in>Amplitude=4E-3".into());
        h.push(":HEADER_END:".into());
        h.join("\r\n") + "\r\n"
    }

    /// Image pixel `(row, col)` of the `k`-th recorded point.
    fn pixel(&self, k: usize) -> (usize, usize) {
        let (line, along) = (k / self.cols, k % self.cols);
        let row = if self.lines_up {
            self.rows - 1 - line
        } else {
            line
        };
        let col = if self.reversed {
            self.cols - 1 - along
        } else {
            along
        };
        (row, col)
    }

    /// Position `(x, y)` in metres of image pixel `(row, col)`: frame coordinates `u` to the
    /// right, `v` up, rotated clockwise by the angle about the centre.
    pub fn position(&self, row: usize, col: usize) -> (f64, f64) {
        let u = -self.size.0 / 2.0 + (col as f64 + 0.5) * self.size.0 / self.cols as f64;
        let v = self.size.1 / 2.0 - (row as f64 + 0.5) * self.size.1 / self.rows as f64;
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        (self.centre.0 + u * c + v * s, self.centre.1 - u * s + v * c)
    }

    /// The whole file, `n_points` points of data (all when `None`).
    pub fn bytes(&self, n_points: Option<usize>) -> Vec<u8> {
        let mut out = self.header().into_bytes();
        for k in 0..n_points.unwrap_or(self.rows * self.cols) {
            let (row, col) = self.pixel(k);
            let mut rec: Vec<f32> = vec![self.sweep.0, self.sweep.1];
            if self.positions {
                let (x, y) = self.position(row, col);
                rec.extend([x as f32, y as f32, z_truth(row, col), 0.0]);
            } else {
                rec.push(z_truth(row, col));
            }
            for ch in 0..self.channels.len() {
                rec.extend((0..self.points).map(|j| truth(ch, j, row, col)));
            }
            for v in rec {
                out.extend(v.to_be_bytes());
            }
        }
        out
    }
}

fn check_images(spec: &Spec, g: &Grid3ds) {
    for (ch, c) in spec.channels.iter().enumerate() {
        let name = c.rsplit_once(" (").unwrap().0;
        let a = g.channel(name).unwrap();
        assert_eq!(a.dim(), (spec.points, spec.rows, spec.cols));
        for ((j, r, col), &v) in a.indexed_iter() {
            assert_eq!(v, truth(ch, j, r, col), "{name} [{j}, {r}, {col}]");
        }
    }
    let z = g.parameter("Z").unwrap();
    for ((r, c), &v) in z.indexed_iter() {
        assert_eq!(v, z_truth(r, c));
    }
}

#[test]
fn header_fields_sweep_and_values() {
    let spec = Spec::default();
    let g = parse_3ds(&spec.bytes(None), "g.3ds").unwrap();
    assert_eq!(g.shape, (4, 5));
    assert_eq!(g.size_m, (5e-9, 4e-9));
    assert_eq!(g.centre_m, (1.5e-7, -2.0e-7));
    assert_eq!(g.angle_deg, 30.0);
    assert_eq!(g.pixel_size_m(), (1e-9, 1e-9));
    assert!(g.lines_go_up && !g.points_reversed);
    assert_eq!(g.points_in_file, 20);
    let sig = |n: &str, u: &str| Signal {
        name: n.into(),
        unit: u.into(),
    };
    assert_eq!(g.sweep_signal, sig("Bias", "V"));
    assert_eq!(
        g.channels,
        [
            sig("Current", "A"),
            sig("LIY 1 omega", "A"),
            sig("LIY 1 omega [bwd]", "A")
        ]
    );
    assert_eq!(g.parameters[0], sig("Sweep Start", ""));
    assert_eq!(g.parameters[2], sig("X", "m"));
    assert_eq!(g.parameters.len(), 6);
    assert_eq!(g.field("Lock-in>Amplitude"), Some("4E-3"));
    assert_eq!(g.field("Experiment"), Some("Grid Spectroscopy"));
    // Sweep Start/End are stored as f32: compare with their f32 values.
    let (a, b) = (f64::from(-0.05f32), f64::from(0.05f32));
    let want = [a, (a + b) / 2.0, b];
    for (got, want) in g.sweep_values.iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{got} {want}");
    }
    assert_eq!(g.energies_ev(), g.sweep_values);
    assert_eq!(g.channel_index("liy_1_omega"), Some(1));
    assert_eq!(g.channel_index("LIY 1 omega [bwd]"), Some(2));
    check_images(&spec, &g);
    // Positions: row 0 is the top of the frame, column 0 its left edge.
    let (x, y) = (g.parameter("X").unwrap(), g.parameter("Y").unwrap());
    for ((r, c), &xv) in x.indexed_iter() {
        let (px, py) = spec.position(r, c);
        assert_eq!((xv, y[[r, c]]), (px as f32, py as f32));
    }
}

#[test]
fn every_recording_order_gives_the_same_image() {
    // The same surface recorded up or down, left to right or back, at several angles: the
    // directions come from the stored positions and the images agree with the truth.
    for angle in [0.0, 30.0, -75.0, 170.0] {
        for lines_up in [true, false] {
            for reversed in [false, true] {
                let spec = Spec {
                    angle_deg: angle,
                    lines_up,
                    reversed,
                    ..Spec::default()
                };
                let g = parse_3ds(&spec.bytes(None), "g.3ds").unwrap();
                assert_eq!((g.lines_go_up, g.points_reversed), (lines_up, reversed));
                check_images(&spec, &g);
            }
        }
    }
    // Without positions Nanonis' order (upwards, left to right) is assumed.
    let spec = Spec {
        positions: false,
        ..Spec::default()
    };
    let g = parse_3ds(&spec.bytes(None), "g.3ds").unwrap();
    assert!(g.lines_go_up && !g.points_reversed);
    check_images(&spec, &g);
    // A single line and a single point.
    for (rows, cols) in [(1, 6), (3, 1), (1, 1)] {
        let spec = Spec {
            rows,
            cols,
            ..Spec::default()
        };
        check_images(&spec, &parse_3ds(&spec.bytes(None), "g.3ds").unwrap());
    }
}

#[test]
fn aborted_grid_keeps_the_points_it_has() {
    // Nanonis stops writing where an aborted grid stopped: 7 of 20 points (one line and 2).
    let spec = Spec::default();
    let g = parse_3ds(&spec.bytes(Some(7)), "g.3ds").unwrap();
    assert_eq!(g.points_in_file, 7);
    let a = g.channel("LIY 1 omega").unwrap();
    for ((j, r, c), &v) in a.indexed_iter() {
        // Recorded upwards: the bottom line and two points of the one above it.
        let stored = r == 3 || (r == 2 && c < 2);
        if stored {
            assert_eq!(v, truth(1, j, r, c));
        } else {
            assert!(v.is_nan(), "[{j}, {r}, {c}] = {v}");
        }
    }
    assert!(g.lines_go_up);
}

#[test]
fn mls_sweep_from_the_segment_table() {
    // Three segments of 9, 2 and 9 steps sharing their ends: 18 points.
    let spec = Spec {
        points: 18,
        extra: vec![
            "Segment Start (V), Segment End (V), Settling (s), Integration (s), Steps (xn), \
             Lockin, Init. Settling (s)=-100E-3,-20E-3,15E-3,360E-3,9,0E+0,0E+0;\
             -20E-3,20E-3,15E-3,360E-3,2,0E+0,0E+0;20E-3,100E-3,15E-3,360E-3,9,0E+0,0E+0"
                .into(),
        ],
        ..Spec::default()
    };
    let g = parse_3ds(
        &edited(&spec, &[("Filetype=Linear", "Filetype=MLS")]),
        "mls.3ds",
    )
    .unwrap();
    let want: Vec<f64> = (-10..=-2)
        .chain(std::iter::once(2))
        .chain(3..=10)
        .map(|k| k as f64 * 0.01)
        .collect();
    assert_eq!(g.sweep_values.len(), 18);
    for (got, want) in g.sweep_values.iter().zip(&want) {
        assert!((got - want).abs() < 1e-12, "{got} {want}");
    }
    // A table that does not add up to Points leaves the sweep unknown.
    let bad_file = edited(
        &spec,
        &[
            ("Filetype=Linear", "Filetype=MLS"),
            ("360E-3,9,", "360E-3,8,"),
        ],
    );
    let g = parse_3ds(&bad_file, "mls.3ds").unwrap();
    assert!(g.sweep_values.iter().all(|v| v.is_nan()));
}

/// The file of `spec` with the first `from` replaced by `to` in its header, for each pair.
fn edited(spec: &Spec, edits: &[(&str, &str)]) -> Vec<u8> {
    let header = spec.header();
    let mut text = header.clone();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let mut b = text.into_bytes();
    b.extend_from_slice(&spec.bytes(None)[header.len()..]);
    b
}

fn file_with(spec: &Spec, from: &str, to: &str) -> Vec<u8> {
    edited(spec, &[(from, to)])
}

#[test]
fn damaged_files_give_clear_errors() {
    let spec = Spec::default();
    let good = spec.bytes(None);
    let head = spec.header().len();
    let record = 4 * (6 + 3 * 3);
    let mut extra = good.clone();
    extra.extend([0u8; 4]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello".to_vec(), "not a Nanonis .3ds file"),
        (good[..head - 20].to_vec(), "no ':HEADER_END:' line"),
        (good[..head].to_vec(), "0 whole points"),
        (
            good[..head + 7 * record + 5].to_vec(),
            "7 whole points and 5 bytes over",
        ),
        (
            good[..good.len() - 1].to_vec(),
            "describes 20 points (5 x 4)",
        ),
        (extra, "4 bytes over"),
        (
            file_with(&spec, "\"5 x 4\"", "\"five x 4\""),
            "'Grid dim' is \"five x 4\"",
        ),
        (
            file_with(&spec, "\"5 x 4\"", "\"1000000 x 1000000\""),
            "over the",
        ),
        (file_with(&spec, "\"5 x 4\"", "\"0 x 4\""), "from 1 to"),
        (
            file_with(&spec, "Grid settings=", "Grid setting="),
            "no 'Grid settings=' line",
        ),
        (
            file_with(&spec, "5E-9;4E-9", "-5E-9;4E-9"),
            "positive width and height",
        ),
        (
            file_with(&spec, "# Parameters (4 byte)=6", "# Parameters (4 byte)=7"),
            "name 6",
        ),
        (
            file_with(&spec, "Points=3", "Points=99999999999"),
            "'Points' is \"99999999999\"",
        ),
        (
            file_with(
                &spec,
                "Experiment size (bytes)=36",
                "Experiment size (bytes)=40",
            ),
            "= 36",
        ),
        (file_with(&spec, "Points=3", "Points=0"), "at least one"),
        (file_with(&spec, "Channels=\"", "Channels=\";;"), ""),
    ];
    for (b, want) in cases {
        match parse_3ds(&b, "f.3ds") {
            Err(e) => {
                let e = e.to_string();
                assert!(e.starts_with("f.3ds: ") && e.contains(want), "{e}");
            }
            // Empty list entries are skipped: the file stays readable.
            Ok(g) => assert!(want.is_empty() && g.channels.len() == 3),
        }
    }
    let g = parse_3ds(&good, "f.3ds").unwrap();
    let e = g.channel("dIdV").unwrap_err().to_string();
    assert!(
        e.contains("\"dIdV\"") && e.contains("\"LIY 1 omega [bwd]\""),
        "{e}"
    );
    let e = g.parameter("Q").unwrap_err().to_string();
    assert!(e.contains("\"Sweep Start\""), "{e}");
}

#[test]
fn read_3ds_reads_regular_files_only() {
    let dir = std::env::temp_dir().join(format!("qpik-3ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grid.3ds");
    let spec = Spec::default();
    std::fs::write(&path, spec.bytes(None)).unwrap();
    check_images(&spec, &read_3ds(&path).unwrap());
    let e = read_3ds(&dir).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(looks_like_3ds(&spec.bytes(None)));
    assert!(looks_like_3ds(spec.header().as_bytes()));
    assert!(!looks_like_3ds(b":NANONIS_VERSION:\n2"));
}

#[test]
fn fuzz_seed_written_by_python_reads_as_written() {
    // fuzz/seeds/grid3ds_bytes/small.3ds was written by a separate Python script (struct.pack
    // '>f'): 3 x 2 points, lines upwards, value line*100 + point*10 + channel*3 + sweep index.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/grid3ds_bytes/small.3ds");
    let g = read_3ds(&path).unwrap();
    assert_eq!(g.shape, (2, 3));
    assert!(g.lines_go_up && !g.points_reversed);
    assert_eq!(g.angle_deg, 15.0);
    for (ch, name) in ["Current", "LIY 1 omega"].iter().enumerate() {
        let a = g.channel(name).unwrap();
        for ((j, r, c), &v) in a.indexed_iter() {
            let line = 1 - r;
            assert_eq!(
                v,
                (line * 100 + c * 10 + ch * 3 + j) as f32,
                "{name} {j} {r} {c}"
            );
        }
    }
    let z = g.parameter("Z").unwrap();
    assert_eq!(z[[0, 2]], -5e-9f64 as f32);
}

#[test]
fn headers_over_64_kib_are_read() {
    // Long comments and settings push real headers past 65,535 bytes (no 16-bit length).
    let long = "x".repeat(1000);
    let spec = Spec {
        extra: (0..80).map(|i| format!("Comment{i:02}={long}")).collect(),
        ..Spec::default()
    };
    assert!(spec.header().len() > 80_000);
    let g = parse_3ds(&spec.bytes(None), "long.3ds").unwrap();
    check_images(&spec, &g);
    assert_eq!(g.field("Comment79"), Some(long.as_str()));
}

#[test]
fn zero_filled_points_of_an_aborted_grid_are_unmeasured() {
    // Nanonis wrote the whole grid, the last 13 points zeros: same images as a file that
    // stops after 7 points, and the count of points not measured.
    let spec = Spec::default();
    let mut bytes = spec.bytes(Some(7));
    let record = 4 * (6 + 3 * 3);
    bytes.resize(bytes.len() + 13 * record, 0);
    let g = parse_3ds(&bytes, "g.3ds").unwrap();
    let short = parse_3ds(&spec.bytes(Some(7)), "g.3ds").unwrap();
    assert_eq!((g.points_in_file, g.unmeasured_points), (7, 13));
    assert_eq!((short.points_in_file, short.unmeasured_points), (7, 13));
    let (a, b) = (
        g.channel("Current").unwrap(),
        short.channel("Current").unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!(x == y || (x.is_nan() && y.is_nan()), "{x} {y}");
    }
    assert_eq!(a.iter().filter(|v| v.is_nan()).count(), 13 * 3);
    // Orientation still comes from the measured points' positions.
    assert!(g.lines_go_up && !g.points_reversed);
    // A complete grid has none; a file of zeros recorded nothing.
    assert_eq!(
        parse_3ds(&spec.bytes(None), "g.3ds")
            .unwrap()
            .unmeasured_points,
        0
    );
    let mut zeros = spec.header().into_bytes();
    zeros.resize(zeros.len() + 20 * record, 0);
    let e = parse_3ds(&zeros, "z.3ds").unwrap_err().to_string();
    assert!(e.contains("recorded nothing"), "{e}");
}

#[test]
fn forward_only_sweeps_have_no_backward_channel() {
    let spec = Spec {
        channels: vec!["Current (A)", "LIY 1 omega (A)"],
        ..Spec::default()
    };
    let g = parse_3ds(&spec.bytes(None), "fwd.3ds").unwrap();
    check_images(&spec, &g);
    assert!(g.channel_index("LIY 1 omega [bwd]").is_none());
    let e = g.channel("LIY 1 omega [bwd]").unwrap_err().to_string();
    assert!(e.contains("\"LIY 1 omega\""), "{e}");
}

#[test]
fn mls_step_counts_that_overflow_leave_the_sweep_unknown() {
    // Steps summing past 2^64 once wrapped and then panicked ("capacity overflow").
    for steps in [
        "18446744073709551615",
        "18446744073709551614",
        "9223372036854775808",
    ] {
        let spec = Spec {
            points: 3,
            extra: vec![format!(
                "Segment Start (V), Segment End (V), Settling (s), Integration (s), Steps (xn)=\
                 -1E-1,0,1E-3,1E-3,2;0,1E-1,1E-3,1E-3,{steps}"
            )],
            ..Spec::default()
        };
        let bytes = edited(&spec, &[("Filetype=Linear", "Filetype=MLS")]);
        let g = parse_3ds(&bytes, "mls.3ds").unwrap();
        assert!(g.sweep_values.iter().all(|v| v.is_nan()), "{steps}");
    }
}

/// A 40,000 x 40,000 grid of one sweep point and no parameters, aborted after one point.
fn huge_aborted_grid() -> Vec<u8> {
    let mut b = b"Grid dim=\"40000 x 40000\"\r\n\
        Grid settings=0;0;1E-6;1E-6;0\r\n\
        Filetype=Linear\r\n\
        Sweep Signal=\"Bias (V)\"\r\n\
        Fixed parameters=\"\"\r\n\
        Experiment parameters=\"\"\r\n\
        # Parameters (4 byte)=0\r\n\
        Experiment size (bytes)=4\r\n\
        Points=1\r\n\
        Channels=\"LIY 1 omega (A)\"\r\n\
        :HEADER_END:\r\n"
        .to_vec();
    b.extend(1.5f32.to_be_bytes());
    b
}

#[test]
fn a_small_file_declaring_a_huge_grid_is_refused_by_the_memory_budget() {
    let bytes = huge_aborted_grid();
    assert!(bytes.len() < 400, "{}", bytes.len());
    // 1.6e9 points x 4 bytes would be expanded into each channel image: over 4 GiB.
    let e = parse_3ds(&bytes, "huge.3ds").unwrap_err();
    assert!(
        matches!(&e, Error::OverBudget(m) if m.contains("huge.3ds") && m.contains("memory budget")),
        "{e}"
    );
    // A larger budget (--memory-budget) lets it through: the one point is read, the rest NaN.
    let big = MemoryBudget::new(8 << 30).unwrap();
    let g = parse_3ds_within(&bytes, "huge.3ds", &big).unwrap();
    assert_eq!(
        (g.points_in_file, g.unmeasured_points),
        (1, 1_600_000_000 - 1)
    );
    // Through the map loader, which takes the budget from MapSource (the CLI's flag).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.3ds");
    std::fs::write(&p, &bytes).unwrap();
    let source = crate::data::map_file::MapSource {
        memory_budget: MemoryBudget::new(1 << 30).unwrap(),
        ..Default::default()
    };
    let e = crate::data::map_file::load_map(&p, &source).unwrap_err();
    assert!(matches!(e, Error::OverBudget(_)), "{e}");
}
