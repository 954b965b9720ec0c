//! A client this team did not write: the official TypeScript MCP SDK client, which validates
//! every `structuredContent` against the tool's `outputSchema`. Over stdio it calls every tool
//! (the sandbox), over streamable HTTP a sample against the loopback mock, errors included.
//! `.ci/run` installs Node 22 and the SDK and sets `LEADMAGIC_TEST_NODE` and
//! `LEADMAGIC_TEST_TS_SDK`; without them the test skips, saying so.

mod common;

use common::{CANARY_KEY, HttpServer, Mock, Reply, valid_args};
use leadmagic_mcp::server::TOOLS;
use serde_json::{Value, json};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/ts_client_check.mjs"
);

fn node_and_sdk() -> Option<(String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("LEADMAGIC_TEST_NODE"), get("LEADMAGIC_TEST_TS_SDK")) {
        (Some(node), Some(sdk)) => Some((node, sdk)),
        _ => {
            common::skip(
                "LEADMAGIC_TEST_NODE / LEADMAGIC_TEST_TS_SDK are not set (.ci/run installs the TypeScript SDK)",
            );
            None
        }
    }
}

async fn run(
    node: &str,
    sdk: &str,
    calls: &Value,
    transport: &[&str],
    env: &[(&str, &str)],
) -> Value {
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(SCRIPT)
        .arg(sdk)
        .arg(calls.to_string())
        .args(transport)
        .env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "TypeScript client failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains(CANARY_KEY) && !stderr.contains(CANARY_KEY));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn schema(t: &leadmagic_mcp::server::ToolDef) -> Value {
    serde_json::from_str(t.input_schema).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_typescript_client_validates_every_tool_over_stdio_and_a_sample_over_http() {
    let Some((node, sdk)) = node_and_sdk() else {
        return;
    };
    // stdio, the sandbox: every tool, each answer checked against its output schema.
    let calls: Vec<Value> = TOOLS
        .iter()
        .map(|t| json!([t.name, valid_args(&schema(t), t.any_of_required), false]))
        .chain([json!(["validate_work_email", {"email": "not an email"}, true])])
        .collect();
    let r = run(
        &node,
        &sdk,
        &Value::Array(calls),
        &[
            "stdio",
            common::binary(),
            "--sandbox",
            "--toolsets",
            "all",
            "--no-confirm",
        ],
        &[],
    )
    .await;
    assert_eq!(r["tools"].as_array().unwrap().len(), TOOLS.len());
    assert_eq!(r["calls"].as_array().unwrap().len(), TOOLS.len() + 1);
    assert_eq!(r["calls"][TOOLS.len()]["kind"], "invalid_arguments");

    // Streamable HTTP against the mock: a result, upstream errors, a composite, a refusal.
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::json(200, &json!({"email": "jane@example.org", "email_status": "valid", "credits_consumed": 0.25, "newField": 1})),
    );
    mock.on(
        "POST",
        "/v1/people/email-finder",
        Reply::json(
            404,
            &json!({"error": "profile_not_found", "credits_consumed": 0}),
        ),
    );
    for path in [
        "/v1/companies/company-search",
        "/v1/companies/company-funding",
        "/v1/companies/competitors-search",
        "/v1/companies/technographics",
    ] {
        mock.on(
            "POST",
            path,
            Reply::json(200, &json!({"credits_consumed": 1})),
        );
    }
    let url = mock.url();
    let server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
        ],
        &[],
    )
    .await;
    let calls = json!([
        ["validate_work_email", {"email": "jane@example.org"}, false],
        ["find_work_email", {"first_name": "Jane", "domain": "example.org"}, true],
        ["research_account", {"company_domain": "example.org"}, false],
        ["search_people", {"company_domain": "example.org", "limit": 500}, true],
    ]);
    let r = run(&node, &sdk, &calls, &["http", &server.mcp_url()], &[]).await;
    let kinds: Vec<&Value> = r["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &Value::Null,
            &json!("not_found"),
            &Value::Null,
            &json!("confirmation_required")
        ]
    );
    assert!(
        r["calls"][0]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!("newField"))
    );
    assert_eq!(
        mock.total(),
        1 + 1 + 4,
        "the search waits for confirmation: nothing sent"
    );
}
