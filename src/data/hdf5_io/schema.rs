//! Schema checks: what a qpik dataset file must hold (attributes, dataset types, ranks and
//! kernel-table consistency), checked when a file is opened, and the kernel table checked
//! before it is written. Errors name the file and the attribute or dataset at fault.

use std::io::Read;
use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::{Array3, Ix3};

use super::layout::{F32, F64, HDF5_SIGNATURE, U8, h5_error, show, type_name};
use crate::data::{KernelTable, SPLIT_TRAIN, SPLIT_UNSEEN};
use crate::{Error, Result};

pub(super) fn validate_kernels(k: &KernelTable) -> Result<()> {
    let (n, h, w) = k.kernels.dim();
    let lens = [
        ("names", k.names.len()),
        ("symmetry", k.symmetry.len()),
        ("split", k.split.len()),
        ("pixel_size_m", k.pixel_size_m.len()),
    ];
    for (what, len) in lens {
        if len != n {
            return Err(Error::invalid(format!(
                "kernel table has {n} kernels but {len} {what}"
            )));
        }
    }
    if h == 0 || w == 0 {
        return Err(Error::invalid(format!("kernel images are {h}x{w}")));
    }
    if let Some(bad) = k
        .split
        .iter()
        .find(|&&v| v != SPLIT_TRAIN && v != SPLIT_UNSEEN)
    {
        return Err(Error::invalid(format!(
            "kernel split code {bad} (expected 0 or 1)"
        )));
    }
    if let Some((i, v)) = k.kernels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "kernel {} holds {v} at pixel {}; kernels must be finite",
            i / (h * w),
            i % (h * w)
        )));
    }
    if let Some(name) = k.names.iter().find(|n| n.contains('\0')) {
        return Err(Error::invalid(format!(
            "kernel name {name:?} contains a NUL character"
        )));
    }
    Ok(())
}

/// Opens the file, telling a foreign file from a damaged HDF5 file.
pub(super) fn open_file(path: &Path) -> Result<hdf5::File> {
    // A regular file (a FIFO would block libhdf5's open); no size limit: reads are bounded
    // by the reader's own checks of the declared shapes.
    crate::data::checked_read::check_regular_file(path, u64::MAX, "qpik dataset file (.h5)")?;
    hdf5::File::open(path).map_err(|e| {
        let mut head = [0u8; 8];
        let has_signature = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|_| &head == HDF5_SIGNATURE);
        if has_signature {
            h5_error(path, "cannot open (truncated or damaged file?)", e)
        } else {
            Error::format(
                show(path),
                "not an HDF5 file (no HDF5 signature); not a qpik dataset",
            )
        }
    })
}

pub(super) fn read_string_attr(
    file: &hdf5::File,
    path: &Path,
    name: &str,
) -> Result<Option<String>> {
    if !file
        .attr_names()
        .map_err(|e| h5_error(path, "cannot list attributes", e))?
        .iter()
        .any(|a| a == name)
    {
        return Ok(None);
    }
    let err = |e| h5_error(path, &format!("cannot read attribute '{name}'"), e);
    let attr = file.attr(name).map_err(err)?;
    let t = attr.dtype().and_then(|t| t.to_descriptor()).map_err(err)?;
    match t {
        TypeDescriptor::VarLenUnicode => Ok(Some(
            attr.read_scalar::<VarLenUnicode>()
                .map_err(err)?
                .to_string(),
        )),
        TypeDescriptor::VarLenAscii => Ok(Some(
            attr.read_scalar::<VarLenAscii>().map_err(err)?.to_string(),
        )),
        other => Err(Error::format(
            show(path),
            format!(
                "attribute '{name}' has type {}, expected string",
                type_name(&other)
            ),
        )),
    }
}

pub(super) fn read_number_attr<T: hdf5::H5Type>(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    expected: &TypeDescriptor,
) -> Result<T> {
    let err = |e| h5_error(path, &format!("cannot read attribute '{name}'"), e);
    let attr = file
        .attr(name)
        .map_err(|_| Error::format(show(path), format!("missing attribute '{name}'")))?;
    let t = attr.dtype().and_then(|t| t.to_descriptor()).map_err(err)?;
    if &t != expected {
        return Err(Error::format(
            show(path),
            format!(
                "attribute '{name}' has type {}, expected {}",
                type_name(&t),
                type_name(expected)
            ),
        ));
    }
    attr.read_scalar::<T>().map_err(err)
}

/// Opens dataset `name`, checking its element type and rank.
pub(super) fn open_checked(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    expected: &TypeDescriptor,
    ndim: usize,
) -> Result<(hdf5::Dataset, Vec<usize>)> {
    if !file.link_exists(name) {
        return Err(Error::format(
            show(path),
            format!("missing dataset '{name}'"),
        ));
    }
    let err = |e| h5_error(path, &format!("cannot open dataset '{name}'"), e);
    let ds = file.dataset(name).map_err(err)?;
    let t = ds.dtype().and_then(|t| t.to_descriptor()).map_err(err)?;
    let same = match (expected, &t) {
        (TypeDescriptor::VarLenUnicode, TypeDescriptor::VarLenAscii) => true,
        _ => expected == &t,
    };
    if !same {
        return Err(Error::format(
            show(path),
            format!(
                "dataset '{name}' has type {}, expected {}",
                type_name(&t),
                type_name(expected)
            ),
        ));
    }
    let shape = ds.shape();
    if shape.len() != ndim {
        return Err(Error::format(
            show(path),
            format!(
                "dataset '{name}' has {} dimensions {shape:?}, expected {ndim}",
                shape.len()
            ),
        ));
    }
    check_declared_size(path, name, &shape, t.size())?;
    Ok((ds, shape))
}

/// Most bytes of data a file may declare per byte it holds: deflate expands at most about
/// 1032 times, and chunks never written are read as fill values without being stored, so a
/// small crafted file could otherwise declare gigabytes that a reader would allocate.
pub const MAX_EXPANSION: u64 = 1100;

/// Refuses a dataset whose declared size (shape x element size) overflows or is more than
/// the file can hold ([`MAX_EXPANSION`] times its length, plus 1 MiB).
pub(super) fn check_declared_size(
    path: &Path,
    name: &str,
    shape: &[usize],
    elem: usize,
) -> Result<()> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let cap = len.saturating_mul(MAX_EXPANSION).saturating_add(1 << 20);
    let mut factors = shape.to_vec();
    factors.push(elem);
    match crate::budget::bytes(&factors) {
        Some(b) if b <= cap => Ok(()),
        declared => Err(Error::format(
            show(path),
            format!(
                "dataset '{name}' declares shape {shape:?} ({} bytes), more than a file of {len} bytes can hold (at most {cap}); the file is damaged or crafted",
                declared.map_or("over 2^64".to_string(), |b| b.to_string())
            ),
        )),
    }
}

/// `version` as any unsigned or signed integer (h5py writes Python ints as i64).
pub(super) fn read_version(file: &hdf5::File, path: &Path) -> Result<u64> {
    let err = |e| h5_error(path, "cannot read attribute 'version'", e);
    let attr = file
        .attr("version")
        .map_err(|_| Error::format(show(path), "missing attribute 'version'"))?;
    let t = attr.dtype().and_then(|t| t.to_descriptor()).map_err(err)?;
    match t {
        TypeDescriptor::Unsigned(_) => attr.read_scalar::<u64>().map_err(err),
        TypeDescriptor::Integer(_) => {
            let v = attr.read_scalar::<i64>().map_err(err)?;
            Ok(u64::try_from(v).unwrap_or(u64::MAX))
        }
        other => Err(Error::format(
            show(path),
            format!(
                "attribute 'version' has type {}, expected u32",
                type_name(&other)
            ),
        )),
    }
}

pub(super) fn read_kernels(file: &hdf5::File, path: &Path) -> Result<KernelTable> {
    let fmt_err = |m: String| Error::format(show(path), m);
    let err =
        |name: &'static str| move |e| h5_error(path, &format!("cannot read dataset '{name}'"), e);
    let (kds, kshape) = open_checked(file, path, "kernels", &F32, 3)?;
    let nk = kshape[0];
    let kernels: Array3<f32> = kds.read::<f32, Ix3>().map_err(err("kernels"))?;
    let per_kernel = |name: &str, ds: hdf5::Dataset, shape: Vec<usize>| {
        if shape[0] != nk {
            Err(fmt_err(format!(
                "dataset '{name}' has {} entries, but 'kernels' has {nk} kernels",
                shape[0]
            )))
        } else {
            Ok(ds)
        }
    };
    let names_ds = {
        let (ds, shape) = open_checked(
            file,
            path,
            "kernel_names",
            &TypeDescriptor::VarLenUnicode,
            1,
        )?;
        per_kernel("kernel_names", ds, shape)?
    };
    // The raw bytes, checked here: the string types' own text views assume valid UTF-8.
    let raw: Vec<Vec<u8>> = match names_ds.dtype().and_then(|t| t.to_descriptor()) {
        Ok(TypeDescriptor::VarLenAscii) => names_ds
            .read_raw::<VarLenAscii>()
            .map(|v| v.iter().map(|s| s.as_bytes().to_vec()).collect()),
        _ => names_ds
            .read_raw::<VarLenUnicode>()
            .map(|v| v.iter().map(|s| s.as_bytes().to_vec()).collect()),
    }
    .map_err(err("kernel_names"))?;
    let names = raw
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            String::from_utf8(b).map_err(|e| {
                fmt_err(format!(
                    "dataset 'kernel_names' entry {i} is not valid UTF-8 (byte {} of the name); rename the kernel",
                    e.utf8_error().valid_up_to()
                ))
            })
        })
        .collect::<Result<Vec<String>>>()?;
    if let Some((i, v)) = kernels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        let px = kshape[1] * kshape[2];
        return Err(fmt_err(format!(
            "dataset 'kernels' holds {v} (kernel {}, pixel {}); kernels must be finite",
            i / px.max(1),
            i % px.max(1)
        )));
    }
    let (ds, shape) = open_checked(file, path, "kernel_symmetry", &U8, 1)?;
    let symmetry = per_kernel("kernel_symmetry", ds, shape)?
        .read_raw::<u8>()
        .map_err(err("kernel_symmetry"))?;
    let (ds, shape) = open_checked(file, path, "split", &U8, 1)?;
    let split = per_kernel("split", ds, shape)?
        .read_raw::<u8>()
        .map_err(err("split"))?;
    if let Some((i, v)) = split
        .iter()
        .enumerate()
        .find(|&(_, &v)| v != SPLIT_TRAIN && v != SPLIT_UNSEEN)
    {
        return Err(fmt_err(format!(
            "dataset 'split' row {i} has value {v} (expected 0 = train or 1 = unseen)"
        )));
    }
    let (ds, shape) = open_checked(file, path, "kernel_pixel_size_m", &F64, 1)?;
    let pixel_size_m = per_kernel("kernel_pixel_size_m", ds, shape)?
        .read_raw::<f64>()
        .map_err(err("kernel_pixel_size_m"))?;
    Ok(KernelTable {
        kernels,
        names,
        symmetry,
        split,
        pixel_size_m,
    })
}
