use qpik::physics::{SimContext, catalog::catalog};
use qpik::picture::{Colormap, Panel, Scale, write_panels};
fn main() {
    let mut ctx = SimContext::new();
    let filter = std::env::args().nth(1).unwrap_or_default();
    let out = std::env::args().nth(2).unwrap_or("/tmp/catalog.png".into());
    let cat: Vec<_> = catalog()
        .into_iter()
        .filter(|k| k.name.contains(&filter))
        .collect();
    let imgs: Vec<_> = cat
        .iter()
        .map(|s| s.kernel_image(&mut ctx).unwrap().mapv(|x| x as f32))
        .collect();
    let panels: Vec<_> = cat
        .iter()
        .zip(&imgs)
        .map(|(s, im)| Panel {
            image: im.view(),
            title: s.name.clone(),
            colormap: Colormap::Diverging,
            scale: Scale::SymmetricPercentile(0.5),
            marks: vec![],
        })
        .collect();
    write_panels(std::path::Path::new(&out), &panels, 6, 2).unwrap();
}
