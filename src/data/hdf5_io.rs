//! The qpik HDF5 dataset file: the contract between the generator, training and extraction.
//!
//! # Layout (version 1)
//! Root attributes: `format` = `"qpik-dataset"` (string), `version` (u32), `pixel_size_m` (f64,
//! NaN when kernels differ), `seed` (u64), `generator` (string, TOML settings).
//!
//! | dataset               | type   | shape     | notes                                   |
//! |-----------------------|--------|-----------|-----------------------------------------|
//! | `kernels`             | f32    | [K, H, W] |                                         |
//! | `kernel_names`        | string | [K]       | variable-length UTF-8                   |
//! | `kernel_symmetry`     | u8     | [K]       | n-fold; 0 = unknown                     |
//! | `split`               | u8     | [K]       | 0 = train, 1 = unseen                   |
//! | `kernel_pixel_size_m` | f64    | [K]       |                                         |
//! | `observations`        | f32    | [N, H, W] |                                         |
//! | `masks`               | u8     | [N, H, W] |                                         |
//! | `kernel_index`        | u32    | [N]       | row of the kernel table                 |
//! | `positions`           | f32    | [N, S, 2] | (row, col) pixels, NaN unused           |
//! | `amplitudes`          | f32    | [N, S]    | NaN unused                              |
//!
//! Every per-observation dataset is chunked along N only, about [`CHUNK_TARGET_BYTES`] per chunk
//! (32 images of 64 x 64 f32), compressed with shuffle (multi-byte types) + deflate level
//! [`DEFLATE_LEVEL`]. [`DatasetWriter`] compresses chunks in parallel and hands them to libhdf5
//! with direct chunk writes, so any HDF5 reader (h5py, MATLAB, h5dump) decodes them with the
//! standard filters.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::{Array1, Array2, Array3, Ix1, Ix2, Ix3, s};
use rayon::prelude::*;

use super::{
    DATASET_FORMAT, DATASET_VERSION, Dataset, DatasetInfo, KernelTable, ObservationTable,
    SPLIT_TRAIN, SPLIT_UNSEEN,
};
use crate::{Error, Result};

/// Uncompressed size aimed at for one chunk of a per-observation dataset.
pub const CHUNK_TARGET_BYTES: usize = 512 * 1024;
/// Deflate level of every compressed dataset (1: fast; the data are mostly noise anyway).
pub const DEFLATE_LEVEL: u8 = 1;

/// HDF5 file signature (at offset 0 when the file has no user block).
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn h5_error(path: &Path, what: &str, e: hdf5::Error) -> Error {
    Error::Hdf5 {
        path: show(path),
        message: format!("{what}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// An element type of a per-observation dataset, with the byte shuffle HDF5's filter applies.
trait Element: hdf5::H5Type + Copy + Default + Send + Sync {
    const SIZE: usize;
    /// Writes `values`, zero-padded to `n` elements, as HDF5's shuffle filter lays them out:
    /// byte plane `j` holds byte `j` of every element (native byte order, as the dataset type).
    fn shuffle_into(values: &[Self], n: usize, out: &mut [u8]);
}

macro_rules! element {
    ($t:ty) => {
        impl Element for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn shuffle_into(values: &[Self], n: usize, out: &mut [u8]) {
                debug_assert_eq!(out.len(), n * Self::SIZE);
                let mut planes: Vec<&mut [u8]> = out.chunks_mut(n).collect();
                for (i, v) in values.iter().enumerate() {
                    for (plane, b) in planes.iter_mut().zip(v.to_ne_bytes()) {
                        plane[i] = b;
                    }
                }
            }
        }
    };
}
element!(f32);
element!(u32);
element!(u8);

/// Deflates one chunk exactly as HDF5's filter pipeline (shuffle, then zlib) would.
fn compress_chunk<T: Element>(values: &[T], chunk_elems: usize) -> std::io::Result<Vec<u8>> {
    // For u8 (one byte plane) this is a plain copy, matching a dataset without shuffle.
    let mut raw = vec![0u8; chunk_elems * T::SIZE];
    T::shuffle_into(values, chunk_elems, &mut raw);
    let level = flate2::Compression::new(u32::from(DEFLATE_LEVEL));
    let mut enc = flate2::write::ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), level);
    enc.write_all(&raw)?;
    enc.finish()
}

/// Rows per chunk for rows of `row_bytes`, at most `n_rows`.
fn chunk_rows(row_bytes: usize, n_rows: usize) -> usize {
    (CHUNK_TARGET_BYTES / row_bytes.max(1)).clamp(1, n_rows.max(1))
}

/// A partly filled chunk waiting for its other rows.
struct Pending<T> {
    data: Vec<T>,
    rows_filled: usize,
}

/// One per-observation dataset being written chunk by chunk.
struct Column<T: Element> {
    name: &'static str,
    dataset: hdf5::Dataset,
    /// Elements per observation (H*W, S*2, S or 1).
    row_len: usize,
    /// Rows per chunk; 0 when the dataset is empty and therefore not chunked.
    chunk_rows: usize,
    n_rows: usize,
    pending: HashMap<usize, Pending<T>>,
}

impl<T: Element> Column<T> {
    fn create(
        file: &hdf5::File,
        path: &Path,
        name: &'static str,
        n_rows: usize,
        row_shape: &[usize],
    ) -> Result<Self> {
        let row_len: usize = row_shape.iter().product();
        let mut shape = vec![n_rows];
        shape.extend_from_slice(row_shape);
        let mut builder = file.new_dataset::<T>();
        let chunk_rows = if n_rows * row_len == 0 {
            0
        } else {
            chunk_rows(row_len * T::SIZE, n_rows)
        };
        if chunk_rows > 0 {
            let mut chunk = vec![chunk_rows];
            chunk.extend_from_slice(row_shape);
            builder = builder.chunk(chunk);
            if T::SIZE > 1 {
                builder = builder.shuffle();
            }
            builder = builder.deflate(DEFLATE_LEVEL);
        }
        let dataset = builder
            .shape(shape)
            .create(name)
            .map_err(|e| h5_error(path, &format!("cannot create dataset '{name}'"), e))?;
        Ok(Column {
            name,
            dataset,
            row_len,
            chunk_rows,
            n_rows,
            pending: HashMap::new(),
        })
    }

    /// Rows `start..start + len` of chunk `c` (clipped at the end of the dataset).
    fn chunk_range(&self, c: usize) -> Range<usize> {
        c * self.chunk_rows..((c + 1) * self.chunk_rows).min(self.n_rows)
    }

    /// Stores rows `start..` from `data` (row-major, `row_len` per row), compressing and writing
    /// every chunk that is complete afterwards. Rows must not have been written before.
    fn write_rows(&mut self, path: &Path, start: usize, data: &[T]) -> Result<()> {
        if self.chunk_rows == 0 || data.is_empty() {
            return Ok(());
        }
        let n = data.len() / self.row_len;
        let end = start + n;
        let mut ready: Vec<(usize, Cow<'_, [T]>)> = Vec::new();
        for c in start / self.chunk_rows..=(end - 1) / self.chunk_rows {
            let range = self.chunk_range(c);
            let lo = range.start.max(start);
            let hi = range.end.min(end);
            let rows = &data[(lo - start) * self.row_len..(hi - start) * self.row_len];
            if lo == range.start && hi == range.end {
                // The block covers the whole chunk: compress straight from the caller's data.
                ready.push((c, Cow::Borrowed(rows)));
                continue;
            }
            let chunk_len = self.chunk_rows * self.row_len;
            let pending = self.pending.entry(c).or_insert_with(|| Pending {
                data: vec![T::default(); chunk_len],
                rows_filled: 0,
            });
            let off = (lo - range.start) * self.row_len;
            pending.data[off..off + rows.len()].copy_from_slice(rows);
            pending.rows_filled += hi - lo;
            if pending.rows_filled == range.len() {
                if let Some(done) = self.pending.remove(&c) {
                    ready.push((c, Cow::Owned(done.data)));
                }
            }
        }
        // Compress on the rayon pool while this thread hands finished chunks to libhdf5, so
        // disk writes overlap compression.
        let chunk_elems = self.chunk_rows * self.row_len;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                ready.into_par_iter().for_each_with(tx, |tx, (c, rows)| {
                    // A send fails only when the writer gave up after an error.
                    let _ = tx.send(compress_chunk(&rows, chunk_elems).map(|bytes| (c, bytes)));
                });
            });
            for message in rx {
                let (c, bytes) = message.map_err(|e| Error::io(show(path), e))?;
                self.write_chunk(path, c, &bytes)?;
            }
            Ok(())
        })
    }

    fn write_chunk(&self, path: &Path, c: usize, bytes: &[u8]) -> Result<()> {
        let ndim = self.dataset.ndim();
        let mut offset = vec![0 as hdf5_sys::h5::hsize_t; ndim];
        offset[0] = (c * self.chunk_rows) as hdf5_sys::h5::hsize_t;
        let status = hdf5::sync::sync(|| unsafe {
            // SAFETY: `offset` has the dataset's rank and `bytes` outlives the call; the
            // dataset id is valid while `self.dataset` lives.
            hdf5::h5check(hdf5_sys::h5d::H5Dwrite_chunk(
                self.dataset.id(),
                hdf5_sys::h5p::H5P_DEFAULT,
                0,
                offset.as_ptr(),
                bytes.len(),
                bytes.as_ptr().cast(),
            ))
        });
        status.map(|_| ()).map_err(|e| {
            h5_error(
                path,
                &format!("cannot write chunk {c} of dataset '{}'", self.name),
                e,
            )
        })
    }
}

/// Everything of an open writer that holds HDF5 handles (dropped before the file is renamed).
struct OpenFile {
    file: hdf5::File,
    observations: Column<f32>,
    masks: Column<u8>,
    kernel_index: Column<u32>,
    positions: Column<f32>,
    amplitudes: Column<f32>,
}

/// Streams a large dataset to disk block by block.
///
/// The file is written under a temporary name next to `path` and renamed into place by
/// [`DatasetWriter::finish`]; dropping the writer without finishing deletes the temporary file.
/// Blocks may arrive in any order and need not align with chunks, but every row must be written
/// exactly once. Chunks are compressed in parallel (rayon).
pub struct DatasetWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    open: Option<OpenFile>,
    n_kernels: usize,
    image_shape: (usize, usize),
    max_defects: usize,
    written: Vec<bool>,
}

impl DatasetWriter {
    /// Creates the file, writes the root attributes and the kernel table, and reserves
    /// `n_observations` rows with up to `max_defects` defects each.
    pub fn create(
        path: &Path,
        info: &DatasetInfo,
        kernels: &KernelTable,
        n_observations: usize,
        max_defects: usize,
    ) -> Result<Self> {
        validate_kernels(kernels)?;
        let (_, h, w) = kernels.kernels.dim();
        let tmp_path = temporary_path(path);
        // An unwritable place is an I/O error (missing directory, permissions), said as such.
        std::fs::File::create(&tmp_path).map_err(|e| Error::io(show(path), e))?;
        let file = hdf5::File::create(&tmp_path)
            .map_err(|e| h5_error(path, "cannot create the file", e))?;
        let mut writer = DatasetWriter {
            path: path.to_path_buf(),
            tmp_path,
            open: None,
            n_kernels: kernels.names.len(),
            image_shape: (h, w),
            max_defects,
            written: vec![false; n_observations],
        };
        // From here on, an error drops `writer`, which removes the temporary file.
        write_header(&file, path, info, kernels)?;
        let n = n_observations;
        let s = max_defects;
        let observations = Column::create(&file, path, "observations", n, &[h, w])?;
        let masks = Column::create(&file, path, "masks", n, &[h, w])?;
        let kernel_index = Column::create(&file, path, "kernel_index", n, &[])?;
        let positions = Column::create(&file, path, "positions", n, &[s, 2])?;
        let amplitudes = Column::create(&file, path, "amplitudes", n, &[s])?;
        writer.open = Some(OpenFile {
            file,
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
        });
        Ok(writer)
    }

    /// Writes observations `start..start + block.len()`. `block` may carry fewer than
    /// `max_defects` defect slots per observation; the rest are stored as NaN.
    pub fn write_block(&mut self, start: usize, block: &ObservationTable) -> Result<()> {
        let path = self.path.clone();
        let n = block.kernel_index.len();
        self.check_block(start, block)?;
        let (h, w) = self.image_shape;
        let s = self.max_defects;
        let Some(open) = self.open.as_mut() else {
            return Err(Error::invalid("dataset writer used after an error"));
        };
        let observations = block.observations.as_standard_layout();
        let masks = block.masks.as_standard_layout();
        let (positions, amplitudes) = pad_defects(block, s);
        let obs = observations.as_slice().unwrap_or_default();
        let msk = masks.as_slice().unwrap_or_default();
        debug_assert_eq!(obs.len(), n * h * w);
        open.observations.write_rows(&path, start, obs)?;
        open.masks.write_rows(&path, start, msk)?;
        open.kernel_index
            .write_rows(&path, start, &block.kernel_index)?;
        open.positions
            .write_rows(&path, start, positions.as_slice().unwrap_or_default())?;
        open.amplitudes
            .write_rows(&path, start, amplitudes.as_slice().unwrap_or_default())?;
        for done in &mut self.written[start..start + n] {
            *done = true;
        }
        Ok(())
    }

    fn check_block(&self, start: usize, block: &ObservationTable) -> Result<()> {
        let n = block.kernel_index.len();
        let total = self.written.len();
        let (h, w) = self.image_shape;
        let (on, oh, ow) = block.observations.dim();
        let bad = |m: String| Err(Error::invalid(format!("{}: {m}", show(&self.path))));
        if start.checked_add(n).is_none_or(|end| end > total) {
            return bad(format!(
                "block {start}..{} exceeds the {total} observations",
                start + n
            ));
        }
        if (on, oh, ow) != (n, h, w) {
            return bad(format!(
                "block observations are {on}x{oh}x{ow}, expected {n}x{h}x{w}"
            ));
        }
        if block.masks.dim() != (n, h, w) {
            let (a, b, c) = block.masks.dim();
            return bad(format!("block masks are {a}x{b}x{c}, expected {n}x{h}x{w}"));
        }
        let (pn, ps, p2) = block.positions.dim();
        if pn != n || p2 != 2 || ps > self.max_defects {
            return bad(format!(
                "block positions are {pn}x{ps}x{p2}, expected {n}xSx2 with S <= {}",
                self.max_defects
            ));
        }
        if block.amplitudes.dim() != (n, ps) {
            let (a, b) = block.amplitudes.dim();
            return bad(format!("block amplitudes are {a}x{b}, expected {n}x{ps}"));
        }
        if let Some((i, &k)) = block
            .kernel_index
            .iter()
            .enumerate()
            .find(|&(_, &k)| k as usize >= self.n_kernels)
        {
            return bad(format!(
                "observation {} refers to kernel {k}, but there are {} kernels",
                start + i,
                self.n_kernels
            ));
        }
        if let Some(i) = self.written[start..start + n].iter().position(|&d| d) {
            return bad(format!("observation {} written twice", start + i));
        }
        Ok(())
    }

    /// Checks that every row was written, closes the file and renames it into place.
    pub fn finish(mut self) -> Result<()> {
        if let Some(first) = self.written.iter().position(|&d| !d) {
            let missing = self.written.iter().filter(|&&d| !d).count();
            return Err(Error::invalid(format!(
                "{}: {missing} observations were never written (first: {first})",
                show(&self.path)
            )));
        }
        let Some(open) = self.open.take() else {
            return Err(Error::invalid("dataset writer used after an error"));
        };
        let OpenFile {
            file,
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
        } = open;
        drop((observations, masks, kernel_index, positions, amplitudes));
        file.close()
            .map_err(|e| h5_error(&self.path, "cannot close the file", e))?;
        std::fs::rename(&self.tmp_path, &self.path).map_err(|e| Error::io(show(&self.path), e))
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        // Unfinished (error or early return): never leave a half-written file behind.
        if let Some(open) = self.open.take() {
            drop(open);
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// Positions `[N, S, 2]` and amplitudes `[N, S]` padded with NaN to `s` defect slots.
fn pad_defects(block: &ObservationTable, s: usize) -> (Array3<f32>, Array2<f32>) {
    let n = block.kernel_index.len();
    let ps = block.positions.dim().1;
    let mut positions = Array3::from_elem((n, s, 2), f32::NAN);
    let mut amplitudes = Array2::from_elem((n, s), f32::NAN);
    positions
        .slice_mut(s![.., ..ps, ..])
        .assign(&block.positions);
    amplitudes.slice_mut(s![.., ..ps]).assign(&block.amplitudes);
    (positions, amplitudes)
}

fn validate_kernels(k: &KernelTable) -> Result<()> {
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
    if let Some(name) = k.names.iter().find(|n| n.contains('\0')) {
        return Err(Error::invalid(format!(
            "kernel name {name:?} contains a NUL character"
        )));
    }
    Ok(())
}

fn varlen(path: &Path, what: &str, text: &str) -> Result<VarLenUnicode> {
    text.parse::<VarLenUnicode>()
        .map_err(|e| Error::invalid(format!("{}: {what} cannot be stored: {e}", show(path))))
}

fn write_header(file: &hdf5::File, path: &Path, info: &DatasetInfo, k: &KernelTable) -> Result<()> {
    let attr_err = |name: &'static str| {
        move |e| h5_error(path, &format!("cannot write attribute '{name}'"), e)
    };
    let format = varlen(path, "format", DATASET_FORMAT)?;
    let generator = varlen(path, "generator settings", &info.generator)?;
    file.new_attr::<VarLenUnicode>()
        .create("format")
        .and_then(|a| a.write_scalar(&format))
        .map_err(attr_err("format"))?;
    file.new_attr::<u32>()
        .create("version")
        .and_then(|a| a.write_scalar(&DATASET_VERSION))
        .map_err(attr_err("version"))?;
    file.new_attr::<f64>()
        .create("pixel_size_m")
        .and_then(|a| a.write_scalar(&info.pixel_size_m))
        .map_err(attr_err("pixel_size_m"))?;
    file.new_attr::<u64>()
        .create("seed")
        .and_then(|a| a.write_scalar(&info.seed))
        .map_err(attr_err("seed"))?;
    file.new_attr::<VarLenUnicode>()
        .create("generator")
        .and_then(|a| a.write_scalar(&generator))
        .map_err(attr_err("generator"))?;

    let ds_err =
        |name: &'static str| move |e| h5_error(path, &format!("cannot write dataset '{name}'"), e);
    let (nk, h, w) = k.kernels.dim();
    let kernels = k.kernels.as_standard_layout();
    let mut builder = file.new_dataset_builder();
    if nk > 0 {
        builder = builder
            .chunk((chunk_rows(h * w * 4, nk), h, w))
            .shuffle()
            .deflate(DEFLATE_LEVEL);
    }
    builder
        .with_data(&kernels)
        .create("kernels")
        .map_err(ds_err("kernels"))?;
    let names: Vec<VarLenUnicode> = k
        .names
        .iter()
        .map(|n| varlen(path, "kernel name", n))
        .collect::<Result<_>>()?;
    write_1d(file, path, "kernel_names", &names)?;
    write_1d(file, path, "kernel_symmetry", &k.symmetry)?;
    write_1d(file, path, "split", &k.split)?;
    write_1d(file, path, "kernel_pixel_size_m", &k.pixel_size_m)?;
    Ok(())
}

/// Writes a small, uncompressed 1-D dataset.
fn write_1d<T: hdf5::H5Type>(file: &hdf5::File, path: &Path, name: &str, data: &[T]) -> Result<()> {
    file.new_dataset_builder()
        .with_data(data)
        .create(name)
        .map(|_| ())
        .map_err(|e| h5_error(path, &format!("cannot write dataset '{name}'"), e))
}

/// Writes a whole in-memory dataset (through [`DatasetWriter`], so the layout is identical).
pub fn write_dataset(path: &Path, ds: &Dataset) -> Result<()> {
    let obs = &ds.observations;
    let n = obs.kernel_index.len();
    let s = obs.positions.dim().1;
    let mut writer = DatasetWriter::create(path, &ds.info, &ds.kernels, n, s)?;
    writer.write_block(0, obs)?;
    writer.finish()
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Short type names used in messages ("u8", "f32", "string").
fn type_name(t: &TypeDescriptor) -> String {
    let bits = |s: &IntSize| 8 * *s as usize;
    match t {
        TypeDescriptor::Unsigned(s) => format!("u{}", bits(s)),
        TypeDescriptor::Integer(s) => format!("i{}", bits(s)),
        TypeDescriptor::Float(FloatSize::U4) => "f32".into(),
        TypeDescriptor::Float(FloatSize::U8) => "f64".into(),
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => "string".into(),
        other => other.to_string(),
    }
}

/// Opens the file, telling a foreign file from a damaged HDF5 file.
fn open_file(path: &Path) -> Result<hdf5::File> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(Error::io(show(path), e));
    }
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

fn read_string_attr(file: &hdf5::File, path: &Path, name: &str) -> Result<Option<String>> {
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

fn read_number_attr<T: hdf5::H5Type>(
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
fn open_checked(
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
    Ok((ds, shape))
}

const F32: TypeDescriptor = TypeDescriptor::Float(FloatSize::U4);
const F64: TypeDescriptor = TypeDescriptor::Float(FloatSize::U8);
const U8: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U1);
const U32: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U4);
const U64: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U8);

/// Reads a qpik dataset file in parts: the kernel table at once, observations by range.
///
/// By default ([`DatasetReader::open`]) libhdf5 never runs on the file in the calling
/// process: a forked child reads each part and streams it back ([`super::isolate`]), so a
/// damaged file that crashes or hangs libhdf5 gives an [`Error::Hdf5`] instead of taking the
/// calling program down. `QPIK_DATASET_CHECK=off` (or [`DatasetReader::open_in_process`])
/// reads in the calling process; `QPIK_DATASET_CHECK_TIMEOUT_S` sets the time allowed per
/// read (default 10 s plus 1 s per 10 MB of uncompressed data).
pub struct DatasetReader {
    path: PathBuf,
    info: DatasetInfo,
    kernels: KernelTable,
    n: usize,
    max_defects: usize,
    source: Source,
}

/// Where [`DatasetReader`] runs libhdf5.
enum Source {
    /// Here: open handles.
    InProcess(Handles),
    /// In a forked child per read.
    Child(ChildOptions),
}

/// How [`DatasetReader::open_in_child_with`] reads.
#[derive(Clone, Debug)]
pub struct ChildOptions {
    /// Time allowed for each child; `None`: `QPIK_DATASET_CHECK_TIMEOUT_S` seconds if set,
    /// else 10 s plus 1 s per 10 MB read.
    pub time_limit: Option<std::time::Duration>,
    /// Uncompressed bytes the child reads per block while the previous block is sent.
    pub block_bytes: usize,
}

impl Default for ChildOptions {
    fn default() -> Self {
        ChildOptions {
            time_limit: None,
            block_bytes: 16 << 20,
        }
    }
}

/// Open per-observation datasets of a file read in this process.
struct Handles {
    observations: hdf5::Dataset,
    masks: hdf5::Dataset,
    kernel_index: hdf5::Dataset,
    positions: hdf5::Dataset,
    amplitudes: hdf5::Dataset,
    // Keeps the file open for the datasets above.
    _file: hdf5::File,
}

impl DatasetReader {
    /// Opens and validates `path` (attributes, dataset types and shapes, the kernel table),
    /// reading it in a child process unless `QPIK_DATASET_CHECK=off` (see [`DatasetReader`]).
    pub fn open(path: &Path) -> Result<Self> {
        if isolation_enabled() {
            Self::open_in_child(path)
        } else {
            Self::open_in_process(path)
        }
    }

    /// Opens and validates `path` with libhdf5 in this process: for files this program wrote
    /// itself, or where a crash inside libhdf5 is acceptable (fuzzing libhdf5).
    pub fn open_in_process(path: &Path) -> Result<Self> {
        let file = open_file(path)?;
        let fmt_err = |m: String| Error::format(show(path), m);
        match read_string_attr(&file, path, "format")? {
            None => return Err(fmt_err("not a qpik dataset: no 'format' attribute".into())),
            Some(f) if f != DATASET_FORMAT => {
                return Err(fmt_err(format!(
                    "not a qpik dataset: 'format' is {f:?}, expected {DATASET_FORMAT:?}"
                )));
            }
            Some(_) => {}
        }
        let version = read_version(&file, path)?;
        if version != u64::from(DATASET_VERSION) {
            return Err(fmt_err(format!(
                "unsupported dataset version {version} (this qpik reads version {DATASET_VERSION})"
            )));
        }
        let info = DatasetInfo {
            pixel_size_m: read_number_attr::<f64>(&file, path, "pixel_size_m", &F64)?,
            seed: read_number_attr::<u64>(&file, path, "seed", &U64)?,
            generator: read_string_attr(&file, path, "generator")?
                .ok_or_else(|| fmt_err("missing attribute 'generator'".into()))?,
        };
        let kernels = read_kernels(&file, path)?;
        let (nk, h, w) = kernels.kernels.dim();

        let (observations, oshape) = open_checked(&file, path, "observations", &F32, 3)?;
        let n = oshape[0];
        if oshape[1..] != [h, w] {
            return Err(fmt_err(format!(
                "dataset 'observations' has images {}x{}, but 'kernels' has {h}x{w}",
                oshape[1], oshape[2]
            )));
        }
        let (masks, mshape) = open_checked(&file, path, "masks", &U8, 3)?;
        if mshape != oshape {
            return Err(fmt_err(format!(
                "dataset 'masks' has shape {mshape:?}, but 'observations' has {oshape:?}"
            )));
        }
        let (kernel_index, kshape) = open_checked(&file, path, "kernel_index", &U32, 1)?;
        if kshape[0] != n {
            return Err(fmt_err(format!(
                "dataset 'kernel_index' has {} entries, but 'observations' has {n}",
                kshape[0]
            )));
        }
        let (positions, pshape) = open_checked(&file, path, "positions", &F32, 3)?;
        if pshape[0] != n || pshape[2] != 2 {
            return Err(fmt_err(format!(
                "dataset 'positions' has shape {pshape:?}, expected [{n}, S, 2]"
            )));
        }
        let max_defects = pshape[1];
        let (amplitudes, ashape) = open_checked(&file, path, "amplitudes", &F32, 2)?;
        if ashape != [n, max_defects] {
            return Err(fmt_err(format!(
                "dataset 'amplitudes' has shape {ashape:?}, expected [{n}, {max_defects}] like 'positions'"
            )));
        }
        debug_assert_eq!(kernels.names.len(), nk);
        Ok(DatasetReader {
            path: path.to_path_buf(),
            info,
            kernels,
            n,
            max_defects,
            source: Source::InProcess(Handles {
                observations,
                masks,
                kernel_index,
                positions,
                amplitudes,
                _file: file,
            }),
        })
    }

    /// [`DatasetReader::open_in_process`] run in a child, which sends back the attributes
    /// and the kernel table.
    pub fn open_in_child(path: &Path) -> Result<Self> {
        Self::open_in_child_with(path, &ChildOptions::default())
    }

    /// [`DatasetReader::open_in_child`] with explicit [`ChildOptions`].
    pub fn open_in_child_with(path: &Path, options: &ChildOptions) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(show(path), e))?;
        // Only the header and the kernel table are read: allow for a fifth of the file.
        let limit = time_limit(options.time_limit, meta.len() / 5);
        let mut child = spawn_reader(path, limit, |tx| {
            let reader = Self::open_in_process(path)?;
            tx.send(&encode_header(&reader))
        })?;
        let header = child.recv(usize::MAX).map_err(|e| ended(path, e))?;
        child.finish().map_err(|e| ended(path, e))?;
        let (info, kernels, n, max_defects) = decode_header(&header)
            .filter(|(_, k, _, _)| {
                k.split
                    .iter()
                    .all(|&v| v == SPLIT_TRAIN || v == SPLIT_UNSEEN)
            })
            .ok_or_else(|| ended(path, Ended::Protocol("garbled dataset header".into())))?;
        Ok(DatasetReader {
            path: path.to_path_buf(),
            info,
            kernels,
            n,
            max_defects,
            source: Source::Child(options.clone()),
        })
    }

    /// Root attributes.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// The kernel table (read and validated by [`DatasetReader::open`]).
    pub fn kernels(&self) -> &KernelTable {
        &self.kernels
    }

    /// Number of observations N.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the file holds no observations.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Image size `(H, W)` of kernels and observations.
    pub fn image_shape(&self) -> (usize, usize) {
        let (_, h, w) = self.kernels.kernels.dim();
        (h, w)
    }

    /// Defect slots S per observation.
    pub fn max_defects(&self) -> usize {
        self.max_defects
    }

    /// Reads observations `range` (and their masks, kernel indices, positions, amplitudes).
    pub fn read_observations(&self, range: Range<usize>) -> Result<ObservationTable> {
        let path = self.path.as_path();
        if range.start > range.end || range.end > self.n {
            return Err(Error::invalid(format!(
                "{}: observations {range:?} requested, the file has {}",
                show(path),
                self.n
            )));
        }
        match &self.source {
            Source::InProcess(handles) => self.read_here(handles, range),
            Source::Child(options) => self.read_in_child(range, options),
        }
    }

    /// Bytes of one observation row across the five per-observation datasets.
    fn row_bytes(&self) -> usize {
        let (h, w) = self.image_shape();
        h.saturating_mul(w)
            .saturating_mul(5)
            .saturating_add(self.max_defects.saturating_mul(12))
            .saturating_add(4)
    }

    fn read_here(&self, handles: &Handles, range: Range<usize>) -> Result<ObservationTable> {
        let path = self.path.as_path();
        let err = |name: &'static str| {
            move |e| h5_error(path, &format!("cannot read dataset '{name}'"), e)
        };
        let r = range.clone();
        let observations = handles
            .observations
            .read_slice::<f32, _, Ix3>(s![r.clone(), .., ..])
            .map_err(err("observations"))?;
        let masks = handles
            .masks
            .read_slice::<u8, _, Ix3>(s![r.clone(), .., ..])
            .map_err(err("masks"))?;
        let kernel_index: Array1<u32> = handles
            .kernel_index
            .read_slice::<u32, _, Ix1>(s![r.clone()])
            .map_err(err("kernel_index"))?;
        let positions = handles
            .positions
            .read_slice::<f32, _, Ix3>(s![r.clone(), .., ..])
            .map_err(err("positions"))?;
        let amplitudes = handles
            .amplitudes
            .read_slice::<f32, _, Ix2>(s![r, ..])
            .map_err(err("amplitudes"))?;
        let nk = self.kernels.names.len();
        if let Some((i, &k)) = kernel_index
            .iter()
            .enumerate()
            .find(|&(_, &k)| k as usize >= nk)
        {
            return Err(Error::format(
                show(path),
                format!(
                    "dataset 'kernel_index' row {} refers to kernel {k}, but the file has {nk} kernels",
                    range.start + i
                ),
            ));
        }
        Ok(ObservationTable {
            observations,
            masks,
            kernel_index: kernel_index.to_vec(),
            positions,
            amplitudes,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading in a child process
// ---------------------------------------------------------------------------------------------

use super::isolate::{Child, Ended, Sender, bytes_of, bytes_of_mut, signal_name};

/// Whether [`DatasetReader::open`] reads in a child process (`QPIK_DATASET_CHECK`, default
/// on; `off`, `0`, `no` or `false` turn it off). Only where `fork` exists.
fn isolation_enabled() -> bool {
    cfg!(unix)
        && !matches!(
            std::env::var("QPIK_DATASET_CHECK")
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref(),
            Ok("off" | "0" | "no" | "false")
        )
}

/// Time allowed for a child that reads `bytes`: 10 s plus 1 s per 10 MB, or
/// `QPIK_DATASET_CHECK_TIMEOUT_S` seconds.
fn time_limit(given: Option<std::time::Duration>, bytes: u64) -> std::time::Duration {
    if let Some(limit) = given {
        return limit;
    }
    let set = std::env::var("QPIK_DATASET_CHECK_TIMEOUT_S")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0);
    match set {
        Some(s) => std::time::Duration::from_secs_f64(s.min(1e6)),
        None => std::time::Duration::from_secs(10 + bytes / 10_000_000),
    }
}

/// Forks a child that runs `work` on `path`, allowing `limit`. The fork happens under
/// hdf5-metno's lock, so no other thread is inside libhdf5 at that moment and the child never
/// inherits a half-updated library. The child closes the descriptors it inherits except this
/// file's.
fn spawn_reader(
    path: &Path,
    limit: std::time::Duration,
    work: impl FnOnce(&mut Sender) -> Result<()>,
) -> Result<Child> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(show(path), e))?;
    // The child keeps the descriptors of this very file: libhdf5 reuses a file it has open.
    #[cfg(unix)]
    let keep = |fork: &mut dyn FnMut(&[i32]) -> i64| fork(&super::isolate::descriptors_of(&meta));
    #[cfg(not(unix))]
    let keep = |fork: &mut dyn FnMut(&[i32]) -> i64| fork(&[]);
    Child::spawn(limit, |fork| hdf5::sync::sync(|| keep(fork)), work).map_err(|e| ended(path, e))
}

/// The error for a child reading `path` that did not deliver.
fn ended(path: &Path, why: Ended) -> Error {
    let damaged = |how: String| Error::Hdf5 {
        path: show(path),
        message: format!(
            "libhdf5 {how} while reading this file, so the file is damaged or not a valid HDF5 \
             file (qpik reads dataset files in a separate process, so nothing else is affected)"
        ),
    };
    match why {
        Ended::Work(e) => e,
        Ended::Died {
            signal: Some(s), ..
        } => damaged(format!("crashed with {}", signal_name(s))),
        Ended::Died { code, .. } => damaged(format!(
            "ended its process (exit status {})",
            code.map_or("unknown".into(), |c| c.to_string())
        )),
        Ended::Protocol(m) => damaged(format!("garbled the reply ({m})")),
        Ended::TimedOut(limit) => Error::Hdf5 {
            path: show(path),
            message: format!(
                "libhdf5 did not finish reading this file within {:.0} s, so the file is \
                 probably damaged (on a slow disk, allow longer with \
                 QPIK_DATASET_CHECK_TIMEOUT_S=<seconds>)",
                limit.as_secs_f64()
            ),
        },
        Ended::System(e) => Error::io(
            show(path),
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot start the process that reads dataset files ({e}); \
                     QPIK_DATASET_CHECK=off reads them in this process instead"
                ),
            ),
        ),
    }
}

impl DatasetReader {
    /// [`DatasetReader::read_here`] run in a child, block by block, each array of a block
    /// streamed straight into the arrays returned.
    fn read_in_child(
        &self,
        range: Range<usize>,
        options: &ChildOptions,
    ) -> Result<ObservationTable> {
        let path = self.path.as_path();
        let rows = range.len();
        let (h, w) = self.image_shape();
        let s = self.max_defects;
        // Sizes come from the file: refuse what this machine cannot hold instead of aborting.
        let too_big = || {
            Error::format(
                show(path),
                format!(
                    "observations {range:?} of {h}x{w} pixels with {s} defect slots need more \
                     memory than this machine can give; read fewer at a time"
                ),
            )
        };
        let image = rows.checked_mul(h).and_then(|v| v.checked_mul(w));
        let slots = rows.checked_mul(s);
        let (image, slots) = (image.ok_or_else(too_big)?, slots.ok_or_else(too_big)?);
        let mut out = ObservationTable {
            observations: Array3::from_shape_vec((rows, h, w), zeros(image).ok_or_else(too_big)?)
                .expect("shape"),
            masks: Array3::from_shape_vec((rows, h, w), zeros(image).ok_or_else(too_big)?)
                .expect("shape"),
            kernel_index: zeros(rows).ok_or_else(too_big)?,
            positions: Array3::from_shape_vec((rows, s, 2), zeros(slots * 2).ok_or_else(too_big)?)
                .expect("shape"),
            amplitudes: Array2::from_shape_vec((rows, s), zeros(slots).ok_or_else(too_big)?)
                .expect("shape"),
        };
        if rows == 0 {
            return Ok(out);
        }
        let block = (options.block_bytes / self.row_bytes()).max(1);
        let expected = (self.n, h, w, s, self.kernels.names.len());
        let limit = time_limit(options.time_limit, (rows * self.row_bytes()) as u64);
        let mut child = spawn_reader(path, limit, |tx| {
            let reader = Self::open_in_process(path)?;
            let found = (
                reader.n,
                h,
                w,
                reader.max_defects,
                reader.kernels.names.len(),
            );
            if found != expected || reader.image_shape() != (h, w) {
                return Err(Error::format(
                    show(path),
                    "the file changed since it was opened; open it again",
                ));
            }
            let Source::InProcess(handles) = &reader.source else {
                unreachable!("opened in process")
            };
            // A writer thread sends block k while this thread reads block k + 1, so the copy
            // through the pipe overlaps libhdf5's decompression.
            std::thread::scope(|scope| {
                let (blocks, queue) = std::sync::mpsc::sync_channel::<ObservationTable>(1);
                let writer = scope.spawn(move || -> Result<()> {
                    for t in queue {
                        tx.send(bytes_of(t.observations.as_slice().expect("standard")))?;
                        tx.send(bytes_of(t.masks.as_slice().expect("standard")))?;
                        tx.send(bytes_of(&t.kernel_index))?;
                        tx.send(bytes_of(t.positions.as_slice().expect("standard")))?;
                        tx.send(bytes_of(t.amplitudes.as_slice().expect("standard")))?;
                    }
                    Ok(())
                });
                for b in (range.start..range.end).step_by(block) {
                    let t = reader.read_here(handles, b..(b + block).min(range.end))?;
                    if blocks.send(t).is_err() {
                        break; // the writer stopped; its error is returned below
                    }
                }
                drop(blocks);
                writer
                    .join()
                    .unwrap_or_else(|_| Err(Error::invalid("pipe writer panicked")))
            })
        })?;
        let received = (|| {
            let obs = out.observations.as_slice_mut().expect("standard layout");
            let masks = out.masks.as_slice_mut().expect("standard layout");
            let pos = out.positions.as_slice_mut().expect("standard layout");
            let amp = out.amplitudes.as_slice_mut().expect("standard layout");
            for b in (0..rows).step_by(block) {
                let e = (b + block).min(rows);
                child.recv_into(bytes_of_mut(&mut obs[b * h * w..e * h * w]))?;
                child.recv_into(bytes_of_mut(&mut masks[b * h * w..e * h * w]))?;
                child.recv_into(bytes_of_mut(&mut out.kernel_index[b..e]))?;
                child.recv_into(bytes_of_mut(&mut pos[b * s * 2..e * s * 2]))?;
                child.recv_into(bytes_of_mut(&mut amp[b * s..e * s]))?;
            }
            Ok(())
        })();
        received
            .and_then(|()| child.finish())
            .map_err(|e| ended(path, e))?;
        // The child checked these; a child whose memory libhdf5 corrupted might not have.
        let nk = self.kernels.names.len();
        if let Some(k) = out.kernel_index.iter().find(|&&k| k as usize >= nk) {
            return Err(ended(
                path,
                Ended::Protocol(format!("kernel index {k} of {nk} kernels")),
            ));
        }
        Ok(out)
    }
}

/// `n` zeros, or `None` when the memory cannot be had (allocated lazily by the system, so
/// that pages are only touched as the child's data arrive).
fn zeros<T: Clone + Default>(n: usize) -> Option<Vec<T>> {
    let mut probe: Vec<T> = Vec::new();
    probe.try_reserve_exact(n).ok()?;
    drop(probe);
    Some(vec![T::default(); n])
}

/// The attributes, kernel table and sizes of an opened file, as bytes for the pipe.
fn encode_header(r: &DatasetReader) -> Vec<u8> {
    let k = &r.kernels;
    let (nk, h, w) = k.kernels.dim();
    let mut out = Vec::new();
    let u64s = |out: &mut Vec<u8>, v: &[u64]| v.iter().for_each(|x| out.extend(x.to_le_bytes()));
    let text = |out: &mut Vec<u8>, t: &str| {
        out.extend((t.len() as u64).to_le_bytes());
        out.extend(t.as_bytes());
    };
    u64s(
        &mut out,
        &[
            r.info.pixel_size_m.to_bits(),
            r.info.seed,
            r.n as u64,
            r.max_defects as u64,
            nk as u64,
            h as u64,
            w as u64,
        ],
    );
    text(&mut out, &r.info.generator);
    for name in &k.names {
        text(&mut out, name);
    }
    out.extend(bytes_of(k.kernels.as_standard_layout().as_slice().unwrap()));
    out.extend(&k.symmetry);
    out.extend(&k.split);
    out.extend(bytes_of(&k.pixel_size_m));
    out
}

/// Inverse of [`encode_header`]; `None` when the bytes do not add up.
fn decode_header(bytes: &[u8]) -> Option<(DatasetInfo, KernelTable, usize, usize)> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        let part = bytes.get(at..end)?;
        at = end;
        Some(part)
    };
    let mut head = [0u64; 7];
    for v in &mut head {
        *v = u64::from_le_bytes(take(8)?.try_into().ok()?);
    }
    let [px, seed, n, s, nk, h, w] = head;
    let [n, s, nk, h, w] = [n, s, nk, h, w].map(|v| usize::try_from(v).ok());
    let (n, s, nk, h, w) = (n?, s?, nk?, h?, w?);
    // Sizes come from the child: check them against the bytes before allocating.
    if nk.checked_mul(h)?.checked_mul(w)?.checked_mul(4)? > bytes.len() {
        return None;
    }
    let mut text = || -> Option<String> {
        let len = u64::from_le_bytes(take(8)?.try_into().ok()?) as usize;
        String::from_utf8(take(len)?.to_vec()).ok()
    };
    let generator = text()?;
    let names = (0..nk).map(|_| text()).collect::<Option<Vec<_>>>()?;
    let mut kernels = Array3::<f32>::zeros((nk, h, w));
    let mut pixel_size_m = vec![0f64; nk];
    let kbytes = bytes_of_mut(kernels.as_slice_mut()?);
    kbytes.copy_from_slice(take(kbytes.len())?);
    let symmetry = take(nk)?.to_vec();
    let split = take(nk)?.to_vec();
    let pbytes = bytes_of_mut(&mut pixel_size_m);
    pbytes.copy_from_slice(take(pbytes.len())?);
    if take(1).is_some() {
        return None;
    }
    let info = DatasetInfo {
        pixel_size_m: f64::from_bits(px),
        seed,
        generator,
    };
    let table = KernelTable {
        kernels,
        names,
        symmetry,
        split,
        pixel_size_m,
    };
    Some((info, table, n, s))
}

/// `version` as any unsigned or signed integer (h5py writes Python ints as i64).
fn read_version(file: &hdf5::File, path: &Path) -> Result<u64> {
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

fn read_kernels(file: &hdf5::File, path: &Path) -> Result<KernelTable> {
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
    let names: Vec<String> = match names_ds.dtype().and_then(|t| t.to_descriptor()) {
        Ok(TypeDescriptor::VarLenAscii) => names_ds
            .read_raw::<VarLenAscii>()
            .map(|v| v.iter().map(|s| s.to_string()).collect()),
        _ => names_ds
            .read_raw::<VarLenUnicode>()
            .map(|v| v.iter().map(|s| s.to_string()).collect()),
    }
    .map_err(err("kernel_names"))?;
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

/// Reads a whole dataset file into memory.
pub fn read_dataset(path: &Path) -> Result<Dataset> {
    let reader = DatasetReader::open(path)?;
    let observations = reader.read_observations(0..reader.len())?;
    let DatasetReader { info, kernels, .. } = reader;
    Ok(Dataset {
        info,
        kernels,
        observations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique path in the temp dir, removed (with any writer leftovers) when dropped.
    struct TempPath(PathBuf);

    impl TempPath {
        fn new(tag: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let i = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("qpik-hdf5-{}-{i}-{tag}.h5", std::process::id());
            TempPath(std::env::temp_dir().join(name))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
            let _ = std::fs::remove_file(temporary_path(&self.0));
        }
    }

    /// A dataset with NaN slots, unicode names and non-square images of `h x w`.
    fn sample(n: usize, h: usize, w: usize, s: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let nk = 3;
        let kernels = Array3::from_shape_fn((nk, h, w), |_| rng.normal() as f32);
        let observations = Array3::from_shape_fn((n, h, w), |_| rng.normal() as f32 * 1e-3);
        let mut masks = Array3::zeros((n, h, w));
        let mut positions = Array3::from_elem((n, s, 2), f32::NAN);
        let mut amplitudes = Array2::from_elem((n, s), f32::NAN);
        let mut kernel_index = Vec::with_capacity(n);
        for i in 0..n {
            kernel_index.push((rng.next_u64() % nk as u64) as u32);
            for d in 0..(i % (s + 1)) {
                let (r, c) = (
                    rng.range(0.0, h as f64 - 1.0),
                    rng.range(0.0, w as f64 - 1.0),
                );
                positions[[i, d, 0]] = r as f32;
                positions[[i, d, 1]] = c as f32;
                amplitudes[[i, d]] = rng.range(-2.0, 2.0) as f32;
                masks[[i, r.round() as usize, c.round() as usize]] = 1;
            }
        }
        Dataset {
            info: DatasetInfo {
                pixel_size_m: 6.25e-10,
                seed,
                generator: "[lattice]\nname = \"FeSe – ü\"\nn = 64\n".into(),
            },
            kernels: KernelTable {
                kernels,
                names: vec!["square".into(), "FeSe – ü".into(), String::new()],
                symmetry: vec![4, 2, 0],
                split: vec![SPLIT_TRAIN, SPLIT_UNSEEN, SPLIT_TRAIN],
                pixel_size_m: vec![6.25e-10, 6.25e-10, f64::NAN],
            },
            observations: ObservationTable {
                observations,
                masks,
                kernel_index,
                positions,
                amplitudes,
            },
        }
    }

    fn bits32<'a>(a: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
        a.into_iter().map(|v| v.to_bits()).collect()
    }

    fn bits64<'a>(a: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
        a.into_iter().map(|v| v.to_bits()).collect()
    }

    /// Bit-exact equality (NaN == NaN), field by field so a failure says which.
    fn assert_same_observations(a: &ObservationTable, b: &ObservationTable) {
        assert_eq!(a.observations.dim(), b.observations.dim());
        assert_eq!(
            bits32(&a.observations),
            bits32(&b.observations),
            "observations"
        );
        assert_eq!(a.masks, b.masks, "masks");
        assert_eq!(a.kernel_index, b.kernel_index, "kernel_index");
        assert_eq!(a.positions.dim(), b.positions.dim());
        assert_eq!(bits32(&a.positions), bits32(&b.positions), "positions");
        assert_eq!(a.amplitudes.dim(), b.amplitudes.dim());
        assert_eq!(bits32(&a.amplitudes), bits32(&b.amplitudes), "amplitudes");
    }

    fn assert_same(a: &Dataset, b: &Dataset) {
        assert_eq!(a.info.seed, b.info.seed);
        assert_eq!(a.info.generator, b.info.generator);
        assert_eq!(a.info.pixel_size_m.to_bits(), b.info.pixel_size_m.to_bits());
        let (ka, kb) = (&a.kernels, &b.kernels);
        assert_eq!(ka.kernels.dim(), kb.kernels.dim());
        assert_eq!(bits32(&ka.kernels), bits32(&kb.kernels), "kernels");
        assert_eq!(ka.names, kb.names);
        assert_eq!(ka.symmetry, kb.symmetry);
        assert_eq!(ka.split, kb.split);
        assert_eq!(bits64(&ka.pixel_size_m), bits64(&kb.pixel_size_m));
        assert_same_observations(&a.observations, &b.observations);
    }

    fn rows(t: &ObservationTable, r: Range<usize>) -> ObservationTable {
        ObservationTable {
            observations: t.observations.slice(s![r.clone(), .., ..]).to_owned(),
            masks: t.masks.slice(s![r.clone(), .., ..]).to_owned(),
            kernel_index: t.kernel_index[r.clone()].to_vec(),
            positions: t.positions.slice(s![r.clone(), .., ..]).to_owned(),
            amplitudes: t.amplitudes.slice(s![r, ..]).to_owned(),
        }
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let ds = sample(70, 8, 6, 4, 1);
        let tmp = TempPath::new("roundtrip");
        write_dataset(&tmp.0, &ds).unwrap();
        assert!(
            !temporary_path(&tmp.0).exists(),
            "temporary file left behind"
        );
        let back = read_dataset(&tmp.0).unwrap();
        assert_same(&ds, &back);
        // Guard against a vacuous comparison: the sample must have both used and unused slots.
        assert!(ds.observations.positions.iter().any(|v| v.is_nan()));
        assert!(ds.observations.positions.iter().any(|v| !v.is_nan()));
    }

    #[test]
    fn file_is_readable_by_plain_libhdf5_with_the_declared_filters() {
        let ds = sample(100, 64, 64, 3, 2);
        let tmp = TempPath::new("filters");
        write_dataset(&tmp.0, &ds).unwrap();
        let file = hdf5::File::open(&tmp.0).unwrap();
        let obs = file.dataset("observations").unwrap();
        assert_eq!(obs.chunk(), Some(vec![32, 64, 64]));
        let filters = obs.filters();
        assert_eq!(
            filters,
            vec![
                hdf5::filters::Filter::Shuffle,
                hdf5::filters::Filter::Deflate(1)
            ]
        );
        // Compressed: the masks are almost all zero.
        let masks = file.dataset("masks").unwrap();
        assert!(
            masks.storage_size() < 100 * 64 * 64 / 20,
            "masks {} bytes",
            masks.storage_size()
        );
        let edge: Array3<f32> = obs.read_slice(s![96..100, .., ..]).unwrap();
        let want = ds.observations.observations.slice(s![96..100, .., ..]);
        assert_eq!(bits32(edge.iter()), bits32(want));
        let attr = file
            .attr("format")
            .unwrap()
            .read_scalar::<VarLenUnicode>()
            .unwrap();
        assert_eq!(attr.as_str(), DATASET_FORMAT);
    }

    #[test]
    fn streaming_writer_matches_write_dataset_with_unaligned_blocks_in_any_order() {
        // 64x64 images: 32 observations per chunk, so these blocks straddle chunk borders.
        let ds = sample(100, 64, 64, 5, 3);
        let whole = TempPath::new("whole");
        write_dataset(&whole.0, &ds).unwrap();
        let streamed = TempPath::new("streamed");
        let obs = &ds.observations;
        let mut writer = DatasetWriter::create(&streamed.0, &ds.info, &ds.kernels, 100, 5).unwrap();
        for r in [40..77, 0..7, 77..100, 7..40] {
            assert!(!streamed.0.exists(), "final name exists before finish");
            writer.write_block(r.start, &rows(obs, r)).unwrap();
        }
        writer.finish().unwrap();
        let a = read_dataset(&whole.0).unwrap();
        let b = read_dataset(&streamed.0).unwrap();
        assert_same(&a, &b);
        assert_same(&ds, &b);
    }

    #[test]
    fn blocks_with_fewer_defect_slots_are_padded_with_nan() {
        let ds = sample(10, 8, 8, 2, 4);
        let tmp = TempPath::new("pad");
        let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 10, 6).unwrap();
        writer.write_block(0, &ds.observations).unwrap();
        writer.finish().unwrap();
        let back = read_dataset(&tmp.0).unwrap().observations;
        assert_eq!(back.positions.dim(), (10, 6, 2));
        let head = back.positions.slice(s![.., ..2, ..]);
        assert_eq!(bits32(head), bits32(&ds.observations.positions));
        assert!(
            back.positions
                .slice(s![.., 2.., ..])
                .iter()
                .all(|v| v.is_nan())
        );
        assert!(
            back.amplitudes
                .slice(s![.., 2..])
                .iter()
                .all(|v| v.is_nan())
        );
    }

    #[test]
    fn partial_reads_return_the_requested_rows() {
        let ds = sample(100, 64, 64, 3, 5);
        let tmp = TempPath::new("partial");
        write_dataset(&tmp.0, &ds).unwrap();
        let reader = DatasetReader::open(&tmp.0).unwrap();
        assert_eq!(reader.len(), 100);
        assert_eq!(reader.image_shape(), (64, 64));
        assert_eq!(reader.max_defects(), 3);
        assert_eq!(reader.info().seed, 5);
        assert_eq!(reader.kernels().names, ds.kernels.names);
        for r in [0..1, 30..35, 31..97, 99..100, 50..50] {
            let got = reader.read_observations(r.clone()).unwrap();
            assert_same_observations(&got, &rows(&ds.observations, r));
        }
        let err = reader.read_observations(90..101).unwrap_err().to_string();
        assert!(err.contains("90..101") && err.contains("100"), "{err}");
    }

    /// Both readers, for tests that must hold for each.
    fn both_readers(path: &Path, options: &ChildOptions) -> [DatasetReader; 2] {
        [
            DatasetReader::open_in_process(path).unwrap(),
            DatasetReader::open_in_child_with(path, options).unwrap(),
        ]
    }

    #[test]
    fn reading_in_a_child_matches_reading_here_block_by_block() {
        let ds = sample(57, 16, 12, 4, 21);
        let tmp = TempPath::new("child");
        write_dataset(&tmp.0, &ds).unwrap();
        // Blocks of 1 and 5 rows exercise the streaming across many frames.
        for rows_per_block in [1, 5, 1000] {
            let options = ChildOptions {
                block_bytes: rows_per_block * (16 * 12 * 5 + 4 * 12 + 4),
                ..ChildOptions::default()
            };
            let [here, child] = both_readers(&tmp.0, &options);
            assert!(matches!(child.source, Source::Child(_)));
            assert_eq!(child.len(), here.len());
            assert_eq!(child.max_defects(), here.max_defects());
            assert_eq!(child.info(), here.info());
            assert_eq!(
                bits64(
                    &child
                        .info()
                        .pixel_size_m
                        .to_bits()
                        .to_ne_bytes()
                        .map(f64::from)
                ),
                bits64(
                    &here
                        .info()
                        .pixel_size_m
                        .to_bits()
                        .to_ne_bytes()
                        .map(f64::from)
                )
            );
            let (a, b) = (child.kernels(), here.kernels());
            assert_eq!(bits32(&a.kernels), bits32(&b.kernels));
            assert_eq!(
                (&a.names, &a.symmetry, &a.split),
                (&b.names, &b.symmetry, &b.split)
            );
            assert_eq!(bits64(&a.pixel_size_m), bits64(&b.pixel_size_m));
            for r in [0..57, 3..4, 10..33, 57..57] {
                let want = rows(&ds.observations, r.clone());
                assert_same_observations(&here.read_observations(r.clone()).unwrap(), &want);
                assert_same_observations(&child.read_observations(r).unwrap(), &want);
            }
        }
    }

    #[test]
    fn many_threads_read_through_children_at_once() {
        let ds = sample(40, 16, 16, 2, 8);
        let tmp = TempPath::new("threads");
        write_dataset(&tmp.0, &ds).unwrap();
        let reader = DatasetReader::open_in_child(&tmp.0).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let (reader, ds) = (&reader, &ds);
                scope.spawn(move || {
                    for i in 0..5 {
                        let r = (t * 5 + i) % 40..40;
                        let got = reader.read_observations(r.clone()).unwrap();
                        assert_same_observations(&got, &rows(&ds.observations, r));
                    }
                });
            }
        });
    }

    #[test]
    fn a_file_changed_after_opening_is_reported() {
        let tmp = TempPath::new("changed");
        write_dataset(&tmp.0, &sample(20, 8, 8, 2, 3)).unwrap();
        let reader = DatasetReader::open_in_child(&tmp.0).unwrap();
        write_dataset(&tmp.0, &sample(30, 8, 8, 2, 3)).unwrap();
        let err = reader.read_observations(0..5).unwrap_err().to_string();
        assert!(err.contains("changed since it was opened"), "{err}");
    }

    #[test]
    fn header_bytes_round_trip_and_garbage_is_refused() {
        let tmp = TempPath::new("header");
        write_dataset(&tmp.0, &sample(5, 8, 6, 2, 4)).unwrap();
        let here = DatasetReader::open_in_process(&tmp.0).unwrap();
        let bytes = encode_header(&here);
        let (info, kernels, n, s) = decode_header(&bytes).unwrap();
        assert_eq!((n, s), (5, 2));
        assert_eq!(info.generator, here.info().generator);
        assert_eq!(kernels.names, here.kernels().names);
        for cut in [0, 8, 55, bytes.len() - 1] {
            assert!(decode_header(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_header(&longer).is_none());
        // A kernel count far beyond the bytes is refused before anything is allocated.
        let mut huge = bytes;
        huge[32..40].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(decode_header(&huge).is_none());
    }

    /// Inputs on which Debian 12's libhdf5 1.10.8 crashes or hangs (found by fuzzing).
    fn libhdf5_findings() -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/findings");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "h5"))
            .collect();
        files.sort();
        assert!(files.len() >= 2, "reproducers in {}", dir.display());
        files
    }

    #[test]
    fn files_that_crash_or_hang_libhdf5_give_errors_in_a_child() {
        let options = ChildOptions {
            time_limit: Some(std::time::Duration::from_secs(3)),
            ..ChildOptions::default()
        };
        for path in libhdf5_findings() {
            let start = std::time::Instant::now();
            let err = match DatasetReader::open_in_child_with(&path, &options) {
                Ok(r) => r.read_observations(0..r.len()).map(|_| ()),
                Err(e) => Err(e),
            };
            let err = err.expect_err("a damaged file was accepted");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            // The global-heap ones read stale memory: whether libhdf5 crashes on them depends
            // on the heap left by the tests running beside; either way it is an error here.
            let name = path.file_name().unwrap().to_string_lossy();
            let want = match name.as_ref() {
                "hdf5-vlen-attribute-hang.h5" => Some("did not finish reading this file"),
                "hdf5-chunk-dims-divide-by-zero.h5" => Some("libhdf5 crashed with SIGFPE"),
                _ => None,
            };
            if let Some(want) = want {
                assert!(matches!(err, Error::Hdf5 { .. }), "{text}");
                assert!(text.contains(want), "{text}");
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(20));
        }
    }

    #[test]
    fn readers_open_in_a_child_by_default() {
        let tmp = TempPath::new("default");
        write_dataset(&tmp.0, &sample(3, 8, 8, 1, 2)).unwrap();
        let reader = DatasetReader::open(&tmp.0).unwrap();
        // The test environment does not set QPIK_DATASET_CHECK.
        assert!(matches!(reader.source, Source::Child(_)));
    }

    #[test]
    fn empty_dataset_round_trips() {
        let mut ds = sample(0, 8, 8, 0, 6);
        ds.observations.positions = Array3::zeros((0, 0, 2));
        ds.observations.amplitudes = Array2::zeros((0, 0));
        let tmp = TempPath::new("empty");
        write_dataset(&tmp.0, &ds).unwrap();
        let back = read_dataset(&tmp.0).unwrap();
        assert_same(&ds, &back);
    }

    #[test]
    fn unfinished_writer_leaves_no_file() {
        let ds = sample(40, 8, 8, 2, 7);
        let tmp = TempPath::new("unfinished");
        let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 40, 2).unwrap();
        writer
            .write_block(0, &rows(&ds.observations, 0..20))
            .unwrap();
        let err = writer
            .write_block(10, &rows(&ds.observations, 10..30))
            .unwrap_err();
        assert!(
            err.to_string().contains("observation 10 written twice"),
            "{err}"
        );
        let err = writer.finish().unwrap_err().to_string();
        assert!(
            err.contains("20 observations were never written (first: 20)"),
            "{err}"
        );
        assert!(!tmp.0.exists());
        assert!(!temporary_path(&tmp.0).exists());

        let writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 40, 2).unwrap();
        assert!(temporary_path(&tmp.0).exists());
        drop(writer);
        assert!(!temporary_path(&tmp.0).exists() && !tmp.0.exists());
    }

    #[test]
    fn bad_blocks_are_rejected() {
        let ds = sample(10, 8, 8, 2, 8);
        let tmp = TempPath::new("badblock");
        let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 10, 2).unwrap();
        let mut block = ds.observations.clone();
        block.kernel_index[3] = 3;
        let err = writer.write_block(0, &block).unwrap_err().to_string();
        assert!(err.contains("observation 3 refers to kernel 3"), "{err}");
        let err = writer
            .write_block(5, &ds.observations)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exceeds the 10 observations"), "{err}");
        let mut small = sample(10, 8, 6, 2, 8).observations;
        let err = writer.write_block(0, &small).unwrap_err().to_string();
        assert!(err.contains("expected 10x8x8"), "{err}");
        small = sample(10, 8, 8, 3, 8).observations;
        let err = writer.write_block(0, &small).unwrap_err().to_string();
        assert!(err.contains("S <= 2"), "{err}");
    }

    /// Writes a valid file, lets `spoil` damage it with the hdf5 crate, returns the open error.
    fn open_error(tag: &str, spoil: impl FnOnce(&hdf5::File)) -> (String, TempPath) {
        let ds = sample(20, 8, 8, 2, 9);
        let tmp = TempPath::new(tag);
        write_dataset(&tmp.0, &ds).unwrap();
        {
            let file = hdf5::File::open_rw(&tmp.0).unwrap();
            spoil(&file);
        }
        let err = match read_dataset(&tmp.0) {
            Ok(_) => panic!("{tag}: damaged file was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&tmp.0.display().to_string()),
            "{tag}: no file name in {err}"
        );
        (err, tmp)
    }

    type Spoil = Box<dyn FnOnce(&hdf5::File)>;

    fn replace_dataset<T: hdf5::H5Type>(file: &hdf5::File, name: &str, shape: &[usize]) {
        file.unlink(name).unwrap();
        file.new_dataset::<T>()
            .shape(shape.to_vec())
            .create(name)
            .unwrap();
    }

    #[test]
    fn absurd_declared_sizes_are_an_error_not_an_abort() {
        // A few kB that declare 2^40 defect slots per observation (chunked, never written:
        // libhdf5 would hand out fill values). Reading must not try to allocate terabytes.
        let tmp = TempPath::new("absurd");
        write_dataset(&tmp.0, &sample(2, 8, 8, 1, 4)).unwrap();
        {
            let file = hdf5::File::open_rw(&tmp.0).unwrap();
            let slots = 1usize << 40;
            for (name, shape) in [
                ("positions", vec![2, slots, 2]),
                ("amplitudes", vec![2, slots]),
            ] {
                file.unlink(name).unwrap();
                let mut chunk = shape.clone();
                chunk[1] = 1024;
                file.new_dataset::<f32>()
                    .chunk(chunk)
                    .shape(shape)
                    .create(name)
                    .unwrap();
            }
        }
        assert!(std::fs::metadata(&tmp.0).unwrap().len() < 1 << 20);
        let reader = DatasetReader::open_in_child(&tmp.0).unwrap();
        assert_eq!(reader.max_defects(), 1 << 40);
        let err = reader.read_observations(0..2).unwrap_err().to_string();
        assert!(
            err.contains("more memory than this machine can give") || err.contains("libhdf5"),
            "{err}"
        );
        assert!(err.contains(&tmp.0.display().to_string()), "{err}");
    }

    #[test]
    fn damaged_files_give_clear_errors() {
        let string_attr = |file: &hdf5::File, name: &str, value: &str| {
            file.delete_attr(name).unwrap();
            let v: VarLenUnicode = value.parse().unwrap();
            file.new_attr::<VarLenUnicode>()
                .create(name)
                .unwrap()
                .write_scalar(&v)
                .unwrap();
        };
        let cases: Vec<(&str, Spoil, &str)> = vec![
            (
                "noformat",
                Box::new(|f| f.delete_attr("format").unwrap()),
                "not a qpik dataset: no 'format' attribute",
            ),
            (
                "otherformat",
                Box::new(move |f| string_attr(f, "format", "nexus")),
                "not a qpik dataset: 'format' is \"nexus\"",
            ),
            (
                "version2",
                Box::new(|f| {
                    f.delete_attr("version").unwrap();
                    f.new_attr::<u32>()
                        .create("version")
                        .unwrap()
                        .write_scalar(&2u32)
                        .unwrap();
                }),
                "unsupported dataset version 2",
            ),
            (
                "noversion",
                Box::new(|f| f.delete_attr("version").unwrap()),
                "missing attribute 'version'",
            ),
            (
                "seedtype",
                Box::new(|f| {
                    f.delete_attr("seed").unwrap();
                    f.new_attr::<f64>()
                        .create("seed")
                        .unwrap()
                        .write_scalar(&1.0)
                        .unwrap();
                }),
                "attribute 'seed' has type f64, expected u64",
            ),
            (
                "nomasks",
                Box::new(|f| f.unlink("masks").unwrap()),
                "missing dataset 'masks'",
            ),
            (
                "kernelsu8",
                Box::new(|f| replace_dataset::<u8>(f, "kernels", &[3, 8, 8])),
                "dataset 'kernels' has type u8, expected f32",
            ),
            (
                "kernelsrank",
                Box::new(|f| replace_dataset::<f32>(f, "kernels", &[3, 64])),
                "dataset 'kernels' has 2 dimensions [3, 64], expected 3",
            ),
            (
                "names",
                Box::new(|f| {
                    f.unlink("kernel_names").unwrap();
                    let names: Vec<VarLenUnicode> = vec!["a".parse().unwrap(); 2];
                    f.new_dataset_builder()
                        .with_data(&names)
                        .create("kernel_names")
                        .unwrap();
                }),
                "dataset 'kernel_names' has 2 entries, but 'kernels' has 3 kernels",
            ),
            (
                "split",
                Box::new(|f| f.dataset("split").unwrap().write(&[0u8, 7, 1]).unwrap()),
                "dataset 'split' row 1 has value 7",
            ),
            (
                "kernelindex",
                Box::new(|f| {
                    let ds = f.dataset("kernel_index").unwrap();
                    ds.write_slice(&[99u32], s![5..6]).unwrap();
                }),
                "dataset 'kernel_index' row 5 refers to kernel 99, but the file has 3 kernels",
            ),
            (
                "imagesize",
                Box::new(|f| replace_dataset::<f32>(f, "observations", &[20, 8, 9])),
                "dataset 'observations' has images 8x9, but 'kernels' has 8x8",
            ),
            (
                "maskshape",
                Box::new(|f| replace_dataset::<u8>(f, "masks", &[19, 8, 8])),
                "dataset 'masks' has shape [19, 8, 8], but 'observations' has [20, 8, 8]",
            ),
            (
                "positions",
                Box::new(|f| replace_dataset::<f32>(f, "positions", &[20, 2, 3])),
                "dataset 'positions' has shape [20, 2, 3], expected [20, S, 2]",
            ),
            (
                "amplitudes",
                Box::new(|f| replace_dataset::<f32>(f, "amplitudes", &[20, 3])),
                "dataset 'amplitudes' has shape [20, 3], expected [20, 2]",
            ),
            (
                "indexcount",
                Box::new(|f| replace_dataset::<u32>(f, "kernel_index", &[21])),
                "dataset 'kernel_index' has 21 entries, but 'observations' has 20",
            ),
        ];
        for (tag, spoil, want) in cases {
            let (err, _tmp) = open_error(tag, spoil);
            assert!(err.contains(want), "{tag}: expected {want:?} in {err:?}");
        }
    }

    #[test]
    fn foreign_and_missing_files_are_reported() {
        let tmp = TempPath::new("text");
        std::fs::write(&tmp.0, "row,col\n1,2\n").unwrap();
        let err = read_dataset(&tmp.0).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Format { .. }), "{err:?}");
        assert!(
            msg.contains("not an HDF5 file") && msg.contains(&tmp.0.display().to_string()),
            "{msg}"
        );

        let missing = TempPath::new("missing");
        let err = DatasetReader::open(&missing.0)
            .err()
            .expect("missing file accepted");
        assert!(matches!(err, Error::Io { .. }), "{err:?}");

        // An HDF5 file that is not a qpik dataset at all.
        let other = TempPath::new("other");
        hdf5::File::create(&other.0)
            .unwrap()
            .new_dataset::<f32>()
            .shape([3])
            .create("x")
            .unwrap();
        let msg = read_dataset(&other.0).unwrap_err().to_string();
        assert!(msg.contains("not a qpik dataset"), "{msg}");
    }

    /// Write speed of the streaming writer at the paper's scale (run with
    /// `cargo test --release -- --ignored --nocapture write_speed`).
    #[test]
    #[ignore]
    fn write_speed_50000_observations_64x64() {
        let (n, h, w, s, block) = (50_000, 64, 64, 20, 1000);
        let template = sample(block, h, w, s, 10);
        let mut times = Vec::new();
        for run in 0..3 {
            let tmp = TempPath::new("speed");
            let t0 = std::time::Instant::now();
            let mut writer =
                DatasetWriter::create(&tmp.0, &template.info, &template.kernels, n, s).unwrap();
            for start in (0..n).step_by(block) {
                writer.write_block(start, &template.observations).unwrap();
            }
            writer.finish().unwrap();
            let dt = t0.elapsed().as_secs_f64();
            let size = std::fs::metadata(&tmp.0).unwrap().len();
            println!("run {run}: {dt:.2} s, {:.0} MB", size as f64 / 1e6);
            times.push(dt);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "median write time: {:.2} s ({} threads)",
            times[1],
            rayon::current_num_threads()
        );
    }
}
