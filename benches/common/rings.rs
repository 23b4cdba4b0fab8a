//! The map of the cancellation tests and benchmark (`tests/cancel.rs`, `benches/cancel.rs`).

/// A `side x side` map: a ring-shaped pattern at each of `count` random positions on weak
/// noise.
pub fn scene(side: usize, count: usize) -> (Vec<f32>, Vec<f32>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut map: Vec<f32> = (0..side * side)
        .map(|_| (uniform() - 0.5) as f32 * 0.05)
        .collect();
    let mut positions = Vec::with_capacity(2 * count);
    for _ in 0..count {
        let (r, c) = (
            8.0 + uniform() * (side - 16) as f64,
            8.0 + uniform() * (side - 16) as f64,
        );
        positions.extend([r as f32, c as f32]);
        let (r0, c0) = (r as isize, c as isize);
        for dr in -6isize..=6 {
            for dc in -6isize..=6 {
                let (y, x) = (r0 + dr, c0 + dc);
                if y < 0 || x < 0 || y >= side as isize || x >= side as isize {
                    continue;
                }
                let d = ((dr * dr + dc * dc) as f64).sqrt();
                map[y as usize * side + x as usize] += ((d * 1.3).cos() * (-d / 4.0).exp()) as f32;
            }
        }
    }
    (map, positions)
}
