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

/// Run a client script; returns the JSON line it printed last, and its stdout.
async fn python_json(py: &str, script: &str, args: &[&str]) -> (Value, String) {
    let out = tokio::process::Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains(CANARY_KEY) && !stderr.contains(CANARY_KEY));
    let last = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    (last, stdout)
}

/// Run the tool-call client; returns the result line it printed.
async fn run(py: &str, args: &[&str]) -> Value {
    let (result, stdout) = python_json(py, SCRIPT, args).await;
    assert!(
        stdout.contains(&format!("tools: {}", Selection::default().tools().count())),
        "{stdout}"
    );
    result
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

const WORKFLOWS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/mcp_workflows_check.py"
);

/// The routes the composites call, answered as LeadMagic would.
fn workflow_mock(mock: &Mock) {
    let ok = |v: Value| Reply::json(200, &v);
    for (path, body) in [
        (
            "/v1/companies/company-search",
            json!({"companyName": "Example", "websiteUrl": "https://example.org", "credits_consumed": 1}),
        ),
        (
            "/v1/companies/company-funding",
            json!({"basicInfo": {"companyName": "Example"}, "credits_consumed": 4}),
        ),
        (
            "/v1/companies/competitors-search",
            json!({"competitors": [], "credits_consumed": 5}),
        ),
        (
            "/v1/people/email-finder",
            json!({"email": "jane.doe@example.org", "credits_consumed": 1}),
        ),
        (
            "/v1/people/email-validation",
            json!({"email_status": "valid", "credits_consumed": 0.25}),
        ),
        (
            "/v1/people/mobile-finder",
            json!({"mobile_number": "+15550100", "credits_consumed": 5}),
        ),
        (
            "/v1/people/role-finder",
            json!({"name": "Ada", "credits_consumed": 2}),
        ),
        (
            "/v3/people/search",
            json!({"people": [], "credits_consumed": 0}),
        ),
    ] {
        mock.on("POST", path, ok(body));
    }
    mock.on(
        "POST",
        "/v1/companies/technographics",
        Reply::json(200, &json!([{"name": "nginx"}])).header("x-credits-consumed", "1"),
    );
}

async fn run_workflows(py: &str, args: &[&str]) -> Value {
    python_json(py, WORKFLOWS, args).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_runs_composites_prompts_resources_and_answers_elicitation() {
    let Some(py) = python() else { return };
    let mock = Mock::start(CANARY_KEY).await;
    workflow_mock(&mock);
    let url = mock.url();
    let key_env = format!("LEADMAGIC_API_KEY={CANARY_KEY}");
    let url_env = format!("LEADMAGIC_BASE_URL={url}");
    let server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
        ],
        &[],
    )
    .await;
    let mcp_url = server.mcp_url();
    // stdio on 2025-11-25 (elicitation/create), HTTP on 2026-07-28 (an input_required result).
    let runs: [(&str, &str, Vec<&str>); 3] = [
        (
            "accept",
            "legacy",
            vec![
                "stdio",
                "--env",
                &key_env,
                "--env",
                &url_env,
                "--",
                common::binary(),
            ],
        ),
        (
            "decline",
            "legacy",
            vec![
                "stdio",
                "--env",
                &key_env,
                "--env",
                &url_env,
                "--",
                common::binary(),
            ],
        ),
        ("accept", "auto", vec!["http", &mcp_url]),
    ];
    let mut searches = 0;
    for (answer, mode, transport) in runs {
        let before = mock.total();
        let mut args = vec!["--answer", answer, "--mode", mode];
        args.extend(transport);
        let r = run_workflows(&py, &args).await;
        let what = format!("{answer} {mode} ({}): {r}", r["protocol"]);
        for (name, steps, credits) in [
            ("research_account", 4, 11.0),
            ("enrich_contact", 3, 6.25),
            ("find_decision_makers", 3, 5.0),
        ] {
            let c = &r["composites"][name];
            assert_eq!(c["listed_cost"], true, "{what}");
            assert_eq!(c["isError"], false, "{what}");
            assert_eq!(c["summary"]["ok"], steps, "{name}: {what}");
            assert_eq!(c["credits"], credits, "{name}: {what}");
        }
        for name in ["account_research", "contact_lookup", "find_decision_makers"] {
            let p = &r["prompts"][name];
            assert_eq!(p["listed"], true, "{what}");
            assert!(
                p["text"].as_str().unwrap().contains("credit"),
                "{name}: {what}"
            );
        }
        assert!(
            r["resources"]["leadmagic://docs"].as_u64().unwrap() > 1000,
            "{what}"
        );
        assert!(
            r["resources"]["leadmagic://tools/research_account"]
                .as_u64()
                .unwrap()
                > 100
        );
        let confirm = &r["confirm"];
        assert_eq!(
            confirm["asked"].as_array().unwrap().len(),
            1,
            "asked once: {what}"
        );
        assert!(
            confirm["asked"][0]
                .as_str()
                .unwrap()
                .contains("up to 100 credits"),
            "{what}"
        );
        if answer == "accept" {
            searches += 1;
            assert_eq!(confirm["isError"], false, "{what}");
        } else {
            assert_eq!(confirm["kind"], "not_confirmed", "{what}");
        }
        assert_eq!(mock.hits("POST", "/v3/people/search"), searches, "{what}");
        // 4 + 3 + 3 composite steps, and the search only when accepted.
        let expected = 10 + usize::from(answer == "accept");
        assert_eq!(mock.total() - before, expected, "requests: {what}");
    }
}
