//! Array descriptors: pointer + length + dtype + shape + strides (in elements).

use super::{CError, CResult, qpik_status};
use std::ffi::c_void;

/// Element types of [`qpik_array`]. Values are fixed forever (0 is "not set").
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qpik_dtype {
    QPIK_F32 = 1,
    QPIK_F64 = 2,
    /// Masks only (0 or 1).
    QPIK_U8 = 3,
}

/// Memory order for [`qpik_array_2d`] and [`qpik_array_3d`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qpik_order {
    /// C / NumPy default: the last index varies fastest.
    QPIK_ROW_MAJOR = 0,
    /// MATLAB / Igor / Fortran: the first index varies fastest.
    QPIK_COL_MAJOR = 1,
}

/// Element types of images (data).
pub(crate) const FLOATS: &[qpik_dtype] = &[qpik_dtype::QPIK_F32, qpik_dtype::QPIK_F64];
/// Element types of masks and outputs that may be masks.
pub(crate) const FLOATS_OR_U8: &[qpik_dtype] = &[
    qpik_dtype::QPIK_F32,
    qpik_dtype::QPIK_F64,
    qpik_dtype::QPIK_U8,
];

/// Most dimensions a [`qpik_array`] can have.
pub const QPIK_MAX_DIMS: usize = 4;

/// Describes caller memory holding an array; qpik never keeps the pointer after a call.
///
/// Element `(i0, i1, ...)` lives at `data + (i0*strides[0] + i1*strides[1] + ...)` elements.
/// Images are indexed `(row, column)`; stacks of images `(image, row, column)`. Strides are
/// in elements (not bytes), at least 1, and must step over each other: sorted by size, each
/// stride exceeds the span of the smaller ones (true of every dense, transposed or sliced
/// layout; interleaved exotic layouts are refused even where they do not overlap).
/// `len` is the number of elements the buffer holds from `data` on: qpik checks every
/// strided access against it. Unused `shape`/`strides` entries are ignored.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qpik_array {
    pub data: *mut c_void,
    pub len: u64,
    /// A `qpik_dtype` value.
    pub dtype: u32,
    /// Number of dimensions, 1..=4.
    pub ndim: u32,
    pub shape: [i64; 4],
    pub strides: [i64; 4],
}

/// A dense 2-D array descriptor (`rows x cols`) in the given order; `len = rows*cols`.
/// `dtype` and `order` take `qpik_dtype` / `qpik_order` values. Pure; never fails (the
/// descriptor is checked when it is used).
#[unsafe(no_mangle)]
pub extern "C" fn qpik_array_2d(
    data: *mut c_void,
    dtype: u32,
    rows: i64,
    cols: i64,
    order: u32,
) -> qpik_array {
    let strides = if order == qpik_order::QPIK_COL_MAJOR as u32 {
        [1, rows, 0, 0]
    } else {
        [cols, 1, 0, 0]
    };
    qpik_array {
        data,
        len: (rows.max(0) as u64).saturating_mul(cols.max(0) as u64),
        dtype,
        ndim: 2,
        shape: [rows, cols, 0, 0],
        strides,
    }
}

/// A dense 3-D array descriptor (`n x rows x cols`, a stack of images) in the given order.
/// Column-major means MATLAB's `rows x cols x n` array seen as `(image, row, column)`:
/// strides `(rows*cols, 1, rows)`. Pure; never fails.
#[unsafe(no_mangle)]
pub extern "C" fn qpik_array_3d(
    data: *mut c_void,
    dtype: u32,
    n: i64,
    rows: i64,
    cols: i64,
    order: u32,
) -> qpik_array {
    let strides = if order == qpik_order::QPIK_COL_MAJOR as u32 {
        [rows.saturating_mul(cols), 1, rows, 0]
    } else {
        [rows.saturating_mul(cols), cols, 1, 0]
    };
    qpik_array {
        data,
        len: (n.max(0) as u64)
            .saturating_mul(rows.max(0) as u64)
            .saturating_mul(cols.max(0) as u64),
        dtype,
        ndim: 3,
        shape: [n, rows, cols, 0],
        strides,
    }
}

/// Largest extent of one dimension and largest element count qpik accepts.
const MAX_DIM: i64 = 1 << 24;
const MAX_ELEMENTS: u64 = 1 << 31;

/// A checked view of a [`qpik_array`].
pub(crate) struct ArrayRef {
    data: *mut c_void,
    pub dtype: qpik_dtype,
    pub shape: Vec<usize>,
    strides: Vec<usize>,
    name: String,
}

fn shape_err(m: String) -> CError {
    CError::new(qpik_status::QPIK_ERR_SHAPE, m)
}

impl ArrayRef {
    /// Check a descriptor: NULL, dtype, dimensions, strides, overlap and bounds.
    pub unsafe fn new(
        p: *const qpik_array,
        name: &str,
        ndims: &[usize],
        dtypes: &[qpik_dtype],
    ) -> CResult<Self> {
        if p.is_null() {
            return Err(CError::null(name));
        }
        let a = unsafe { p.read_unaligned() };
        if a.data.is_null() {
            return Err(CError::null(&format!("{name}->data")));
        }
        let dtype = match a.dtype {
            1 => qpik_dtype::QPIK_F32,
            2 => qpik_dtype::QPIK_F64,
            3 => qpik_dtype::QPIK_U8,
            d => {
                return Err(CError::new(
                    qpik_status::QPIK_ERR_DTYPE,
                    format!(
                        "{name}->dtype {d} is not a qpik_dtype (QPIK_F32 = 1, QPIK_F64 = 2, QPIK_U8 = 3)"
                    ),
                ));
            }
        };
        if !dtypes.contains(&dtype) {
            let names: Vec<&str> = dtypes.iter().map(|d| dtype_name(*d)).collect();
            return Err(CError::new(
                qpik_status::QPIK_ERR_DTYPE,
                format!(
                    "{name} is {} but this call takes {}",
                    dtype_name(dtype),
                    names.join(" or ")
                ),
            ));
        }
        let nd = a.ndim as usize;
        if !ndims.contains(&nd) {
            return Err(shape_err(format!(
                "{name} has {nd} dimensions but this call takes {ndims:?}"
            )));
        }
        let mut shape = Vec::with_capacity(nd);
        let mut strides = Vec::with_capacity(nd);
        let mut count: u64 = 1;
        for d in 0..nd {
            let (n, s) = (a.shape[d], a.strides[d]);
            if !(1..=MAX_DIM).contains(&n) {
                return Err(shape_err(format!(
                    "{name}->shape[{d}] = {n}; each dimension must be in 1..={MAX_DIM}"
                )));
            }
            if n > 1 && s < 1 {
                return Err(shape_err(format!(
                    "{name}->strides[{d}] = {s}; strides are in elements and must be at least 1"
                )));
            }
            count = count.saturating_mul(n as u64);
            shape.push(n as usize);
            strides.push(if n == 1 { 0 } else { s as usize });
        }
        if count > MAX_ELEMENTS {
            return Err(shape_err(format!(
                "{name} has {count} elements; qpik accepts at most {MAX_ELEMENTS}"
            )));
        }
        // Non-overlap: sorted by stride, each stride must step over everything before it.
        let mut order: Vec<usize> = (0..nd).filter(|&d| shape[d] > 1).collect();
        order.sort_by_key(|&d| strides[d]);
        let mut span: u128 = 0; // largest offset reachable by the dimensions so far
        for &d in &order {
            if (strides[d] as u128) <= span {
                return Err(shape_err(format!(
                    "{name}: strides {:?} make elements overlap for shape {:?}",
                    &a.strides[..nd],
                    &a.shape[..nd]
                )));
            }
            span += (shape[d] as u128 - 1) * strides[d] as u128;
        }
        if span >= a.len as u128 {
            return Err(shape_err(format!(
                "{name}: shape {:?} with strides {:?} reaches element {span} but len is {}",
                &a.shape[..nd],
                &a.strides[..nd],
                a.len
            )));
        }
        Ok(ArrayRef {
            data: a.data,
            dtype,
            shape,
            strides,
            name: name.to_string(),
        })
    }

    pub fn count(&self) -> usize {
        self.shape.iter().product()
    }

    /// Require an exact shape.
    pub fn expect_shape(&self, want: &[usize]) -> CResult<()> {
        if self.shape != want {
            return Err(shape_err(format!(
                "{} has shape {:?} but must be {:?}",
                self.name, self.shape, want
            )));
        }
        Ok(())
    }

    /// Element offsets in logical row-major order.
    fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.count();
        let nd = self.shape.len();
        let mut idx = vec![0usize; nd];
        let mut off = 0usize;
        (0..n).map(move |k| {
            if k > 0 {
                // Increment the multi-index (last dimension fastest).
                let mut d = nd - 1;
                loop {
                    idx[d] += 1;
                    off += self.strides[d];
                    if idx[d] < self.shape[d] {
                        break;
                    }
                    off -= self.strides[d] * idx[d];
                    idx[d] = 0;
                    d -= 1;
                }
            }
            off
        })
    }

    /// Read all elements as f32 in row-major order; `finite` rejects NaN and infinity.
    pub fn read_f32(&self, finite: bool) -> CResult<Vec<f32>> {
        let mut v = Vec::with_capacity(self.count());
        // SAFETY: every offset was checked against `len` in `new`.
        unsafe {
            match self.dtype {
                qpik_dtype::QPIK_F32 => {
                    let p = self.data as *const f32;
                    if self.is_dense_row_major() {
                        v.extend_from_slice(std::slice::from_raw_parts(p, self.count()));
                    } else {
                        v.extend(self.offsets().map(|o| p.add(o).read_unaligned()));
                    }
                }
                qpik_dtype::QPIK_F64 => {
                    let p = self.data as *const f64;
                    for (i, o) in self.offsets().enumerate() {
                        let x = p.add(o).read_unaligned();
                        if finite && x.is_finite() && x.abs() > f32::MAX as f64 {
                            return Err(CError::invalid(format!(
                                "{} holds {x:e} at flat index {i}, beyond the float32 range qpik computes in; rescale the data",
                                self.name
                            )));
                        }
                        v.push(x as f32);
                    }
                }
                qpik_dtype::QPIK_U8 => {
                    let p = self.data as *const u8;
                    v.extend(self.offsets().map(|o| *p.add(o) as f32));
                }
            }
        }
        if finite && let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(CError::new(
                qpik_status::QPIK_ERR_NOT_FINITE,
                format!(
                    "{} contains NaN or infinite values (first at flat index {i}); replace them (e.g. by interpolation) first",
                    self.name
                ),
            ));
        }
        Ok(v)
    }

    /// Read a binary mask (0 or 1 in any dtype) in row-major order.
    pub fn read_mask(&self) -> CResult<Vec<u8>> {
        let v = self.read_f32(false)?;
        Ok(crate::extract::mask::binary_mask(&v, &self.name)?)
    }

    /// Write row-major `values` into the caller's buffer, converting to its dtype.
    pub fn write_f32(&self, values: &[f32]) -> CResult<()> {
        if values.len() != self.count() {
            return Err(shape_err(format!(
                "{} holds {} elements but the result has {}",
                self.name,
                self.count(),
                values.len()
            )));
        }
        // SAFETY: every offset was checked against `len` in `new`; no two indices overlap.
        unsafe {
            match self.dtype {
                qpik_dtype::QPIK_F32 => {
                    let p = self.data as *mut f32;
                    if self.is_dense_row_major() {
                        std::ptr::copy_nonoverlapping(values.as_ptr(), p, values.len());
                    } else {
                        for (o, &x) in self.offsets().zip(values) {
                            p.add(o).write_unaligned(x);
                        }
                    }
                }
                qpik_dtype::QPIK_F64 => {
                    let p = self.data as *mut f64;
                    for (o, &x) in self.offsets().zip(values) {
                        p.add(o).write_unaligned(x as f64);
                    }
                }
                qpik_dtype::QPIK_U8 => {
                    let p = self.data as *mut u8;
                    for (o, &x) in self.offsets().zip(values) {
                        *p.add(o) = x.clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
        Ok(())
    }

    /// Write row-major f64 `values` (kept exact for f64 buffers).
    pub fn write_f64(&self, values: &[f64]) -> CResult<()> {
        if self.dtype != qpik_dtype::QPIK_F64 {
            let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
            return self.write_f32(&v);
        }
        if values.len() != self.count() {
            return Err(shape_err(format!(
                "{} holds {} elements but the result has {}",
                self.name,
                self.count(),
                values.len()
            )));
        }
        let p = self.data as *mut f64;
        // SAFETY: as in `write_f32`.
        unsafe {
            for (o, &x) in self.offsets().zip(values) {
                p.add(o).write_unaligned(x);
            }
        }
        Ok(())
    }

    /// Write row-major f64 `values` into the first `rows` entries along dimension 0 (the
    /// rest of the buffer is left as it was), converting to the buffer's dtype.
    pub fn write_f64_rows(&self, values: &[f64], rows: usize) -> CResult<()> {
        let per_row = self.shape[1..].iter().product::<usize>();
        if rows > self.shape[0] || values.len() != rows * per_row {
            return Err(shape_err(format!(
                "{} has {} rows of {per_row} but the result has {} values in {rows} rows",
                self.name,
                self.shape[0],
                values.len()
            )));
        }
        // SAFETY: as in `write_f32`; offsets run in row-major order, so the first
        // `rows * per_row` of them are the first `rows` rows.
        unsafe {
            for (o, &x) in self.offsets().zip(values) {
                match self.dtype {
                    qpik_dtype::QPIK_F64 => (self.data as *mut f64).add(o).write_unaligned(x),
                    qpik_dtype::QPIK_F32 => {
                        (self.data as *mut f32).add(o).write_unaligned(x as f32)
                    }
                    qpik_dtype::QPIK_U8 => {
                        *(self.data as *mut u8).add(o) = x.clamp(0.0, 255.0) as u8
                    }
                }
            }
        }
        Ok(())
    }

    fn is_dense_row_major(&self) -> bool {
        let mut expect = 1usize;
        for d in (0..self.shape.len()).rev() {
            if self.shape[d] > 1 && self.strides[d] != expect {
                return false;
            }
            expect *= self.shape[d];
        }
        (self.data as usize) % std::mem::align_of::<f32>() == 0
    }
}

fn dtype_name(d: qpik_dtype) -> &'static str {
    match d {
        qpik_dtype::QPIK_F32 => "QPIK_F32",
        qpik_dtype::QPIK_F64 => "QPIK_F64",
        qpik_dtype::QPIK_U8 => "QPIK_U8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &mut [f64], shape: &[i64], strides: &[i64]) -> qpik_array {
        let mut a = qpik_array {
            data: data.as_mut_ptr() as *mut c_void,
            len: data.len() as u64,
            dtype: qpik_dtype::QPIK_F64 as u32,
            ndim: shape.len() as u32,
            shape: [0; 4],
            strides: [0; 4],
        };
        a.shape[..shape.len()].copy_from_slice(shape);
        a.strides[..strides.len()].copy_from_slice(strides);
        a
    }

    #[test]
    fn column_major_reads_in_row_major_order() {
        // 2 x 3 matrix [[1,2,3],[4,5,6]] stored column-major.
        let mut d = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let a = desc(&mut d, &[2, 3], &[1, 2]);
        let r = unsafe { ArrayRef::new(&a, "x", &[2], &[qpik_dtype::QPIK_F64]) }
            .ok()
            .unwrap();
        assert_eq!(r.read_f32(true).ok().unwrap(), vec![1., 2., 3., 4., 5., 6.]);
        r.write_f32(&[10., 20., 30., 40., 50., 60.]).ok().unwrap();
        assert_eq!(d, [10., 40., 20., 50., 30., 60.]);
    }

    #[test]
    fn bad_descriptors_are_refused_with_the_right_status() {
        let mut d = [0.0; 6];
        let cases: [(&[i64], &[i64], qpik_status); 5] = [
            (&[2, 3], &[3, 1], qpik_status::QPIK_OK),
            (&[2, 3], &[1, 1], qpik_status::QPIK_ERR_SHAPE), // overlap
            (&[2, 4], &[4, 1], qpik_status::QPIK_ERR_SHAPE), // past len
            (&[0, 3], &[3, 1], qpik_status::QPIK_ERR_SHAPE), // zero dim
            (&[2, 3], &[3, 0], qpik_status::QPIK_ERR_SHAPE), // zero stride
        ];
        for (shape, strides, want) in cases {
            let a = desc(&mut d, shape, strides);
            let got = match unsafe { ArrayRef::new(&a, "x", &[2], &[qpik_dtype::QPIK_F64]) } {
                Ok(_) => qpik_status::QPIK_OK,
                Err(e) => e.status,
            };
            assert_eq!(got, want, "shape {shape:?} strides {strides:?}");
        }
        let mut a = desc(&mut d, &[2, 3], &[3, 1]);
        a.dtype = 9;
        let e = unsafe { ArrayRef::new(&a, "x", &[2], &[qpik_dtype::QPIK_F64]) };
        assert_eq!(e.err().map(|e| e.status), Some(qpik_status::QPIK_ERR_DTYPE));
    }
}
