//! Kernel extraction: the networks of arXiv 2506.05325 ([`network`]), defect masks estimated
//! from a map ([`mask`]), error metrics ([`metrics`]) and evaluation on datasets ([`evaluate`]).

pub mod blind;
pub mod defects;
pub mod evaluate;
pub mod map;
pub mod mask;
pub mod metrics;
pub mod network;

pub use evaluate::{evaluate, evaluate_forward};
pub use mask::estimate_mask;
pub use metrics::{GroupMetrics, SampleMetrics, sample_metrics};
pub use network::{Extractor, Method, select_device};
