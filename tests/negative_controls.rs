//! Negative controls: maps with no repeated defect give "no defects found", never a kernel
//! (issue 18's negative control, issue 22's held-out leak); an exact plane with given positions
//! is refused, not scored; and a positive control next to them still gives its kernel, so that
//! a search that refuses everything fails here.

use ndarray::Array2;
use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::progress::NoProgress;
use qpik::synthesis::controls::{Control, control_map};
use qpik::synthesis::real_scan::{RealScanConfig, real_scan};

fn refused(control: Control, seed: u64) {
    let map = MapData::from_image(control_map(control, 256, seed).unwrap());
    match extract_blind(&map, &[], &MapSettings::default(), &NoProgress) {
        Ok(ex) => panic!(
            "{} (seed {seed}) gave a kernel: {} defects, held-out R^2 {:.3}; {}",
            control.name(),
            ex.positions.len(),
            ex.heldout_r2_mean(),
            ex.notes
        ),
        Err(e) => assert!(
            e.to_string().contains("no defects found"),
            "{}: {e}",
            control.name()
        ),
    }
}

#[test]
fn white_noise_has_no_defects() {
    refused(Control::WhiteNoise, 0);
}

#[test]
fn pink_noise_has_no_defects() {
    refused(Control::PinkNoise, 0);
    refused(Control::PinkNoise, 1);
}

#[test]
fn brown_noise_has_no_defects() {
    refused(Control::BrownNoise, 0);
}

#[test]
fn a_lattice_alone_has_no_defects() {
    refused(Control::Lattice, 0);
    refused(Control::Lattice, 1);
}

#[test]
fn a_checkerboard_has_no_defects() {
    refused(Control::Checkerboard, 0);
}

#[test]
fn an_exact_plane_with_given_positions_is_refused_not_scored() {
    let (h, w) = (96, 96);
    let plane = Array2::from_shape_fn((h, w), |(r, c)| {
        (3.0 + 0.01 * r as f64 - 0.02 * c as f64) as f32
    });
    let positions = [[30.0, 30.0], [60.0, 40.0], [40.0, 70.0]];
    let err = extract_map(
        &MapData::from_image(plane),
        &positions,
        &MapSettings {
            kernel_size: Some(15),
            ..MapSettings::default()
        },
        &NoProgress,
    )
    .expect_err("an exact plane must be refused");
    assert!(err.to_string().contains("background alone"), "{err}");
}

#[test]
fn the_positive_control_still_gives_its_kernel() {
    let truth = real_scan(&RealScanConfig::default(), 9).unwrap();
    let map = MapData {
        pixel_size_m: truth.pixel_size_m,
        ..MapData::from_image(truth.map.clone())
    };
    let ex = extract_blind(&map, &[], &MapSettings::default(), &NoProgress)
        .expect("a real-scan map of adatoms has defects");
    let adatoms = truth.types.iter().filter(|&&t| t == 0).count();
    assert!(
        ex.positions.len() * 10 >= adatoms * 8,
        "{} defects found of {adatoms} adatoms",
        ex.positions.len()
    );
    // The adatoms' cores swamp their rings, so the result is the rings' fit, scored on the
    // pixels outside the cores: well above the trusted floor, where noise stays below it.
    assert!(ex.notes.contains("cores"), "{}", ex.notes);
    assert!(
        ex.heldout_r2_mean() > qpik::extract::map::TRUSTED_HELDOUT_R2,
        "held-out R^2 {}",
        ex.heldout_r2_mean()
    );
}
