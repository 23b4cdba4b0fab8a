//! Evaluation of a network on a dataset's seen-test and unseen observations.

use super::metrics::{GroupMetrics, sample_metrics};
use super::network::{Extractor, ce};
use crate::Result;

/// Evaluate on the seen-test and unseen observations of a dataset (up to `limit` each).
pub fn evaluate(
    ex: &Extractor,
    data: &crate::model::data::TrainingData,
    limit: usize,
) -> Result<(GroupMetrics, GroupMetrics)> {
    let group = |items: &[usize]| -> Result<GroupMetrics> {
        let items: Vec<usize> = items.iter().copied().take(limit).collect();
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(64) {
            let (x, _) = data.batch(chunk, None, &ex.device).map_err(ce)?;
            let y = ex
                .forward(&x)
                .map_err(ce)?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(ce)?;
            let px = data.size * data.size;
            for (j, &i) in chunk.iter().enumerate() {
                out.push(sample_metrics(
                    &y[j * px..(j + 1) * px],
                    &data.kernels[data.kernel_index[i] as usize],
                ));
            }
        }
        Ok(GroupMetrics::of(&out))
    };
    Ok((group(&data.seen_test)?, group(&data.unseen_test)?))
}
