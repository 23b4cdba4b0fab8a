//! What each `qpik` subcommand does.

mod demo;
mod fit;
mod map;
mod network;
mod pictures;
mod show;
mod simulate;
mod simulate_real;
mod simulate_stack;
mod simulate_typed;

use super::outputs::Outputs;
use super::{Cli, Command, MethodArg, Preset, Simulate};
use crate::data::Dataset;
use crate::data::hdf5_io::write_dataset;
use crate::extract::select_device;
use crate::physics::KernelSpec;
use crate::physics::catalog::{catalog, find};
use crate::synthesis::{Artefacts, DefectConfig};
use crate::{Error, Result};
use ndarray::Array2;
use network::*;
use pictures::*;
use show::*;
use simulate::*;
use std::path::PathBuf;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo {
            out,
            kernel,
            size,
            seed,
            scan,
        } => demo::demo(&out, &kernel, size, seed, &scan),
        Command::Catalog { spec, symmetry } => list_catalog(spec, symmetry),
        Command::Simulate(Simulate::Kernel {
            name,
            spec,
            out,
            png,
            render,
        }) => simulate_kernel(name, spec, &out, png, &render),
        Command::Simulate(Simulate::Observation {
            kernel,
            types,
            size,
            density,
            min_defects,
            max_defects,
            preset,
            seed,
            out,
            png,
            pixel,
            spec,
            energies,
        }) => {
            let pixel_size = pixel.angstrom()?;
            if preset == Preset::RealScan {
                if types != 1 || kernel.len() > 1 || density.is_some() {
                    return Err(Error::invalid(
                        "--preset real-scan draws its own defect types and counts: drop --types, --density and extra --kernel",
                    ));
                }
                if spec.is_some() || energies.is_some() {
                    return Err(Error::invalid(
                        "--preset real-scan makes one topograph: drop --spec and --energies",
                    ));
                }
                let request = simulate_real::Request {
                    surface: kernel.first().cloned(),
                    size,
                    pixel_size_a: pixel_size,
                    adatoms: [min_defects, max_defects],
                };
                return simulate_real::real_scan_observation(&request, seed, &out, png);
            }
            let size = size.unwrap_or(128);
            let kernel = if kernel.is_empty() {
                vec!["bi2212-normal-m50meV".to_string()]
            } else {
                kernel
            };
            let defects = DefectConfig {
                count_min: min_defects.unwrap_or(1),
                count_max: max_defects.unwrap_or(20),
                density_per_nm2: density,
                ..DefectConfig::default()
            };
            let png = png.unwrap_or_else(|| out.with_extension("png"));
            let mut planned = simulate_stack::stack_files(&out);
            planned.push(png.clone());
            let planned: Vec<&std::path::Path> = planned.iter().map(PathBuf::as_path).collect();
            let inputs: Vec<&std::path::Path> = spec.iter().map(PathBuf::as_path).collect();
            let mut outputs = Outputs::plan(&inputs, &planned)?;
            if (types > 1 || kernel.len() > 1) && simulate_stack::is_npy(&out) {
                return Err(Error::invalid(format!(
                    "{}: a map of several defect types is written as a qpik dataset (.h5), which keeps each defect's type; .npy files cannot",
                    out.display()
                )));
            }
            if spec.is_some() || energies.is_some() {
                if types != 1 || kernel.len() > 1 {
                    return Err(Error::invalid(
                        "energy stacks (--spec, --energies) have one defect type; drop --types",
                    ));
                }
                let mut spec = match spec {
                    Some(p) => read_spec(&p)?,
                    None => catalog_spec(&kernel[0])?,
                };
                if let Some(p) = pixel_size {
                    spec.render.pixel_size_a = p;
                }
                let spec = simulate_stack::with_energies(spec, energies)?;
                spec.validate()?;
                let made = simulate_stack::observation_stack(
                    &spec,
                    size,
                    &defects,
                    &artefacts(preset),
                    seed,
                )?;
                let files = made.write(&out, &mut outputs)?;
                made.picture(&outputs.stage(&png)?)?;
                outputs.commit()?;
                let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                println!(
                    "{} defects of kernel '{}' at {} energies on {size}x{size} px, seed {seed}: {} and {}",
                    made.dataset.observations.positions.dim().1,
                    spec.name,
                    made.layers.len(),
                    shown.join(", "),
                    png.display()
                );
                return Ok(());
            }
            let made = if types == 1 && kernel.len() == 1 {
                let made = single_observation(
                    &kernel[0],
                    size,
                    pixel_size,
                    &defects,
                    &artefacts(preset),
                    seed,
                )?;
                simulate_stack::write_observation_files(&made.dataset, &out, &mut outputs)?;
                made.picture(&outputs.stage(&png)?)?;
                outputs.commit()?;
                made
            } else {
                let names = simulate_typed::type_kernel_names(&kernel, types, seed)?;
                let made = simulate_typed::typed_observation(
                    &names,
                    size,
                    pixel_size,
                    &defects,
                    &artefacts(preset),
                    seed,
                )?;
                write_dataset(&outputs.stage(&out)?, &made.dataset)?;
                simulate_typed::typed_picture(&made, &outputs.stage(&png)?)?;
                outputs.commit()?;
                made
            };
            println!(
                "{} defects of kernel '{}' on {size}x{size} px ({:.2} Angstrom/px), seed {seed}: {} and {}",
                made.defects,
                made.dataset.kernels.names.join("' + '"),
                made.pixel_size_a,
                out.display(),
                png.display()
            );
            Ok(())
        }
        Command::Simulate(Simulate::Dataset(args)) => simulate_dataset(&args),
        Command::Show { file, out, count } => show(&file, out, count),
        Command::Train { what, args } => train(what, &args),
        Command::Eval {
            data,
            method,
            model,
            limit,
            json,
            cuda,
        } => eval(&data, method, model, limit, json, cuda),
        Command::Fit(a) => fit::fit_command(&a),
        Command::Extract(a) => match (a.method, &a.model) {
            (Some(MethodArg::Forward | MethodArg::Blind), _) | (None, None) => {
                map::extract_forward(&a)
            }
            (m, _) => extract(
                &a.input,
                a.mask.clone(),
                a.index.unwrap_or(0),
                m.unwrap_or(MethodArg::TwoStep),
                a.model.clone(),
                &a.out,
                a.png.clone(),
                a.cuda,
            ),
        },
        Command::ImportCsv {
            files,
            out,
            unseen_fraction,
            seed,
        } => {
            let inputs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
            // One output, written atomically by the dataset writer: only the checks here.
            Outputs::plan(&inputs, &[&out])?;
            let ds = crate::data::csv_import::import_csv_files(&files, unseen_fraction, seed)?;
            write_dataset(&out, &ds)?;
            println!(
                "imported {} kernels and {} observations into {}",
                ds.kernels.names.len(),
                ds.observations.kernel_index.len(),
                out.display()
            );
            Ok(())
        }
    }
}

fn artefacts(preset: Preset) -> Artefacts {
    match preset {
        Preset::Clean => Artefacts::default(),
        // The real-scan preset is its own generator (simulate_real); its scan artefacts are
        // the realistic ones and more.
        Preset::Realistic | Preset::RealScan => Artefacts::realistic(),
    }
}

fn catalog_spec(name: &str) -> Result<KernelSpec> {
    find(name).ok_or_else(|| {
        let close: Vec<String> = catalog()
            .into_iter()
            .map(|k| k.name)
            .filter(|n| n.split('-').next() == name.split('-').next())
            .take(8)
            .collect();
        Error::invalid(format!(
            "no catalog kernel named '{name}'{}; `qpik catalog` lists all",
            if close.is_empty() {
                String::new()
            } else {
                format!(" (similar: {})", close.join(", "))
            }
        ))
    })
}

/// A TOML kernel spec from a file (a regular file of at most 1 MiB).
fn read_spec(path: &std::path::Path) -> Result<KernelSpec> {
    const MAX_SPEC_BYTES: u64 = 1 << 20;
    let shown = path.display().to_string();
    let bytes =
        crate::data::checked_read::read_regular_file(path, MAX_SPEC_BYTES, "kernel spec (TOML)")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::format(shown.clone(), "the spec is not UTF-8 text"))?;
    KernelSpec::from_toml(&text).map_err(|e| Error::format(shown, e.to_string()))
}

fn to_f32(a: &Array2<f64>) -> Array2<f32> {
    a.mapv(|x| x as f32)
}

/// The dataset of `spec`'s kernel alone, rendered as `image`.
fn kernel_only_dataset(spec: &KernelSpec, image: Array2<f32>, generator: String) -> Dataset {
    let pixel_size_m = spec.render.pixel_size_a * 1e-10;
    Dataset::single_kernel(
        spec.name.clone(),
        spec.symmetry,
        image,
        pixel_size_m,
        generator,
    )
}

fn device(cuda: bool) -> candle_core::Device {
    let (d, note) = select_device(cuda);
    if let Some(n) = note {
        eprintln!("note: {n}");
    }
    d
}
