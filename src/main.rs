fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`qpik catalog | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(qpik::cli::main());
}
