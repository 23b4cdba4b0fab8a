//! The picture of a kernel fit ([`crate::fit`]): per energy one row of data, model and
//! residual in real space, then the same three as `|FFT|` (q-space, log scale).

use std::path::Path;

use ndarray::{Array2, Axis};

use super::fourier::fourier_log_picture;
use super::{Colormap, Panel, Scale, write_panels};
use crate::Result;
use crate::fit::FitResult;

/// Most energy rows drawn; longer series are sampled evenly.
pub const MAX_ROWS: usize = 16;

/// Writes the fit picture of `r` to `path` (see the module docs). Masked pixels (the
/// impurity core) are NaN in the residual.
pub fn write_fit_png(path: &Path, r: &FitResult) -> Result<()> {
    let e = r.energies_ev.len();
    let rows: Vec<usize> = if e <= MAX_ROWS {
        (0..e).collect()
    } else {
        (0..MAX_ROWS)
            .map(|k| k * (e - 1) / (MAX_ROWS - 1))
            .collect()
    };
    let mut images: Vec<(Array2<f32>, String, bool)> = Vec::new();
    for &k in &rows {
        let d = r.data.index_axis(Axis(0), k).mapv(|v| v as f32);
        let m = r.model.index_axis(Axis(0), k).mapv(|v| v as f32);
        let w = r.weights.index_axis(Axis(0), k);
        let res = ndarray::Zip::from(&d)
            .and(&m)
            .and(w)
            .map_collect(|&d, &m, &w| if w > 0.0 { d - m } else { f32::NAN });
        let res_q = res.mapv(|v| if v.is_finite() { v } else { 0.0 });
        let label = format!("{:+.3} eV", r.energies_ev[k]);
        let (fd, fm, fr) = (
            fourier_log_picture(d.view()),
            fourier_log_picture(m.view()),
            fourier_log_picture(res_q.view()),
        );
        images.push((d, format!("data {label}"), true));
        images.push((m, "model".into(), true));
        images.push((res, "residual".into(), true));
        images.push((fd, "|FFT| data".into(), false));
        images.push((fm, "|FFT| model".into(), false));
        images.push((fr, "|FFT| residual".into(), false));
    }
    let panels: Vec<Panel> = images
        .iter()
        .map(|(img, title, real)| Panel {
            image: img.view(),
            title: title.clone(),
            colormap: if *real {
                Colormap::Diverging
            } else {
                Colormap::Viridis
            },
            scale: if *real {
                Scale::SymmetricPercentile(1.0)
            } else {
                Scale::MinMax
            },
            marks: Vec::new(),
        })
        .collect();
    let size = r.data.dim().1;
    let zoom = (192 / size.max(1)).clamp(1, 4);
    write_panels(path, &panels, 6, zoom)
}
