//! `qpik simulate observation|dataset --preset real-scan` end to end: the files read back
//! with their truth, `qpik show` draws them, seeds reproduce, misuse is refused.

use qpik::data::hdf5_io::read_dataset;
use qpik::synthesis::real_scan::{RealScanConfig, read_real_scan, real_scan, score_blind};
use std::process::Output;

mod common;
use common::{qpik, tempdir};

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_real_scan_observation_is_the_library_map_with_its_truth_and_shows() {
    let d = tempdir("real-scan-obs");
    let args = [
        "simulate",
        "observation",
        "--preset",
        "real-scan",
        "--size",
        "96",
        "--seed",
        "3",
        "-o",
        "obs.h5",
    ];
    let text = ok(&qpik(&args, &d));
    assert!(
        text.contains("adatoms") && text.contains("ring period"),
        "{text}"
    );
    assert!(d.join("obs.png").exists());
    let ds = read_dataset(&d.join("obs.h5")).unwrap();
    assert_eq!(ds.observations.observations.dim(), (1, 96, 96));
    assert_eq!(ds.kernels.names.len(), 2);
    let from_file = read_real_scan(&d.join("obs.h5"), 0).unwrap();
    let direct = real_scan(
        &RealScanConfig {
            size: 96,
            ..RealScanConfig::default()
        },
        3,
    )
    .unwrap();
    assert_eq!(from_file.map, direct.map);
    assert_eq!(from_file.kernels, direct.kernels);
    assert_eq!(from_file.excluded, direct.excluded);
    let perfect = score_blind(
        &from_file,
        &from_file.seen_positions(),
        &from_file.kernels[0],
        None,
    )
    .unwrap();
    assert_eq!(perfect.recall_2px, 1.0);
    let shown = ok(&qpik(&["show", "obs.h5", "-o", "shown.png"], &d));
    assert!(d.join("shown.png").exists(), "{shown}");
    // .npy: the map alone.
    let mut npy = args.to_vec();
    npy[9] = "map.npy";
    ok(&qpik(&npy, &d));
    let map = qpik::data::npy::read_f32(&d.join("map.npy")).unwrap();
    assert_eq!(map, direct.map);
}

#[test]
fn a_real_scan_dataset_holds_maps_of_successive_seeds_on_another_surface() {
    let d = tempdir("real-scan-ds");
    let text = ok(&qpik(
        &[
            "simulate",
            "dataset",
            "--preset",
            "real-scan",
            "--maps",
            "3",
            "--size",
            "64",
            "--kernel",
            "cu111",
            "--seed",
            "10",
            "-o",
            "ds.h5",
        ],
        &d,
    ));
    assert!(text.contains("3 real-scan maps"), "{text}");
    let ds = read_dataset(&d.join("ds.h5")).unwrap();
    assert_eq!(ds.observations.observations.dim(), (3, 64, 64));
    assert_eq!(ds.kernels.names.len(), 6);
    assert!(ds.kernels.names[0].ends_with("shockley-cu111"));
    let second = read_real_scan(&d.join("ds.h5"), 1).unwrap();
    let direct = real_scan(
        &RealScanConfig {
            size: 64,
            surface: qpik::synthesis::real_scan::Surface::parse("cu111"),
            ..RealScanConfig::default()
        },
        11,
    )
    .unwrap();
    assert_eq!(second.map, direct.map);
    assert_eq!(second.positions, direct.positions);
}

#[test]
fn misuse_of_the_real_scan_preset_is_refused_with_a_reason() {
    let d = tempdir("real-scan-bad");
    for (args, word) in [
        (
            vec![
                "simulate",
                "observation",
                "--preset",
                "real-scan",
                "--types",
                "2",
            ],
            "--types",
        ),
        (
            vec![
                "simulate",
                "observation",
                "--preset",
                "real-scan",
                "--kernel",
                "nope",
            ],
            "nope",
        ),
        (
            vec![
                "simulate",
                "observation",
                "--preset",
                "real-scan",
                "--size",
                "16",
            ],
            "size",
        ),
        (vec!["simulate", "dataset", "--maps", "2"], "--maps"),
    ] {
        let out = qpik(&args, &d);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(word), "{args:?}: {err}");
    }
    assert!(!d.join("observation.h5").exists());
}
