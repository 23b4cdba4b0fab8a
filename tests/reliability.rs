//! Issue 11: no input may kill or hang the host. Each test runs the C ABI (the functions a
//! plugin calls, from Rust) in a child process of this test binary, under an address-space
//! limit (`setrlimit(RLIMIT_AS)`) and a time limit, so a regression (an abort on a failed
//! allocation, a hang) fails the test instead of taking the machine down.

use qpik::capi::*;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;

#[path = "support/capi_child.rs"]
mod capi_child;
use capi_child::{in_child, last_error, options};

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qpik-rel-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Class 1: sizes accepted by the options lead to a fatal allocation.
#[test]
fn dataset_sizes_beyond_the_budget_are_refused_before_allocating() {
    in_child(
        "dataset_sizes_beyond_the_budget_are_refused_before_allocating",
        2 * GIB,
        Duration::from_secs(120),
        || {
            let dir = tempdir("dataset-budget");
            let path = CString::new(dir.join("d.h5").to_str().unwrap()).unwrap();
            for (kernels, per_kernel) in [
                ("1", "1000000000000"),       // aborted: "allocation of 1e12 bytes failed"
                ("1", "9223372036854775808"), // 2^63: "capacity overflow"
                ("2", "9223372036854775808"), // kernels x per_kernel wraps to 0
            ] {
                let o = options(&[
                    ("dataset.kernels", kernels),
                    ("dataset.per_kernel", per_kernel),
                    ("size", "16"),
                ]);
                let s =
                    unsafe { qpik_dataset_generate(path.as_ptr(), o, None, std::ptr::null_mut()) };
                unsafe { qpik_options_free(o) };
                assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
                let m = last_error();
                assert!(m.contains("memory budget"), "{m}");
                assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
            }
            // A budget set by the caller is the one applied, and named.
            let o = options(&[
                ("dataset.kernels", "2"),
                ("dataset.per_kernel", "100000"),
                ("memory_budget_bytes", "2000000"),
            ]);
            let s = unsafe { qpik_dataset_generate(path.as_ptr(), o, None, std::ptr::null_mut()) };
            unsafe { qpik_options_free(o) };
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET);
            assert!(last_error().contains("2000000 bytes"), "{}", last_error());
            std::fs::remove_dir_all(&dir).unwrap();
        },
    );
}

/// Class 2: user specs that demand gigabytes (k-grid 8192 on a multi-orbital model, many
/// orbitals) and observations whose stamps do not fit.
#[test]
fn specs_and_observations_beyond_the_budget_are_refused() {
    in_child(
        "specs_and_observations_beyond_the_budget_are_refused",
        2 * GIB,
        Duration::from_secs(120),
        || {
            let n = 200;
            let orbitals: Vec<String> = (0..n)
                .map(|i| format!("[{}, 0.0]", i as f64 / n as f64))
                .collect();
            let hoppings: Vec<String> = (0..n)
                .map(|i| format!("{{ to = {i}, from = {i}, cell = [1, 0], t = -0.25 }}"))
                .collect();
            let spec = format!(
                "name = \"wide\"\nsymmetry = 1\nenergy_ev = 0.0\nbroadening_ev = 0.01\n\
                 [model]\nkind = \"tight-binding\"\na1 = [3.5, 0.0]\na2 = [0.0, 3.5]\n\
                 orbitals = [{}]\norbital_radius_a = 1.0\nhoppings = [{}]\n\
                 [impurity]\norbitals = [0]\npotential_ev = 0.5\n[kgrid]\nn = 2048\n\
                 [render]\nsize = [32, 32]\npixel_size_a = 4.0\n",
                orbitals.join(", "),
                hoppings.join(", ")
            );
            let toml = CString::new(spec).unwrap();
            let mut k = std::ptr::null_mut();
            let s = unsafe {
                qpik_kernel_new(std::ptr::null(), toml.as_ptr(), std::ptr::null(), &mut k)
            };
            // A spec that does not parse is a different bug; say so.
            assert_ne!(
                s,
                qpik_status::QPIK_ERR_INVALID_ARGUMENT,
                "{}",
                last_error()
            );
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
            assert!(last_error().contains("k-grid"), "{}", last_error());

            // An 8192 x 8192 kernel image under a 500 MB budget, then an observation whose
            // 16 x 16 subpixel stamps do not fit a 2 MiB budget.
            let o = options(&[("size", "8192"), ("memory_budget_bytes", "500000000")]);
            let name = c"graphene-500meV";
            let s = unsafe { qpik_kernel_new(name.as_ptr(), std::ptr::null(), o, &mut k) };
            unsafe { qpik_options_free(o) };
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
            assert!(last_error().contains("500000000"), "{}", last_error());
            assert_eq!(
                unsafe {
                    qpik_kernel_new(name.as_ptr(), std::ptr::null(), std::ptr::null(), &mut k)
                },
                qpik_status::QPIK_OK,
                "{}",
                last_error()
            );
            let o = options(&[
                ("defects.subpixel_steps", "16"),
                ("memory_budget_bytes", "2097152"),
            ]);
            let mut obs = std::ptr::null_mut();
            let s = unsafe { qpik_observation_new(k, 64, 64, o, &mut obs) };
            assert_eq!(s, qpik_status::QPIK_ERR_MEMORY_BUDGET, "{}", last_error());
            unsafe {
                qpik_options_free(o);
                qpik_kernel_free(k);
            }
        },
    );
}

/// Class 2: `qpik_extract` on a stack of 2,048 images took 1.7 GB at once.
#[test]
fn extraction_of_a_large_stack_runs_in_bounded_memory() {
    in_child(
        "extraction_of_a_large_stack_runs_in_bounded_memory",
        3 * GIB / 2,
        Duration::from_secs(300),
        || {
            let mut m = std::ptr::null_mut();
            assert_eq!(
                unsafe { qpik_model_new_default(std::ptr::null(), &mut m) },
                qpik_status::QPIK_OK
            );
            let n = 2048usize;
            let mut obs: Vec<f32> = (0..n * 4096)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect();
            let mut out = vec![f32::NAN; n * 4096];
            let o = qpik_array_3d(obs.as_mut_ptr().cast(), 1, n as i64, 64, 64, 0);
            let k = qpik_array_3d(out.as_mut_ptr().cast(), 1, n as i64, 64, 64, 0);
            let s = unsafe { qpik_extract(m, &o, std::ptr::null(), &k, std::ptr::null_mut()) };
            assert_eq!(s, qpik_status::QPIK_OK, "{}", last_error());
            assert!(out.iter().all(|x| x.is_finite()));
            // Chunking does not change results: the last image alone gives the same kernel.
            let last = &mut obs[(n - 1) * 4096..];
            let mut one = vec![0f32; 4096];
            let o1 = qpik_array_2d(last.as_mut_ptr().cast(), 1, 64, 64, 0);
            let k1 = qpik_array_2d(one.as_mut_ptr().cast(), 1, 64, 64, 0);
            let s = unsafe { qpik_extract(m, &o1, std::ptr::null(), &k1, std::ptr::null_mut()) };
            assert_eq!(s, qpik_status::QPIK_OK);
            let d = one
                .iter()
                .zip(&out[(n - 1) * 4096..])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(d < 1e-5, "chunked result differs by {d}");
            unsafe { qpik_model_free(m) };
        },
    );
}

/// Wrong results reported as success: finite inputs near the float32 limits and subnormal
/// inputs gave all-NaN kernels with QPIK_OK.
#[test]
fn extreme_but_finite_inputs_give_finite_kernels() {
    let mut m = std::ptr::null_mut();
    assert_eq!(
        unsafe { qpik_model_new_default(std::ptr::null(), &mut m) },
        qpik_status::QPIK_OK
    );
    let base: Vec<f32> = (0..4096)
        .map(|i| (((i * 7919) % 1000) as f32 / 1000.0) * 2.0 - 1.0)
        .collect();
    let mut reference = vec![0f32; 4096];
    let mut obs = base.clone();
    let o = qpik_array_2d(obs.as_mut_ptr().cast(), 1, 64, 64, 0);
    let k = qpik_array_2d(reference.as_mut_ptr().cast(), 1, 64, 64, 0);
    assert_eq!(
        unsafe { qpik_extract(m, &o, std::ptr::null(), &k, std::ptr::null_mut()) },
        qpik_status::QPIK_OK
    );
    for scale in [3.0e38f32, 1.0e-40] {
        let mut obs: Vec<f32> = base.iter().map(|x| x * scale).collect();
        let mut out = vec![0f32; 4096];
        let o = qpik_array_2d(obs.as_mut_ptr().cast(), 1, 64, 64, 0);
        let k = qpik_array_2d(out.as_mut_ptr().cast(), 1, 64, 64, 0);
        let s = unsafe { qpik_extract(m, &o, std::ptr::null(), &k, std::ptr::null_mut()) };
        assert_eq!(s, qpik_status::QPIK_OK, "scale {scale}: {}", last_error());
        // Min-max scaling makes the model blind to the input's scale: the same kernel.
        let d = out
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            d < 1e-3,
            "scale {scale}: differs from the unit-scale result by {d}"
        );
    }
    unsafe { qpik_model_free(m) };
}

/// Class 4: after a fork, the child's first parallel call waited forever for the parent's
/// thread pool.
#[test]
fn calls_in_a_forked_child_finish() {
    in_child(
        "calls_in_a_forked_child_finish",
        4 * GIB,
        Duration::from_secs(120),
        || {
            let mut m = std::ptr::null_mut();
            assert_eq!(
                unsafe { qpik_model_new_default(std::ptr::null(), &mut m) },
                qpik_status::QPIK_OK
            );
            let mut obs: Vec<f32> = (0..8 * 4096).map(|i| ((i * 31) % 97) as f32).collect();
            let mut out = vec![0f32; 8 * 4096];
            let o = qpik_array_3d(obs.as_mut_ptr().cast(), 1, 8, 64, 64, 0);
            let k = qpik_array_3d(out.as_mut_ptr().cast(), 1, 8, 64, 64, 0);
            // In the parent first: the pool's threads now exist here only.
            assert_eq!(
                unsafe { qpik_extract(m, &o, std::ptr::null(), &k, std::ptr::null_mut()) },
                qpik_status::QPIK_OK
            );
            let want = out.clone();
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                let mut again = vec![0f32; 8 * 4096];
                let k2 = qpik_array_3d(again.as_mut_ptr().cast(), 1, 8, 64, 64, 0);
                let s = unsafe { qpik_extract(m, &o, std::ptr::null(), &k2, std::ptr::null_mut()) };
                let mut kernel = std::ptr::null_mut();
                let s2 = unsafe {
                    qpik_kernel_new(
                        c"graphene-500meV".as_ptr(),
                        std::ptr::null(),
                        std::ptr::null(),
                        &mut kernel,
                    )
                };
                let ok = s == qpik_status::QPIK_OK && s2 == qpik_status::QPIK_OK && again == want;
                unsafe { libc::_exit(if ok { 0 } else { 3 }) };
            }
            let start = Instant::now();
            let mut status = 0;
            loop {
                let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if r == pid {
                    break;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    panic!("the forked child hung in qpik_extract");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "forked child failed: status {status}"
            );
            unsafe { qpik_model_free(m) };
        },
    );
}

/// Class 5: a FIFO blocked forever, /dev/zero grew until the OOM killer, and a large foreign
/// file was read whole before being refused.
#[test]
fn model_paths_are_checked_before_reading() {
    in_child(
        "model_paths_are_checked_before_reading",
        GIB,
        Duration::from_secs(60),
        || {
            let dir = tempdir("paths");
            let fifo = dir.join("fifo");
            let c = CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            // Sparse: 8 GiB of apparent size, no disk used.
            let sparse = dir.join("big.safetensors");
            std::fs::File::create(&sparse)
                .unwrap()
                .set_len(8 * GIB)
                .unwrap();
            // A foreign file just under the size limit, header first.
            let foreign = dir.join("foreign.safetensors");
            std::fs::File::create(&foreign)
                .unwrap()
                .set_len(200 << 20)
                .unwrap();
            for p in [
                fifo.as_path(),
                Path::new("/dev/zero"),
                &sparse,
                &foreign,
                &dir,
            ] {
                let c = CString::new(p.to_str().unwrap()).unwrap();
                let mut m = std::ptr::null_mut();
                let t = Instant::now();
                let s = unsafe { qpik_model_new_from_file(c.as_ptr(), std::ptr::null(), &mut m) };
                assert_eq!(s, qpik_status::QPIK_ERR_FORMAT, "{p:?}: {}", last_error());
                assert!(
                    t.elapsed() < Duration::from_secs(5),
                    "{p:?} took {:?}",
                    t.elapsed()
                );
            }
            std::fs::remove_dir_all(&dir).unwrap();
        },
    );
}

/// Model files with non-finite weights loaded with QPIK_OK and extracted all-NaN kernels.
#[test]
fn non_finite_weights_are_refused_at_load() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/two-step.safetensors"
    ))
    .unwrap();
    // The first tensor's data start after the 8-byte length and the JSON header.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut bad = bytes.clone();
    let at = 8 + n + 4 * 10;
    bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut m = std::ptr::null_mut();
    let s = unsafe {
        qpik_model_new_from_memory(bytes.as_ptr().cast(), bytes.len(), std::ptr::null(), &mut m)
    };
    assert_eq!(s, qpik_status::QPIK_OK, "{}", last_error());
    unsafe { qpik_model_free(m) };
    let s = unsafe {
        qpik_model_new_from_memory(bad.as_ptr().cast(), bad.len(), std::ptr::null(), &mut m)
    };
    assert_eq!(s, qpik_status::QPIK_ERR_FORMAT);
    assert!(last_error().contains("non-finite"), "{}", last_error());
}

extern "C" fn key_destructor(_: *mut c_void) {
    // Called at thread exit after Rust's thread-locals are gone.
    let p: *const c_char = qpik_last_error();
    assert!(!p.is_null());
    let s = unsafe { qpik_options_set(std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(s, qpik_status::QPIK_ERR_NULL);
    let _ = unsafe { CStr::from_ptr(qpik_last_error()) };
}

/// Class 7: `qpik_last_error` or a failing call from a pthread key destructor aborted.
#[test]
fn calls_from_a_thread_exit_hook_do_not_abort() {
    in_child(
        "calls_from_a_thread_exit_hook_do_not_abort",
        4 * GIB,
        Duration::from_secs(60),
        || {
            let mut key: libc::pthread_key_t = 0;
            assert_eq!(
                unsafe { libc::pthread_key_create(&mut key, Some(key_destructor)) },
                0
            );
            std::thread::spawn(move || {
                // Use qpik's thread-local first, so that it is destroyed before the hook runs.
                let s = unsafe { qpik_options_new(std::ptr::null_mut()) };
                assert_eq!(s, qpik_status::QPIK_ERR_NULL);
                assert!(!last_error().is_empty());
                unsafe { libc::pthread_setspecific(key, std::ptr::dangling::<c_void>()) };
            })
            .join()
            .unwrap();
        },
    );
}

/// Class 6: writing through a device node replaced it with a regular file.
#[test]
fn device_and_directory_targets_are_refused_and_leave_nothing() {
    let dir = tempdir("targets");
    let o = options(&[
        ("dataset.kernels", "1"),
        ("dataset.per_kernel", "1"),
        ("size", "16"),
    ]);
    for (p, want) in [
        (PathBuf::from("/dev/null"), "regular"),
        (dir.clone(), "directory"),
        (PathBuf::new(), "empty"),
    ] {
        let c = CString::new(p.to_str().unwrap()).unwrap();
        let s = unsafe { qpik_dataset_generate(c.as_ptr(), o, None, std::ptr::null_mut()) };
        assert_eq!(s, qpik_status::QPIK_ERR_INVALID_ARGUMENT, "{p:?}");
        assert!(last_error().contains(want), "{p:?}: {}", last_error());
    }
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(!meta.is_file(), "/dev/null is still a device");
    unsafe { qpik_options_free(o) };
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Statuses and messages: a 1 MB option key or value is cut in the message.
#[test]
fn huge_option_keys_and_values_are_cut_in_messages() {
    let o = options(&[]);
    let big = CString::new("k".repeat(1 << 20)).unwrap();
    let s = unsafe { qpik_options_set(o, big.as_ptr(), c"1".as_ptr()) };
    assert_eq!(s, qpik_status::QPIK_ERR_UNKNOWN_OPTION);
    assert!(last_error().len() < 1000, "{} bytes", last_error().len());
    let s = unsafe { qpik_options_set(o, c"seed".as_ptr(), big.as_ptr()) };
    assert_eq!(s, qpik_status::QPIK_ERR_OPTION_VALUE);
    assert!(last_error().len() < 1000, "{} bytes", last_error().len());
    // A learning rate that can only diverge is refused when the training config is built.
    for lr in ["1e30", "nan"] {
        let k = c"train.learning_rate";
        let v = CString::new(lr).unwrap();
        let s = unsafe { qpik_options_set(o, k.as_ptr(), v.as_ptr()) };
        if s == qpik_status::QPIK_OK {
            let e = qpik::model::train::TrainConfig {
                learning_rate: lr.parse().unwrap(),
                ..Default::default()
            }
            .validate()
            .unwrap_err();
            assert!(e.to_string().contains("learning rate"), "{e}");
        } else {
            assert_eq!(s, qpik_status::QPIK_ERR_OPTION_VALUE);
        }
    }
    unsafe { qpik_options_free(o) };
    assert_eq!(
        unsafe { CStr::from_ptr(qpik_status_name(15)) }
            .to_str()
            .unwrap(),
        "QPIK_ERR_MEMORY_BUDGET"
    );
}

/// Class 3: a small file declaring 2^27 defect slots per observation (never written) took
/// gigabytes in the reader.
#[test]
fn declared_sizes_beyond_what_the_file_holds_are_refused() {
    in_child(
        "declared_sizes_beyond_what_the_file_holds_are_refused",
        2 * GIB,
        Duration::from_secs(120),
        || {
            let dir = tempdir("declared");
            let path = dir.join("d.h5");
            let c = CString::new(path.to_str().unwrap()).unwrap();
            let o = options(&[
                ("dataset.kernels", "1"),
                ("dataset.per_kernel", "2"),
                ("size", "16"),
            ]);
            let s = unsafe { qpik_dataset_generate(c.as_ptr(), o, None, std::ptr::null_mut()) };
            assert_eq!(s, qpik_status::QPIK_OK, "{}", last_error());
            unsafe { qpik_options_free(o) };
            {
                let f = hdf5::File::open_rw(&path).unwrap();
                f.unlink("positions").unwrap();
                f.unlink("amplitudes").unwrap();
                f.new_dataset::<f32>()
                    .chunk((1, 1024, 2))
                    .shape((2, 1usize << 27, 2))
                    .create("positions")
                    .unwrap();
                f.new_dataset::<f32>()
                    .chunk((1, 1024))
                    .shape((2, 1usize << 27))
                    .create("amplitudes")
                    .unwrap();
            }
            assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
            let mut ds = std::ptr::null_mut();
            let s = unsafe { qpik_dataset_open(c.as_ptr(), &mut ds) };
            assert_eq!(s, qpik_status::QPIK_ERR_FORMAT, "{}", last_error());
            assert!(last_error().contains("positions"), "{}", last_error());
            std::fs::remove_dir_all(&dir).unwrap();
        },
    );
}

fn qpik_cli(args: &[&str], dir: &Path, limit_kib: u64) -> std::process::Output {
    let mut line = format!("ulimit -v {limit_kib}; exec \"$0\"");
    for i in 0..args.len() {
        line.push_str(&format!(" \"${}\"", i + 1));
    }
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .arg(env!("CARGO_BIN_EXE_qpik"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The CLI: the same classes through `qpik`, under `ulimit -v`.
#[test]
fn cli_refuses_sizes_devices_and_fifos() {
    let dir = tempdir("cli");
    let out = qpik_cli(
        &[
            "simulate",
            "dataset",
            "--kernels",
            "1",
            "--per-kernel",
            "1000000000000",
            "--size",
            "16",
            "-o",
            "d.h5",
        ],
        &dir,
        2 << 20,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("memory budget"), "{err}");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    let out = qpik_cli(
        &["simulate", "kernel", "graphene-500meV", "-o", "/dev/null"],
        &dir,
        2 << 20,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device_like()
    );

    let fifo = dir.join("fifo");
    let c = CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let t = Instant::now();
    for args in [
        vec!["show", "fifo"],
        vec!["simulate", "kernel", "--spec", "fifo", "-o", "k.h5"],
    ] {
        let out = qpik_cli(&args, &dir, 2 << 20);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
    assert!(t.elapsed() < Duration::from_secs(60));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C in the CLI cancels cleanly: status 130 and no file, temporary or final.
#[test]
fn cli_interrupt_leaves_nothing_behind() {
    let dir = tempdir("sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qpik"))
        .args([
            "simulate",
            "dataset",
            "--kernels",
            "2",
            "--per-kernel",
            "200000",
            "--size",
            "32",
            "-o",
            "d.h5",
        ])
        .current_dir(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary file exists (the work has started), then interrupt.
    let start = Instant::now();
    while entries(&dir).is_empty() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!entries(&dir).is_empty(), "the dataset never started");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("qpik did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

trait CharDevice {
    fn is_char_device_like(&self) -> bool;
}
impl CharDevice for std::fs::FileType {
    fn is_char_device_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_char_device()
    }
}
