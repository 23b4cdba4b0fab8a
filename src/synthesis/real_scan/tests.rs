//! Tests of the real-scan preset and its scorer, against independent computations.

use super::render::render_scan;
use super::scene::draw_scene;
use super::*;
use crate::physics::HBAR2_OVER_2ME_EV_A2;
use std::f64::consts::PI;

fn small(size: usize) -> RealScanConfig {
    RealScanConfig {
        size,
        ..RealScanConfig::default()
    }
}

#[test]
fn seeds_reproduce_bit_for_bit_and_differ_between_seeds() {
    let c = small(128);
    let a = real_scan(&c, 7).unwrap();
    let b = real_scan(&c, 7).unwrap();
    assert_eq!(a.map, b.map);
    assert_eq!(a.positions, b.positions);
    assert_eq!(a.excluded, b.excluded);
    assert_eq!(a.kernels, b.kernels);
    let other = real_scan(&c, 8).unwrap();
    assert_ne!(a.map, other.map);
    // The scene comes from stream 0 alone: the same defects without any artefact.
    let quiet = RealScanConfig {
        noise: 0.0,
        flicker: 0.0,
        glitch_lines: 0.0,
        ..c
    };
    assert_eq!(real_scan(&quiet, 7).unwrap().positions, a.positions);
}

#[test]
fn counts_dimers_and_types_follow_the_config() {
    let c = small(128);
    let mut dimers = 0;
    let mut adatoms = 0;
    for seed in 0..6 {
        let s = real_scan(&c, seed).unwrap();
        let n0 = s.types.iter().filter(|&&t| t == 0).count();
        let n1 = s.types.iter().filter(|&&t| t == 1).count();
        assert!((15..=40).contains(&n0), "seed {seed}: {n0} adatoms");
        assert!(n1 <= 4, "seed {seed}: {n1} dark defects");
        assert_eq!(s.positions.len(), s.types.len());
        assert_eq!(s.amplitudes.len(), s.types.len());
        for p in &s.positions {
            assert!((0.0..=127.0).contains(&p[0]) && (0.0..=127.0).contains(&p[1]));
            assert_eq!((p[0] * 4.0).fract(), 0.0, "quarter-pixel grid");
        }
        for &[a, b] in &s.dimers {
            let (p, q) = (s.positions[a], s.positions[b]);
            let d = (p[0] - q[0]).hypot(p[1] - q[1]);
            assert!((1.5..=4.5).contains(&d), "dimer {d} px apart");
            assert_eq!((s.types[a], s.types[b]), (0, 0));
        }
        dimers += 2 * s.dimers.len();
        adatoms += n0;
        assert_eq!(s.kernels.len(), 2);
        for k in &s.kernels {
            assert_eq!(k.dim().0 % 2, 1, "odd side");
            assert_eq!(k.dim().0, k.dim().1);
        }
        let px = s.pixel_size_m * 1e10;
        assert!((1.6..=2.3).contains(&px), "pixel size {px} Angstrom");
    }
    let f = dimers as f64 / adatoms as f64;
    assert!((0.07..=0.25).contains(&f), "dimer fraction {f}");
}

/// Largest |K| at distances above `core` from the centre.
fn max_outside(k: &ndarray::Array2<f32>, core: f64) -> f64 {
    let c = (k.dim().0 / 2) as f64;
    k.indexed_iter()
        .filter(|((i, j), _)| (*i as f64 - c).hypot(*j as f64 - c) > core)
        .map(|(_, &v)| v.abs() as f64)
        .fold(0.0, f64::max)
}

#[test]
fn core_is_20_to_100_ring_amplitudes_in_the_kernel_and_in_a_clean_map() {
    for seed in 0..5 {
        let s = real_scan(&RealScanConfig::clean(), seed).unwrap();
        let k = &s.kernels[0];
        let r = k.dim().0 / 2;
        let ring = max_outside(k, s.core_radius_px[0]);
        // The ripple is 1 there; the core tail (0.1 at the core radius) adds or subtracts.
        assert!((0.85..=1.15).contains(&ring), "ring amplitude {ring}");
        let ratio = k[[r, r]] as f64 / ring;
        assert!((18.0..=105.0).contains(&ratio), "core / ring {ratio}");
        assert!((20.0..=100.0).contains(&s.core_height));
        // In the map: each isolated adatom's peak over the ring amplitude (amplitudes 0.9-1.1).
        let in_dimer: Vec<usize> = s.dimers.iter().flatten().copied().collect();
        for (i, p) in s.positions.iter().enumerate() {
            if in_dimer.contains(&i) {
                continue;
            }
            let (i, j) = (p[0].round() as usize, p[1].round() as usize);
            let v = s
                .map
                .slice(ndarray::s![
                    i.saturating_sub(1)..(i + 2).min(256),
                    j.saturating_sub(1)..(j + 2).min(256)
                ])
                .fold(f32::MIN, |m, &x| m.max(x)) as f64;
            assert!((10.0..=130.0).contains(&v), "adatom peak {v} ring units");
        }
        assert_eq!(s.excluded.iter().filter(|&&e| e == 1).count(), 0);
    }
}

#[test]
fn excluded_covers_clusters_zero_lines_and_the_step() {
    let c = RealScanConfig {
        size: 128,
        clusters: [3, 3],
        zero_lines_probability: 1.0,
        zero_lines_max: 40,
        step_edge_probability: 1.0,
        tip_change_probability: 0.0,
        ..RealScanConfig::default()
    };
    for seed in 0..3 {
        let scene = draw_scene(&c, seed).unwrap();
        let s = render_scan(&c, &scene, seed).unwrap();
        assert!((1..=40).contains(&s.zero_lines));
        for i in 128 - s.zero_lines..128 {
            for j in 0..128 {
                assert_eq!(s.map[[i, j]], 0.0);
                assert_eq!(s.excluded[[i, j]], 1);
            }
        }
        assert_eq!(scene.clusters.len(), 3);
        for cl in &scene.clusters {
            for b in &cl.blobs {
                let (i, j) = (b.centre[0].round(), b.centre[1].round());
                if (0.0..128.0).contains(&i) && (0.0..128.0).contains(&j) {
                    assert_eq!(
                        s.excluded[[i as usize, j as usize]],
                        1,
                        "cluster at {i}, {j}"
                    );
                }
            }
        }
        let st = scene.step.unwrap();
        let (i, j) = (st.point[0].round() as usize, st.point[1].round() as usize);
        if i < 128 - s.zero_lines {
            assert_eq!(s.excluded[[i, j]], 1, "step edge");
        }
        // No countable defect sits in an excluded pixel's reach of a cluster.
        assert!(s.excluded.iter().any(|&e| e == 0));
    }
}

/// Ring period `pi / k` of a parabolic band at `e` eV, Angstrom, without broadening.
fn period_a(e0: f64, mass: f64, e: f64) -> f64 {
    PI / ((e - e0) * mass / HBAR2_OVER_2ME_EV_A2).sqrt()
}

#[test]
fn ring_period_of_the_true_kernel_is_pi_over_k_within_3_percent() {
    // The catalog's Ag(111) at +100 meV: m* = 0.40, E0 = -65 meV, fixed.
    let c = RealScanConfig {
        surface: Surface::parse("shockley-ag111-100meV"),
        ..RealScanConfig::clean()
    };
    let want = period_a(-0.065, 0.40, 0.1);
    for seed in 0..3 {
        let s = real_scan(&c, seed).unwrap();
        let stated = s.ring_period_m.unwrap() * 1e10;
        assert!((stated / want - 1.0).abs() < 0.003, "{stated} vs {want}");
        let k = &s.kernels[0];
        let r = k.dim().0 / 2;
        let px = s.pixel_size_m * 1e10;
        let est = estimate_ring_period_px(k, [r, r], s.core_radius_px[0]).unwrap() * px;
        assert!(
            (est / want - 1.0).abs() < 0.03,
            "estimated {est} vs {want} Angstrom"
        );
        assert!(s.isotropic);
    }
    for (metal, e0, m) in [
        (Metal::Ag111, -0.065, [0.40, 0.42]),
        (Metal::Cu111, -0.44, [0.38, 0.41]),
        (Metal::Au111, -0.48, [0.26, 0.26]),
    ] {
        let c = RealScanConfig {
            surface: Surface::Shockley(metal),
            ..RealScanConfig::clean()
        };
        let s = real_scan(&c, 3).unwrap();
        let p = s.ring_period_m.unwrap() * 1e10;
        let (lo, hi) = (period_a(e0, m[1], 0.1), period_a(e0, m[0], 0.1));
        assert!(p >= 0.997 * lo && p <= 1.003 * hi, "{metal:?}: {p}");
        let k = &s.kernels[0];
        let r = k.dim().0 / 2;
        let est = estimate_ring_period_px(k, [r, r], s.core_radius_px[0]).unwrap()
            * s.pixel_size_m
            * 1e10;
        assert!((est / p - 1.0).abs() < 0.03, "{metal:?}: {est} vs {p}");
    }
}

#[test]
fn a_perfect_answer_scores_one_and_a_wrong_one_scores_low() {
    let s = real_scan(&small(128), 11).unwrap();
    let seen = s.seen_positions();
    let k = &s.kernels[0];
    let perfect = score_blind(&s, &seen, k, None).unwrap();
    assert_eq!(perfect.recall_2px, 1.0);
    assert_eq!(perfect.false_positive_fraction, 0.0);
    assert!(perfect.maxdot_outside_core > 0.9999, "{perfect:?}");
    assert_eq!(perfect.best_shift_px, [0, 0]);
    assert!(perfect.ring_period_error.unwrap() < 0.03, "{perfect:?}");
    assert!(perfect.anisotropy < 1e-9, "{perfect:?}");
    // The same kernel scaled, inverted and embedded off-centre in a larger even window.
    let (h, _) = k.dim();
    let mut big = ndarray::Array2::<f32>::zeros((h + 7, h + 7));
    big.slice_mut(ndarray::s![4..4 + h, 3..3 + h])
        .assign(&k.mapv(|v| -3.0 * v));
    let moved = score_blind(&s, &seen, &big, Some([4 + h / 2, 3 + h / 2 + 1])).unwrap();
    assert!(moved.maxdot_outside_core > 0.9999, "{moved:?}");
    assert_eq!(moved.best_shift_px, [0, -1]);
    // Wrong: another surface's kernel, positions 5 px away, a Gaussian blob.
    let cu = real_scan(
        &RealScanConfig {
            surface: Surface::Shockley(Metal::Cu111),
            ..RealScanConfig::clean()
        },
        1,
    )
    .unwrap();
    let off: Vec<[f64; 2]> = seen.iter().map(|p| [p[0] + 5.0, p[1]]).collect();
    let wrong = score_blind(&s, &off, &cu.kernels[0], None).unwrap();
    assert!(wrong.maxdot_outside_core < 0.5, "{wrong:?}");
    assert!(wrong.ring_period_error.unwrap() > 0.2, "{wrong:?}");
    assert!(wrong.recall_2px < 0.2, "{wrong:?}");
    assert!(wrong.false_positive_fraction > 0.5, "{wrong:?}");
    let blob = ndarray::Array2::from_shape_fn((41, 41), |(i, j)| {
        (-((i as f32 - 20.0).powi(2) + (j as f32 - 20.0).powi(2)) / 50.0).exp()
    });
    let b = score_blind(&s, &[], &blob, None).unwrap();
    assert!(b.maxdot_outside_core < 0.5, "{b:?}");
    assert_eq!(b.recall_2px, 0.0);
    assert_eq!(b.false_positive_fraction, 0.0);
    // An anisotropic kernel: a 2-fold pattern on the same rings.
    let c = (h / 2) as f32;
    let aniso = ndarray::Array2::from_shape_fn((h, h), |(i, j)| {
        let (y, x) = (i as f32 - c, j as f32 - c);
        k[[i, j]] * (2.0 * y.atan2(x)).cos()
    });
    let a = score_blind(&s, &seen, &aniso, None).unwrap();
    assert!(a.anisotropy > 0.9, "{a:?}");
    assert!(score_blind(&s, &seen, k, Some([h, 0])).is_err());
}

#[test]
fn tip_change_shifts_what_the_map_shows_and_seen_positions_follow() {
    let c = RealScanConfig {
        tip_change_probability: 1.0,
        ..RealScanConfig::clean()
    };
    let s = real_scan(&c, 4).unwrap();
    let t = s.tip_change.unwrap();
    assert!(t.shift_px[1].abs() >= 1);
    let seen = s.seen_positions();
    let mut moved = 0;
    for (p, q) in s.positions.iter().zip(&seen) {
        if q[0] >= t.row as f64 + 3.0 {
            moved += 1;
            assert_eq!(q[1] - p[1], t.shift_px[1] as f64);
        }
    }
    assert!(moved > 0);
    // A perfect answer in seen positions is recalled fully.
    let sc = score_blind(&s, &seen, &s.kernels[0], None).unwrap();
    assert_eq!(sc.recall_2px, 1.0);
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let bad = [
        RealScanConfig {
            adatoms: [5, 2],
            ..RealScanConfig::default()
        },
        RealScanConfig {
            noise: -1.0,
            ..RealScanConfig::default()
        },
        RealScanConfig {
            size: 16,
            ..RealScanConfig::default()
        },
        RealScanConfig {
            bias_ev: -0.2,
            ..RealScanConfig::clean()
        },
    ];
    for (c, word) in bad.iter().zip(["adatoms", "noise", "size", "band bottom"]) {
        let e = real_scan(c, 0).unwrap_err().to_string();
        assert!(e.contains(word), "{e}");
    }
    let e = real_scan(
        &RealScanConfig {
            surface: Surface::parse("no-such"),
            ..RealScanConfig::clean()
        },
        0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no-such"), "{e}");
}

#[test]
fn a_file_of_maps_reads_back_with_its_truth() {
    let c = RealScanConfig {
        size: 64,
        tip_change_probability: 1.0,
        ..RealScanConfig::default()
    };
    let scans: Vec<RealScan> = (0..2).map(|s| real_scan(&c, s).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("real.h5");
    write_real_scans(&path, &scans, 5, "# test".into()).unwrap();
    let ds = crate::data::hdf5_io::read_dataset(&path).unwrap();
    assert_eq!(ds.kernels.names.len(), 4);
    assert_eq!(ds.observations.observations.dim(), (2, 64, 64));
    for (i, a) in scans.iter().enumerate() {
        let b = read_real_scan(&path, i).unwrap();
        assert_eq!(b.map, a.map);
        assert_eq!(b.kernels, a.kernels);
        assert_eq!(b.excluded, a.excluded);
        assert_eq!(b.types, a.types);
        assert_eq!(b.amplitudes, a.amplitudes);
        for (p, q) in a.positions.iter().zip(&b.positions) {
            assert_eq!([p[0] as f32, p[1] as f32], [q[0] as f32, q[1] as f32]);
        }
        assert_eq!(b.ring_period_m, a.ring_period_m);
        assert_eq!(b.core_radius_px, a.core_radius_px);
        assert_eq!(b.tip_change, a.tip_change);
        assert_eq!(b.zero_lines, a.zero_lines);
        assert_eq!(b.saturation, a.saturation);
        assert_eq!(b.pixel_size_m, a.pixel_size_m);
        assert_eq!(b.surface, a.surface);
        assert_eq!(b.isotropic, a.isotropic);
    }
    assert!(read_real_scan(&path, 2).is_err());
}

#[test]
fn a_catalog_lattice_kernel_is_an_anisotropic_adatom_kernel_without_a_period() {
    let c = RealScanConfig {
        size: 128,
        surface: Surface::parse("graphene-500meV"),
        ..RealScanConfig::default()
    };
    let s = real_scan(&c, 2).unwrap();
    assert!(!s.isotropic);
    assert_eq!(s.ring_period_m, None);
    assert_eq!(s.surface, "graphene-500meV");
    let k = &s.kernels[0];
    let r = k.dim().0 / 2;
    assert!(k[[r, r]] as f64 > 10.0, "the core is on top: {}", k[[r, r]]);
    let sc = score_blind(&s, &s.seen_positions(), k, None).unwrap();
    assert!(sc.maxdot_outside_core > 0.9999);
    assert_eq!(sc.ring_period_error, None);
    assert!(sc.anisotropy > 0.01, "a 3-fold kernel: {sc:?}");
    assert_eq!(real_scan(&c, 2).unwrap().map, s.map);
}

#[test]
fn ring_period_is_unbiased_on_windows_of_two_or_three_periods() {
    // A Friedel profile cos(2 pi r / P + phase) / r with a slow decay, on windows of 2-3.6
    // periods past the core: the earlier radial Fourier sum came out 3-8 % short here.
    for (size, period, phase) in [(37, 10.2, 0.3), (41, 11.9, 1.4), (45, 13.0, -0.8)] {
        let c = size / 2;
        let kernel = Array2::from_shape_fn((size, size), |(i, j)| {
            let r = ((i as f64 - c as f64).powi(2) + (j as f64 - c as f64).powi(2)).sqrt();
            let r = r.max(0.5);
            ((2.0 * PI * r / period + phase).cos() / r * (-r / 60.0).exp()) as f32
        });
        let est = estimate_ring_period_px(&kernel, [c, c], 2.5).unwrap();
        assert!(
            (est - period).abs() < 0.015 * period,
            "S {size}: period {period}, estimated {est}"
        );
    }
}
