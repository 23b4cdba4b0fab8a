//! Real-scan maps in a qpik dataset file, and back: the layout's own datasets hold the maps,
//! kernels and defects; the truth beyond them goes into the extra datasets listed in
//! [`crate::data::hdf5_io`] (`excluded`, `ring_period_m`, ...).
//!
//! | layout dataset | what a real-scan file puts there                                       |
//! |----------------|-------------------------------------------------------------------------|
//! | `observations` | map `i`                                                                 |
//! | `kernels`      | rows `2i` (adatom) and `2i + 1` (dark defect) of map `i`, zero-padded to the map's size, impurity at `(H/2, W/2)` |
//! | `kernel_names` | `real-scan-<i>-adatom-<surface>`, `real-scan-<i>-dark-<surface>`         |
//! | `kernel_symmetry` | 1 for isotropic kernels, 0 (unknown) otherwise                       |
//! | `kernel_pixel_size_m` | map `i`'s pixel size (maps differ: the root `pixel_size_m` is NaN when they do) |
//! | `positions`, `amplitudes`, `types` | the defects ([`RealScan::positions`], not displaced by a tip change) |
//! | `masks`        | 1 at the pixel nearest each defect                                      |
//! | `type_kernel_index` | `[2i, 2i + 1]`                                             |

use super::{RealScan, TipChange};
use crate::data::hdf5_io::{DatasetWriter, read_dataset, read_extra};
use crate::data::{Dataset, DatasetInfo, KernelTable, ObservationTable, SPLIT_TRAIN};
use crate::{Error, Result};
use ndarray::{Array2, Array3, Axis, s};
use std::path::Path;

/// Kernel table rows per map: adatom and dark defect.
const TYPES: usize = 2;

/// The maps as a dataset (the layout's datasets only).
pub fn real_scan_dataset(scans: &[RealScan], seed: u64, generator: String) -> Result<Dataset> {
    let Some(first) = scans.first() else {
        return Err(Error::invalid("no real-scan map to write"));
    };
    let (h, w) = first.map.dim();
    if let Some(i) = scans.iter().position(|s| s.map.dim() != (h, w)) {
        return Err(Error::invalid(format!(
            "real-scan map {i} is {:?}, the first {h}x{w}: one file holds maps of one size",
            scans[i].map.dim()
        )));
    }
    let n = scans.len();
    let mut kernels = Array3::<f32>::zeros((TYPES * n, h, w));
    let (mut names, mut symmetry, mut pixel) = (vec![], vec![], vec![]);
    for (i, sc) in scans.iter().enumerate() {
        for t in 0..TYPES {
            let k = &sc.kernels[t];
            let r = k.dim().0 / 2;
            if h / 2 < r || w / 2 < r || h / 2 + r >= h || w / 2 + r >= w {
                return Err(Error::invalid(format!(
                    "real-scan kernel of side {} does not fit a {h}x{w} map",
                    k.dim().0
                )));
            }
            kernels
                .slice_mut(s![
                    TYPES * i + t,
                    h / 2 - r..=h / 2 + r,
                    w / 2 - r..=w / 2 + r
                ])
                .assign(k);
            let kind = if t == 0 { "adatom" } else { "dark" };
            names.push(format!("real-scan-{i}-{kind}-{}", sc.surface));
            symmetry.push(u8::from(sc.isotropic));
            pixel.push(sc.pixel_size_m);
        }
    }
    let slots = scans.iter().map(|s| s.positions.len()).max().unwrap_or(0);
    let mut positions = Array3::<f32>::from_elem((n, slots, 2), f32::NAN);
    let mut amplitudes = Array2::<f32>::from_elem((n, slots), f32::NAN);
    let mut types = Array2::<u8>::zeros((n, slots));
    let mut masks = Array3::<u8>::zeros((n, h, w));
    let mut observations = Array3::<f32>::zeros((n, h, w));
    for (i, sc) in scans.iter().enumerate() {
        observations.index_axis_mut(Axis(0), i).assign(&sc.map);
        for (d, p) in sc.positions.iter().enumerate() {
            positions[[i, d, 0]] = p[0] as f32;
            positions[[i, d, 1]] = p[1] as f32;
            amplitudes[[i, d]] = sc.amplitudes[d];
            types[[i, d]] = sc.types[d];
            let (r, c) = (
                p[0].round().clamp(0.0, h as f64 - 1.0) as usize,
                p[1].round().clamp(0.0, w as f64 - 1.0) as usize,
            );
            masks[[i, r, c]] = 1;
        }
    }
    let same_pixel = pixel.iter().all(|&p| p == pixel[0]);
    Ok(Dataset {
        info: DatasetInfo {
            pixel_size_m: if same_pixel { pixel[0] } else { f64::NAN },
            seed,
            generator,
        },
        kernels: KernelTable {
            kernels,
            names,
            symmetry,
            split: vec![SPLIT_TRAIN; TYPES * n],
            pixel_size_m: pixel,
        },
        observations: ObservationTable {
            observations,
            masks,
            kernel_index: (0..n as u32).map(|i| TYPES as u32 * i).collect(),
            positions,
            amplitudes,
            types,
            type_kernels: Array2::from_shape_fn((n, TYPES), |(i, t)| (TYPES * i + t) as u32),
        },
    })
}

/// Writes `scans` (all of one size) with their truth to `path` (see the module docs).
pub fn write_real_scans(
    path: &Path,
    scans: &[RealScan],
    seed: u64,
    generator: String,
) -> Result<()> {
    let ds = real_scan_dataset(scans, seed, generator)?;
    let obs = &ds.observations;
    let (n, h, w) = obs.observations.dim();
    let slots = obs.positions.dim().1;
    let mut writer = DatasetWriter::create_typed(path, &ds.info, &ds.kernels, n, slots, TYPES)?;
    writer.write_block(0, obs)?;
    let excluded: Vec<u8> = scans
        .iter()
        .flat_map(|s| s.excluded.iter().copied())
        .collect();
    writer.write_extra("excluded", &[n, h, w], &excluded)?;
    let per_map = |f: &dyn Fn(&RealScan) -> f64| scans.iter().map(f).collect::<Vec<f64>>();
    writer.write_extra(
        "ring_period_m",
        &[n],
        &per_map(&|s| s.ring_period_m.unwrap_or(f64::NAN)),
    )?;
    writer.write_extra("core_height", &[n], &per_map(&|s| s.core_height))?;
    writer.write_extra(
        "saturation",
        &[n],
        &per_map(&|s| s.saturation.unwrap_or(f64::NAN)),
    )?;
    let core: Vec<f64> = scans
        .iter()
        .flat_map(|s| s.core_radius_px.iter().copied())
        .collect();
    writer.write_extra("core_radius_px", &[n, TYPES], &core)?;
    let radius: Vec<u32> = scans
        .iter()
        .flat_map(|s| s.kernels.iter().map(|k| (k.dim().0 / 2) as u32))
        .collect();
    writer.write_extra("kernel_radius_px", &[n, TYPES], &radius)?;
    let iso: Vec<u8> = scans.iter().map(|s| u8::from(s.isotropic)).collect();
    writer.write_extra("isotropic", &[n], &iso)?;
    let tip: Vec<f64> = scans
        .iter()
        .flat_map(|s| match s.tip_change {
            Some(t) => [
                t.row as f64,
                t.shift_px[0] as f64,
                t.shift_px[1] as f64,
                t.core_scale,
                t.ripple_scale,
            ],
            None => [f64::NAN, 0.0, 0.0, 1.0, 1.0],
        })
        .collect();
    writer.write_extra("tip_change", &[n, 5], &tip)?;
    let zero: Vec<u32> = scans.iter().map(|s| s.zero_lines as u32).collect();
    writer.write_extra("zero_lines", &[n], &zero)?;
    writer.finish()
}

/// Extra dataset `name` of a real-scan file, as a flat vector of at least `len` values.
fn extra<T: hdf5::H5Type + Copy>(path: &Path, name: &str, len: usize) -> Result<Vec<T>> {
    let a = read_extra::<T>(path, name)?.ok_or_else(|| {
        Error::format(
            path.display().to_string(),
            format!(
                "no '{name}' dataset: not a real-scan file (qpik simulate ... --preset real-scan)"
            ),
        )
    })?;
    let v: Vec<T> = a.iter().copied().collect();
    if v.len() < len {
        return Err(Error::format(
            path.display().to_string(),
            format!("dataset '{name}' holds {} values, expected {len}", v.len()),
        ));
    }
    Ok(v)
}

/// Map `index` of a real-scan file with its truth. Dimers are not stored (`dimers` is
/// empty).
pub fn read_real_scan(path: &Path, index: usize) -> Result<RealScan> {
    let ds = read_dataset(path)?;
    let obs = &ds.observations;
    let (n, h, w) = obs.observations.dim();
    if index >= n {
        return Err(Error::invalid(format!(
            "{}: map {index} asked for, the file holds {n}",
            path.display()
        )));
    }
    if ds.kernels.names.len() != TYPES * n || obs.type_kernels.dim().1 != TYPES {
        return Err(Error::format(
            path.display().to_string(),
            "the kernel table is not that of a real-scan file (two kernels per map)",
        ));
    }
    let excluded = extra::<u8>(path, "excluded", n * h * w)?;
    let ring = extra::<f64>(path, "ring_period_m", n)?[index];
    let core_height = extra::<f64>(path, "core_height", n)?[index];
    let saturation = extra::<f64>(path, "saturation", n)?[index];
    let core = extra::<f64>(path, "core_radius_px", TYPES * n)?;
    let radius = extra::<u32>(path, "kernel_radius_px", TYPES * n)?;
    let iso = extra::<u8>(path, "isotropic", n)?[index];
    let tip = extra::<f64>(path, "tip_change", 5 * n)?;
    let zero = extra::<u32>(path, "zero_lines", n)?[index];
    let mut kernels = Vec::with_capacity(TYPES);
    for t in 0..TYPES {
        let r = radius[TYPES * index + t] as usize;
        if h / 2 < r || w / 2 < r || h / 2 + r >= h || w / 2 + r >= w {
            return Err(Error::format(
                path.display().to_string(),
                format!("kernel radius {r} does not fit the {h}x{w} kernels"),
            ));
        }
        kernels.push(
            ds.kernels
                .kernels
                .slice(s![
                    TYPES * index + t,
                    h / 2 - r..=h / 2 + r,
                    w / 2 - r..=w / 2 + r
                ])
                .to_owned(),
        );
    }
    let (mut positions, mut types, mut amplitudes) = (vec![], vec![], vec![]);
    for d in 0..obs.positions.dim().1 {
        let p = [obs.positions[[index, d, 0]], obs.positions[[index, d, 1]]];
        if p[0].is_finite() {
            positions.push([p[0] as f64, p[1] as f64]);
            types.push(obs.types[[index, d]]);
            amplitudes.push(obs.amplitudes[[index, d]]);
        }
    }
    let t = &tip[5 * index..5 * index + 5];
    let name = &ds.kernels.names[TYPES * index];
    Ok(RealScan {
        map: obs.observations.index_axis(Axis(0), index).to_owned(),
        pixel_size_m: ds.kernels.pixel_size_m[TYPES * index],
        positions,
        types,
        amplitudes,
        kernels,
        core_radius_px: core[TYPES * index..TYPES * index + TYPES].to_vec(),
        excluded: Array2::from_shape_vec(
            (h, w),
            excluded[index * h * w..(index + 1) * h * w].to_vec(),
        )
        .expect("shape"),
        ring_period_m: ring.is_finite().then_some(ring),
        isotropic: iso == 1,
        core_height,
        surface: name
            .split_once("-adatom-")
            .map_or(String::new(), |(_, s)| s.to_string()),
        tip_change: t[0].is_finite().then(|| TipChange {
            row: t[0] as usize,
            shift_px: [t[1] as i32, t[2] as i32],
            core_scale: t[3],
            ripple_scale: t[4],
        }),
        saturation: saturation.is_finite().then_some(saturation),
        zero_lines: zero as usize,
        dimers: Vec::new(),
    })
}
