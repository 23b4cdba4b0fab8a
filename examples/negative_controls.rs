//! Negative controls of the blind search: maps with no repeated defect must give "no defects
//! found" (or a held-out score near 0), never a kernel. Per map: the outcome, the count of
//! defects, the held-out R^2 and the time.
//! `cargo run --release --example negative_controls [SEEDS]`.

use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::MapSettings;
use qpik::progress::NoProgress;
use qpik::synthesis::controls::{Control, control_map};
use std::time::Instant;

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let settings = MapSettings::default();
    for control in Control::ALL {
        for seed in 0..seeds {
            let map = match control_map(control, 256, seed) {
                Ok(m) => m,
                Err(e) => {
                    println!("{:14} seed {seed}: no map: {e}", control.name());
                    continue;
                }
            };
            let map = MapData::from_image(map);
            let t0 = Instant::now();
            let outcome = match extract_blind(&map, &[], &settings, &NoProgress) {
                Ok(ex) => format!(
                    "KERNEL: {} defects, S {}, held-out R^2 {:.3}; {}",
                    ex.positions.len(),
                    ex.kernel_size(),
                    ex.heldout_r2_mean(),
                    ex.notes
                ),
                Err(e) => format!("refused: {e}"),
            };
            println!(
                "{:14} seed {seed}: {:.2} s {outcome}",
                control.name(),
                t0.elapsed().as_secs_f64()
            );
        }
    }
}
