//! Issue 22, part 1: outputs never clobber inputs. Every command checks its output paths
//! against its inputs and against each other by file identity before any work, refuses
//! formats it cannot write before any work, and puts all its outputs in place together or none.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::{qpik, tempdir};

fn failure(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Names in `dir` that are temporaries of an unfinished write.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// A small simulated observation (a dataset with its mask) in `dir`: `obs.h5`.
fn observation(dir: &Path) {
    succeeded(&qpik(
        &[
            "simulate",
            "observation",
            "--size",
            "64",
            "--seed",
            "3",
            "-o",
            "obs.h5",
        ],
        dir,
    ));
}

/// Runs `args` in `dir`, expects a refusal mentioning `words`, and checks that `kept` are
/// byte for byte unchanged and no temporary is left.
fn refused(dir: &Path, args: &[&str], words: &str, kept: &[&str]) {
    let before: Vec<Vec<u8>> = kept
        .iter()
        .map(|k| std::fs::read(dir.join(k)).unwrap())
        .collect();
    let t = Instant::now();
    let err = failure(&qpik(args, dir));
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "{args:?} worked before refusing"
    );
    assert!(err.contains(words), "{args:?}: {err}");
    for (k, b) in kept.iter().zip(&before) {
        assert_eq!(&std::fs::read(dir.join(k)).unwrap(), b, "{k} changed");
    }
    assert!(temporaries(dir).is_empty(), "{:?}", temporaries(dir));
}

#[test]
fn outputs_that_are_inputs_or_each_other_are_refused_before_any_work() {
    let d = tempdir("outputs-identity");
    observation(&d);
    std::fs::write(d.join("pos.txt"), "20, 20\n40, 40\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("obs.h5"), d.join("link.h5")).unwrap();
    std::fs::hard_link(d.join("obs.h5"), d.join("hard.h5")).unwrap();
    let input = "is the input";
    refused(
        &d,
        &["extract", "obs.h5", "-o", "obs.h5"],
        input,
        &["obs.h5"],
    );
    refused(
        &d,
        &["extract", "obs.h5", "-o", "./obs.h5"],
        input,
        &["obs.h5"],
    );
    #[cfg(unix)]
    refused(
        &d,
        &["extract", "obs.h5", "-o", "link.h5"],
        input,
        &["obs.h5"],
    );
    refused(
        &d,
        &["extract", "obs.h5", "-o", "hard.h5"],
        input,
        &["obs.h5"],
    );
    refused(
        &d,
        &["extract", "obs.h5", "-o", "r.h5", "--png", "obs.h5"],
        input,
        &["obs.h5"],
    );
    refused(
        &d,
        &[
            "extract",
            "obs.h5",
            "--positions",
            "pos.txt",
            "-o",
            "r.h5",
            "--png",
            "pos.txt",
        ],
        input,
        &["obs.h5", "pos.txt"],
    );
    refused(
        &d,
        &["extract", "obs.h5", "-o", "r.h5", "--png", "r.h5"],
        "same file",
        &["obs.h5"],
    );
    assert!(!d.join("r.npy").exists());
    // The network path, show, training and the simulators.
    refused(
        &d,
        &[
            "extract", "obs.h5", "--method", "two-step", "-o", "x.h5", "--png", "obs.h5",
        ],
        input,
        &["obs.h5"],
    );
    refused(&d, &["show", "obs.h5", "-o", "obs.h5"], input, &["obs.h5"]);
    refused(
        &d,
        &["train", "vae", "--data", "obs.h5", "-o", "obs.h5"],
        input,
        &["obs.h5"],
    );
    let spec = qpik(&["catalog", "--spec", "bi2212-normal-m50meV"], &d);
    succeeded(&spec);
    std::fs::write(d.join("k.toml"), &spec.stdout).unwrap();
    refused(
        &d,
        &["simulate", "kernel", "--spec", "k.toml", "--png", "k.toml"],
        input,
        &["k.toml"],
    );
    refused(
        &d,
        &[
            "simulate", "kernel", "--spec", "k.toml", "-o", "k.h5", "--png", "k.h5",
        ],
        "same file",
        &["k.toml"],
    );
    refused(
        &d,
        &[
            "simulate",
            "observation",
            "--spec",
            "k.toml",
            "-o",
            "k.toml",
        ],
        input,
        &["k.toml"],
    );
    refused(
        &d,
        &["simulate", "observation", "-o", "o.h5", "--png", "o.h5"],
        "same file",
        &[],
    );
    refused(
        &d,
        &["import-csv", "pos.txt", "-o", "pos.txt"],
        input,
        &["pos.txt"],
    );
}

#[test]
fn result_formats_are_checked_before_any_work() {
    let d = tempdir("outputs-format");
    observation(&d);
    refused(
        &d,
        &["extract", "obs.h5", "-o", "k.txt"],
        ".h5 (everything) or .npy",
        &["obs.h5"],
    );
    // An 8-type blind search cannot be written as one .npy: refused at once, not after it ran.
    refused(
        &d,
        &[
            "extract", "obs.h5", "--blind", "--types", "8", "-o", "k.npy",
        ],
        "write .h5",
        &["obs.h5"],
    );
    refused(
        &d,
        &[
            "extract", "obs.h5", "--blind", "--types", "auto", "-o", "k.npy",
        ],
        "write .h5",
        &["obs.h5"],
    );
    // One known type: a .npy is fine.
    succeeded(&qpik(
        &["extract", "obs.h5", "--bootstrap", "0", "-o", "k.npy"],
        &d,
    ));
    assert!(d.join("k.npy").exists() && d.join("k.png").exists());
}

/// Runs `qpik ARGS` in `dir` with files limited to `limit` bytes (SIGXFSZ ignored, so a write
/// beyond it fails with EFBIG instead of killing the process).
#[cfg(unix)]
fn qpik_with_file_limit(args: &[&str], dir: &Path, limit: u64) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qpik"));
    cmd.args(args).current_dir(dir);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("qpik runs")
}

#[cfg(unix)]
#[test]
fn a_picture_that_cannot_be_written_leaves_the_result_file_as_it_was() {
    let d = tempdir("outputs-together");
    observation(&d);
    // The kernels alone (.npy): a result much smaller than its picture.
    let args = ["extract", "obs.h5", "--bootstrap", "0", "-o", "r.npy"];
    succeeded(&qpik(&args, &d));
    let h5 = std::fs::metadata(d.join("r.npy")).unwrap().len();
    let png = std::fs::metadata(d.join("r.png")).unwrap().len();
    // The result is written first: a limit between the two sizes fails the picture alone.
    assert!(h5 < png, "result {h5} bytes, picture {png} bytes");
    std::fs::write(d.join("r.npy"), b"old result").unwrap();
    std::fs::write(d.join("r.png"), b"old picture").unwrap();
    let out = qpik_with_file_limit(&args, &d, (h5 + png) / 2);
    failure(&out);
    assert_eq!(std::fs::read(d.join("r.npy")).unwrap(), b"old result");
    assert_eq!(std::fs::read(d.join("r.png")).unwrap(), b"old picture");
    assert!(temporaries(&d).is_empty(), "{:?}", temporaries(&d));
    // Without old files: none is left.
    std::fs::remove_file(d.join("r.npy")).unwrap();
    std::fs::remove_file(d.join("r.png")).unwrap();
    failure(&qpik_with_file_limit(&args, &d, (h5 + png) / 2));
    assert!(!d.join("r.npy").exists() && !d.join("r.png").exists());
    assert!(temporaries(&d).is_empty(), "{:?}", temporaries(&d));
}

/// Part 5: a result file that does not fit (a full disk; here a file-size limit, EFBIG) is an
/// I/O error that says so, not a format or argument error, and leaves nothing behind.
#[cfg(unix)]
#[test]
fn a_result_that_does_not_fit_is_an_io_error() {
    let d = tempdir("outputs-full");
    observation(&d);
    for out in ["r.h5", "r.npy"] {
        let o = qpik_with_file_limit(
            &["extract", "obs.h5", "--bootstrap", "0", "-o", out],
            &d,
            4096,
        );
        let err = failure(&o);
        assert!(
            err.contains("disk full") || err.contains("too large"),
            "{out}: {err}"
        );
        assert!(!err.contains("HDF5 error"), "{out}: {err}");
        assert!(!d.join(out).exists());
        assert!(temporaries(&d).is_empty(), "{:?}", temporaries(&d));
    }
}
