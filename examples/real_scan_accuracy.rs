//! Blind extraction on the real-scan preset (`synthesis::real_scan`, 256 x 256 Co/Ag(111)-like
//! topographs with clusters, dark defects, steps, tip changes, saturation, glitches and aborted
//! lines) with the defaults only (no kernel size, types or symmetry given): per map the adatom
//! recall within 2 px, the false positions, the kernel's maxdot against the true adatom kernel
//! outside its core, the ring-period error, the anisotropy, the symmetry chosen and the time;
//! then the medians.
//! `cargo run --release --example real_scan_accuracy [MAPS] [FIRST_SEED]`; `QPIK_SURFACE=NAME`
//! takes another surface (cu111, au111 or a catalog kernel name); `QPIK_SETTINGS='symmetry = "auto"'`
//! changes settings from the defaults; `QPIK_ORACLE=1` runs the map engine on the true
//! positions instead, and `QPIK_MASK_CORES=1` with it leaves out the true cores.

use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::MapSettings;
use qpik::progress::NoProgress;
use qpik::synthesis::real_scan::{RealScanConfig, Surface, real_scan, score::score_blind};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let maps: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(12);
    let first: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut config = RealScanConfig::default();
    if let Ok(name) = std::env::var("QPIK_SURFACE") {
        config.surface = Surface::parse(&name);
    }
    // QPIK_SETTINGS: TOML of MapSettings fields to change from the defaults.
    let settings = match std::env::var("QPIK_SETTINGS") {
        Ok(text) => {
            let mut table: toml::Table = toml::to_string(&MapSettings::default())
                .expect("settings serialise")
                .parse()
                .expect("settings parse");
            let extra: toml::Table = text.parse().expect("QPIK_SETTINGS is a TOML table");
            table.extend(extra);
            table
                .try_into()
                .expect("QPIK_SETTINGS names MapSettings fields")
        }
        Err(_) => MapSettings::default(),
    };
    let (mut recall, mut false_pos, mut maxdot, mut period, mut aniso, mut secs) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for seed in first..first + maps {
        let truth = match real_scan(&config, seed) {
            Ok(t) => t,
            Err(e) => {
                println!("seed {seed:3} preset failed: {e}");
                continue;
            }
        };
        let map = MapData {
            pixel_size_m: truth.pixel_size_m,
            ..MapData::from_image(truth.map.clone())
        };
        let t0 = Instant::now();
        // QPIK_ORACLE: the map engine on the true positions and types (the excluded truth
        // left out), the bound that the blind search can reach.
        let result = if std::env::var_os("QPIK_ORACLE").is_some() {
            let mut map = map.clone();
            for ((r, c), x) in map
                .data
                .slice_mut(ndarray::s![0, .., ..])
                .indexed_iter_mut()
            {
                if truth.excluded[[r, c]] > 0 {
                    *x = f32::NAN;
                }
            }
            let seen = truth.seen_positions();
            if std::env::var_os("QPIK_MASK_CORES").is_some() {
                let rc = truth.core_radius_px[0];
                let (h, w) = truth.map.dim();
                for p in &seen {
                    for r in 0..h {
                        for c in 0..w {
                            if (r as f64 - p[0]).hypot(c as f64 - p[1]) <= rc {
                                map.data[[0, r, c]] = f32::NAN;
                            }
                        }
                    }
                }
            }
            let keep: Vec<usize> = (0..seen.len())
                .filter(|&i| {
                    let (r, c) = (seen[i][0].round(), seen[i][1].round());
                    r >= 0.0
                        && c >= 0.0
                        && r < truth.map.nrows() as f64
                        && c < truth.map.ncols() as f64
                })
                .collect();
            let pos: Vec<[f64; 2]> = keep.iter().map(|&i| seen[i]).collect();
            let types: Vec<u8> = keep.iter().map(|&i| truth.types[i]).collect();
            qpik::extract::map::extract_map_typed(&map, &pos, &types, &settings, &NoProgress)
        } else {
            extract_blind(&map, &[], &settings, &NoProgress)
        };
        let ex = match result {
            Ok(ex) => ex,
            Err(e) => {
                println!("seed {seed:3} failed: {e}");
                recall.push(0.0);
                continue;
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        let positions: Vec<[f64; 2]> = ex
            .positions
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect();
        // The type with most defects is the adatom's.
        let t = (0..ex.type_count())
            .max_by_key(|&t| ex.types.iter().filter(|&&k| usize::from(k) == t).count())
            .unwrap_or(0);
        let kernel = ex.kernels.slice(ndarray::s![t, 0, .., ..]).to_owned();
        let sc = match score_blind(&truth, &positions, &kernel, None) {
            Ok(sc) => sc,
            Err(e) => {
                println!("seed {seed:3} score failed: {e}");
                continue;
            }
        };
        let r0 = sc.recall_2px_by_type.first().copied().unwrap_or(f64::NAN);
        println!(
            "seed {seed:3} adatoms {:3} found {:3} recall {r0:.3} false {:.3} maxdot {:.4} period err {} aniso {:.3} S {} types {} sym {} excl {} px r2 {:.3} {dt:.2} s",
            truth.types.iter().filter(|&&k| k == 0).count(),
            sc.found,
            sc.false_positive_fraction,
            sc.maxdot_outside_core,
            sc.ring_period_error
                .map_or("-".into(), |e| format!("{:.3}", e)),
            sc.anisotropy,
            ex.kernel_size(),
            ex.type_count(),
            ex.symmetry,
            ex.excluded.iter().filter(|&&x| x > 0).count(),
            ex.heldout_r2_mean(),
        );
        if std::env::var_os("QPIK_NOTES").is_some() {
            println!("  notes: {}", ex.notes);
        }
        recall.push(r0);
        false_pos.push(sc.false_positive_fraction);
        maxdot.push(sc.maxdot_outside_core);
        period.push(sc.ring_period_error.unwrap_or(f64::NAN));
        aniso.push(sc.anisotropy);
        secs.push(dt);
    }
    println!(
        "{} maps: median adatom recall {:.3} (min {:.3}), false {:.3}, maxdot outside core {:.4} (min {:.4}), period error {:.3}, anisotropy {:.3}, time {:.2} s",
        recall.len(),
        median(recall.clone()),
        recall.iter().copied().fold(f64::INFINITY, f64::min),
        median(false_pos),
        median(maxdot.clone()),
        maxdot.iter().copied().fold(f64::INFINITY, f64::min),
        median(period),
        median(aniso),
        median(secs)
    );
}
