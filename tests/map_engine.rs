//! The map engine against the truth of synthetic catalog maps, and its refusals.

use ndarray::{Array2, Array3};
use qpik::data::map_data::MapData;
use qpik::extract::map::{MapSettings, Smoothness, SymmetryChoice, extract_map};
use qpik::extract::sample_metrics;
use qpik::progress::NoProgress;
use qpik::synthesis::scene::{Scene, catalog_scene};
use qpik::synthesis::{Artefacts, DefectConfig};

fn scene(
    name: &str,
    size: usize,
    n: (usize, usize),
    window: usize,
    art: Artefacts,
    seed: u64,
) -> Scene {
    let defects = DefectConfig {
        count_min: n.0,
        count_max: n.1,
        ..DefectConfig::default()
    };
    catalog_scene(name, size, window / 2 + 8, window, &defects, &art, seed).expect("scene")
}

fn mask_positions(mask: &Array2<u8>) -> Vec<[f64; 2]> {
    qpik::extract::defects::positions_from_mask(mask.view()).expect("a mask with defects")
}

fn pearson(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    let a: Vec<f32> = a.iter().copied().collect();
    let b: Vec<f32> = b.iter().copied().collect();
    sample_metrics(&a, &b).pearson
}

fn settings(s: usize) -> MapSettings {
    MapSettings {
        kernel_size: Some(s),
        ..MapSettings::default()
    }
}

#[test]
fn realistic_maps_give_the_true_kernel_in_the_maps_unit() {
    // Realistic artefacts (noise, 1/f, line offsets, tip changes, spikes, plane, 1.5 px drift),
    // whole-pixel mask positions: the kernel, its scale (mean amplitude 1) and a trustworthy
    // held-out score.
    let s = 41;
    let sc = scene(
        "bi2212-normal-m50meV",
        192,
        (30, 60),
        s,
        Artefacts::realistic(),
        4,
    );
    let map = MapData::from_image(sc.observation.image.clone());
    let ex = extract_map(
        &map,
        &mask_positions(&sc.observation.mask),
        &settings(s),
        &NoProgress,
    )
    .expect("extraction");
    let k = ex.kernels.slice(ndarray::s![0, 0, .., ..]).to_owned();
    let r = pearson(&k, &sc.kernel);
    assert!(r > 0.98, "Pearson {r} against the true kernel");
    // Scale: amplitudes have mean 1, so the kernel's size matches the truth times the mean
    // true amplitude (synthesis draws 0.5..1.5, mean ~1).
    let mean_true_amp = sc
        .observation
        .amplitudes
        .iter()
        .map(|&a| a as f64)
        .sum::<f64>()
        / sc.observation.amplitudes.len() as f64;
    let ratio = k.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt()
        / sc.kernel
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
    assert!(
        (ratio / mean_true_amp - 1.0).abs() < 0.1,
        "kernel scale {ratio} vs {mean_true_amp}"
    );
    let mean_amp =
        ex.amplitudes.iter().map(|&a| a as f64).sum::<f64>() / ex.amplitudes.len() as f64;
    assert!((mean_amp - 1.0).abs() < 1e-6, "mean amplitude {mean_amp}");
    assert!(ex.heldout_r2[0] > 0.7, "held-out R^2 {}", ex.heldout_r2[0]);
    // The standard error is small where the kernel is large.
    let std_med = median(ex.kernel_std.iter().map(|&v| v as f64).collect());
    let k_max = k.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
    assert!(
        std_med.is_finite() && std_med < 0.05 * k_max,
        "std {std_med} vs max {k_max}"
    );
    // The residual is the map minus the model: small against the map.
    let res_var = variance(ex.residual.iter().copied());
    let map_var = variance(sc.observation.image.iter().copied());
    assert!(
        res_var < 0.1 * map_var,
        "residual variance {res_var} vs map {map_var}"
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

fn variance(v: impl Iterator<Item = f32>) -> f64 {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).map(|x| x as f64).collect();
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
}

#[test]
fn noise_with_made_up_positions_scores_near_zero() {
    // A map of white noise and random positions: the held-out R^2 must say "nothing here".
    let mut rng = qpik::rng::Rng::new(9);
    let image = Array2::from_shape_fn((128, 128), |_| rng.normal() as f32);
    let positions: Vec<[f64; 2]> = (0..20)
        .map(|_| [rng.range(0.0, 127.0).round(), rng.range(0.0, 127.0).round()])
        .collect();
    let ex = extract_map(
        &MapData::from_image(image),
        &positions,
        &settings(21),
        &NoProgress,
    )
    .expect("extraction");
    assert!(
        ex.heldout_r2[0] < 0.05,
        "held-out R^2 {} on noise",
        ex.heldout_r2[0]
    );
}

#[test]
fn nan_lines_and_edge_defects_are_handled_without_wrap_around() {
    let s = 31;
    let sc = scene(
        "shockley-cu111-0meV",
        128,
        (15, 25),
        s,
        Artefacts::default(),
        2,
    );
    let mut image = sc.observation.image.clone();
    for c in 0..128 {
        image[[40, c]] = f32::NAN;
        image[[41, c]] = f32::NAN;
    }
    let ex = extract_map(
        &MapData::from_image(image),
        &mask_positions(&sc.observation.mask),
        &settings(s),
        &NoProgress,
    )
    .expect("extraction");
    let k = ex.kernels.slice(ndarray::s![0, 0, .., ..]).to_owned();
    assert!(
        pearson(&k, &sc.kernel) > 0.99,
        "Pearson {}",
        pearson(&k, &sc.kernel)
    );
    assert!(ex.residual[[0, 40, 7]].is_nan() && ex.residual[[0, 39, 7]].is_finite());
}

#[test]
fn stacks_share_positions_and_give_one_kernel_per_energy() {
    // Three energies: the same defects, kernels of different scale and sign per layer.
    let s = 31;
    let sc = scene(
        "shockley-cu111-0meV",
        128,
        (15, 25),
        s,
        Artefacts::default(),
        5,
    );
    let factors = [1.0f32, -0.5, 2.0];
    let mut data = Array3::<f32>::zeros((3, 128, 128));
    for (e, f) in factors.iter().enumerate() {
        data.slice_mut(ndarray::s![e, .., ..])
            .assign(&(&sc.observation.image * *f));
    }
    let map = MapData {
        data,
        pixel_size_m: sc.pixel_size_a * 1e-10,
        value_unit: "S".into(),
        energies_ev: vec![-0.01, 0.0, 0.01],
        source: "test".into(),
    };
    let ex = extract_map(
        &map,
        &mask_positions(&sc.observation.mask),
        &settings(s),
        &NoProgress,
    )
    .expect("extraction");
    assert_eq!(ex.kernels.dim(), (1, 3, s, s));
    assert_eq!(ex.amplitudes.dim().1, 3);
    let k0 = ex.kernels.slice(ndarray::s![0, 0, .., ..]).to_owned();
    for (e, f) in factors.iter().enumerate() {
        let k = ex.kernels.slice(ndarray::s![0, e, .., ..]).to_owned();
        // Each layer's kernel is the first one times the layer's factor (amplitudes mean 1).
        let expect = &k0 * *f;
        let err = (&k - &expect)
            .iter()
            .map(|v| v.abs())
            .fold(0.0f32, f32::max);
        let size = k0.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        assert!(err < 0.02 * size * f.abs(), "layer {e}: {err} vs {size}");
    }
    assert_eq!(ex.value_unit, "S");
    assert_eq!(ex.energies_ev, vec![-0.01, 0.0, 0.01]);
}

#[test]
fn symmetry_auto_finds_the_fourfold_kernel() {
    let s = 41;
    let sc = scene(
        "bi2212-normal-m50meV",
        160,
        (25, 40),
        s,
        Artefacts {
            snr: Some(3.0),
            ..Artefacts::default()
        },
        6,
    );
    let mut st = settings(s);
    st.symmetry = SymmetryChoice::Auto;
    let ex = extract_map(
        &MapData::from_image(sc.observation.image.clone()),
        &mask_positions(&sc.observation.mask),
        &st,
        &NoProgress,
    )
    .expect("extraction");
    // Bi2212's kernel is 4-fold (and so 2-fold); a 3- or 6-fold or isotropic choice is wrong.
    assert!(matches!(ex.symmetry, 2 | 4), "symmetry {}", ex.symmetry);
}

#[test]
fn one_defect_gives_a_large_uncertainty() {
    // The same white noise level on a map of one defect and on a map of twelve: the kernel's
    // standard error must be several times larger from one defect (about sqrt(12) ideally).
    let s = 31;
    let rel = |count: usize| {
        let sc = scene(
            "shockley-cu111-0meV",
            96,
            (count, count),
            s,
            Artefacts::default(),
            3,
        );
        let k_max = sc.kernel.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut rng = qpik::rng::Rng::new(11);
        let image = sc
            .observation
            .image
            .mapv(|v| v + 0.2 * k_max * rng.normal() as f32);
        let mut st = settings(s);
        st.smoothness = Smoothness::Fixed(0.01);
        let ex = extract_map(
            &MapData::from_image(image),
            &mask_positions(&sc.observation.mask),
            &st,
            &NoProgress,
        )
        .expect("extraction");
        median(ex.kernel_std.iter().map(|&v| v as f64).collect()) / k_max as f64
    };
    let (r1, rn) = (rel(1), rel(12));
    // One defect: each kernel pixel is one noisy map pixel, so its error is about the noise.
    assert!(
        r1 > 2.0 * rn && (0.1..0.4).contains(&r1),
        "relative std: one defect {r1}, twelve {rn}"
    );
}

#[test]
fn bad_input_is_refused_with_a_message_that_names_it() {
    let image = Array2::from_shape_fn((64, 64), |(r, c)| ((r * 7 + c * 3) % 11) as f32);
    let map = MapData::from_image(image.clone());
    let err = |m: &MapData, p: &[[f64; 2]], s: &MapSettings| {
        extract_map(m, p, s, &NoProgress)
            .expect_err("must fail")
            .to_string()
    };
    let e = err(&map, &[], &MapSettings::default());
    assert!(e.contains("no defects"), "{e}");
    let e = err(&map, &[[10.0, 10.0]], &settings(129));
    assert!(e.contains("larger than the map"), "{e}");
    let all: Vec<[f64; 2]> = (0..64 * 64)
        .map(|i| [(i / 64) as f64, (i % 64) as f64])
        .collect();
    let e = err(&map, &all, &settings(9));
    assert!(e.contains("too many defects"), "{e}");
    let e = err(&map, &[[10.0, 500.0]], &settings(9));
    assert!(e.contains("outside the 64 x 64 map"), "{e}");
    let e = err(&map, &[[f64::NAN, 1.0]], &settings(9));
    assert!(e.contains("non-finite position"), "{e}");
    let flat = MapData::from_image(Array2::from_elem((64, 64), 2.5f32));
    let e = err(&flat, &[[10.0, 10.0]], &settings(9));
    assert!(e.contains("constant"), "{e}");
    let nan = MapData::from_image(Array2::from_elem((64, 64), f32::NAN));
    let e = err(&nan, &[[10.0, 10.0]], &settings(9));
    assert!(e.contains("no finite pixels"), "{e}");
    let mut tiny = settings(9);
    tiny.memory_budget_bytes = 1 << 20;
    let e = err(&map, &[[10.0, 10.0]], &tiny);
    assert!(e.contains("memory budget"), "{e}");
    let bad = MapSettings {
        symmetry: SymmetryChoice::Rotation(5),
        ..MapSettings::default()
    };
    let e = err(&map, &[[10.0, 10.0]], &bad);
    assert!(e.contains("symmetry 5"), "{e}");
}

#[test]
fn positions_from_a_simulated_topography_do_as_well_as_the_mask() {
    // The same defects as apparent-height bumps in a topography channel (noise, line offsets,
    // plane, corrugation), found by the detector: the kernel is within 0.02 in Pearson of the
    // one from the mask, for three maps.
    use qpik::extract::defects::{TopographySettings, find_defects, positions_of};
    use qpik::synthesis::topography::{TopographyConfig, synthesize_topography};
    let s = 41;
    for seed in 0..3 {
        let sc = scene(
            "bi2212-normal-m50meV",
            160,
            (20, 40),
            s,
            Artefacts::realistic(),
            20 + seed,
        );
        let map = MapData::from_image(sc.observation.image.clone());
        let (h, w) = sc.observation.image.dim();
        let z = synthesize_topography(
            &sc.observation.positions,
            h,
            w,
            sc.pixel_size_a,
            &TopographyConfig::default(),
            &mut qpik::rng::Rng::new(seed),
        )
        .expect("topography");
        let found = find_defects(
            z.view(),
            &TopographySettings::for_pixel_size(sc.pixel_size_a).unwrap(),
        )
        .expect("detector");
        let mut st = settings(s);
        st.bootstrap = 0;
        let from_topo = extract_map(&map, &positions_of(&found), &st, &NoProgress)
            .expect("topography positions");
        let from_mask = extract_map(
            &map,
            &mask_positions(&sc.observation.mask),
            &st,
            &NoProgress,
        )
        .expect("mask positions");
        let k = |ex: &qpik::extract::map::Extraction| {
            ex.kernels.slice(ndarray::s![0, 0, .., ..]).to_owned()
        };
        let (rt, rm) = (
            pearson(&k(&from_topo), &sc.kernel),
            pearson(&k(&from_mask), &sc.kernel),
        );
        assert!(
            rt > rm - 0.02 && rm > 0.97,
            "seed {seed}: topography {rt}, mask {rm}"
        );
    }
}

#[test]
fn two_types_with_known_types_give_both_kernels() {
    // Two catalog kernels on one map (the sum of two scenes), each defect's type known: each
    // kernel comes back, and fitting them as one type would not (the check can fail).
    let s = 41;
    let clean = Artefacts {
        snr: Some(10.0),
        ..Artefacts::default()
    };
    let a = scene("square-tp-3-m200meV", 192, (20, 30), s, clean, 21);
    let b = scene("bi2212-normal-m50meV", 192, (20, 30), s, clean, 22);
    let image = &a.observation.image + &b.observation.image;
    let pa = mask_positions(&a.observation.mask);
    let pb = mask_positions(&b.observation.mask);
    let positions: Vec<[f64; 2]> = pa.iter().chain(&pb).copied().collect();
    let types: Vec<u8> = pa.iter().map(|_| 0).chain(pb.iter().map(|_| 1)).collect();
    let map = MapData::from_image(image);
    let cheap = MapSettings {
        bootstrap: 0,
        ..settings(s)
    };
    let ex = qpik::extract::map::extract_map_typed(&map, &positions, &types, &cheap, &NoProgress)
        .expect("two-type extraction");
    assert_eq!(ex.kernels.dim(), (2, 1, s, s));
    assert_eq!(ex.types, types);
    let k0 = ex.kernels.slice(ndarray::s![0, 0, .., ..]).to_owned();
    let k1 = ex.kernels.slice(ndarray::s![1, 0, .., ..]).to_owned();
    let (r0, r1) = (pearson(&k0, &a.kernel), pearson(&k1, &b.kernel));
    assert!(
        r0 > 0.97 && r1 > 0.97,
        "type kernels Pearson {r0:.4}, {r1:.4}"
    );
    let one = extract_map(&map, &positions, &cheap, &NoProgress).expect("one type");
    assert!(
        1.0 - one.heldout_r2[0] > 3.0 * (1.0 - ex.heldout_r2[0]),
        "one type leaves as little of the held-out half unexplained ({} vs {})",
        one.heldout_r2[0],
        ex.heldout_r2[0]
    );
    // Types must be numbered without gaps.
    let gap: Vec<u8> = types.iter().map(|&t| 2 * t).collect();
    let err = qpik::extract::map::extract_map_typed(&map, &positions, &gap, &cheap, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("type 1 has no defect"), "{err}");
}

#[test]
fn paper_style_64_maps_meet_the_issue_targets() {
    // The paper's test set in small: 64 x 64 clean maps with 1-20 defects at quarter-pixel
    // positions, whole-pixel masks, the kernel compared on its whole 64 x 64 window after
    // min-max scaling (as for the networks). Targets: mean RMSE (on [-1, 1]) <= 0.06 and
    // Pearson >= 0.9. With `decay = 0` the engine gets 0.12 and 0.86 here: a handful of
    // overlapping defects fits as well with wrong amplitudes and a compensating kernel.
    use qpik::synthesis::dataset::{DatasetConfig, generate_dataset};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("paper64.h5");
    let cfg = DatasetConfig {
        kernels: 20,
        per_kernel: 1,
        seed: 3,
        ..DatasetConfig::default()
    };
    generate_dataset(&cfg, &path, &NoProgress).expect("dataset");
    let settings = MapSettings {
        bootstrap: 0,
        ..MapSettings::default()
    };
    let (seen, unseen) =
        qpik::extract::evaluate_forward(&path, &settings, 20, &NoProgress).expect("eval");
    assert_eq!(seen.count + unseen.count, 20);
    let n = 20.0;
    let rmse = (seen.rmse2_mean * seen.count as f64 + unseen.rmse2_mean * unseen.count as f64) / n;
    let r = (seen.pearson_mean * seen.count as f64 + unseen.pearson_mean * unseen.count as f64) / n;
    assert!(
        rmse <= 0.06 && r >= 0.9,
        "mean RMSE {rmse:.3}, Pearson {r:.3}"
    );
}

#[test]
fn refined_positions_stay_on_the_map() {
    // A defect truly just beyond the right edge of a cropped map, given at the last column
    // (where a mask would put it): refinement pulls it towards the truth, but never off the
    // map (a position at column 225.16 of a 224-column map was once reported).
    let s = 31;
    let sc = scene(
        "shockley-cu111-0meV",
        128,
        (15, 25),
        s,
        Artefacts::default(),
        2,
    );
    let truth = &sc.observation.positions;
    let edge = truth
        .iter()
        .filter(|p| (40.0..100.0).contains(&p[1]) && (8.0..120.0).contains(&p[0]))
        .filter(|p| p[1].fract() <= 0.5)
        .map(|p| p[1])
        .fold(f32::NAN, f32::max);
    assert!(edge.is_finite(), "no defect to put at the edge");
    let w = edge.floor() as usize;
    let last = (w - 1) as f64;
    let image = sc.observation.image.slice(ndarray::s![.., ..w]).to_owned();
    let given: Vec<[f64; 2]> = truth
        .iter()
        .filter(|p| (p[1] as f64) < last + 8.0)
        .map(|p| [p[0] as f64, (p[1] as f64).min(last)])
        .collect();
    assert!(given.iter().any(|p| p[1] == last));
    let ex = extract_map(
        &MapData::from_image(image),
        &given,
        &settings(s),
        &NoProgress,
    )
    .expect("extraction");
    let h = 128.0;
    for (p, g) in ex.positions.iter().zip(&given) {
        let (r, c) = (p[0] as f64, p[1] as f64);
        assert!(
            r >= g[0].min(-0.5)
                && r <= g[0].max(h - 0.5)
                && c >= g[1].min(-0.5)
                && c <= g[1].max(last + 0.5),
            "refined ({r}, {c}) from ({}, {}) left the 128 x {w} map",
            g[0],
            g[1]
        );
    }
}

#[test]
fn even_kernel_sizes_and_implausible_pixel_sizes_are_refused_once_for_all() {
    use qpik::extract::map::extract_kernels;
    let image = Array2::from_shape_fn((64, 64), |(r, c)| ((r * 7 + c * 3) % 11) as f32);
    let mut map = MapData::from_image(image);
    let at = [[20.0, 20.0], [40.0, 40.0]];
    let e = extract_kernels(&map, &at, &settings(48), &NoProgress)
        .expect_err("even")
        .to_string();
    assert!(
        e.contains("kernel size 48 is even") && e.contains("47 or 49"),
        "{e}"
    );
    // Blind too (no defects given): the same check.
    let e = extract_kernels(&map, &[], &settings(48), &NoProgress)
        .expect_err("even")
        .to_string();
    assert!(e.contains("47 or 49"), "{e}");
    // 0.893 Angstrom given as metres.
    map.pixel_size_m = 0.893;
    for p in [&at[..], &[]] {
        let e = extract_kernels(&map, p, &settings(9), &NoProgress)
            .expect_err("implausible")
            .to_string();
        assert!(
            e.contains("did you mean 0.893 Angstrom (8.93e-11 m)?"),
            "{e}"
        );
    }
    for bad in [f64::INFINITY, -1e-10, 0.0] {
        map.pixel_size_m = bad;
        let e = extract_map(&map, &at, &settings(9), &NoProgress)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("pixel size"), "{e}");
    }
}
