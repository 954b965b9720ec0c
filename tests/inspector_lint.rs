//! MCP Inspector's CLI portability lint (`--method tools/list --strict`) over every tool: no
//! error, and every warning is one this project accepts, for the reason written here. `.ci/run`
//! installs the Inspector and sets `LEADMAGIC_TEST_INSPECTOR` (and `LEADMAGIC_TEST_NODE`);
//! without them the test skips, saying so.

mod common;

use std::collections::BTreeMap;

/// Warnings accepted, each with its reason.
const ACCEPTED: [(&str, &str); 1] = [(
    "Schema carries no validation keyword at all",
    "lenient output schemas: each field of an answer is declared by name only, with no type, on \
     purpose. LeadMagic's answers vary in type and shape from the document (FACTS: mixed \
     camelCase and snake_case, numbers as strings, nulls), and a client that validates \
     structuredContent (the TypeScript SDK does) must accept every real answer.",
)];

#[test]
fn the_inspector_lint_finds_no_error_and_only_accepted_warnings() {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(node), Some(inspector)) =
        (get("LEADMAGIC_TEST_NODE"), get("LEADMAGIC_TEST_INSPECTOR"))
    else {
        common::skip(
            "LEADMAGIC_TEST_INSPECTOR / LEADMAGIC_TEST_NODE are not set (.ci/run installs MCP Inspector)",
        );
        return;
    };
    let dir = common::temp_dir();
    let out = std::process::Command::new(node)
        .arg(inspector)
        .args([
            "--cli",
            "--method",
            "tools/list",
            "--strict",
            common::binary(),
        ])
        .args(["--sandbox", "--toolsets", "all"])
        .env_clear()
        .env("HOME", dir.path())
        .env("MCP_CATALOG_PATH", dir.path().join("catalog.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the lint found errors (exit {:?}):\n{stderr}",
        out.status.code()
    );
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for issue in stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Issue: "))
    {
        let accepted = ACCEPTED.iter().find(|(start, _)| issue.starts_with(start));
        assert!(
            accepted.is_some(),
            "a warning nobody accepted: {issue}\n{stderr}"
        );
        *kinds.entry(accepted.unwrap().0).or_default() += 1;
    }
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(summary.starts_with("0 errors,"), "{summary}");
    eprintln!("Inspector: {summary} {kinds:?}");
}
