//! Tests of the extraction result file: round trip, refusals, and a read-back with h5py.

use super::*;
use ndarray::{Array3, Array4};

/// A hand-built extraction with every field distinct and some NaNs: `t` types, `e` energies,
/// `s x s` kernels, `n` defects on an `h x w` map. Deterministic.
pub(crate) fn sample(t: usize, e: usize, s: usize, n: usize, h: usize, w: usize) -> Extraction {
    let c = (s / 2) as f32;
    let kernels = Array4::from_shape_fn((t, e, s, s), |(k, l, i, j)| {
        let r = ((i as f32 - c).powi(2) + (j as f32 - c).powi(2)).sqrt();
        (1.0 + k as f32) * (0.9 * r + 0.4 * l as f32).cos() / (1.0 + 0.3 * r)
    });
    let mut kernel_std = kernels.mapv(|v| 0.05 + 0.01 * v.abs());
    kernel_std[[0, 0, 0, 0]] = f32::NAN;
    let mut residual = Array3::from_shape_fn((e, h, w), |(l, i, j)| {
        0.01 * ((7 * i + 3 * j + 11 * l) % 13) as f32 - 0.06
    });
    residual[[0, h / 2, 0]] = f32::NAN;
    let background = Array3::from_shape_fn((e, h, w), |(l, i, j)| {
        0.5 + 0.001 * i as f32 - 0.002 * j as f32 + l as f32
    });
    Extraction {
        kernels,
        kernel_std,
        positions: (0..n)
            .map(|i| [(i * 7 % h) as f32 + 0.25, (i * 5 % w) as f32 - 0.5])
            .collect(),
        types: (0..n).map(|i| (i % t) as u8).collect(),
        amplitudes: Array2::from_shape_fn((n, e), |(i, l)| 1.0 + 0.1 * i as f32 - 0.05 * l as f32),
        residual,
        background,
        heldout_r2: (0..e).map(|l| 0.8 - 0.1 * l as f64).collect(),
        fit_r2: (0..e).map(|l| 0.9 - 0.05 * l as f64).collect(),
        symmetry: 4,
        smoothness: (0..e).map(|l| 1e-3 * (l + 1) as f64).collect(),
        decay: (0..e).map(|l| 0.5 * (l + 1) as f64).collect(),
        mirror_axis_deg: (0..t).map(|k| 10.0 * k as f64).collect(),
        pixel_size_m: 1.5e-10,
        value_unit: "S".into(),
        energies_ev: (0..e).map(|l| -0.01 + 0.005 * l as f64).collect(),
        method: "forward".into(),
        settings_toml: "kernel_size = 5\nsymmetry = \"auto\"\n".into(),
        excluded: Array2::from_shape_fn((h, w), |(i, j)| u8::from((i + 2 * j) % 7 == 0)),
        notes: "2 constant scan lines (aborted scan?)".into(),
        control_heldout_r2: 0.125,
        provenance: crate::data::provenance::Provenance {
            qpik_version: "0.0.9-test".into(),
            input_name: "map é.sxm".into(),
            input_sha256: "ab".repeat(32),
        },
    }
}

/// Equal, NaN equal to NaN (bit patterns of f32 NaN are not compared).
fn same_f32<'a>(
    a: impl IntoIterator<Item = &'a f32>,
    b: impl IntoIterator<Item = &'a f32>,
) -> bool {
    let (a, b): (Vec<f32>, Vec<f32>) = (
        a.into_iter().copied().collect(),
        b.into_iter().copied().collect(),
    );
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

fn assert_same(a: &Extraction, b: &Extraction) {
    assert_eq!(a.kernels.dim(), b.kernels.dim());
    assert!(same_f32(&a.kernels, &b.kernels), "kernels");
    assert!(same_f32(&a.kernel_std, &b.kernel_std), "kernel_std");
    assert_eq!(a.positions, b.positions);
    assert_eq!(a.types, b.types);
    assert_eq!(a.amplitudes.dim(), b.amplitudes.dim());
    assert!(same_f32(&a.amplitudes, &b.amplitudes), "amplitudes");
    assert_eq!(a.residual.dim(), b.residual.dim());
    assert!(same_f32(&a.residual, &b.residual), "residual");
    assert!(same_f32(&a.background, &b.background), "background");
    assert_eq!(a.heldout_r2, b.heldout_r2);
    assert_eq!(a.fit_r2, b.fit_r2);
    assert_eq!(a.symmetry, b.symmetry);
    assert_eq!(a.smoothness, b.smoothness);
    assert_eq!(a.decay, b.decay);
    assert_eq!(a.mirror_axis_deg, b.mirror_axis_deg);
    assert_eq!(a.excluded, b.excluded);
    assert_eq!(a.notes, b.notes);
    assert_eq!(
        a.control_heldout_r2.to_bits(),
        b.control_heldout_r2.to_bits()
    );
    assert!(
        a.pixel_size_m == b.pixel_size_m || (a.pixel_size_m.is_nan() && b.pixel_size_m.is_nan())
    );
    assert_eq!(a.value_unit, b.value_unit);
    assert_eq!(a.energies_ev.len(), b.energies_ev.len());
    for (x, y) in a.energies_ev.iter().zip(&b.energies_ev) {
        assert!(x == y || (x.is_nan() && y.is_nan()));
    }
    assert_eq!(a.method, b.method);
    assert_eq!(a.settings_toml, b.settings_toml);
    assert_eq!(a.provenance, b.provenance);
}

#[test]
fn round_trip_keeps_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.h5");
    for ex in [sample(2, 3, 5, 4, 6, 7), sample(1, 1, 9, 0, 12, 10)] {
        write_extraction(&path, &ex).unwrap();
        assert_same(&ex, &read_extraction(&path).unwrap());
    }
    let mut unknown = sample(1, 2, 3, 2, 4, 4);
    unknown.pixel_size_m = f64::NAN;
    unknown.energies_ev = vec![f64::NAN; 2];
    unknown.value_unit = String::new();
    write_extraction(&path, &unknown).unwrap();
    assert_same(&unknown, &read_extraction(&path).unwrap());
    assert_eq!(
        crate::data::output_file::tests::entries(dir.path()),
        ["result.h5"],
        "no temporary left behind"
    );
}

#[test]
fn bad_targets_and_inconsistent_results_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ex = sample(1, 2, 5, 3, 8, 8);
    let e = write_extraction(dir.path(), &ex).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("directory")),
        "{e}"
    );
    if Path::new("/dev/null").exists() {
        let e = write_extraction(Path::new("/dev/null"), &ex).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("regular")),
            "{e}"
        );
    }
    let path = dir.path().join("r.h5");
    let mut broken = [ex.clone(), ex.clone(), ex.clone(), ex.clone(), ex.clone()];
    broken[0].types.pop();
    broken[1].amplitudes = Array2::zeros((3, 1));
    broken[2].background = Array3::zeros((2, 8, 7));
    broken[3].types[0] = 1;
    broken[4].heldout_r2.push(0.0);
    for (k, b) in broken.iter().enumerate() {
        let e = write_extraction(&path, b).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("inconsistent")),
            "{k}: {e}"
        );
    }
    assert!(
        crate::data::output_file::tests::entries(dir.path()).is_empty(),
        "nothing written"
    );
}

#[test]
fn reading_refuses_foreign_and_inconsistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_extraction(dir.path()).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("regular file")),
        "{e}"
    );
    let text = dir.path().join("x.h5");
    std::fs::write(&text, b"not hdf5").unwrap();
    assert!(matches!(read_extraction(&text), Err(Error::Hdf5 { .. })));

    let path = dir.path().join("r.h5");
    write_extraction(&path, &sample(1, 2, 5, 3, 8, 8)).unwrap();
    // Each file differs from a good one in one place.
    type Edit<'a> = (&'a str, &'a dyn Fn(&hdf5::File));
    let edits: [Edit; 4] = [
        ("format", &|f| {
            f.delete_attr("format").unwrap();
            let v: VarLenUnicode = "qpik-dataset".parse().unwrap();
            f.new_attr::<VarLenUnicode>()
                .create("format")
                .unwrap()
                .write_scalar(&v)
                .unwrap();
        }),
        ("version", &|f| {
            f.delete_attr("version").unwrap();
            f.new_attr::<u32>()
                .create("version")
                .unwrap()
                .write_scalar(&2u32)
                .unwrap();
        }),
        ("'types' has shape [4]", &|f| {
            f.unlink("types").unwrap();
            f.new_dataset_builder()
                .with_data(&[0u8; 4])
                .create("types")
                .unwrap();
        }),
        ("'smoothness' is float32", &|f| {
            f.unlink("smoothness").unwrap();
            f.new_dataset_builder()
                .with_data(&[0f32; 2])
                .create("smoothness")
                .unwrap();
        }),
    ];
    for (expect, edit) in edits {
        write_extraction(&path, &sample(1, 2, 5, 3, 8, 8)).unwrap();
        {
            let f = hdf5::File::open_rw(&path).unwrap();
            edit(&f);
        }
        let e = read_extraction(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Format { message, .. } if message.contains(expect)),
            "{expect}: {e}"
        );
    }
}

/// A Python with h5py and NumPy: `$QPIK_PYTHON`, `python3`, or the system's.
fn python_with_h5py() -> Option<String> {
    let mut candidates: Vec<String> = std::env::var("QPIK_PYTHON").into_iter().collect();
    candidates.extend(["python3".to_string(), "/usr/bin/python3".to_string()]);
    candidates.into_iter().find(|p| {
        crate::data::test_process::command(p)
            .args(["-c", "import h5py, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// h5py reads what we wrote: every attribute and dataset with the documented type and shape.
#[test]
fn h5py_reads_the_documented_layout() {
    let Some(python) = python_with_h5py() else {
        eprintln!("skipped: no python3 with h5py (apt-get install python3-h5py)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.h5");
    let (t, e, s, n, h, w) = (2, 3, 7, 5, 9, 11);
    let ex = sample(t, e, s, n, h, w);
    write_extraction(&path, &ex).unwrap();
    let kernel_sum: f64 = ex.kernels.iter().map(|&v| v as f64).sum();
    let script = r#"
import sys, json, h5py, numpy as np
path, want = sys.argv[1], json.loads(sys.argv[2])
T, E, S, N, H, W = want["dims"]
with h5py.File(path, "r") as f:
    a = f.attrs
    s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    assert s(a["format"]) == "qpik-extraction", a["format"]
    assert a["version"] == 1 and a["version"].dtype == np.uint32, a["version"]
    assert a["pixel_size_m"].dtype == np.float64 and a["pixel_size_m"] == want["pixel_size_m"]
    assert s(a["value_unit"]) == want["value_unit"]
    assert s(a["method"]) == want["method"]
    assert s(a["settings"]) == want["settings"]
    assert s(a["notes"]) == want["notes"]
    assert s(a["qpik_version"]) == want["qpik_version"]
    assert s(a["input_name"]) == want["input_name"]
    assert s(a["input_sha256"]) == want["input_sha256"]
    assert s(a["symmetry_name"]) == want["symmetry_name"]
    assert a["kernel_size"] == S and a["kernel_size"].dtype == np.uint32
    assert a["types"] == T and a["types"].dtype == np.uint32
    assert a["defects"] == N and a["defects"].dtype == np.uint64
    assert a["symmetry"] == want["symmetry"] and a["symmetry"].dtype == np.uint32
    r2 = np.asarray(a["heldout_r2_per_energy"])
    assert r2.dtype == np.float64 and r2.shape == (E,) and np.allclose(r2, want["heldout_r2"])
    assert np.isclose(a["heldout_r2"], np.mean(r2)), (a["heldout_r2"], r2)
    c2 = a["control_heldout_r2"]
    assert c2.dtype == np.float64 and c2 == want["control_heldout_r2"], c2
    fit = np.asarray(a["fit_r2"])
    assert fit.dtype == np.float64 and fit.shape == (E,) and np.allclose(fit, want["fit_r2"])
    shapes = {
        "kernels": ("float32", (T, E, S, S)), "kernel_std": ("float32", (T, E, S, S)),
        "positions": ("float32", (N, 2)), "types": ("uint8", (N,)),
        "amplitudes": ("float32", (N, E)), "residual": ("float32", (E, H, W)),
        "excluded": ("uint8", (H, W)),
        "background": ("float32", (E, H, W)), "energies_ev": ("float64", (E,)),
        "smoothness": ("float64", (E,)), "decay": ("float64", (E,)),
    }
    assert set(f.keys()) == set(shapes), sorted(f.keys())
    for name, (dtype, shape) in shapes.items():
        d = f[name]
        assert d.dtype == np.dtype(dtype) and d.shape == shape, (name, d.dtype, d.shape)
    k = f["kernels"][()]
    assert np.isclose(k.astype(np.float64).sum(), want["kernel_sum"], rtol=1e-6)
    c = S // 2
    assert k[0, 0, c, c] == np.max(k[0, 0]), "impurity at (S/2, S/2)"
    assert np.array_equal(f["types"][()], np.array(want["types"], dtype=np.uint8))
    assert np.allclose(f["positions"][()], np.array(want["positions"]))
    assert np.isnan(f["kernel_std"][0, 0, 0, 0]) and np.isnan(f["residual"][0, H // 2, 0])
    assert np.allclose(f["energies_ev"][()], want["energies_ev"])
print("ok")
"#;
    let want = serde_json::json!({
        "dims": [t, e, s, n, h, w],
        "pixel_size_m": ex.pixel_size_m,
        "value_unit": ex.value_unit,
        "method": ex.method,
        "settings": ex.settings_toml,
        "notes": ex.notes,
        "qpik_version": ex.provenance.qpik_version,
        "input_name": ex.provenance.input_name,
        "input_sha256": ex.provenance.input_sha256,
        "symmetry_name": ex.symmetry_name(),
        "symmetry": ex.symmetry,
        "heldout_r2": ex.heldout_r2,
        "fit_r2": ex.fit_r2,
        "control_heldout_r2": ex.control_heldout_r2,
        "kernel_sum": kernel_sum,
        "types": ex.types,
        "positions": ex.positions,
        "energies_ev": ex.energies_ev,
    });
    let out = crate::data::test_process::command(&python)
        .args(["-c", script, path.to_str().unwrap(), &want.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{python}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
