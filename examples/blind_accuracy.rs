//! Accuracy and speed of blind extraction on 256 x 256 catalog maps (realistic preset, 30-80
//! defects, S = 49): every STRIDE-th catalog kernel; prints maxdot against the truth, defect
//! recall within 1 px, the share of false positions, the held-out R^2 and the time, and
//! their medians.
//! `cargo run --release --example blind_accuracy [STRIDE] [SIZE]`; `QPIK_ONLY=NAME` runs
//! only the kernels whose name contains NAME.

use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::MapSettings;
use qpik::extract::metrics::MaxDot;
use qpik::physics::catalog::catalog;
use qpik::progress::NoProgress;
use qpik::synthesis::scene::catalog_scene;
use qpik::synthesis::{Artefacts, DefectConfig};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Recall of `truth` within `tol` px and the share of `found` farther than `tol` from any.
fn matching(truth: &[[f32; 2]], found: &[[f32; 2]], tol: f32) -> (f64, f64) {
    let near = |p: &[f32; 2], set: &[[f32; 2]]| {
        set.iter().any(|q| (p[0] - q[0]).hypot(p[1] - q[1]) <= tol)
    };
    let hit = truth.iter().filter(|t| near(t, found)).count();
    let false_pos = found.iter().filter(|f| !near(f, truth)).count();
    (
        hit as f64 / truth.len().max(1) as f64,
        false_pos as f64 / found.len().max(1) as f64,
    )
}

/// Least-squares fit of `found - truth = o + d * row / size` over pairs closer than 3 px;
/// returns `[o_row, o_col, d_row, d_col]` and the truth moved by it.
fn sheared(truth: &[[f32; 2]], found: &[[f32; 2]], size: usize) -> ([f64; 4], Vec<[f32; 2]>) {
    let mut pairs = vec![];
    for t in truth {
        if let Some(f) = found
            .iter()
            .min_by(|a, b| {
                let da = (a[0] - t[0]).hypot(a[1] - t[1]);
                let db = (b[0] - t[0]).hypot(b[1] - t[1]);
                da.total_cmp(&db)
            })
            .filter(|f| (f[0] - t[0]).hypot(f[1] - t[1]) < 3.0)
        {
            pairs.push((*t, *f));
        }
    }
    // Normal equations of [1, x] per axis, x = row / size.
    let (mut n, mut sx, mut sxx) = (0.0, 0.0, 0.0);
    let (mut sy, mut sxy) = ([0.0; 2], [0.0; 2]);
    for (t, f) in &pairs {
        let x = t[0] as f64 / size as f64;
        n += 1.0;
        sx += x;
        sxx += x * x;
        for a in 0..2 {
            let y = (f[a] - t[a]) as f64;
            sy[a] += y;
            sxy[a] += x * y;
        }
    }
    let det = n * sxx - sx * sx;
    if pairs.len() < 3 || det.abs() < 1e-12 {
        return ([0.0; 4], truth.to_vec());
    }
    let mut p = [0.0; 4];
    for a in 0..2 {
        p[2 + a] = (n * sxy[a] - sx * sy[a]) / det;
        p[a] = (sy[a] - p[2 + a] * sx) / n;
    }
    let moved = truth
        .iter()
        .map(|t| {
            let x = t[0] as f64 / size as f64;
            [
                t[0] + (p[0] + p[2] * x) as f32,
                t[1] + (p[1] + p[3] * x) as f32,
            ]
        })
        .collect();
    (p, moved)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stride: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let s = 49;
    let defects = DefectConfig {
        count_min: 30 * size * size / 65536,
        count_max: 80 * size * size / 65536,
        ..DefectConfig::default()
    };
    let settings = MapSettings {
        kernel_size: Some(s),
        bootstrap: 0,
        ..MapSettings::default()
    };
    let md = MaxDot::new(s, s);
    let (mut ds, mut recalls, mut falses, mut times) = (vec![], vec![], vec![], vec![]);
    let only = std::env::var("QPIK_ONLY").ok();
    for (i, spec) in catalog().iter().enumerate().step_by(stride) {
        if only
            .as_ref()
            .is_some_and(|o| !spec.name.contains(o.as_str()))
        {
            continue;
        }
        let sc = catalog_scene(
            &spec.name,
            size,
            32,
            s,
            &defects,
            &Artefacts::realistic(),
            i as u64,
        )
        .expect("scene");
        let map = MapData::from_image(sc.observation.image.clone());
        let t0 = Instant::now();
        let ex = match extract_blind(&map, &[], &settings, &NoProgress) {
            Ok(ex) => ex,
            Err(e) => {
                println!("{:32} failed: {e}", spec.name);
                ds.push(0.0);
                continue;
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        let k: Vec<f32> = ex.kernels.iter().copied().collect();
        let t: Vec<f32> = sc.kernel.iter().copied().collect();
        let d = md.of(&k, &t);
        // The realistic preset's thermal drift shears the map: a defect on row r appears
        // shifted by r/H times the drift. Fit that shear (and any common offset) on the
        // matches within 3 px, and score positions where the defects appear.
        let (shift, apparent) = sheared(&sc.observation.positions, &ex.positions, size);
        let (recall, false_share) = matching(&apparent, &ex.positions, 1.0);
        println!(
            "{:32} n {:3} found {:3} maxdot {d:.4} recall {recall:.3} false {false_share:.3} heldout {:.3} {dt:.2} s shear {:.2?}",
            spec.name,
            sc.observation.positions.len(),
            ex.positions.len(),
            ex.heldout_r2[0],
            shift
        );
        ds.push(d);
        recalls.push(recall);
        falses.push(false_share);
        times.push(dt);
    }
    println!(
        "{} maps: median maxdot {:.4} (mean {:.4}, min {:.4}), median recall {:.3}, median false {:.3}, median time {:.2} s",
        ds.len(),
        median(ds.clone()),
        ds.iter().sum::<f64>() / ds.len() as f64,
        ds.iter().cloned().fold(f64::INFINITY, f64::min),
        median(recalls),
        median(falses),
        median(times)
    );
}
