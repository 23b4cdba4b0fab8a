//! The C-ABI test harness shared by the reliability tests: a test body run in a child process
//! of the test binary under an address-space limit, and small option and error helpers.

use qpik::capi::*;
use std::ffi::{CStr, CString};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `body` in a child process (this test binary, this test alone) with an address-space
/// limit of `limit` bytes; the parent fails the test when the child does not exit cleanly
/// within `timeout`.
pub fn in_child(name: &str, limit: u64, timeout: Duration, body: impl FnOnce()) {
    if std::env::var("QPIK_TEST_CHILD").as_deref() == Ok(name) {
        let r = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &r) }, 0);
        body();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("QPIK_TEST_CHILD", name)
        .env("RAYON_NUM_THREADS", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{name}: the child ran past {timeout:?}\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "{name}: the child died ({status}) under a {limit}-byte address-space limit\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(qpik_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub fn options(pairs: &[(&str, &str)]) -> *mut qpik_options {
    let mut o = std::ptr::null_mut();
    assert_eq!(unsafe { qpik_options_new(&mut o) }, qpik_status::QPIK_OK);
    for (k, v) in pairs {
        let (k, v) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
        let s = unsafe { qpik_options_set(o, k.as_ptr(), v.as_ptr()) };
        assert_eq!(s, qpik_status::QPIK_OK, "{k:?}={v:?}: {}", last_error());
    }
    o
}
