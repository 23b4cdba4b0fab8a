//! TOML kernel specs through the C ABI (`qpik_kernel_new`), the whole path a plugin takes:
//! parse, validate, check the memory budget, simulate, render. The budget is 64 MiB and the
//! fuzzer runs with `-malloc_limit_mb` / `-rss_limit_mb` above it (scripts/fuzz.sh), so an
//! allocation the budget should have refused fails the run. A success must give a finite
//! image of the size the kernel reports.
#![no_main]
use libfuzzer_sys::fuzz_target;
use qpik::capi::*;
use std::ffi::CString;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = CString::new(String::from_utf8_lossy(data).replace('\0', " ")) else {
        return;
    };
    let mut opts = std::ptr::null_mut();
    unsafe {
        assert_eq!(qpik_options_new(&mut opts), qpik_status::QPIK_OK);
        let s = qpik_options_set(opts, c"memory_budget_bytes".as_ptr(), c"67108864".as_ptr());
        assert_eq!(s, qpik_status::QPIK_OK);
        let mut k = std::ptr::null_mut();
        let s = qpik_kernel_new(std::ptr::null(), spec.as_ptr(), opts, &mut k);
        qpik_options_free(opts);
        if s != qpik_status::QPIK_OK {
            assert!(k.is_null(), "a failed call returned a handle");
            return;
        }
        let mut info: qpik_kernel_info = std::mem::zeroed();
        info.struct_size = std::mem::size_of::<qpik_kernel_info>() as u32;
        assert_eq!(qpik_kernel_get_info(k, &mut info), qpik_status::QPIK_OK);
        let n = (info.rows * info.cols) as usize;
        let mut img = vec![0f64; n];
        let a = qpik_array_2d(img.as_mut_ptr().cast(), 2, info.rows, info.cols, 0);
        assert_eq!(qpik_kernel_image(k, &a), qpik_status::QPIK_OK);
        assert!(
            img.iter().all(|v| v.is_finite()),
            "QPIK_OK with a non-finite kernel image"
        );
        qpik_kernel_free(k);
    }
});
