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
//! | `types`               | u8     | [N, S]    | defect type per slot; absent = all 0    |
//! | `type_kernel_index`   | u32    | [N, T]    | kernel row per type; absent = [N, 1]    |
//!
//! `types` and `type_kernel_index` come together or not at all (files of earlier writers
//! have neither: one type, `type_kernel_index` = `kernel_index`).
//!
//! Generators may add datasets of their own ([`DatasetWriter::write_extra`], read with
//! [`read_extra`]); readers ignore them. The real-scan preset
//! ([`crate::synthesis::real_scan::file`]) adds its truth:
//!
//! | dataset            | type | shape     | notes                                              |
//! |--------------------|------|-----------|----------------------------------------------------|
//! | `excluded`         | u8   | [N, H, W] | 1 where an outlier is (no kernel explains it)      |
//! | `ring_period_m`    | f64  | [N]       | Friedel period of the adatom kernel; NaN: lattice  |
//! | `core_radius_px`   | f64  | [N, T]    | per type: radius of the apparent-height core       |
//! | `kernel_radius_px` | u32  | [N, T]    | truth window `2R + 1` about (H/2, W/2) in `kernels` |
//! | `core_height`      | f64  | [N]       | adatom core height, ring units                     |
//! | `isotropic`        | u8   | [N]       | 1: the adatom kernel is isotropic                  |
//! | `tip_change`       | f64  | [N, 5]    | row, shift rows, shift cols, core and ripple scale; NaN row: none |
//! | `saturation`       | f64  | [N]       | clip level of the defect signal; NaN: none         |
//! | `zero_lines`       | u32  | [N]       | trailing lines of zeros                            |
//!
//! Every per-observation dataset is chunked along N only, about [`CHUNK_TARGET_BYTES`] per chunk
//! (32 images of 64 x 64 f32), compressed with shuffle (multi-byte types) + deflate level
//! [`DEFLATE_LEVEL`]. [`DatasetWriter`] compresses chunks in parallel and hands them to libhdf5
//! with direct chunk writes, so any HDF5 reader (h5py, MATLAB, h5dump) decodes them with the
//! standard filters.
//!
//! # Where things are
//! - `layout`: constants of the layout, type descriptors, error helpers;
//! - `compress`: parallel chunk compression and direct chunk writes;
//! - `writer`: [`DatasetWriter`] and [`write_dataset`];
//! - `schema`: what a file must hold, checked on opening (and the kernel table before writing);
//! - `reader`: [`DatasetReader`], [`read_dataset`], [`ChildOptions`];
//! - `child`: reading in a forked child: what the child sends and how the parent decodes it.

mod child;
mod compress;
mod layout;
mod reader;
mod schema;
mod writer;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_child;
#[cfg(test)]
mod tests_reader;
#[cfg(test)]
mod tests_schema;
#[cfg(test)]
mod tests_types;
#[cfg(test)]
mod tests_writer;

pub use layout::{CHUNK_TARGET_BYTES, DEFLATE_LEVEL};
pub use reader::{ChildOptions, DatasetReader, read_dataset, read_extra};
pub use writer::{DatasetWriter, write_dataset};
