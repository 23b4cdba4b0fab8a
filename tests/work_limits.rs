//! Issue 22, parts 2 and 3: work and memory bounded before the work starts. 100,000
//! positions on a 512 x 512 map were accepted and took 20 minutes; now at most one defect per
//! 16 valid pixels and at most 2^31 stamped pixels per solver iteration, refused at once with
//! the limit named. A forward run over its memory budget is refused before any map-sized
//! buffer, as the memory-budget error.

use ndarray::Array2;
use qpik::Error;
use qpik::data::map_data::MapData;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::progress::NoProgress;
use std::time::{Duration, Instant};

fn map(side: usize) -> MapData {
    MapData::from_image(Array2::from_shape_fn((side, side), |(r, c)| {
        ((r * 7 + c * 3) % 11) as f32
    }))
}

#[test]
fn too_many_defects_are_refused_at_once_naming_the_limit() {
    let side = 512;
    let positions: Vec<[f64; 2]> = (0..100_000)
        .map(|i| [(i % side) as f64, ((i * 7) % side) as f64])
        .collect();
    let t = Instant::now();
    let e = extract_map(&map(side), &positions, &MapSettings::default(), &NoProgress)
        .expect_err("refused");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let m = e.to_string();
    assert!(matches!(e, Error::InvalidInput(_)), "{m}");
    assert!(
        m.contains("too many defects") && m.contains("one defect per 16 pixels"),
        "{m}"
    );
    // At the limit it is the work limit's turn: 64 layers of 16,000 defects, kernel 129.
    let stack = MapData {
        data: ndarray::Array3::from_shape_fn((64, side, side), |(_, r, c)| {
            ((r * 7 + c * 3) % 11) as f32
        }),
        energies_ev: vec![f64::NAN; 64],
        ..map(side)
    };
    let settings = MapSettings {
        kernel_size: Some(129),
        memory_budget_bytes: u64::MAX,
        ..MapSettings::default()
    };
    let e = extract_map(&stack, &positions[..16_000], &settings, &NoProgress).expect_err("refused");
    assert!(e.to_string().contains("too much work"), "{e}");
}

#[test]
fn a_forward_run_over_budget_is_refused_before_allocating() {
    let side = 4096;
    let settings = MapSettings {
        memory_budget_bytes: 64 << 20,
        ..MapSettings::default()
    };
    let t = Instant::now();
    let e =
        extract_map(&map(side), &[[100.0, 100.0]], &settings, &NoProgress).expect_err("refused");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(matches!(e, Error::OverBudget(_)), "{e}");
    assert!(
        e.to_string().contains("over the memory budget of 64 MiB"),
        "{e}"
    );
}
