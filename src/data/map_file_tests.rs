//! Tests of [`load_map`] and [`load_channel`] on the real FeSe scan, the tiny qpik dataset,
//! `.npy` files and grids written in the `.3ds` layout.

use super::*;
use crate::data::nanonis3ds::tests::{Spec, truth};
use ndarray::{Array, Array3, Axis};
use std::path::PathBuf;

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A fresh folder for one test's files (removed by the test).
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qpik-mapfile-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn source(channel: Option<&str>, direction: Direction, index: Option<usize>) -> MapSource {
    MapSource {
        channel: channel.map(str::to_string),
        direction,
        index,
        ..MapSource::default()
    }
}

#[test]
fn fese_scan_default_channel_and_topography() {
    let path = data_file("FeSe_topography.sxm");
    assert_eq!(detect_format(&path).unwrap(), MapFormat::Sxm);
    let scan = sxm::read_sxm(&path).unwrap();
    let loaded = load_map(&path, &MapSource::default()).unwrap();
    assert!(loaded.mask.is_none() && loaded.positions.is_none());
    let m = &loaded.map;
    let liy = &scan.image("LIY_1_omega", Direction::Forward).unwrap().data;
    assert_eq!(m.data.dim(), (1, 224, 224));
    assert_eq!(m.data.index_axis(Axis(0), 0), liy);
    assert!(
        (m.pixel_size_m - 20e-9 / 224.0).abs() < 1e-20,
        "{}",
        m.pixel_size_m
    );
    assert_eq!(m.value_unit, "A");
    assert_eq!(m.energies_ev, [0.045]);
    assert!(m.source.contains("LIY_1_omega (forward)"), "{}", m.source);

    let back = load_map(&path, &source(None, Direction::Backward, None)).unwrap();
    let liy_bw = &scan.image("LIY_1_omega", Direction::Backward).unwrap().data;
    assert_eq!(back.map.data.index_axis(Axis(0), 0), liy_bw);

    let z = load_channel(&path, "Z", Direction::Forward).unwrap();
    let z_img = &scan.image("Z", Direction::Forward).unwrap().data;
    assert_eq!(z.data.index_axis(Axis(0), 0), z_img);
    assert_eq!(z.value_unit, "m");
    assert_eq!(z.pixel_size_m, m.pixel_size_m);
    let cur = load_map(&path, &source(Some("current"), Direction::Forward, None)).unwrap();
    assert_eq!(cur.map.value_unit, "A");
    assert_eq!(
        cur.map.data.index_axis(Axis(0), 0),
        scan.image("Current", Direction::Forward).unwrap().data
    );

    let e = load_channel(&path, "dIdV", Direction::Forward)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("FeSe_topography.sxm")
            && e.contains("\"dIdV\"")
            && e.contains("LIY_1_omega (forward)")
            && e.contains("Z (backward)"),
        "{e}"
    );
    let e = load_map(&path, &source(None, Direction::Forward, Some(0)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("observation index does not apply"), "{e}");
}

#[test]
fn scans_with_other_pixels_or_no_lockin() {
    let dir = scratch("sxm");
    let bytes = std::fs::read(data_file("FeSe_topography.sxm")).unwrap();
    let end = bytes.windows(2).position(|w| w == b"\x1a\x04").unwrap();
    let edit = |from: &str, to: &str| {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        assert!(head.contains(from), "{from}");
        let mut b = head.replacen(from, to, 1).into_bytes();
        b.extend_from_slice(&bytes[end..]);
        b
    };
    // 20 x 21 nm over 224 x 224 pixels: 5% apart.
    let p = dir.join("oblong.sxm");
    std::fs::write(
        &p,
        edit("2.000000E-8           2.000000E-8", "2.0E-8 2.1E-8"),
    )
    .unwrap();
    let e = load_map(&p, &MapSource::default()).unwrap_err().to_string();
    assert!(
        e.contains("square pixels") && e.contains("9.375e-11"),
        "{e}"
    );
    // 0.5% apart is accepted, at the mean size.
    std::fs::write(
        &p,
        edit("2.000000E-8           2.000000E-8", "2.0E-8 2.01E-8"),
    )
    .unwrap();
    let m = load_map(&p, &MapSource::default()).unwrap().map;
    assert!((m.pixel_size_m - 2.005e-8 / 224.0).abs() < 1e-20);
    // No lock-in channel: the first channel. The extension does not decide the format.
    let p = dir.join("renamed.npy");
    std::fs::write(&p, edit("LIY_1_omega", "Other_1")).unwrap();
    let m = load_map(&p, &MapSource::default()).unwrap().map;
    assert_eq!(m.value_unit, "A");
    assert!(
        m.source.ends_with(": LIY_n_omega (forward)"),
        "{}",
        m.source
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn qpik_dataset_observation_mask_and_positions() {
    let path = data_file("tiny-dataset.h5");
    assert_eq!(detect_format(&path).unwrap(), MapFormat::Dataset);
    let e = load_map(&path, &MapSource::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds 30 observations") && e.contains("0 to 29"),
        "{e}"
    );
    let e = load_map(&path, &source(None, Direction::Forward, Some(30)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("observation 30 asked for"), "{e}");
    let e = load_map(&path, &source(Some("Z"), Direction::Forward, Some(1)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("a channel does not apply"), "{e}");
    let e = load_channel(&path, "Z", Direction::Forward)
        .unwrap_err()
        .to_string();
    assert!(e.contains("without named channels"), "{e}");

    let loaded = load_map(&path, &source(None, Direction::Forward, Some(7))).unwrap();
    let reader = DatasetReader::open_in_process(&path).unwrap();
    let table = reader.read_observations(7..8).unwrap();
    assert_eq!(loaded.map.data, table.observations);
    assert_eq!(
        loaded.mask.as_ref().unwrap(),
        table.masks.index_axis(Axis(0), 0)
    );
    let want: Vec<[f64; 2]> = table
        .positions
        .index_axis(Axis(0), 0)
        .rows()
        .into_iter()
        .filter(|p| !p[0].is_nan())
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let got = loaded.positions.unwrap();
    assert!(!got.is_empty());
    assert_eq!(got, want);
    // Every defect inside the frame sits on a marked pixel of the mask (its nearest pixel).
    let mask = loaded.mask.as_ref().unwrap();
    let (h, w) = mask.dim();
    let mut inside = 0;
    for [r, c] in &got {
        let (r, c) = (r.round(), c.round());
        if r >= 0.0 && c >= 0.0 && (r as usize) < h && (c as usize) < w {
            assert_eq!(mask[[r as usize, c as usize]], 1, "{r} {c}");
            inside += 1;
        }
    }
    assert!(inside > 0);
    let px = reader.info().pixel_size_m;
    let px = if px.is_finite() {
        px
    } else {
        reader.kernels().pixel_size_m[table.kernel_index[0] as usize]
    };
    assert!(px > 0.0);
    assert_eq!(loaded.map.pixel_size_m, px);
    assert!(loaded.map.energies_ev[0].is_nan());
}

#[test]
fn npy_images_and_stacks_in_either_order() {
    let dir = scratch("npy");
    let img = Array::from_shape_fn((3, 5), |(r, c)| (r * 10 + c) as f32);
    let stack = Array::from_shape_fn((4, 3, 5), |(e, r, c)| (e * 100 + r * 10 + c) as f32);
    for fortran in [false, true] {
        let p = dir.join("img.npy");
        npy::write_npy_f32(&p, img.view().into_dyn(), fortran).unwrap();
        let m = load_map(&p, &MapSource::default()).unwrap().map;
        assert_eq!(m.data, img.clone().insert_axis(Axis(0)));
        assert!(m.pixel_size_m.is_nan() && m.value_unit.is_empty());
        assert_eq!(m.energies_ev.len(), 1);
        let p = dir.join("stack.dat");
        npy::write_npy_f32(&p, stack.view().into_dyn(), fortran).unwrap();
        assert_eq!(detect_format(&p).unwrap(), MapFormat::Npy);
        let m = load_map(&p, &MapSource::default()).unwrap().map;
        assert_eq!(m.data, stack);
        assert_eq!(m.energies_ev.len(), 4);
        assert!(m.energies_ev.iter().all(|e| e.is_nan()));
    }
    let p = dir.join("img.npy");
    for (s, want) in [
        (source(Some("Z"), Direction::Forward, None), "a channel"),
        (
            source(None, Direction::Backward, None),
            "backward direction",
        ),
        (
            source(None, Direction::Forward, Some(0)),
            "observation index",
        ),
    ] {
        let e = load_map(&p, &s).unwrap_err().to_string();
        assert!(e.contains("img.npy") && e.contains(want), "{e}");
    }
    let unknown = dir.join("notes.sxm");
    std::fs::write(&unknown, "hello, world").unwrap();
    let e = load_map(&unknown, &MapSource::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a map file") && e.contains("\"hello, world\""),
        "{e}"
    );
    let e = load_map(&dir, &MapSource::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grid_default_lockin_channel_and_topography() {
    let dir = scratch("3ds");
    let spec = Spec::default(); // Current, LIY 1 omega, LIY 1 omega [bwd]; 5 x 4 points of 1 nm
    let p = dir.join("grid.3ds");
    std::fs::write(&p, spec.bytes(None)).unwrap();
    assert_eq!(detect_format(&p).unwrap(), MapFormat::Grid3ds);
    let want = |ch: usize| {
        Array3::from_shape_fn((spec.points, spec.rows, spec.cols), |(j, r, c)| {
            truth(ch, j, r, c)
        })
    };
    let m = load_map(&p, &MapSource::default()).unwrap().map;
    assert_eq!(m.data, want(1));
    assert_eq!(m.value_unit, "A");
    assert!((m.pixel_size_m - 1e-9).abs() < 1e-24);
    let (a, b) = (f64::from(-0.05f32), f64::from(0.05f32));
    assert_eq!(m.energies_ev, [a, a + (b - a) / 2.0, b]);
    assert!(m.source.ends_with("grid.3ds: LIY 1 omega"), "{}", m.source);
    let back = load_map(&p, &source(None, Direction::Backward, None)).unwrap();
    assert_eq!(back.map.data, want(2));
    let back = load_map(&p, &source(Some("LIY_1_omega"), Direction::Backward, None)).unwrap();
    assert_eq!(back.map.data, want(2));
    assert_eq!(
        load_channel(&p, "current", Direction::Forward)
            .unwrap()
            .data,
        want(0)
    );
    let z = load_channel(&p, "Z", Direction::Forward).unwrap();
    assert_eq!(z.data.dim(), (1, 4, 5));
    assert_eq!(z.value_unit, "m");
    assert_eq!(z.data[[0, 1, 2]], -1e-9 * 12.0);
    let e = load_map(&p, &source(Some("Current"), Direction::Backward, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("grid.3ds") && e.contains("\"Current\"") && e.contains("LIY 1 omega [bwd]"),
        "{e}"
    );
    // Without a lock-in channel the first one; rectangular pixels are refused.
    let spec2 = Spec {
        channels: vec!["Current (A)", "Bias (V)"],
        size: (5e-9, 6e-9),
        ..Spec::default()
    };
    std::fs::write(&p, spec2.bytes(None)).unwrap();
    let e = load_map(&p, &MapSource::default()).unwrap_err().to_string();
    assert!(e.contains("square pixels"), "{e}");
    let spec3 = Spec {
        size: (5e-9, 4e-9),
        ..spec2
    };
    std::fs::write(&p, spec3.bytes(None)).unwrap();
    let m = load_map(&p, &MapSource::default()).unwrap().map;
    assert!(m.source.ends_with(": Current"), "{}", m.source);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn createc_scan_default_channel_topography_and_abort() {
    use crate::data::createc::tests::Spec;
    let dir = tempfile::tempdir().unwrap();
    // Named .dat like a Nanonis spectrum: the content, not the name, tells the format.
    let p = dir.path().join("scan.dat");
    let spec = Spec {
        missing: 1,
        ..Spec::default()
    };
    std::fs::write(&p, spec.bytes()).unwrap();
    assert_eq!(detect_format(&p).unwrap(), MapFormat::Createc);
    // Default: the ADC channel (the lock-in), forward; 5 A pixels; bias -250 mV.
    let m = load_map(&p, &MapSource::default()).unwrap().map;
    assert_eq!(m.data.dim(), (1, 6, 8));
    assert_eq!(m.value_unit, "V");
    assert!((m.pixel_size_m - 5e-10).abs() < 1e-22);
    assert_eq!(m.energies_ev, [-0.25]);
    assert!(
        m.source.contains("ADC1 (forward)") && m.source.contains("last 1 of 6 lines"),
        "{}",
        m.source
    );
    assert!(m.data[[0, 5, 0]].is_nan() && m.data[[0, 4, 0]].is_finite());
    let z = load_channel(&p, "z", Direction::Backward).unwrap();
    assert_eq!(z.value_unit, "m");
    let want = (f64::from(Spec::raw(3, 1, 7)) * 0.0030517578125e-10) as f32;
    assert_eq!(z.data[[0, 1, 0]], want);
    let e = load_map(&p, &source(Some("LIY"), Direction::Forward, None)).unwrap_err();
    assert!(
        e.to_string().contains("the Createc scan has Z (forward)"),
        "{e}"
    );
    let small = MapSource {
        memory_budget: crate::budget::MemoryBudget::new(1 << 20).unwrap(),
        ..MapSource::default()
    };
    let big = Spec {
        cols: 512,
        rows: 512,
        ..Spec::default()
    };
    std::fs::write(&p, big.bytes()).unwrap();
    let e = load_map(&p, &small).unwrap_err();
    assert!(matches!(e, crate::Error::OverBudget(_)), "{e}");
    // A Nanonis point spectrum, also .dat, is named as such.
    std::fs::write(&p, "Experiment\tbias spectroscopy\t\r\n[DATA]\r\n").unwrap();
    let e = load_map(&p, &MapSource::default()).unwrap_err();
    assert!(e.to_string().contains("a Nanonis point spectrum"), "{e}");
}
