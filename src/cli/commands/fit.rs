//! `qpik fit`: a kernel spec's free values from an extraction result.

use crate::budget::MemoryBudget;
use crate::cli::FitArgs;
use crate::cli::outputs::Outputs;
use crate::cli::progress::Bars;
use crate::data::output_file::OutputFile;
use crate::fit::gap_sign::{GapSignSettings, gap_sign_files};
use crate::fit::{FitSettings, fit_file};
use crate::{Error, Result};
use std::path::Path;

pub fn fit_command(a: &FitArgs) -> Result<()> {
    if a.gap_sign {
        return gap_sign_command(a);
    }
    let spec = a
        .spec
        .as_ref()
        .ok_or_else(|| Error::invalid("qpik fit needs --spec MODEL.toml"))?;
    let settings = FitSettings {
        kernel_type: a.kernel_type,
        core_radius_px: a.core_radius,
        starts: a.starts.max(1),
        memory_budget: MemoryBudget::new(a.memory_budget)?,
        ..FitSettings::default()
    };
    let r = {
        let bars = Bars::default();
        fit_file(&a.result, spec, &settings, &bars)?
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| spec.with_extension("fit.toml"));
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

/// `qpik fit --gap-sign`: the verdict, its confidence and `rho^-(E)` with standard errors.
fn gap_sign_command(a: &FitArgs) -> Result<()> {
    let mut inputs: Vec<&Path> = vec![&a.result];
    if let Some(p) = &a.partner {
        inputs.push(p);
    }
    let results = inputs.clone();
    if let Some(s) = &a.spec {
        inputs.push(s);
    }
    let targets: Vec<&Path> = a.out.iter().chain(&a.png).map(|p| p.as_path()).collect();
    let mut outputs = Outputs::plan(&inputs, &targets)?;
    let settings = GapSignSettings {
        kernel_type: a.kernel_type,
        core_radius_px: a
            .core_radius
            .unwrap_or(GapSignSettings::default().core_radius_px),
        memory_budget: MemoryBudget::new(a.memory_budget)?,
        ..GapSignSettings::default()
    };
    let r = {
        let bars = Bars::default();
        gap_sign_files(&results, a.spec.as_deref(), &settings, &bars)?
    };
    if let Some(out) = &a.out {
        let tmp = outputs.stage(out)?;
        std::fs::write(&tmp, r.to_toml()).map_err(|e| Error::io(out.display().to_string(), e))?;
    }
    if let Some(png) = &a.png {
        let tmp = outputs.stage(png)?;
        crate::picture::gap_sign::write_gap_sign_png(&tmp, &r)?;
    }
    outputs.commit()?;
    if a.json {
        println!("{}", r.to_json());
        return Ok(());
    }
    println!(
        "gap sign: {} (confidence {:.4}, {:.1} sigma) in {:.2} s",
        r.verdict.name(),
        r.confidence,
        r.sigma,
        r.seconds
    );
    println!("  {}", r.reason);
    println!(
        "  {:>10} {:>13} {:>11} {:>7}",
        "E (eV)", "rho^-(E)", "std", "z"
    );
    for e in &r.energies {
        println!(
            "  {:>10.4} {:>13.4e} {:>11.3e} {:>7.2}",
            e.energy_ev,
            e.signal,
            e.std,
            e.signal / e.std
        );
    }
    if let Some(m) = &r.model {
        println!(
            "  {}: chi^2 sign-changing {:.1}, sign-preserving {:.1} ({} dof, inflation {:.2})",
            m.comparison, m.chi2_sign_changing, m.chi2_sign_preserving, m.dof, m.inflation
        );
    }
    println!(
        "  model-free (HAEM, not used to decide): {}: {}",
        r.model_free.verdict.name(),
        r.model_free.reason
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
    if let Some(out) = &a.out {
        println!("result: {}", out.display());
    }
    if let Some(png) = &a.png {
        println!("picture: {}", png.display());
    }
    Ok(())
}
