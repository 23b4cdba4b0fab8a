//! Defect masks estimated from an observation alone (no topography).

use ndarray::{Array2, ArrayView2};

use crate::{Error, Result};

/// A network's defect mask from caller values (row-major): each value must be exactly 0 (no
/// defect) or 1 (a defect at that pixel); anything else, NaN and infinity included, is
/// refused with its flat index. The C ABI (`qpik_extract`) and the CLI (`qpik extract
/// --method two-step/one-step --mask`) both read masks through this rule. (The map engine
/// takes positions instead: any pixel above 0.5, see
/// [`crate::extract::defects::positions_from_mask`].)
pub fn binary_mask(values: &[f32], what: &str) -> Result<Vec<u8>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &x)| match x {
            0.0 => Ok(0),
            1.0 => Ok(1),
            _ => Err(Error::invalid(format!(
                "{what} must be binary (0 or 1) but holds {x} at flat index {i}"
            ))),
        })
        .collect()
}

/// Estimate a defect mask from an observation alone, for users without topography.
///
/// Heuristic: a defect's own site carries the strongest LDOS change of its kernel, so defects
/// show as the sharpest extrema. The map is standardised robustly (median, 1.4826 x MAD);
/// the sign of the strongest extremum is taken as the defects' sign; every local extremum of
/// that sign (5 x 5 neighbourhood) reaching both 6 robust standard deviations and 35 % of the
/// strongest is a defect. Accurate for isolated sharp centres; a mask from the topography is
/// better when one exists. The same detection with subpixel positions and other settings:
/// [`crate::extract::defects::defects_from_map`].
pub fn estimate_mask(obs: ArrayView2<f32>) -> Array2<u8> {
    let settings = crate::extract::defects::MapDefectSettings::default();
    let mut mask = Array2::<u8>::zeros(obs.dim());
    for (r, c, _) in crate::extract::defects::map_peaks(obs, &settings).peaks {
        mask[[r, c]] = 1;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_masks_find_simulated_defects() {
        use crate::physics::{SimContext, catalog::find};
        use crate::synthesis::{Artefacts, DefectConfig, KernelStamps, synthesize};
        let spec = find("shockley-cu111-0meV").expect("catalog kernel");
        let mut ctx = SimContext::new();
        let field = spec.simulate(&mut ctx).unwrap();
        let grid = spec.grid();
        let stamps = KernelStamps::new(&field, &grid, 64, 4).unwrap();
        let defects = DefectConfig {
            count_min: 3,
            count_max: 6,
            ..DefectConfig::default()
        };
        let (mut hits, mut truth, mut found) = (0, 0, 0);
        for seed in 0..10 {
            let mut rng = crate::rng::Rng::new(seed);
            let o = synthesize(
                &stamps,
                64,
                64,
                grid.pixel_size_a,
                &defects,
                &Artefacts::default(),
                &mut rng,
            )
            .unwrap();
            let m = estimate_mask(o.image.view());
            truth += o.mask.iter().filter(|&&x| x == 1).count();
            found += m.iter().filter(|&&x| x == 1).count();
            // A hit: an estimated defect within one pixel of a true one.
            for ((r, c), &x) in m.indexed_iter() {
                if x == 1 {
                    let near = (r.saturating_sub(1)..(r + 2).min(64)).any(|rr| {
                        (c.saturating_sub(1)..(c + 2).min(64)).any(|cc| o.mask[[rr, cc]] == 1)
                    });
                    hits += near as usize;
                }
            }
        }
        let (precision, recall) = (hits as f64 / found as f64, hits as f64 / truth as f64);
        assert!(
            precision > 0.9 && recall > 0.8,
            "precision {precision}, recall {recall} ({found} found, {truth} true)"
        );
    }
}
