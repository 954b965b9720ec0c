//! The tool surface is stable and small: `tools/list` matches its reviewed snapshot, stays within
//! its token budget (bytes / 4), and no tool grows more than 20 % without a snapshot update.
//! `EXPECTORATE=overwrite cargo test --test tool_surface` refreshes the snapshots.

use leadmagic_mcp::server::{Profile, tools_json};
use leadmagic_mcp::tools::{Selection, TOOLS};
use serde_json::Value;

/// Average tokens per tool, counted as bytes / 4 of the compact JSON a client receives.
const FULL_BUDGET: f64 = 210.0;
const COMPACT_BUDGET: f64 = 110.0;

fn listed(profile: Profile) -> Vec<Value> {
    tools_json(&Selection::default(), profile)["tools"]
        .as_array()
        .unwrap()
        .clone()
}

fn bytes(v: &Value) -> usize {
    serde_json::to_string(v).unwrap().len()
}

/// Said in a failure when the build used another document than `openapi/leadmagic.yaml`: the
/// checks still run (a regeneration must show its real diff), and the message says why.
fn other_document() -> String {
    std::env::var("LEADMAGIC_OPENAPI")
        .map(|p| format!(" (this build used LEADMAGIC_OPENAPI={p}, not openapi/leadmagic.yaml)"))
        .unwrap_or_default()
}

#[test]
fn token_budgets_hold() {
    for (profile, budget) in [
        (Profile::Full, FULL_BUDGET),
        (Profile::Compact, COMPACT_BUDGET),
    ] {
        let tools = listed(profile);
        let total = bytes(&serde_json::json!({ "tools": tools }));
        let per_tool = total as f64 / 4.0 / tools.len() as f64;
        eprintln!(
            "{profile:?}: {total} bytes, {} tools, {per_tool:.1} tokens per tool",
            tools.len()
        );
        assert!(
            per_tool <= budget,
            "{profile:?} tools/list is {per_tool:.1} tokens per tool; budget {budget}{}",
            other_document()
        );
    }
}

#[test]
fn compact_profile_keeps_what_is_required() {
    let (full_list, compact_list) = (listed(Profile::Full), listed(Profile::Compact));
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
        let full_props: Vec<&String> = full["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let compact_props: Vec<&String> = compact["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(full_props, compact_props);
        let def = TOOLS.iter().find(|t| t.name == full["name"]).unwrap();
        for group in def.any_of_required {
            assert!(
                compact["description"]
                    .as_str()
                    .unwrap()
                    .contains(&group.join(" + ")),
                "{}: one-of rule kept",
                def.name
            );
        }
        assert!(
            compact["description"].as_str().unwrap().contains("Cost:")
                || compact["description"].as_str().unwrap().ends_with("Free.")
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

#[test]
fn billed_tools_are_read_only_but_not_idempotent() {
    let mut billed = 0;
    for t in listed(Profile::Full) {
        let def = TOOLS.iter().find(|d| d.name == t["name"]).unwrap();
        if def.is_billed() {
            billed += 1;
            assert_eq!(
                t["annotations"]["readOnlyHint"],
                true,
                "{}: a lookup changes nothing upstream{}",
                def.name,
                other_document()
            );
            assert_eq!(
                t["annotations"]["idempotentHint"], false,
                "{}: a repeat bills again",
                def.name
            );
            assert_eq!(t["annotations"]["destructiveHint"], false);
        }
    }
    assert!(billed > 0, "the document has billed tools");
}

#[test]
fn tools_list_matches_its_snapshot() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/tools_list.json"
    );
    let current = serde_json::json!({ "tools": listed(Profile::Full) });
    let text = serde_json::to_string_pretty(&current).unwrap() + "\n";
    let old_text = std::fs::read_to_string(path).unwrap_or_default();
    if text == old_text {
        return;
    }
    if std::env::var("EXPECTORATE").is_ok_and(|v| v == "overwrite") {
        std::fs::write(path, text).unwrap();
        return;
    }
    let old: Value = serde_json::from_str(&old_text).unwrap_or(Value::Null);
    let old_tools = old["tools"].as_array().cloned().unwrap_or_default();
    let mut grown = Vec::new();
    for t in current["tools"].as_array().unwrap() {
        if let Some(o) = old_tools.iter().find(|o| o["name"] == t["name"]) {
            let (before, after) = (bytes(o), bytes(t));
            if after as f64 > before as f64 * 1.2 {
                grown.push(format!("{} grew from {before} to {after} bytes", t["name"]));
            }
        }
    }
    panic!(
        "tools/list changed{} (tool descriptions are prompts: review every change).{}\n\
         Review, then run `EXPECTORATE=overwrite cargo test --test tool_surface` and commit tests/snapshots/.",
        other_document(),
        if grown.is_empty() {
            String::new()
        } else {
            format!(" Over 20 % growth: {}.", grown.join("; "))
        }
    );
}

/// The server refuses arguments a tool does not take, so every input schema says so, in both
/// profiles (clients that read the schema then never send them).
#[test]
fn input_schemas_declare_that_unknown_arguments_are_refused() {
    for profile in [Profile::Full, Profile::Compact] {
        for t in listed(profile) {
            assert_eq!(
                t["inputSchema"]["additionalProperties"], false,
                "{profile:?} {}",
                t["name"]
            );
        }
    }
}
