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
pub use reader::{ChildOptions, DatasetReader, read_dataset};
pub use writer::{DatasetWriter, write_dataset};
