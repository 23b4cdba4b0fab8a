//! The child-process protocol of [`DatasetReader`]: when reading is isolated, how long a child
//! may take, forking it, what it sends back (the header of an opened file; observations block
//! by block, seven arrays each) and how the parent decodes it or names the way it failed.

use std::ops::Range;
use std::path::Path;

use ndarray::{Array2, Array3};

use super::layout::show;
use super::reader::{ChildOptions, DatasetReader, Source, check_types};
use crate::data::isolate::{Child, Ended, Sender, bytes_of, bytes_of_mut, signal_name};
use crate::data::{DatasetInfo, KernelTable, ObservationTable};
use crate::{Error, Result};

/// on; `off`, `0`, `no` or `false` turn it off). Only where `fork` exists.
pub(super) fn isolation_enabled() -> bool {
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
pub(super) fn time_limit(given: Option<std::time::Duration>, bytes: u64) -> std::time::Duration {
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
pub(super) fn spawn_reader(
    path: &Path,
    limit: std::time::Duration,
    work: impl FnOnce(&mut Sender) -> Result<()>,
) -> Result<Child> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(show(path), e))?;
    // The child keeps the descriptors of this very file: libhdf5 reuses a file it has open.
    #[cfg(unix)]
    let keep =
        |fork: &mut dyn FnMut(&[i32]) -> i64| fork(&crate::data::isolate::descriptors_of(&meta));
    #[cfg(not(unix))]
    let keep = |fork: &mut dyn FnMut(&[i32]) -> i64| fork(&[]);
    Child::spawn(limit, |fork| hdf5::sync::sync(|| keep(fork)), work).map_err(|e| ended(path, e))
}

/// The error for a child reading `path` that did not deliver.
pub(super) fn ended(path: &Path, why: Ended) -> Error {
    let damaged = |how: String| Error::Hdf5 {
        path: show(path),
        message: format!(
            "libhdf5 {how} while reading this file, so the file is damaged or not a valid HDF5 \
             file (qpik reads dataset files in a separate process, so nothing else is affected)"
        ),
    };
    match why {
        Ended::Work(Error::Format { path: p, message }) if p.is_empty() => Error::Format {
            path: show(path),
            message,
        },
        Ended::Work(e) => e,
        Ended::Died {
            signal: Some(libc::SIGABRT),
            ..
        } => Error::Hdf5 {
            path: show(path),
            message: "the process reading this file aborted (SIGABRT): libhdf5 failed a check on \
                      the damaged file, or the reader ran out of memory (qpik reads dataset files \
                      in a separate process, so nothing else is affected)"
                .to_string(),
        },
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
    pub(super) fn read_in_child(
        &self,
        range: Range<usize>,
        options: &ChildOptions,
    ) -> Result<ObservationTable> {
        let path = self.path.as_path();
        let rows = range.len();
        let (h, w) = self.image_shape();
        let s = self.max_defects;
        let t = self.n_types;
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
        // T <= MAX_DEFECT_TYPES (checked on opening), so rows * t cannot overflow here.
        let type_cells = rows.checked_mul(t).ok_or_else(too_big)?;
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
            types: Array2::from_shape_vec((rows, s), zeros(slots).ok_or_else(too_big)?)
                .expect("shape"),
            type_kernels: Array2::from_shape_vec((rows, t), zeros(type_cells).ok_or_else(too_big)?)
                .expect("shape"),
        };
        if rows == 0 {
            return Ok(out);
        }
        let block = (options.block_bytes / self.row_bytes()).max(1);
        let expected = (self.n, h, w, s, self.kernels.names.len(), t);
        let limit = time_limit(options.time_limit, (rows * self.row_bytes()) as u64);
        let mut child = spawn_reader(path, limit, |tx| {
            let reader = Self::open_in_process(path)?;
            let found = (
                reader.n,
                h,
                w,
                reader.max_defects,
                reader.kernels.names.len(),
                reader.n_types,
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
                        tx.send(bytes_of(t.types.as_slice().expect("standard")))?;
                        tx.send(bytes_of(t.type_kernels.as_slice().expect("standard")))?;
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
            let types = out.types.as_slice_mut().expect("standard layout");
            let tk = out.type_kernels.as_slice_mut().expect("standard layout");
            for b in (0..rows).step_by(block) {
                let e = (b + block).min(rows);
                child.recv_into(bytes_of_mut(&mut obs[b * h * w..e * h * w]))?;
                child.recv_into(bytes_of_mut(&mut masks[b * h * w..e * h * w]))?;
                child.recv_into(bytes_of_mut(&mut out.kernel_index[b..e]))?;
                child.recv_into(bytes_of_mut(&mut pos[b * s * 2..e * s * 2]))?;
                child.recv_into(bytes_of_mut(&mut amp[b * s..e * s]))?;
                child.recv_into(bytes_of_mut(&mut types[b * s..e * s]))?;
                child.recv_into(bytes_of_mut(&mut tk[b * t..e * t]))?;
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
        let kernel_index = ndarray::Array1::from(out.kernel_index.clone());
        check_types(
            path,
            range.start,
            &kernel_index,
            &out.types,
            &out.type_kernels,
            nk,
        )
        .map_err(|e| ended(path, Ended::Protocol(e.to_string())))?;
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
pub(super) fn encode_header(r: &DatasetReader) -> Vec<u8> {
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
            r.n_types as u64,
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
#[allow(clippy::type_complexity)]
pub(super) fn decode_header(
    bytes: &[u8],
) -> Option<(DatasetInfo, KernelTable, usize, usize, usize)> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        let part = bytes.get(at..end)?;
        at = end;
        Some(part)
    };
    let mut head = [0u64; 8];
    for v in &mut head {
        *v = u64::from_le_bytes(take(8)?.try_into().ok()?);
    }
    let [px, seed, n, s, nk, h, w, t] = head;
    let [n, s, t, nk, h, w] = [n, s, t, nk, h, w].map(|v| usize::try_from(v).ok());
    let (n, s, t, nk, h, w) = (n?, s?, t?, nk?, h?, w?);
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
    Some((info, table, n, s, t))
}
