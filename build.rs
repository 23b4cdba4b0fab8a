// Embeds the default models when they are present (models/*.safetensors, see docs/model-card.md).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(qpik_embedded_models)");
    println!("cargo::rerun-if-changed=models/two-step.safetensors");
    println!("cargo::rerun-if-changed=models/one-step.safetensors");
    if std::path::Path::new("models/two-step.safetensors").exists()
        && std::path::Path::new("models/one-step.safetensors").exists()
    {
        println!("cargo::rustc-cfg=qpik_embedded_models");
    }
    // ELF platforms: the shared library's SONAME, so programs record the major version they need
    // (installed as libqpik.so.0.1.0 with links libqpik.so.0 and libqpik.so; see CMakeLists.txt).
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !matches!(os.as_str(), "macos" | "ios" | "windows") {
        println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libqpik.so.0");
    }
}
