//! The `qpik` binary end to end: outputs exist and read back, seeds reproduce, errors are clear.

use qpik::data::hdf5_io::{DatasetReader, read_dataset};
use std::path::Path;
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

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn version_and_catalog() {
    let d = tempdir("version");
    assert!(ok(&qpik(&["--version"], &d)).contains(env!("CARGO_PKG_VERSION")));
    let list = ok(&qpik(&["catalog", "--symmetry", "3"], &d));
    assert!(list.contains("graphene-500meV") && !list.contains("bi2212"));
    let spec = ok(&qpik(&["catalog", "--spec", "graphene-500meV"], &d));
    assert!(spec.contains("kind = \"tight-binding\""), "{spec}");
}

#[test]
fn demo_writes_a_readable_dataset_and_a_picture() {
    let d = tempdir("demo");
    let text = ok(&qpik(&["demo", "-o", "out"], &d));
    assert!(
        text.contains("defects") && text.contains("demo.h5"),
        "{text}"
    );
    let ds = read_dataset(&d.join("out/demo.h5")).unwrap();
    assert_eq!(ds.kernels.names.len(), 1);
    assert_eq!(ds.observations.observations.dim(), (1, 128, 128));
    let defects = ds
        .observations
        .positions
        .iter()
        .filter(|x| x.is_finite())
        .count()
        / 2;
    assert!((10..=16).contains(&defects));
    assert!(
        ds.observations
            .masks
            .iter()
            .map(|&m| m as usize)
            .sum::<usize>()
            <= defects
    );
    assert!(png_size(&d.join("out/demo.png")).0 > 256);
}

#[test]
fn simulate_kernel_by_name_and_by_spec_file() {
    let d = tempdir("kernel");
    ok(&qpik(
        &[
            "simulate",
            "kernel",
            "shockley-cu111-0meV",
            "--size",
            "48",
            "-o",
            "k.h5",
        ],
        &d,
    ));
    let ds = read_dataset(&d.join("k.h5")).unwrap();
    assert_eq!(ds.kernels.kernels.dim(), (1, 48, 48));
    assert_eq!(ds.kernels.names[0], "shockley-cu111-0meV");
    assert!(d.join("k.png").exists());
    // The catalog spec, edited, as a user file.
    let spec = ok(&qpik(&["catalog", "--spec", "square-tp0-300meV"], &d))
        .replace("name = \"square-tp0-300meV\"", "name = \"mine\"");
    std::fs::write(d.join("mine.toml"), spec).unwrap();
    ok(&qpik(
        &[
            "simulate",
            "kernel",
            "--spec",
            "mine.toml",
            "-o",
            "mine.h5",
            "--rotation",
            "30",
        ],
        &d,
    ));
    assert_eq!(
        read_dataset(&d.join("mine.h5")).unwrap().kernels.names[0],
        "mine"
    );
    // A broken spec names the problem and the file.
    std::fs::write(d.join("bad.toml"), "name = \"x\"\nsymmetry = 4\n").unwrap();
    let out = qpik(&["simulate", "kernel", "--spec", "bad.toml"], &d);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("missing field"),
        "{err}"
    );
}

/// `-o NAME.npy` writes NumPy files, not an HDF5 file under a `.npy` name (which NumPy reads
/// as pickled data): a kernel as `[H, W]`; an observation as the map `[H, W]`, its positions
/// `[N, 2]` and its kernel; a map of several types, which `.npy` cannot type, is refused
/// before any file is written.
#[test]
fn npy_outputs_are_numpy_files() {
    let d = tempdir("npy-out");
    ok(&qpik(
        &[
            "simulate",
            "kernel",
            "shockley-cu111-0meV",
            "--size",
            "48",
            "-o",
            "k.npy",
        ],
        &d,
    ));
    let k = qpik::data::npy::read_f32_nd(&d.join("k.npy")).unwrap();
    assert_eq!(k.shape(), &[48, 48]);
    let h5 = tempdir("npy-out-h5");
    ok(&qpik(
        &[
            "simulate",
            "kernel",
            "shockley-cu111-0meV",
            "--size",
            "48",
            "-o",
            "k.h5",
        ],
        &h5,
    ));
    let same = read_dataset(&h5.join("k.h5")).unwrap().kernels.kernels;
    assert!(same.iter().zip(k.iter()).all(|(a, b)| a == b));
    ok(&qpik(
        &[
            "simulate",
            "observation",
            "--kernel",
            "shockley-cu111-0meV",
            "--size",
            "64",
            "--min-defects",
            "5",
            "--max-defects",
            "5",
            "-o",
            "o.npy",
        ],
        &d,
    ));
    let map = qpik::data::npy::read_f32_nd(&d.join("o.npy")).unwrap();
    assert_eq!(map.shape(), &[64, 64]);
    let positions = qpik::data::npy::read_f32_nd(&d.join("o-positions.npy")).unwrap();
    assert_eq!(positions.shape()[1], 2);
    assert!(positions.shape()[0] >= 5, "{:?}", positions.shape());
    let kernel = qpik::data::npy::read_f32_nd(&d.join("o-kernels.npy")).unwrap();
    assert_eq!(kernel.shape(), &[64, 64]);
    let out = qpik(
        &[
            "simulate",
            "observation",
            "--types",
            "2",
            "--size",
            "64",
            "-o",
            "t.npy",
        ],
        &d,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t.npy") && err.contains("types"), "{err}");
    assert!(!d.join("t.npy").exists() && !d.join("t.png").exists());
}

#[test]
fn small_dataset_is_reproducible_and_shows() {
    let d = tempdir("dataset");
    let args = [
        "simulate",
        "dataset",
        "--kernels",
        "6",
        "--per-kernel",
        "4",
        "--size",
        "32",
        "--seed",
        "5",
    ];
    ok(&qpik(&[&args[..], &["-o", "a.h5"]].concat(), &d));
    ok(&qpik(&[&args[..], &["-o", "b.h5"]].concat(), &d));
    ok(&qpik(
        &[
            "simulate",
            "dataset",
            "--kernels",
            "6",
            "--per-kernel",
            "4",
            "--size",
            "32",
            "--seed",
            "6",
            "-o",
            "c.h5",
        ],
        &d,
    ));
    let a = read_dataset(&d.join("a.h5")).unwrap();
    let b = read_dataset(&d.join("b.h5")).unwrap();
    let c = read_dataset(&d.join("c.h5")).unwrap();
    // Bit for bit (NaN marks unused defect slots, and NaN != NaN).
    let bits = |x: &qpik::data::Dataset| {
        let o = &x.observations;
        (
            x.kernels
                .kernels
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            o.observations
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            o.positions
                .iter()
                .chain(o.amplitudes.iter())
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            o.masks.clone(),
            o.kernel_index.clone(),
        )
    };
    assert!(bits(&a) == bits(&b), "same seed, same file");
    assert_ne!(a.observations.observations, c.observations.observations);
    assert_eq!(a.observations.kernel_index.len(), 24);
    assert_eq!(a.kernels.split.iter().filter(|&&s| s == 1).count(), 1);
    let reader = DatasetReader::open(&d.join("a.h5")).unwrap();
    assert!(reader.info().generator.contains("per_kernel = 4"));
    let text = ok(&qpik(&["show", "a.h5", "--count", "3"], &d));
    assert!(text.contains("drew 3 kernels and 3 observations"), "{text}");
    assert!(d.join("a.png").exists());
}

#[test]
fn bad_requests_fail_with_a_message_and_no_output() {
    let d = tempdir("errors");
    let out = qpik(
        &["simulate", "kernel", "bi2212-normal-7meV", "-o", "x.h5"],
        &d,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no catalog kernel named 'bi2212-normal-7meV'") && err.contains("similar"),
        "{err}"
    );
    assert!(!d.join("x.h5").exists());
    let out = qpik(
        &["simulate", "dataset", "--kernels", "500", "-o", "y.h5"],
        &d,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the catalog has"));
    assert!(!d.join("y.h5").exists());
    std::fs::write(d.join("text.h5"), "not hdf5").unwrap();
    let out = qpik(&["show", "text.h5"], &d);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("text.h5"));
    let out = qpik(&["simulate", "observation", "--size", "4"], &d);
    assert!(String::from_utf8_lossy(&out.stderr).contains("size 4"));
}

#[test]
fn import_csv_through_the_cli() {
    use ndarray::{Array2, Array3};
    let d = tempdir("csv");
    let n = 8;
    let axis: Vec<f64> = (0..n)
        .map(|i| -200.0 + 400.0 * i as f64 / (n - 1) as f64)
        .collect();
    let kernel = Array2::from_shape_fn((n, n), |(i, j)| (i * n + j) as f32);
    let obs = Array3::from_shape_fn((2, n, n), |(k, i, j)| (k + i + j) as f32);
    let mut defects = Array3::from_elem((2, 3, 2), f64::NAN);
    defects[[0, 0, 0]] = 0.0;
    defects[[0, 0, 1]] = 0.0;
    defects[[1, 1, 0]] = -200.0;
    defects[[1, 1, 1]] = 200.0;
    qpik::data::csv_import::write_csv(
        &d.join("k1.csv"),
        "symmetry=4",
        &axis,
        kernel.view(),
        obs.view(),
        defects.view(),
    )
    .unwrap();
    ok(&qpik(&["import-csv", "k1.csv", "-o", "p.h5"], &d));
    let ds = read_dataset(&d.join("p.h5")).unwrap();
    assert_eq!(ds.kernels.names, vec!["k1".to_string()]);
    assert_eq!(ds.kernels.symmetry, vec![4]);
    assert_eq!(ds.observations.observations, obs);
    // (x, y) = (-200, 200) Angstrom is column 0, row 7.
    assert_eq!(
        (
            ds.observations.positions[[1, 1, 0]],
            ds.observations.positions[[1, 1, 1]]
        ),
        (7.0, 0.0)
    );
}

#[test]
fn a_dataset_imported_from_the_published_csv_layout_trains_without_change() {
    use ndarray::{Array2, Array3};
    let d = tempdir("csvtrain");
    let n = 64;
    let axis: Vec<f64> = (0..n)
        .map(|i| -100.0 + 200.0 * i as f64 / (n - 1) as f64)
        .collect();
    for (k, name) in ["ka", "kb"].iter().enumerate() {
        let kernel = Array2::from_shape_fn((n, n), |(i, j)| {
            let r = ((i as f32 - 32.0).powi(2) + (j as f32 - 32.0).powi(2)).sqrt();
            (r * (0.4 + 0.2 * k as f32)).cos() / (1.0 + r)
        });
        let obs = Array3::from_shape_fn((3, n, n), |(o, i, j)| kernel[[(i + o) % n, j]]);
        let mut defects = Array3::from_elem((3, 2, 2), f64::NAN);
        for o in 0..3 {
            defects[[o, 0, 0]] = 0.0;
            defects[[o, 0, 1]] = 0.0;
        }
        qpik::data::csv_import::write_csv(
            &d.join(format!("{name}.csv")),
            "symmetry=1",
            &axis,
            kernel.view(),
            obs.view(),
            defects.view(),
        )
        .unwrap();
    }
    ok(&qpik(&["import-csv", "ka.csv", "kb.csv", "-o", "p.h5"], &d));
    let tiny = [
        "--channels",
        "4,4,8",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
    ];
    for what in ["vae", "one-step"] {
        ok(&qpik(
            &[&["train", what, "--data", "p.h5", "-o", "m.st"][..], &tiny].concat(),
            &d,
        ));
    }
}

fn write_npy_f32(path: &Path, rows: usize, cols: usize, data: &[f32]) {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn train_eval_and_extract_end_to_end_on_a_tiny_network() {
    let d = tempdir("train");
    ok(&qpik(
        &[
            "simulate",
            "dataset",
            "--kernels",
            "6",
            "--per-kernel",
            "6",
            "--size",
            "64",
            "--seed",
            "2",
            "-o",
            "d.h5",
        ],
        &d,
    ));
    let tiny = [
        "--channels",
        "4,4,8",
        "--batch-size",
        "4",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "2",
    ];
    ok(&qpik(
        &[
            &["train", "vae", "--data", "d.h5", "-o", "vae.st"][..],
            &tiny,
        ]
        .concat(),
        &d,
    ));
    // Resume continues from the stored epoch count.
    let resumed = ok(&qpik(
        &[
            &["train", "vae", "--data", "d.h5", "-o", "vae.st", "--resume"][..],
            &[
                "--channels",
                "4,4,8",
                "--batch-size",
                "4",
                "--epochs",
                "3",
                "--steps-per-epoch",
                "2",
            ],
        ]
        .concat(),
        &d,
    ));
    assert!(resumed.contains("for 3 epochs"), "{resumed}");
    ok(&qpik(
        &[
            &[
                "train", "align", "--data", "d.h5", "--vae", "vae.st", "-o", "two.st",
            ][..],
            &tiny,
        ]
        .concat(),
        &d,
    ));
    ok(&qpik(
        &[
            &["train", "one-step", "--data", "d.h5", "-o", "one.st"][..],
            &tiny,
        ]
        .concat(),
        &d,
    ));
    let json = ok(&qpik(
        &["eval", "--data", "d.h5", "--model", "two.st", "--json"],
        &d,
    ));
    let report: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(report["method"], "two-step", "{json}");
    assert!(report["unseen"]["count"].as_u64().is_some(), "{json}");
    assert!(report["seen"]["maxdot_mean"].as_f64().is_some(), "{json}");
    let text = ok(&qpik(
        &[
            "extract", "d.h5", "--index", "3", "--model", "one.st", "-o", "k.h5",
        ],
        &d,
    ));
    assert!(text.contains("against the true kernel"), "{text}");
    assert_eq!(
        read_dataset(&d.join("k.h5")).unwrap().kernels.kernels.dim(),
        (1, 64, 64)
    );
    // .npy input with its mask.
    let obs: Vec<f32> = (0..64 * 64).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut mask = vec![0.0f32; 64 * 64];
    mask[32 * 64 + 10] = 1.0;
    write_npy_f32(&d.join("o.npy"), 64, 64, &obs);
    write_npy_f32(&d.join("m.npy"), 64, 64, &mask);
    ok(&qpik(
        &[
            "extract", "o.npy", "--mask", "m.npy", "--model", "two.st", "-o", "n.h5",
        ],
        &d,
    ));
    // Errors: a VAE cannot extract; .npy without a mask; wrong image size.
    let e = qpik(
        &["extract", "o.npy", "--mask", "m.npy", "--model", "vae.st"],
        &d,
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("VAE file cannot extract"));
    let e = qpik(&["extract", "o.npy", "--model", "two.st"], &d);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--mask"));
    write_npy_f32(&d.join("small.npy"), 8, 8, &[0.0; 64]);
    let e = qpik(
        &[
            "extract",
            "small.npy",
            "--mask",
            "small.npy",
            "--model",
            "two.st",
        ],
        &d,
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("64x64"));
    let e = qpik(&["train", "align", "--data", "d.h5", "-o", "x.st"], &d);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--vae"));
}

#[test]
fn show_and_extract_read_createc_scans_and_nanonis_spectra() {
    let d = tempdir("createc");
    // The Createc fixture (src/data/createc_tests.rs): 8 x 6 points of 5 A, last line unmeasured.
    let scan = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/createc_synthetic.dat");
    let text = ok(&qpik(&["show", scan.to_str().unwrap(), "-o", "c.png"], &d));
    assert!(
        text.contains("Createc scan, 8 x 6 pixels over 4.0 x 3.0 nm")
            && text.contains("the last 1 lines were not measured")
            && text.contains("ADC1 backward (V)")
            && text.contains("6 images"),
        "{text}"
    );
    assert!(d.join("c.png").exists());
    std::fs::write(
        d.join("spec.dat"),
        "Experiment\tbias spectroscopy\t\r\nX (m)\t1E-9\t\r\nY (m)\t2E-9\t\r\n\r\n[DATA]\r\n\
         Bias calc (V)\tLIY 1 omega (A)\t\r\n-1E-1\t3E-12\t\r\n1E-1\tNaN\t\r\n",
    )
    .unwrap();
    let text = ok(&qpik(&["show", "spec.dat"], &d));
    assert!(
        text.contains("2 points, tip at x = 1e-9 m, y = 2e-9 m")
            && text.contains("LIY 1 omega (A): 1 values")
            && text.contains("from -0.1000 to 0.1000 eV"),
        "{text}"
    );
    // A spectrum is not a map: extract says what it is.
    let out = qpik(&["extract", "spec.dat"], &d);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("a Nanonis point spectrum"),
        "{err}"
    );
}

#[test]
fn show_draws_every_channel_of_a_real_nanonis_scan() {
    let d = tempdir("sxm");
    let scan = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/FeSe_topography.sxm");
    let text = ok(&qpik(
        &["show", scan.to_str().unwrap(), "-o", "fese.png"],
        &d,
    ));
    assert!(
        text.contains("224 x 224 pixels over 20.0 x 20.0 nm")
            && text.contains("frame turned 45 degrees clockwise")
            && text.contains("8 images"),
        "{text}"
    );
    // 2 columns of 224-pixel images, 4 rows with titles and colour bars.
    let (w, h) = png_size(&d.join("fese.png"));
    assert!(w >= 2 * 224 && h >= 4 * 224, "{w} x {h}");
    // A damaged scan is an error naming the file, not a dataset-file message.
    let cut = d.join("cut.sxm");
    std::fs::write(&cut, &std::fs::read(&scan).unwrap()[..5000]).unwrap();
    let out = qpik(&["show", "cut.sxm"], &d);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cut.sxm") && err.contains("truncated"),
        "{err}"
    );
}
