//! Blind-extraction benchmarks (`cargo bench --bench blind`); medians of repeated runs.
//!
//! bi2212-normal-m50meV with white noise (SNR 8), S = 49, one type, no bootstrap:
//! - 256 x 256 with 50 defects;
//! - 1024 x 1024 with 800 defects;
//! - a stack of 32 energies x 256 x 256 (the search on one layer, kernels per energy).

use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::MapSettings;
use qpik::progress::NoProgress;

#[path = "common/timing.rs"]
mod timing;
use timing::time;
#[path = "common/scenes.rs"]
mod scenes;
use scenes::{noisy_stack, scene};

fn main() {
    println!("threads: {}", rayon::current_num_threads());
    let settings = MapSettings {
        kernel_size: Some(49),
        bootstrap: 0,
        ..MapSettings::default()
    };
    let run = |m: &MapData| {
        let ex = extract_blind(m, &[], &settings, &NoProgress).expect("blind extraction");
        assert!(!ex.positions.is_empty());
    };
    let (map, _) = scene(256, 50, 1);
    let t = time(5, || run(&map));
    println!(
        "blind 256 x 256, 50 defects:              {:8.1} ms",
        t * 1e3
    );
    let (big, _) = scene(1024, 800, 2);
    let t = time(3, || run(&big));
    println!(
        "blind 1024 x 1024, 800 defects:           {:8.1} ms",
        t * 1e3
    );
    let e = 32;
    let stack = noisy_stack(&map, e, 5);
    let t = time(3, || run(&stack));
    println!(
        "blind stack 32 x 256 x 256:               {:8.1} ms",
        t * 1e3
    );
}
