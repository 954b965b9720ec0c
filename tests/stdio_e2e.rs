//! The real binary over stdio against a loopback mock of the LeadMagic API.

mod common;

use common::{CANARY_KEY, McpProcess, Mock, Reply, valid_args};
use leadmagic_mcp::server::{Output, TOOLS, ToolDef};
use serde_json::{Map, Value, json};

fn env_for(mock: &Mock) -> Vec<(&'static str, String)> {
    vec![
        ("LEADMAGIC_API_KEY", CANARY_KEY.to_string()),
        ("LEADMAGIC_BASE_URL", mock.url()),
    ]
}

fn spawn(mock: &Mock, args: &[&str]) -> McpProcess {
    let env = env_for(mock);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    McpProcess::spawn(&env, args)
}

fn schema(t: &ToolDef) -> Value {
    serde_json::from_str(t.input_schema).unwrap()
}

/// The route a call with these arguments must reach.
fn concrete_path(t: &ToolDef, args: &Map<String, Value>) -> String {
    t.path_params().fold(t.path.to_string(), |path, name| {
        let value = args[name]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| args[name].to_string());
        path.replace(&format!("{{{name}}}"), &value)
    })
}

/// What the mock sends for a tool: known fields, plus fields no document lists, in both cases.
fn upstream_body(t: &ToolDef) -> Value {
    match t.output {
        Output::Wrapped => json!([
            {"id": 1, "name": "First", "surpriseField": {"deep": [1, 2]}},
            {"id": "US", "name": "Second", "another_new_field": null}
        ]),
        _ => json!({
            "credits_consumed": 0,
            "message": "Found.",
            "route": t.path,
            "brandNewCamelField": {"nested": {"value": true}},
            "brand_new_snake_field": [1, 2.5, "three"],
            "companyName": "Example Org",
            "company_name": "Example Org"
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_reaches_its_route_once_and_keeps_every_field() {
    let mock = Mock::start(CANARY_KEY).await;
    let mut calls = Vec::new();
    // Composites call these same routes through their steps (tests/workflows.rs).
    for t in TOOLS.iter().filter(|t| t.steps.is_empty()) {
        let args = valid_args(&schema(t), t.any_of_required);
        let path = concrete_path(t, &args);
        let reply = match t.output {
            Output::Text => Reply::raw(200, "text/csv", b"a,b\n1,2\n".to_vec()),
            Output::Empty => Reply {
                status: 200,
                ..Reply::default()
            },
            _ => Reply::json(200, &upstream_body(t)),
        };
        mock.on(t.method, &path, reply);
        calls.push((t, args, path));
    }

    // At trace level with bodies logged, so the key scan below has logs to scan.
    let mut env = env_for(&mock);
    env.push(("LEADMAGIC_LOG", "trace".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Every call goes straight through: confirmations have their own tests (tests/workflows.rs).
    let mut server =
        McpProcess::spawn(&env, &["--log-bodies", "--toolsets", "all", "--no-confirm"]);
    let init = server.initialize().await;
    assert_eq!(init["result"]["serverInfo"]["name"], "leadmagic-mcp");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    let list = server.request("tools/list", json!({})).await;
    let listed = list["result"]["tools"].as_array().expect("tools array");
    assert_eq!(listed.len(), TOOLS.len());
    assert!(listed.len() >= 90, "every operation is a tool");
    for tool in listed {
        let name = tool["name"].as_str().unwrap();
        assert!(name.len() <= 48 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(tool["title"].is_string(), "{name}: title");
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}: inputSchema");
        assert_eq!(
            tool["outputSchema"]["type"], "object",
            "{name}: outputSchema"
        );
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(tool["annotations"][hint].is_boolean(), "{name}: {hint}");
        }
        assert!(
            tool["description"].as_str().unwrap().contains("Cost:")
                || tool["description"].as_str().unwrap().ends_with("Free.")
        );
    }

    for (t, args, path) in &calls {
        let before = mock.hits(t.method, path);
        let response = server.call(t.name, Value::Object(args.clone())).await;
        let result = &response["result"];
        assert_eq!(result["isError"], false, "{}: {result}", t.name);
        assert_eq!(
            mock.hits(t.method, path),
            before + 1,
            "{}: exactly one upstream request",
            t.name
        );
        let mut structured = result["structuredContent"].clone();
        let map = structured.as_object_mut().unwrap();
        let credits = map.remove("_credits").expect("credits reported");
        // Status polls say how long to wait before the next one.
        assert_eq!(
            map.remove("_poll_after_s")
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            t.poll_after_s,
            "{}",
            t.name
        );
        assert_eq!(
            credits["reported"],
            t.output == Output::Object,
            "{}: {credits}",
            t.name
        );
        let structured = &structured;
        match t.output {
            Output::Wrapped => assert_eq!(structured["items"], upstream_body(t), "{}", t.name),
            Output::Object => assert_eq!(
                structured,
                &upstream_body(t),
                "{}: every field kept",
                t.name
            ),
            Output::Text => assert_eq!(structured["text"], "a,b\n1,2\n"),
            Output::Empty => assert_eq!(structured["status"], 200),
        }
        let text = result["content"][0]["text"].as_str().expect("text copy");
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            result["structuredContent"],
            "{}: text copy",
            t.name
        );

        let req = mock
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == *path)
            .unwrap();
        assert_eq!(req.header("x-api-key"), Some(CANARY_KEY));
        assert!(
            req.header("user-agent")
                .unwrap()
                .starts_with("leadmagic-mcp/")
        );
        assert_eq!(req.header("api-version"), None, "info.version is not sent");
        let wrapped = schema(t)["properties"].get("body").is_some() && !t.path.contains("{body}");
        if wrapped {
            // A free-form body travels whole as the `body` argument.
            assert_eq!(req.json(), args["body"], "{}: body", t.name);
        } else if t.method == "POST" || t.method == "PATCH" || t.method == "DELETE" {
            // Body = the arguments that are not path or query parameters.
            let body = req.json();
            for (k, v) in args {
                if !t.path.contains(&format!("{{{k}}}")) && !req.query.contains(&format!("{k}=")) {
                    assert_eq!(&body[k], v, "{}: body field {k}", t.name);
                }
            }
        }
    }
    assert_eq!(mock.total(), calls.len(), "no request beyond one per tool");
    let (lines, stderr) = server.finish().await;
    for line in lines {
        let v: Value = serde_json::from_str(&line).expect("stdout carries JSON-RPC only");
        assert_eq!(v["jsonrpc"], "2.0");
    }
    assert!(stderr.contains("request body"), "bodies were logged");
    assert!(!stderr.contains(CANARY_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors_naming_the_field_and_cost_nothing() {
    let mock = Mock::start(CANARY_KEY).await;
    let mut server = spawn(&mock, &["--toolsets", "all"]);
    server.initialize().await;
    let long = "x".repeat(20_000);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("validate_email", json!({}), "email"),
        ("validate_email", json!({"email": 5}), "email"),
        ("validate_email", json!({"email": "a@b"}), "email"),
        (
            "validate_email",
            json!({"email": "jane@example.org", "bogus": 1}),
            "bogus",
        ),
        ("validate_email", json!({"email": long}), "email"),
        (
            "validate_email",
            json!({"email": "ja\u{202E}ne@example.org"}),
            "email",
        ),
        (
            "find_work_email",
            json!({"first_name": "Jane", "domain": "https://example.org/x"}),
            "domain",
        ),
        (
            "find_work_email",
            json!({"first_name": "Jane"}),
            "give one of",
        ),
        ("validate_email", json!({"email": "   "}), "email"),
        (
            "find_work_email",
            json!({"first_name": "  ", "last_name": "Doe", "domain": "example.org"}),
            "first_name",
        ),
        (
            "find_employees",
            json!({"company_domain": " \t "}),
            "company_domain",
        ),
        ("get_day_report", json!({"date": " 2024-01-15"}), "date"),
        ("get_day_report", json!({"date": "2024-01-\n5"}), "date"),
        ("get_day_report", json!({"date": "+10000-01-01"}), "date"),
        ("get_usage_report", json!({"days": "ten"}), "days"),
        ("get_usage_report", json!({"days": 91}), "days"),
        ("get_day_report", json!({"date": "../../etc"}), "date"),
        (
            "find_jobs",
            json!({"experience_level": "wizard"}),
            "experience_level",
        ),
        ("find_jobs", json!({"per_page": 51}), "per_page"),
        (
            "get_credit_balance",
            json!({"unexpected": true}),
            "unexpected",
        ),
    ];
    for (tool, args, field) in cases {
        let response = server.call(tool, args.clone()).await;
        let result = &response["result"];
        assert_eq!(result["isError"], true, "{tool} {args}: {response}");
        assert_eq!(
            result["structuredContent"]["kind"], "invalid_arguments",
            "{tool} {args}"
        );
        let message = result["structuredContent"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{tool}: message {message:?} names {field}"
        );
    }
    assert_eq!(mock.total(), 0, "bad arguments never reach LeadMagic");

    let unknown = server.call("no_such_tool", json!({})).await;
    assert_eq!(
        unknown["error"]["code"], -32602,
        "unknown tool is a protocol error: {unknown}"
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_become_short_tool_errors() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::json(402, &json!({"success": false, "errors": [{"code": "insufficient_credits",
            "detail": "<html>stack trace at /srv/app.js token=secret</html>"}], "meta": {"request_id": "req-123"}})),
    );
    let mut server = spawn(&mock, &[]);
    server.initialize().await;
    let r = server
        .call("validate_email", json!({"email": "jane@example.org"}))
        .await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(r["result"]["isError"], true);
    assert_eq!(s["kind"], "insufficient_credits");
    assert_eq!(s["status"], 402);
    assert_eq!(s["request_id"], "req-123");
    assert!(
        !s.to_string().contains("stack trace"),
        "upstream free text is not repeated: {s}"
    );
    assert_eq!(mock.hits("POST", "/v1/people/email-validation"), 1);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let target = Mock::start(CANARY_KEY).await;
    let mock = Mock::start(CANARY_KEY).await;
    for (method, path) in [
        ("GET", "/v1/credits"),
        ("POST", "/v1/people/email-validation"),
    ] {
        let location = format!("{}{path}", target.url());
        mock.on(
            method,
            path,
            Reply {
                status: 307,
                ..Reply::default()
            }
            .header("location", &location),
        );
    }
    let mut server = spawn(&mock, &[]);
    server.initialize().await;
    let free = server.call("get_credit_balance", json!({})).await;
    let billed = server
        .call("validate_email", json!({"email": "jane@example.org"}))
        .await;
    for r in [free, billed] {
        assert_eq!(r["result"]["isError"], true);
        assert_eq!(
            r["result"]["structuredContent"]["kind"], "invalid_response",
            "{r}"
        );
    }
    assert_eq!(mock.total(), 2, "one request per call");
    assert_eq!(
        target.total(),
        0,
        "the key never follows a redirect to another host"
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_serves_every_tool_without_key_or_network() {
    let mock = Mock::start(CANARY_KEY).await;
    let url = mock.url();
    let mut server = McpProcess::spawn(
        &[("LEADMAGIC_BASE_URL", url.as_str())],
        &["--sandbox", "--toolsets", "all", "--no-confirm"],
    );
    server.initialize().await;
    for t in TOOLS.iter() {
        let args = valid_args(&schema(t), t.any_of_required);
        let r = server.call(t.name, Value::Object(args)).await;
        assert_eq!(r["result"]["isError"], false, "{}: {r}", t.name);
        assert!(
            r["result"]["structuredContent"]["_sandbox"].is_string(),
            "{}: marked as sandbox",
            t.name
        );
    }
    assert_eq!(mock.total(), 0);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_comes_from_env_or_dotenv_never_argv() {
    let dir = common::temp_dir();
    let dir = dir.path();
    // No key at all: exit non-zero, naming the variable.
    let out = std::process::Command::new(common::binary())
        .env_clear()
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEADMAGIC_API_KEY"));
    assert!(out.stdout.is_empty(), "nothing but JSON-RPC on stdout");

    // No --api-key flag exists.
    let out = std::process::Command::new(common::binary())
        .args(["--api-key", "x", "tools"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // Only in .env: the call goes through with that key.
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "GET",
        "/v1/credits",
        Reply::json(200, &json!({"credits": 12.5})),
    );
    std::fs::write(
        dir.join(".env"),
        format!(
            "LEADMAGIC_API_KEY={CANARY_KEY}\nLEADMAGIC_BASE_URL={}\n",
            mock.url()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(common::binary())
        .args(["call", "get_credit_balance"])
        .env_clear()
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["credits"], 12.5);

    // Both: the environment wins over .env.
    let out = tokio::process::Command::new(common::binary())
        .args(["call", "get_credit_balance"])
        .env_clear()
        .env("LEADMAGIC_API_KEY", "lm_other_key_from_env")
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["kind"], "auth",
        "env key was used (the mock rejects it): {v}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(CANARY_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_for_non_loopback_hosts() {
    let out = tokio::process::Command::new(common::binary())
        .args(["call", "get_credit_balance"])
        .env_clear()
        .env("LEADMAGIC_API_KEY", CANARY_KEY)
        .env("LEADMAGIC_BASE_URL", "http://example.com")
        .current_dir(common::temp_dir().path())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEADMAGIC_BASE_URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stdin_is_a_clean_silent_exit() {
    let dir = common::temp_dir();
    for input in ["", "\n"] {
        let mut child = tokio::process::Command::new(common::binary())
            .env_clear()
            .env("LEADMAGIC_API_KEY", CANARY_KEY)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, input.as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "stdout stays silent");
    }
}

/// Notifications and responses that arrive before `initialize` (a client that sends
/// `notifications/initialized` first, a cancellation, a stray response) are ignored, not fatal;
/// a request before `initialize` gets an error answer; then the session starts normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_messages_before_initialize_do_not_end_the_session() {
    let mut server = McpProcess::spawn(&[], &["--sandbox"]);
    for stray in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "method": "notifications/something_new", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 77, "result": {}}),
        json!({"jsonrpc": "2.0", "id": 78, "error": {"code": -1, "message": "x"}}),
    ] {
        server.send(&stray).await;
    }
    let early = server.request("tools/list", json!({})).await;
    assert!(
        early["error"]["code"].is_i64(),
        "a request before initialize is answered: {early}"
    );
    let init = server.initialize().await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "leadmagic-mcp",
        "{init}"
    );
    let list = server.request("tools/list", json!({})).await;
    assert!(list["result"]["tools"].is_array(), "{list}");
    // After initialize, the same notifications are still harmless.
    server
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}))
        .await;
    let r = server
        .call("validate_email", json!({"email": "jane@example.org"}))
        .await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    let (lines, _) = server.finish().await;
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_ne!(v["id"], 77, "a stray response gets no answer");
    }
}

/// Malformed messages get the answer JSON-RPC defines: parse error or invalid request with
/// `"id": null` when no id can be read, invalid params (not "method not found") with the id of a
/// `tools/call` whose params are the wrong shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_json_rpc_answers() {
    let mut server = McpProcess::spawn(&[], &["--sandbox"]);
    server.initialize().await;
    for (line, id, code) in [
        ("not json at all", Value::Null, -32700),
        ("{}", Value::Null, -32600),
        (
            r#"[{"jsonrpc":"2.0","id":5,"method":"tools/list"}]"#,
            Value::Null,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"validate_email","arguments":[]}}"#,
            json!(6),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":5}}"#,
            json!(7),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{}}}"#,
            json!(8),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"no/such/method"}"#,
            json!(9),
            -32601,
        ),
    ] {
        server.send_raw(line).await;
        let answer = server.recv().await;
        assert_eq!(answer["id"], id, "{line}: {answer}");
        assert!(
            answer.as_object().unwrap().contains_key("id"),
            "{line}: id present"
        );
        assert_eq!(answer["error"]["code"], code, "{line}: {answer}");
    }
    let r = server
        .call("validate_email", json!({"email": "jane@example.org"}))
        .await;
    assert_eq!(r["result"]["isError"], false, "still serving: {r}");
    server.finish().await;
}

/// The sandbox spends nothing and says so consistently: `used` is 0, what the call would cost
/// is reported apart, and nothing counts against `--max-credits`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_calls_cost_nothing_and_count_nothing() {
    let mut server = McpProcess::spawn(&[], &["--sandbox", "--max-credits", "0.5"]);
    server.initialize().await;
    for _ in 0..3 {
        let r = server
            .call("find_competitors", json!({"company_domain": "example.org"}))
            .await;
        let s = &r["result"]["structuredContent"];
        assert_eq!(
            r["result"]["isError"], false,
            "a 5-credit call under a 0.5 budget: {r}"
        );
        assert_eq!(s["_credits"], json!({"used": 0, "would_cost": 5.0}), "{s}");
        assert!(
            s["_sandbox"]
                .as_str()
                .unwrap()
                .contains("no credits were used")
        );
    }
    server.finish().await;
}
