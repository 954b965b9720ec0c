//! Generates the typed LeadMagic client and the MCP tool table from the OpenAPI document.
//! The pipeline lives in `build/` so tests can run it on fixture documents.

#[path = "build/mod.rs"]
mod generator;

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for file in [
        "mod.rs",
        "load.rs",
        "normalize.rs",
        "preflight.rs",
        "schema.rs",
        "tools.rs",
    ] {
        println!("cargo:rerun-if-changed=build/{file}");
    }
    println!("cargo:rerun-if-env-changed=LEADMAGIC_OPENAPI");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let source = match std::env::var_os("LEADMAGIC_OPENAPI") {
        Some(p) if !p.is_empty() => manifest.join(p),
        _ => manifest.join("openapi/leadmagic.yaml"),
    };
    println!("cargo:rerun-if-changed={}", source.display());

    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", source.display())));
    let doc = generator::load::parse(&text)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", source.display())));
    let out =
        generator::generate(&doc).unwrap_or_else(|e| fail(&format!("{}: {e}", source.display())));
    for w in &out.warnings {
        println!("cargo:warning={w}");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    write(&out_dir.join("client.rs"), &out.client);
    write(&out_dir.join("tools.rs"), &out.tools);
}

fn write(path: &std::path::Path, text: &str) {
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
