//! The table of every option key: its name, how its value parses, its default and help.

use crate::capi::{CError, CResult, qpik_status};

/// How a value is parsed.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    UInt,
    Float,
    Bool,
    Choice(&'static [&'static str]),
    /// `N` or `ROWSxCOLS`.
    Size,
    /// `full` or `central:FRACTION`.
    Region,
    /// Comma-separated channel counts of the three stages.
    Channels,
    Path,
    /// `auto` or a whole number >= 0.
    AutoUInt,
    /// `auto` or a finite number.
    AutoFloat,
    /// Free text (a unit), at most [`MAX_TEXT`] bytes, no control characters; may be empty.
    Text,
    /// Comma-separated finite numbers, at most [`MAX_LIST`] of them.
    FloatList,
    /// A pixel size in metres, checked by [`crate::units::pixel_size_m`].
    PixelSizeM,
}

/// Longest free-text value.
pub(super) const MAX_TEXT: usize = 64;
/// Most numbers in a list value (energies of a stack).
pub(super) const MAX_LIST: usize = 1 << 16;

pub(super) struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub help: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        help,
    }
}

/// Every option qpik knows. Calls ignore keys that do not concern them.
pub(super) const KEYS: &[Key] = &[
    key(
        "device",
        Kind::Choice(&["cpu", "cuda"]),
        "cpu",
        "models and training: compute device; cuda falls back to the CPU (with a note) when unavailable",
    ),
    key(
        "method",
        Kind::Choice(&["two-step", "one-step"]),
        "two-step",
        "qpik_model_new_default: which embedded model",
    ),
    key(
        "seed",
        Kind::UInt,
        "0",
        "synthesis, datasets, training: random seed (results are reproducible)",
    ),
    key(
        "memory_budget_bytes",
        Kind::UInt,
        "4294967296",
        "every call: memory a call may use (kernels, datasets, extraction, training, file reads); larger requests are refused with QPIK_ERR_MEMORY_BUDGET before allocating (at least 1048576)",
    ),
    key(
        "size",
        Kind::Size,
        "64",
        "kernels: image size N or ROWSxCOLS (pixels); datasets: N (square)",
    ),
    key(
        "pixel_size_m",
        Kind::PixelSizeM,
        "(the kernel's own)",
        "kernels, datasets: pixel size in metres, 1e-12 to 1e-6 (pixel_size_a, in Angstrom, is a deprecated alias)",
    ),
    key(
        "rotation_deg",
        Kind::Float,
        "0",
        "kernels: scan rotation in degrees",
    ),
    key(
        "defects.count_min",
        Kind::UInt,
        "1",
        "synthesis: fewest defects per map",
    ),
    key(
        "defects.count_max",
        Kind::UInt,
        "20",
        "synthesis: most defects per map",
    ),
    key(
        "defects.density_per_nm2",
        Kind::Float,
        "(off)",
        "synthesis: Poisson defect density per nm^2 instead of a count range",
    ),
    key(
        "defects.region",
        Kind::Region,
        "full",
        "synthesis: where defects sit: full or central:FRACTION",
    ),
    key(
        "defects.amplitude_min",
        Kind::Float,
        "0.5",
        "synthesis: smallest amplitude magnitude",
    ),
    key(
        "defects.amplitude_max",
        Kind::Float,
        "1.5",
        "synthesis: largest amplitude magnitude",
    ),
    key(
        "defects.negative_fraction",
        Kind::Float,
        "0",
        "synthesis: probability of a negative amplitude",
    ),
    key(
        "defects.subpixel_steps",
        Kind::UInt,
        "4",
        "synthesis: subpixel position resolution (1/steps pixel)",
    ),
    key(
        "artefacts",
        Kind::Choice(&["none", "realistic"]),
        "none",
        "synthesis: artefact preset (set before the artefacts.* keys it should not override)",
    ),
    key(
        "artefacts.snr",
        Kind::Float,
        "(off)",
        "synthesis: white noise, std = signal std / snr",
    ),
    key(
        "artefacts.flicker",
        Kind::Float,
        "0",
        "synthesis: 1/f noise std relative to the signal std",
    ),
    key(
        "artefacts.line_offsets",
        Kind::Float,
        "0",
        "synthesis: per-line offset std relative to the signal std",
    ),
    key(
        "artefacts.tip_changes",
        Kind::Float,
        "0",
        "synthesis: mean tip changes per image",
    ),
    key(
        "artefacts.tip_change_size",
        Kind::Float,
        "0",
        "synthesis: tip-change step std relative to the signal std",
    ),
    key(
        "artefacts.spikes",
        Kind::Float,
        "0",
        "synthesis: mean spikes per image",
    ),
    key(
        "artefacts.spike_size",
        Kind::Float,
        "0",
        "synthesis: spike height relative to the signal std",
    ),
    key(
        "artefacts.plane",
        Kind::Float,
        "0",
        "synthesis: background plane rise across the diagonal, in signal stds",
    ),
    key(
        "artefacts.drift_px",
        Kind::Float,
        "0",
        "synthesis: thermal drift over the frame in pixels",
    ),
    key(
        "dataset.kernels",
        Kind::UInt,
        "100",
        "datasets: number of catalog kernels",
    ),
    key(
        "dataset.per_kernel",
        Kind::UInt,
        "500",
        "datasets: observations per kernel",
    ),
    key(
        "dataset.split_seed",
        Kind::UInt,
        "0",
        "datasets: seed of the kernel choice and the seen/unseen split",
    ),
    key(
        "dataset.unseen_fraction",
        Kind::Float,
        "0.2",
        "datasets: fraction of kernels held out as unseen",
    ),
    key(
        "dataset.types",
        Kind::UInt,
        "1",
        "datasets: defect types per observation, 1 to 8 (each a kernel of the same split with its own defects; more than 1 needs pixel_size_m)",
    ),
    key(
        "train.vae",
        Kind::Path,
        "(none)",
        "training align: the trained VAE file",
    ),
    key("train.epochs", Kind::UInt, "10", "training: epochs"),
    key(
        "train.steps_per_epoch",
        Kind::UInt,
        "(one pass)",
        "training: optimiser steps per epoch",
    ),
    key("train.batch_size", Kind::UInt, "32", "training: batch size"),
    key(
        "train.learning_rate",
        Kind::Float,
        "0.001",
        "training: AdamW peak learning rate",
    ),
    key(
        "train.weight_decay",
        Kind::Float,
        "0.0001",
        "training: AdamW weight decay",
    ),
    key(
        "train.warmup_steps",
        Kind::UInt,
        "100",
        "training: linear warm-up steps before cosine decay",
    ),
    key(
        "train.grad_clip",
        Kind::Float,
        "1",
        "training: gradient norm clip",
    ),
    key(
        "train.max_per_kernel",
        Kind::UInt,
        "(all)",
        "training: use at most this many observations per kernel",
    ),
    key(
        "train.augment",
        Kind::Bool,
        "true",
        "training: noise augmentation with the synthesis artefacts",
    ),
    key(
        "train.channels",
        Kind::Channels,
        "8,16,32",
        "training: channels of the three network stages",
    ),
    key(
        "train.resume",
        Kind::Bool,
        "false",
        "training: continue from the checkpoint at the output path",
    ),
    key(
        "map.kernel_size",
        Kind::AutoUInt,
        "auto",
        "qpik_extract_map: kernel size S in pixels, odd, 3..=513 (an even size is refused with QPIK_ERR_OPTION_VALUE, naming the odd sizes beside it; auto: from the defect spacing, odd, at most 129 and the map's smaller side)",
    ),
    key(
        "map.symmetry",
        Kind::Choice(&[
            "auto",
            "none",
            "isotropic",
            "1",
            "2",
            "3",
            "4",
            "6",
            "m",
            "2mm",
            "3m",
            "4mm",
            "6mm",
        ]),
        "auto",
        "qpik_extract_map: project the kernel onto a point group about the impurity: n-fold rotations (1 = isotropic) or with mirror lines (m, 2mm, 3m, 4mm, 6mm; their angle is found from the kernel); auto: best held-out score",
    ),
    key(
        "map.background",
        Kind::Choice(&["constant", "plane", "plane-and-lines"]),
        "plane",
        "qpik_extract_map: background fitted beside the kernel (plane-and-lines: plus one offset per scan line)",
    ),
    key(
        "map.smoothness",
        Kind::AutoFloat,
        "auto",
        "qpik_extract_map: kernel smoothness weight, 0..=1e6 relative to the data term (auto: by held-out score)",
    ),
    key(
        "map.decay",
        Kind::AutoFloat,
        "auto",
        "qpik_extract_map: weight of the kernel's decay away from the impurity, a penalty decay (r/R)^2 K^2 (R = S/2), 0..=1e6 relative to the data term (auto: by held-out score)",
    ),
    key(
        "map.bootstrap",
        Kind::UInt,
        "8",
        "qpik_extract_map: bootstrap replicates for the kernel's standard error (0 = off, at most 256)",
    ),
    key(
        "map.block_px",
        Kind::AutoUInt,
        "auto",
        "qpik_extract_map: side of the held-out and bootstrap blocks in pixels, 4..=4096 (auto: the kernel size)",
    ),
    key(
        "map.refine_positions_px",
        Kind::Float,
        "1.5",
        "qpik_extract_map: how far defect positions may move as they are refined with the kernel, 0..=16 pixels (0 = keep them as given)",
    ),
    key(
        "map.outer_iterations",
        Kind::UInt,
        "4",
        "qpik_extract_map: alternations between kernel and amplitudes (1..=100)",
    ),
    key(
        "map.cg_iterations",
        Kind::UInt,
        "60",
        "qpik_extract_map: most conjugate-gradient iterations per linear solve (1..=10000)",
    ),
    key(
        "map.seed",
        Kind::UInt,
        "(seed)",
        "qpik_extract_map: seed of the held-out split and the bootstrap (default: the seed option)",
    ),
    key(
        "map.memory_budget_bytes",
        Kind::UInt,
        "4294967296",
        "qpik_extract_map: memory the extraction may use; larger inputs are refused before allocating (at least 1 MiB)",
    ),
    key(
        "map.blind",
        Kind::Bool,
        "false",
        "qpik_extract_map: also search the map for defects beyond those given (always on when no defects are given)",
    ),
    key(
        "defects.from",
        Kind::Choice(&["given", "blind"]),
        "given",
        "qpik_extract_map: blind = the same as map.blind = true",
    ),
    key(
        "map.types",
        Kind::AutoUInt,
        "1",
        "qpik_extract_map: defect types (one kernel each) of a blind search, 1..=8; given defects are one type of their own (auto: 1 to 3, each further type kept while it pays for its kernel and its defects)",
    ),
    key(
        "map.detection_sigma",
        Kind::Float,
        "5",
        "qpik_extract_map: a blind search accepts a defect that lowers the residual by more than this many noise standard deviations (1..=100)",
    ),
    key(
        "map.pixel_size_m",
        Kind::PixelSizeM,
        "(unknown)",
        "qpik_extract_map, qpik_find_defects: the map's pixel size in metres, 1e-12 to 1e-6 (map.pixel_size_a, in Angstrom, is a deprecated alias)",
    ),
    key(
        "map.value_unit",
        Kind::Text,
        "(none)",
        "qpik_extract_map: the map's unit (e.g. S or V), which the kernel carries",
    ),
    key(
        "topography.polarity",
        Kind::Choice(&["bright", "dark", "auto"]),
        "bright",
        "qpik_find_defects: look for protrusions, depressions, or whichever stands out more",
    ),
    key(
        "topography.defect_size_a",
        Kind::Float,
        "6",
        "qpik_find_defects: apparent defect width (FWHM) in Angstrom, used when map.pixel_size_m is set (else 4 pixels)",
    ),
    key(
        "topography.threshold_sigma",
        Kind::Float,
        "5",
        "qpik_find_defects: detection threshold in robust standard deviations of the band-passed image (0.5..=1000)",
    ),
    key(
        "map.energies_ev",
        Kind::FloatList,
        "(unknown)",
        "qpik_extract_map: energy of each layer of the map in eV, comma-separated, one per layer",
    ),
];

/// A deprecated spelling of a key in another unit: setting it sets `key` to the value times
/// `metres` (checked in the unit given); getting it gives `key`'s value in its own unit.
pub(super) struct Alias {
    pub name: &'static str,
    pub key: &'static str,
    pub unit: crate::units::LengthUnit,
}

/// Deprecated spellings, kept working (`qpik_options_describe` lists them as deprecated).
pub(super) const ALIASES: &[Alias] = &[
    Alias {
        name: "pixel_size_a",
        key: "pixel_size_m",
        unit: crate::units::LengthUnit::Angstrom,
    },
    Alias {
        name: "map.pixel_size_a",
        key: "map.pixel_size_m",
        unit: crate::units::LengthUnit::Angstrom,
    },
];

/// The alias called `name`, if `name` is one.
pub(super) fn find_alias(name: &str) -> Option<&'static Alias> {
    ALIASES.iter().find(|a| a.name == name)
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub(super) fn find_key(name: &str) -> CResult<&'static Key> {
    KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
        // Edit distances of a huge key would take long and mean nothing.
        let best = if name.len() > 64 {
            None
        } else {
            KEYS.iter()
                .map(|k| (distance(&name.to_ascii_lowercase(), k.name), k.name))
                .min()
        };
        let hint = match best {
            Some((d, k)) if d <= 3 => format!("did you mean '{k}'?"),
            _ => "qpik_options_describe() lists every key".to_string(),
        };
        CError::new(
            qpik_status::QPIK_ERR_UNKNOWN_OPTION,
            format!("unknown option '{}'; {hint}", super::parse::cut(name)),
        )
    })
}
