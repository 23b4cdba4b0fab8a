//! Tests of the Createc reader on files written here in the documented layout (no real Createc
//! file is in the repository), and the fixture Gwyddion's own loader is checked against.

use std::io::Write;

use super::*;

/// What the test writer puts in a file.
#[derive(Clone)]
pub(crate) struct Spec {
    pub cols: usize,
    pub rows: usize,
    /// Frames per direction.
    pub signals: usize,
    pub both: bool,
    /// `Channelselectval` (None: not written).
    pub select: Option<u32>,
    /// Trailing lines left at 0 in every frame (an aborted scan).
    pub missing: usize,
    pub compressed: bool,
    /// Header lines after the sizes.
    pub extra: Vec<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            cols: 8,
            rows: 6,
            signals: 3,
            both: true,
            select: Some(1 | 2 | 4),
            missing: 0,
            compressed: true,
            // Consistent with Gwyddion's formulas: 8 x 2048 steps x 20 V / 2^20 x 10 x 12.8 A/V
            // = 40 A; Dacto[A]z = 20 V / 2^20 x 16 A/V.
            extra: [
                "Length x[A]=40",
                "Length y[A]=30",
                "DAC-Type=20bit",
                "Delta X / Delta X [Dac]=2048",
                "Delta Y / Delta Y [Dac]=2048",
                "GainX / GainX=10",
                "GainY / GainY=10",
                "GainZ / GainZ=10",
                "Xpiezoconst=12.8",
                "YPiezoconst=12.8",
                "ZPiezoconst=16",
                "Dacto[A]xy=0.00024414",
                "Dacto[A]z=0.00030517578125",
                "Gainpreamp / GainPre 10^=9",
                "BiasVoltage / BiasVolt.[mV]=-250",
                "Rotation / Rotation=30",
                "Scanrotoffx / OffsetX=1000",
                "Scanrotoffy / OffsetY=-2000",
                "Titel / Titel=A\u{c5} scan",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Spec {
    fn frames(&self) -> usize {
        self.signals * if self.both { 2 } else { 1 }
    }

    /// Stored value of frame `f` at recorded line `r`, point `c` (exact in f32, never 0).
    pub fn raw(f: usize, r: usize, c: usize) -> f32 {
        (1 + f * 10_000 + r * 100 + c) as f32
    }

    /// The bytes after the header, uncompressed: the unused value, then every frame.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = 7.0f32.to_le_bytes().to_vec();
        for f in 0..self.frames() {
            for r in 0..self.rows {
                for c in 0..self.cols {
                    let v = if r >= self.rows - self.missing {
                        0.0
                    } else {
                        Self::raw(f, r, c)
                    };
                    out.extend(v.to_le_bytes());
                }
            }
        }
        out
    }

    pub fn header(&self) -> Vec<u8> {
        let magic = if self.compressed {
            "[Paramco32]"
        } else {
            "[Paramet32]"
        };
        let mut lines = vec![
            magic.to_string(),
            format!("Num.X / Num.X={}", self.cols),
            format!("Num.Y / Num.Y={}", self.rows),
            format!("Channels / Channels={}", self.frames()),
            format!("Scanmode / ScanXMode={}", if self.both { 2 } else { 0 }),
        ];
        if let Some(s) = self.select {
            lines.push(format!("Channelselectval / Channelselectval={s}"));
        }
        lines.extend(self.extra.iter().cloned());
        // Latin-1, as Createc writes it.
        let mut h: Vec<u8> = lines
            .join("\r\n")
            .chars()
            .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
            .collect();
        h.extend_from_slice(b"\r\n");
        assert!(h.len() <= HEADER_BYTES);
        h.resize(HEADER_BYTES, 0);
        h
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        if self.compressed {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            z.write_all(&self.payload()).unwrap();
            out.extend(z.finish().unwrap());
        } else {
            out.extend(self.payload());
        }
        out
    }
}

fn parse(bytes: &[u8]) -> Result<CreatecFile> {
    parse_createc(bytes, "s.dat", &MemoryBudget::default())
}

#[test]
fn frames_units_pixel_size_and_directions() {
    let spec = Spec::default();
    for compressed in [true, false] {
        let f = parse(
            &Spec {
                compressed,
                ..spec.clone()
            }
            .bytes(),
        )
        .unwrap();
        assert_eq!(f.shape, (6, 8));
        // 40 A over 8 points, 30 A over 6 lines: 5 A pixels.
        assert_eq!(f.pixel_size_m(), (5e-10, 5e-10));
        assert_eq!(f.bias_v, Some(-0.25));
        assert_eq!(f.angle_deg, 30.0);
        // Offsets in DAC steps of Dacto[A]xy Angstrom.
        let (x, y) = f.offset_m;
        assert!(
            (x - 2.4414e-11).abs() < 1e-24 && (y + 4.8828e-11).abs() < 1e-24,
            "{x} {y}"
        );
        assert_eq!(f.missing_lines, 0);
        assert_eq!(f.field("Titel"), Some("A\u{c5} scan"));
        let kinds: Vec<(&str, &str, Direction)> = f
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.unit.as_str(), i.direction))
            .collect();
        use Direction::{Backward as B, Forward as F};
        assert_eq!(
            kinds,
            [
                ("Z", "m", F),
                ("Current", "A", F),
                ("ADC1", "V", F),
                ("Z", "m", B),
                ("Current", "A", B),
                ("ADC1", "V", B)
            ]
        );
        // Hand-computed scales: Z 0.00030517578125 A x GainZ 10 a step; current 20 V / 2^20
        // over 10^9 V/A; ADC 20 V / 2^20.
        let z = 0.0030517578125e-10;
        let step_v = 20.0 / 1_048_576.0;
        let scales = [z, step_v / 1e9, step_v];
        for (k, im) in f.images.iter().enumerate() {
            for ((r, c), &v) in im.data.indexed_iter() {
                // Backward frames are stored right to left and mirrored back.
                let sc = if k < 3 { c } else { 7 - c };
                let want = (f64::from(Spec::raw(k, r, sc)) * scales[k % 3]) as f32;
                assert_eq!(v, want, "frame {k} ({r}, {c})");
            }
        }
    }
}

#[test]
fn height_from_the_piezo_constant_without_dacto() {
    let mut spec = Spec::default();
    spec.extra.retain(|l| !l.starts_with("Dacto[A]z"));
    let f = parse(&spec.bytes()).unwrap();
    // 20 V / 2^20 x 16 A/V x GainZ 10 = the Dacto[A]z x GainZ of the default spec.
    let want = (f64::from(Spec::raw(0, 2, 3)) * 0.0030517578125e-10) as f32;
    assert_eq!(f.images[0].data[[2, 3]], want);
}

#[test]
fn unnamed_frames_keep_the_controller_units() {
    let spec = Spec {
        select: None,
        both: false,
        signals: 2,
        ..Spec::default()
    };
    let f = parse(&spec.bytes()).unwrap();
    let names: Vec<(&str, &str)> = f
        .images
        .iter()
        .map(|i| (i.name.as_str(), i.unit.as_str()))
        .collect();
    assert_eq!(names, [("Z", "m"), ("Channel 2", "")]);
    assert_eq!(f.images[1].data[[1, 2]], Spec::raw(1, 1, 2));
    assert!(f.images.iter().all(|i| i.direction == Direction::Forward));
}

#[test]
fn aborted_scan_trailing_zero_lines_are_missing() {
    let spec = Spec {
        missing: 2,
        ..Spec::default()
    };
    let f = parse(&spec.bytes()).unwrap();
    assert_eq!(f.missing_lines, 2);
    for im in &f.images {
        for ((r, _), v) in im.data.indexed_iter() {
            assert_eq!(v.is_nan(), r >= 4, "{} row {r}", im.name);
        }
    }
    // A last line that is 0 in one frame only is data, not a missing line.
    let mut payload = Spec::default().payload();
    let last_line = 4 + 4 * (5 * 8);
    for b in &mut payload[last_line..last_line + 4 * 8] {
        *b = 0;
    }
    let mut bytes = Spec {
        compressed: false,
        ..Spec::default()
    }
    .header();
    bytes.extend(payload);
    let f = parse(&bytes).unwrap();
    assert_eq!(f.missing_lines, 0);
    assert_eq!(f.images[0].data[[5, 0]], 0.0);
    // Nothing recorded at all is refused.
    let e = parse(
        &Spec {
            missing: 6,
            ..Spec::default()
        }
        .bytes(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("recorded nothing"), "{e}");
}

#[test]
fn truncated_and_damaged_data_are_refused() {
    let full = Spec::default().bytes();
    let cut = &full[..HEADER_BYTES + (full.len() - HEADER_BYTES) / 2];
    let e = parse(cut).unwrap_err().to_string();
    assert!(
        e.starts_with("s.dat: ") && e.contains("truncated file?"),
        "{e}"
    );
    let plain = Spec {
        compressed: false,
        ..Spec::default()
    }
    .bytes();
    let e = parse(&plain[..plain.len() - 4]).unwrap_err().to_string();
    assert!(e.contains("the header promises"), "{e}");
    let mut garbled = full.clone();
    for b in &mut garbled[HEADER_BYTES + 2..HEADER_BYTES + 40] {
        *b ^= 0x5a;
    }
    assert!(parse(&garbled).is_err());
    let e = parse(&full[..1000]).unwrap_err().to_string();
    assert!(e.contains("shorter than the 16384-byte header"), "{e}");
    let e = parse(b"[Parameter]\r\nNum.X=2").unwrap_err().to_string();
    assert!(e.contains("16-bit '[Parameter]'"), "{e}");
    let e = parse(b"hello").unwrap_err().to_string();
    assert!(e.contains("not a Createc image file"), "{e}");
}

#[test]
fn header_sizes_are_checked_before_allocating() {
    let with = |from: &str, to: &str| {
        let spec = Spec::default();
        let mut h = String::from_utf8_lossy(&spec.header()).into_owned();
        assert!(h.contains(from));
        h = h.replace(from, to);
        let mut b = h.into_bytes();
        b.truncate(HEADER_BYTES);
        b.resize(HEADER_BYTES, 0);
        b.extend(&spec.bytes()[HEADER_BYTES..]);
        parse(&b)
    };
    // 1e6 x 1e6 x 6 frames: terabytes, refused by the budget with a small file in hand.
    let spec = Spec::default();
    let mut h = String::from_utf8_lossy(&spec.header()).into_owned();
    h = h
        .replace("Num.X / Num.X=8", "Num.X / Num.X=1000000")
        .replace("Num.Y / Num.Y=6", "Num.Y / Num.Y=1000000");
    let mut b = h.into_bytes();
    b.resize(HEADER_BYTES, 0);
    b.extend(&spec.bytes()[HEADER_BYTES..]);
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, Error::OverBudget(m) if m.contains("memory budget")),
        "{e}"
    );
    // A small budget refuses what the default allows.
    let small = MemoryBudget::new(1 << 20).unwrap();
    let big = Spec {
        cols: 256,
        rows: 256,
        ..Spec::default()
    };
    assert!(parse_createc(&big.bytes(), "b.dat", &small).is_err());
    assert!(parse(&big.bytes()).is_ok());
    for (from, to, want) in [
        ("Num.X / Num.X=8", "Num.X / Num.X=0", "from 1 to 1000000"),
        ("Num.X / Num.X=8", "Num.X / Num.X=-3", "from 1 to 1000000"),
        (
            "Channels / Channels=6",
            "Channels / Channels=9999",
            "from 1 to 256",
        ),
        (
            "Channels / Channels=6",
            "Channels / Channels=5",
            "even number",
        ),
        ("Length x[A]=40", "Length x[A]=nan", "expected a number"),
        ("Length x[A]=40", "Length x[A]=-4", "positive length"),
        ("Num.Y / Num.Y=6", "Nope=6", "no 'Num.Y=' line"),
    ] {
        let e = with(from, to).unwrap_err().to_string();
        assert!(e.contains(want), "{from} -> {to}: {e}");
    }
}

#[test]
fn inflation_stops_at_what_the_header_promises() {
    // A stream that inflates to 64 MiB past the frames (a zip bomb after real data): read,
    // the excess never inflated beyond the padding allowance.
    let spec = Spec::default();
    let mut payload = spec.payload();
    payload.resize(payload.len() + (64 << 20), 0);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
    z.write_all(&payload).unwrap();
    let mut bytes = spec.header();
    bytes.extend(z.finish().unwrap());
    assert!(bytes.len() < 1 << 20);
    let f = parse(&bytes).unwrap();
    assert_eq!(
        f.images[0].data[[0, 0]],
        parse(&spec.bytes()).unwrap().images[0].data[[0, 0]]
    );
    let limit = 4 + 6 * 48 * 4 + PADDING_BYTES;
    let raw = inflate_bounded(&bytes[HEADER_BYTES..], true, 4 + 6 * 48 * 4, "b").unwrap();
    assert_eq!(raw.len(), limit);
}

#[test]
fn read_createc_reads_regular_files_only() {
    let budget = MemoryBudget::default();
    let e = read_createc(&std::env::temp_dir(), &budget).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.dat");
    std::fs::write(&p, Spec::default().bytes()).unwrap();
    assert_eq!(read_createc(&p, &budget).unwrap().images.len(), 6);
    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo.dat");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_createc(&fifo, &budget).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}

/// The fixture Gwyddion's Createc module reads in `plugins/gwyddion/tests/gwy_createc.c`:
/// the default spec with its last line unreached, and what qpik reads from it.
fn gwyddion_fixture() -> (Vec<u8>, String) {
    let spec = Spec {
        missing: 1,
        ..Spec::default()
    };
    let bytes = spec.bytes();
    let f = parse(&bytes).unwrap();
    let (rows, cols) = f.shape;
    let z_step = 0.0030517578125e-10;
    let mut t = format!(
        "qpik-createc-expected 1\nshape {rows} {cols}\nreal_m {:e} {:e}\nz_m_per_step {z_step:e}\nframes {}\n",
        f.range_m.0,
        f.range_m.1,
        f.images.len()
    );
    let step_v = 20.0 / 1_048_576.0;
    for im in &f.images {
        let scale = match im.name.as_str() {
            "Z" => z_step,
            "Current" => step_v / 1e9,
            _ => step_v,
        };
        t += &format!(
            "frame {} {} {} {scale:e}\n",
            im.name,
            im.unit,
            im.direction.as_str()
        );
        // In file order (a backward frame as stored, right to left).
        for r in 0..rows {
            let line: Vec<String> = (0..cols)
                .map(|c| {
                    let c = match im.direction {
                        Direction::Forward => c,
                        Direction::Backward => cols - 1 - c,
                    };
                    format!("{:e}", im.data[[r, c]])
                })
                .collect();
            t += &line.join(" ");
            t.push('\n');
        }
    }
    (bytes, t)
}

/// The committed fixture holds what the writer writes (compared inflated: the zlib stream's
/// bytes depend on the library version) and the expected values are qpik's reading of it.
/// `QPIK_WRITE_FIXTURES=1 cargo test --release --lib data::createc` rewrites both.
#[test]
fn gwyddion_fixture_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (bytes, expected) = gwyddion_fixture();
    let (dat, txt) = (
        dir.join("createc_synthetic.dat"),
        dir.join("createc_synthetic.expected"),
    );
    if std::env::var_os("QPIK_WRITE_FIXTURES").is_some() {
        std::fs::write(&dat, &bytes).unwrap();
        std::fs::write(&txt, &expected).unwrap();
    }
    let committed = std::fs::read(&dat).unwrap();
    assert_eq!(committed[..HEADER_BYTES], bytes[..HEADER_BYTES]);
    let inflate = |b: &[u8]| {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&b[HEADER_BYTES..])
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    assert_eq!(inflate(&committed), inflate(&bytes));
    assert_eq!(std::fs::read_to_string(&txt).unwrap(), expected);
}
