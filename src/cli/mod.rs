//! The `qpik` command line: thin wrappers over the library, with progress bars and pictures.

mod commands;
mod outputs;
mod progress;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Quasiparticle-interference kernels for STM: simulate, synthesise, inspect.
#[derive(Parser, Debug)]
#[command(name = "qpik", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The main job on the embedded default: simulate a realistic multi-defect map, write pictures and HDF5.
    Demo {
        /// Output folder.
        #[arg(short, long, default_value = "qpik-demo")]
        out: PathBuf,
        /// Catalog kernel to use.
        #[arg(long, default_value = "bi2212-normal-m50meV")]
        kernel: String,
        /// Image size in pixels (square).
        #[arg(long, default_value_t = 128)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A real scan to run the map engine on (LIY_1_omega, defects from Z); skipped when
        /// absent.
        #[arg(long, default_value = "tests/data/FeSe_topography.sxm")]
        scan: PathBuf,
    },
    /// List the built-in kernel catalog, or print one kernel's TOML spec.
    Catalog {
        /// Print the TOML spec of this kernel (a template for your own).
        #[arg(long)]
        spec: Option<String>,
        /// Only kernels with this n-fold symmetry label.
        #[arg(long)]
        symmetry: Option<u8>,
    },
    /// Simulate kernels, single observations, or whole datasets.
    #[command(subcommand)]
    Simulate(Simulate),
    /// Draw a dataset file's kernels and observations (with defect marks), or every channel
    /// of a Nanonis .sxm or Createc .dat scan, into a PNG; print the columns of a Nanonis
    /// .dat point spectrum.
    Show {
        /// A qpik HDF5 dataset, a Nanonis .sxm scan or .dat spectrum, or a Createc .dat scan.
        file: PathBuf,
        /// Output PNG (default: FILE with .png).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// How many kernels and observations to draw.
        #[arg(long, default_value_t = 6)]
        count: usize,
    },
    /// Train a model: the kernel VAE, the aligned observation encoder, or the one-step baseline.
    Train {
        #[arg(value_enum)]
        what: TrainWhat,
        #[command(flatten)]
        args: TrainArgs,
    },
    /// Evaluate a model on a dataset's seen-test and unseen observations.
    Eval {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_enum, default_value_t = MethodArg::TwoStep)]
        method: MethodArg,
        /// Model file (default: the embedded model of the method).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Observations per group (seen, unseen) at most.
        #[arg(long, default_value_t = 5000)]
        limit: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        cuda: bool,
    },
    /// Extract the kernel of a map (.sxm, .3ds, .npy or a qpik dataset) of any size: the
    /// map engine (least squares on the forward model) by default, or a network on 64 x 64.
    Extract(ExtractArgs),
    /// Fit a kernel spec's free values (its [fit] table) to the kernels of an extraction
    /// result: physics from kernels, with standard errors.
    Fit(FitArgs),
    /// Import the published 100-kernel dataset's CSV files into a qpik HDF5 dataset.
    ImportCsv {
        /// One CSV file per kernel.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0.2)]
        unseen_fraction: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum Simulate {
    /// One kernel (catalog name or TOML spec) to HDF5 and PNG.
    Kernel {
        /// Catalog name (see `qpik catalog`).
        name: Option<String>,
        /// A TOML kernel spec instead of a catalog name.
        #[arg(long, conflicts_with = "name")]
        spec: Option<PathBuf>,
        #[arg(short, long, default_value = "kernel.h5")]
        out: PathBuf,
        /// PNG picture (default: OUT with .png).
        #[arg(long)]
        png: Option<PathBuf>,
        #[command(flatten)]
        render: RenderArgs,
    },
    /// One multi-defect observation of a kernel, with its mask, to HDF5 and PNG.
    Observation {
        /// Catalog name (default bi2212-normal-m50meV); repeat it to name the kernel of each
        /// defect type (--types). With --preset real-scan: the adatom surface, ag111 (the
        /// default), cu111, au111 or a catalog kernel (e.g. graphene-*, kagome-*).
        #[arg(long)]
        kernel: Vec<String>,
        /// Defect types (1 to 8), each a kernel with its own defect count and amplitudes
        /// (--min-defects..--max-defects per type); kernels not named by --kernel are drawn
        /// from the catalog with the seed. All are rendered at the first kernel's pixel size;
        /// type t's amplitudes are scaled by rms(K_0) / rms(K_t), so every type shows.
        #[arg(long, default_value_t = 1)]
        types: usize,
        /// Image size in pixels (square); default 128, 256 with --preset real-scan.
        #[arg(long)]
        size: Option<usize>,
        /// Defects per nm^2 (Poisson); otherwise --min-defects..--max-defects.
        #[arg(long)]
        density: Option<f64>,
        /// Fewest defects per type (default 1); with --preset real-scan, adatoms (default 15).
        #[arg(long)]
        min_defects: Option<usize>,
        /// Most defects per type (default 20); with --preset real-scan, adatoms (default 40).
        #[arg(long)]
        max_defects: Option<usize>,
        #[arg(long, value_enum, default_value_t = Preset::Realistic)]
        preset: Preset,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(short, long, default_value = "observation.h5")]
        out: PathBuf,
        #[arg(long)]
        png: Option<PathBuf>,
        #[command(flatten)]
        pixel: PixelSizeArgs,
        /// A TOML kernel spec instead of --kernel; a stack spec (energies_ev or energy_range)
        /// makes an observation stack [E, H, W] with the same defects at every energy.
        #[arg(long, conflicts_with = "kernel")]
        spec: Option<PathBuf>,
        /// Energies in eV (comma-separated): an observation stack of the kernel at each.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        energies: Option<Vec<f64>>,
    },
    /// A training dataset (default: the paper's scale, 100 kernels x 500 observations of 64 x 64).
    Dataset(DatasetArgs),
}

/// The pixel size of a simulation, in metres (`--pixel-size-m`), or by its deprecated
/// Angstrom spelling (`--pixel-size`).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct PixelSizeArgs {
    /// Pixel size in metres, e.g. 1.5e-10 (1e-12 to 1e-6 m); default from the spec.
    #[arg(long, value_name = "METRES")]
    pub pixel_size_m: Option<f64>,
    /// Deprecated: the pixel size in Angstrom; use --pixel-size-m (metres).
    #[arg(
        long = "pixel-size",
        value_name = "ANGSTROM",
        conflicts_with = "pixel_size_m"
    )]
    pub pixel_size_deprecated_a: Option<f64>,
}

impl PixelSizeArgs {
    /// The pixel size in Angstrom (what kernel specs hold), checked by
    /// [`crate::units::pixel_size_m`] in the unit it was given in; `None` when not given.
    pub fn angstrom(&self) -> crate::Result<Option<f64>> {
        use crate::units::{ANGSTROM_M, LengthUnit, pixel_size_m};
        let (value, unit, flag) = match (self.pixel_size_m, self.pixel_size_deprecated_a) {
            (Some(m), _) => (m, LengthUnit::Metre, "--pixel-size-m"),
            (None, Some(a)) => (
                a,
                LengthUnit::Angstrom,
                "--pixel-size (Angstrom, deprecated)",
            ),
            (None, None) => return Ok(None),
        };
        let m = pixel_size_m(value, unit)
            .map_err(|e| crate::Error::invalid(format!("{flag}: {}", e.message())))?;
        Ok(Some(m / ANGSTROM_M))
    }
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Image size in pixels (square); default from the spec.
    #[arg(long)]
    pub size: Option<usize>,
    #[command(flatten)]
    pub pixel: PixelSizeArgs,
    /// Scan rotation in degrees.
    #[arg(long)]
    pub rotation: Option<f64>,
    /// Energies in eV (comma-separated) for a K(E) stack, instead of the spec's energy.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub energies: Option<Vec<f64>>,
}

#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Memory the generation may use, in bytes; a larger dataset is refused before anything
    /// is allocated.
    #[arg(long, default_value_t = crate::budget::DEFAULT_MEMORY_BUDGET_BYTES)]
    pub memory_budget: u64,
    #[arg(long, default_value_t = 100)]
    pub kernels: usize,
    #[arg(long, default_value_t = 500)]
    pub per_kernel: usize,
    /// Image size in pixels (square); default 64, 256 with --preset real-scan.
    #[arg(long)]
    pub size: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the kernel choice and train/unseen split (keep it when drawing test sets).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    #[arg(long, default_value_t = 0.2)]
    pub unseen_fraction: f64,
    /// Fewest defects per observation (default 1); with --preset real-scan, adatoms (15).
    #[arg(long)]
    pub min_defects: Option<usize>,
    /// Most defects per observation (default 20); with --preset real-scan, adatoms (40).
    #[arg(long)]
    pub max_defects: Option<usize>,
    /// --preset real-scan: how many maps (default 16).
    #[arg(long)]
    pub maps: Option<usize>,
    /// --preset real-scan: the adatom surface, ag111 (the default), cu111, au111 or a catalog
    /// kernel.
    #[arg(long)]
    pub kernel: Option<String>,
    /// Restrict defects to the central fraction of each axis (published dataset style).
    #[arg(long)]
    pub central: Option<f64>,
    /// Probability that a defect has negative amplitude.
    #[arg(long, default_value_t = 0.0)]
    pub negative_fraction: f64,
    /// A common pixel size instead of each kernel's own (--pixel-size-m; more than one
    /// --types needs it).
    #[command(flatten)]
    pub pixel: PixelSizeArgs,
    #[arg(long, value_enum, default_value_t = Preset::Clean)]
    pub preset: Preset,
    /// White-noise SNR (overrides the preset's).
    #[arg(long)]
    pub snr: Option<f64>,
    /// Defect types per observation (1 to 8): type 0 is the observation's kernel, each other
    /// a kernel of the same split drawn per observation, each with its own defect count and
    /// amplitudes (scaled by rms(K_0) / rms(K_t), so every type shows); the type of every
    /// defect is stored. More than 1 needs --pixel-size.
    #[arg(long, default_value_t = 1)]
    pub types: usize,
    #[arg(short, long, default_value = "data.h5")]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum TrainWhat {
    /// Step 1: the kernel VAE.
    Vae,
    /// Step 2: align an observation encoder to a trained VAE (--vae FILE).
    Align,
    /// The one-step baseline.
    OneStep,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum MethodArg {
    /// The map engine: least squares on the forward model (any map size).
    Forward,
    /// The map engine's blind search: defects and kernel from the map alone (masks ignored).
    Blind,
    /// The networks of arXiv 2506.05325 (64 x 64 crops).
    TwoStep,
    OneStep,
}

/// Scan direction of a Nanonis channel.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionArg {
    Forward,
    Backward,
}

/// Background carried by the map engine.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackgroundArg {
    Constant,
    Plane,
    PlaneAndLines,
}

/// `qpik extract`.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The map: a Nanonis .sxm scan or .3ds grid, a Createc .dat scan, a 2-D or 3-D .npy, or
    /// a qpik dataset (.h5).
    pub input: PathBuf,
    /// Channel of a Nanonis file (default: the lock-in dI/dV channel).
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long, value_enum, default_value_t = DirectionArg::Forward)]
    pub direction: DirectionArg,
    /// Which observation of a qpik dataset (required when it holds several).
    #[arg(long)]
    pub index: Option<usize>,
    /// Defect mask .npy with the map's shape: every pixel above 0.5 is a defect.
    #[arg(long, conflicts_with_all = ["positions", "defects_from"])]
    pub mask: Option<PathBuf>,
    /// Defect positions: a text file of `row, col` pixel lines (subpixel allowed) or an
    /// [N, 2] .npy.
    #[arg(long, conflicts_with = "defects_from")]
    pub positions: Option<PathBuf>,
    /// Find the defects in another channel of the same file, e.g. the topography `Z`.
    #[arg(long, value_name = "CHANNEL")]
    pub defects_from: Option<String>,
    /// Defects in the topography channel are dark rather than bright.
    #[arg(long)]
    pub dark_defects: bool,
    /// Find the defects and kernels from the map itself (the default when no defects are
    /// given); with --mask, --positions or --defects-from, those defects are type 0 and the
    /// search adds --types more.
    #[arg(long)]
    pub blind: bool,
    /// Defect types of the blind search, one kernel each: 1 to 8, or auto (1 to 3, each further
    /// type kept while it pays for its kernel and its defects).
    #[arg(long, default_value = "1")]
    pub types: String,
    /// Blind detection threshold in noise standard deviations.
    #[arg(long, default_value_t = 5.0)]
    pub detection_sigma: f64,
    /// Memory the extraction may use, in bytes; a larger map is refused before anything is
    /// allocated.
    #[arg(long, default_value_t = crate::extract::map::MapSettings::DEFAULT_MEMORY_BUDGET)]
    pub memory_budget: u64,
    /// Kernel size S in pixels, odd, 3 to 513 (an even size is refused, naming the odd
    /// sizes beside it; default: from the defect spacing).
    #[arg(long)]
    pub kernel_size: Option<usize>,
    /// Symmetry of the kernel about the impurity: auto, none, a rotation order (2, 3, 4, 6; 1 =
    /// isotropic) or a group with mirror lines (m, 2mm, 3m, 4mm, 6mm); auto takes the most
    /// constrained one whose held-out score is as good as the best.
    #[arg(long, default_value = "auto")]
    pub symmetry: String,
    /// Smoothness weight of the kernel: auto or a number (relative to the data term).
    #[arg(long, default_value = "auto")]
    pub smoothness: String,
    /// Weight of the kernel's decay away from the impurity: auto or a number (relative to the
    /// data term; a penalty decay (r / R)^2 K^2 at distance r, R = S/2).
    #[arg(long, default_value = "auto")]
    pub decay: String,
    #[arg(long, value_enum, default_value_t = BackgroundArg::Plane)]
    pub background: BackgroundArg,
    /// Bootstrap replicates for the kernel's standard error (0: the noise floor only).
    #[arg(long, default_value_t = 8)]
    pub bootstrap: usize,
    /// How far positions may move as they are refined, in pixels (0: keep them).
    #[arg(long, default_value_t = 1.5)]
    pub refine_positions: f64,
    /// Pixel size in metres, e.g. 8.93e-11 (overrides the file's; .npy files have none);
    /// 1e-12 to 1e-6 m. `--pixel-size` (also metres here) is a deprecated spelling.
    #[arg(long, alias = "pixel-size", value_name = "METRES")]
    pub pixel_size_m: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// forward (the map engine; the default), or a network: two-step or one-step (the
    /// default when --model is given).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Network model file (network methods only).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Result: .h5 (the qpik-extraction file) or .npy (the kernels alone).
    #[arg(short, long, default_value = "extracted.h5")]
    pub out: PathBuf,
    /// Picture (default: OUT with .png).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub cuda: bool,
}

/// `qpik fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// A qpik extraction result (.h5 from `qpik extract`).
    pub result: PathBuf,
    /// With --gap-sign: a second result holding the kernels of the other bias sign.
    #[arg(requires = "gap_sign")]
    pub partner: Option<PathBuf>,
    /// The kernel spec (as `qpik catalog --spec NAME` prints) with a [fit] table naming the
    /// free values: `free = ["model.effective_mass", ...]`, optional `[fit.bounds]`. With
    /// --gap-sign: the fitted superconducting model, whose sign-changing and sign-preserving
    /// gap forms are compared with the data (no [fit] table needed).
    #[arg(long, required_unless_present = "gap_sign")]
    pub spec: Option<PathBuf>,
    /// Gap sign instead of a fit: the phase-referenced, antisymmetrised signal
    /// rho^-(E) = sum_q Re g(q, +E) - Re g(q, -E) of kernels at +E and -E (HAEM, PRB 92,
    /// 184513), and whether the gap changes sign, with a confidence.
    #[arg(long)]
    pub gap_sign: bool,
    /// The fitted spec with a [fit.result] table (default: SPEC's name with .fit.toml); with
    /// --gap-sign: the result as TOML (default: none).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Picture: data, model and residual per energy, in real and q-space.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Kernel type of the result to fit.
    #[arg(long = "type", default_value_t = 0)]
    pub kernel_type: usize,
    /// Radius of the masked impurity core in pixels (default: the spec's [fit]
    /// core_radius_px, else 2).
    #[arg(long)]
    pub core_radius: Option<f64>,
    /// Solver runs: from the spec's values and from the best points of a coarse grid.
    #[arg(long, default_value_t = 3)]
    pub starts: usize,
    /// Memory the fit may use, in bytes.
    #[arg(long, default_value_t = crate::budget::DEFAULT_MEMORY_BUDGET_BYTES)]
    pub memory_budget: u64,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(short, long)]
    pub out: PathBuf,
    /// The trained VAE (for `align`).
    #[arg(long)]
    pub vae: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub max_per_kernel: Option<usize>,
    /// No noise augmentation.
    #[arg(long)]
    pub no_augment: bool,
    /// Continue from the checkpoint at --out.
    #[arg(long)]
    pub resume: bool,
    /// Network channels of the three stages (e.g. 8,16,32).
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    #[arg(long)]
    pub cuda: bool,
}

/// Artefact presets.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Preset {
    /// Pure forward model, no artefacts.
    Clean,
    /// White and 1/f noise, line offsets, tip changes, spikes, plane, drift.
    Realistic,
    /// Looks like a measured topograph of adatoms on Ag/Cu/Au(111) (Friedel rings, dimers,
    /// dark defects, clusters, a step edge, tip changes, glitch and zero lines, saturation),
    /// with the truth of every part stored (`qpik::synthesis::real_scan`).
    RealScan,
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    progress::install_interrupt_handler();
    match commands::run(cli) {
        Ok(()) => 0,
        Err(crate::Error::Cancelled) if progress::interrupted() => {
            eprintln!("interrupted: stopped; no output file was written or changed");
            130
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
