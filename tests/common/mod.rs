//! Shared by the CLI test files: run the built `qpik` binary, make a fresh folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `qpik ARGS` in `dir`.
pub fn qpik(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qpik"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("qpik runs")
}

/// A fresh, empty folder for one test (removed and made again).
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qpik-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
