//! Config builders: the defaults of each library config, overridden by the options set,
//! then the config's own `validate()`.

use super::parse::{Value, bad_value};
use super::qpik_options;
use crate::capi::{CError, CResult, qpik_status};
use crate::data::map_data::MapData;
use crate::extract::defects::{DEFAULT_DEFECT_SIZE_A, Polarity, TopographySettings};
use crate::extract::map::{Background, MapSettings, Smoothness, SymmetryChoice, TypeCount, Weight};
use crate::model::NetConfig;
use crate::model::train::TrainConfig;
use crate::synthesis::dataset::DatasetConfig;
use crate::synthesis::{Artefacts, DefectConfig};

impl qpik_options {
    /// Defect settings (defaults overridden by `defects.*`), validated.
    pub(crate) fn defects(&self) -> CResult<DefectConfig> {
        let mut d = DefectConfig::default();
        if let Some(v) = self.usize("defects.count_min")? {
            d.count_min = v;
        }
        if let Some(v) = self.usize("defects.count_max")? {
            d.count_max = v;
        }
        if let Some(v) = self.float("defects.density_per_nm2") {
            d.density_per_nm2 = Some(v);
        }
        if let Some(Value::Region(r)) = self.values.get("defects.region") {
            d.region = *r;
        }
        if let Some(v) = self.float("defects.amplitude_min") {
            d.amplitude_min = v;
        }
        if let Some(v) = self.float("defects.amplitude_max") {
            d.amplitude_max = v;
        }
        if let Some(v) = self.float("defects.negative_fraction") {
            d.negative_fraction = v;
        }
        if let Some(v) = self.usize("defects.subpixel_steps")? {
            d.subpixel_steps = v;
        }
        d.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("defects.*: {e}"),
            )
        })?;
        Ok(d)
    }

    /// Artefact settings (preset then `artefacts.*`), validated.
    pub(crate) fn artefacts(&self) -> CResult<Artefacts> {
        let mut a = if self.text("artefacts") == Some("realistic") {
            Artefacts::realistic()
        } else {
            Artefacts::default()
        };
        let fields: [(&str, &mut f64); 8] = [
            ("artefacts.flicker", &mut a.flicker),
            ("artefacts.line_offsets", &mut a.line_offsets),
            ("artefacts.tip_changes", &mut a.tip_changes),
            ("artefacts.tip_change_size", &mut a.tip_change_size),
            ("artefacts.spikes", &mut a.spikes),
            ("artefacts.spike_size", &mut a.spike_size),
            ("artefacts.plane", &mut a.plane),
            ("artefacts.drift_px", &mut a.drift_px),
        ];
        for (k, slot) in fields {
            if let Some(v) = self.float(k) {
                *slot = v;
            }
        }
        if let Some(v) = self.float("artefacts.snr") {
            a.snr = Some(v);
        }
        a.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("artefacts.*: {e}"),
            )
        })?;
        Ok(a)
    }

    /// Dataset generator settings, validated.
    pub(crate) fn dataset(&self) -> CResult<DatasetConfig> {
        let mut c = DatasetConfig::default();
        if let Some(v) = self.usize("dataset.kernels")? {
            c.kernels = v;
        }
        if let Some(v) = self.usize("dataset.per_kernel")? {
            c.per_kernel = v;
        }
        if let Some((r, w)) = self.size() {
            if r != w {
                return Err(bad_value(
                    "size",
                    &format!("{r}x{w}"),
                    "a square size for datasets",
                ));
            }
            c.size = r;
        }
        c.seed = self.seed();
        if let Some(v) = self.uint("dataset.split_seed") {
            c.split_seed = v;
        }
        if let Some(v) = self.float("dataset.unseen_fraction") {
            c.unseen_fraction = v;
        }
        if let Some(v) = self.usize("dataset.types")? {
            c.types = v;
        }
        c.pixel_size_a = self.pixel_size_m().map(|m| m / crate::units::ANGSTROM_M);
        c.defects = self.defects()?;
        c.artefacts = self.artefacts()?;
        c.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("dataset.*: {e}"),
            )
        })?;
        Ok(c)
    }

    /// Training settings for data at `data` (network size follows the data at train time).
    pub(crate) fn train(&self, data: &std::path::Path) -> CResult<TrainConfig> {
        let mut c = TrainConfig {
            data: data.to_path_buf(),
            seed: self.seed(),
            ..TrainConfig::default()
        };
        if let Some(v) = self.usize("train.epochs")? {
            c.epochs = v;
        }
        c.steps_per_epoch = self.usize("train.steps_per_epoch")?;
        if let Some(v) = self.usize("train.batch_size")? {
            c.batch_size = v;
        }
        if let Some(v) = self.float("train.learning_rate") {
            c.learning_rate = v;
        }
        if let Some(v) = self.float("train.weight_decay") {
            c.weight_decay = v;
        }
        if let Some(v) = self.usize("train.warmup_steps")? {
            c.warmup_steps = v;
        }
        if let Some(v) = self.float("train.grad_clip") {
            c.grad_clip = v;
        }
        c.max_per_kernel = self.usize("train.max_per_kernel")?;
        if let Some(v) = self.flag("train.augment") {
            c.augment = v;
        }
        if let Some(Value::Channels(ch)) = self.values.get("train.channels") {
            c.net = NetConfig {
                channels: *ch,
                ..c.net
            };
        }
        // Values are finite (checked when set); ranges are the config's own.
        c.validate().map_err(|e| {
            CError::new(qpik_status::QPIK_ERR_OPTION_VALUE, format!("train.*: {e}"))
        })?;
        Ok(c)
    }

    /// Map engine settings (defaults overridden by `map.*`), validated.
    pub(crate) fn map_settings(&self) -> CResult<MapSettings> {
        let mut m = MapSettings::default();
        let auto_usize = |k: &str| -> CResult<Option<usize>> {
            match self.values.get(k) {
                Some(Value::UInt(v)) => usize::try_from(*v)
                    .map(Some)
                    .map_err(|_| bad_value(k, &v.to_string(), "a smaller number")),
                _ => Ok(None),
            }
        };
        m.kernel_size = auto_usize("map.kernel_size")?;
        m.block_px = auto_usize("map.block_px")?;
        if let Some(t) = self.text("map.symmetry") {
            m.symmetry = SymmetryChoice::parse(t)
                .map_err(|_| bad_value("map.symmetry", t, SymmetryChoice::NAMES))?;
        }
        if let Some(t) = self.text("map.background") {
            m.background = match t {
                "constant" => Background::Constant,
                "plane" => Background::Plane,
                _ => Background::PlaneAndLines,
            };
        }
        if let Some(w) = self.float("map.smoothness") {
            m.smoothness = Smoothness::Fixed(w);
        }
        if let Some(w) = self.float("map.decay") {
            m.decay = Weight::Fixed(w);
        }
        if let Some(v) = self.usize("map.bootstrap")? {
            m.bootstrap = v;
        }
        if let Some(v) = self.float("map.refine_positions_px") {
            m.refine_positions_px = v;
        }
        if let Some(v) = self.usize("map.outer_iterations")? {
            m.outer_iterations = v;
        }
        if let Some(v) = self.usize("map.cg_iterations")? {
            m.cg_iterations = v;
        }
        if let Some(v) = self.flag("map.blind") {
            m.blind = v;
        }
        if self.text("defects.from") == Some("blind") {
            m.blind = true;
        }
        if matches!(self.values.get("map.types"), Some(Value::Auto)) {
            m.types = TypeCount::Auto;
        } else if let Some(v) = auto_usize("map.types")? {
            m.types = TypeCount::Fixed(v);
        }
        if let Some(v) = self.float("map.detection_sigma") {
            m.detection_sigma = v;
        }
        m.seed = self.uint("map.seed").unwrap_or_else(|| self.seed());
        if let Some(v) = self.uint("map.memory_budget_bytes") {
            m.memory_budget_bytes = v;
        }
        m.validate()
            .map_err(|e| CError::new(qpik_status::QPIK_ERR_OPTION_VALUE, format!("map.*: {e}")))?;
        Ok(m)
    }

    /// Settings of the topography defect finder: `topography.*`, with the defect size in
    /// pixels from `topography.defect_size_a` over `map.pixel_size_m` when the pixel size is
    /// set (else the 4-pixel default), validated.
    pub(crate) fn topography_settings(&self) -> CResult<TopographySettings> {
        let option_err = |e: crate::Error| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("topography.*: {e}"),
            )
        };
        let mut t = match self.float("map.pixel_size_m") {
            Some(m) => {
                let p = m / crate::units::ANGSTROM_M;
                let size = self
                    .float("topography.defect_size_a")
                    .unwrap_or(DEFAULT_DEFECT_SIZE_A);
                TopographySettings::with_defect_size_a(size, p).map_err(option_err)?
            }
            None => TopographySettings::default(),
        };
        t.polarity = match self.text("topography.polarity") {
            Some("dark") => Polarity::Dark,
            Some("auto") => Polarity::Auto,
            _ => Polarity::Bright,
        };
        if let Some(v) = self.float("topography.threshold_sigma") {
            t.threshold_sigma = v;
        }
        t.validate().map_err(option_err)?;
        Ok(t)
    }

    /// A map `[E, H, W]` with the metadata of `map.pixel_size_m` (unknown: NaN; checked when
    /// set),
    /// `map.value_unit` (unknown: "") and `map.energies_ev` (one per layer; unknown: NaN).
    pub(crate) fn map_data(&self, data: ndarray::Array3<f32>, source: &str) -> CResult<MapData> {
        let e = data.dim().0;
        let pixel_size_m = self.float("map.pixel_size_m").unwrap_or(f64::NAN);
        let energies_ev = match self.values.get("map.energies_ev") {
            Some(Value::Floats(v)) if v.len() == e => v.clone(),
            Some(Value::Floats(v)) => {
                return Err(CError::new(
                    qpik_status::QPIK_ERR_OPTION_VALUE,
                    format!(
                        "option 'map.energies_ev' has {} values but the map has {e} layer(s); give one energy per layer",
                        v.len()
                    ),
                ));
            }
            _ => vec![f64::NAN; e],
        };
        Ok(MapData {
            data,
            pixel_size_m,
            value_unit: self.text("map.value_unit").unwrap_or("").to_string(),
            energies_ev,
            source: source.to_string(),
        })
    }
}
