//! `scripts/cuda-link-stubs.sh`, the part of the CUDA build that runs without CUDA: it must
//! take the driver API of the cudarc version in Cargo.lock from cargo's registry, and say
//! "cargo fetch" when that source is missing (on a fresh machine it used to fail with
//! `grep: : No such file or directory`).

use std::path::Path;
use std::process::Command;

/// The cudarc version in Cargo.lock, read here independently of the script.
fn locked_cudarc() -> String {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let at = lock.find("name = \"cudarc\"\n").expect("cudarc is locked");
    let rest = &lock[at..];
    let line = rest.lines().nth(1).unwrap();
    line.trim_start_matches("version = \"")
        .trim_end_matches('"')
        .to_string()
}

fn fake_toolkit(dir: &Path) {
    let lib = dir.join("nvidia/cu13/lib");
    std::fs::create_dir_all(&lib).unwrap();
    for name in [
        "libcudart.so.13",
        "libcublas.so.13",
        "libcublasLt.so.13",
        "libcurand.so.10",
        "libnvrtc.so.13",
    ] {
        std::fs::write(lib.join(name), b"").unwrap();
    }
}

fn fake_cudarc(cargo_home: &Path, version: &str, functions: &[&str]) {
    let sys = cargo_home.join(format!(
        "registry/src/index.crates.io-0000/cudarc-{version}/src/driver/sys"
    ));
    std::fs::create_dir_all(&sys).unwrap();
    let text: String = functions
        .iter()
        .map(|f| format!("    pub fn {f}(flags: ::core::ffi::c_uint) -> CUresult;\n"))
        .collect();
    std::fs::write(sys.join("mod.rs"), format!("extern \"C\" {{\n{text}}}\n")).unwrap();
}

fn run(toolkit: &Path, out: &Path, cargo_home: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cuda-link-stubs.sh"))
        .arg(toolkit)
        .arg(out)
        .env("CARGO_HOME", cargo_home)
        .output()
        .unwrap()
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn the_stub_takes_the_locked_cudarc_and_asks_for_cargo_fetch_when_it_is_missing() {
    if !(have("cc") && have("nm")) {
        eprintln!("skipped: needs a C compiler and nm");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (toolkit, out, home) = (
        tmp.path().join("tk"),
        tmp.path().join("link"),
        tmp.path().join("cargo"),
    );
    fake_toolkit(&toolkit);

    // Nothing fetched: a message that says what to do, no grep error.
    std::fs::create_dir_all(home.join("registry/src")).unwrap();
    let r = run(&toolkit, &out, &home);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains("cargo fetch") && !err.contains("No such file"),
        "{err}"
    );

    // The locked version beside another: the stub defines the locked one's functions.
    let version = locked_cudarc();
    fake_cudarc(
        &home,
        &version,
        &["cuInit", "cuDeviceGet", "cuCtxCreate_v2"],
    );
    fake_cudarc(&home, "999.0.0", &["cuFromAnotherVersion"]);
    let r = run(&toolkit, &out, &home);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let nm = Command::new("nm")
        .arg("-D")
        .arg(out.join("libcuda.so"))
        .output()
        .unwrap();
    let symbols = String::from_utf8_lossy(&nm.stdout);
    for f in ["cuInit", "cuDeviceGet", "cuCtxCreate_v2"] {
        assert!(
            symbols.contains(&format!(" T {f}\n")),
            "{f} missing:\n{symbols}"
        );
    }
    assert!(!symbols.contains("cuFromAnotherVersion"), "{symbols}");
    for lib in ["cudart", "cublas", "cublasLt", "curand", "nvrtc"] {
        let link = out.join(format!("lib{lib}.so"));
        assert!(
            std::fs::read_link(&link).is_ok(),
            "{} is not a link",
            link.display()
        );
    }
}
