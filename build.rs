//! Generates the typed LeadMagic client and the MCP tool table from LeadMagic's contract with
//! our curation applied (an OpenAPI Overlay). The pipeline lives in `build/` so the tests and
//! `cargo xtask` can run it on other documents.
//!
//! Inputs: `openapi/leadmagic.contract.yaml` (or the file in `LEADMAGIC_OPENAPI`) and
//! `openapi/leadmagic.overlay.yaml` (or the file in `LEADMAGIC_OVERLAY`; set it empty for no
//! curation at all: conservative hints, "cost not stated", a warning per operation).

#[path = "build/mod.rs"]
mod generator;

use std::path::{Path, PathBuf};

fn main() {
    // The directory, so a new file under build/ is picked up too.
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LEADMAGIC_OPENAPI");
    println!("cargo:rerun-if-env-changed=LEADMAGIC_OVERLAY");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let contract = match std::env::var_os("LEADMAGIC_OPENAPI") {
        Some(p) if !p.is_empty() => manifest.join(p),
        _ => manifest.join("openapi/leadmagic.contract.yaml"),
    };
    let overlay = match std::env::var_os("LEADMAGIC_OVERLAY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(manifest.join(p)),
        None => Some(manifest.join("openapi/leadmagic.overlay.yaml")),
    };
    let doc = read(&contract);
    let doc = match &overlay {
        Some(path) => generator::overlay::apply(&doc, &read(path)).unwrap_or_else(|e| {
            fail(&format!(
                "{} on {}: {e}\n  (LEADMAGIC_OVERLAY= with an empty value builds without our curation)",
                path.display(),
                contract.display()
            ))
        }),
        None => doc,
    };
    let out =
        generator::generate(&doc).unwrap_or_else(|e| fail(&format!("{}: {e}", contract.display())));
    for w in &out.warnings {
        println!("cargo:warning={w}");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    write(&out_dir.join("client.rs"), &out.client);
    write(&out_dir.join("tools.rs"), &out.tools);
}

fn read(path: &Path) -> serde_json::Value {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    generator::load::parse(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
}

fn write(path: &Path, text: &str) {
    // Unchanged output keeps its mtime, so an unrelated rebuild does not recompile the crate.
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", path.display())));
    }
}

/// Stop the build with one readable line instead of a panic backtrace.
fn fail(message: &str) -> ! {
    eprintln!(
        "error: leadmagic-mcp could not generate code from the OpenAPI document:\n  {message}"
    );
    std::process::exit(1);
}
