//! Probe the map engine on synthetic catalog maps: accuracy and time per setting.
//! `cargo run --release --example map_probe -- KERNEL SIZE NMIN NMAX S SEEDS [realistic]`

use qpik::data::map_data::MapData;
use qpik::extract::map::{MapSettings, extract_map};
use qpik::extract::sample_metrics;
use qpik::physics::{SimContext, catalog::find};
use qpik::progress::NoProgress;
use qpik::rng::Rng;
use qpik::synthesis::dataset::prepare_kernel;
use qpik::synthesis::{Artefacts, DefectConfig, synthesize};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let name = a
        .get(1)
        .map(String::as_str)
        .unwrap_or("bi2212-normal-m50meV");
    let size: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let nmin: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
    let nmax: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(80);
    let s: usize = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(49);
    let seeds: u64 = a.get(6).and_then(|s| s.parse().ok()).unwrap_or(3);
    let realistic = a.get(7).map(|s| s == "realistic").unwrap_or(false);
    let mut spec = find(name).expect("catalog kernel");
    spec.render.size = [s + 16, s + 16];
    let mut ctx = SimContext::new();
    let prep = prepare_kernel(&mut ctx, &spec, 4).unwrap();
    let truth_full = prep.image;
    let off = 8;
    let truth: Vec<f32> = (0..s * s)
        .map(|i| truth_full[[off + i / s, off + i % s]])
        .collect();
    for seed in 0..seeds {
        let mut rng = Rng::new(seed);
        let defects = DefectConfig {
            count_min: nmin,
            count_max: nmax,
            ..DefectConfig::default()
        };
        let mut art = if realistic {
            Artefacts::realistic()
        } else {
            Artefacts::default()
        };
        if let Ok(only) = std::env::var("PROBE_ONLY") {
            let r = Artefacts::realistic();
            art = Artefacts::default();
            match only.as_str() {
                "snr" => art.snr = r.snr,
                "flicker" => art.flicker = r.flicker,
                "lines" => art.line_offsets = r.line_offsets,
                "tip" => {
                    art.tip_changes = r.tip_changes;
                    art.tip_change_size = r.tip_change_size;
                }
                "spikes" => {
                    art.spikes = r.spikes;
                    art.spike_size = r.spike_size;
                }
                "plane" => art.plane = r.plane,
                "drift" => art.drift_px = r.drift_px,
                _ => panic!("unknown artefact"),
            }
        }
        let obs = synthesize(
            &prep.stamps,
            size,
            size,
            spec.render.pixel_size_a,
            &defects,
            &art,
            &mut rng,
        )
        .unwrap();
        let positions: Vec<[f64; 2]> = obs
            .mask
            .indexed_iter()
            .filter(|(_, m)| **m == 1)
            .map(|((r, c), _)| [r as f64, c as f64])
            .collect();
        let exact: Vec<[f64; 2]> = obs
            .positions
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect();
        for (label, pos) in [("mask", &positions), ("exact", &exact)] {
            let mut settings = MapSettings {
                kernel_size: Some(s),
                ..MapSettings::default()
            };
            if std::env::var("PROBE_LINES").is_ok() {
                settings.background = qpik::extract::map::Background::PlaneAndLines;
            }
            if std::env::var("PROBE_FAST").is_ok() {
                settings.smoothness = qpik::extract::map::Smoothness::Fixed(0.01);
                settings.bootstrap = 0;
            }
            qpik::extract::map::cg::PRODUCTS.store(0, std::sync::atomic::Ordering::Relaxed);
            let t0 = std::time::Instant::now();
            let ex = extract_map(
                &MapData::from_image(obs.image.clone()),
                pos,
                &settings,
                &NoProgress,
            )
            .unwrap();
            let dt = t0.elapsed().as_secs_f64();
            eprintln!(
                "products {}",
                qpik::extract::map::cg::PRODUCTS.load(std::sync::atomic::Ordering::Relaxed)
            );
            let k: Vec<f32> = ex.kernels.iter().copied().collect();
            let m = sample_metrics(&k, &truth);
            let std_mean = ex.kernel_std.iter().map(|&v| v as f64).sum::<f64>() / (s * s) as f64;
            println!(
                "seed {seed} {label}: n {} pearson {:.4} heldout {:.4} fit {:.4} smooth {} sym {} std {:.3e} time {:.3}s",
                pos.len(),
                m.pearson,
                ex.heldout_r2[0],
                ex.fit_r2[0],
                ex.smoothness[0],
                ex.symmetry,
                std_mean,
                dt
            );
        }
    }
}
