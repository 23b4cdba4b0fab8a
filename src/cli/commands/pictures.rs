//! Picture panels shared by the commands.

use crate::picture::{Colormap, Panel, Scale};
use ndarray::ArrayView2;

pub(super) fn signed_panel(image: ArrayView2<'_, f32>, title: String) -> Panel<'_> {
    Panel {
        image,
        title,
        colormap: Colormap::Diverging,
        scale: Scale::SymmetricPercentile(0.5),
        marks: vec![],
    }
}
