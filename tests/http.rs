//! `serve --http`: secure defaults, bearer auth, size cap, bring-your-own-key isolation.

mod common;

use common::{CANARY_KEY, HttpServer, Mock, Reply, http_client, post_mcp};
use serde_json::{Value, json};

const TOKEN: &str = "test-token-0123456789abcdef";

fn call(id: u64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
}

/// No subcommand means `serve`, and its settings still come from the environment; boolean
/// variables accept 1/yes/on as well as true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_settings_come_from_the_environment_without_a_subcommand() {
    let server = HttpServer::start_argv(
        &[
            ("LEADMAGIC_HTTP_ADDR", "127.0.0.1:0"),
            ("LEADMAGIC_SANDBOX", "1"),
            ("LEADMAGIC_READ_ONLY", "yes"),
        ],
        &[],
    )
    .await;
    let client = http_client();
    let mcp = server.mcp_url();
    let (status, body) = post_mcp(
        &client,
        &mcp,
        &call(1, "validate_email", json!({"email": "jane@example.org"})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"]["structuredContent"]["_sandbox"].is_string(),
        "sandbox answer expected: {body}"
    );
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let (_, listed) = post_mcp(&client, &mcp, &list, &[]).await;
    let tools = listed["result"]["tools"].as_array().expect("tools");
    assert!(!tools.is_empty());
    assert!(
        tools
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == true),
        "LEADMAGIC_READ_ONLY=yes keeps read-only tools only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_defaults_host_origin_size_and_health() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "GET",
        "/v1/credits",
        Reply::json(200, &json!({"credits": 3})),
    );
    let url = mock.url();
    let server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
        ],
        &[],
    )
    .await;
    let client = http_client();
    let mcp = server.mcp_url();

    let (status, body) = post_mcp(
        &client,
        &mcp,
        &call(1, "get_credit_balance", json!({})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["credits"], 3);

    let (status, _) = post_mcp(
        &client,
        &mcp,
        &call(2, "get_credit_balance", json!({})),
        &[("host", "evil.example")],
    )
    .await;
    assert_eq!(status, 403, "DNS rebinding: foreign Host");
    let (status, _) = post_mcp(
        &client,
        &mcp,
        &call(3, "get_credit_balance", json!({})),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403, "foreign Origin");
    let (status, _) = post_mcp(
        &client,
        &mcp,
        &call(4, "get_credit_balance", json!({})),
        &[("origin", "null")],
    )
    .await;
    assert_eq!(status, 403, "null Origin");
    let (status, _) = post_mcp(
        &client,
        &mcp,
        &call(5, "get_credit_balance", json!({})),
        &[("origin", "http://localhost:6274")],
    )
    .await;
    assert_eq!(
        status, 200,
        "a local browser tool such as the MCP inspector"
    );

    let big = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {"pad": "x".repeat(2 << 20)}});
    // Its own client: the server may close the connection after refusing the body.
    let (status, _) = post_mcp(&http_client(), &mcp, &big, &[]).await;
    assert_eq!(status, 413);

    let (status, _) = post_mcp(
        &client,
        &mcp,
        &call(7, "get_credit_balance", json!({})),
        &[("mcp-protocol-version", "1999-01-01")],
    )
    .await;
    assert_eq!(status, 400, "unknown MCP-Protocol-Version");

    let batch = json!([
        call(8, "get_credit_balance", json!({})),
        call(9, "get_credit_balance", json!({}))
    ]);
    let (status, _) = post_mcp(&client, &mcp, &batch, &[]).await;
    assert!(
        (400..500).contains(&status),
        "JSON-RPC batches are rejected: {status}"
    );

    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let text = health.text().await.unwrap();
    assert_eq!(text, r#"{"status":"ok"}"#);
    assert_eq!(mock.total(), 2, "only the allowed calls reached LeadMagic");
    assert!(!server.stderr.lock().unwrap().contains(CANARY_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_when_configured() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "GET",
        "/v1/credits",
        Reply::json(200, &json!({"credits": 3})),
    );
    let url = mock.url();
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_MCP_TOKEN", TOKEN),
    ];
    let server = HttpServer::start(&env, &[]).await;
    let client = http_client();
    let mcp = server.mcp_url();
    let body = call(1, "get_credit_balance", json!({}));
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789abc"),
        Some("Basic dGVzdA=="),
    ] {
        let mut req = client
            .post(&mcp)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.body(body.to_string()).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    let (status, reply) =
        post_mcp(&client, &mcp, &body, &[("authorization", bearer.as_str())]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(mock.total(), 1);
    let req = &mock.requests()[0];
    assert_eq!(
        req.header("authorization"),
        None,
        "our bearer token is never forwarded"
    );
    assert_eq!(req.header("x-api-key"), Some(CANARY_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_bind_without_token_is_refused() {
    let out = tokio::process::Command::new(common::binary())
        .args(["--sandbox", "serve", "--http", "0.0.0.0:0"])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEADMAGIC_MCP_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_keys_stay_with_their_caller() {
    let mock = Mock::start("").await; // accepts any key, records which one came
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::json(
            200,
            &json!({"email_status": "valid", "credits_consumed": 0.25}),
        ),
    );
    let url = mock.url();
    // A server key is set too: in this mode it must never be used. Trace logs with bodies, so
    // the scan for keys below has logs to scan.
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_LOG", "trace"),
        ("LEADMAGIC_LOG_BODIES", "1"),
    ];
    let server = HttpServer::start(&env, &["--per-request-key"]).await;
    let client = http_client();
    let mcp = server.mcp_url();

    let keys = [
        "lm_caller_alpha_0000000000000001",
        "lm_caller_bravo_0000000000000002",
    ];
    let mut calls = Vec::new();
    for i in 0..40u64 {
        let key = keys[(i % 2) as usize];
        let tag = if i % 2 == 0 { "alpha" } else { "bravo" };
        let (client, mcp) = (client.clone(), mcp.clone());
        calls.push(tokio::spawn(async move {
            let body = call(
                i,
                "validate_email",
                json!({ "email": format!("{tag}{i}@example.org") }),
            );
            post_mcp(&client, &mcp, &body, &[("x-leadmagic-key", key)]).await
        }));
    }
    for c in calls {
        let (status, reply) = c.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(reply["result"]["isError"], false, "{reply}");
    }
    let requests = mock.requests();
    assert_eq!(requests.len(), 40);
    for r in &requests {
        let email = r.json()["email"].as_str().unwrap().to_string();
        let expected = if email.starts_with("alpha") {
            keys[0]
        } else {
            keys[1]
        };
        assert_eq!(
            r.header("x-api-key"),
            Some(expected),
            "{email} went out with another caller's key"
        );
    }

    // No key in the request: refused before anything is sent; the server key is not a fallback.
    let (_, reply) = post_mcp(
        &client,
        &mcp,
        &call(99, "validate_email", json!({"email": "x@example.org"})),
        &[],
    )
    .await;
    assert_eq!(
        reply["result"]["structuredContent"]["kind"], "auth",
        "{reply}"
    );
    assert_eq!(mock.total(), 40);
    let logs = server.stderr.lock().unwrap().clone();
    assert!(logs.contains("request body"), "bodies were logged");
    assert!(
        !logs.contains("caller_alpha")
            && !logs.contains("caller_bravo")
            && !logs.contains(CANARY_KEY)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_key_headers_are_ignored_without_the_mode() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "GET",
        "/v1/credits",
        Reply::json(200, &json!({"credits": 3})),
    );
    let url = mock.url();
    let server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
        ],
        &[],
    )
    .await;
    let (status, reply) = post_mcp(
        &http_client(),
        &server.mcp_url(),
        &call(1, "get_credit_balance", json!({})),
        &[
            ("x-leadmagic-key", "lm_someone_else_000000000000"),
            ("authorization", "Bearer lm_someone_else_000000000000"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert_eq!(mock.requests()[0].header("x-api-key"), Some(CANARY_KEY));
    assert_eq!(mock.requests()[0].header("authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly() {
    let mut server = HttpServer::start(&[], &["--sandbox"]).await;
    let pid = server.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(std::time::Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
}
