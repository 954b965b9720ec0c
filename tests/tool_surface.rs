//! The tool surface is stable and small: every tool matches its reviewed snapshot (one file per
//! tool, as github-mcp-server keeps them), what clients show the model stays within its token
//! budgets (bytes / 4), and no tool grows more than 20 % without a snapshot update.
//! `cargo xtask generate` (or `EXPECTORATE=overwrite cargo test --test tool_surface`)
//! refreshes the snapshots.

use leadmagic_mcp::server::{Profile, Selection, TOOLS, tools_json};
use serde_json::{Value, json};

/// What clients send to the model (name, title, description, input schema), in tokens:
/// at most this in total for the default toolsets...
/// (5,000 before the three composite tools, whose ~620 tokens stand for 3 or 4 calls each, and
/// the `confirmation_token` argument of the tools that may ask first, ~26 tokens on each.)
const DEFAULT_SET_TOKENS: f64 = 5_200.0;
/// ...and at most this per tool on average over every tool (130 before the same two).
const ALL_TOOLS_TOKENS_PER_TOOL: f64 = 138.0;
/// Regression guards on the whole `tools/list` entry (with output schema and annotations; the
/// compact profile without), per tool on average over every tool: 184 and 119 when set.
const FULL_LIST_TOKENS_PER_TOOL: f64 = 195.0;
const COMPACT_LIST_TOKENS_PER_TOOL: f64 = 125.0;

fn all() -> Selection {
    Selection {
        toolsets: vec!["all".into()],
        ..Selection::default()
    }
}

fn listed(selection: &Selection, profile: Profile) -> Vec<Value> {
    tools_json(selection, profile)["tools"]
        .as_array()
        .unwrap()
        .clone()
}

fn bytes(v: &Value) -> usize {
    serde_json::to_string(v).unwrap().len()
}

/// Bytes / 4 of the parts of a tool the model reads.
fn model_tokens(t: &Value) -> f64 {
    let seen: serde_json::Map<String, Value> = ["name", "title", "description", "inputSchema"]
        .iter()
        .filter_map(|k| t.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    bytes(&Value::Object(seen)) as f64 / 4.0
}

/// Said in a failure when the build used another document than ours: the checks still run
/// (a regeneration must show its real diff), and the message says why.
fn other_document() -> String {
    std::env::var("LEADMAGIC_OPENAPI")
        .map(|p| {
            format!(" (this build used LEADMAGIC_OPENAPI={p}, not openapi/leadmagic.contract.yaml)")
        })
        .unwrap_or_default()
}

#[test]
fn token_budgets_hold() {
    let default: f64 = listed(&Selection::default(), Profile::Full)
        .iter()
        .map(model_tokens)
        .sum();
    let every = listed(&all(), Profile::Full);
    let per_tool = every.iter().map(model_tokens).sum::<f64>() / every.len() as f64;
    eprintln!(
        "default toolsets: {default:.0} tokens; all {} tools: {per_tool:.1} tokens per tool",
        every.len()
    );
    assert!(
        default <= DEFAULT_SET_TOKENS,
        "the default toolsets take {default:.0} tokens; budget {DEFAULT_SET_TOKENS}{}",
        other_document()
    );
    assert!(
        per_tool <= ALL_TOOLS_TOKENS_PER_TOOL,
        "all tools take {per_tool:.1} tokens per tool; budget {ALL_TOOLS_TOKENS_PER_TOOL}{}",
        other_document()
    );
    for (profile, budget) in [
        (Profile::Full, FULL_LIST_TOKENS_PER_TOOL),
        (Profile::Compact, COMPACT_LIST_TOKENS_PER_TOOL),
    ] {
        let tools = listed(&all(), profile);
        let per_tool = bytes(&json!({ "tools": tools })) as f64 / 4.0 / tools.len() as f64;
        eprintln!("{profile:?} tools/list: {per_tool:.1} tokens per tool");
        assert!(
            per_tool <= budget,
            "{profile:?} tools/list is {per_tool:.1} tokens per tool; budget {budget}{}",
            other_document()
        );
    }
}

#[test]
fn compact_profile_keeps_what_is_required() {
    let (full_list, compact_list) = (
        listed(&all(), Profile::Full),
        listed(&all(), Profile::Compact),
    );
    assert_eq!(
        full_list.len(),
        compact_list.len(),
        "same tools in both profiles"
    );
    for (full, compact) in full_list.iter().zip(compact_list) {
        assert_eq!(full["name"], compact["name"]);
        assert_eq!(
            full["inputSchema"]["required"], compact["inputSchema"]["required"],
            "{}",
            full["name"]
        );
        let keys = |v: &Value| -> Vec<String> {
            v["inputSchema"]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(full), keys(&compact));
        let def = TOOLS.iter().find(|t| t.name == full["name"]).unwrap();
        let text = compact["description"].as_str().unwrap();
        for group in def.any_of_required {
            assert!(
                text.contains(&group.join(" + ")),
                "{}: one-of rule kept",
                def.name
            );
        }
        assert!(
            text.contains("Cost:") || text.ends_with("Free."),
            "{}",
            def.name
        );
        // Omitted hints mean the spec defaults, so the meaning is unchanged.
        let hint = |v: &Value, name: &str, default: bool| {
            v["annotations"][name].as_bool().unwrap_or(default)
        };
        for (name, default) in [
            ("readOnlyHint", false),
            ("destructiveHint", true),
            ("idempotentHint", false),
            ("openWorldHint", true),
        ] {
            assert_eq!(
                hint(full, name, default),
                hint(&compact, name, default),
                "{}: {name}",
                def.name
            );
        }
    }
}

/// Every billed tool is hinted not idempotent (a repeat bills again) and not destructive; the
/// lookups among them are read-only, and only the tools that start work are not.
#[test]
fn billed_tools_are_hinted_for_what_they_cost() {
    let mut billed = 0;
    for t in listed(&all(), Profile::Full) {
        let def = TOOLS.iter().find(|d| d.name == t["name"]).unwrap();
        // Priced tools; those LeadMagic gives no price for are hinted by what they do.
        if !(def.credits.known && def.credits.amount > 0.0) {
            continue;
        }
        billed += 1;
        let a = &t["annotations"];
        assert_eq!(
            a["idempotentHint"],
            false,
            "{}: a repeat bills again{}",
            def.name,
            other_document()
        );
        let starts_work = matches!(def.toolset, "bulk" | "batch");
        assert_eq!(
            a["readOnlyHint"],
            !starts_work,
            "{}: a lookup changes nothing upstream{}",
            def.name,
            other_document()
        );
        if !starts_work {
            assert_eq!(a["destructiveHint"], false, "{}", def.name);
        }
    }
    assert!(billed > 20, "the document has billed tools");
}

#[test]
fn input_schemas_declare_that_unknown_arguments_are_refused() {
    for profile in [Profile::Full, Profile::Compact] {
        for t in listed(&all(), profile) {
            assert_eq!(
                t["inputSchema"]["additionalProperties"], false,
                "{profile:?} {}",
                t["name"]
            );
        }
    }
}

/// One reviewed snapshot per tool (`tests/snapshots/tools/<name>.json`): a change to a tool's
/// definition (its description is a prompt) shows as a diff of that one file.
#[test]
fn every_tool_matches_its_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools");
    let overwrite = std::env::var("EXPECTORATE").is_ok_and(|v| v == "overwrite");
    let tools = listed(&all(), Profile::Full);
    let snapshots: Vec<(std::path::PathBuf, String)> = tools
        .iter()
        .map(|t| {
            let path = dir.join(format!("{}.json", t["name"].as_str().unwrap()));
            (path, serde_json::to_string_pretty(t).unwrap() + "\n")
        })
        .collect();
    let mut stale = Vec::new();
    let mut grown = Vec::new();
    for (t, (path, text)) in tools.iter().zip(&snapshots) {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        if old == *text {
            continue;
        }
        stale.push(t["name"].to_string());
        if let Ok(o) = serde_json::from_str::<Value>(&old)
            && bytes(t) as f64 > bytes(&o) as f64 * 1.2
        {
            grown.push(format!(
                "{} grew from {} to {} bytes",
                t["name"],
                bytes(&o),
                bytes(t)
            ));
        }
    }
    // Snapshots of tools that no longer exist.
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".json") else {
            continue;
        };
        if !tools.iter().any(|t| t["name"] == name) {
            if overwrite {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                stale.push(format!("{name} (removed)"));
            }
        }
    }
    if !stale.is_empty() && !overwrite {
        eprintln!(
            "tool definitions changed{}: {} (descriptions are prompts: review every change).{}\n\
             Review, then run `cargo xtask generate` and commit tests/snapshots/tools/.",
            other_document(),
            stale.join(", "),
            if grown.is_empty() {
                String::new()
            } else {
                format!(" Over 20 % growth: {}.", grown.join("; "))
            }
        );
    }
    // The diff of the first changed tool (or, with EXPECTORATE=overwrite, every one rewritten).
    for (path, text) in &snapshots {
        expectorate::assert_contents(path, text);
    }
    assert!(
        overwrite || stale.is_empty(),
        "snapshots of removed tools are left: {}",
        stale.join(", ")
    );
}
