//! Blind and multi-type extraction against the truth of seeded synthetic maps, and its
//! refusals.

use ndarray::Array2;
use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::{MapSettings, TypeCount};
use qpik::extract::metrics::MaxDot;
use qpik::progress::NoProgress;
use qpik::synthesis::scene::catalog_scene;
use qpik::synthesis::typed_scene::typed_scene;
use qpik::synthesis::{Artefacts, DefectConfig};

fn settings(s: usize) -> MapSettings {
    MapSettings {
        kernel_size: Some(s),
        bootstrap: 0,
        ..MapSettings::default()
    }
}

fn noise_only() -> Artefacts {
    Artefacts {
        snr: Some(8.0),
        ..Artefacts::default()
    }
}

/// Index of the found defect nearest to `t` within `tol` pixels.
fn nearest(found: &[[f32; 2]], t: &[f32; 2], tol: f32) -> Option<usize> {
    found
        .iter()
        .enumerate()
        .map(|(i, f)| (i, (f[0] - t[0]).hypot(f[1] - t[1])))
        .filter(|(_, d)| *d <= tol)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// blind_accuracy's 256 x 256 map of catalog kernel `name` (30-80 defects, the kernel's
/// catalog index as the seed).
fn accuracy_scene(name: &str, s: usize, art: &Artefacts) -> qpik::synthesis::scene::Scene {
    let index = qpik::physics::catalog::catalog()
        .iter()
        .position(|k| k.name == name)
        .expect("in the catalog");
    let defects = DefectConfig {
        count_min: 30,
        count_max: 80,
        ..DefectConfig::default()
    };
    catalog_scene(name, 256, 32, s, &defects, art, index as u64).expect("scene")
}

/// True defects with a found one within 1 px, and found ones with no true one within 1 px.
fn hits_and_false(truth: &[[f32; 2]], found: &[[f32; 2]]) -> (usize, usize) {
    let hits = truth
        .iter()
        .filter(|p| nearest(found, p, 1.0).is_some())
        .count();
    let false_pos = found
        .iter()
        .filter(|f| nearest(truth, f, 1.0).is_none())
        .count();
    (hits, false_pos)
}

fn kernel_of(ex: &qpik::extract::map::Extraction, t: usize) -> Vec<f32> {
    ex.kernels
        .slice(ndarray::s![t, 0, .., ..])
        .iter()
        .copied()
        .collect()
}

#[test]
fn blind_finds_the_kernel_and_the_defects_of_a_realistic_map() {
    // Realistic artefacts except drift (whose shear moves positions from the truth).
    let s = 41;
    let defects = DefectConfig {
        count_min: 25,
        count_max: 40,
        ..DefectConfig::default()
    };
    let art = Artefacts {
        drift_px: 0.0,
        ..Artefacts::realistic()
    };
    let sc = catalog_scene("bi2212-dwave-35meV", 192, 28, s, &defects, &art, 3).expect("scene");
    let map = MapData::from_image(sc.observation.image.clone());
    let ex = extract_blind(&map, &[], &settings(s), &NoProgress).expect("blind extraction");
    assert_eq!(ex.method, "blind");
    let truth: Vec<f32> = sc.kernel.iter().copied().collect();
    let d = MaxDot::new(s, s).of(&kernel_of(&ex, 0), &truth);
    assert!(d > 0.99, "maxdot {d}");
    let t = &sc.observation.positions;
    let (hits, false_pos) = hits_and_false(t, &ex.positions);
    assert!(
        hits * 100 >= 95 * t.len() && false_pos * 100 <= 5 * ex.positions.len(),
        "{hits} of {} defects found within 1 px, {false_pos} of {} found are false",
        t.len(),
        ex.positions.len()
    );
    // Centred on the impurity: the positions agree with the truth on average.
    let (mut dr, mut dc, mut n) = (0.0f32, 0.0f32, 0.0f32);
    for p in t {
        if let Some(i) = nearest(&ex.positions, p, 1.0) {
            dr += ex.positions[i][0] - p[0];
            dc += ex.positions[i][1] - p[1];
            n += 1.0;
        }
    }
    assert!(
        (dr / n).hypot(dc / n) < 0.25,
        "mean offset ({}, {})",
        dr / n,
        dc / n
    );
    assert!(ex.heldout_r2[0] > 0.8, "held-out R^2 {}", ex.heldout_r2[0]);
}

#[test]
fn two_types_are_separated_and_assigned() {
    let s = 33;
    let names = ["square-tp-3-m200meV", "shockley-cu111-m100meV"];
    let unit = DefectConfig {
        count_min: 20,
        count_max: 30,
        ..DefectConfig::default()
    };
    // Amplitudes so that both types are equally visible.
    let first = typed_scene(&names, 224, 24, s, &[unit, unit], &noise_only(), 8).expect("scene");
    let rms = |k: &Array2<f32>| (k.iter().map(|v| v * v).sum::<f32>() / k.len() as f32).sqrt();
    let ratio = (rms(&first.kernels[0]) / rms(&first.kernels[1])) as f64;
    let second = DefectConfig {
        amplitude_min: unit.amplitude_min * ratio,
        amplitude_max: unit.amplitude_max * ratio,
        ..unit
    };
    let sc = typed_scene(&names, 224, 24, s, &[unit, second], &noise_only(), 8).expect("scene");
    let map = MapData::from_image(sc.image.clone());
    let two = MapSettings {
        types: TypeCount::Fixed(2),
        ..settings(s)
    };
    let ex = extract_blind(&map, &[], &two, &NoProgress).expect("two-type extraction");
    assert_eq!(ex.type_count(), 2);
    let md = MaxDot::new(s, s);
    let truth: Vec<Vec<f32>> = sc
        .kernels
        .iter()
        .map(|k| k.iter().copied().collect())
        .collect();
    // The found types in the order that matches the truth best.
    let score = |perm: [usize; 2]| {
        [
            md.of(&kernel_of(&ex, perm[0]), &truth[0]),
            md.of(&kernel_of(&ex, perm[1]), &truth[1]),
        ]
    };
    let (a, b) = (score([0, 1]), score([1, 0]));
    let (perm, d) = if a[0] + a[1] >= b[0] + b[1] {
        ([0u8, 1], a)
    } else {
        ([1u8, 0], b)
    };
    assert!(d[0] > 0.9 && d[1] > 0.9, "kernel maxdot {d:?}");
    let (mut matched, mut right) = (0, 0);
    for (p, &t) in sc.positions.iter().zip(&sc.types) {
        if let Some(i) = nearest(&ex.positions, p, 1.5) {
            matched += 1;
            if ex.types[i] == perm[usize::from(t)] {
                right += 1;
            }
        }
    }
    assert!(
        right * 10 >= 9 * matched && matched * 10 >= 9 * sc.positions.len(),
        "{right} of {matched} matched defects typed right ({} in the truth)",
        sc.positions.len()
    );
}

#[test]
fn maps_without_defects_are_refused_with_the_reason() {
    let mut rng = qpik::rng::Rng::new(4);
    let noise = Array2::from_shape_fn((96, 96), |_| rng.normal() as f32);
    let err = extract_blind(&MapData::from_image(noise), &[], &settings(21), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no defects found"), "{err}");
    let flat = Array2::from_elem((64, 64), 3.0f32);
    let err = extract_blind(&MapData::from_image(flat), &[], &settings(21), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("constant"), "{err}");
    let nan = Array2::from_elem((64, 64), f32::NAN);
    let err = extract_blind(&MapData::from_image(nan), &[], &settings(21), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no finite pixels"), "{err}");
}

#[test]
fn few_defects_give_a_kernel_with_a_large_standard_error_and_one_is_refused() {
    // Three defects against twelve, the same kernel and noise: the blind result from three
    // says it is less certain. One defect is no repeated pattern: refused, with the way out.
    let s = 25;
    let art = noise_only();
    let std_of = |n: usize, seed: u64| {
        let defects = DefectConfig {
            count_min: n,
            count_max: n,
            amplitude_min: 1.0,
            amplitude_max: 1.0,
            ..DefectConfig::default()
        };
        let sc =
            catalog_scene("square-tp0-m500meV", 96, 16, s, &defects, &art, seed).expect("scene");
        let cfg = MapSettings {
            bootstrap: 8,
            ..settings(s)
        };
        let ex = extract_blind(
            &MapData::from_image(sc.observation.image.clone()),
            &[],
            &cfg,
            &NoProgress,
        );
        if n == 1 {
            let err = ex.expect_err("one defect is no repeated pattern");
            assert!(err.to_string().contains("fewer than the 3"), "{err}");
            return (1, f32::NAN);
        }
        let ex = ex.expect("blind extraction");
        let k: Vec<f32> = ex.kernels.iter().copied().collect();
        let rms = (k.iter().map(|v| v * v).sum::<f32>() / k.len() as f32).sqrt();
        let std = ex.kernel_std.iter().sum::<f32>() / ex.kernel_std.len() as f32;
        (ex.positions.len(), std / rms)
    };
    std_of(1, 5);
    let (n3, three) = std_of(3, 5);
    let (n12, twelve) = std_of(12, 5);
    assert!(n3 >= 3 && n12 >= 10, "{n3} and {n12} defects found");
    // Pure noise would give sqrt(12 / 3) = 2; the held-out-chosen penalties (stronger for
    // fewer defects) shrink both.
    assert!(
        three > 1.3 * twelve,
        "relative standard error {three:.3} from three defects, {twelve:.3} from twelve"
    );
}

#[test]
fn a_stack_is_searched_with_the_evidence_of_every_energy() {
    // Eight energies of the same defects, each layer a differently scaled (and partly
    // sign-flipped) copy of the clean map under heavy noise: the principal component of the
    // stack finds the defects that one layer alone does not.
    let s = 25;
    let defects = DefectConfig {
        count_min: 15,
        count_max: 15,
        ..DefectConfig::default()
    };
    let sc = catalog_scene(
        "square-tp0-m500meV",
        128,
        16,
        s,
        &defects,
        &Artefacts::default(),
        6,
    )
    .expect("scene");
    let clean = &sc.observation.image;
    let sd = {
        let m = clean.iter().sum::<f32>() / clean.len() as f32;
        (clean.iter().map(|v| (v - m).powi(2)).sum::<f32>() / clean.len() as f32).sqrt()
    };
    let e = 8;
    let mut rng = qpik::rng::Rng::new(7);
    let mut data = ndarray::Array3::<f32>::zeros((e, 128, 128));
    for l in 0..e {
        let f = [1.0, 0.8, -0.6, 0.9, 0.7, -1.0, 0.5, 0.85][l];
        for ((r, c), v) in clean.indexed_iter() {
            data[[l, r, c]] = f * v + (3.0 * sd as f64 * rng.normal()) as f32;
        }
    }
    let stack = MapData {
        data: data.clone(),
        energies_ev: vec![f64::NAN; e],
        ..MapData::from_image(clean.clone())
    };
    let recall = |found: &[[f32; 2]]| {
        let t = &sc.observation.positions;
        t.iter()
            .filter(|p| nearest(found, p, 1.0).is_some())
            .count() as f64
            / t.len() as f64
    };
    let ex = extract_blind(&stack, &[], &settings(s), &NoProgress).expect("stack");
    assert_eq!(ex.kernels.dim(), (1, e, s, s));
    let r_stack = recall(&ex.positions);
    let one = MapData::from_image(data.index_axis(ndarray::Axis(0), 0).to_owned());
    let r_one = extract_blind(&one, &[], &settings(s), &NoProgress)
        .map(|x| recall(&x.positions))
        .unwrap_or(0.0);
    assert!(
        r_stack >= 0.95 && r_stack > r_one,
        "recall {r_stack:.2} from the stack, {r_one:.2} from one layer"
    );
}

/// A graphene kernel whose lattice-wide response hides the defects not yet found: with the
/// filter-noise threshold in every round the search gave 2 defects and was refused; the
/// second search (threshold once the rounds settle, kept above 10 % held-out) finds them.
/// The map and seed are blind_accuracy's (`QPIK_ONLY=graphene-m300meV blind_accuracy 1`).
#[test]
fn a_lattice_periodic_kernel_hidden_from_the_first_search_is_found_by_the_second() {
    let s = 49;
    let name = "graphene-m300meV";
    let sc = accuracy_scene(name, s, &Artefacts::realistic());
    let map = MapData::from_image(sc.observation.image.clone());
    let settings = MapSettings {
        kernel_size: Some(s),
        bootstrap: 0,
        ..MapSettings::default()
    };
    let ex = extract_blind(&map, &[], &settings, &NoProgress).unwrap();
    let truth: Vec<f32> = sc.kernel.iter().copied().collect();
    let d = MaxDot::new(s, s).of(&kernel_of(&ex, 0), &truth);
    // The search on the map as it is finds them with the second threshold; the whitened
    // search (the kernel repeats under a lattice translation) finds them too, and the
    // held-out score chooses.
    assert!(
        ex.notes.contains("searched again") || ex.notes.contains("whitened kept"),
        "{}",
        ex.notes
    );
    assert!(d > 0.97, "maxdot {d}, {} defects", ex.positions.len());
    assert!(ex.positions.len() >= 25, "{} defects", ex.positions.len());
}

/// A kernel that nearly repeats under a lattice translation (graphene above the Dirac point,
/// where intervalley scattering draws the sqrt(3) x sqrt(3) pattern over the whole kernel):
/// the plain matched filter peaks one site off the impurity as readily as on it, the search's
/// kernel smears over neighbouring sites and the defects are lost (+300 meV was refused, +500
/// meV found 9 % of its defects). The search on the whitened map, which the held-out score
/// keeps, puts them on their impurities. On +300 meV it misses 9 of 33: five in a dense
/// clump of overlapping defects, a pair 1.1 px apart, and two more.
#[test]
fn lattice_periodic_kernels_are_placed_on_their_impurity_not_the_next_site() {
    let s = 49;
    for name in ["graphene-300meV", "graphene-500meV"] {
        let art = Artefacts {
            drift_px: 0.0,
            ..Artefacts::realistic()
        };
        let sc = accuracy_scene(name, s, &art);
        let map = MapData::from_image(sc.observation.image.clone());
        let ex = extract_blind(&map, &[], &settings(s), &NoProgress).expect(name);
        assert!(ex.notes.contains("whitened"), "{name}: {}", ex.notes);
        let truth: Vec<f32> = sc.kernel.iter().copied().collect();
        let d = MaxDot::new(s, s).of(&kernel_of(&ex, 0), &truth);
        let t = &sc.observation.positions;
        let (hits, false_pos) = hits_and_false(t, &ex.positions);
        assert!(d > 0.98, "{name}: maxdot {d}");
        assert!(
            hits * 100 >= 70 * t.len() && false_pos * 100 <= 50 * ex.positions.len(),
            "{name}: {hits} of {} defects found within 1 px, {false_pos} of {} found are false",
            t.len(),
            ex.positions.len()
        );
    }
}
