//! `qpik show`: pictures of dataset files and scans (Nanonis `.sxm`, Createc `.dat`); the
//! columns of a Nanonis point spectrum (`.dat`).

use super::*;
use crate::data::SPLIT_UNSEEN;
use crate::data::hdf5_io::DatasetReader;
use crate::picture::{Colormap, Panel, Scale, write_panels};
use crate::{Error, Result};
use ndarray::{Array2, Array3};
use std::path::{Path, PathBuf};

/// An image to draw in a dataset's picture.
struct ShownImage {
    pixels: Array2<f32>,
    title: String,
    /// Signed values (a kernel): diverging colours about zero; else viridis by percentile.
    signed: bool,
    /// Defect marks `(row, col)`.
    marks: Vec<(f32, f32)>,
}

pub(super) fn show(file: &Path, out: Option<PathBuf>, count: usize) -> Result<()> {
    let out = out.unwrap_or_else(|| file.with_extension("png"));
    // One output, written atomically by the picture writer: only the identity check here.
    crate::cli::outputs::Outputs::plan(&[file], &[&out])?;
    // A regular file first: a FIFO would block the sniffing read forever.
    let head = crate::data::checked_read::read_head(
        file,
        17,
        "dataset (.h5), Nanonis scan (.sxm) or spectrum (.dat), or Createc scan (.dat)",
    )?;
    if crate::data::sxm::looks_like_sxm(&head) {
        return show_sxm(file, out);
    }
    if crate::data::createc::looks_like_createc(&head) {
        return show_createc(file, out);
    }
    if crate::data::nanonis_dat::looks_like_nanonis_dat(&head) {
        return show_spectrum(file);
    }
    let reader = DatasetReader::open(file)?;
    let kt = reader.kernels();
    let k = kt.names.len().min(count);
    let mut owned: Vec<ShownImage> = Vec::new();
    for i in 0..k {
        let split = match kt.split[i] {
            SPLIT_UNSEEN => "unseen",
            _ => "train",
        };
        let title = format!("{} ({}-fold, {split})", kt.names[i], kt.symmetry[i]);
        owned.push(ShownImage {
            pixels: kt.kernels.index_axis(ndarray::Axis(0), i).to_owned(),
            title,
            signed: true,
            marks: vec![],
        });
    }
    let n = reader.len();
    let m = n.min(count);
    for j in 0..m {
        let idx = if m <= 1 { 0 } else { j * (n - 1) / (m - 1) };
        let t = reader.read_observations(idx..idx + 1)?;
        let marks = marks_of(&t.positions.index_axis(ndarray::Axis(0), 0));
        let ki = t.kernel_index[0] as usize;
        let title = format!(
            "obs {idx}: {} defects of {}",
            marks.len(),
            kt.names.get(ki).map_or("?", |s| s.as_str())
        );
        let img: Array3<f32> = t.observations;
        owned.push(ShownImage {
            pixels: img.index_axis(ndarray::Axis(0), 0).to_owned(),
            title,
            signed: false,
            marks,
        });
    }
    if owned.is_empty() {
        return Err(Error::format(
            file.display().to_string(),
            "the dataset holds no kernels or observations to show",
        ));
    }
    let panels: Vec<Panel> = owned
        .iter()
        .map(|shown| {
            if shown.signed {
                signed_panel(shown.pixels.view(), shown.title.clone())
            } else {
                Panel {
                    image: shown.pixels.view(),
                    title: shown.title.clone(),
                    colormap: Colormap::Viridis,
                    scale: Scale::Percentile(0.5),
                    marks: shown.marks.clone(),
                }
            }
        })
        .collect();
    let zoom = if owned[0].pixels.dim().0 <= 64 { 3 } else { 2 };
    write_panels(&out, &panels, count.clamp(1, 6), zoom)?;
    println!(
        "{}: {} kernels, {} observations; drew {} kernels and {} observations to {}",
        file.display(),
        kt.names.len(),
        n,
        k,
        m,
        out.display()
    );
    Ok(())
}

/// A scan's size: `W x H pixels over X x Y nm (x x y Angstrom per pixel)`.
fn geometry(shape: (usize, usize), range_m: (f64, f64), pixel_m: (f64, f64)) -> String {
    format!(
        "{} x {} pixels over {:.1} x {:.1} nm ({:.3} x {:.3} Angstrom per pixel)",
        shape.1,
        shape.0,
        range_m.0 * 1e9,
        range_m.1 * 1e9,
        pixel_m.0 * 1e10,
        pixel_m.1 * 1e10
    )
}

/// Draws every image of a Nanonis scan, topography line-levelled.
pub(super) fn show_sxm(file: &Path, out: PathBuf) -> Result<()> {
    let scan = crate::data::sxm::read_sxm(file)?;
    let out = draw_images(out, &scan.images, scan.shape)?;
    println!(
        "{}: Nanonis scan, {}, frame turned {} degrees clockwise (shown as scanned), bias {}; \
         {} images drawn to {}",
        file.display(),
        geometry(scan.shape, scan.range_m, scan.pixel_size_m()),
        scan.angle_deg,
        scan.bias_v.map_or("not given".into(), |b| format!("{b} V")),
        scan.images.len(),
        out.display()
    );
    Ok(())
}

/// Draws every frame of a Createc scan, topography line-levelled.
fn show_createc(file: &Path, out: PathBuf) -> Result<()> {
    let scan = crate::data::createc::read_createc(file, &crate::budget::MemoryBudget::default())?;
    let out = draw_images(out, &scan.images, scan.shape)?;
    let channels: Vec<String> = scan
        .images
        .iter()
        .map(|i| format!("{} {} ({})", i.name, i.direction.as_str(), i.unit))
        .collect();
    println!(
        "{}: Createc scan, {}, rotation {} degrees, bias {}; {}; channels {}; {} images drawn \
         to {}",
        file.display(),
        geometry(scan.shape, scan.range_m, scan.pixel_size_m()),
        scan.angle_deg,
        scan.bias_v.map_or("not given".into(), |b| format!("{b} V")),
        match scan.missing_lines {
            0 => "complete".to_string(),
            n => format!("aborted: the last {n} lines were not measured (NaN)"),
        },
        channels.join(", "),
        scan.images.len(),
        out.display()
    );
    Ok(())
}

/// Prints the header and the columns of a Nanonis point spectrum.
fn show_spectrum(file: &Path) -> Result<()> {
    let s = crate::data::nanonis_dat::read_nanonis_dat(file)?;
    println!(
        "{}: Nanonis spectrum ({}), {} points, tip at {}",
        file.display(),
        s.experiment,
        s.len(),
        s.position_m
            .map_or("an unknown position".into(), |(x, y)| format!(
                "x = {x:e} m, y = {y:e} m"
            ))
    );
    for c in &s.columns {
        let finite: Vec<f64> = c.values.iter().copied().filter(|v| v.is_finite()).collect();
        let (lo, hi) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        println!(
            "  {}: {} values from {lo:e} to {hi:e}{}",
            crate::data::nanonis_dat::column_title(&c.signal),
            finite.len(),
            if finite.len() < c.values.len() {
                format!(" ({} NaN)", c.values.len() - finite.len())
            } else {
                String::new()
            }
        );
    }
    match s.energies_ev() {
        Ok(e) if !e.is_empty() => println!(
            "  energies E = eV: {} values from {:.4} to {:.4} eV",
            e.len(),
            e[0],
            e[e.len() - 1]
        ),
        _ => println!("  no bias column in volts: energies unknown"),
    }
    Ok(())
}

/// Draws `images` (topography line-levelled) to `out`.
fn draw_images(
    out: PathBuf,
    images: &[crate::data::sxm::SxmImage],
    shape: (usize, usize),
) -> Result<PathBuf> {
    let mut owned: Vec<(Array2<f32>, String)> = Vec::new();
    for im in images {
        let mut data = im.data.clone();
        let mut title = format!("{} {} ({})", im.name, im.direction.as_str(), im.unit);
        if im.unit == "m" {
            crate::picture::level_lines(&mut data);
            title.push_str(", line-levelled");
        }
        owned.push((data, title));
    }
    let panels: Vec<Panel> = owned
        .iter()
        .map(|(img, title)| Panel {
            image: img.view(),
            title: title.clone(),
            colormap: Colormap::Viridis,
            scale: Scale::Percentile(0.5),
            marks: vec![],
        })
        .collect();
    let zoom = if shape.0.max(shape.1) <= 128 { 2 } else { 1 };
    write_panels(&out, &panels, 2, zoom)?;
    Ok(out)
}
