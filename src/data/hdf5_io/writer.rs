//! Writing a dataset file: [`DatasetWriter`] streams blocks of observations into a temporary
//! file renamed into place when finished; [`write_dataset`] writes a whole in-memory dataset.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use ndarray::{Array2, Array3, s};

use super::compress::Column;
use super::layout::{DEFLATE_LEVEL, chunk_rows, h5_write_error as h5_error, show};
use super::schema::validate_kernels;
use crate::data::output_file::OutputFile;
use crate::data::{
    DATASET_FORMAT, DATASET_VERSION, Dataset, DatasetInfo, KernelTable, MAX_DEFECT_TYPES,
    ObservationTable,
};
use crate::{Error, Result};

/// Everything of an open writer that holds HDF5 handles (dropped before the file is renamed).
struct OpenFile {
    file: hdf5::File,
    observations: Column<f32>,
    masks: Column<u8>,
    kernel_index: Column<u32>,
    positions: Column<f32>,
    amplitudes: Column<f32>,
    types: Column<u8>,
    type_kernel_index: Column<u32>,
}

/// Streams a large dataset to disk block by block.
///
/// The file is written under a temporary name next to `path` and renamed into place by
/// [`DatasetWriter::finish`]; dropping the writer without finishing deletes the temporary file.
/// Blocks may arrive in any order and need not align with chunks, but every row must be written
/// exactly once. Chunks are compressed in parallel (rayon).
pub struct DatasetWriter {
    path: PathBuf,
    /// The temporary file (unique name in the target's folder); dropping it removes it.
    target: Option<OutputFile>,
    open: Option<OpenFile>,
    n_kernels: usize,
    image_shape: (usize, usize),
    max_defects: usize,
    n_types: usize,
    written: Vec<bool>,
}

impl DatasetWriter {
    /// Creates the file, writes the root attributes and the kernel table, and reserves
    /// `n_observations` rows with up to `max_defects` defects each, of one type.
    pub fn create(
        path: &Path,
        info: &DatasetInfo,
        kernels: &KernelTable,
        n_observations: usize,
        max_defects: usize,
    ) -> Result<Self> {
        Self::create_typed(path, info, kernels, n_observations, max_defects, 1)
    }

    /// [`DatasetWriter::create`] for observations of `n_types` defect types
    /// (1..=[`MAX_DEFECT_TYPES`]): blocks then carry `type_kernels` of `n_types` columns.
    pub fn create_typed(
        path: &Path,
        info: &DatasetInfo,
        kernels: &KernelTable,
        n_observations: usize,
        max_defects: usize,
        n_types: usize,
    ) -> Result<Self> {
        validate_kernels(kernels)?;
        if !(1..=MAX_DEFECT_TYPES).contains(&n_types) {
            return Err(Error::invalid(format!(
                "{}: {n_types} defect types; a dataset holds 1 to {MAX_DEFECT_TYPES}",
                show(path)
            )));
        }
        let (_, h, w) = kernels.kernels.dim();
        // Refuses a directory or device as target; an unwritable place is an I/O error
        // (missing directory, permissions), said as such. Two writers of one path get two
        // temporary files, and the last to finish wins whole.
        let target = OutputFile::create(path)?;
        let written = crate::budget::try_vec("dataset writer", n_observations, false)?;
        let file = hdf5::File::create(target.temp_path())
            .map_err(|e| h5_error(path, "cannot create the file", e))?;
        let mut writer = DatasetWriter {
            path: path.to_path_buf(),
            target: Some(target),
            open: None,
            n_kernels: kernels.names.len(),
            image_shape: (h, w),
            max_defects,
            n_types,
            written,
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
        let types = Column::create(&file, path, "types", n, &[s])?;
        let type_kernel_index = Column::create(&file, path, "type_kernel_index", n, &[n_types])?;
        writer.open = Some(OpenFile {
            file,
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
            types,
            type_kernel_index,
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
        let (positions, amplitudes, types) = pad_defects(block, s);
        let type_kernels = block.type_kernels.as_standard_layout();
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
        open.types
            .write_rows(&path, start, types.as_slice().unwrap_or_default())?;
        open.type_kernel_index.write_rows(
            &path,
            start,
            type_kernels.as_slice().unwrap_or_default(),
        )?;
        for done in &mut self.written[start..start + n] {
            *done = true;
        }
        Ok(())
    }

    /// Adds dataset `name` of `shape` (row-major `data`) beside the layout's own: a truth
    /// a generator keeps with its observations (the real-scan preset's `excluded`,
    /// `ring_period_m`, ...). Deflated in chunks of one row of the first axis; readers that
    /// do not know the name ignore it ([`super::read_extra`] reads it).
    pub fn write_extra<T: hdf5::H5Type>(
        &mut self,
        name: &str,
        shape: &[usize],
        data: &[T],
    ) -> Result<()> {
        let path = self.path.clone();
        if shape.iter().product::<usize>() != data.len() || shape.is_empty() {
            return Err(Error::invalid(format!(
                "{}: dataset '{name}' of shape {shape:?} given {} values",
                show(&path),
                data.len()
            )));
        }
        let Some(open) = self.open.as_mut() else {
            return Err(Error::invalid("dataset writer used after an error"));
        };
        let view = ndarray::ArrayViewD::from_shape(shape, data).expect("checked shape");
        let mut builder = open.file.new_dataset_builder().with_data(view);
        if !data.is_empty() {
            let mut chunk = shape.to_vec();
            if chunk.len() > 1 {
                chunk[0] = 1;
            }
            builder = builder.chunk(chunk).deflate(DEFLATE_LEVEL);
        }
        builder
            .create(name)
            .map(|_| ())
            .map_err(|e| h5_error(&path, &format!("cannot write dataset '{name}'"), e))
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
        if let Some(m) = dims_mismatch("observations", &[on, oh, ow], &[n, h, w]) {
            return bad(m);
        }
        if let Some(m) = dims_mismatch("masks", block.masks.shape(), &[n, h, w]) {
            return bad(m);
        }
        let (pn, ps, p2) = block.positions.dim();
        if pn != n || p2 != 2 || ps > self.max_defects {
            return bad(format!(
                "block positions are {pn}x{ps}x{p2}, expected {n}xSx2 with S <= {}",
                self.max_defects
            ));
        }
        if let Some(m) = dims_mismatch("amplitudes", block.amplitudes.shape(), &[n, ps]) {
            return bad(m);
        }
        if let Some((i, k)) = first_at_least(
            block.kernel_index.iter().copied().enumerate(),
            self.n_kernels,
        ) {
            return bad(format!(
                "observation {} refers to kernel {k}, but there are {} kernels",
                start + i,
                self.n_kernels
            ));
        }
        if let Some(m) = dims_mismatch("types", block.types.shape(), &[n, ps]) {
            return bad(m);
        }
        let want = [n, self.n_types];
        if let Some(m) = dims_mismatch("type_kernels", block.type_kernels.shape(), &want) {
            return bad(format!("{m} (one kernel per defect type)"));
        }
        if let Some((i, t)) = first_at_least(rows(&block.types), self.n_types) {
            return bad(format!(
                "observation {} has a defect of type {t}, but there are {} types",
                start + i,
                self.n_types
            ));
        }
        if let Some((i, k)) = first_at_least(rows(&block.type_kernels), self.n_kernels) {
            return bad(format!(
                "observation {} has a defect type made by kernel {k}, but there are {} kernels",
                start + i,
                self.n_kernels
            ));
        }
        if let Some((i, _)) = block
            .kernel_index
            .iter()
            .zip(block.type_kernels.column(0))
            .enumerate()
            .find(|(_, (a, b))| a != b)
        {
            return bad(format!(
                "observation {}: kernel_index and the kernel of type 0 differ",
                start + i
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
            types,
            type_kernel_index,
        } = open;
        drop((observations, masks, kernel_index, positions, amplitudes));
        drop((types, type_kernel_index));
        file.close()
            .map_err(|e| h5_error(&self.path, "cannot close the file", e))?;
        match self.target.take() {
            Some(t) => t.commit(),
            None => Err(Error::invalid("dataset writer used after an error")),
        }
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        // Unfinished (error or early return): close the HDF5 handles first, then dropping the
        // temporary file removes it, so no half-written file is left behind.
        drop(self.open.take());
        drop(self.target.take());
    }
}

/// Temporary files a writer of `path` leaves beside it (`.NAME.*.partial`): for tests.
#[cfg(test)]
pub(super) fn temporaries(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    let f = p.file_name().map(|n| n.to_string_lossy().into_owned());
                    f.is_some_and(|f| {
                        f.starts_with(&format!(".{name}.")) && f.ends_with(".partial")
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// "block {what} are AxB..., expected CxD..." when `got` is not `want`.
fn dims_mismatch(what: &str, got: &[usize], want: &[usize]) -> Option<String> {
    let x = |d: &[usize]| {
        d.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("x")
    };
    (got != want).then(|| format!("block {what} are {}, expected {}", x(got), x(want)))
}

/// `(row, value)` of every element of `a`.
fn rows<T: Copy>(a: &Array2<T>) -> impl Iterator<Item = (usize, T)> + '_ {
    a.indexed_iter().map(|((i, _), &v)| (i, v))
}

/// The first `(row, value)` whose value is `limit` or more (an index out of its table).
fn first_at_least<T: Copy + Into<u64>>(
    mut rows: impl Iterator<Item = (usize, T)>,
    limit: usize,
) -> Option<(usize, T)> {
    rows.find(|&(_, v)| v.into() >= limit as u64)
}

/// Positions `[N, S, 2]` and amplitudes `[N, S]` padded with NaN to `s` defect slots, and
/// types `[N, S]` padded with 0.
fn pad_defects(block: &ObservationTable, s: usize) -> (Array3<f32>, Array2<f32>, Array2<u8>) {
    let n = block.kernel_index.len();
    let ps = block.positions.dim().1;
    let mut positions = Array3::from_elem((n, s, 2), f32::NAN);
    let mut amplitudes = Array2::from_elem((n, s), f32::NAN);
    let mut types = Array2::zeros((n, s));
    positions
        .slice_mut(s![.., ..ps, ..])
        .assign(&block.positions);
    amplitudes.slice_mut(s![.., ..ps]).assign(&block.amplitudes);
    types.slice_mut(s![.., ..ps]).assign(&block.types);
    (positions, amplitudes, types)
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
    let t = obs.type_kernels.dim().1;
    let mut writer = DatasetWriter::create_typed(path, &ds.info, &ds.kernels, n, s, t)?;
    writer.write_block(0, obs)?;
    writer.finish()
}
