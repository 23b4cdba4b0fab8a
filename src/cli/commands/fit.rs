//! `qpik fit`: a kernel spec's free values from an extraction result.

use crate::budget::MemoryBudget;
use crate::cli::FitArgs;
use crate::cli::progress::Bars;
use crate::data::output_file::OutputFile;
use crate::fit::{FitSettings, fit_file};
use crate::{Error, Result};

pub fn fit_command(a: &FitArgs) -> Result<()> {
    let settings = FitSettings {
        kernel_type: a.kernel_type,
        core_radius_px: a.core_radius,
        starts: a.starts.max(1),
        memory_budget: MemoryBudget::new(a.memory_budget)?,
        ..FitSettings::default()
    };
    let r = {
        let bars = Bars::default();
        fit_file(&a.result, &a.spec, &settings, &bars)?
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.spec.with_extension("fit.toml"));
    let target = OutputFile::create(&out)?;
    std::fs::write(target.temp_path(), &r.spec_toml)
        .map_err(|e| Error::io(out.display().to_string(), e))?;
    target.commit()?;
    if let Some(png) = &a.png {
        crate::picture::fit::write_fit_png(png, &r)?;
    }
    if a.json {
        println!("{}", r.to_json());
        return Ok(());
    }
    println!(
        "fit of {} energies in {:.2} s ({} evaluations, {} simulations): chi^2/dof = {:.3} \
         ({} dof)",
        r.energies_ev.len(),
        r.seconds,
        r.evaluations,
        r.simulations,
        r.reduced_chi2,
        r.dof
    );
    for v in r.parameters.iter().chain(&r.nuisance) {
        match &v.fixed {
            Some(why) => println!("  {:<28} {:>12.6}  held: {why}", v.name, v.value),
            None => println!(
                "  {:<28} {:>12.6} +- {:<10.3e} (start {})",
                v.name, v.value, v.std_error, v.start
            ),
        }
    }
    for p in &r.dispersion {
        println!(
            "  2k_F({:+.3} eV) = {:.4} +- {:.4} 1/Angstrom",
            p.energy_ev, p.q_per_a, p.q_std_per_a
        );
    }
    println!("fitted spec: {}", out.display());
    if let Some(png) = &a.png {
        println!("picture: {}", png.display());
    }
    Ok(())
}
