//! Synthetic maps for the map and blind benchmarks: the bi2212 scene and an energy stack of
//! it (scaled per energy, fresh noise per layer).

use ndarray::Array3;
use qpik::data::map_data::MapData;
use qpik::extract::defects::positions_from_mask;
use qpik::rng::Rng;
use qpik::synthesis::scene::catalog_scene;
use qpik::synthesis::{Artefacts, DefectConfig};

/// `size x size` map of `n` bi2212-normal-m50meV defects (S 49) with white noise (SNR 8), and
/// the defects' whole-pixel positions from the mask.
pub fn scene(size: usize, n: usize, seed: u64) -> (MapData, Vec<[f64; 2]>) {
    let defects = DefectConfig {
        count_min: n,
        count_max: n,
        ..DefectConfig::default()
    };
    let art = Artefacts {
        snr: Some(8.0),
        ..Artefacts::default()
    };
    let sc =
        catalog_scene("bi2212-normal-m50meV", size, 32, 49, &defects, &art, seed).expect("scene");
    let positions = positions_from_mask(sc.observation.mask.view()).expect("defects");
    (MapData::from_image(sc.observation.image), positions)
}

/// `e` layers of `map` (one layer), layer `l` scaled by `1 + 0.5 sin(0.2 l)`, with white noise
/// of a tenth of the map's standard deviation.
pub fn noisy_stack(map: &MapData, e: usize, seed: u64) -> MapData {
    let mut rng = Rng::new(seed);
    let base = map.data.index_axis(ndarray::Axis(0), 0).to_owned();
    let (h, w) = base.dim();
    let sd = {
        let m = base.iter().map(|&v| v as f64).sum::<f64>() / base.len() as f64;
        (base.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / base.len() as f64).sqrt()
    };
    let mut data = Array3::<f32>::zeros((e, h, w));
    for l in 0..e {
        let f = 1.0 + 0.5 * (l as f32 * 0.2).sin();
        for ((r, c), v) in base.indexed_iter() {
            data[[l, r, c]] = f * v + (0.1 * sd * rng.normal()) as f32;
        }
    }
    MapData {
        data,
        energies_ev: vec![f64::NAN; e],
        ..map.clone()
    }
}
