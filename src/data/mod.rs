//! Data in and out: the qpik HDF5 dataset file, the published CSV layout, Nanonis .sxm scans,
//! .3ds grids and .dat point spectra, Createc .dat scans (pictures are in [`crate::picture`]).
//!
//! Conventions (also stated in the crate docs):
//! - images are row-major `[row, col]`, row 0 at the top of a picture;
//! - positions are `(row, col)` in pixels, pixel centres at integer coordinates;
//! - lengths in files are metres (`*_m` attributes); a map's pixel size is metres everywhere
//!   ([`crate::units`]); kernel specs keep Angstrom (`pixel_size_a`).

use ndarray::{Array2, Array3};

pub mod assemble;
pub mod checked_read;
pub mod createc;
pub mod csv_import;
pub mod extraction_file;
pub mod hdf5_io;
pub mod isolate;
pub mod map_data;
pub mod map_file;
pub mod nanonis3ds;
pub mod nanonis_dat;
pub mod npy;
pub mod output_file;
pub mod provenance;
pub mod sxm;
#[cfg(all(test, unix))]
pub(crate) mod test_process;

/// `format` root attribute of every qpik dataset file.
pub const DATASET_FORMAT: &str = "qpik-dataset";
/// `version` root attribute written by this library.
pub const DATASET_VERSION: u32 = 1;

/// Split code of a kernel used in training.
pub const SPLIT_TRAIN: u8 = 0;
/// Split code of a held-out ("unseen") kernel.
pub const SPLIT_UNSEEN: u8 = 1;

/// The kernel table of a dataset: ground-truth single-scatterer images.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTable {
    /// `[K, H, W]`, impurity at pixel `(H/2, W/2)`, physical units (states/eV/Angstrom^2), not rescaled.
    pub kernels: Array3<f32>,
    /// `[K]` catalog or user names.
    pub names: Vec<String>,
    /// `[K]` rotation-symmetry label (n-fold; 1 = isotropic, the paper's convention).
    pub symmetry: Vec<u8>,
    /// `[K]` [`SPLIT_TRAIN`] or [`SPLIT_UNSEEN`].
    pub split: Vec<u8>,
    /// `[K]` pixel size of each kernel in metres.
    pub pixel_size_m: Vec<f64>,
}

/// The observation table: multi-defect images and what generated them.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationTable {
    /// `[N, H, W]` observed maps.
    pub observations: Array3<f32>,
    /// `[N, H, W]` binary defect maps (1 at the pixel nearest each defect).
    pub masks: Array3<u8>,
    /// `[N]` row of the kernel table each observation was made from.
    pub kernel_index: Vec<u32>,
    /// `[N, S, 2]` defect positions `(row, col)` in pixels; NaN where unused.
    pub positions: Array3<f32>,
    /// `[N, S]` defect amplitudes; NaN where unused.
    pub amplitudes: Array2<f32>,
    /// `[N, S]` type of each defect, a column of `type_kernels` (same slots as `positions`;
    /// 0 where unused). Files without a `types` dataset read as all 0.
    pub types: Array2<u8>,
    /// `[N, T]` row of the kernel table that made defect type `t` of each observation; column
    /// 0 equals `kernel_index`. Files without `type_kernel_index` read as `[N, 1]` = `kernel_index`.
    pub type_kernels: Array2<u32>,
}

/// Most defect types per observation a dataset file may hold (type codes are `u8`; the map
/// engine separates at most 8).
pub const MAX_DEFECT_TYPES: usize = 8;

impl ObservationTable {
    /// `types` (all 0, `[N, slots]`) and `type_kernels` (`[N, 1]` = `kernel_index`) of
    /// single-type observations.
    pub fn single_type(kernel_index: &[u32], slots: usize) -> (Array2<u8>, Array2<u32>) {
        let n = kernel_index.len();
        (
            Array2::zeros((n, slots)),
            Array2::from_shape_fn((n, 1), |(i, _)| kernel_index[i]),
        )
    }
}

/// Root attributes besides `format` and `version`.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetInfo {
    /// Common pixel size in metres, NaN when kernels differ (see [`KernelTable::pixel_size_m`]).
    pub pixel_size_m: f64,
    /// Seed the generator was run with (0 when imported).
    pub seed: u64,
    /// Generator settings as TOML text (reproduces the file with `qpik simulate dataset`).
    pub generator: String,
}

/// A whole dataset held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub info: DatasetInfo,
    pub kernels: KernelTable,
    pub observations: ObservationTable,
}
