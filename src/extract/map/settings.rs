//! Settings of the map engine, with defaults and range checks.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which background the fit carries beside the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Background {
    /// One constant.
    Constant,
    /// A plane `b0 + b1 x + b2 y`.
    Plane,
    /// A plane and one offset per scan line (row), as left by a drifting tip height.
    PlaneAndLines,
}

/// The weight of a penalty on the kernel (its smoothness, its decay away from the impurity).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// Chosen per map by the held-out score over a grid of weights.
    Auto,
    /// This weight, relative to the data term's mean curvature (0 = none).
    Fixed(f64),
}

impl Weight {
    /// The fixed weight, or `auto` when chosen by held-out score.
    pub fn fixed_or(self, auto: f64) -> f64 {
        match self {
            Weight::Fixed(v) => v,
            Weight::Auto => auto,
        }
    }
}

/// How strongly the kernel is smoothed (a penalty on its squared gradient).
pub type Smoothness = Weight;

/// The symmetry the kernel is projected onto, about the impurity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SymmetryChoice {
    /// None, 2-, 3-, 4- or 6-fold, isotropic: the one with the best held-out score.
    Auto,
    /// No projection.
    None,
    /// n-fold rotation about the impurity (n = 2, 3, 4 or 6; 1 = isotropic, as the catalog
    /// labels).
    Rotation(u32),
    /// n-fold rotation and mirror lines through the impurity (n = 0: one mirror line only, the
    /// group `m`; 2, 3, 4, 6: `2mm`, `3m`, `4mm`, `6mm`); the lines' angle is found from the
    /// kernel ([`super::symmetry`]).
    Mirror(u32),
}

impl SymmetryChoice {
    /// The names every interface accepts.
    pub const NAMES: &'static str =
        "auto, none, isotropic (or 1), 2, 3, 4, 6, m, 2mm, 3m, 4mm or 6mm";

    /// Parse `auto`, `none`, a rotation order (`1` or `isotropic`, 2, 3, 4, 6) or a group
    /// with mirrors (`m`, `2mm`, `3m`, `4mm`, `6mm`); the message lists [`Self::NAMES`].
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        let choice = match t.as_str() {
            "auto" => SymmetryChoice::Auto,
            "none" | "0" => SymmetryChoice::None,
            "isotropic" | "1" => SymmetryChoice::Rotation(1),
            "2" | "3" | "4" | "6" => SymmetryChoice::Rotation(t.parse().unwrap_or(0)),
            "m" => SymmetryChoice::Mirror(0),
            "2mm" => SymmetryChoice::Mirror(2),
            "3m" => SymmetryChoice::Mirror(3),
            "4mm" => SymmetryChoice::Mirror(4),
            "6mm" => SymmetryChoice::Mirror(6),
            _ => return Err(format!("symmetry {text:?}: use {}", Self::NAMES)),
        };
        Ok(choice)
    }
}

/// How many defect types (one kernel each) the blind search separates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypeCount {
    /// 1 to [`MapSettings::MAX_AUTO_TYPES`]: a further type is kept while it pays for its
    /// kernel and its defects (at least three) in residual.
    Auto,
    /// Exactly this many (1 to [`MapSettings::MAX_TYPES`]).
    Fixed(usize),
}

impl TypeCount {
    /// The most types a search with this setting may find.
    pub fn most(self) -> usize {
        match self {
            TypeCount::Fixed(t) => t,
            TypeCount::Auto => MapSettings::MAX_AUTO_TYPES,
        }
    }
}

/// Every setting of [`super::extract_map`] and [`crate::extract::blind::extract_blind`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSettings {
    /// Kernel size S in pixels, odd (an even size is refused, naming the odd sizes beside
    /// it), 3 to [`MapSettings::MAX_KERNEL`]; `None` picks it from the defect spacing (odd, at
    /// most [`MapSettings::MAX_AUTO_KERNEL`] and the map's smaller side).
    pub kernel_size: Option<usize>,
    pub symmetry: SymmetryChoice,
    pub background: Background,
    pub smoothness: Smoothness,
    /// How strongly the kernel is drawn to 0 away from the impurity: a penalty
    /// `decay (r / R)^2 K(r)^2` at distance r from the impurity, R = S/2.
    #[serde(default = "auto_weight")]
    pub decay: Weight,
    /// Bootstrap replicates for the kernel's standard error (0 = none).
    pub bootstrap: usize,
    /// Side of the square blocks of the held-out split and the bootstrap, in pixels;
    /// `None` = the kernel size.
    pub block_px: Option<usize>,
    /// How far defect positions may move from where they were given, in pixels, as they are
    /// refined with the kernel (0 = keep them as given). Masks give whole pixels and thermal
    /// drift moves defects, so the default lets them move 1.5 pixels.
    pub refine_positions_px: f64,
    /// Alternations between the kernel and the amplitudes.
    pub outer_iterations: usize,
    /// Conjugate-gradient iterations per linear solve, at most.
    pub cg_iterations: usize,
    /// Seed of the held-out split and the bootstrap.
    pub seed: u64,
    /// Memory the extraction may use, in bytes; larger inputs are refused before allocating.
    pub memory_budget_bytes: u64,
    /// Blind search: look for defects in the map itself, beyond any that are given (always on
    /// when none are given).
    #[serde(default)]
    pub blind: bool,
    /// Defect types of a blind search; given defects are one type of their own.
    #[serde(default = "one_type")]
    pub types: TypeCount,
    /// A blind search accepts a defect when fitting it lowers the residual by more than this
    /// many noise standard deviations (in the matched filter's units).
    #[serde(default = "default_detection_sigma")]
    pub detection_sigma: f64,
}

fn auto_weight() -> Weight {
    Weight::Auto
}

fn one_type() -> TypeCount {
    TypeCount::Fixed(1)
}

fn default_detection_sigma() -> f64 {
    MapSettings::DEFAULT_DETECTION_SIGMA
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            kernel_size: None,
            symmetry: SymmetryChoice::Auto,
            background: Background::Plane,
            smoothness: Smoothness::Auto,
            decay: Weight::Auto,
            bootstrap: 8,
            block_px: None,
            refine_positions_px: 1.5,
            outer_iterations: 4,
            cg_iterations: 60,
            seed: 0,
            memory_budget_bytes: Self::DEFAULT_MEMORY_BUDGET,
            blind: false,
            types: TypeCount::Fixed(1),
            detection_sigma: Self::DEFAULT_DETECTION_SIGMA,
        }
    }
}

impl MapSettings {
    /// Largest kernel chosen automatically.
    pub const MAX_AUTO_KERNEL: usize = 129;
    /// Largest kernel accepted at all.
    pub const MAX_KERNEL: usize = 513;
    /// Default memory budget: 4 GiB.
    pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;
    /// Most defect types (kernels) of one extraction.
    pub const MAX_TYPES: usize = 8;
    /// Most types tried by `types = auto`.
    pub const MAX_AUTO_TYPES: usize = 3;
    /// Default detection threshold of the blind search, in noise standard deviations.
    pub const DEFAULT_DETECTION_SIGMA: f64 = 5.0;

    /// Range checks, with the setting named in the message.
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.kernel_size
            && !(3..=Self::MAX_KERNEL).contains(&s)
        {
            return Err(Error::invalid(format!(
                "kernel size {s} is out of range: use 3 to {} pixels",
                Self::MAX_KERNEL
            )));
        }
        if let Some(s) = self.kernel_size
            && s % 2 == 0
        {
            return Err(Error::invalid(format!(
                "kernel size {s} is even: the impurity sits on the kernel's centre pixel, so the size must be odd; use {} or {}",
                s - 1,
                s + 1
            )));
        }
        if let SymmetryChoice::Rotation(n) = self.symmetry
            && !matches!(n, 1 | 2 | 3 | 4 | 6)
        {
            return Err(Error::invalid(format!(
                "symmetry {n} is not a lattice rotation order: use auto, none, 1 (isotropic), 2, 3, 4 or 6"
            )));
        }
        if let SymmetryChoice::Mirror(n) = self.symmetry
            && !matches!(n, 0 | 2 | 3 | 4 | 6)
        {
            return Err(Error::invalid(format!(
                "symmetry with mirrors of order {n} is not a lattice point group: use m, 2mm, 3m, 4mm or 6mm"
            )));
        }
        for (name, weight) in [("smoothness", self.smoothness), ("decay", self.decay)] {
            if let Weight::Fixed(w) = weight
                && !(w.is_finite() && (0.0..=1e6).contains(&w))
            {
                return Err(Error::invalid(format!(
                    "{name} {w} is out of range: use auto or a number from 0 to 1e6"
                )));
            }
        }
        if self.bootstrap > 256 {
            return Err(Error::invalid(format!(
                "bootstrap {} is out of range: use 0 (off) to 256 replicates",
                self.bootstrap
            )));
        }
        if let Some(b) = self.block_px
            && !(4..=4096).contains(&b)
        {
            return Err(Error::invalid(format!(
                "block size {b} is out of range: use 4 to 4096 pixels"
            )));
        }
        if !(self.refine_positions_px.is_finite()
            && (0.0..=16.0).contains(&self.refine_positions_px))
        {
            return Err(Error::invalid(format!(
                "position refinement {} px is out of range: use 0 (off) to 16 pixels",
                self.refine_positions_px
            )));
        }
        if !(1..=100).contains(&self.outer_iterations) {
            return Err(Error::invalid(format!(
                "outer iterations {} is out of range: use 1 to 100",
                self.outer_iterations
            )));
        }
        if !(1..=10_000).contains(&self.cg_iterations) {
            return Err(Error::invalid(format!(
                "CG iterations {} is out of range: use 1 to 10000",
                self.cg_iterations
            )));
        }
        if let TypeCount::Fixed(t) = self.types
            && !(1..=Self::MAX_TYPES).contains(&t)
        {
            return Err(Error::invalid(format!(
                "{t} defect types is out of range: use auto or 1 to {}",
                Self::MAX_TYPES
            )));
        }
        if !(self.detection_sigma.is_finite() && (1.0..=100.0).contains(&self.detection_sigma)) {
            return Err(Error::invalid(format!(
                "detection threshold {} sigma is out of range: use 1 to 100",
                self.detection_sigma
            )));
        }
        if self.memory_budget_bytes < (1 << 20) {
            return Err(Error::invalid(format!(
                "memory budget {} bytes is too small: use at least 1 MiB",
                self.memory_budget_bytes
            )));
        }
        Ok(())
    }
}
