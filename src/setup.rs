//! `leadmagic-mcp config CLIENT`: this server's entry in an MCP client's own configuration
//! format (file, key names, and its way of getting the API key), printed, or merged into the
//! client's file with `--write` (a backup first; other servers kept; the key written only with
//! `--with-key`).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The clients `config` knows, by the name given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Vscode,
    Windsurf,
    Gemini,
    Codex,
}

const KEY_VAR: &str = "LEADMAGIC_API_KEY";
/// VS Code asks for the key once (a password prompt) and keeps it itself.
const VSCODE_INPUT: &str = "leadmagic-api-key";

/// What goes into the entry.
pub struct Entry {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    /// The key itself, only when the user asked for it to be written.
    pub key: Option<String>,
}

impl Target {
    /// The file the client reads, under `home` (user-wide) or `cwd` (per project).
    pub fn path(self, home: &Path, cwd: &Path) -> PathBuf {
        match self {
            Target::ClaudeDesktop => claude_desktop_dir(home).join("claude_desktop_config.json"),
            Target::ClaudeCode => cwd.join(".mcp.json"),
            Target::Cursor => home.join(".cursor/mcp.json"),
            Target::Vscode => cwd.join(".vscode/mcp.json"),
            Target::Windsurf => home.join(".codeium/windsurf/mcp_config.json"),
            Target::Gemini => home.join(".gemini/settings.json"),
            Target::Codex => home.join(".codex/config.toml"),
        }
    }

    pub fn is_toml(self) -> bool {
        self == Target::Codex
    }

    /// How the client gets the key when it is not written: its own variable syntax, a prompt,
    /// or nothing (then a note says what to do).
    fn key_reference(self) -> Option<&'static str> {
        match self {
            Target::ClaudeDesktop | Target::Codex => None,
            Target::ClaudeCode => Some("${LEADMAGIC_API_KEY}"),
            Target::Cursor | Target::Windsurf => Some("${env:LEADMAGIC_API_KEY}"),
            Target::Vscode => Some("${input:leadmagic-api-key}"),
            Target::Gemini => Some("$LEADMAGIC_API_KEY"),
        }
    }

    /// A line for the user about the key, when there is something to say.
    pub fn key_note(self, written: bool) -> Option<&'static str> {
        match (self, written) {
            (_, true) => Some(
                "the key is written in plain text in that file: keep it private (without \
                 --with-key the file holds no key)",
            ),
            (Target::ClaudeDesktop, false) => Some(
                "Claude Desktop cannot read the key from your environment: add \
                 \"LEADMAGIC_API_KEY\" under env yourself, or run again with --with-key",
            ),
            (Target::Codex, false) => Some(
                "Codex forwards LEADMAGIC_API_KEY from the environment it starts in (env_vars)",
            ),
            (Target::Vscode, false) => Some("VS Code asks for the key once and stores it"),
            _ => Some("the client reads LEADMAGIC_API_KEY from its environment"),
        }
    }
}

/// Claude Desktop's folder: per platform, from the usual variables.
fn claude_desktop_dir(home: &Path) -> PathBuf {
    if cfg!(target_os = "macos") {
        home.join("Library/Application Support/Claude")
    } else if cfg!(windows) {
        std::env::var_os("APPDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("AppData/Roaming"))
            .join("Claude")
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"))
            .join("Claude")
    }
}

/// The server entry as JSON, in the client's key names.
fn json_entry(target: Target, e: &Entry) -> Value {
    let mut entry = json!({ "command": e.command, "args": e.args });
    if matches!(target, Target::ClaudeCode | Target::Vscode) {
        entry["type"] = json!("stdio");
    }
    let key = e.key.as_deref().or(target.key_reference());
    if let Some(key) = key {
        entry["env"] = json!({ KEY_VAR: key });
    }
    entry
}

/// Merge this server's entry into a JSON configuration (other entries kept).
pub fn merge_json(target: Target, config: &mut Value, e: &Entry) -> Result<(), String> {
    if !config.is_object() {
        return Err("the file does not hold a JSON object".into());
    }
    let servers_key = if target == Target::Vscode {
        "servers"
    } else {
        "mcpServers"
    };
    let servers = config
        .as_object_mut()
        .and_then(|c| {
            c.entry(servers_key)
                .or_insert_with(|| json!({}))
                .as_object_mut()
        })
        .ok_or_else(|| format!("`{servers_key}` is not an object"))?;
    servers.insert(e.name.clone(), json_entry(target, e));
    if target == Target::Vscode && e.key.is_none() {
        let inputs = config
            .as_object_mut()
            .map(|c| c.entry("inputs").or_insert_with(|| json!([])))
            .and_then(Value::as_array_mut)
            .ok_or("`inputs` is not a list")?;
        if !inputs.iter().any(|i| i["id"] == VSCODE_INPUT) {
            inputs.push(json!({
                "type": "promptString",
                "id": VSCODE_INPUT,
                "description": "LeadMagic API key",
                "password": true
            }));
        }
    }
    Ok(())
}

/// Merge this server's entry into Codex's TOML (comments and other tables kept).
pub fn merge_toml(doc: &mut toml_edit::DocumentMut, e: &Entry) -> Result<(), String> {
    use toml_edit::{Array, Item, Table, value};
    let servers = doc
        .entry("mcp_servers")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or("`mcp_servers` is not a table")?;
    let mut table = Table::new();
    table["command"] = value(e.command.as_str());
    table["args"] = value(e.args.iter().map(String::as_str).collect::<Array>());
    match &e.key {
        Some(key) => {
            let mut env = toml_edit::InlineTable::new();
            env.insert(KEY_VAR, key.as_str().into());
            table["env"] = value(env);
        }
        None => {
            table["env_vars"] = value(std::iter::once(KEY_VAR).collect::<Array>());
        }
    }
    servers.insert(&e.name, Item::Table(table));
    Ok(())
}

/// The snippet as the client's file would hold it (a fresh file with only this server).
pub fn snippet(target: Target, e: &Entry) -> String {
    if target.is_toml() {
        let mut doc = toml_edit::DocumentMut::new();
        let _ = merge_toml(&mut doc, e);
        doc.to_string()
    } else {
        let mut config = json!({});
        let _ = merge_json(target, &mut config, e);
        serde_json::to_string_pretty(&config).unwrap_or_default() + "\n"
    }
}

/// Merge the entry into the client's file: the old file is copied to `<file>.bak` first, a
/// file that does not parse is left alone, and the new text replaces the old in one rename.
pub fn write(target: Target, path: &Path, e: &Entry) -> Result<Option<PathBuf>, String> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let text = match (&old, target.is_toml()) {
        (Some(t), true) => {
            let mut doc: toml_edit::DocumentMut = t.parse().map_err(|err| {
                format!(
                    "{} is not valid TOML ({err}); left as it is",
                    path.display()
                )
            })?;
            merge_toml(&mut doc, e)?;
            doc.to_string()
        }
        (Some(t), false) if !t.trim().is_empty() => {
            let mut config: Value = serde_json::from_str(t).map_err(|err| {
                format!(
                    "{} is not valid JSON ({err}); left as it is",
                    path.display()
                )
            })?;
            merge_json(target, &mut config, e)
                .map_err(|m| format!("{}: {m}; left as it is", path.display()))?;
            serde_json::to_string_pretty(&config).unwrap_or_default() + "\n"
        }
        _ => snippet(target, e),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    let backup = match &old {
        Some(t) => {
            let b = PathBuf::from(format!("{}.bak", path.display()));
            std::fs::write(&b, t).map_err(|err| format!("cannot write {}: {err}", b.display()))?;
            Some(b)
        }
        None => None,
    };
    let tmp = PathBuf::from(format!("{}.leadmagic-tmp", path.display()));
    std::fs::write(&tmp, text).map_err(|err| format!("cannot write {}: {err}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|err| format!("cannot replace {}: {err}", path.display()))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: Option<&str>) -> Entry {
        Entry {
            name: "leadmagic".into(),
            command: "/opt/bin/leadmagic-mcp".into(),
            args: vec!["--toolsets".into(), "default,bulk".into()],
            key: key.map(str::to_owned),
        }
    }

    const ALL: [Target; 7] = [
        Target::ClaudeDesktop,
        Target::ClaudeCode,
        Target::Cursor,
        Target::Vscode,
        Target::Windsurf,
        Target::Gemini,
        Target::Codex,
    ];

    #[test]
    fn every_snippet_parses_and_round_trips_in_its_format() {
        for target in ALL {
            let text = snippet(target, &entry(None));
            if target.is_toml() {
                let doc: toml_edit::DocumentMut = text.parse().unwrap();
                assert_eq!(doc.to_string(), text, "{target:?}");
                let server = &doc["mcp_servers"]["leadmagic"];
                assert_eq!(server["command"].as_str(), Some("/opt/bin/leadmagic-mcp"));
                assert_eq!(server["env_vars"].as_array().unwrap().len(), 1);
            } else {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(serde_json::to_string_pretty(&v).unwrap() + "\n", text);
                let servers = if target == Target::Vscode {
                    "servers"
                } else {
                    "mcpServers"
                };
                let s = &v[servers]["leadmagic"];
                assert_eq!(s["command"], "/opt/bin/leadmagic-mcp", "{target:?}");
                assert_eq!(s["args"], json!(["--toolsets", "default,bulk"]));
                // No key unless asked; each client's own way to get it.
                assert_eq!(
                    s["env"][KEY_VAR].as_str(),
                    target.key_reference(),
                    "{target:?}"
                );
            }
            assert!(!text.contains("lm_secret"), "{target:?}");
        }
        let vscode: Value = serde_json::from_str(&snippet(Target::Vscode, &entry(None))).unwrap();
        assert_eq!(vscode["inputs"][0]["password"], true);
        let with_key = snippet(Target::Codex, &entry(Some("lm_secret_key_0123")));
        assert!(
            with_key.contains("LEADMAGIC_API_KEY = \"lm_secret_key_0123\""),
            "{with_key}"
        );
    }

    #[test]
    fn merging_keeps_other_servers_and_settings() {
        let mut cursor = json!({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"});
        merge_json(Target::Cursor, &mut cursor, &entry(None)).unwrap();
        assert_eq!(cursor["mcpServers"]["other"], json!({"command": "x"}));
        assert_eq!(cursor["theme"], "dark");
        // Twice: still one entry, one VS Code input.
        let mut vscode =
            json!({"servers": {"git": {"type": "stdio", "command": "g"}}, "inputs": []});
        for _ in 0..2 {
            merge_json(Target::Vscode, &mut vscode, &entry(None)).unwrap();
        }
        assert_eq!(vscode["inputs"].as_array().unwrap().len(), 1);
        assert_eq!(vscode["servers"]["git"]["command"], "g");
        let mut codex: toml_edit::DocumentMut =
            "# mine\nmodel = \"o4\"\n\n[mcp_servers.git]\ncommand = \"g\" # keep\n"
                .parse()
                .unwrap();
        merge_toml(&mut codex, &entry(None)).unwrap();
        let text = codex.to_string();
        assert!(text.starts_with("# mine\nmodel = \"o4\"\n"), "{text}");
        assert!(text.contains("command = \"g\" # keep"), "{text}");
        assert!(text.contains("[mcp_servers.leadmagic]"), "{text}");
        assert!(merge_json(Target::Cursor, &mut json!([]), &entry(None)).is_err());
        assert!(merge_json(Target::Cursor, &mut json!({"mcpServers": 3}), &entry(None)).is_err());
    }
}
