//! Two-type blind extraction on 256 x 256 maps (realistic preset without drift, 20-40
//! defects of each type, amplitudes scaled so both types are equally visible, S = 41):
//! each kernel's maxdot against its truth and the share of matched defects typed right.
//! `cargo run --release --example blind_types`

use ndarray::Array2;
use qpik::data::map_data::MapData;
use qpik::extract::blind::extract_blind;
use qpik::extract::map::{MapSettings, TypeCount};
use qpik::extract::metrics::MaxDot;
use qpik::progress::NoProgress;
use qpik::synthesis::typed_scene::typed_scene;
use qpik::synthesis::{Artefacts, DefectConfig};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let s = 41;
    let pairs = [
        ("square-tp-3-m200meV", "shockley-cu111-m100meV"),
        ("bi2212-dwave-35meV", "kagome-m500meV"),
        ("fe2orb-spm-8meV", "triangular-0meV"),
        ("tss-bi2te3-m100meV", "square-tp0-m500meV"),
        ("shockley-ag111-m30meV", "bi2212-normal-100meV"),
        ("gapped-honeycomb-900meV", "fe2orb-nematic-70meV"),
    ];
    let art = Artefacts {
        drift_px: 0.0,
        ..Artefacts::realistic()
    };
    let unit = DefectConfig {
        count_min: 20,
        count_max: 40,
        ..DefectConfig::default()
    };
    let settings = MapSettings {
        kernel_size: Some(s),
        bootstrap: 0,
        types: TypeCount::Fixed(2),
        ..MapSettings::default()
    };
    let md = MaxDot::new(s, s);
    let (mut ds, mut typed, mut times) = (vec![], vec![], vec![]);
    for (seed, (a, b)) in pairs.iter().enumerate() {
        let names = [*a, *b];
        let rms = |k: &Array2<f32>| (k.iter().map(|v| v * v).sum::<f32>() / k.len() as f32).sqrt();
        let first =
            typed_scene(&names, 256, 28, s, &[unit, unit], &art, seed as u64).expect("scene");
        let ratio = (rms(&first.kernels[0]) / rms(&first.kernels[1])) as f64;
        let second = DefectConfig {
            amplitude_min: unit.amplitude_min * ratio,
            amplitude_max: unit.amplitude_max * ratio,
            ..unit
        };
        let sc =
            typed_scene(&names, 256, 28, s, &[unit, second], &art, seed as u64).expect("scene");
        let t0 = Instant::now();
        let ex = match extract_blind(
            &MapData::from_image(sc.image.clone()),
            &[],
            &settings,
            &NoProgress,
        ) {
            Ok(ex) => ex,
            Err(e) => {
                println!("{a} + {b}: failed: {e}");
                continue;
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        let kernel = |t: usize| -> Vec<f32> {
            if t < ex.type_count() {
                ex.kernels
                    .slice(ndarray::s![t, 0, .., ..])
                    .iter()
                    .copied()
                    .collect()
            } else {
                vec![0.0; s * s]
            }
        };
        let truth: Vec<Vec<f32>> = sc
            .kernels
            .iter()
            .map(|k| k.iter().copied().collect())
            .collect();
        let score = |p: [usize; 2]| {
            [
                md.of(&kernel(p[0]), &truth[0]),
                md.of(&kernel(p[1]), &truth[1]),
            ]
        };
        let (x, y) = (score([0, 1]), score([1, 0]));
        let (perm, d) = if x[0] + x[1] >= y[0] + y[1] {
            ([0u8, 1], x)
        } else {
            ([1u8, 0], y)
        };
        let (mut matched, mut right) = (0, 0);
        for (p, &t) in sc.positions.iter().zip(&sc.types) {
            let near = ex
                .positions
                .iter()
                .enumerate()
                .map(|(i, f)| (i, (f[0] - p[0]).hypot(f[1] - p[1])))
                .filter(|(_, d)| *d <= 1.5)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = near {
                matched += 1;
                if ex.types[i] == perm[usize::from(t)] {
                    right += 1;
                }
            }
        }
        let share = right as f64 / matched.max(1) as f64;
        println!(
            "{a} + {b}: types {} defects {}/{} maxdot {:.4} {:.4} typed right {share:.3} of {matched} matched, {dt:.2} s",
            ex.type_count(),
            ex.positions.len(),
            sc.positions.len(),
            d[0],
            d[1]
        );
        ds.push(d[0].min(d[1]));
        typed.push(share);
        times.push(dt);
    }
    println!(
        "{} maps: median of the worse kernel's maxdot {:.4} (min {:.4}), median typed right {:.3} (min {:.3}), median time {:.2} s",
        ds.len(),
        median(ds.clone()),
        ds.iter().cloned().fold(f64::INFINITY, f64::min),
        median(typed.clone()),
        typed.iter().cloned().fold(f64::INFINITY, f64::min),
        median(times)
    );
}
