//! `generated/` holds reviewable copies of what build.rs writes to OUT_DIR. This test fails when
//! they differ; `EXPECTORATE=overwrite cargo test --test generated_drift` refreshes them.

use std::path::Path;

fn overwrite() -> bool {
    std::env::var("EXPECTORATE").is_ok_and(|v| v == "overwrite")
}

/// With `LEADMAGIC_OPENAPI` set the build used another document; the check still runs (a
/// regeneration must show its real diff), and a failure says so.
#[test]
fn generated_copies_match_the_build() {
    let other = std::env::var("LEADMAGIC_OPENAPI")
        .map(|p| format!(" This build used LEADMAGIC_OPENAPI={p}, not openapi/leadmagic.yaml."))
        .unwrap_or_default();
    let out_dir = Path::new(env!("OUT_DIR"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    for file in ["client.rs", "tools.rs"] {
        let built = std::fs::read_to_string(out_dir.join(file)).expect("build output");
        let path = committed.join(file);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if built == current {
            continue;
        }
        if overwrite() {
            std::fs::create_dir_all(&committed).unwrap();
            std::fs::write(&path, &built).unwrap();
            eprintln!("rewrote {}", path.display());
            continue;
        }
        let line = built
            .lines()
            .zip(current.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || built.lines().count().min(current.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "generated/{file} differs from the build output (first difference at line {line}).{other} \
             Run `EXPECTORATE=overwrite cargo test --test generated_drift` and review `git diff generated/`."
        );
    }
}
