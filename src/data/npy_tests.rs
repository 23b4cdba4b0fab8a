//! Tests of the `.npy` reader and writer on bytes built here by hand from the format's
//! description, and (when numpy is installed) against files numpy itself writes and reads.

use super::*;
use ndarray::{Array, Dimension};

/// A `.npy` file: version 1.0 header for `descr`, `fortran`, `shape`, then `data`.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let fo = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {tuple}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(data);
    b
}

/// Logical value at `idx` of the test arrays: distinct, small integers, some negative.
fn logical(idx: &[usize]) -> f32 {
    let v = idx.iter().fold(0i64, |acc, &i| acc * 10 + i as i64 + 1);
    (if v % 3 == 0 { -v } else { v }) as f32
}

/// Indices of `shape` in the order the file stores them.
fn storage_order(shape: &[usize], fortran: bool) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut flat| {
            let mut idx = vec![0; shape.len()];
            let axes: Vec<usize> = if fortran {
                (0..shape.len()).collect()
            } else {
                (0..shape.len()).rev().collect()
            };
            for ax in axes {
                idx[ax] = flat % shape[ax];
                flat /= shape[ax];
            }
            idx
        })
        .collect()
}

fn encode(descr: &str, v: f32) -> Vec<u8> {
    let be = descr.starts_with('>');
    let mut b = match &descr[1..] {
        "f4" => v.to_le_bytes().to_vec(),
        "f8" => f64::from(v).to_le_bytes().to_vec(),
        "i1" => (v as i8).to_le_bytes().to_vec(),
        "i2" => (v as i16).to_le_bytes().to_vec(),
        "i4" => (v as i32).to_le_bytes().to_vec(),
        "i8" => (v as i64).to_le_bytes().to_vec(),
        "u1" => vec![v.abs() as u8],
        "u2" => (v.abs() as u16).to_le_bytes().to_vec(),
        "u4" => (v.abs() as u32).to_le_bytes().to_vec(),
        "u8" => (v.abs() as u64).to_le_bytes().to_vec(),
        "b1" => vec![u8::from(v > 0.0)],
        d => panic!("{d}"),
    };
    if be {
        b.reverse();
    }
    b
}

/// The value written for `idx` in type `descr`: [`logical`], kept within a byte for 1-byte types.
fn base(descr: &str, idx: &[usize]) -> f32 {
    let v = logical(idx);
    if descr.ends_with('1') { v % 100.0 } else { v }
}

fn expected(descr: &str, idx: &[usize]) -> f32 {
    let v = base(descr, idx);
    match &descr[1..] {
        "b1" => f32::from(u8::from(v > 0.0)),
        d if d.starts_with('u') => v.abs(),
        _ => v,
    }
}

fn check(descr: &str, fortran: bool, shape: &[usize]) {
    let data: Vec<u8> = storage_order(shape, fortran)
        .iter()
        .flat_map(|idx| encode(descr, base(descr, idx)))
        .collect();
    let a = parse_npy(&npy(descr, fortran, shape, &data), "t.npy").unwrap();
    assert_eq!(a.shape(), shape, "{descr} {fortran}");
    assert!(a.is_standard_layout());
    for (idx, &v) in a.indexed_iter() {
        assert_eq!(v, expected(descr, idx.slice()), "{descr} {fortran} {idx:?}");
    }
}

#[test]
fn every_dtype_byte_order_and_memory_order() {
    for t in [
        "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1",
    ] {
        let orders: &[char] = if matches!(t, "i1" | "u1" | "b1") {
            &['|']
        } else {
            &['<', '>']
        };
        for &o in orders {
            let descr = format!("{o}{t}");
            for fortran in [false, true] {
                check(&descr, fortran, &[3, 4]);
                check(&descr, fortran, &[2, 3, 4]);
            }
        }
    }
    // Non-square, and a single pixel.
    check("<f4", true, &[5, 2]);
    check("<f4", false, &[1, 1]);
}

#[test]
fn read_f32_and_stacks() {
    let dir = std::env::temp_dir().join(format!("qpik-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = Array::from_shape_fn((3, 4), |(r, c)| logical(&[r, c]));
    let stack = Array::from_shape_fn((2, 3, 4), |(e, r, c)| logical(&[e, r, c]));
    let p2 = dir.join("img.npy");
    let p3 = dir.join("stack.npy");
    write_npy_f32(&p2, img.view().into_dyn(), false).unwrap();
    write_npy_f32(&p3, stack.view().into_dyn(), true).unwrap();
    assert_eq!(read_f32(&p2).unwrap(), img);
    let e = read_f32(&p3).unwrap_err().to_string();
    assert!(
        e.contains("expected a 2-D image, found shape [2, 3, 4]"),
        "{e}"
    );
    assert_eq!(read_stack_f32(&p3).unwrap(), stack);
    assert_eq!(
        read_stack_f32(&p2).unwrap(),
        img.clone().insert_axis(ndarray::Axis(0))
    );
    let e = read_f32(&dir).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writer_matches_the_format_byte_for_byte() {
    let dir = std::env::temp_dir().join(format!("qpik-npy-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for shape in [vec![3, 5], vec![2, 3, 4]] {
        let a = ArrayD::from_shape_fn(IxDyn(&shape), |i| logical(i.slice()));
        for fortran in [false, true] {
            let path = dir.join("a.npy");
            write_npy_f32(&path, a.view(), fortran).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let data: Vec<u8> = storage_order(&shape, fortran)
                .iter()
                .flat_map(|idx| logical(idx).to_le_bytes())
                .collect();
            assert_eq!(
                bytes,
                npy("<f4", fortran, &shape, &data),
                "{shape:?} {fortran}"
            );
            assert_eq!(parse_npy(&bytes, "a.npy").unwrap(), a);
        }
    }
    // A transposed (non-standard-layout) view is written as its logical array.
    let a = Array::from_shape_fn((3, 4), |(r, c)| logical(&[r, c]));
    let path = dir.join("t.npy");
    write_npy_f32(&path, a.t().into_dyn(), false).unwrap();
    assert_eq!(read_f32(&path).unwrap(), a.t());
    // No temporary file is left behind, and a missing folder is an error.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".qpik"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let e = write_npy_f32(&dir.join("no/such/x.npy"), a.view().into_dyn(), false);
    assert!(matches!(e, Err(Error::Io { .. })));
    let e = write_npy_f32(&path, ndarray::arr1(&[1.0f32]).view().into_dyn(), false);
    assert!(e.unwrap_err().to_string().contains("2-D or 3-D"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file whose `fortran_order` is neither True nor False.
fn maybe_order() -> Vec<u8> {
    let mut b = npy("<f4", false, &[3, 4], &[0u8; 48]);
    let at = b.windows(5).position(|w| w == b"False").unwrap();
    b[at..at + 5].copy_from_slice(b"Maybe");
    b
}

#[test]
fn damaged_files_give_clear_errors() {
    let good_data = vec![0u8; 4 * 12];
    let good = npy("<f4", false, &[3, 4], &good_data);
    let mut long_header = good.clone();
    long_header[8..10].copy_from_slice(&60000u16.to_le_bytes());
    let mut v2_huge = b"\x93NUMPY\x02\x00".to_vec();
    v2_huge.extend(u32::MAX.to_le_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 zip".to_vec(), "missing the \\x93NUMPY magic"),
        (npy("<f4", false, &[12], &good_data), "found shape [12]"),
        (
            npy("<f4", false, &[1, 3, 4, 1], &good_data),
            "found shape [1, 3, 4, 1]",
        ),
        (npy("<f4", false, &[3, 0], &[]), "empty"),
        (
            npy("<f4", false, &[1 << 32, 1 << 32, 1 << 32], &[]),
            "is too large",
        ),
        (
            npy("<f8", false, &[1 << 30, 1 << 30], &[]),
            "needs 9223372036854775808",
        ),
        (
            good[..good.len() - 1].to_vec(),
            "47 bytes, but shape [3, 4]",
        ),
        (
            npy("<f4", false, &[3, 4], &[0u8; 52]),
            "52 bytes, but shape [3, 4] of 4-byte elements needs 48",
        ),
        (
            npy("<c8", false, &[3, 4], &good_data),
            "dtype '<c8' is not supported",
        ),
        (npy("<f2", false, &[3, 4], &good_data), "not supported"),
        // Found by fuzzing: a multi-byte character inside 'descr' (was a panic).
        (
            npy("<\u{7ab}1", false, &[3, 4], &good_data),
            "not supported",
        ),
        (maybe_order(), "'fortran_order' is \"Maybe\""),
        (long_header, "truncated header (60000 bytes announced)"),
        (v2_huge, "at most 1048576"),
        (b"\x93NUMPY\x09\x00\x10\x00".to_vec(), "version 9"),
    ];
    for (b, want) in cases {
        let e = parse_npy(&b, "f.npy").unwrap_err().to_string();
        assert!(e.starts_with("f.npy: ") && e.contains(want), "{want}: {e}");
    }
}

/// Cross-check with numpy itself: files numpy writes (both memory orders, several dtypes)
/// read here to the logical array numpy holds, and files written here load in numpy to the
/// same array. Skipped, with a note, where python3 lacks numpy.
#[test]
fn numpy_reads_and_writes_the_same_arrays() {
    let has_numpy = crate::data::test_process::command("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy {
        eprintln!("note: python3 with numpy is not available; numpy cross-check skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qpik-npy-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // numpy's logical value: the same formula as `logical`.
    let script = r#"
import sys, numpy as np
d = sys.argv[1]
def logical(shape):
    idx = np.indices(shape)
    v = np.zeros(shape, dtype=np.int64)
    for i in idx:
        v = v * 10 + i + 1
    return np.where(v % 3 == 0, -v, v)
for shape in [(3, 5), (2, 3, 4)]:
    a = logical(shape)
    tag = "x".join(map(str, shape))
    for dt in ["<f4", ">f8", ">i2", "<i8", "<u2", "|b1"]:
        b = (np.abs(a) if dt[1] == "u" else a).astype(dt) if dt != "|b1" else a > 0
        np.save(f"{d}/np_{tag}_{dt[1:]}_c.npy", np.ascontiguousarray(b))
        np.save(f"{d}/np_{tag}_{dt[1:]}_f.npy", np.asfortranarray(b))
        assert np.load(f"{d}/np_{tag}_{dt[1:]}_f.npy").flags.f_contiguous or len(shape) < 2
    for o in ["c", "f"]:
        got = np.load(f"{d}/qpik_{tag}_{o}.npy")
        assert got.dtype == np.float32, got.dtype
        assert got.shape == shape, got.shape
        assert (got == a.astype(np.float32)).all(), (o, got)
        assert got.flags.f_contiguous == (o == "f") or 1 in shape
print("ok")
"#;
    for shape in [vec![3, 5], vec![2, 3, 4]] {
        let tag = shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        let a = ArrayD::from_shape_fn(IxDyn(&shape), |i| logical(i.slice()));
        for (o, fortran) in [("c", false), ("f", true)] {
            write_npy_f32(&dir.join(format!("qpik_{tag}_{o}.npy")), a.view(), fortran).unwrap();
        }
    }
    let out = crate::data::test_process::command("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "numpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(rest) = file.strip_prefix("np_") else {
            continue;
        };
        let kind = rest.split('_').nth(1).unwrap();
        let a = read_f32_nd(&path).unwrap();
        for (idx, &v) in a.indexed_iter() {
            let want = expected(&format!("<{kind}"), idx.slice());
            assert_eq!(v, want, "{file} {idx:?}");
        }
        n += 1;
    }
    assert_eq!(n, 24);
    std::fs::remove_dir_all(&dir).unwrap();
}
