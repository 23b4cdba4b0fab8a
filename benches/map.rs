//! Map-engine benchmarks (`cargo bench --bench map`); medians of repeated runs.
//!
//! Known positions (whole pixels, from the mask), S = 49, bi2212-normal-m50meV with white noise
//! (SNR 8):
//! - 256 x 256, 50 defects: one fit (fixed smoothness and decay, no symmetry, positions
//!   fixed, no bootstrap), the default extraction without bootstrap (smoothness, decay and
//!   symmetry chosen by held-out score, positions refined), and with the default 8-replicate bootstrap (ratio to the plain solve);
//! - 1024 x 1024, 800 defects: one fit and the default without bootstrap;
//! - a stack of 64 energies x 256 x 256: the default without bootstrap.

use qpik::data::map_data::MapData;
use qpik::extract::map::{MapSettings, Smoothness, SymmetryChoice, Weight, extract_map};
use qpik::progress::NoProgress;

#[path = "common/timing.rs"]
mod timing;
use timing::time;
#[path = "common/scenes.rs"]
mod scenes;
use scenes::{noisy_stack, scene};

fn main() {
    println!("threads: {}", rayon::current_num_threads());
    let plain = MapSettings {
        kernel_size: Some(49),
        smoothness: Smoothness::Fixed(0.01),
        decay: Weight::Fixed(1.0),
        bootstrap: 0,
        refine_positions_px: 0.0,
        // One fit: no held-out choice of the symmetry either (the default is auto).
        symmetry: SymmetryChoice::None,
        ..MapSettings::default()
    };
    let default_no_boot = MapSettings {
        kernel_size: Some(49),
        bootstrap: 0,
        ..MapSettings::default()
    };
    let default = MapSettings {
        kernel_size: Some(49),
        ..MapSettings::default()
    };
    let (map, pos) = scene(256, 50, 1);
    let run = |m: &MapData, p: &[[f64; 2]], s: &MapSettings| {
        extract_map(m, p, s, &NoProgress).expect("extraction");
    };
    let t_plain = time(9, || run(&map, &pos, &plain));
    println!(
        "256 x 256, 50 defects, S 49, one fit:                 {:8.1} ms",
        t_plain * 1e3
    );
    let t_def = time(5, || run(&map, &pos, &default_no_boot));
    println!(
        "256 x 256, default without bootstrap:                {:8.1} ms",
        t_def * 1e3
    );
    let t_boot = time(5, || run(&map, &pos, &default));
    println!(
        "256 x 256, default with 8 bootstrap replicates:      {:8.1} ms ({:.1}x the one fit, +{:.1}x for the bootstrap alone)",
        t_boot * 1e3,
        t_boot / t_plain,
        (t_boot - t_def) / t_plain
    );
    let (big, big_pos) = scene(1024, 800, 2);
    let t = time(3, || run(&big, &big_pos, &plain));
    println!(
        "1024 x 1024, 800 defects, one fit:                   {:8.1} ms",
        t * 1e3
    );
    let t = time(3, || run(&big, &big_pos, &default_no_boot));
    println!(
        "1024 x 1024, default without bootstrap:              {:8.1} ms",
        t * 1e3
    );
    // A stack: the 256 x 256 map scaled per energy, with fresh noise per layer.
    let e = 64;
    let stack = noisy_stack(&map, e, 5);
    let t = time(3, || run(&stack, &pos, &default_no_boot));
    println!(
        "stack 64 x 256 x 256, default without bootstrap:     {:8.1} ms",
        t * 1e3
    );
}
