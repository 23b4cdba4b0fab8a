//! Blind and multi-type extraction: defects, their types and their kernels from the map
//! alone, `Y = sum_t K_t * X_t + B + noise` with sparse activations `X_t`.
//!
//! The search ([`search`]) alternates greedy detection with the kernels held
//! ([`clean`], a matched-filter CLEAN) and the map engine's least-squares fit with the
//! detections held, adding one type at a time. The defects it finds then go to the map engine
//! ([`crate::extract::map::extract_map_typed`]), which chooses smoothness and symmetry by the
//! held-out score, refines the positions and reports the standard error: a blind result is a
//! forward result on positions the map itself gave.
//!
//! A kernel that nearly repeats under a lattice translation (graphene above the Dirac point)
//! is searched twice, on the map as it is and on the whitened map ([`whiten`]), where its
//! sharp features rather than its broad envelope place each defect; the held-out score
//! chooses.
//!
//! # Ambiguities, resolved
//! - **Shift.** Each kernel is centred on its impurity: the centre of its inversion symmetry
//!   when it has one (found up to S/4 from the window's centre), otherwise the strongest
//!   extremum of the smoothed kernel (also within S/4).
//! - **Sign.** Amplitudes are positive on average per type.
//! - **Scale.** Mean amplitude 1 per type, so each kernel carries the map's unit.
//! - **Types.** Given defects (a mask, a list, a topography) are type 0 when there are any;
//!   blind types follow in the order found, the strongest first.

pub mod clean;
pub mod common;
pub mod cores;
pub mod correlate;
pub mod footprint;
pub mod lattice;
pub mod lines;
pub mod principal;
pub mod screen;
pub mod search;
pub mod split;
pub mod terraces;
pub mod whiten;

use crate::data::map_data::MapData;
use crate::extract::map::background::Basis;
use crate::extract::map::inputs::{check_memory, choose_kernel_size, memory_needed, valid_pixels};
use crate::extract::map::solve::extract_map_typed;
use crate::extract::map::{Extraction, MapSettings, TypeCount};
use crate::progress::{Progress, check_cancelled};
use crate::{Error, Result};
use ndarray::Array2;
use screen::Screened;
use search::{Found, Search};

/// Below this held-out R^2 a blind result explains nothing, and is refused.
pub const MIN_HELDOUT_R2: f64 = 0.01;
/// A blind result of fewer defects than this, none given, must show structure beyond a bump:
/// its held-out R^2 must beat the structureless control's by [`STRUCTURE_MARGIN`]. A handful
/// of irregular clusters is fitted by a blob-like kernel almost as well as by blobs (measured:
/// 6 clusters, 0.869 against 0.825; 4 clusters, 0.013 against 0.005), while the real-scan
/// preset's 16-40 adatoms beat blobs by 0.1-0.4 and the FeSe scan's 26 defects by 0.04.
const FEW_DEFECTS: usize = 8;
const STRUCTURE_MARGIN: f64 = 0.05;
/// Nor may so few defects have cores this many times above their rings: the preset's
/// adatoms stand 20-100 (fitted: up to about 400) times above theirs, its clusters, which
/// scatter a little, 800 and more (measured on the clusters control, seed 2: 820).
const FEW_CORE_RATIO: f64 = 500.0;
/// Kernel size of the first search when the size is automatic (then chosen from the count).
const FIRST_KERNEL: usize = 41;
/// Largest kernel the search for the common defect uses (the engine then fits the full size).
const SEARCH_KERNEL: usize = 41;

/// Bytes the search holds at once for a `[e, h, w]` map, a kernel of `s` and `types` kernel
/// types (saturating): the principal map and its working copies (blur, residuals, masks, one
/// fit's buffers: about `e + 24` map-sized f64 arrays), two response maps per type, and the
/// correlator's padded spectra (the map's, the mask's, each kernel's and one product).
fn search_memory(e: usize, h: usize, w: usize, s: usize, types: usize) -> u64 {
    let [e, h, w, t] = [e, h, w, types].map(|x| x as u64);
    let px = h.saturating_mul(w);
    let maps = e
        .saturating_add(24)
        .saturating_add(2 * t)
        .saturating_mul(px)
        .saturating_mul(8);
    let rows = correlate::fast_size(h as usize + s) as u64;
    let half = correlate::fast_size(w as usize + s) as u64 / 2 + 1;
    let spectra = rows
        .saturating_mul(half)
        .saturating_mul(16)
        .saturating_mul(t + 4);
    maps.saturating_add(spectra)
}

/// Refuses, before any map-sized allocation, a blind extraction whose search or final fit
/// needs more than the memory budget.
fn check_budget(map: &MapData, known: bool, settings: &MapSettings) -> Result<()> {
    let (e, h, w) = map.data.dim();
    let s = settings
        .kernel_size
        .unwrap_or(FIRST_KERNEL.min(h.min(w)))
        .max(3);
    let types = settings.types.most() + usize::from(known);
    // The final fit of at least one defect per type (its count is unknown yet).
    let fit = memory_needed(e, h, w, s, types, types, settings);
    let need = fit.max(search_memory(e, h, w, s, types));
    check_memory(need, (e, h, w), s, settings)
}

/// Defects and kernels of `map` found blind, beyond the given `known` positions (which may be
/// empty): `settings.types` blind types (given defects are one more type, 0; `auto` adds
/// types while each pays for its kernel and defects). Pixels that no kernel explains
/// ([`screen`]) are left out and reported in the result's `excluded`. Progress and cancel as
/// [`crate::extract::map::extract_map`].
///
/// When the common defect's start kernel nearly repeats under a small translation (a
/// lattice-periodic kernel, [`whiten::translation_repeat`] above [`whiten::REPEAT_LIMIT`]),
/// the search runs twice, on the map as it is and whitened ([`whiten`]), and the result
/// whose kernels explain more of the held-out half is kept (a search that finds nothing
/// loses); the notes say which.
pub fn extract_blind(
    map: &MapData,
    known: &[[f64; 2]],
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    let mut repeat = None;
    let plain = blind_pass(map, known, settings, progress, false, &mut repeat);
    let Some(repeat) = repeat.filter(|r| *r > whiten::REPEAT_LIMIT) else {
        return plain;
    };
    if matches!(plain, Err(Error::Cancelled | Error::OverBudget(_))) {
        return plain;
    }
    // The search on the map as it is chose the number of types: whitening, which only
    // places the defects better, keeps it (on the whitened map a further type pays for
    // itself more readily: a one-type Bi2212 map came out as 3 types).
    let same_types = match (&plain, settings.types) {
        (Ok(p), TypeCount::Auto) => MapSettings {
            types: TypeCount::Fixed(
                p.type_count()
                    .saturating_sub(usize::from(!known.is_empty()))
                    .max(1),
            ),
            ..settings.clone()
        },
        _ => settings.clone(),
    };
    let whitened = blind_pass(map, known, &same_types, progress, true, &mut None);
    if matches!(whitened, Err(Error::Cancelled | Error::OverBudget(_))) {
        return whitened;
    }
    let why = format!(
        "the kernel repeats under a small translation ({repeat:.2}): searched on the map as it is and whitened"
    );
    match (plain, whitened) {
        (Ok(p), Ok(wh)) => {
            let (rp, rw) = (p.heldout_r2_mean(), wh.heldout_r2_mean());
            let (mut ex, kept, other) = if rw > rp {
                (wh, "whitened", rp)
            } else {
                (p, "as it is", rw)
            };
            ex.notes = format!(
                "{why}, the search on the map {kept} kept (held-out R^2 {:.3} against {other:.3}); {}",
                ex.heldout_r2_mean(),
                ex.notes
            );
            Ok(ex)
        }
        (Ok(mut ex), Err(_)) => {
            ex.notes = format!("{why}; the whitened search found nothing; {}", ex.notes);
            Ok(ex)
        }
        (Err(_), Ok(mut ex)) => {
            ex.notes = format!(
                "{why}; the search on the map as it is found nothing, the whitened one kept; {}",
                ex.notes
            );
            Ok(ex)
        }
        (Err(e), Err(_)) => Err(e),
    }
}

/// One blind extraction; `whitened`: the search looks at the whitened map. `repeat` is set
/// to the start kernel's [`whiten::translation_repeat`] when the common defect was found.
fn blind_pass(
    map: &MapData,
    known: &[[f64; 2]],
    settings: &MapSettings,
    progress: &dyn Progress,
    whitened_search: bool,
    repeat_found: &mut Option<f64>,
) -> Result<Extraction> {
    settings.validate()?;
    crate::units::check_map_pixel_size_m(map.pixel_size_m)?;
    let (e, h, w) = map.data.dim();
    if e == 0 || h < 5 || w < 5 {
        return Err(Error::invalid(format!(
            "the map ({e} x {h} x {w}) is too small for a blind search: at least 5 x 5 pixels are needed"
        )));
    }
    check_budget(map, !known.is_empty(), settings)?;
    progress.stage("blind search", 0);
    check_cancelled(progress)?;
    let (given_valid, _) = valid_pixels(map)?;
    let mut notes = Screened::default();
    // `seen`: the pixels the search may look at (measured); `valid`: those the fit may use.
    let mut seen = given_valid.clone();
    let mut valid = {
        let layers: Vec<Vec<f64>> = map
            .data
            .outer_iter()
            .map(|l| l.iter().map(|&x| x as f64).collect())
            .collect();
        screen::constant_rows(&layers, &mut seen, h, w, &mut notes);
        let mut valid = seen.clone();
        screen::off_line(&layers, &mut seen, &mut valid, h, w, &mut notes, progress)?;
        screen::saturated(&layers, &mut valid, h, w, &mut notes);
        valid
    };
    let valid_count = valid.iter().filter(|v| **v > 0.0).count();
    if valid_count < 25 {
        return Err(Error::invalid(format!(
            "the map has {valid_count} usable pixels after leaving out constant scan lines and saturated pixels: nothing to search"
        )));
    }
    let y = principal::principal_map(map, &seen);
    let (lo, hi) = y
        .iter()
        .zip(&valid)
        .filter(|(_, v)| **v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
    if lo == hi {
        return Err(Error::invalid(
            "the map is constant: there is nothing to extract",
        ));
    }
    check_cancelled(progress)?;
    let mut chosen: Vec<String> = Vec::new();
    // The atomic lattice is not a defect: the search looks at the map without it.
    let found_lattice = lattice::find_lattice(&y, &seen, h, w);
    check_cancelled(progress)?;
    let lattice_found = found_lattice.is_some();
    let y = match found_lattice {
        Some(l) => {
            chosen.push(format!(
                "the atomic lattice ({} Bragg peaks) taken out of the search map",
                l.peaks
            ));
            y.iter().zip(&l.component).map(|(a, b)| a - b).collect()
        }
        None => y,
    };
    // Windows of members on either side of the map differ by the plane: without it, their
    // mean shows the kernel sooner.
    let y = common::without_plane(&y, &seen, h, w);
    let found_common = common::find_common(&y, &seen, h, w);
    check_cancelled(progress)?;
    // A step leaves terraces at different heights that no kernel explains: the search and
    // the fit see each terrace less its own plane, the step's band left out.
    let terrace_labels = found_common
        .as_ref()
        .filter(|c| c.lines > 0)
        .map(|c| terraces::label(&seen, &c.step_band, &c.steps, h, w));
    let stepped = terrace_labels.is_some();
    let y = match (&terrace_labels, &found_common) {
        (Some(labels), Some(c)) => {
            let count = labels
                .iter()
                .filter(|&&l| l != usize::MAX)
                .max()
                .map_or(0, |m| m + 1);
            chosen.push(format!(
                "{} step edge(s) or scratch(es): their band left out, the {count} terraces levelled one by one",
                c.lines
            ));
            let usable: Vec<f64> = seen
                .iter()
                .zip(&c.outliers)
                .map(|(s, o)| if *o { 0.0 } else { *s })
                .collect();
            terraces::flatten(&y, &usable, labels, &c.steps, h, w)
        }
        _ => y,
    };
    if let Some(c) = &found_common {
        if c.streaks > 0 {
            chosen.push(format!(
                "{} scan-line streak segment(s) left out (extrema along a few rows that looked alike)",
                c.streaks
            ));
        }
        notes.outliers = c.outlier_count;
        for (v, out) in valid.iter_mut().zip(&c.outliers) {
            if *out && *v > 0.0 {
                *v = 0.0;
                notes.outlier_pixels += 1;
            }
        }
    }
    let valid_count = valid.iter().filter(|v| **v > 0.0).count();
    let basis = Basis::new(settings.background, h, w);
    let blind_types = settings.types.most();
    // With the common defect found: the kernel size (unless given), the size searched and the
    // start kernel, from the whitened map when asked.
    let mut whitened = None;
    let sized = match &found_common {
        Some(c) => {
            let s = match settings.kernel_size {
                Some(s) => s,
                None => {
                    // At least four kernels' area of map per kernel, and twice the spacing.
                    let spacing = (valid_count as f64 / c.members.len() as f64).sqrt();
                    let cap = ((1.5 * spacing) as usize)
                        .min(h.min(w) / 2)
                        .min(MapSettings::MAX_AUTO_KERNEL);
                    let s = common::kernel_size_from_data(&y, &valid, h, w, &c.members, cap);
                    chosen.push(format!(
                        "kernel {s} px: as far as the mean of {} look-alike defects stands above its error (at most {cap})",
                        c.members.len()
                    ));
                    s
                }
            };
            check_cancelled(progress)?;
            // Detection needs the core and the first rings, not the far tail: the search runs
            // at a smaller size, the engine at the full one.
            let searched = s.min(SEARCH_KERNEL);
            let mut start = common::start_kernel(&y, &valid, h, w, &c.members, searched);
            *repeat_found = Some(whiten::translation_repeat(&start, searched));
            if whitened_search {
                let yw = whiten::whiten(&y, &valid, h, w);
                start = common::start_kernel(&yw, &valid, h, w, &c.members, searched);
                whitened = Some(yw);
            }
            Some((s, searched, start))
        }
        None => None,
    };
    check_cancelled(progress)?;
    let mut search = Search {
        y: whitened.as_deref().unwrap_or(&y),
        valid: &valid,
        height: h,
        width: w,
        basis: &basis,
        known,
        detection_sigma: settings.detection_sigma,
        cg_iterations: settings.cg_iterations,
        max_defects: valid_count / 16,
        start: None,
        filter_noise_each_round: !lattice_found,
        progress,
    };
    let mut retried = false;
    let found = match &sized {
        Some((s, searched, start)) => {
            search.start = Some(start);
            let mut f = search.run(*searched, blind_types, progress)?;
            if too_few(&f, known.len()) && search.filter_noise_each_round {
                search.filter_noise_each_round = false;
                f = search.run(*searched, blind_types, progress)?;
                chosen.push(RETRIED.into());
                retried = true;
            }
            f.map(|f| Found {
                kernel_size: *s,
                ..f
            })
        }
        None => {
            let mut f = find(&search, settings, blind_types, valid_count, progress)?;
            if too_few(&f, known.len()) && search.filter_noise_each_round {
                search.filter_noise_each_round = false;
                f = find(&search, settings, blind_types, valid_count, progress)?;
                chosen.push(RETRIED.into());
                retried = true;
            }
            f
        }
    };
    let no_defects = || {
        Error::invalid(
            "no defects found: no position of the map fits a repeated pattern above the detection threshold (a map without defects, or too noisy; lower detection_sigma to search deeper)",
        )
    };
    let Some(mut found) = found else {
        if known.is_empty() {
            return Err(no_defects());
        }
        // Given defects and nothing more in the map: the result of the given ones.
        let s = choose_kernel_size(settings, h, w, valid_count, known.len())?;
        let given = Found {
            positions: known.to_vec(),
            types: vec![0; known.len()],
            kernel_size: s,
            residual: Vec::new(),
            kernels: Vec::new(),
            searched_size: 0,
        };
        let mut ex = finish(map, &given, settings, progress)?;
        chosen.push("no defects found beyond the given ones".into());
        ex.notes = chosen.join("; ");
        return Ok(ex);
    };
    // Glitch lines, clumps and spikes the kernels leave; defects inside outliers' footprints
    // and clumps go.
    let clumped = screen::residual(
        &found.residual,
        &mut valid,
        h,
        w,
        &found.positions,
        &mut notes,
    );
    {
        let outlier = |i: usize| clumped[i] || found_common.as_ref().is_some_and(|c| c.outliers[i]);
        let keep: Vec<usize> = (0..found.positions.len())
            .filter(|&i| {
                let p = found.positions[i];
                let (r, col) = (p[0].round(), p[1].round());
                i < known.len()
                    || r < 0.0
                    || col < 0.0
                    || r >= h as f64
                    || col >= w as f64
                    || !outlier(r as usize * w + col as usize)
            })
            .collect();
        found.positions = keep.iter().map(|&i| found.positions[i]).collect();
        found.types = keep.iter().map(|&i| found.types[i]).collect();
        if found.positions.len() == known.len() && known.is_empty() {
            return Err(no_defects());
        }
    }
    // A blind type left with too few defects to be a repeated pattern goes; types are
    // numbered again without gaps.
    let first_blind = u8::from(!known.is_empty());
    let kinds = found
        .types
        .iter()
        .map(|&t| usize::from(t) + 1)
        .max()
        .unwrap_or(0);
    let count = |t: usize| found.types.iter().filter(|&&k| usize::from(k) == t).count();
    // Every blind type is a pattern that repeats: at least MIN_GROUP defects (given
    // defects, type 0 when there are any, may be fewer).
    let kept: Vec<usize> = (0..kinds)
        .filter(|&t| {
            (t < usize::from(first_blind) && count(t) > 0) || count(t) >= common::MIN_GROUP
        })
        .collect();
    if kept.len() == usize::from(first_blind) && known.is_empty() {
        return Err(Error::invalid(format!(
            "no defects found: the blind search found {} defect(s) of one look, fewer than the {} that make a repeated pattern (give the positions, with a mask or a list, to extract the kernel of fewer defects)",
            found.positions.len(),
            common::MIN_GROUP
        )));
    }
    if kept.len() < kinds {
        let mut renumber = vec![None; kinds];
        for (new, &t) in kept.iter().enumerate() {
            renumber[t] = Some(new as u8);
        }
        let pairs: Vec<([f64; 2], u8)> = found
            .positions
            .iter()
            .zip(&found.types)
            .filter_map(|(p, &t)| renumber[usize::from(t)].map(|n| (*p, n)))
            .collect();
        found.positions = pairs.iter().map(|x| x.0).collect();
        found.types = pairs.iter().map(|x| x.1).collect();
    }
    let excluded: Vec<bool> = given_valid
        .iter()
        .zip(&valid)
        .map(|(g, v)| *g > 0.0 && *v <= 0.0)
        .collect();
    let screened_map = if excluded.iter().any(|x| *x) || stepped {
        let mut screened = map.clone();
        if let (Some(labels), Some(steps)) =
            (&terrace_labels, found_common.as_ref().map(|c| &c.steps))
        {
            for mut layer in screened.data.outer_iter_mut() {
                let v: Vec<f64> = layer.iter().map(|&x| x as f64).collect();
                for (x, lv) in layer
                    .iter_mut()
                    .zip(terraces::flatten(&v, &valid, labels, steps, h, w))
                {
                    *x = lv as f32;
                }
            }
        }
        blank(&mut screened, &excluded);
        Some(screened)
    } else {
        None
    };
    let fit_map = screened_map.as_ref().unwrap_or(map);
    // When the search's kernel has a core that swamps its rings, this first fit only screens
    // (faint defects, the refusals, the core's reach and values), without the bootstrap. The
    // rings' fit below, without the cores, is the result.
    let cored = cores::dominant(&found.kernels, found.searched_size);
    let first_settings = if cored {
        MapSettings {
            bootstrap: 0,
            ..settings.clone()
        }
    } else {
        settings.clone()
    };
    let mut ex = finish(fit_map, &found, &first_settings, progress)?;
    // Blind defects the engine's fit leaves next to nothing (summed over the energies) go
    // when the core swamps the
    // rings (companions of a core fitted a little off, once the kernel is at its full size
    // and the positions refined), and the engine fits once more without them.
    let strength: Vec<f64> = ex
        .amplitudes
        .rows()
        .into_iter()
        .map(|a| a.iter().map(|&x| f64::from(x)).sum())
        .collect();
    if let Some(kept) = search::not_weak(&strength, &ex.types, known.len())
        .filter(|k| cored && k.len() > known.len())
    {
        let dropped = found.positions.len() - kept.len();
        found.positions = kept.iter().map(|&i| found.positions[i]).collect();
        found.types = kept.iter().map(|&i| found.types[i]).collect();
        ex = finish(fit_map, &found, &first_settings, progress)?;
        chosen.push(format!(
            "{dropped} defect(s) the fit left weaker than {} of their type's median amplitude dropped",
            search::WEAK_AMPLITUDE
        ));
    }
    let r2 = ex.heldout_r2_mean();
    // The second search (see `too_few`) must earn its result: correlated noise searched
    // without the per-round threshold tiles the map with bumps that predict little.
    if retried && ex.explains_little() {
        return Err(Error::invalid(format!(
            "no defects found: fewer than {} defects stand above the filter noise, and the {} found by a second search explain only {r2:.3} of the held-out half of the map (below {}): correlated noise, not a repeated defect",
            common::MIN_GROUP,
            ex.positions.len(),
            crate::extract::map::TRUSTED_HELDOUT_R2
        )));
    }
    if r2.is_nan() || r2 < MIN_HELDOUT_R2 {
        return Err(Error::invalid(format!(
            "no defects found: the blind search's best kernel explains {r2:.3} of the held-out half of the map (below {MIN_HELDOUT_R2}); the map shows no repeated defect pattern",
        )));
    }
    // Cores that swamp their rings are left out, and the engine fits the rings again.
    let radii = cores::core_radii(&ex);
    if radii.iter().any(Option::is_some) {
        let core = cores::core_pixels(&ex_positions(&ex), &ex.types, &radii, h, w);
        let mut masked = fit_map.clone();
        blank(&mut masked, &core);
        // The cores place the defects best: the rings' fit keeps the first fit's positions.
        let placed = Found {
            positions: ex_positions(&ex),
            types: ex.types.clone(),
            ..found.clone()
        };
        let fixed = MapSettings {
            refine_positions_px: 0.5,
            ..settings.clone()
        };
        let mut rings = finish(&masked, &placed, &fixed, progress)?;
        cores::restore_centres(&mut rings, &ex, &radii);
        for (t, r) in radii.iter().enumerate() {
            if let Some((r, d)) = r {
                chosen.push(format!(
                    "type {t}'s cores ({d:.0} x its rings) left out within {r:.1} px of each defect: the rings fitted without them, the kernel's centre and the positions from the fit with them (refined by at most 0.5 px on the rings)",
                ));
            }
        }
        let score = split::split_score(
            &masked,
            &rings,
            Some((
                fit_map,
                &ex,
                radii.iter().flatten().map(|r| r.0).fold(0.0, f64::max),
            )),
            known.len(),
            settings,
            progress,
        )?;
        ex = rings;
        let ratio = radii.iter().flatten().map(|r| r.1).fold(0.0, f64::max);
        report_split(&mut ex, score, Some(ratio), known.len(), &mut chosen)?;
    } else {
        if cored {
            // The engine's kernel has no dominant core after all: the full fit is the result.
            ex = finish(fit_map, &found, settings, progress)?;
        }
        let score = split::split_score(fit_map, &ex, None, known.len(), settings, progress)?;
        report_split(&mut ex, score, None, known.len(), &mut chosen)?;
    }
    ex.excluded = Array2::from_shape_fn((h, w), |(r, c)| u8::from(excluded[r * w + c]));
    let kinds = ex.type_count();
    if settings.types == TypeCount::Auto {
        chosen.push(format!(
            "{kinds} type{}: a further type must pay for its kernel and its defects",
            if kinds == 1 { "" } else { "s" }
        ));
    }
    let left_out = notes.describe();
    if !left_out.is_empty() {
        chosen.push(format!("left out {left_out}"));
    }
    ex.notes = chosen.join("; ");
    Ok(ex)
}

/// The result's held-out R^2 replaced by the split score ([`split`]: kernels fitted to one
/// half, their defects found afresh on the other), the whole map's and the structureless
/// control's in the notes. A split score below [`MIN_HELDOUT_R2`], or not finite, is "no
/// defects found"; so is a fit of the rings around left-out cores (`core_ratio`: the
/// largest core-to-rings ratio of the types, `None` when no cores were left out) that
/// explains under [`crate::extract::map::TRUSTED_HELDOUT_R2`] and no more than blobs on the
/// same defects: bumps with nothing around them (clusters), not defects that scatter. The
/// structureless control's score is kept in `control_heldout_r2`.
fn report_split(
    ex: &mut Extraction,
    score: split::SplitScore,
    core_ratio: Option<f64>,
    known: usize,
    chosen: &mut Vec<String>,
) -> Result<()> {
    let rings = core_ratio.is_some();
    let whole = ex.heldout_r2_mean();
    let r2 = score.pooled_r2;
    let found = ex.positions.len();
    if r2.is_nan() || r2 < MIN_HELDOUT_R2 {
        return Err(Error::invalid(format!(
            "no defects found: kernels fitted to one half of the map explain {r2:.3} of the other half, where their defects are found afresh (below {MIN_HELDOUT_R2}; {whole:.3} with the positions found on the whole map): what they fit does not repeat across the map",
        )));
    }
    if rings && r2 < crate::extract::map::TRUSTED_HELDOUT_R2 && r2 <= score.blob_r2 {
        return Err(Error::invalid(format!(
            "no defects found: the bumps found have no pattern around them: outside their cores the kernels explain {r2:.3} of the held-out half, no more than structureless blobs on the same bumps ({:.3})",
            score.blob_r2
        )));
    }
    if known == 0
        && found < FEW_DEFECTS
        && score.blob_r2.is_finite()
        && r2 < score.blob_r2 + STRUCTURE_MARGIN
    {
        return Err(Error::invalid(format!(
            "no defects found: only {found} bumps, and the kernel fitted to them explains {r2:.3} of the held-out half, hardly more than structureless blobs on them ({:.3}; fewer than {FEW_DEFECTS} defects must beat them by {STRUCTURE_MARGIN}): a few clusters or bumps, not a repeated defect (give their positions, with a mask or a list, to extract the kernel of so few)",
            score.blob_r2
        )));
    }
    if let Some(core_ratio) =
        core_ratio.filter(|&r| known == 0 && found < FEW_DEFECTS && r > FEW_CORE_RATIO)
    {
        return Err(Error::invalid(format!(
            "no defects found: only {found} bumps whose centre stands {core_ratio:.0} times above the faint pattern around them (more than {FEW_CORE_RATIO:.0}): a few clusters, not a repeated point defect (give their positions, with a mask or a list, to extract the kernel of so few)"
        )));
    }
    ex.heldout_r2 = score.r2;
    ex.control_heldout_r2 = score.blob_r2;
    let pooled = if ex.heldout_r2.len() > 1 {
        format!(" per energy, {r2:.3} of the energies' first principal component",)
    } else {
        String::new()
    };
    let r2 = ex.heldout_r2_mean();
    let control = if score.blob_r2.is_finite() {
        format!(
            "; a structureless control, bright and dark Gaussian blobs of {:.1} px as many as the kernels found, explains {:.3} the same way{}",
            score.blob_sigma_px,
            score.blob_r2,
            if r2 <= score.blob_r2 {
                " (the kernels do no better than bumps)"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    chosen.push(format!(
        "held-out R^2 {r2:.3}: kernels fitted to one half of the map, their defects found afresh on the other ({whole:.3} with the positions found on the whole map){pooled}{control}"
    ));
    Ok(())
}

/// `map` with the pixels where `out` is true (row-major `H x W`) made NaN in every layer:
/// left out of the engine's fit.
fn blank(map: &mut MapData, out: &[bool]) {
    for mut layer in map.data.outer_iter_mut() {
        for (x, o) in layer.iter_mut().zip(out) {
            if *o {
                *x = f32::NAN;
            }
        }
    }
}

/// The refined positions of `ex`, `(row, col)` pixels.
fn ex_positions(ex: &Extraction) -> Vec<[f64; 2]> {
    ex.positions
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect()
}

/// Said in the notes when the search ran again without the per-round filter-noise threshold.
const RETRIED: &str = "searched again with the filter-noise threshold only once the rounds settled: measured while the defects not yet found were in the residual, it had let fewer than 3 through (a lattice-periodic kernel's response fills the map)";

/// Whether a search found some blind defects but fewer than make a repeated pattern
/// ([`common::MIN_GROUP`]): with the filter-noise threshold in every round, the mark of a
/// lattice-periodic kernel (graphene's), whose response to the defects not yet found fills
/// the map and hides them. Noise, correlated or not, leaves none at all there; the search
/// then runs again with the threshold applied once the rounds settle (measured: 2 of 8
/// graphene catalog maps, and no negative control).
fn too_few(found: &Option<Found>, known: usize) -> bool {
    found
        .as_ref()
        .is_some_and(|f| (1..common::MIN_GROUP).contains(&f.positions.len().saturating_sub(known)))
}

/// The search with `blind_types` types at the caller's kernel size, or at the size that the
/// count of defects found at a first size gives (when no common defect stands out).
fn find(
    search: &Search,
    settings: &MapSettings,
    blind_types: usize,
    valid_count: usize,
    progress: &dyn Progress,
) -> Result<Option<Found>> {
    let (h, w) = (search.height, search.width);
    if let Some(s) = settings.kernel_size {
        return search.run(s, blind_types, progress);
    }
    // The largest odd size up to FIRST_KERNEL that fits the map.
    let first = (FIRST_KERNEL.min(h.min(w)) - 1) | 1;
    let Some(found) = search.run(first, blind_types, progress)? else {
        return Ok(None);
    };
    let s = choose_kernel_size(settings, h, w, valid_count, found.positions.len())?;
    if s == first {
        return Ok(Some(found));
    }
    search.run(s, blind_types, progress)
}

/// The map engine on the defects found: kernels per type and energy, held-out score, error.
fn finish(
    map: &MapData,
    found: &Found,
    settings: &MapSettings,
    progress: &dyn Progress,
) -> Result<Extraction> {
    let engine = MapSettings {
        kernel_size: Some(found.kernel_size),
        refine_positions_px: settings.refine_positions_px.min(1.0),
        ..settings.clone()
    };
    let mut ex = extract_map_typed(map, &found.positions, &found.types, &engine, progress)?;
    ex.method = "blind".into();
    ex.settings_toml = toml::to_string(settings).unwrap_or_default();
    Ok(ex)
}
