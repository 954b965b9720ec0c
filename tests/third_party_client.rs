//! A client this team did not write: the official Python MCP SDK (`mcp` 2.x) lists and calls
//! tools over streamable HTTP and over stdio, against the loopback mock. `.ci/run` installs the
//! SDK and sets `LEADMAGIC_TEST_PYTHON`; without it the test skips, saying so.

mod common;

use common::{CANARY_KEY, HttpServer, Mock, Reply};
use leadmagic_mcp::server::Selection;
use serde_json::{Value, json};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/mcp_client_check.py"
);

fn python() -> Option<String> {
    let py = std::env::var("LEADMAGIC_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if py.is_none() {
        common::skip(
            "LEADMAGIC_TEST_PYTHON is not set (.ci/run installs the official mcp SDK and sets it)",
        );
    }
    py
}

/// Run the client; returns the result line it printed.
async fn run(py: &str, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(py)
        .arg(SCRIPT)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("tools: {}", Selection::default().tools().count())),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY_KEY) && !stderr.contains(CANARY_KEY));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_over_http_and_stdio() {
    let Some(py) = python() else { return };
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::json(200, &json!({"email": "jane@example.org", "email_status": "valid", "credits_consumed": 0.25, "newField": 1})),
    );
    let url = mock.url();
    let call = [
        "--tool",
        "validate_work_email",
        "--args",
        r#"{"email":"jane@example.org"}"#,
    ];

    let server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
        ],
        &[],
    )
    .await;
    let mcp_url = server.mcp_url();
    for mode in ["legacy", "auto"] {
        let mut args = call.to_vec();
        args.extend(["--mode", mode, "http", &mcp_url]);
        let r = run(&py, &args).await;
        assert_eq!(r["isError"], false, "{mode}: {r}");
        assert_eq!(r["structuredContent"]["email_status"], "valid");
        assert_eq!(
            r["structuredContent"]["newField"], 1,
            "unknown fields survive"
        );
    }
    assert_eq!(mock.hits("POST", "/v1/people/email-validation"), 2);

    let key_env = format!("LEADMAGIC_API_KEY={CANARY_KEY}");
    let url_env = format!("LEADMAGIC_BASE_URL={url}");
    let mut args = call.to_vec();
    args.extend([
        "stdio",
        "--env",
        &key_env,
        "--env",
        &url_env,
        "--",
        common::binary(),
    ]);
    let r = run(&py, &args).await;
    assert_eq!(r["isError"], false, "stdio: {r}");
    assert_eq!(mock.hits("POST", "/v1/people/email-validation"), 3);
}
