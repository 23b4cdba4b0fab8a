//! Defect finding in topography (`cargo bench --bench defects`): medians.
//!
//! A 1024 x 1024 synthetic topography with 800 defects (default artefacts), found with the
//! default settings for its defect size (target: well under 100 ms on 2 cores).

use qpik::extract::defects::{TopographySettings, find_defects};
use qpik::rng::Rng;
use qpik::synthesis::topography::{TopographyConfig, synthesize_topography};

#[path = "common/timing.rs"]
mod timing;
use timing::time;

fn main() {
    println!("threads: {}", rayon::current_num_threads());
    let n = 1024;
    let pixel_a = 1.4;
    let mut rng = Rng::new(1);
    let positions: Vec<[f32; 2]> = (0..800)
        .map(|_| {
            [
                (rng.range(0.0, n as f64 - 1.0) * 4.0).round() as f32 / 4.0,
                (rng.range(0.0, n as f64 - 1.0) * 4.0).round() as f32 / 4.0,
            ]
        })
        .collect();
    let cfg = TopographyConfig::default();
    let z = synthesize_topography(&positions, n, n, pixel_a, &cfg, &mut rng).expect("topography");
    let settings =
        TopographySettings::with_defect_size_a(cfg.defect_width_a, pixel_a).expect("settings");
    let mut found = 0;
    let t = time(21, || {
        found = find_defects(z.view(), &settings).expect("defects").len();
    });
    println!(
        "find_defects {n} x {n}, {} true defects: {found} found, {:.1} ms (median of 21)",
        positions.len(),
        t * 1e3
    );
}
