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
