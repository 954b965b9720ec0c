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

/// The server token may live in `.env` like every other setting (it was read from the process
/// environment only, after `.env` had been looked at for the key alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_in_dotenv_is_required() {
    let dir = common::temp_dir();
    std::fs::write(
        dir.path().join(".env"),
        format!("LEADMAGIC_MCP_TOKEN={TOKEN}\n"),
    )
    .unwrap();
    let env = [("LEADMAGIC_SANDBOX", "1")];
    let server = HttpServer::start_in(dir, &env, &["serve", "--http", "127.0.0.1:0"]).await;
    let client = http_client();
    let body = call(1, "get_credit_balance", json!({}));
    let (status, _) = post_mcp(&client, &server.mcp_url(), &body, &[]).await;
    assert_eq!(status, 401);
    let bearer = format!("Bearer {TOKEN}");
    let (status, reply) = post_mcp(
        &client,
        &server.mcp_url(),
        &body,
        &[("authorization", bearer.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(!server.stderr.lock().unwrap().contains(TOKEN));
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
    mock.on("POST", "/v1/people/email-validation", Reply::valid_email());
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

/// SIGTERM while three requests are on their way: one in progress (LeadMagic is slow to answer),
/// one on a connection the server has accepted but not read a byte from yet, and one in the
/// listen queue (both connection slots are taken). hyper's graceful shutdown alone closes the
/// second unread, and closing the listener resets the third; a load balancer retries neither (it
/// sent a POST). All three are answered, each reached LeadMagic once, and the server exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_requests_already_sent_on_accepted_and_queued_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::valid_email().delayed(std::time::Duration::from_millis(500)),
    );
    let url = mock.url();
    let mut server = HttpServer::start(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", &url),
            ("LEADMAGIC_LOG", "info"),
        ],
        &["--max-connections", "2"],
    )
    .await;
    let addr = addr_of(&server);
    let request = |id: u64| {
        let body = call(
            id,
            "validate_work_email",
            json!({"email": format!("p{id}@example.org")}),
        )
        .to_string();
        format!(
            "POST /mcp HTTP/1.1\r\nHost: localhost\r\n{MCP_HEADERS}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let mut in_progress = tokio::net::TcpStream::connect(&addr).await.unwrap();
    in_progress.write_all(request(1).as_bytes()).await.unwrap();
    wait_for("the first request to reach the mock", || mock.total() == 1).await;
    let mut unread = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Time for the server to accept it (it has the second slot); nothing to wait on from outside.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // No slot left: the kernel completes this handshake, the server does not accept it.
    let mut queued = tokio::net::TcpStream::connect(&addr).await.unwrap();
    queued.write_all(request(3).as_bytes()).await.unwrap();

    let pid = server.child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    wait_for("the server to log its shutdown", || {
        server.stderr.lock().unwrap().contains("shutting down")
    })
    .await;
    // Give hyper's shutdown time to close the unread connection, if it were going to.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // A reset here is the bug itself (the connection was closed unread): read the answer anyway.
    let _ = unread.write_all(request(2).as_bytes()).await;

    for (name, mut socket, id) in [
        ("in progress", in_progress, 1),
        ("accepted, unread", unread, 2),
        ("queued", queued, 3),
    ] {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            socket.read_to_end(&mut out),
        )
        .await;
        let response = String::from_utf8_lossy(&out);
        assert_eq!(status_of(&response), 200, "{name}: {response:?}");
        let reply = json_of(&response);
        assert_eq!(reply["id"], id, "{name}: {reply}");
        assert_eq!(reply["result"]["isError"], false, "{name}: {reply}");
        // Answered while stopping: the server says the connection ends with it.
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{name}: {response}"
        );
    }
    assert_eq!(mock.hits("POST", "/v1/people/email-validation"), 3);
    let exit = tokio::time::timeout(std::time::Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
    assert!(
        server
            .stderr
            .lock()
            .unwrap()
            .contains("served the listen queue"),
        "the queued connection came from the listen queue"
    );
}

/// Poll `done` every 10 ms for up to 2 s.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The server's address (`127.0.0.1:PORT`) and one raw HTTP exchange on a fresh connection:
/// what the server wrote until it closed the connection or 5 s passed.
fn addr_of(server: &HttpServer) -> String {
    server.base.trim_start_matches("http://").to_string()
}

async fn raw_exchange(addr: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The JSON body of a raw response (after the blank line; chunked framing tolerated).
fn json_of(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
}

const MCP_HEADERS: &str =
    "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_parsed_strictly_and_origins_counted() {
    let server = HttpServer::start(&[], &["--sandbox"]).await;
    let addr = addr_of(&server);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let post = |head: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\n{head}{MCP_HEADERS}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let ok = raw_exchange(&addr, post("Host: localhost\r\n").as_bytes()).await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    for (head, status) in [
        ("Host: [::1]evil.example\r\n", 400),
        ("Host: [::1].evil.example\r\n", 400),
        ("Host: [localhost]\r\n", 400),
        ("Host: localhost\r\nHost: evil.example\r\n", 400),
        ("Host: localhost\r\nHost: localhost\r\n", 400),
        ("Host: evil.example\r\n", 403),
        (
            "Host: localhost\r\nOrigin: http://localhost:1\r\nOrigin: https://evil.example\r\n",
            403,
        ),
    ] {
        let response = raw_exchange(&addr, post(head).as_bytes()).await;
        assert_eq!(status_of(&response), status, "{head:?}: {response}");
    }
    // An absolute-form target naming another host than Host.
    let absolute =
        post("Host: localhost\r\n").replacen("POST /mcp", "POST http://evil.example/mcp", 1);
    let response = raw_exchange(&addr, absolute.as_bytes()).await;
    assert_eq!(status_of(&response), 400, "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_400_with_a_json_rpc_error() {
    let server = HttpServer::start(&[], &["--sandbox"]).await;
    let client = http_client();
    let mcp = server.mcp_url();
    for (body, id, code) in [
        ("garbage", Value::Null, -32700),
        ("", Value::Null, -32700),
        ("{}", Value::Null, -32600),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            Value::Null,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"validate_email","arguments":[]}}"#,
            json!(3),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":5}}"#,
            json!(4),
            -32602,
        ),
    ] {
        let response = client
            .post(&mcp)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        let v: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            (v["id"].clone(), v["error"]["code"].clone()),
            (id, json!(code)),
            "{body:?}: {v}"
        );
    }
    // A broken chunked encoding is a malformed body too, not a server error.
    let broken = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\n{MCP_HEADERS}Transfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n"
    );
    let response = raw_exchange(&addr_of(&server), broken.as_bytes()).await;
    assert_eq!(status_of(&response), 400, "{response}");
    assert_eq!(json_of(&response)["error"]["code"], -32700, "{response}");
}

/// MCP 2026-07-28: an unsupported protocol version gets `UnsupportedProtocolVersionError`
/// (-32022) listing the versions spoken and echoing the one asked for, with HTTP 400 and the
/// request's id (the conformance suite's sep-2575-server-unsupported-version-error check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_protocol_version_gets_a_json_rpc_error_listing_the_supported_ones() {
    let server = HttpServer::start(&[], &["--sandbox"]).await;
    let client = http_client();
    let mcp = server.mcp_url();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}});
    let discover = json!({"jsonrpc": "2.0", "id": 201, "method": "server/discover", "params": {"_meta": meta}});
    let (status, found) = post_mcp(
        &client,
        &mcp,
        &discover,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let spoken = found["result"]["supportedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!spoken.is_empty(), "{found}");
    let mut bad_meta = meta.clone();
    bad_meta["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    for (message, header, id) in [
        (
            json!({"jsonrpc": "2.0", "id": 301, "method": "server/discover", "params": {"_meta": bad_meta}}),
            "v999.0.0",
            301,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 302, "method": "tools/list", "params": {}}),
            "1999-01-01",
            302,
        ),
    ] {
        let (status, answer) =
            post_mcp(&client, &mcp, &message, &[("mcp-protocol-version", header)]).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["error"]["code"], -32022, "{answer}");
        assert_eq!(answer["error"]["data"]["requested"], header, "{answer}");
        let supported = answer["error"]["data"]["supported"].as_array().unwrap();
        assert!(
            !supported.is_empty() && supported.iter().all(|v| spoken.contains(v)),
            "{answer}"
        );
    }
}

/// Idle and slow-header connections are closed by the header-read timeout; over the connection
/// cap, new clients wait in the backlog until a slot frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_timed_out_and_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = HttpServer::start(
        &[],
        &[
            "--sandbox",
            "--header-timeout",
            "1",
            "--max-connections",
            "4",
        ],
    )
    .await;
    let addr = addr_of(&server);
    let mut held = Vec::new();
    for i in 0..4 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            // Half a request head, never finished.
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
                .await
                .unwrap();
        }
        held.push(s);
    }
    // The cap holds: a fifth client is not served while the four are open...
    let client = http_client();
    let health = format!("{}/healthz", server.base);
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        client.get(&health).send(),
    )
    .await;
    assert!(early.is_err(), "served past the connection cap");
    // ...and the timeout frees the slots: each held socket is closed by the server.
    for (i, s) in held.iter_mut().enumerate() {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("connection {i} still open after 5 s"));
        assert!(matches!(read, Ok(0) | Ok(_) | Err(_)));
    }
    let later = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.get(&health).send(),
    )
    .await
    .expect("served once the slots were freed")
    .unwrap();
    assert_eq!(later.status(), 200);
}

/// Slow uploads hold a connection, not a concurrency slot: with every slot's worth of uploads
/// trickling in, a complete request is still served, and the uploads end with 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_do_not_hold_concurrency_slots() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = HttpServer::start(
        &[],
        &["--sandbox", "--max-concurrency", "2", "--body-timeout", "2"],
    )
    .await;
    let addr = addr_of(&server);
    let mut uploads = Vec::new();
    for _ in 0..5 {
        let addr = addr.clone();
        uploads.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /mcp HTTP/1.1\r\nHost: localhost\r\n{MCP_HEADERS}Content-Length: 100\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await.unwrap();
            // One byte every 300 ms, for longer than the body timeout, then read the answer.
            for _ in 0..20 {
                if s.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            let mut out = Vec::new();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out))
                    .await;
            String::from_utf8_lossy(&out).into_owned()
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, body) = post_mcp(
        &http_client(),
        &server.mcp_url(),
        &call(1, "validate_email", json!({"email": "jane@example.org"})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        uploads.iter().all(|u| !u.is_finished()),
        "served while every upload was still trickling in"
    );
    for u in uploads {
        let response = u.await.unwrap();
        assert_eq!(status_of(&response), 408, "{response}");
        assert_eq!(json_of(&response)["error"]["code"], -32600, "{response}");
    }
}

/// Bring-your-own-key callers each have their own budget, their own spend total (named for what
/// it is: the caller key's) and their own rate-limit pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_callers_key_has_its_own_budget_total_and_pause() {
    let mock = Mock::start("").await;
    let ok = Reply::valid_email();
    mock.on("POST", "/v1/people/email-validation", ok.clone());
    let url = mock.url();
    let server = HttpServer::start(
        &[("LEADMAGIC_BASE_URL", url.as_str())],
        &["--per-request-key", "--max-credits", "0.5"],
    )
    .await;
    let client = http_client();
    let mcp = server.mcp_url();
    let (a, b) = (
        "lm_caller_alpha_0000000000000001",
        "lm_caller_bravo_0000000000000002",
    );
    let validate = |id| call(id, "validate_email", json!({"email": "jane@example.org"}));
    let credits = |v: &Value| v["result"]["structuredContent"]["_credits"].clone();
    let (_, r) = post_mcp(&client, &mcp, &validate(1), &[("x-leadmagic-key", a)]).await;
    assert_eq!(
        credits(&r),
        json!({"used": 0.25, "reported": true, "caller_key_total": 0.25, "budget_remaining": 0.25}),
        "{r}"
    );
    let (_, r) = post_mcp(&client, &mcp, &validate(2), &[("x-leadmagic-key", a)]).await;
    assert_eq!(credits(&r)["caller_key_total"], 0.5, "{r}");
    let (_, r) = post_mcp(&client, &mcp, &validate(3), &[("x-leadmagic-key", a)]).await;
    assert_eq!(
        r["result"]["structuredContent"]["kind"], "budget_exceeded",
        "{r}"
    );
    let (_, r) = post_mcp(&client, &mcp, &validate(4), &[("x-leadmagic-key", b)]).await;
    assert_eq!(
        credits(&r)["caller_key_total"],
        0.25,
        "b's spend and budget are b's: {r}"
    );
    assert_eq!(mock.total(), 3);
    // a's window is used up for 50 s: a is held back (nothing sent); b is not.
    mock.on_seq(
        "POST",
        "/v1/people/email-validation",
        vec![
            ok.clone()
                .header("ratelimit-remaining", "0")
                .header("ratelimit-reset", "50"),
            ok.clone(),
        ],
    );
    let c = "lm_caller_charlie_000000000000003";
    let (_, r) = post_mcp(&client, &mcp, &validate(5), &[("x-leadmagic-key", c)]).await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    let (_, r) = post_mcp(&client, &mcp, &validate(6), &[("x-leadmagic-key", c)]).await;
    assert_eq!(
        r["result"]["structuredContent"]["kind"], "rate_limited",
        "{r}"
    );
    let (_, r) = post_mcp(&client, &mcp, &validate(7), &[("x-leadmagic-key", b)]).await;
    assert_eq!(
        r["result"]["isError"], false,
        "another caller is not held: {r}"
    );
    assert_eq!(mock.total(), 5, "the held-back call sent nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_07_28_headers_are_checked_and_initialize_is_gone() {
    let server = HttpServer::start(&[], &["--sandbox"]).await;
    let client = http_client();
    let mcp = server.mcp_url();
    let meta = |version: &str| {
        json!({"io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}})
    };
    let discover = |version: &str| json!({"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {"_meta": meta(version)}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "server/discover"),
    ];
    // Discovery answers with the capabilities, the instructions and a caching hint.
    let (status, found) = post_mcp(&client, &mcp, &discover("2026-07-28"), &headers).await;
    assert_eq!(status, 200, "{found}");
    let result = &found["result"];
    assert!(
        result["capabilities"]["tools"].is_object()
            && result["capabilities"]["prompts"].is_object()
    );
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("Toolsets enabled")
    );
    assert_eq!(result["ttlMs"], 3_600_000);
    assert_eq!(result["cacheScope"], "public");
    // Header and _meta disagree: -32020, whether or not the _meta version is one spoken here.
    for other in ["2025-11-25", "v999.0.0"] {
        let (status, body) = post_mcp(&client, &mcp, &discover(other), &headers).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], -32020, "{other}: {body}");
    }
    // Mcp-Method must name the body's method.
    let (status, body) = post_mcp(
        &client,
        &mcp,
        &discover("2026-07-28"),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // initialize was removed in 2026-07-28: 404 and method-not-found, not a params error.
    let init = json!({"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": {"_meta": meta("2026-07-28")}});
    let (status, body) = post_mcp(
        &client,
        &mcp,
        &init,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "initialize"),
        ],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], -32601, "{body}");
    // The 2025 handshake still works.
    let old = json!({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, body) = post_mcp(
        &client,
        &mcp,
        &old,
        &[("mcp-protocol-version", "2025-11-25")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["protocolVersion"], "2025-11-25");
}
