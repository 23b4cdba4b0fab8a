//! Blind and multi-type extraction: defects and kernels from the map alone.

pub mod clean;
pub mod correlate;
