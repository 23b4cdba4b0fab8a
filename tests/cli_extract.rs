//! `qpik extract` with the map engine through the command line: the real FeSe scan, the
//! result file and pictures it writes, the JSON report, and bad input with clear messages.

use qpik::data::extraction_file::read_extraction;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{qpik, tempdir};

fn scan() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/FeSe_topography.sxm"
    )
}

/// Asserts that the command succeeded, with its error output as the message.
fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn failure(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked") && !err.contains("Some("), "{err}");
    err
}

#[test]
fn the_real_scan_with_defects_from_z_gives_a_result_file_pictures_and_json() {
    let d = tempdir("extract-fese");
    let out = qpik(
        &[
            "extract",
            scan(),
            "--defects-from",
            "Z",
            "--bootstrap",
            "2",
            "-o",
            "fese.h5",
            "--json",
        ],
        &d,
    );
    succeeded(&out);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(report["method"], "forward");
    assert_eq!(report["map_shape"], serde_json::json!([224, 224]));
    let n = report["defects"].as_u64().unwrap();
    assert!((15..=40).contains(&n), "{n} defects from Z");
    let r2 = report["heldout_r2"][0].as_f64().unwrap();
    assert!(r2.is_finite() && r2 < 0.5, "held-out R^2 {r2}");
    let ex = read_extraction(&d.join("fese.h5")).expect("result file");
    assert_eq!(ex.positions.len() as u64, n);
    assert_eq!(ex.value_unit, "A");
    assert!(
        (ex.pixel_size_m - 20e-9 / 224.0).abs() < 1e-13,
        "{}",
        ex.pixel_size_m
    );
    assert!(ex.kernels.iter().all(|v| v.is_finite()));
    assert!(d.join("fese.png").is_file());
    // Provenance: this qpik, and the scan's name and SHA-256 (checked independently).
    assert_eq!(ex.provenance.qpik_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(ex.provenance.input_name, "FeSe_topography.sxm");
    assert_eq!(report["input_sha256"], ex.provenance.input_sha256.as_str());
    if let Ok(o) = Command::new("sha256sum").arg(scan()).output()
        && o.status.success()
    {
        let want = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            want.split_whitespace().next(),
            Some(&*ex.provenance.input_sha256)
        );
    }
    assert_eq!(ex.provenance.input_sha256.len(), 64);
    // The kernels alone as .npy, and the same kernel.
    let out = qpik(
        &[
            "extract",
            scan(),
            "--defects-from",
            "Z",
            "--bootstrap",
            "0",
            "-o",
            "k.npy",
        ],
        &d,
    );
    succeeded(&out);
    let k = qpik::data::npy::read_f32(&d.join("k.npy")).expect("npy");
    assert_eq!(k.dim(), (ex.kernel_size(), ex.kernel_size()));
}

#[test]
fn the_real_scan_blind_beside_z_finds_a_second_type_that_explains_more() {
    // FeSe: the Z defects explain about a tenth of the held-out map; a blind type for the
    // bright patches that Z does not show explains several times more.
    let d = tempdir("extract-fese-blind");
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["extract", scan(), "--defects-from", "Z", "--bootstrap", "0"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-o", "b.h5", "--json"]);
        let out = qpik(&args, &d);
        succeeded(&out);
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
    };
    let z = run(&[]);
    let both = run(&["--blind", "--kernel-size", "41"]);
    assert_eq!(both["method"], "blind");
    assert_eq!(both["types"], 2);
    let per = both["defects_per_type"].as_array().unwrap();
    assert_eq!(per[0], z["defects"], "the Z defects are type 0");
    assert!(per[1].as_u64().unwrap() >= 10, "{per:?}");
    let (r_z, r_both) = (
        z["heldout_r2"][0].as_f64().unwrap(),
        both["heldout_r2"][0].as_f64().unwrap(),
    );
    assert!(
        r_both > 0.3 && r_both > 2.0 * r_z,
        "held-out R^2 {r_z} -> {r_both}"
    );
    let ex = read_extraction(&d.join("b.h5")).expect("result file");
    assert_eq!(ex.kernels.dim().0, 2);
    assert_eq!(ex.method, "blind");
}

#[test]
fn types_auto_finds_two_types_in_a_simulated_two_type_map_and_one_in_a_one_type_map() {
    let d = tempdir("extract-types-auto");
    let simulate = |kernels: &[&str], out: &str| {
        let mut args = vec!["simulate", "observation"];
        for k in kernels {
            args.extend_from_slice(&["--kernel", k]);
        }
        let types = kernels.len().to_string();
        args.extend_from_slice(&[
            "--types",
            &types,
            "--size",
            "192",
            "--min-defects",
            "15",
            "--max-defects",
            "20",
            "--seed",
            "3",
            "-o",
            out,
        ]);
        let o = qpik(&args, &d);
        succeeded(&o);
    };
    let auto = |input: &str| -> serde_json::Value {
        let o = qpik(
            &[
                "extract",
                input,
                "--blind",
                "--types",
                "auto",
                "--kernel-size",
                "33",
                "--bootstrap",
                "0",
                "-o",
                "auto.h5",
                "--json",
            ],
            &d,
        );
        succeeded(&o);
        serde_json::from_slice(&o.stdout).expect("one JSON object on stdout")
    };
    simulate(&["bi2212-dwave-35meV", "kagome-m500meV"], "two.h5");
    simulate(&["bi2212-dwave-35meV"], "one.h5");
    let two = auto("two.h5");
    let one = auto("one.h5");
    assert_eq!(two["types"], 2, "{two}");
    assert_eq!(one["types"], 1, "{one}");
}

#[test]
fn eval_blind_scores_a_dataset_with_its_masks_ignored() {
    let d = tempdir("eval-blind");
    let o = qpik(
        &[
            "simulate",
            "dataset",
            "--kernels",
            "4",
            "--per-kernel",
            "2",
            "--size",
            "128",
            "--min-defects",
            "10",
            "--max-defects",
            "15",
            "--unseen-fraction",
            "0.5",
            "--seed",
            "2",
            "-o",
            "ev.h5",
        ],
        &d,
    );
    succeeded(&o);
    let o = qpik(
        &["eval", "--data", "ev.h5", "--method", "blind", "--json"],
        &d,
    );
    succeeded(&o);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(r["method"], "blind");
    assert_eq!(r["unseen"]["count"], 4);
    let d_unseen = r["unseen"]["maxdot_mean"].as_f64().unwrap();
    let d_seen = r["seen"]["maxdot_mean"].as_f64().unwrap();
    assert!(
        d_unseen > 0.9 && d_seen > 0.9,
        "maxdot {d_seen} seen, {d_unseen} unseen"
    );
}

#[test]
fn the_memory_budget_flag_refuses_large_work_before_allocating() {
    let d = tempdir("memory-budget");
    let o = qpik(
        &[
            "simulate",
            "dataset",
            "--kernels",
            "2",
            "--per-kernel",
            "1000000000",
            "--memory-budget",
            "100000000",
            "-o",
            "big.h5",
        ],
        &d,
    );
    let err = failure(&o);
    assert!(
        err.contains("more than the memory budget of 100000000 bytes"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(&d).unwrap().next().is_none(),
        "a file was left behind"
    );
    let o = qpik(
        &[
            "extract",
            scan(),
            "--memory-budget",
            "2000000",
            "-o",
            "x.h5",
        ],
        &d,
    );
    let err = failure(&o);
    assert!(err.contains("over the memory budget of 1 MiB"), "{err}");
    assert!(!d.join("x.h5").exists());
}

#[test]
fn bad_input_gets_a_clear_message_and_leaves_nothing() {
    let d = tempdir("extract-bad");
    let err = failure(&qpik(
        &["extract", scan(), "--defects-from", "Z", "-o", "k.txt"],
        &d,
    ));
    assert!(err.contains("write the result as .h5"), "{err}");
    let err = failure(&qpik(
        &["extract", scan(), "--defects-from", "Nope", "-o", "k.h5"],
        &d,
    ));
    assert!(err.contains("Nope") && err.contains("LIY_1_omega"), "{err}");
    // A mask of the wrong shape; positions outside the map; an empty position file.
    let mask: Vec<f32> = vec![0.0; 10 * 10];
    write_npy(&d.join("m.npy"), 10, 10, &mask);
    let err = failure(&qpik(
        &["extract", scan(), "--mask", "m.npy", "-o", "k.h5"],
        &d,
    ));
    assert!(
        err.contains("10 x 10") && err.contains("224 x 224"),
        "{err}"
    );
    std::fs::write(d.join("far.csv"), "5000, 10\n").unwrap();
    let err = failure(&qpik(
        &["extract", scan(), "--positions", "far.csv", "-o", "k.h5"],
        &d,
    ));
    assert!(err.contains("outside the 224 x 224 map"), "{err}");
    std::fs::write(d.join("none.csv"), "# nothing\n").unwrap();
    let err = failure(&qpik(
        &["extract", scan(), "--positions", "none.csv", "-o", "k.h5"],
        &d,
    ));
    assert!(
        err.to_lowercase().contains("no ") || err.contains("empty"),
        "{err}"
    );
    // A 3ds file cut short.
    std::fs::write(d.join("cut.3ds"), b"Grid dim=\"2 x 2\"\r\n").unwrap();
    let err = failure(&qpik(&["extract", "cut.3ds", "-o", "k.h5"], &d));
    assert!(err.contains("cut.3ds"), "{err}");
    // A map with NaN rows works; a constant map does not.
    let flat = vec![1.5f32; 32 * 32];
    write_npy(&d.join("flat.npy"), 32, 32, &flat);
    std::fs::write(d.join("p.csv"), "10, 10\n20, 20\n").unwrap();
    let err = failure(&qpik(
        &["extract", "flat.npy", "--positions", "p.csv", "-o", "k.h5"],
        &d,
    ));
    assert!(err.contains("constant"), "{err}");
    // Units: Angstrom given as metres, an even kernel size, NaN; the old spelling too.
    for flag in ["--pixel-size-m", "--pixel-size"] {
        let err = failure(&qpik(
            &[
                "extract",
                scan(),
                "--defects-from",
                "Z",
                flag,
                "0.893",
                "-o",
                "k.h5",
            ],
            &d,
        ));
        assert!(
            err.contains("--pixel-size-m")
                && err.contains("did you mean 0.893 Angstrom (8.93e-11 m)?"),
            "{err}"
        );
    }
    let err = failure(&qpik(
        &[
            "extract",
            scan(),
            "--defects-from",
            "Z",
            "--pixel-size-m",
            "NaN",
            "-o",
            "k.h5",
        ],
        &d,
    ));
    assert!(err.contains("not a finite number"), "{err}");
    let err = failure(&qpik(
        &[
            "extract",
            scan(),
            "--defects-from",
            "Z",
            "--kernel-size",
            "48",
            "-o",
            "k.h5",
        ],
        &d,
    ));
    assert!(
        err.contains("48 is even") && err.contains("47 or 49"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('k') || n.contains("partial") || n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) {
    let a = ndarray::Array2::from_shape_vec((rows, cols), data.to_vec()).unwrap();
    qpik::data::npy::write_npy_f32(path, a.view().into_dyn(), false).unwrap();
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    // `qpik catalog | head -0`: stdout is a pipe whose reader is already gone, so the first
    // write fails with EPIPE. Like other Unix tools qpik ends from SIGPIPE: no panic message,
    // no Rust panic status (101).
    use std::os::fd::FromRawFd;
    use std::os::unix::process::ExitStatusExt;
    let mut fds = [0i32; 2];
    // SAFETY: a fresh pipe; the read end is closed at once, the write end handed to the child.
    let write_end = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        std::os::fd::OwnedFd::from_raw_fd(fds[1])
    };
    let out = Command::new(env!("CARGO_BIN_EXE_qpik"))
        .arg("catalog")
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("qpik runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}: {err}",
        out.status
    );
}
