//! `qpik::fit::gap_sign`: kernels at +E and -E simulated from a sign-changing and a
//! sign-preserving gap (s+- / s++ in the two-orbital iron model, d / s in Bi2212), with
//! per-pixel Gaussian noise stated as `kernel_std`, analysed with a spec whose impurity
//! strength, broadening and gap size are off the truth's. Right verdicts must reach 95 %,
//! and a decided verdict must never be wrong; harsh noise and pure noise give "undecided".

use ndarray::Array4;
use qpik::extract::map::Extraction;
use qpik::fit::gap_sign::variants::{simulate, variants};
use qpik::fit::gap_sign::{GapSignResult, GapSignSettings, Verdict, gap_sign};
use qpik::physics::spec::{Amplitude, ModelSpec};
use qpik::physics::{KernelSpec, SimContext, catalog};
use qpik::progress::NoProgress;
use qpik::rng::Rng;
use std::time::Instant;

/// Kernel size, pixels.
const S: usize = 25;
/// k-grid of every simulation (small, so the file runs in seconds; truth and model share it).
const KGRID: usize = 192;
/// Noise per pixel, in units of the kernel's rms, at which nothing should be decided.
const HARSH: f64 = 25.0;
/// Pair energies as fractions of the gap maximum.
const FRACTIONS: [f64; 3] = [0.5, 0.8, 1.0];

/// The catalog's iron (s+-) or Bi2212 (d) spec with gap maximum `gap`, broadening `eta` and
/// impurity potential `v`, in its sign-changing or sign-preserving form.
fn spec(iron: bool, gap: f64, eta: f64, v: f64, changing: bool) -> KernelSpec {
    let mut s = catalog::find(if iron {
        "fe2orb-spm-8meV"
    } else {
        "bi2212-dwave-10meV"
    })
    .unwrap();
    let f = gap / variants(&s).unwrap().gap_max_ev;
    if let ModelSpec::TightBinding { pairing, .. } = &mut s.model {
        for t in pairing.iter_mut() {
            if let Amplitude::Real(x) = &mut t.t {
                *x *= f;
            }
        }
    }
    s.broadening_ev = eta;
    s.impurity.potential_ev = v;
    s.kgrid.n = Some(KGRID);
    s.render.size = [S, S];
    let v = variants(&s).unwrap();
    if changing {
        v.sign_changing
    } else {
        v.sign_preserving
    }
}

/// An extraction of `truth`'s kernels at `+-E` for `E = FRACTIONS x gap`, with Gaussian
/// noise of `noise` times each kernel's rms per pixel (stated as `kernel_std`).
fn extraction(truth: &KernelSpec, gap: f64, noise: f64, seed: u64) -> Extraction {
    let energies: Vec<f64> = FRACTIONS.iter().flat_map(|f| [f * gap, -f * gap]).collect();
    let e = energies.len();
    let mut kernels = Array4::<f32>::zeros((1, e, S, S));
    let mut std = Array4::<f32>::zeros((1, e, S, S));
    let mut ctx = SimContext::new();
    let mut rng = Rng::new(seed);
    let px = truth.render.pixel_size_a;
    for (k, &en) in energies.iter().enumerate() {
        let img = simulate(truth, en, S, px, &mut ctx, &NoProgress).unwrap();
        let rms = (img.iter().map(|v| v * v).sum::<f64>() / img.len() as f64).sqrt();
        let sd = noise * rms;
        for ((i, j), v) in img.indexed_iter() {
            kernels[[0, k, i, j]] = (v + sd * rng.normal()) as f32;
            std[[0, k, i, j]] = sd as f32;
        }
    }
    Extraction::of_kernels(kernels, std, energies, px * 1e-10, "S")
}

/// One case: the truth's parameters and the analysing spec's (off the truth's).
struct Case {
    iron: bool,
    changing: bool,
    truth: (f64, f64, f64),
    model: (f64, f64, f64),
    seed: u64,
}

/// `count` pairs of cases (one sign-changing, one sign-preserving truth with the same
/// parameters) of one family, parameters drawn with `seed`.
fn cases(iron: bool, count: usize, seed: u64) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for i in 0..count {
        let (gap, eta, v) = if iron {
            (
                rng.range(0.012, 0.03),
                rng.range(0.15, 0.3),
                rng.range(0.1, 0.6) * if rng.uniform() < 0.3 { -1.0 } else { 1.0 },
            )
        } else {
            (
                rng.range(0.025, 0.05),
                rng.range(0.1, 0.2),
                rng.range(0.15, 0.8) * if rng.uniform() < 0.3 { -1.0 } else { 1.0 },
            )
        };
        let eta = eta * gap;
        // The analysing spec: the truth's band and gap form, its size, broadening and impurity
        // strength off by up to 10 %, 30 % and 30 %.
        let model = (
            gap * rng.range(0.9, 1.1),
            eta * rng.range(0.7, 1.3),
            v * rng.range(0.7, 1.3),
        );
        for changing in [true, false] {
            out.push(Case {
                iron,
                changing,
                truth: (gap, eta, v),
                model,
                seed: seed * 1000 + 2 * i as u64 + u64::from(changing),
            });
        }
    }
    out
}

/// The analysis of one case at `noise`; the analysing spec's own form is the one the truth
/// does not have in half the cases (the answer must not follow the spec).
fn run(case: &Case, noise: f64) -> GapSignResult {
    let (g, e, v) = case.truth;
    let truth = spec(case.iron, g, e, v, case.changing);
    let ex = extraction(&truth, g, noise, case.seed);
    let (mg, me, mv) = case.model;
    let given_form = case.seed % 4 < 2;
    let model = spec(case.iron, mg, me, mv, given_form);
    gap_sign(
        &[&ex],
        Some(&model.to_toml()),
        &GapSignSettings::default(),
        &NoProgress,
    )
    .unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    right: usize,
    undecided: usize,
    wrong: usize,
    free_right: usize,
    free_undecided: usize,
    free_wrong: usize,
}

fn tally(cases: &[Case], noise: f64) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        let r = run(c, noise);
        let truth = if c.changing {
            Verdict::SignChanging
        } else {
            Verdict::SignPreserving
        };
        let m = r.model.as_ref().unwrap();
        eprintln!(
            "iron={} changing={} truth={:?} model={:?} noise={noise}: {} ({:.1} sigma; chi2 \
             chg {:.1} pres {:.1} dof {} infl {:.2}); model-free {}",
            c.iron,
            c.changing,
            c.truth,
            c.model,
            r.verdict.name(),
            r.sigma,
            m.chi2_sign_changing,
            m.chi2_sign_preserving,
            m.dof,
            m.inflation,
            r.model_free.verdict.name(),
        );
        match r.verdict {
            Verdict::Undecided => t.undecided += 1,
            v if v == truth => t.right += 1,
            _ => t.wrong += 1,
        }
        match r.model_free.verdict {
            Verdict::Undecided => t.free_undecided += 1,
            v if v == truth => t.free_right += 1,
            _ => t.free_wrong += 1,
        }
    }
    t
}

/// 10 pairs of one family at realistic noise (20 % of the kernel's rms per pixel) and at
/// harsh noise ([`HARSH`] times the rms).
fn family(iron: bool, seed: u64) {
    let started = Instant::now();
    let list = cases(iron, 10, seed);
    let t = tally(&list, 0.2);
    eprintln!(
        "{}: realistic noise: {t:?} in {:.1} s",
        if iron { "s+- / s++" } else { "d / s" },
        started.elapsed().as_secs_f64()
    );
    assert_eq!(t.wrong, 0, "{t:?}");
    assert!(t.right * 100 >= 95 * list.len(), "{t:?}");
    let harsh = tally(&list[..4], HARSH);
    eprintln!("harsh noise: {harsh:?}");
    assert_eq!(harsh.wrong, 0, "{harsh:?}");
    assert!(harsh.undecided >= 3, "{harsh:?}");
}

#[test]
fn iron_s_plus_minus_against_s_plus_plus() {
    family(true, 11);
}

#[test]
fn bi2212_d_against_s() {
    family(false, 23);
}

/// Kernels of pure noise: nothing to decide, with or without a spec.
#[test]
fn pure_noise_is_undecided() {
    let energies = vec![0.01, -0.01, 0.02, -0.02, 0.03, -0.03];
    let mut rng = Rng::new(99);
    let kernels = Array4::from_shape_fn((1, 6, S, S), |_| rng.normal() as f32);
    let std = Array4::from_elem((1, 6, S, S), 1.0f32);
    let ex = Extraction::of_kernels(kernels, std, energies, 2.0e-10, "S");
    let r = gap_sign(&[&ex], None, &GapSignSettings::default(), &NoProgress).unwrap();
    assert_eq!(r.verdict, Verdict::Undecided, "{}", r.reason);
    let model = spec(true, 0.02, 0.004, 0.2, true);
    let r = gap_sign(
        &[&ex],
        Some(&model.to_toml()),
        &GapSignSettings::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Undecided, "{}", r.reason);
    // Every energy's standard error is the propagated one: rho^- scatters by it.
    let z: Vec<f64> = r.energies.iter().map(|e| e.signal / e.std).collect();
    assert!(z.iter().all(|v| v.abs() < 4.0), "{z:?}");
}

/// Energies without opposites, and a spec that is not superconducting, are refused.
#[test]
fn refusals() {
    let ex = Extraction::of_kernels(
        Array4::zeros((1, 2, S, S)),
        Array4::from_elem((1, 2, S, S), 1.0),
        vec![0.01, 0.02],
        2.0e-10,
        "S",
    );
    let e = gap_sign(&[&ex], None, &GapSignSettings::default(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("opposite"), "{e}");
    let ex = Extraction::of_kernels(
        Array4::zeros((1, 2, S, S)),
        Array4::from_elem((1, 2, S, S), 1.0),
        vec![0.01, -0.01],
        2.0e-10,
        "S",
    );
    let normal = catalog::find("fe2orb-normal-0meV").unwrap().to_toml();
    let e = gap_sign(
        &[&ex],
        Some(&normal),
        &GapSignSettings::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(e.to_string().contains("pairing"), "{e}");
}

/// Through files and the command line: `qpik fit RESULT.h5 --gap-sign --spec MODEL.toml`
/// gives the library's verdict, writes the TOML and the picture, and refuses to write over
/// its input.
#[test]
fn command_line_gives_the_library_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let truth = spec(true, 0.02, 0.004, 0.3, true);
    let ex = extraction(&truth, 0.02, 0.2, 5);
    let result = dir.path().join("k.h5");
    qpik::data::extraction_file::write_extraction(&result, &ex).unwrap();
    let model = dir.path().join("model.toml");
    std::fs::write(&model, spec(true, 0.021, 0.0045, 0.27, false).to_toml()).unwrap();
    let lib = qpik::fit::gap_sign::gap_sign_files(
        &[&result],
        Some(&model),
        &GapSignSettings::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(lib.verdict, Verdict::SignChanging, "{}", lib.reason);
    let out = dir.path().join("gap.toml");
    let png = dir.path().join("gap.png");
    let run = |extra: &[&std::path::Path]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_qpik"))
            .arg("fit")
            .arg(&result)
            .arg("--gap-sign")
            .arg("--spec")
            .arg(&model)
            .arg("--json")
            .args(
                extra
                    .iter()
                    .flat_map(|p| [std::ffi::OsStr::new("-o"), p.as_os_str()]),
            )
            .arg("--png")
            .arg(&png)
            .output()
            .unwrap()
    };
    let o = run(&[&out]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["verdict"], "sign-changing");
    assert!(json["confidence"].as_f64().unwrap() > 0.997);
    assert_eq!(json["energies"].as_array().unwrap().len(), FRACTIONS.len());
    let toml: toml::Table = std::fs::read_to_string(&out).unwrap().parse().unwrap();
    assert_eq!(toml["gap_sign"]["verdict"].as_str(), Some("sign-changing"));
    assert!(std::fs::metadata(&png).unwrap().len() > 0);
    let before = std::fs::read(&result).unwrap();
    let o = run(&[&result]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&result).unwrap(), before);
}

#[test]
fn two_result_files_give_the_verdict_of_one() {
    // The two-file form (`qpik fit k_pos.h5 k_neg.h5 --gap-sign`): the kernels at +E in one
    // result and at -E in another must read as the one file holding both, whichever file
    // comes first, in the library and on the command line.
    let dir = tempfile::tempdir().unwrap();
    let truth = spec(false, 0.04, 0.006, 0.4, true);
    let ex = extraction(&truth, 0.04, 0.2, 7);
    let px = ex.pixel_size_m;
    let part = |sign: f64| {
        let keep: Vec<usize> = (0..ex.energies_ev.len())
            .filter(|&k| ex.energies_ev[k] * sign > 0.0)
            .collect();
        let pick = |a: &Array4<f32>| a.select(ndarray::Axis(1), &keep);
        Extraction::of_kernels(
            pick(&ex.kernels),
            pick(&ex.kernel_std),
            keep.iter().map(|&k| ex.energies_ev[k]).collect(),
            px,
            "S",
        )
    };
    let (one, plus, minus) = (
        dir.path().join("k.h5"),
        dir.path().join("k_pos.h5"),
        dir.path().join("k_neg.h5"),
    );
    let write = qpik::data::extraction_file::write_extraction;
    write(&one, &ex).unwrap();
    write(&plus, &part(1.0)).unwrap();
    write(&minus, &part(-1.0)).unwrap();
    let model = dir.path().join("model.toml");
    std::fs::write(&model, spec(false, 0.042, 0.0065, 0.35, false).to_toml()).unwrap();
    let analyse = |files: &[&std::path::Path]| {
        qpik::fit::gap_sign::gap_sign_files(
            files,
            Some(&model),
            &GapSignSettings::default(),
            &NoProgress,
        )
        .unwrap()
    };
    let whole = analyse(&[&one]);
    assert_eq!(whole.verdict, Verdict::SignChanging, "{}", whole.reason);
    for files in [[&plus, &minus], [&minus, &plus]] {
        let split = analyse(&[files[0].as_path(), files[1].as_path()]);
        assert_eq!(split.verdict, whole.verdict, "{}", split.reason);
        assert!((split.sigma - whole.sigma).abs() <= 1e-9 * whole.sigma.abs().max(1.0));
        assert_eq!(split.energies.len(), FRACTIONS.len());
        for (a, b) in split.energies.iter().zip(&whole.energies) {
            assert_eq!(a.energy_ev, b.energy_ev);
            assert!(
                (a.signal - b.signal).abs() <= 1e-9 * b.signal.abs().max(1e-12),
                "rho^-({}) {} against {}",
                a.energy_ev,
                a.signal,
                b.signal
            );
        }
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qpik"))
        .arg("fit")
        .args([&plus, &minus])
        .args(["--gap-sign", "--json", "--spec"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["verdict"], "sign-changing");
}

/// Through the map engine, as a user gets there: a `[6, 160, 160]` stack of one iron s+- and
/// one s++ truth at `+-E` (three pairs), 24 impurities shared by every layer with amplitudes
/// 0.6-1.4, Gaussian noise of 20 % of each layer's rms per pixel, the kernels extracted by
/// `extract_map` with the positions given (kernel_std from its bootstrap) and analysed with
/// a spec of the other gap form whose gap, broadening and impurity strength are off. Both
/// verdicts must be right.
#[test]
fn kernels_extracted_from_a_map_stack_give_the_verdict() {
    use qpik::data::map_data::MapData;
    use qpik::extract::map::{MapSettings, extract_map};
    let (gap, eta, v) = (0.02, 0.004, 0.3);
    let (h, w) = (160, 160);
    let energies: Vec<f64> = FRACTIONS.iter().flat_map(|f| [f * gap, -f * gap]).collect();
    let mut rng = Rng::new(11);
    let mut positions: Vec<[f64; 2]> = Vec::new();
    for gy in 0..5 {
        for gx in 0..5 {
            if positions.len() == 24 {
                break;
            }
            let r = 18.0 + gy as f64 * 31.0 + rng.range(-4.0, 4.0);
            let c = 18.0 + gx as f64 * 31.0 + rng.range(-4.0, 4.0);
            positions.push([r.round(), c.round()]);
        }
    }
    let amplitudes: Vec<f64> = positions.iter().map(|_| rng.range(0.6, 1.4)).collect();
    for changing in [true, false] {
        let started = Instant::now();
        let truth = spec(true, gap, eta, v, changing);
        let px = truth.render.pixel_size_a;
        let mut ctx = SimContext::new();
        let mut data = ndarray::Array3::<f32>::zeros((energies.len(), h, w));
        for (e, &en) in energies.iter().enumerate() {
            let k = simulate(&truth, en, S, px, &mut ctx, &NoProgress).unwrap();
            let c = (S / 2) as isize;
            for (p, a) in positions.iter().zip(&amplitudes) {
                for ((i, j), kv) in k.indexed_iter() {
                    let (r, col) = (
                        p[0] as isize + i as isize - c,
                        p[1] as isize + j as isize - c,
                    );
                    if r >= 0 && col >= 0 && (r as usize) < h && (col as usize) < w {
                        data[[e, r as usize, col as usize]] += (a * kv) as f32;
                    }
                }
            }
            let mut layer = data.index_axis_mut(ndarray::Axis(0), e);
            let rms =
                (layer.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / (h * w) as f64).sqrt();
            layer.mapv_inplace(|x| x + (0.2 * rms * rng.normal()) as f32);
        }
        let map = MapData {
            data,
            pixel_size_m: px * 1e-10,
            value_unit: "S".into(),
            energies_ev: energies.clone(),
            source: "test".into(),
        };
        let settings = MapSettings {
            kernel_size: Some(S),
            ..MapSettings::default()
        };
        let ex = extract_map(&map, &positions, &settings, &NoProgress).unwrap();
        let model = spec(true, gap * 1.05, eta * 1.2, v * 0.8, !changing);
        let r = gap_sign(
            &[&ex],
            Some(&model.to_toml()),
            &GapSignSettings::default(),
            &NoProgress,
        )
        .unwrap();
        eprintln!(
            "truth {}: {:?} at {:.1} sigma ({:.1} s)",
            if changing { "s+-" } else { "s++" },
            r.verdict,
            r.sigma,
            started.elapsed().as_secs_f64()
        );
        let want = if changing {
            Verdict::SignChanging
        } else {
            Verdict::SignPreserving
        };
        assert_eq!(r.verdict, want, "{}", r.reason);
    }
}

/// The specs `tests/c/test_fit.c` analyses a real gap sign with (an iron s+- truth at gap 20
/// meV, and a sign-preserving model off it), kept equal to this file's `spec`
/// (`QPIK_WRITE_FIXTURES=1` writes them).
#[test]
fn the_c_tests_gap_sign_specs_are_this_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let files = [
        (
            "gap-sign-truth-spm.toml",
            spec(true, 0.02, 0.004, 0.3, true),
        ),
        (
            "gap-sign-model-spp.toml",
            spec(true, 0.021, 0.0048, 0.24, false),
        ),
    ];
    for (name, s) in files {
        let path = dir.join(name);
        if std::env::var_os("QPIK_WRITE_FIXTURES").is_some() {
            std::fs::write(&path, s.to_toml()).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, s.to_toml(), "{name} differs from spec(): rewrite it");
    }
}
