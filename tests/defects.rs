//! Defect positions from topography: synthetic scans against their known truth, and the real
//! FeSe scan in tests/data. Set `QPIK_TEST_PNG_DIR` to write pictures with the detections.

use ndarray::Array2;
use qpik::data::sxm::{Direction, read_sxm};
use qpik::extract::defects::{Detected, TopographySettings, find_defects};
use qpik::physics::{SimContext, catalog::find};
use qpik::picture::{Colormap, Panel, Scale, write_panels};
use qpik::rng::Rng;
use qpik::synthesis::topography::{TopographyConfig, synthesize_topography};
use qpik::synthesis::{Artefacts, DefectConfig, KernelStamps, synthesize};
use std::path::Path;

fn picture(name: &str, image: &Array2<f32>, found: &[Detected], truth: &[[f32; 2]]) {
    let Some(dir) = std::env::var_os("QPIK_TEST_PNG_DIR") else {
        return;
    };
    let mut panels = vec![Panel {
        image: image.view(),
        title: format!("{name}: {} found", found.len()),
        colormap: Colormap::Viridis,
        scale: Scale::Percentile(0.5),
        marks: found.iter().map(|d| (d.row as f32, d.col as f32)).collect(),
    }];
    if !truth.is_empty() {
        panels.push(Panel {
            title: format!("truth: {}", truth.len()),
            marks: truth.iter().map(|p| (p[0], p[1])).collect(),
            ..panels[0].clone()
        });
    }
    let out = Path::new(&dir).join(format!("{name}.png"));
    write_panels(&out, &panels, 2, 2).expect("picture written");
    println!("wrote {}", out.display());
}

fn distance(d: &Detected, t: &[f32; 2]) -> f64 {
    (d.row - t[0] as f64).hypot(d.col - t[1] as f64)
}

/// Detection scores against the truth: (recall within 1 px, fraction of detections farther
/// than 1 px from every true defect, median distance of the recalled ones).
fn score(scans: &[(Vec<[f32; 2]>, Array2<f32>)], settings: &TopographySettings) -> (f64, f64, f64) {
    let (mut truth_n, mut found_n, mut false_n) = (0, 0, 0);
    let mut errors = Vec::new();
    for (truth, topo) in scans {
        let found = find_defects(topo.view(), settings).unwrap();
        for t in truth {
            let best = found
                .iter()
                .map(|d| distance(d, t))
                .fold(f64::INFINITY, f64::min);
            if best <= 1.0 {
                errors.push(best);
            }
        }
        false_n += found
            .iter()
            .filter(|d| truth.iter().all(|t| distance(d, t) > 1.0))
            .count();
        truth_n += truth.len();
        found_n += found.len();
    }
    errors.sort_by(f64::total_cmp);
    (
        errors.len() as f64 / truth_n as f64,
        false_n as f64 / found_n.max(1) as f64,
        errors
            .get(errors.len() / 2)
            .copied()
            .unwrap_or(f64::INFINITY),
    )
}

#[test]
fn topography_of_synthetic_maps_gives_the_true_positions() {
    let spec = find("shockley-cu111-0meV").expect("catalog kernel");
    let field = spec.simulate(&mut SimContext::new()).unwrap();
    let grid = spec.grid();
    let stamps = KernelStamps::new(&field, &grid, 32, 4).unwrap();
    let defects = DefectConfig {
        count_min: 30,
        count_max: 80,
        ..DefectConfig::default()
    };
    // Six 256 x 256 maps (quarter-pixel positions) and their topographies (default artefacts:
    // noise, line offsets, a plane, atomic corrugation); one with a missing scan line.
    let scans: Vec<(Vec<[f32; 2]>, Array2<f32>)> = (0..6u64)
        .map(|seed| {
            let mut rng = Rng::new(seed);
            let obs = synthesize(
                &stamps,
                256,
                256,
                grid.pixel_size_a,
                &defects,
                &Artefacts::realistic(),
                &mut rng,
            )
            .unwrap();
            let mut topo = synthesize_topography(
                &obs.positions,
                256,
                256,
                grid.pixel_size_a,
                &TopographyConfig::default(),
                &mut rng,
            )
            .unwrap();
            if seed == 1 {
                topo.row_mut(100).fill(f32::NAN);
            }
            (obs.positions, topo)
        })
        .collect();
    // Matched: the detector expects the defect size the topography has (5 Angstrom) ...
    let matched = TopographySettings::with_defect_size_a(
        TopographyConfig::default().defect_width_a,
        grid.pixel_size_a,
    )
    .unwrap();
    // ... and as a user would start, from the pixel size alone (6 Angstrom expected).
    let generic = TopographySettings::for_pixel_size(grid.pixel_size_a).unwrap();
    let found = find_defects(scans[1].1.view(), &matched).unwrap();
    picture("synthetic-topography", &scans[1].1, &found, &scans[1].0);
    let n: usize = scans.iter().map(|s| s.0.len()).sum();
    for (name, settings, min_recall) in [("matched", matched, 0.95), ("generic", generic, 0.93)] {
        let (recall, false_rate, median_error) = score(&scans, &settings);
        println!(
            "{name} ({:.2} px expected, pixel {:.2} A): {n} true defects, recall {recall:.3}, \
             false {false_rate:.3}, median position error {median_error:.3} px",
            settings.defect_size_px, grid.pixel_size_a
        );
        assert!(recall >= min_recall, "{name}: recall {recall}");
        assert!(false_rate <= 0.05, "{name}: false positions {false_rate}");
        assert!(
            median_error < 0.15,
            "{name}: median position error {median_error} px"
        );
    }
}

#[test]
fn bright_defects_of_the_real_fese_scan() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/FeSe_topography.sxm");
    let scan = read_sxm(&path).unwrap();
    let z = &scan.image("Z", Direction::Forward).expect("Z channel").data;
    let pixel_a = scan.pixel_size_m().0 * 1e10;
    let settings = TopographySettings::for_pixel_size(pixel_a).unwrap();
    let found = find_defects(z.view(), &settings).unwrap();
    println!(
        "FeSe Z forward ({:.3} A/pixel): {} bright defects; strengths {:?}",
        pixel_a,
        found.len(),
        found
            .iter()
            .map(|d| (d.strength * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    let mut shown = z.clone();
    qpik::picture::level_lines(&mut shown);
    picture("fese-z-forward", &shown, &found, &[]);
    assert!(
        (15..=40).contains(&found.len()),
        "{} defects found; about 25 are seen by eye",
        found.len()
    );
    assert!(found.iter().all(|d| d.strength > 0.0));
    // The backward scan of the same frame shows the same defects.
    let zb = &scan
        .image("Z", Direction::Backward)
        .expect("Z backward")
        .data;
    let back = find_defects(zb.view(), &settings).unwrap();
    let common = found
        .iter()
        .filter(|d| {
            back.iter()
                .any(|b| (b.row - d.row).hypot(b.col - d.col) < 2.0)
        })
        .count();
    println!(
        "backward: {} found, {common} within 2 px of a forward one",
        back.len()
    );
    assert!(
        common as f64 >= 0.8 * found.len() as f64,
        "forward and backward scans agree on {common} of {} defects",
        found.len()
    );
}
