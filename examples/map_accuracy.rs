//! Accuracy of the map engine on 256 x 256 catalog maps (realistic preset, 30-80 defects,
//! positions from the mask, S = 49): one map per kernel, every 7th catalog kernel; prints the
//! kernel Pearson and maxdot against the truth and their medians.
//! `cargo run --release --example map_accuracy [STRIDE]`

use qpik::data::map_data::MapData;
use qpik::extract::defects::positions_from_mask;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::extract::metrics::MaxDot;
use qpik::extract::sample_metrics;
use qpik::physics::catalog::catalog;
use qpik::progress::NoProgress;
use qpik::synthesis::scene::catalog_scene;
use qpik::synthesis::{Artefacts, DefectConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let stride: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let s = 49;
    let defects = DefectConfig {
        count_min: 30,
        count_max: 80,
        ..DefectConfig::default()
    };
    let settings = MapSettings {
        kernel_size: Some(s),
        bootstrap: 0,
        ..MapSettings::default()
    };
    let md = MaxDot::new(s, s);
    let (mut rs, mut ds, mut r2s) = (vec![], vec![], vec![]);
    for (i, spec) in catalog().iter().enumerate().step_by(stride) {
        let sc = catalog_scene(
            &spec.name,
            256,
            32,
            s,
            &defects,
            &Artefacts::realistic(),
            i as u64,
        )
        .expect("scene");
        let pos = positions_from_mask(sc.observation.mask.view()).expect("defects");
        let ex = extract_map(
            &MapData::from_image(sc.observation.image.clone()),
            &pos,
            &settings,
            &NoProgress,
        )
        .expect("extraction");
        let k: Vec<f32> = ex.kernels.iter().copied().collect();
        let t: Vec<f32> = sc.kernel.iter().copied().collect();
        let r = sample_metrics(&k, &t).pearson;
        let d = md.of(&k, &t);
        println!(
            "{:32} n {:3} pearson {r:.4} maxdot {d:.4} heldout {:.3}",
            spec.name,
            pos.len(),
            ex.heldout_r2[0]
        );
        rs.push(r);
        ds.push(d);
        r2s.push(ex.heldout_r2[0]);
    }
    println!(
        "{} maps: median Pearson {:.4} (min {:.4}), median maxdot {:.4}, median held-out R^2 {:.3}",
        rs.len(),
        median(rs.clone()),
        rs.iter().cloned().fold(f64::INFINITY, f64::min),
        median(ds),
        median(r2s)
    );
}
