//! One loader for every map file qpik reads: a Nanonis scan (`.sxm`), a Nanonis grid (`.3ds`),
//! a Createc scan (`.dat`), a NumPy array (`.npy`) or an observation of a qpik dataset (`.h5`).
//!
//! The format is told by the file's first bytes, whatever its name: `:NANONIS_VERSION:` (scan),
//! a `Grid dim=` header line (grid), `[Paramco32]` or `[Paramet32]` (Createc), `\x93NUMPY`, or
//! the HDF5 signature (at byte 0 or after a 512, 1024, 2048 or 4096-byte user block). Every
//! size a header declares is checked against [`MapSource::memory_budget`] before allocating.
//!
//! What each gives as a [`MapData`] (`[E, H, W]`, row 0 at the top of the frame):
//! - `.sxm` and Createc `.dat`: one image, E = 1, in the channel's unit; the energy `e * bias`
//!   in eV (NaN when the header has no bias); the pixel size from the scan frame. Lines an
//!   aborted Createc scan did not reach are NaN ([`super::createc`]).
//! - `.3ds`: the channel's spectrum at every point, E = sweep points; energies from the sweep
//!   ([`super::nanonis3ds`], NaN unless a bias in volts was swept).
//! - `.npy`: a 2-D `[H, W]` image (E = 1) or a 3-D `[E, H, W]` stack; pixel size, unit and
//!   energies unknown (NaN, `""`).
//! - qpik dataset: observation `index`, with its defect mask and positions (pixels, `(row,
//!   col)`), the dataset's pixel size; unit `""` (the simulation's own), energy NaN.
//!
//! Default channel of a Nanonis file: the first lock-in channel (name starting `LIY` or
//! `LI_Demod`/`LI Demod`, or containing `dIdV`, any case) in the chosen direction, else the first
//! channel; of a Createc file the first `ADC` channel (where a lock-in is recorded), else the
//! first. Pixels must be square to within 1% (the map engine assumes square pixels); a scan
//! or grid whose frame gives other pixels is refused with both sizes named.

use std::path::Path;

use ndarray::Array2;

use super::createc::{self, CreatecFile};
use super::map_data::MapData;
use super::nanonis3ds::{self, Grid3ds, same_name};
use super::sxm::{self, Direction, SxmFile, SxmImage};
use super::{checked_read, hdf5_io::DatasetReader, npy};
use crate::budget::MemoryBudget;
use crate::{Error, Result};

/// Largest `.sxm` file read (bytes).
pub const MAX_SXM_BYTES: u64 = 4 << 30;
/// Largest relative difference of x and y pixel size accepted as square.
pub const SQUARE_TOLERANCE: f64 = 0.01;

/// Which map of a file to load.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSource {
    /// Channel of a Nanonis file (case-insensitive, spaces and underscores alike); `None`: the
    /// default lock-in channel. Not accepted for `.npy` and datasets.
    pub channel: Option<String>,
    /// Scan direction of a Nanonis file (a grid's backward sweep is the `[bwd]` channel).
    /// Only `Forward` for `.npy` and datasets.
    pub direction: Direction,
    /// Observation of a qpik dataset; required when it holds more than one. Not accepted for
    /// other formats.
    pub index: Option<usize>,
    /// Memory the loaded map may take: sizes from headers are checked against it before
    /// anything is allocated (`--memory-budget` in the CLI).
    pub memory_budget: MemoryBudget,
}

impl Default for MapSource {
    fn default() -> Self {
        MapSource {
            channel: None,
            direction: Direction::Forward,
            index: None,
            memory_budget: MemoryBudget::default(),
        }
    }
}

/// A map and what the file knows about its defects.
#[derive(Clone, Debug)]
pub struct LoadedMap {
    pub map: MapData,
    /// `[H, W]` defect mask (1 at the pixel nearest each defect): qpik datasets only.
    pub mask: Option<Array2<u8>>,
    /// Defect positions `(row, col)` in pixels: qpik datasets only.
    pub positions: Option<Vec<[f64; 2]>>,
}

/// The formats [`load_map`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFormat {
    Sxm,
    Grid3ds,
    Createc,
    Npy,
    Dataset,
}

/// Bytes read to tell the format.
const SNIFF_BYTES: usize = 8192;
const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";

/// The format of `path`, from its first bytes (a regular file is required).
pub fn detect_format(path: &Path) -> Result<MapFormat> {
    let head = checked_read::read_head(path, SNIFF_BYTES, "map file")?;
    let hdf5_at = |at: usize| head.get(at..at + 8) == Some(HDF5_SIGNATURE);
    if sxm::looks_like_sxm(&head) {
        Ok(MapFormat::Sxm)
    } else if createc::looks_like_createc(&head) {
        Ok(MapFormat::Createc)
    } else if head.starts_with(b"\x93NUMPY") {
        Ok(MapFormat::Npy)
    } else if [0, 512, 1024, 2048, 4096].into_iter().any(hdf5_at) {
        Ok(MapFormat::Dataset)
    } else if nanonis3ds::looks_like_3ds(&head) {
        Ok(MapFormat::Grid3ds)
    } else if super::nanonis_dat::looks_like_nanonis_dat(&head) {
        Err(Error::format(
            path.display().to_string(),
            "a Nanonis point spectrum (one tip position), not a map; `qpik show` prints its \
             columns and energies",
        ))
    } else {
        let start = String::from_utf8_lossy(&head[..head.len().min(16)]).into_owned();
        Err(Error::format(
            path.display().to_string(),
            format!(
                "not a map file qpik reads (it starts {start:?}); give a Nanonis .sxm or .3ds \
                 file, a Createc .dat scan, a .npy array or a qpik dataset .h5"
            ),
        ))
    }
}

/// Loads the map `source` selects from `path`, whatever its format (see the module doc).
pub fn load_map(path: &Path, source: &MapSource) -> Result<LoadedMap> {
    let format = detect_format(path)?;
    let show = path.display().to_string();
    let refuse =
        |what: &str, why: &str| Error::invalid(format!("{show}: {what} does not apply: {why}"));
    let one_map = |format: &str| -> Result<()> {
        if source.channel.is_some() {
            return Err(refuse("a channel", &format!("{format} holds a single map")));
        }
        if source.direction != Direction::Forward {
            return Err(refuse(
                "the backward direction",
                &format!("{format} holds a single map"),
            ));
        }
        Ok(())
    };
    if source.index.is_some() && format != MapFormat::Dataset {
        return Err(refuse(
            "an observation index",
            "only a qpik dataset holds several observations",
        ));
    }
    let plain = |map: MapData| LoadedMap {
        map,
        mask: None,
        positions: None,
    };
    match format {
        MapFormat::Sxm => {
            let scan = read_scan(path)?;
            sxm_map(&scan, &show, source.channel.as_deref(), source.direction).map(plain)
        }
        MapFormat::Createc => {
            let scan = createc::read_createc(path, &source.memory_budget)?;
            createc_map(&scan, &show, source.channel.as_deref(), source.direction).map(plain)
        }
        MapFormat::Grid3ds => {
            let grid = nanonis3ds::read_3ds_within(path, &source.memory_budget)?;
            grid_map(&grid, &show, source.channel.as_deref(), source.direction).map(plain)
        }
        MapFormat::Npy => {
            one_map("a .npy file")?;
            let data = npy::read_stack_f32(path)?;
            let e = data.dim().0;
            Ok(plain(MapData {
                data,
                pixel_size_m: f64::NAN,
                value_unit: String::new(),
                energies_ev: vec![f64::NAN; e],
                source: show,
            }))
        }
        MapFormat::Dataset => {
            one_map("a qpik dataset")?;
            dataset_map(path, source.index)
        }
    }
}

/// Channel `name` of the same Nanonis file, in `direction` (e.g. the topography `Z` next to a
/// dI/dV map, to find defects on); for a grid, a channel or, failing that, a per-point
/// parameter such as `Z` (E = 1).
pub fn load_channel(path: &Path, name: &str, direction: Direction) -> Result<MapData> {
    load_channel_within(path, name, direction, &MemoryBudget::default())
}

/// [`load_channel`] with the sizes from the header checked against `budget`.
pub fn load_channel_within(
    path: &Path,
    name: &str,
    direction: Direction,
    budget: &MemoryBudget,
) -> Result<MapData> {
    let show = path.display().to_string();
    match detect_format(path)? {
        MapFormat::Sxm => sxm_map(&read_scan(path)?, &show, Some(name), direction),
        MapFormat::Createc => createc_map(
            &createc::read_createc(path, budget)?,
            &show,
            Some(name),
            direction,
        ),
        MapFormat::Grid3ds => {
            let grid = nanonis3ds::read_3ds_within(path, budget)?;
            let is_parameter = grid.parameters.iter().any(|p| same_name(&p.name, name));
            if grid.channel_index(name).is_none() && is_parameter {
                grid_parameter_map(&grid, &show, name, direction)
            } else {
                grid_map(&grid, &show, Some(name), direction)
            }
        }
        MapFormat::Npy | MapFormat::Dataset => Err(Error::invalid(format!(
            "{show}: holds a single map without named channels; channel {name:?} can only \
             come from a Nanonis .sxm or .3ds file or a Createc .dat scan"
        ))),
    }
}

fn read_scan(path: &Path) -> Result<SxmFile> {
    let bytes = checked_read::read_regular_file(path, MAX_SXM_BYTES, "Nanonis .sxm file")?;
    sxm::parse_sxm(&bytes, &path.display().to_string())
}

/// Whether `name` is a lock-in (dI/dV) channel.
fn is_lockin(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(' ', "_");
    n.starts_with("liy") || n.starts_with("li_demod") || n.contains("didv")
}

/// The common pixel size of `(x, y)`, or an error when they differ by more than 1%.
fn square_pixel(show: &str, (x, y): (f64, f64)) -> Result<f64> {
    if (x - y).abs() > SQUARE_TOLERANCE * x.abs().max(y.abs()) {
        return Err(Error::format(
            show,
            format!(
                "the pixels are {x:e} m wide and {y:e} m high; the map engine needs square \
                 pixels (within 1%): resample the map to square pixels first"
            ),
        ));
    }
    Ok((x + y) / 2.0)
}

fn sxm_map(
    scan: &SxmFile,
    show: &str,
    channel: Option<&str>,
    direction: Direction,
) -> Result<MapData> {
    let frame = ScanFrame {
        images: &scan.images,
        pixel_size_m: scan.pixel_size_m(),
        bias_v: scan.bias_v,
        what: "scan",
    };
    image_map(&frame, show, channel, direction, is_lockin)
}

fn createc_map(
    scan: &CreatecFile,
    show: &str,
    channel: Option<&str>,
    direction: Direction,
) -> Result<MapData> {
    let frame = ScanFrame {
        images: &scan.images,
        pixel_size_m: scan.pixel_size_m(),
        bias_v: scan.bias_v,
        what: "Createc scan",
    };
    // A lock-in's output is recorded on an ADC input.
    let mut map = image_map(&frame, show, channel, direction, |n| {
        n.starts_with("ADC") || is_lockin(n)
    })?;
    if scan.missing_lines > 0 {
        map.source += &format!(
            ", aborted: the last {} of {} lines not measured (NaN)",
            scan.missing_lines, scan.shape.0
        );
    }
    Ok(map)
}

/// The images of a scan file and what a map needs from its header.
struct ScanFrame<'a> {
    images: &'a [SxmImage],
    pixel_size_m: (f64, f64),
    bias_v: Option<f64>,
    what: &'a str,
}

/// The image `channel` (or the first whose name `is_default`, else the first) in `direction`.
fn image_map(
    scan: &ScanFrame,
    show: &str,
    channel: Option<&str>,
    direction: Direction,
    is_default: impl Fn(&str) -> bool,
) -> Result<MapData> {
    let in_dir: Vec<&SxmImage> = scan
        .images
        .iter()
        .filter(|i| i.direction == direction)
        .collect();
    let image = match channel {
        Some(name) => in_dir.iter().find(|i| same_name(&i.name, name)).copied(),
        None => in_dir
            .iter()
            .find(|i| is_default(&i.name))
            .or(in_dir.first())
            .copied(),
    };
    let Some(image) = image else {
        let names: Vec<String> = scan
            .images
            .iter()
            .map(|i| format!("{} ({})", i.name, i.direction.as_str()))
            .collect();
        return Err(Error::invalid(format!(
            "{show}: no channel {:?} in the {} direction; the {} has {}",
            channel.unwrap_or("(any)"),
            direction.as_str(),
            scan.what,
            names.join(", ")
        )));
    };
    let pixel_size_m = square_pixel(show, scan.pixel_size_m)?;
    let (h, w) = image.data.dim();
    Ok(MapData {
        data: image
            .data
            .clone()
            .into_shape_with_order((1, h, w))
            .expect("same length"),
        pixel_size_m,
        value_unit: image.unit.clone(),
        energies_ev: vec![scan.bias_v.unwrap_or(f64::NAN)],
        source: format!("{show}: {} ({})", image.name, direction.as_str()),
    })
}

/// The name of the channel `channel` (or the default) in `direction` of a grid.
fn grid_channel_name(
    grid: &Grid3ds,
    show: &str,
    channel: Option<&str>,
    direction: Direction,
) -> Result<String> {
    const BWD: &str = " [bwd]";
    let is_bwd = |n: &str| n.to_ascii_lowercase().ends_with(BWD);
    let found = match (channel, direction) {
        (Some(name), Direction::Forward) => grid.channel_index(name),
        (Some(name), Direction::Backward) if is_bwd(name) => grid.channel_index(name),
        (Some(name), Direction::Backward) => grid.channel_index(&format!("{name}{BWD}")),
        (None, _) => {
            let wanted: Vec<usize> = (0..grid.channels.len())
                .filter(|&i| is_bwd(&grid.channels[i].name) == (direction == Direction::Backward))
                .collect();
            wanted
                .iter()
                .copied()
                .find(|&i| is_lockin(&grid.channels[i].name))
                .or(wanted.first().copied())
        }
    };
    found.map(|i| grid.channels[i].name.clone()).ok_or_else(|| {
        let names: Vec<&str> = grid.channels.iter().map(|c| c.name.as_str()).collect();
        Error::invalid(format!(
            "{show}: no channel {:?} in the {} direction (backward channels end in \
             \"[bwd]\"); the grid has {}",
            channel.unwrap_or("(any)"),
            direction.as_str(),
            names.join(", ")
        ))
    })
}

fn grid_map(
    grid: &Grid3ds,
    show: &str,
    channel: Option<&str>,
    direction: Direction,
) -> Result<MapData> {
    let name = grid_channel_name(grid, show, channel, direction)?;
    let k = grid.channel_index(&name).expect("found above");
    let pixel_size_m = square_pixel(show, grid.pixel_size_m())?;
    Ok(MapData {
        data: grid.channel(&name)?,
        pixel_size_m,
        value_unit: grid.channels[k].unit.clone(),
        energies_ev: grid.energies_ev(),
        source: if grid.unmeasured_points > 0 {
            format!(
                "{show}: {name}, aborted: {} of {} points not measured (NaN)",
                grid.unmeasured_points,
                grid.shape.0 * grid.shape.1
            )
        } else {
            format!("{show}: {name}")
        },
    })
}

/// A per-point parameter of a grid (`Z`: the topography at each point) as a single map.
fn grid_parameter_map(
    grid: &Grid3ds,
    show: &str,
    name: &str,
    direction: Direction,
) -> Result<MapData> {
    if direction != Direction::Forward {
        return Err(Error::invalid(format!(
            "{show}: parameter {name:?} is recorded once per point; it has no backward direction"
        )));
    }
    let p = grid
        .parameters
        .iter()
        .find(|p| same_name(&p.name, name))
        .expect("checked by the caller");
    let image = grid.parameter(name)?;
    let (h, w) = image.dim();
    Ok(MapData {
        data: image.into_shape_with_order((1, h, w)).expect("same length"),
        pixel_size_m: square_pixel(show, grid.pixel_size_m())?,
        value_unit: p.unit.clone(),
        energies_ev: vec![f64::NAN],
        source: format!("{show}: parameter {}", p.name),
    })
}

fn dataset_map(path: &Path, index: Option<usize>) -> Result<LoadedMap> {
    let show = path.display().to_string();
    let reader = DatasetReader::open(path)?;
    let n = reader.len();
    let i = match index {
        Some(i) if i < n => i,
        None if n == 1 => 0,
        Some(i) => {
            return Err(Error::invalid(format!(
                "{show}: observation {i} asked for; the dataset holds {n} (0 to {})",
                n.saturating_sub(1)
            )));
        }
        None => {
            return Err(Error::invalid(format!(
                "{show}: the dataset holds {n} observations; choose one with an index \
                 (0 to {})",
                n.saturating_sub(1)
            )));
        }
    };
    let table = reader.read_observations(i..i + 1)?;
    let (_, h, w) = table.observations.dim();
    let mask = table.masks.index_axis(ndarray::Axis(0), 0).to_owned();
    let positions: Vec<[f64; 2]> = table
        .positions
        .index_axis(ndarray::Axis(0), 0)
        .rows()
        .into_iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    // Kernels of differing pixel sizes leave the dataset's NaN: take this observation's kernel.
    let pixel_size_m = if reader.info().pixel_size_m.is_finite() {
        reader.info().pixel_size_m
    } else {
        let k = table.kernel_index[0] as usize;
        reader
            .kernels()
            .pixel_size_m
            .get(k)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(LoadedMap {
        map: MapData {
            data: table.observations,
            pixel_size_m,
            value_unit: String::new(),
            energies_ev: vec![f64::NAN],
            source: format!("{show}: observation {i} of {n} ({h}x{w})"),
        },
        mask: Some(mask),
        positions: Some(positions),
    })
}

#[cfg(test)]
#[path = "map_file_tests.rs"]
mod tests;
