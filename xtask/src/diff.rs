//! `cargo xtask diff OLD NEW`, and the report `import` prints.

use crate::generator::overlay;
use crate::generator::surface::{Change, Impact, diff, surface};
use crate::{OVERLAY, flag, positional, read_document};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let pos = positional(args, &["--old-overlay", "--new-overlay"]);
    let [old, new] = pos.as_slice() else {
        return Err(
            "usage: cargo xtask diff OLD NEW [--old-overlay FILE|none] [--new-overlay FILE|none]"
                .into(),
        );
    };
    let overlay_arg = |name: &str| -> Result<Option<Value>, String> {
        match flag(args, name) {
            Some("none") | None => Ok(None),
            Some(path) => read_document(Path::new(path)).map(Some),
        }
    };
    report(
        Some(&read_document(Path::new(old))?),
        &read_document(Path::new(new))?,
        overlay_arg("--old-overlay")?.as_ref(),
        overlay_arg("--new-overlay")?.as_ref(),
    )
}

/// Apply an overlay as far as it goes; the actions that matched nothing are returned.
fn merged(doc: &Value, overlay: Option<&Value>) -> Result<(Value, Vec<String>), String> {
    let Some(overlay) = overlay else {
        return Ok((doc.clone(), Vec::new()));
    };
    let (merged, matches) = overlay::apply_reporting(doc, overlay).map_err(|e| e.to_string())?;
    let unmatched = matches
        .into_iter()
        .filter(|m| m.matched == 0)
        .map(|m| format!("actions[{}] {}", m.index, m.target))
        .collect();
    Ok((merged, unmatched))
}

fn label(i: Impact) -> &'static str {
    match i {
        Impact::Breaking => "BREAKING",
        Impact::Compatible => "compatible",
        Impact::None => "-",
    }
}

/// Print the classified tool-surface change and what the curation misses; exit 1 when
/// anything breaks an agent or a Rust caller.
pub fn report(
    old: Option<&Value>,
    new: &Value,
    old_overlay: Option<&Value>,
    new_overlay: Option<&Value>,
) -> Result<ExitCode, String> {
    let (new_doc, unmatched) = merged(new, new_overlay)?;
    let new_surface = surface(&new_doc).map_err(|e| format!("new document: {e}"))?;
    let changes: Vec<Change> = match old {
        Some(old) => {
            let (old_doc, _) = merged(old, old_overlay)?;
            let old_surface = surface(&old_doc).map_err(|e| format!("old document: {e}"))?;
            diff(&old_surface, &new_surface)
        }
        None => Vec::new(),
    };
    if old.is_none() {
        println!("no previous contract: {} tools", new_surface.len());
    } else if changes.is_empty() {
        println!("tool surface: no change ({} tools)", new_surface.len());
    } else {
        println!(
            "tool surface: {} changes (agent / Rust caller):",
            changes.len()
        );
        for c in &changes {
            println!(
                "  {:<10} {:<10} {}: {}",
                label(c.agent),
                label(c.rust),
                c.tool,
                c.what
            );
        }
    }
    let uncurated: Vec<&str> = new_surface
        .iter()
        .filter(|t| !t.curated)
        .map(|t| t.route.as_str())
        .collect();
    if !uncurated.is_empty() && new_overlay.is_some() {
        println!(
            "{} operations without curation (they work, with conservative hints, \"cost not stated\" \
             and a build warning; add them to {OVERLAY}):",
            uncurated.len()
        );
        for u in &uncurated {
            println!("  {u}");
        }
    }
    if !unmatched.is_empty() {
        println!(
            "{} overlay actions match nothing (the build fails on them until they are fixed):",
            unmatched.len()
        );
        for u in &unmatched {
            println!("  {u}");
        }
    }
    let breaking_agent = changes
        .iter()
        .filter(|c| c.agent == Impact::Breaking)
        .count();
    let breaking_rust = changes
        .iter()
        .filter(|c| c.rust == Impact::Breaking)
        .count();
    if old.is_some() {
        println!("breaking: {breaking_agent} for agents, {breaking_rust} for Rust callers");
    }
    Ok(
        if breaking_agent + breaking_rust > 0 || !unmatched.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
