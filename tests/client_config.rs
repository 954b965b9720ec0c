//! `leadmagic-mcp config CLIENT`: for every client, the printed snippet parses in the client's
//! format, and `--write` on a temporary HOME merges into an existing file: the other servers and
//! settings stay, a backup holds the old file, and no key is written unless asked for.

mod common;

use common::{CANARY_KEY, temp_dir};
use serde_json::{Value, json};
use std::path::Path;

/// Client, its file under HOME (`~`) or the working directory (`.`), and where servers live.
const CLIENTS: [(&str, &str, &str); 7] = [
    (
        "claude-desktop",
        "~/.config/Claude/claude_desktop_config.json",
        "mcpServers",
    ),
    ("claude-code", "./.mcp.json", "mcpServers"),
    ("cursor", "~/.cursor/mcp.json", "mcpServers"),
    ("vscode", "./.vscode/mcp.json", "servers"),
    (
        "windsurf",
        "~/.codeium/windsurf/mcp_config.json",
        "mcpServers",
    ),
    ("gemini", "~/.gemini/settings.json", "mcpServers"),
    ("codex", "~/.codex/config.toml", "mcp_servers"),
];

fn run(home: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let home = home.to_str().unwrap();
    let env: Vec<(&str, &str)> = env.iter().copied().chain([("HOME", home)]).collect();
    common::run_binary(cwd, args, &env)
}

/// The file as JSON (TOML is read into the same shape).
fn parse(text: &str, toml: bool) -> Value {
    if toml {
        let doc: toml_edit::DocumentMut = text.parse().expect("valid TOML");
        let server = &doc["mcp_servers"];
        let mut servers = serde_json::Map::new();
        for (name, item) in server.as_table().unwrap().iter() {
            let command = item["command"].as_str().map(str::to_owned);
            let args: Vec<String> = item["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let env = item.get("env").and_then(|e| e.as_inline_table()).map(|t| {
                t.iter()
                    .map(|(k, v)| (k.to_string(), json!(v.as_str())))
                    .collect::<serde_json::Map<_, _>>()
            });
            servers.insert(
                name.to_string(),
                json!({"command": command, "args": args, "env": env}),
            );
        }
        json!({ "mcp_servers": servers, "model": doc.get("model").and_then(|m| m.as_str()) })
    } else {
        serde_json::from_str(text).expect("valid JSON")
    }
}

#[test]
fn every_client_gets_its_own_format_and_write_keeps_what_was_there() {
    let binary = std::fs::canonicalize(common::binary()).unwrap();
    let binary = binary.to_str().unwrap();
    for (client, place, servers) in CLIENTS {
        let home = temp_dir();
        let cwd = temp_dir();
        let toml = client == "codex";
        let path = match place.split_once('/') {
            Some(("~", rest)) => home.path().join(rest),
            Some((_, rest)) => cwd.path().join(rest),
            None => unreachable!(),
        };
        // Printed: the snippet alone, with this binary's absolute path and the settings given.
        let (ok, out, err) = run(
            home.path(),
            cwd.path(),
            &["--toolsets", "default,bulk", "config", client],
            &[],
        );
        assert!(ok, "{client}: {err}");
        let printed = parse(&out, toml);
        let ours = &printed[servers]["leadmagic"];
        assert_eq!(ours["command"], binary, "{client}: {out}");
        assert_eq!(
            ours["args"],
            json!(["--toolsets", "default,bulk"]),
            "{client}"
        );
        assert!(
            err.contains(&path.display().to_string()),
            "{client}: says where: {err}"
        );
        assert!(!path.exists(), "{client}: printing writes nothing");

        // An existing file with another server and a setting of the user's.
        let old = if toml {
            "# my settings\nmodel = \"o4\"\n\n[mcp_servers.git]\ncommand = \"git-mcp\"\nargs = []\n"
                .to_string()
        } else {
            json!({ servers: {"git": {"command": "git-mcp", "args": []}}, "theme": "dark" })
                .to_string()
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &old).unwrap();
        let (ok, _, err) = run(
            home.path(),
            cwd.path(),
            &["config", client, "--write"],
            &[("LEADMAGIC_API_KEY", CANARY_KEY)],
        );
        assert!(ok, "{client}: {err}");
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            !written.contains(CANARY_KEY),
            "{client}: no key without --with-key"
        );
        let v = parse(&written, toml);
        assert_eq!(
            v[servers]["git"]["command"], "git-mcp",
            "{client}: other servers kept"
        );
        assert_eq!(v[servers]["leadmagic"]["command"], binary);
        if toml {
            assert!(written.starts_with("# my settings\n"), "{written}");
            assert_eq!(v["model"], "o4");
        } else {
            assert_eq!(v["theme"], "dark", "{client}: settings kept");
        }
        let backup = std::fs::read_to_string(format!("{}.bak", path.display())).unwrap();
        assert_eq!(backup, old, "{client}: the backup is the old file");
        // Twice: still one entry of ours.
        let (ok, _, _) = run(home.path(), cwd.path(), &["config", client, "--write"], &[]);
        assert!(ok);
        let again = parse(&std::fs::read_to_string(&path).unwrap(), toml);
        assert_eq!(again[servers].as_object().unwrap().len(), 2, "{client}");

        // The key only when asked for, from the environment.
        let (ok, _, err) = run(
            home.path(),
            cwd.path(),
            &["config", client, "--write", "--with-key"],
            &[("LEADMAGIC_API_KEY", CANARY_KEY)],
        );
        assert!(ok, "{client}: {err}");
        let v = parse(&std::fs::read_to_string(&path).unwrap(), toml);
        assert_eq!(
            v[servers]["leadmagic"]["env"]["LEADMAGIC_API_KEY"], CANARY_KEY,
            "{client}"
        );
        assert!(!err.contains(CANARY_KEY), "{client}: never in messages");
    }
}

#[test]
fn a_file_that_does_not_parse_is_left_alone() {
    let home = temp_dir();
    let path = home.path().join(".cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{ not json").unwrap();
    let (ok, _, err) = run(
        home.path(),
        home.path(),
        &["config", "cursor", "--write"],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("not valid JSON") && err.contains("left as it is"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    let (ok, _, err) = run(
        home.path(),
        home.path(),
        &["config", "cursor", "--with-key"],
        &[],
    );
    assert!(!ok && err.contains("LEADMAGIC_API_KEY is not set"), "{err}");
}
