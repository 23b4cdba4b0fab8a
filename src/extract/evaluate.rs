//! Evaluation of a network on a dataset's seen-test and unseen observations.

use super::metrics::{GroupMetrics, MaxDot, SampleMetrics, sample_metrics};
use super::network::{Extractor, candle_error};
use crate::Result;

/// Evaluate on the seen-test and unseen observations of a dataset (up to `limit` each).
pub fn evaluate(
    ex: &Extractor,
    data: &crate::model::data::TrainingData,
    limit: usize,
) -> Result<(GroupMetrics, GroupMetrics)> {
    let maxdot = MaxDot::new(data.size, data.size);
    let group = |items: &[usize]| -> Result<GroupMetrics> {
        let items: Vec<usize> = items.iter().copied().take(limit).collect();
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(64) {
            let (x, _) = data.batch(chunk, None, &ex.device).map_err(candle_error)?;
            let y = ex
                .forward(&x)
                .map_err(candle_error)?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(candle_error)?;
            let px = data.size * data.size;
            for (j, &i) in chunk.iter().enumerate() {
                let (pred, truth) = (
                    &y[j * px..(j + 1) * px],
                    &data.kernels[data.kernel_index[i] as usize],
                );
                let mut m = sample_metrics(pred, truth);
                m.maxdot = maxdot.of(pred, truth);
                out.push(m);
            }
        }
        Ok(GroupMetrics::of(&out))
    };
    Ok((group(&data.seen_test)?, group(&data.unseen_test)?))
}

/// Evaluate the map engine (known positions from each observation's mask) on a qpik dataset
/// of any image size: kernels of unseen (`split = 1`) and seen kernels, up to `limit` each,
/// spread evenly over each group's observations (every k-th, so that a dataset stored kernel
/// by kernel is not scored on its first few kernels only).
/// The kernel is extracted on `settings.kernel_size` pixels, else on the dataset's kernel
/// window (or the image's smaller side if less); its central window (at most the dataset's)
/// is compared with the true kernel's, both min-max scaled as for the networks; maxdot on the
/// same pair. With `settings.blind` the masks are ignored and the defects found blind
/// ([`crate::extract::blind::extract_blind`]); a map where none are found scores 0.
pub fn evaluate_forward(
    path: &std::path::Path,
    settings: &crate::extract::map::MapSettings,
    limit: usize,
    progress: &dyn crate::progress::Progress,
) -> Result<(GroupMetrics, GroupMetrics)> {
    use crate::data::hdf5_io::DatasetReader;
    use crate::data::map_data::MapData;
    use crate::extract::defects::positions_from_mask;
    use crate::extract::map::extract_map;
    use crate::progress::{NoProgress, check_cancelled};
    let reader = DatasetReader::open(path)?;
    let (h, w) = reader.image_shape();
    let kt = reader.kernels().clone();
    let (kh, kw) = (kt.kernels.dim().1, kt.kernels.dim().2);
    // The largest odd size that fits (the engine takes odd sizes only).
    let fit = settings
        .kernel_size
        .unwrap_or((kh.min(kw).min(h).min(w).max(4) - 1) | 1);
    let s = fit.min(kh).min(kw);
    // The blind search chooses its own kernel size unless the caller gave one: the dataset's
    // window may be as large as the map, which a search cannot start from.
    let blind = settings.clone();
    let settings = crate::extract::map::MapSettings {
        kernel_size: Some(fit),
        ..settings.clone()
    };
    let truth: Vec<Vec<f32>> = (0..kt.names.len())
        .map(|k| {
            let (r0, c0) = (kh / 2 - s / 2, kw / 2 - s / 2);
            let crop: Vec<f32> = (0..s * s)
                .map(|i| kt.kernels[[k, r0 + i / s, c0 + i % s]])
                .collect();
            crate::model::minmax(&crop)
        })
        .collect();
    let maxdot = MaxDot::new(s, s);
    let (mut seen, mut unseen) = (Vec::new(), Vec::new());
    let block = 256;
    let is_unseen = |k: u32| kt.split[k as usize] == crate::data::SPLIT_UNSEEN;
    // Pass 1: the size of each group, for the stride.
    let mut totals = [0usize; 2];
    for start in (0..reader.len()).step_by(block) {
        let table = reader.read_observations(start..(start + block).min(reader.len()))?;
        for &k in &table.kernel_index {
            totals[usize::from(is_unseen(k))] += 1;
        }
    }
    let strides = totals.map(|t| t.div_ceil(limit.max(1)).max(1));
    let mut counters = [0usize; 2];
    progress.stage(
        "extracting",
        (totals[0].min(limit) + totals[1].min(limit)) as u64,
    );
    for start in (0..reader.len()).step_by(block) {
        if seen.len() >= limit && unseen.len() >= limit {
            break;
        }
        let table = reader.read_observations(start..(start + block).min(reader.len()))?;
        for j in 0..table.kernel_index.len() {
            let k = table.kernel_index[j] as usize;
            let g = usize::from(is_unseen(k as u32));
            counters[g] += 1;
            if (counters[g] - 1) % strides[g] != 0 {
                continue;
            }
            let group = if g == 1 { &mut unseen } else { &mut seen };
            if group.len() >= limit {
                continue;
            }
            check_cancelled(progress)?;
            let obs = table
                .observations
                .index_axis(ndarray::Axis(0), j)
                .to_owned();
            let map = MapData::from_image(obs);
            let ex = if settings.blind {
                match crate::extract::blind::extract_blind(&map, &[], &blind, &NoProgress) {
                    Ok(ex) => ex,
                    Err(_) => {
                        // Scored as a flat kernel.
                        let flat = vec![0.5f32; s * s];
                        group.push(SampleMetrics {
                            maxdot: 0.0,
                            ..sample_metrics(&flat, &truth[k])
                        });
                        progress.advance(1);
                        continue;
                    }
                }
            } else {
                let positions = positions_from_mask(table.masks.index_axis(ndarray::Axis(0), j))
                    .map_err(|e| {
                        crate::Error::invalid(format!("observation {}: {e}", start + j))
                    })?;
                extract_map(&map, &positions, &settings, &NoProgress)
                    .map_err(|e| crate::Error::invalid(format!("observation {}: {e}", start + j)))?
            };
            // On the dataset's window: the kernel's centre cropped or zero-padded to S.
            let side = ex.kernel_size();
            let own: Vec<f64> = ex
                .kernels
                .slice(ndarray::s![0, 0, .., ..])
                .iter()
                .map(|&v| v as f64)
                .collect();
            let found: Vec<f32> = crate::extract::blind::search::resize_kernel(&own, side, s)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let pred = crate::model::minmax(&found);
            let mut m = sample_metrics(&pred, &truth[k]);
            m.maxdot = maxdot.of(&pred, &truth[k]);
            group.push(m);
            progress.advance(1);
        }
    }
    Ok((GroupMetrics::of(&seen), GroupMetrics::of(&unseen)))
}
