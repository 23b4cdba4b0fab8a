//! Issue 11, statuses and messages around files: a full disk, damaged dataset contents
//! (non-finite kernels, masks other than 0/1, kernel names that are not UTF-8), and one mask
//! rule shared by the CLI and the C ABI.

use qpik::capi::*;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tests here run one at a time: a test that holds an HDF5 file open in this process
/// (to damage it) while another forks a reader child or spawns the CLI would hand that
/// child its descriptor and the file's lock, and the first test's own reader would then find
/// the file locked (EAGAIN).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(qpik_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qpik-relf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn c(p: &Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

/// A small dataset file written through the C ABI.
fn small_dataset(path: &Path) {
    let mut o = std::ptr::null_mut();
    unsafe {
        assert_eq!(qpik_options_new(&mut o), qpik_status::QPIK_OK);
        for (k, v) in [
            (c"dataset.kernels", c"2"),
            (c"dataset.per_kernel", c"2"),
            (c"size", c"16"),
        ] {
            assert_eq!(
                qpik_options_set(o, k.as_ptr(), v.as_ptr()),
                qpik_status::QPIK_OK
            );
        }
        let s = qpik_dataset_generate(c(path).as_ptr(), o, None, std::ptr::null_mut());
        assert_eq!(s, qpik_status::QPIK_OK, "{}", last_error());
        qpik_options_free(o);
    }
}

/// Opens `path` and reads its first observation: the status of the first step that fails.
fn open_and_read(path: &Path) -> qpik_status {
    let mut d = std::ptr::null_mut();
    let s = unsafe { qpik_dataset_open(c(path).as_ptr(), &mut d) };
    if s != qpik_status::QPIK_OK {
        return s;
    }
    let mut obs = vec![0f32; 16 * 16];
    let mut mask = vec![0f32; 16 * 16];
    let mut k = 0u32;
    let o = qpik_array_3d(obs.as_mut_ptr().cast(), 1, 1, 16, 16, 0);
    let m = qpik_array_3d(mask.as_mut_ptr().cast(), 1, 1, 16, 16, 0);
    let s = unsafe { qpik_dataset_read(d, 0, &o, &m, &mut k) };
    unsafe { qpik_dataset_free(d) };
    s
}

#[test]
fn damaged_dataset_contents_are_format_errors_naming_the_problem() {
    let _serial = serial();
    let dir = tempdir("contents");
    let good = dir.join("good.h5");
    small_dataset(&good);
    assert_eq!(open_and_read(&good), qpik_status::QPIK_OK);

    // A NaN kernel pixel.
    let nan = dir.join("nan.h5");
    std::fs::copy(&good, &nan).unwrap();
    {
        let f = hdf5::File::open_rw(&nan).unwrap();
        let ds = f.dataset("kernels").unwrap();
        let mut k = ds.read_dyn::<f32>().unwrap();
        k[[1, 3, 4]] = f32::NAN;
        ds.write(&k).unwrap();
    }
    assert_eq!(open_and_read(&nan), qpik_status::QPIK_ERR_FORMAT);
    let m = last_error();
    assert!(m.contains("'kernels'") && m.contains("finite"), "{m}");

    // A mask holding 2.
    let mask = dir.join("mask.h5");
    std::fs::copy(&good, &mask).unwrap();
    {
        let f = hdf5::File::open_rw(&mask).unwrap();
        let ds = f.dataset("masks").unwrap();
        let mut v = ds.read_dyn::<u8>().unwrap();
        v[[0, 5, 6]] = 2;
        ds.write(&v).unwrap();
    }
    assert_eq!(open_and_read(&mask), qpik_status::QPIK_ERR_FORMAT);
    let m = last_error();
    assert!(m.contains("'masks'") && m.contains("0 or 1"), "{m}");

    // A kernel name that is not UTF-8.
    let name = dir.join("name.h5");
    std::fs::copy(&good, &name).unwrap();
    {
        use hdf5::types::VarLenAscii;
        let f = hdf5::File::open_rw(&name).unwrap();
        f.unlink("kernel_names").unwrap();
        // SAFETY: hdf5 stores the bytes as given; only their text view assumes ASCII.
        let names = [
            unsafe { VarLenAscii::from_ascii_unchecked(b"ok") },
            unsafe { VarLenAscii::from_ascii_unchecked(b"bad\xff\xfe") },
        ];
        f.new_dataset_builder()
            .with_data(&names)
            .create("kernel_names")
            .unwrap();
    }
    assert_eq!(open_and_read(&name), qpik_status::QPIK_ERR_FORMAT);
    let m = last_error();
    assert!(m.contains("UTF-8") && m.contains("entry 1"), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mounts a 1 MiB tmpfs at `dir`; false (the test then skips, saying so) without the right.
fn mount_small_disk(dir: &Path) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_full_disk_is_an_io_error_with_a_readable_message() {
    let _serial = serial();
    let dir = tempdir("full");
    if !mount_small_disk(&dir) {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let path = dir.join("d.h5");
    let mut o = std::ptr::null_mut();
    let s = unsafe {
        assert_eq!(qpik_options_new(&mut o), qpik_status::QPIK_OK);
        for (k, v) in [
            (c"dataset.kernels", c"2"),
            (c"dataset.per_kernel", c"400"),
            (c"size", c"32"),
        ] {
            assert_eq!(
                qpik_options_set(o, k.as_ptr(), v.as_ptr()),
                qpik_status::QPIK_OK
            );
        }
        let s = qpik_dataset_generate(c(&path).as_ptr(), o, None, std::ptr::null_mut());
        qpik_options_free(o);
        s
    };
    let m = last_error();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    let _ = Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(s, qpik_status::QPIK_ERR_IO, "{m}");
    assert!(m.contains("disk full"), "{m}");
    assert!(!m.contains("18446744073709551615"), "{m}");
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A mask value other than 0 and 1: the network path refuses it in the CLI and the C ABI
/// alike; infinity in a map-engine mask is refused by both.
#[test]
fn masks_are_read_by_one_rule_in_the_cli_and_the_c_abi() {
    let _serial = serial();
    let dir = tempdir("masks");
    let obs: Vec<f32> = (0..64 * 64).map(|i| (0.05 * i as f32).sin()).collect();
    let mut mask = vec![0f32; 64 * 64];
    let write_npy = |p: &Path, v: &[f32]| {
        let a = ndarray::Array2::from_shape_vec((64, 64), v.to_vec()).unwrap();
        qpik::data::npy::write_npy_f32(p, a.view().into_dyn(), false).unwrap();
    };
    write_npy(&dir.join("obs.npy"), &obs);
    let cli = |mask: &[f32]| {
        write_npy(&dir.join("mask.npy"), mask);
        let out = Command::new(env!("CARGO_BIN_EXE_qpik"))
            .current_dir(&dir)
            .args(["extract", "obs.npy", "--mask", "mask.npy", "-o", "k.h5"])
            .args(["--method", "one-step"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut m = std::ptr::null_mut();
    assert_eq!(
        unsafe { qpik_model_new_default(std::ptr::null(), &mut m) },
        qpik_status::QPIK_OK
    );
    let capi = |mask: &mut [f32]| {
        let mut obs = obs.clone();
        let mut out = vec![0f32; 64 * 64];
        let o = qpik_array_2d(obs.as_mut_ptr().cast(), 1, 64, 64, 0);
        let ma = qpik_array_2d(mask.as_mut_ptr().cast(), 1, 64, 64, 0);
        let k = qpik_array_2d(out.as_mut_ptr().cast(), 1, 64, 64, 0);
        unsafe { qpik_extract(m, &o, &ma, &k, std::ptr::null_mut()) }
    };
    mask[300] = 1.0;
    let (ok, err) = cli(&mask);
    assert!(ok, "{err}");
    assert_eq!(capi(&mut mask), qpik_status::QPIK_OK);
    for bad in [0.7, 2.0, f32::NAN, f32::INFINITY] {
        mask[700] = bad;
        let (ok, err) = cli(&mask);
        assert!(!ok && err.contains("0 or 1"), "CLI accepted {bad}: {err}");
        assert_eq!(
            capi(&mut mask),
            qpik_status::QPIK_ERR_INVALID_ARGUMENT,
            "{bad}"
        );
        assert!(last_error().contains("0 or 1"), "{}", last_error());
    }
    unsafe { qpik_model_free(m) };
    std::fs::remove_dir_all(&dir).unwrap();
}
