//! The picture of a gap-sign analysis ([`crate::fit::gap_sign`]): `rho^-` per energy (rows,
//! increasing `E`) and `|q|` shell (columns, increasing `|q|`) in standard errors, then the
//! predictions of the sign-changing and the sign-preserving form on the same scale.

use std::path::Path;

use ndarray::Array2;

use super::{Colormap, Panel, Scale, write_panels};
use crate::Result;
use crate::fit::gap_sign::GapSignResult;

/// Writes the picture of `r` to `path` (see the module docs).
pub fn write_gap_sign_png(path: &Path, r: &GapSignResult) -> Result<()> {
    let rows = r.energies.len();
    let cols = r.energies.first().map_or(0, |e| e.shells.len());
    let z = |values: &dyn Fn(usize, usize) -> f64| {
        Array2::from_shape_fn((rows, cols), |(i, k)| {
            let sd = r.energies[i].shells_std[k];
            if sd > 0.0 {
                (values(i, k) / sd) as f32
            } else {
                f32::NAN
            }
        })
    };
    let mut images = vec![(
        z(&|i, k| r.energies[i].shells[k]),
        format!("data rho- / std ({})", r.verdict.name()),
    )];
    if let Some(m) = &r.model {
        images.push((
            z(&|i, k| m.predicted_shells_sign_changing[i][k]),
            format!("sign-changing, chi2 {:.0}", m.chi2_sign_changing),
        ));
        images.push((
            z(&|i, k| m.predicted_shells_sign_preserving[i][k]),
            format!("sign-preserving, chi2 {:.0}", m.chi2_sign_preserving),
        ));
    }
    let panels: Vec<Panel> = images
        .iter()
        .map(|(img, title)| Panel {
            colormap: Colormap::Diverging,
            scale: Scale::Symmetric,
            ..Panel::new(img.view(), title.clone())
        })
        .collect();
    write_panels(path, &panels, panels.len(), 24)
}
