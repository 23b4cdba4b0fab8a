//! Parallel chunk compression: each per-observation dataset is written chunk by chunk,
//! shuffled and deflated on the rayon pool exactly as HDF5's filter pipeline would, and handed
//! to libhdf5 with direct chunk writes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use super::layout::{DEFLATE_LEVEL, chunk_rows, h5_write_error as h5_error, show};
use crate::{Error, Result};

/// An element type of a per-observation dataset, with the byte shuffle HDF5's filter applies.
pub(super) trait Element: hdf5::H5Type + Copy + Default + Send + Sync {
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

/// A partly filled chunk waiting for its other rows.
struct Pending<T> {
    data: Vec<T>,
    rows_filled: usize,
}

/// One per-observation dataset being written chunk by chunk.
pub(super) struct Column<T: Element> {
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
    pub(super) fn create(
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
    pub(super) fn write_rows(&mut self, path: &Path, start: usize, data: &[T]) -> Result<()> {
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
