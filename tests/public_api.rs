//! The library's public items, as `cargo doc` shows them, against a reviewed list
//! (`tests/snapshots/public-api.txt`): what a Rust caller can name is a decision, never an
//! accident of a `pub` inside the crate. `cargo xtask generate` (or `EXPECTORATE=overwrite cargo
//! test --test public_api`) rewrites the list.
//!
//! One line per item, method, field and variant, tags stripped; the generated `types` module
//! (hundreds of request and response types, reviewed in `generated/client.rs`) is one count.

use std::path::Path;
use std::process::Command;

#[test]
fn the_public_items_are_the_reviewed_list() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Its own target directory: a document build beside the test build, never in its way.
    let target = manifest.join("target/public-api");
    let out = Command::new(&cargo)
        .args(["doc", "--quiet", "--no-deps", "--lib", "--locked"])
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTDOCFLAGS", "-D warnings")
        .output()
        .expect("run cargo doc");
    assert!(
        out.status.success(),
        "cargo doc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = target.join("doc/leadmagic_mcp");
    let all = std::fs::read_to_string(doc.join("all.html")).expect("all.html");
    let mut lines = Vec::new();
    let mut types = 0;
    for (page, name) in links(&all) {
        if page.starts_with('#') {
            continue; // the page's own section links
        }
        if page.starts_with("types/") {
            types += 1;
            continue;
        }
        let kind = page
            .rsplit('/')
            .next()
            .and_then(|f| f.split('.').next())
            .unwrap_or("item");
        lines.push(format!("{kind} {name}"));
        let html = std::fs::read_to_string(doc.join(&page)).unwrap_or_default();
        for member in members(&html) {
            lines.push(format!("    {member}"));
        }
    }
    lines.push(format!("mod types: {types} items"));
    expectorate::assert_contents(
        manifest.join("tests/snapshots/public-api.txt"),
        &(lines.join("\n") + "\n"),
    );
}

/// The `(page, name)` links of rustdoc's all-items page.
fn links(all: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in all.split("<li><a href=\"").skip(1) {
        let Some((page, rest)) = chunk.split_once("\">") else {
            continue;
        };
        let Some((name, _)) = rest.split_once("</a>") else {
            continue;
        };
        out.push((page.to_string(), name.to_string()));
    }
    out
}

/// An item page's inherent members: fields, variants, and the methods and constants of its own
/// `impl` blocks (trait implementations are left out: derives and blanket impls are noise).
fn members(html: &str) -> Vec<String> {
    // Up to the trait implementations and to the methods reached through `Deref`.
    let own = ["id=\"trait-implementations\"", "id=\"deref-methods"]
        .iter()
        .fold(html, |page, end| page.split(end).next().unwrap_or(page));
    let mut out = Vec::new();
    for (marker, prefix) in [
        ("id=\"structfield.", "field "),
        ("id=\"variant.", "variant "),
    ] {
        for chunk in own.split(marker).skip(1) {
            let name = chunk.split('"').next().unwrap_or_default();
            out.push(format!("{prefix}{name}"));
        }
    }
    if let Some(impls) = own.split("id=\"implementations-list\"").nth(1) {
        for chunk in impls.split("<h4 class=\"code-header\">").skip(1) {
            let header = chunk.split("</h4>").next().unwrap_or_default();
            out.push(text(header));
        }
    }
    out
}

/// HTML to one line of plain text.
fn text(html: &str) -> String {
    let mut plain = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}
