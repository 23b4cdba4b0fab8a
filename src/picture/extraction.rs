//! Pictures of a map extraction: the map with its defects, the kernel in real space and in
//! q-space (its Fourier amplitude, the QPI pattern), the residual and the standard error; a
//! contact sheet over the energies of a stack; truth beside result for the demo.
//!
//! Conventions: real-space panels keep the map's `[row, col]` orientation (row 0 at the top)
//! and put the impurity at the kernel's centre pixel `(S/2, S/2)`, marked by ticks on the
//! panel's edges (the origin, 0). Fourier panels put q = 0 at the centre (see
//! [`super::fourier`]) and show `log10 |F(K)|`. Scale bars are drawn when the pixel size is
//! known: lengths in nm (or Angstrom, written `A`, below 1 nm), wave vectors in 1/nm
//! (`q = 2 pi / wavelength`).

use std::path::Path;

use ndarray::{Array2, ArrayView2, s};

use super::canvas::Canvas;
use super::colormap::Colormap;
use super::fourier::fourier_log_picture;
use super::panels::{Decor, Panel, ScaleBar, render_decorated};
use super::scale::{Scale, format_value};
use crate::data::extraction_file::check_extraction;
use crate::data::map_data::MapData;
use crate::extract::map::Extraction;
use crate::{Error, Result};

/// Mark colours of defect types 0..8 (then repeating), with their names for the caption.
pub const TYPE_COLOURS: [([u8; 3], &str); 8] = [
    ([230, 25, 75], "red"),
    ([0, 190, 255], "cyan"),
    ([255, 225, 25], "yellow"),
    ([60, 180, 75], "green"),
    ([245, 130, 48], "orange"),
    ([145, 30, 180], "purple"),
    ([255, 255, 255], "white"),
    ([0, 0, 128], "navy"),
];

/// Side in display pixels aimed at for one panel of the extraction picture.
const PANEL_PX: usize = 320;
/// Side aimed at for one panel of a contact sheet.
const SHEET_PANEL_PX: usize = 128;
/// Maps larger than this (in pixels per side) are shown block-averaged.
const MAX_MAP_PX: usize = 768;

/// Colour of defect type `t`.
pub fn type_colour(t: u8) -> [u8; 3] {
    TYPE_COLOURS[usize::from(t) % TYPE_COLOURS.len()].0
}

/// Zoom that brings an image's longer side near `target` display pixels (at least 1).
fn zoom_for(h: usize, w: usize, target: usize) -> usize {
    (target / h.max(w).max(1)).max(1)
}

/// Block means over `f x f` blocks (finite pixels only; NaN where a block has none).
fn block_mean(image: ArrayView2<f32>, f: usize) -> Array2<f32> {
    let (h, w) = image.dim();
    Array2::from_shape_fn((h.div_ceil(f), w.div_ceil(f)), |(i, j)| {
        let block = image.slice(s![i * f..((i + 1) * f).min(h), j * f..((j + 1) * f).min(w)]);
        let (sum, n) = block
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0usize), |(s, n), &v| (s + v as f64, n + 1));
        if n > 0 {
            (sum / n as f64) as f32
        } else {
            f32::NAN
        }
    })
}

/// A map layer ready to show: block-averaged by `factor` when large.
struct Shown {
    image: Array2<f32>,
    factor: usize,
}

fn shown(image: ArrayView2<f32>) -> Shown {
    let factor = image.nrows().max(image.ncols()).div_ceil(MAX_MAP_PX).max(1);
    let image = if factor > 1 {
        block_mean(image, factor)
    } else {
        image.to_owned()
    };
    Shown { image, factor }
}

/// Largest of 1, 2, 5 times a power of ten that is at most `x` (`x > 0`).
fn nice_below(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&v| v <= x * (1.0 + 1e-9))
        .unwrap_or(p)
}

/// A real-space bar about a quarter of an `n`-pixel-wide panel, or `None` when the pixel size
/// is unknown.
pub(crate) fn length_bar(n: usize, pixel_size_m: f64) -> Option<ScaleBar> {
    if !(pixel_size_m.is_finite() && pixel_size_m > 0.0) || n == 0 {
        return None;
    }
    let target_m = n as f64 * pixel_size_m / 4.0;
    let (unit_m, unit) = if target_m >= 1e-9 {
        (1e-9, "nm")
    } else {
        (1e-10, "A")
    };
    let length = nice_below(target_m / unit_m);
    Some(ScaleBar {
        length_px: length * unit_m / pixel_size_m,
        label: format!("{} {unit}", format_value(length)),
    })
}

/// A q-space bar about a quarter of the Fourier panel of an `n`-pixel kernel (q-pixel
/// `2 pi / (n p)`), in 1/nm, or `None` when the pixel size is unknown.
pub(crate) fn wave_vector_bar(n: usize, pixel_size_m: f64) -> Option<ScaleBar> {
    if !(pixel_size_m.is_finite() && pixel_size_m > 0.0) || n == 0 {
        return None;
    }
    let dq_per_nm = 2.0 * std::f64::consts::PI / (n as f64 * pixel_size_m * 1e9);
    let length = nice_below(n as f64 * dq_per_nm / 4.0);
    Some(ScaleBar {
        length_px: length / dq_per_nm,
        label: format!("{} nm^-1", format_value(length)),
    })
}

/// `"12.5 meV"`, or `"layer k"` when the energy is unknown.
fn energy_label(energy_ev: f64, layer: usize) -> String {
    if energy_ev.is_finite() {
        format!("{} meV", format_value(energy_ev * 1e3))
    } else {
        format!("layer {layer}")
    }
}

fn with_unit(what: &str, unit: &str) -> String {
    if unit.is_empty() {
        what.to_string()
    } else {
        format!("{what} [{unit}]")
    }
}

/// A kernel panel and its Fourier panel, with their decorations.
fn kernel_pair<'a>(
    kernel: ArrayView2<'a, f32>,
    fourier: &'a Array2<f32>,
    titles: (String, String),
    pixel_size_m: f64,
    target: usize,
) -> [(Panel<'a>, Decor); 2] {
    let n = kernel.nrows();
    let zoom = zoom_for(n, kernel.ncols(), target);
    let real = Panel {
        colormap: Colormap::Diverging,
        scale: Scale::SymmetricPercentile(0.5),
        ..Panel::new(kernel, titles.0)
    };
    let q = Panel {
        colormap: Colormap::Viridis,
        scale: Scale::Percentile(0.5),
        ..Panel::new(fourier.view(), titles.1)
    };
    let decor = |bar| Decor {
        scale_bar: bar,
        centre_ticks: true,
        ..Decor::zoomed(zoom)
    };
    [
        (real, decor(length_bar(n, pixel_size_m))),
        (q, decor(wave_vector_bar(n, pixel_size_m))),
    ]
}

fn render_extraction(map: &MapData, ex: &Extraction, energy_index: usize) -> Result<Canvas> {
    let (t, e, s, n, h, w) = check_extraction(ex)?;
    if energy_index >= e {
        return Err(Error::invalid(format!(
            "energy index {energy_index} is out of range: the extraction has {e} energies (0 to {})",
            e - 1
        )));
    }
    if map.data.dim() != (e, h, w) {
        return Err(Error::invalid(format!(
            "the map is {:?} (energies, rows, columns) but the extraction was made from {:?}",
            map.data.dim(),
            (e, h, w)
        )));
    }
    let layer = energy_index;
    let energy = energy_label(ex.energies_ev[layer], layer);
    let unit = &ex.value_unit;
    let map_shown = shown(map.data.slice(s![layer, .., ..]));
    let background = shown(ex.background.slice(s![layer, .., ..]));
    let residual = shown(ex.residual.slice(s![layer, .., ..]));
    let f = map_shown.factor as f32;
    let (sh, sw) = map_shown.image.dim();
    let map_zoom = zoom_for(sh, sw, PANEL_PX);

    let mut panels: Vec<(Panel, Decor)> = Vec::new();
    let marks: Vec<(f32, f32)> = ex
        .positions
        .iter()
        .map(|p| ((p[0] + 0.5) / f - 0.5, (p[1] + 0.5) / f - 0.5))
        .collect();
    let map_bar = length_bar(sw * map_shown.factor, map.pixel_size_m).map(|b| ScaleBar {
        length_px: b.length_px / f as f64,
        ..b
    });
    panels.push((
        Panel {
            colormap: Colormap::Gray,
            scale: Scale::Percentile(1.0),
            marks,
            ..Panel::new(
                map_shown.image.view(),
                with_unit(&format!("map, {energy}, {n} defects"), unit),
            )
        },
        Decor {
            mark_colours: ex.types.iter().map(|&k| type_colour(k)).collect(),
            scale_bar: map_bar.clone(),
            ..Decor::zoomed(map_zoom)
        },
    ));
    panels.push((
        Panel {
            colormap: Colormap::Gray,
            scale: Scale::Percentile(1.0),
            ..Panel::new(
                background.image.view(),
                with_unit("fitted background", unit),
            )
        },
        Decor::zoomed(map_zoom),
    ));
    panels.push((
        Panel {
            colormap: Colormap::Diverging,
            scale: Scale::SymmetricPercentile(0.5),
            ..Panel::new(
                residual.image.view(),
                with_unit("residual (map - model)", unit),
            )
        },
        Decor {
            scale_bar: map_bar,
            ..Decor::zoomed(map_zoom)
        },
    ));

    let fouriers: Vec<Array2<f32>> = (0..t)
        .map(|k| fourier_log_picture(ex.kernels.slice(s![k, layer, .., ..])))
        .collect();
    for (k, fourier) in fouriers.iter().enumerate() {
        let tag = if t > 1 {
            format!(" {k} ({})", TYPE_COLOURS[k % TYPE_COLOURS.len()].1)
        } else {
            String::new()
        };
        let kernel = ex.kernels.slice(s![k, layer, .., ..]);
        let titles = (
            with_unit(&format!("kernel{tag}, 0 at impurity"), unit),
            format!("log10 |F(K)|{tag}, q = 0 at centre"),
        );
        panels.extend(kernel_pair(
            kernel,
            fourier,
            titles,
            ex.pixel_size_m,
            PANEL_PX,
        ));
        let std = ex.kernel_std.slice(s![k, layer, .., ..]);
        let computed = std.iter().any(|v| v.is_finite());
        let title = if computed {
            with_unit(&format!("standard error{tag}"), unit)
        } else {
            format!("standard error{tag}: not computed")
        };
        panels.push((
            Panel::new(std, title),
            Decor {
                centre_ticks: true,
                ..Decor::zoomed(zoom_for(s, s, PANEL_PX))
            },
        ));
    }

    let mut caption = format!(
        "held-out R^2 = {:.3} at {energy} (fit R^2 = {:.3}); {} defects, {s} x {s} px kernel",
        ex.heldout_r2[layer], ex.fit_r2[layer], n
    );
    if e > 1 {
        caption += &format!(
            ", mean held-out R^2 over {e} energies = {:.3}",
            ex.heldout_r2_mean()
        );
    }
    if ex.symmetry > 0 {
        caption += &format!(", symmetry {}-fold", ex.symmetry);
    }
    if ex.pixel_size_m.is_finite() {
        caption += &format!(", pixel {} A", format_value(ex.pixel_size_m * 1e10));
    }
    if t > 1 {
        let legend: Vec<String> = (0..t)
            .map(|k| format!("{k} {}", TYPE_COLOURS[k % TYPE_COLOURS.len()].1))
            .collect();
        caption += &format!("; marks by type: {}", legend.join(", "));
    }
    caption += &format!(" ({}).", ex.method);
    let (p, d): (Vec<Panel>, Vec<Decor>) = panels.into_iter().unzip();
    Ok(render_decorated(&p, &d, 3, &caption)?.0)
}

/// Writes the picture of an extraction at one energy: the map with the defects marked (by
/// type), the fitted background and the residual; for each kernel type its kernel (impurity at
/// the centre, a length scale bar), `log10 |F(K)|` (q = 0 at the centre, a 1/nm bar) and its
/// standard error; the held-out R^2 in the caption. `map` is the map the extraction was made
/// from (same `[E, H, W]`); `energy_index` picks the layer.
pub fn write_extraction_png(
    path: &Path,
    map: &MapData,
    ex: &Extraction,
    energy_index: usize,
) -> Result<()> {
    render_extraction(map, ex, energy_index)?.save(path)
}

fn render_sheet(ex: &Extraction) -> Result<Canvas> {
    let (t, e, s, _, _, _) = check_extraction(ex)?;
    let fouriers: Vec<Array2<f32>> = (0..t * e)
        .map(|i| fourier_log_picture(ex.kernels.slice(s![i / e, i % e, .., ..])))
        .collect();
    let mut panels: Vec<(Panel, Decor)> = Vec::new();
    for (i, fourier) in fouriers.iter().enumerate() {
        let (k, l) = (i / e, i % e);
        let tag = if t > 1 {
            format!("t{k} ")
        } else {
            String::new()
        };
        let energy = energy_label(ex.energies_ev[l], l);
        let titles = (format!("{tag}K {energy}"), format!("{tag}|F| {energy}"));
        let kernel = ex.kernels.slice(s![k, l, .., ..]);
        panels.extend(kernel_pair(
            kernel,
            fourier,
            titles,
            ex.pixel_size_m,
            SHEET_PANEL_PX,
        ));
    }
    let pairs_per_row = (e as f64).sqrt().ceil().clamp(1.0, 8.0) as usize;
    let caption = format!(
        "Kernels K (impurity at the centre) and log10 |F(K)| (q = 0 at the centre) over {e} \
         energies, {s} x {s} px; mean held-out R^2 = {:.3} ({}).",
        ex.heldout_r2_mean(),
        ex.method
    );
    let (p, d): (Vec<Panel>, Vec<Decor>) = panels.into_iter().unzip();
    Ok(render_decorated(&p, &d, 2 * pairs_per_row, &caption)?.0)
}

/// Writes a contact sheet of an energy stack's kernels and their Fourier amplitudes, each pair
/// labelled with its energy in meV (or its layer when the energy is unknown), every type in
/// turn.
pub fn write_extraction_sheet(path: &Path, ex: &Extraction) -> Result<()> {
    render_sheet(ex)?.save(path)
}

/// Mean 0, standard deviation 1 over the finite pixels (all zero when flat).
fn standardised(image: ArrayView2<f32>) -> Array2<f32> {
    let finite: Vec<f64> = image
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .collect();
    let n = finite.len().max(1) as f64;
    let mean = finite.iter().sum::<f64>() / n;
    let sd = (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let scale = if sd > 0.0 { 1.0 / sd } else { 0.0 };
    image.mapv(|v| ((v as f64 - mean) * scale) as f32)
}

/// Pearson correlation of two images over the pixels finite in both (NaN when either is flat).
pub(crate) fn pearson(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x as f64, y as f64))
        .collect();
    let n = pairs.len() as f64;
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(s, t), &(x, y)| (s + x / n, t + y / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for &(x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

fn render_comparison(
    truth: ArrayView2<f32>,
    found: ArrayView2<f32>,
    pixel_size_m: f64,
    note: &str,
) -> Result<Canvas> {
    if truth.dim() != found.dim() {
        return Err(Error::invalid(format!(
            "truth is {:?} pixels but the result is {:?}: compare kernels of one size",
            truth.dim(),
            found.dim()
        )));
    }
    let (n, m) = truth.dim();
    if n == 0 || m == 0 {
        return Err(Error::invalid("the kernels to compare are empty"));
    }
    let (t, f) = (standardised(truth), standardised(found));
    let difference = &f - &t;
    let (ft, ff) = (fourier_log_picture(truth), fourier_log_picture(found));
    let mut panels: Vec<(Panel, Decor)> = Vec::new();
    panels.extend(kernel_pair(
        t.view(),
        &ft,
        ("truth".into(), "truth log10 |F|".into()),
        pixel_size_m,
        PANEL_PX,
    ));
    panels.extend(kernel_pair(
        f.view(),
        &ff,
        ("found".into(), "found log10 |F|".into()),
        pixel_size_m,
        PANEL_PX,
    ));
    panels.push((
        Panel {
            colormap: Colormap::Diverging,
            scale: Scale::Symmetric,
            ..Panel::new(difference.view(), "found - truth")
        },
        Decor {
            centre_ticks: true,
            ..Decor::zoomed(zoom_for(n, m, PANEL_PX))
        },
    ));
    // Rows: truth, its |F|, the difference / found, its |F|.
    let order = [0, 1, 4, 2, 3];
    let mut slots: Vec<Option<(Panel, Decor)>> = panels.into_iter().map(Some).collect();
    let (p, d): (Vec<Panel>, Vec<Decor>) = order.iter().filter_map(|&i| slots[i].take()).unzip();
    let r = pearson(truth, found);
    let mut caption =
        format!("Pearson r = {r:.3}; each kernel standardised (mean 0, standard deviation 1).");
    if !note.is_empty() {
        caption = format!("{note} {caption}");
    }
    Ok(render_decorated(&p, &d, 3, &caption)?.0)
}

/// Writes truth beside result for one kernel (the demo's picture): both standardised (mean 0,
/// standard deviation 1, since a found kernel carries the map's unit and the truth its own),
/// their Fourier amplitudes, and the difference; the Pearson correlation and `note` in the
/// caption. Both are `[S, S]` with the impurity at `(S/2, S/2)`; `pixel_size_m` (NaN when
/// unknown) sets the scale bars.
pub fn write_comparison_png(
    path: &Path,
    truth: ArrayView2<f32>,
    found: ArrayView2<f32>,
    pixel_size_m: f64,
    note: &str,
) -> Result<()> {
    render_comparison(truth, found, pixel_size_m, note)?.save(path)
}

#[cfg(test)]
#[path = "extraction_tests.rs"]
mod tests;
