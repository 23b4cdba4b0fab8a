//! Reading a dataset file: [`DatasetReader`] (the kernel table at once, observations by
//! range, in this process or in a forked child), [`ChildOptions`] and [`read_dataset`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Ix1, Ix2, Ix3, s};

use super::child::{
    decode_header, encode_header, ended, isolation_enabled, spawn_reader, time_limit,
};
use super::layout::{F32, F64, U8, U32, U64, h5_error, show};
use super::schema::{
    open_checked, open_file, read_kernels, read_number_attr, read_string_attr, read_version,
};
use crate::data::isolate::Ended;
use crate::data::{
    DATASET_FORMAT, DATASET_VERSION, Dataset, DatasetInfo, KernelTable, MAX_DEFECT_TYPES,
    ObservationTable, SPLIT_TRAIN, SPLIT_UNSEEN,
};
use crate::{Error, Result};

/// Most defect slots per observation a file may declare: the generator's limit on
/// `count_max` ([`crate::synthesis::DefectConfig::validate`]).
pub const MAX_DEFECT_SLOTS: usize = 100_000;

/// Reads a qpik dataset file in parts: the kernel table at once, observations by range.
///
/// By default ([`DatasetReader::open`]) libhdf5 never runs on the file in the calling
/// process: a forked child reads each part and streams it back ([`crate::data::isolate`]), so a
/// damaged file that crashes or hangs libhdf5 gives an [`Error::Hdf5`] instead of taking the
/// calling program down. `QPIK_DATASET_CHECK=off` (or [`DatasetReader::open_in_process`])
/// reads in the calling process; `QPIK_DATASET_CHECK_TIMEOUT_S` sets the time allowed per
/// read (default 10 s plus 1 s per 10 MB of uncompressed data).
pub struct DatasetReader {
    pub(super) path: PathBuf,
    pub(super) info: DatasetInfo,
    pub(super) kernels: KernelTable,
    pub(super) n: usize,
    pub(super) max_defects: usize,
    /// Defect types T per observation (1 when the file has no `type_kernel_index`).
    pub(super) n_types: usize,
    pub(super) source: Source,
}

/// Where [`DatasetReader`] runs libhdf5.
pub(super) enum Source {
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
pub(super) struct Handles {
    observations: hdf5::Dataset,
    masks: hdf5::Dataset,
    kernel_index: hdf5::Dataset,
    positions: hdf5::Dataset,
    amplitudes: hdf5::Dataset,
    /// `types` and `type_kernel_index`, absent from single-type files of earlier versions.
    typed: Option<(hdf5::Dataset, hdf5::Dataset)>,
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
        if max_defects > MAX_DEFECT_SLOTS {
            return Err(fmt_err(format!(
                "dataset 'positions' declares {max_defects} defect slots per observation; qpik writes at most {MAX_DEFECT_SLOTS} (the damaged or crafted file is refused)"
            )));
        }
        let (amplitudes, ashape) = open_checked(&file, path, "amplitudes", &F32, 2)?;
        if ashape != [n, max_defects] {
            return Err(fmt_err(format!(
                "dataset 'amplitudes' has shape {ashape:?}, expected [{n}, {max_defects}] like 'positions'"
            )));
        }
        debug_assert_eq!(kernels.names.len(), nk);
        let (typed, n_types) = open_types(&file, path, n, max_defects)?;
        Ok(DatasetReader {
            path: path.to_path_buf(),
            info,
            kernels,
            n,
            max_defects,
            n_types,
            source: Source::InProcess(Handles {
                observations,
                masks,
                kernel_index,
                positions,
                amplitudes,
                typed,
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
        let (info, kernels, n, max_defects, n_types) = decode_header(&header)
            .filter(|(_, k, _, _, t)| {
                k.split
                    .iter()
                    .all(|&v| v == SPLIT_TRAIN || v == SPLIT_UNSEEN)
                    && (1..=MAX_DEFECT_TYPES).contains(t)
            })
            .ok_or_else(|| ended(path, Ended::Protocol("garbled dataset header".into())))?;
        Ok(DatasetReader {
            path: path.to_path_buf(),
            info,
            kernels,
            n,
            max_defects,
            n_types,
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

    /// Defect types T per observation: columns of [`ObservationTable::type_kernels`]
    /// (1 for files without types).
    pub fn n_types(&self) -> usize {
        self.n_types
    }

    /// Reads observations `range` (and their masks, kernel indices, positions, amplitudes,
    /// defect types and the kernel of each type).
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

    /// Bytes of one observation row across the seven per-observation datasets.
    pub(super) fn row_bytes(&self) -> usize {
        let (h, w) = self.image_shape();
        h.saturating_mul(w)
            .saturating_mul(5)
            .saturating_add(self.max_defects.saturating_mul(13))
            .saturating_add(4)
            .saturating_add(self.n_types.saturating_mul(4))
    }

    pub(super) fn read_here(
        &self,
        handles: &Handles,
        range: Range<usize>,
    ) -> Result<ObservationTable> {
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
            .read_slice::<f32, _, Ix2>(s![r.clone(), ..])
            .map_err(err("amplitudes"))?;
        let (types, type_kernels) = match &handles.typed {
            Some((types, type_kernels)) => (
                types
                    .read_slice::<u8, _, Ix2>(s![r.clone(), ..])
                    .map_err(err("types"))?,
                type_kernels
                    .read_slice::<u32, _, Ix2>(s![r, ..])
                    .map_err(err("type_kernel_index"))?,
            ),
            None => ObservationTable::single_type(
                kernel_index.as_slice().unwrap_or_default(),
                self.max_defects,
            ),
        };
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
        check_types(path, range.start, &kernel_index, &types, &type_kernels, nk)?;
        let px = self.kernels.kernels.dim().1 * self.kernels.kernels.dim().2;
        if let Some((i, v)) = masks.iter().enumerate().find(|(_, v)| **v > 1) {
            return Err(Error::format(
                show(path),
                format!(
                    "dataset 'masks' holds {v} (observation {}, pixel {}); a mask is 0 or 1",
                    range.start + i / px.max(1),
                    i % px.max(1)
                ),
            ));
        }
        Ok(ObservationTable {
            observations,
            masks,
            kernel_index: kernel_index.to_vec(),
            positions,
            amplitudes,
            types,
            type_kernels,
        })
    }
}

/// Opens `types` `[N, S]` and `type_kernel_index` `[N, T]` when the file has them (both or
/// neither); returns them and T (1 when absent).
fn open_types(
    file: &hdf5::File,
    path: &Path,
    n: usize,
    slots: usize,
) -> Result<(Option<(hdf5::Dataset, hdf5::Dataset)>, usize)> {
    let fmt_err = |m: String| Error::format(show(path), m);
    match (
        file.link_exists("types"),
        file.link_exists("type_kernel_index"),
    ) {
        (false, false) => return Ok((None, 1)),
        (true, true) => {}
        (has_types, _) => {
            let (have, miss) = if has_types {
                ("types", "type_kernel_index")
            } else {
                ("type_kernel_index", "types")
            };
            return Err(fmt_err(format!(
                "dataset '{have}' without '{miss}': a typed dataset needs both"
            )));
        }
    }
    let (types, tshape) = open_checked(file, path, "types", &U8, 2)?;
    if tshape != [n, slots] {
        return Err(fmt_err(format!(
            "dataset 'types' has shape {tshape:?}, expected [{n}, {slots}] like 'positions'"
        )));
    }
    let (tki, kshape) = open_checked(file, path, "type_kernel_index", &U32, 2)?;
    if kshape[0] != n || !(1..=MAX_DEFECT_TYPES).contains(&kshape[1]) {
        return Err(fmt_err(format!(
            "dataset 'type_kernel_index' has shape {kshape:?}, expected [{n}, T] with T in 1..={MAX_DEFECT_TYPES}"
        )));
    }
    Ok((Some((types, tki)), kshape[1]))
}

/// Every defect type is a column of `type_kernels`, every type's kernel a row of the kernel
/// table, and type 0's kernel the observation's `kernel_index` (rows counted from `first`).
pub(super) fn check_types(
    path: &Path,
    first: usize,
    kernel_index: &Array1<u32>,
    types: &Array2<u8>,
    type_kernels: &Array2<u32>,
    nk: usize,
) -> Result<()> {
    let t = type_kernels.dim().1;
    let bad = |m: String| Err(Error::format(show(path), m));
    if let Some(((i, _), &v)) = types.indexed_iter().find(|&(_, &v)| v as usize >= t) {
        return bad(format!(
            "dataset 'types' row {} has type {v}, but 'type_kernel_index' has {t} types",
            first + i
        ));
    }
    if let Some(((i, _), &k)) = type_kernels
        .indexed_iter()
        .find(|&(_, &k)| k as usize >= nk)
    {
        return bad(format!(
            "dataset 'type_kernel_index' row {} refers to kernel {k}, but the file has {nk} kernels",
            first + i
        ));
    }
    if let Some(i) =
        (0..kernel_index.len()).find(|&i| t > 0 && type_kernels[[i, 0]] != kernel_index[i])
    {
        return bad(format!(
            "dataset 'type_kernel_index' row {} starts with kernel {}, but 'kernel_index' says {}",
            first + i,
            type_kernels[[i, 0]],
            kernel_index[i]
        ));
    }
    Ok(())
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

/// Dataset `name` of a dataset file that the layout does not define (written by
/// [`super::DatasetWriter::write_extra`]), or `None` when the file has none by that name.
pub fn read_extra<T: hdf5::H5Type>(path: &Path, name: &str) -> Result<Option<ndarray::ArrayD<T>>> {
    let file = super::schema::open_file(path)?;
    let Ok(ds) = file.dataset(name) else {
        return Ok(None);
    };
    super::schema::check_declared_size(path, name, &ds.shape(), std::mem::size_of::<T>())?;
    ds.read_dyn::<T>()
        .map(Some)
        .map_err(|e| super::layout::h5_error(path, &format!("cannot read dataset '{name}'"), e))
}
