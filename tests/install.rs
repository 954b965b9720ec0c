//! The README's install command works: `cargo install --locked --path .` into a temporary root,
//! then the installed binary lists its tools and prints a client entry naming itself. Built in
//! the target directory the upstream-documents test uses (same profile), so CI compiles the
//! dependencies once for both.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn cargo_install_from_the_clone_gives_a_working_binary() {
    if std::env::var_os("LEADMAGIC_SKIP_UPSTREAM_BUILD").is_some() {
        common::skip("LEADMAGIC_SKIP_UPSTREAM_BUILD is set (it skips the nested cargo builds)");
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = common::temp_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // --debug: the same profile as the test builds; the README's command differs only in it.
    let status = Command::new(cargo)
        .args(["install", "--locked", "--debug", "--quiet", "--path"])
        .arg(manifest)
        .arg("--root")
        .arg(root.path())
        .arg("--target-dir")
        .arg(manifest.join("target/upstream-documents"))
        .env_remove("LEADMAGIC_OPENAPI")
        .env_remove("LEADMAGIC_OVERLAY")
        .status()
        .expect("run cargo install");
    assert!(status.success(), "cargo install failed");
    let installed = root.path().join("bin/leadmagic-mcp");
    assert!(installed.is_file(), "{} is missing", installed.display());
    let out = Command::new(&installed)
        .args(["tools"])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("research_account"));
    let out = Command::new(&installed)
        .args(["config", "cursor"])
        .env_clear()
        .env("HOME", root.path())
        .output()
        .unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let command = entry["mcpServers"]["leadmagic"]["command"]
        .as_str()
        .unwrap();
    assert_eq!(Path::new(command), installed.canonicalize().unwrap());
}
