//! Nanonis .3ds parser: arbitrary bytes must give a grid or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(grid) = qpik::data::nanonis3ds::parse_3ds(data, "fuzz.3ds") {
        let _ = grid.pixel_size_m();
        let _ = grid.energies_ev();
        let (rows, cols) = grid.shape;
        // Images are allocated for every point; keep within libFuzzer's memory limit.
        if rows * cols * grid.sweep_values.len() <= 1 << 24 {
            for c in &grid.channels {
                let _ = grid.channel(&c.name);
            }
            let _ = grid.parameter("Z");
        }
    }
});
