//! The maintainer's commands, run as `cargo xtask <command>`:
//!
//! - `import PATH`: bring in a LeadMagic OpenAPI document as `openapi/leadmagic.contract.yaml`
//!   (facts only), then report the tool-surface change against the previous contract, the
//!   operations our overlay does not curate, and the overlay actions that match nothing.
//! - `diff OLD NEW [--old-overlay FILE] [--new-overlay FILE]`: the classified tool-surface
//!   change between any two documents.
//! - `generate [--check]`: refresh (or check) `generated/`, the README tool table and the
//!   tool snapshots from the build's current inputs.
//!
//! Exit status: 0 when nothing breaks (or nothing is stale), 1 when a change breaks an agent or
//! a Rust caller (or `--check` finds drift), 2 on a usage or input error.

#[path = "../../build/mod.rs"]
#[allow(dead_code)]
mod generator;

mod diff;
mod generate;
mod import;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository")
        .to_path_buf()
}

pub const CONTRACT: &str = "openapi/leadmagic.contract.yaml";
pub const OVERLAY: &str = "openapi/leadmagic.overlay.yaml";

const USAGE: &str = "usage:
  cargo xtask import PATH [--date YYYY-MM-DD]
  cargo xtask diff OLD NEW [--old-overlay FILE|none] [--new-overlay FILE|none]
  cargo xtask generate [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("import") => import::run(&args[1..]),
        Some("diff") => diff::run(&args[1..]),
        Some("generate") => generate::run(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::from(2)
        }
    }
}

/// Read a JSON or YAML document.
pub fn read_document(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    generator::load::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The value of `--name VALUE` in `args`, if given.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Positional arguments (those not flags nor flag values).
pub fn positional(args: &[String], flags_with_values: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if flags_with_values.contains(&a.as_str()) {
            skip = true;
            continue;
        }
        if !a.starts_with("--") {
            out.push(a.clone());
        }
    }
    out
}
