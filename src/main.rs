fn main() {
    std::process::exit(qpik::cli::main());
}
