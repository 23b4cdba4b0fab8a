//! The map the blind search looks at: one map, or a stack's first principal component.

use crate::data::map_data::MapData;

/// The search's map for a stack: the layers' first principal component, `sum_e w_e (Y_e -
/// mean_e)` with `w` the top eigenvector of the layers' covariance (power iteration). When
/// defects keep their relative strength across energies, it is the map of one kernel,
/// `sum_e w_e K_e`, with the evidence of every energy and the least noise; a single map is
/// itself. Missing pixels are 0.
pub(super) fn principal_map(map: &MapData, valid: &[f64]) -> Vec<f64> {
    principal_weights(map, valid).0
}

/// [`principal_map`] and its weights `w_e` (`[1]` for a single map).
pub(super) fn principal_weights(map: &MapData, valid: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (e, h, w) = map.data.dim();
    let layers: Vec<Vec<f64>> = map
        .data
        .outer_iter()
        .map(|l| {
            let v: Vec<f64> = l
                .iter()
                .zip(valid)
                .map(|(x, m)| if *m > 0.0 { *x as f64 } else { 0.0 })
                .collect();
            let n = valid.iter().sum::<f64>().max(1.0);
            let mean = v.iter().sum::<f64>() / n;
            v.iter()
                .zip(valid)
                .map(|(x, m)| if *m > 0.0 { x - mean } else { 0.0 })
                .collect()
        })
        .collect();
    if e == 1 {
        let y = layers
            .into_iter()
            .next()
            .unwrap_or_else(|| vec![0.0; h * w]);
        return (y, vec![1.0]);
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov: Vec<f64> = (0..e * e)
        .map(|i| dot(&layers[i / e], &layers[i % e]))
        .collect();
    // Start from the loudest layer; the covariance is positive semi-definite.
    let mut v: Vec<f64> = (0..e).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    if let Some(l) = (0..e).max_by(|&a, &b| cov[a * e + a].total_cmp(&cov[b * e + b])) {
        v = (0..e).map(|i| if i == l { 1.0 } else { 0.0 }).collect();
    }
    for _ in 0..100 {
        let next: Vec<f64> = (0..e).map(|i| dot(&cov[i * e..(i + 1) * e], &v)).collect();
        let norm = dot(&next, &next).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        v = next.iter().map(|x| x / norm).collect();
    }
    let mut out = vec![0.0; h * w];
    for (layer, wt) in layers.iter().zip(&v) {
        for (o, x) in out.iter_mut().zip(layer) {
            *o += wt * x;
        }
    }
    (out, v)
}
