fn main() {
    println!("qpik {}", env!("CARGO_PKG_VERSION"));
}
