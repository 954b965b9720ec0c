//! `generated/` holds reviewable copies of what build.rs writes to OUT_DIR. This test fails with
//! a diff when they differ; `cargo xtask generate` (or `EXPECTORATE=overwrite cargo test --test
//! generated_drift`) refreshes them.

use std::path::Path;

/// With `LEADMAGIC_OPENAPI` set the build used another document; the check still runs (a
/// regeneration must show its real diff), and a failure says so.
#[test]
fn generated_copies_match_the_build() {
    let out_dir = Path::new(env!("OUT_DIR"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    for file in ["client.rs", "tools.rs"] {
        let built = std::fs::read_to_string(out_dir.join(file)).expect("build output");
        let path = committed.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(built.as_str()) {
            let other = std::env::var("LEADMAGIC_OPENAPI")
                .map(|p| format!(" This build used LEADMAGIC_OPENAPI={p}, not the contract."))
                .unwrap_or_default();
            eprintln!(
                "generated/{file} differs from the build output.{other} Run `cargo xtask generate` \
                 and review `git diff generated/`."
            );
        }
        expectorate::assert_contents(&path, &built);
    }
}

/// A new file under `build/` triggers a rebuild: the build script watches the directory (it
/// listed `build/*.rs` file by file, so a new module went unnoticed until build.rs changed).
#[test]
fn the_build_script_watches_the_whole_build_directory() {
    let output = Path::new(env!("OUT_DIR"))
        .parent()
        .expect("OUT_DIR is <build dir>/out")
        .join("output");
    let text = std::fs::read_to_string(&output).expect("the build script's recorded output");
    let watched: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("cargo:rerun-if-changed=")
                .or_else(|| l.strip_prefix("cargo::rerun-if-changed="))
        })
        .collect();
    assert!(watched.contains(&"build"), "{watched:?}");
    assert!(
        !watched.iter().any(|w| w.starts_with("build/")),
        "no file-by-file list to forget a file in: {watched:?}"
    );
}
