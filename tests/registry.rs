//! `server.json`, this server's entry for the MCP Registry, stays in step with `Cargo.toml`: the
//! same version everywhere, the crate as its cargo package, the key as a required secret, the
//! README's `mcp-name` line (how the registry verifies a cargo package's owner), and the MCPB
//! bundle of the same version.

use serde_json::Value;
use std::path::Path;

#[test]
fn the_registry_entry_matches_the_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let entry: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("server.json")).unwrap()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        entry["version"], version,
        "bump server.json with Cargo.toml"
    );
    assert!(
        entry["description"].as_str().unwrap().len() <= 100,
        "the registry's limit"
    );
    let name = entry["name"].as_str().unwrap();
    let packages = entry["packages"].as_array().unwrap();
    let cargo = packages
        .iter()
        .find(|p| p["registryType"] == "cargo")
        .expect("a cargo package");
    assert_eq!(cargo["identifier"], env!("CARGO_PKG_NAME"));
    assert_eq!(cargo["version"], version);
    assert_eq!(cargo["transport"]["type"], "stdio");
    let key = &cargo["environmentVariables"][0];
    assert_eq!(key["name"], "LEADMAGIC_API_KEY");
    assert_eq!(
        (key["isRequired"].as_bool(), key["isSecret"].as_bool()),
        (Some(true), Some(true))
    );
    let mcpb = packages
        .iter()
        .find(|p| p["registryType"] == "mcpb")
        .expect("an mcpb package");
    assert_eq!(mcpb["version"], version);
    assert!(
        mcpb["identifier"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v{version}/leadmagic-mcp.mcpb")),
        "the release of this version"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("mcp-name: {name}")),
        "the README names the entry"
    );
}
