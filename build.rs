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
}
