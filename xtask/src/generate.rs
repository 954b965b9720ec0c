//! `cargo xtask generate [--check]`: `generated/` from the contract and the overlay (in
//! process), then the README tool table, the tool snapshots and the public API list (their
//! tests, which render what the server sends and what `cargo doc` shows, with
//! `EXPECTORATE=overwrite` unless checking).

use crate::{CONTRACT, OVERLAY, generator, read_document, root};
use std::process::{Command, ExitCode};

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let check = args.iter().any(|a| a == "--check");
    let root = root();
    let doc = generator::overlay::apply(
        &read_document(&root.join(CONTRACT))?,
        &read_document(&root.join(OVERLAY))?,
    )
    .map_err(|e| format!("{OVERLAY}: {e}"))?;
    let out = generator::generate(&doc).map_err(|e| format!("{CONTRACT}: {e}"))?;
    let mut stale = Vec::new();
    for (file, text) in [("client.rs", &out.client), ("tools.rs", &out.tools)] {
        let path = root.join("generated").join(file);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *text {
            continue;
        }
        if check {
            stale.push(format!("generated/{file}"));
        } else {
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("rewrote generated/{file}");
        }
    }
    // The README table and the snapshots are rendered by the crate itself: its tests check
    // them, and rewrite them when asked.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut test = Command::new(cargo);
    test.current_dir(&root).args([
        "test",
        "--quiet",
        "--locked",
        "--test",
        "readme_sync",
        "--test",
        "tool_surface",
        "--test",
        "generated_drift",
        "--test",
        "public_api",
    ]);
    if check {
        test.env_remove("EXPECTORATE");
    } else {
        test.env("EXPECTORATE", "overwrite");
    }
    let status = test
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    if !stale.is_empty() {
        eprintln!(
            "stale: {} (run `cargo xtask generate` and review the diff)",
            stale.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    if !status.success() {
        eprintln!(
            "the README tool table, the tool snapshots or the public API list are stale: run `cargo xtask generate` and review the diff"
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "generated/, the README tool table, the tool snapshots and the public API list {}",
        if check {
            "match the build"
        } else {
            "are up to date"
        }
    );
    Ok(ExitCode::SUCCESS)
}
