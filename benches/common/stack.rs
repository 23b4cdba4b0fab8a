//! A synthetic energy stack for the benchmarks: a map scaled per energy, fresh noise per layer.

use ndarray::Array3;
use qpik::data::map_data::MapData;
use qpik::rng::Rng;

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
