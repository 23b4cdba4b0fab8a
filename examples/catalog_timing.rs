use qpik::physics::{SimContext, catalog::catalog};
fn main() {
    let mut ctx = SimContext::new();
    let cat = catalog();
    println!("{} kernels", cat.len());
    let t0 = std::time::Instant::now();
    for spec in &cat {
        let t = std::time::Instant::now();
        let field = spec.simulate(&mut ctx).unwrap();
        let t1 = t.elapsed();
        let g = spec.grid();
        let img = field.render(&g, g.centre()).unwrap();
        let mx = img.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
        println!(
            "{:40} sim {:7.1} ms  total {:7.1} ms  max {:.3e}",
            spec.name,
            t1.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3,
            mx
        );
    }
    println!("all {:.2} s", t0.elapsed().as_secs_f64());
}
