//! `qpik extract` with the map engine: load any map, find its defects, extract, write the
//! result file and pictures, and say whether to trust it.

use crate::cli::outputs::Outputs;
use crate::cli::progress::Bars;
use crate::cli::{BackgroundArg, DirectionArg, ExtractArgs};
use crate::data::extraction_file::write_extraction;
use crate::data::map_data::MapData;
use crate::data::map_file::{LoadedMap, MapSource, load_channel_within, load_map};
use crate::data::provenance::Provenance;
use crate::data::sxm::Direction;
use crate::extract::defects::{
    Polarity, TopographySettings, find_defects, positions_from_mask, positions_of, read_positions,
};
use crate::extract::map::{
    Background, Extraction, MapSettings, SymmetryChoice, TRUSTED_HELDOUT_R2, TypeCount, Weight,
    extract_kernels,
};
use crate::picture::{write_extraction_png, write_extraction_sheet};
use crate::units::{LengthUnit, pixel_size_m};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn direction(d: DirectionArg) -> Direction {
    match d {
        DirectionArg::Forward => Direction::Forward,
        DirectionArg::Backward => Direction::Backward,
    }
}

/// `auto`, `none`, a rotation order or a group with mirrors.
pub(super) fn parse_symmetry(text: &str) -> Result<SymmetryChoice> {
    SymmetryChoice::parse(text).map_err(|e| Error::invalid(format!("--{e}")))
}

/// `auto` or a weight, for `--smoothness` and `--decay`.
fn parse_weight(flag: &str, text: &str) -> Result<Weight> {
    match text.trim() {
        "auto" => Ok(Weight::Auto),
        t => t
            .parse::<f64>()
            .map(Weight::Fixed)
            .map_err(|_| Error::invalid(format!("--{flag} {text:?}: use auto or a number"))),
    }
}

/// The engine's settings from the command line (checked by the engine).
pub(super) fn settings_of(a: &ExtractArgs) -> Result<MapSettings> {
    Ok(MapSettings {
        kernel_size: a.kernel_size,
        symmetry: parse_symmetry(&a.symmetry)?,
        smoothness: parse_weight("smoothness", &a.smoothness)?,
        decay: parse_weight("decay", &a.decay)?,
        background: match a.background {
            BackgroundArg::Constant => Background::Constant,
            BackgroundArg::Plane => Background::Plane,
            BackgroundArg::PlaneAndLines => Background::PlaneAndLines,
        },
        bootstrap: a.bootstrap,
        refine_positions_px: a.refine_positions,
        seed: a.seed,
        blind: a.blind || a.method == Some(crate::cli::MethodArg::Blind),
        types: match a.types.trim().to_ascii_lowercase().as_str() {
            "auto" => TypeCount::Auto,
            t => TypeCount::Fixed(t.parse().map_err(|_| {
                Error::invalid(format!("--types {:?}: use auto or 1 to 8", a.types))
            })?),
        },
        detection_sigma: a.detection_sigma,
        memory_budget_bytes: a.memory_budget,
        ..MapSettings::default()
    })
}

/// Where the defects came from, and their positions.
fn defect_positions(a: &ExtractArgs, loaded: &LoadedMap) -> Result<(Vec<[f64; 2]>, String)> {
    let (_, h, w) = loaded.map.data.dim();
    if let Some(path) = &a.mask {
        let mask = crate::data::npy::read_f32(path)?;
        if mask.dim() != (h, w) {
            return Err(Error::invalid(format!(
                "the mask {} is {} x {} but the map is {h} x {w}",
                path.display(),
                mask.dim().0,
                mask.dim().1
            )));
        }
        return Ok((
            positions_from_mask(mask.view())?,
            format!("mask {}", path.display()),
        ));
    }
    if let Some(path) = &a.positions {
        return Ok((
            read_positions(path)?,
            format!("positions {}", path.display()),
        ));
    }
    if let Some(channel) = &a.defects_from {
        let budget = crate::budget::MemoryBudget::new(a.memory_budget)?;
        let z = load_channel_within(&a.input, channel, direction(a.direction), &budget)?;
        let layer = z.data.index_axis(ndarray::Axis(0), 0);
        if layer.dim() != (h, w) {
            return Err(Error::invalid(format!(
                "channel {channel} is {:?} but the map is {h} x {w}",
                layer.dim()
            )));
        }
        let mut settings = if loaded.map.pixel_size_m.is_finite() {
            TopographySettings::for_pixel_size(loaded.map.pixel_size_m * 1e10)?
        } else {
            TopographySettings::default()
        };
        settings.polarity = if a.dark_defects {
            Polarity::Dark
        } else {
            Polarity::Bright
        };
        let found = find_defects(layer, &settings)?;
        return Ok((
            positions_of(&found),
            format!("channel {channel} ({} defects found)", found.len()),
        ));
    }
    // A dataset's mask, unless the search is blind (masks ignored).
    if let Some(mask) = loaded.mask.as_ref().filter(|_| !a.blind) {
        return Ok((
            positions_from_mask(mask.view())?,
            "the dataset's mask".into(),
        ));
    }
    Ok((Vec::new(), "found blind in the map".into()))
}

/// What `qpik extract --json` prints.
#[derive(Serialize)]
struct Report<'a> {
    input: String,
    output: String,
    pictures: Vec<String>,
    method: &'a str,
    defects_from: String,
    defects: usize,
    /// Kernel types T and the defects of each.
    types: usize,
    defects_per_type: Vec<usize>,
    kernel_size: usize,
    energies: usize,
    map_shape: [usize; 2],
    heldout_r2: &'a [f64],
    fit_r2: &'a [f64],
    symmetry: String,
    /// Mirror line of each type's kernel in degrees (null: no mirrors).
    mirror_axis_deg: Vec<Option<f64>>,
    smoothness: &'a [f64],
    decay: &'a [f64],
    pixel_size_m: Option<f64>,
    value_unit: &'a str,
    /// Pixels left out as unexplained (outliers, aborted lines, saturation, glitches).
    excluded_pixels: usize,
    /// What was chosen automatically and why, and what was left out.
    notes: &'a str,
    /// A blind result's structureless control (Gaussian blobs scored as `heldout_r2`);
    /// null when none was scored.
    control_heldout_r2: Option<f64>,
    seconds: f64,
    /// The qpik version that made the result.
    qpik_version: &'a str,
    /// SHA-256 of the input file.
    input_sha256: &'a str,
}

/// What `-o` holds: the qpik-extraction HDF5 file, or the kernels alone as .npy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResultFormat {
    Hdf5,
    Npy,
}

/// The format `-o` asks for, refused before any work when it cannot hold the result (a .npy
/// holds one kernel type: not a search that may find several).
fn result_format(
    out: &Path,
    settings: &MapSettings,
    known: bool,
    dataset: bool,
) -> Result<ResultFormat> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("h5") | Some("hdf5") => Ok(ResultFormat::Hdf5),
        Some("npy") => {
            let blind = settings.blind || !(known || dataset);
            let several = blind && (known || !matches!(settings.types, TypeCount::Fixed(1)));
            if several {
                return Err(Error::invalid(format!(
                    "{}: a blind search of --types {} may find several kernel types, which do not fit a .npy of at most 3 dimensions: write .h5",
                    out.display(),
                    match settings.types {
                        TypeCount::Fixed(t) => (t + usize::from(known)).to_string(),
                        TypeCount::Auto => "auto".into(),
                    }
                )));
            }
            Ok(ResultFormat::Npy)
        }
        _ => Err(Error::invalid(format!(
            "{}: write the result as .h5 (everything) or .npy (the kernels alone)",
            out.display()
        ))),
    }
}

/// Write the result in `format` to `path`.
fn write_result(path: &Path, format: ResultFormat, ex: &Extraction) -> Result<()> {
    match format {
        ResultFormat::Hdf5 => write_extraction(path, ex),
        ResultFormat::Npy => {
            let (t, e, s, _) = ex.kernels.dim();
            let view = ex.kernels.view().into_dyn();
            let squeezed = match (t, e) {
                (1, 1) => view.into_shape_with_order(vec![s, s]),
                (1, _) => view.into_shape_with_order(vec![e, s, s]),
                _ => {
                    return Err(Error::invalid(
                        "several kernel types do not fit a .npy of at most 3 dimensions: write .h5",
                    ));
                }
            }
            .map_err(|e| Error::invalid(format!("kernel array: {e}")))?;
            crate::data::npy::write_npy_f32(path, squeezed, false)
        }
    }
}

pub(super) fn extract_forward(a: &ExtractArgs) -> Result<()> {
    let t0 = Instant::now();
    let png = a.png.clone().unwrap_or_else(|| a.out.with_extension("png"));
    let sheet = sheet_path(&png);
    let inputs: Vec<&Path> = [Some(&a.input), a.mask.as_ref(), a.positions.as_ref()]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    let mut outputs = Outputs::plan(&inputs, &[&a.out, &png, &sheet])?;
    let settings = settings_of(a)?;
    // A dataset's own mask gives known positions unless the search is blind.
    let dataset = !settings.blind
        && a.input
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("h5") || e.eq_ignore_ascii_case("hdf5"));
    let known = a.mask.is_some() || a.positions.is_some() || a.defects_from.is_some();
    let format = result_format(&a.out, &settings, known, dataset)?;
    let source = MapSource {
        channel: a.channel.clone(),
        direction: direction(a.direction),
        index: a.index,
        memory_budget: crate::budget::MemoryBudget::new(a.memory_budget)?,
    };
    let mut loaded = load_map(&a.input, &source)?;
    if let Some(p) = a.pixel_size_m {
        loaded.map.pixel_size_m = pixel_size_m(p, LengthUnit::Metre)
            .map_err(|e| Error::invalid(format!("--pixel-size-m: {}", e.message())))?;
    }
    // Checksummed before the work, so an unreadable input costs no extraction.
    let provenance = Provenance::of_file(&a.input)?;
    let (positions, from) = defect_positions(a, &loaded)?;
    let map: &MapData = &loaded.map;
    let mut ex = extract_kernels(map, &positions, &settings, &Bars::default())?;
    ex.provenance = provenance;
    write_result(&outputs.stage(&a.out)?, format, &ex)?;
    write_extraction_png(&outputs.stage(&png)?, map, &ex, 0)?;
    let mut pictures = vec![png.display().to_string()];
    if ex.energies_ev.len() > 1 {
        write_extraction_sheet(&outputs.stage(&sheet)?, &ex)?;
        pictures.push(sheet.display().to_string());
    }
    outputs.commit()?;
    let (e, h, w) = ex.map_shape();
    let report = Report {
        input: a.input.display().to_string(),
        output: a.out.display().to_string(),
        pictures,
        method: &ex.method,
        defects_from: from,
        defects: ex.positions.len(),
        types: ex.type_count(),
        defects_per_type: (0..ex.type_count())
            .map(|t| ex.types.iter().filter(|&&k| usize::from(k) == t).count())
            .collect(),
        kernel_size: ex.kernel_size(),
        energies: e,
        map_shape: [h, w],
        heldout_r2: &ex.heldout_r2,
        fit_r2: &ex.fit_r2,
        symmetry: ex.symmetry_name(),
        qpik_version: &ex.provenance.qpik_version,
        input_sha256: &ex.provenance.input_sha256,
        mirror_axis_deg: ex
            .mirror_axis_deg
            .iter()
            .map(|a| a.is_finite().then_some(*a))
            .collect(),
        smoothness: &ex.smoothness,
        decay: &ex.decay,
        pixel_size_m: ex.pixel_size_m.is_finite().then_some(ex.pixel_size_m),
        value_unit: &ex.value_unit,
        excluded_pixels: ex.excluded_pixels(),
        notes: &ex.notes,
        control_heldout_r2: ex
            .control_heldout_r2
            .is_finite()
            .then_some(ex.control_heldout_r2),
        seconds: t0.elapsed().as_secs_f64(),
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&report).unwrap_or_else(|_| "null".into())
        );
    } else {
        summarise(&report, &ex);
    }
    Ok(())
}

fn sheet_path(png: &Path) -> PathBuf {
    let stem = png
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    png.with_file_name(format!("{stem}-sheet.png"))
}

fn summarise(r: &Report, ex: &Extraction) {
    let s = r.kernel_size;
    let size = match r.pixel_size_m {
        Some(p) => format!(" ({:.2} nm)", s as f64 * p * 1e9),
        None => String::new(),
    };
    println!(
        "{} x {} map, {} energ{}; {} defects ({}){}; kernel {s} x {s} px{size}, symmetry {}",
        r.map_shape[0],
        r.map_shape[1],
        r.energies,
        if r.energies == 1 { "y" } else { "ies" },
        r.defects,
        r.defects_from,
        if r.types > 1 {
            format!(", {} types of {:?} defects", r.types, r.defects_per_type)
        } else {
            String::new()
        },
        match r.mirror_axis_deg.first() {
            Some(Some(a)) => format!("{} (mirror line at {a:.1} degrees)", r.symmetry),
            _ => r.symmetry.clone(),
        }
    );
    if !r.notes.is_empty() {
        println!("{} (left out: {} px)", r.notes, r.excluded_pixels);
    }
    let mean = ex.heldout_r2_mean();
    let control = r
        .control_heldout_r2
        .map(|c| format!(", structureless blobs {c:.3}"))
        .unwrap_or_default();
    println!(
        "held-out R^2 {mean:.3} (fit {:.3}{control}); result {}; pictures {}; {:.2} s",
        ex.fit_r2.iter().sum::<f64>() / ex.fit_r2.len().max(1) as f64,
        r.output,
        r.pictures.join(", "),
        r.seconds
    );
    if ex.explains_little() {
        eprintln!(
            "warning: the kernel explains little of the map (held-out R^2 {mean:.3} < {TRUSTED_HELDOUT_R2}): \
             the defect positions may be wrong or the map's scatterers may be elsewhere"
        );
    } else if let Some(c) = r.control_heldout_r2.filter(|c| mean <= *c) {
        eprintln!(
            "warning: the kernel does no better than structureless blobs on as many defects \
             (held-out R^2 {mean:.3} against {c:.3}): it shows nothing beyond a bump"
        );
    }
}
