//! What a new user meets first: the command line's messages, run as the binary.

mod common;

use common::{CANARY_KEY, McpProcess};
use serde_json::json;
use std::process::{Command, Stdio};

fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> (bool, String, String) {
    common::run_binary(dir, args, env)
}

/// Started by hand in a terminal, the stdio server says once, on stderr, what it is waiting for
/// and what to try instead (it used to look hung).
#[test]
fn the_stdio_server_in_a_terminal_says_it_waits_for_a_client() {
    if Command::new("script").arg("--version").output().is_err() {
        common::skip("`script` (util-linux) is not installed, so no terminal can be given");
        return;
    }
    // `script` gives the server a terminal; its stdin (/dev/null) ends the session at once.
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} --sandbox", common::binary()),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("waiting for an MCP client on stdin"),
        "{text}"
    );
    assert!(
        text.contains("leadmagic-mcp tools"),
        "it says what to try: {text}"
    );
    assert_eq!(text.matches("waiting for").count(), 1, "said once: {text}");
    // Not from an MCP client (pipes): nothing is said.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stderr = rt.block_on(async {
        let mut server = McpProcess::spawn(&[], &["--sandbox"]);
        server.initialize().await;
        server.finish().await.1
    });
    assert!(!stderr.contains("waiting for"), "{stderr}");
}

#[test]
fn a_bad_base_url_is_explained_and_ignored_by_the_sandbox() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", "garbage"),
    ];
    let (ok, _, stderr) = run(&["call", "get_credit_balance"], &env, dir);
    assert!(!ok);
    assert!(
        stderr.contains("LEADMAGIC_BASE_URL") && stderr.contains("https://api.leadmagic.io"),
        "an example is given: {stderr}"
    );
    let (ok, stdout, stderr) = run(&["call", "get_credit_balance", "--sandbox"], &env, dir);
    assert!(ok, "the sandbox never uses the base URL: {stderr}");
    assert!(stdout.contains("_sandbox"), "{stdout}");
}

#[test]
fn a_tool_filtered_out_is_not_called_unknown() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let (ok, _, stderr) = run(
        &[
            "--sandbox",
            "--tools",
            "validate_email",
            "call",
            "get_company",
        ],
        &[],
        dir,
    );
    assert!(!ok);
    assert!(stderr.contains("exists but is not enabled"), "{stderr}");
    let (ok, _, stderr) = run(&["--sandbox", "call", "no_such_tool"], &[], dir);
    assert!(!ok);
    assert!(stderr.contains("unknown tool"), "{stderr}");
}

#[test]
fn a_malformed_env_file_line_is_reported_and_the_missing_key_message_names_the_file() {
    let dir = common::temp_dir();
    let dir = dir.path();
    std::fs::write(
        dir.join(".env"),
        "# my settings\nLEADMAGIC_API_KEY lm_forgot_the_equals_sign_000000\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = run(&["call", "get_credit_balance"], &[], dir);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(".env line 2 is not KEY=value"),
        "the bad line is reported by number: {stderr}"
    );
    assert!(
        !stderr.contains("forgot_the_equals"),
        "but not shown: {stderr}"
    );
    assert!(
        stderr.contains(".env") && stderr.contains("no readable LEADMAGIC_API_KEY line"),
        "{stderr}"
    );
    std::fs::remove_file(dir.join(".env")).unwrap();
    let (_, _, stderr) = run(&["call", "get_credit_balance"], &[], dir);
    assert!(
        stderr.contains("there is no") && stderr.contains(".env"),
        "{stderr}"
    );
}

/// A call for a tool the server does not have is the client's mistake, answered to the client:
/// it is not a warning in the server's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tool_call_logs_no_warning() {
    let mut server = McpProcess::spawn(&[], &["--sandbox"]);
    server.initialize().await;
    let r = server.call("no_such_tool", json!({})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let (_, stderr) = server.finish().await;
    assert!(!stderr.contains("WARN"), "{stderr}");
}

/// The library example, run without a key, says what to set (it printed `Error: NotPresent`).
#[test]
fn the_library_example_explains_a_missing_key() {
    // Examples are built by `cargo test` next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples/validate_email"))
        .unwrap();
    if !example.exists() {
        common::skip("the validate_email example was not built (cargo test builds it)");
        return;
    }
    let dir = common::temp_dir();
    let dir = dir.path();
    let out = Command::new(&example)
        .env_clear()
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("LEADMAGIC_API_KEY is not set"), "{stderr}");
    assert!(
        !stderr.contains("NotPresent") && !stderr.contains("NoKeyFound"),
        "{stderr}"
    );
}

/// `.env` is read before the command line, so every setting can live there (it was read after
/// clap, so only the key and base URL reached the server); a variable already set still wins.
#[test]
fn settings_in_dotenv_reach_the_command_line_and_the_environment_still_wins() {
    let dir = common::temp_dir();
    let dir = dir.path();
    std::fs::write(
        dir.join(".env"),
        "LEADMAGIC_SANDBOX=true\nexport LEADMAGIC_TOOLSETS=credits # the balance only\n",
    )
    .unwrap();
    let toolsets = |stdout: &str| {
        let mut sets: Vec<String> = stdout
            .lines()
            .skip(1)
            .filter_map(|row| row.split_whitespace().nth(1).map(str::to_string))
            .collect();
        sets.dedup();
        sets
    };
    let (ok, stdout, stderr) = run(&["tools"], &[], dir);
    assert!(ok, "{stderr}");
    assert_eq!(toolsets(&stdout), ["credits"], "{stdout}");
    // LEADMAGIC_SANDBOX from .env: no key is needed, nothing is sent.
    let (ok, stdout, stderr) = run(&["call", "get_credit_balance"], &[], dir);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("_sandbox"), "{stdout}");
    let (ok, stdout, stderr) = run(&["tools"], &[("LEADMAGIC_TOOLSETS", "ads")], dir);
    assert!(ok, "{stderr}");
    assert_eq!(toolsets(&stdout), ["ads"], "the environment wins: {stdout}");
    // A blank variable counts as unset, as it does for the key.
    let (ok, stdout, _) = run(&["tools"], &[("LEADMAGIC_TOOLSETS", " ")], dir);
    assert!(ok);
    assert_eq!(toolsets(&stdout), ["credits"], "{stdout}");
}

/// Test directories go away with the test (they were left in the system's temporary directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_server_leaves_no_directory_behind() {
    let mut server = McpProcess::spawn(&[], &["--sandbox"]);
    let dir = server.dir().to_path_buf();
    assert!(dir.is_dir());
    server.initialize().await;
    server.finish().await;
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

/// Lists are comma-separated or repeated, with spaces and stray commas ignored (a repeated flag
/// was refused: "cannot be used multiple times").
#[test]
fn list_flags_can_be_repeated_and_their_items_are_trimmed() {
    let dir = common::temp_dir();
    let (ok, stdout, stderr) = run(
        &[
            "--toolsets",
            "people",
            "--toolsets",
            " ads ,",
            "--exclude-tools",
            "find_work_email, ",
            "tools",
        ],
        &[],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let rows: Vec<(&str, &str)> = stdout
        .lines()
        .skip(1)
        .filter_map(|row| {
            let mut cells = row.split_whitespace();
            Some((cells.next()?, cells.next()?))
        })
        .collect();
    let mut sets: Vec<&str> = rows.iter().map(|(_, set)| *set).collect();
    sets.sort();
    sets.dedup();
    assert_eq!(sets, ["ads", "people"], "{stdout}");
    assert!(
        rows.iter().all(|(tool, _)| *tool != "find_work_email"),
        "{stdout}"
    );
    assert!(rows.len() > 10, "{stdout}");
}
