//! An API that echoes the key back must not get it past us. The mock puts the key the request
//! carried (whole, its first 10 characters, its base64 form) into `X-Request-Id`,
//! `meta.request_id`, `errors[].code`, `errors[].param`, free text and a 200 body, at 200, 400,
//! 401, 402, 429, 500 and 503. Every channel (stdout or HTTP bodies, and stderr) is scanned for
//! any 8-character slice of the key and any 12-character slice of its base64 form, at `info` and
//! at `trace` with `--log-bodies`, over stdio and HTTP, with the server's key and with two
//! callers' own keys. The body logs are also scanned for the people in the bodies.

mod common;

use common::{
    CANARY_KEY, ECHO_KEY, ECHO_KEY_BASE64, ECHO_KEY_PREFIX, HttpServer, McpProcess, Mock, Reply,
    http_client, key_traces, post_mcp,
};
use serde_json::{Value, json};

const PATH: &str = "/v1/people/email-validation";
const STATUSES: [u16; 7] = [200, 400, 401, 402, 429, 500, 503];
/// People in the bodies: their names and a scheme-less profile URL must stay out of body logs.
const PERSON: [&str; 3] = ["Canaryjane", "Canarydoe", "canary-person-7731"];

fn echoing(status: u16) -> Reply {
    let body = if status == 200 {
        json!({
            "email": "someone@example.org",
            "email_status": "valid",
            "api_key": ECHO_KEY,
            "note": format!("request by key {ECHO_KEY_PREFIX}... accepted"),
            "auth": format!("Basic {ECHO_KEY_BASE64}"),
            "request_id": ECHO_KEY,
            "first_name": "Canaryjane",
            "last_name": "Canarydoe",
            "profile_url": "linkedin.com/in/canary-person-7731",
            "credits_consumed": 0.25
        })
    } else {
        json!({
            "success": false,
            "errors": [{"status": status, "code": ECHO_KEY, "param": [ECHO_KEY, ECHO_KEY_PREFIX],
                        "detail": format!("bad key {ECHO_KEY} ({ECHO_KEY_BASE64})")}],
            "meta": {"request_id": ECHO_KEY}
        })
    };
    let mut reply = Reply::json(status, &body).header("x-request-id", ECHO_KEY);
    if status == 429 {
        reply = reply.header("retry-after", "0");
    }
    reply
}

fn args() -> Value {
    json!({"email": "someone@example.org", "first_name": "Canaryjane", "last_name": "Canarydoe"})
}

fn assert_clean(channel: &str, text: &str, keys: &[&str], bodies_logged: bool) {
    for key in keys {
        let traces = key_traces(text, key);
        assert!(
            traces.is_empty(),
            "{channel}: traces of the key {traces:?} in:\n{text}"
        );
    }
    if bodies_logged {
        for who in PERSON {
            assert!(
                !text.contains(who),
                "{channel}: {who} in the body log:\n{text}"
            );
        }
    }
}

/// The server's environment: its key, the mock, a log level, and body logs or not.
fn server_env<'a>(url: &'a str, level: &'a str, bodies: bool) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url),
        ("LEADMAGIC_LOG", level),
    ];
    if bodies {
        env.push(("LEADMAGIC_LOG_BODIES", "1"));
    }
    env
}

/// Log settings: info (the default metadata line), then trace with bodies.
const LEVELS: [(&str, bool); 2] = [("info", false), ("trace", true)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_reaches_no_channel_over_stdio() {
    for (level, bodies) in LEVELS {
        let mock = Mock::start(CANARY_KEY).await;
        let url = mock.url();
        let mut server = McpProcess::spawn(&server_env(&url, level, bodies), &[]);
        server.initialize().await;
        for status in STATUSES {
            mock.on("POST", PATH, echoing(status));
            let r = server.call("validate_email", args()).await;
            let expect_error = status != 200;
            assert_eq!(r["result"]["isError"], expect_error, "{status}: {r}");
            if status == 200 {
                assert_eq!(r["result"]["structuredContent"]["email_status"], "valid");
            }
        }
        let (lines, stderr) = server.finish().await;
        assert!(stderr.contains("tool call"), "the call log was written");
        if bodies {
            assert!(stderr.contains("response body"), "bodies were logged");
        }
        assert_clean(
            &format!("stdout ({level})"),
            &lines.join("\n"),
            &[CANARY_KEY],
            false,
        );
        assert_clean(&format!("stderr ({level})"), &stderr, &[CANARY_KEY], bodies);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_reaches_no_channel_over_http_with_the_server_key_or_callers_keys() {
    let callers = [
        "lm_caller_alpha_7c1d9e2f4a6b8c0d1e3f5a7b",
        "lm_caller_bravo_3e5f7a9b1c2d4e6f8a0b2c4d",
    ];
    for byok in [false, true] {
        for (level, bodies) in LEVELS {
            // In bring-your-own-key mode the mock takes any key and echoes the one it got.
            let mock = Mock::start(if byok { "" } else { CANARY_KEY }).await;
            let url = mock.url();
            let env = server_env(&url, level, bodies);
            let flags: &[&str] = if byok { &["--per-request-key"] } else { &[] };
            let server = HttpServer::start(&env, flags).await;
            let client = http_client();
            let mut bodies_seen = String::new();
            for (i, status) in STATUSES.into_iter().enumerate() {
                mock.on("POST", PATH, echoing(status));
                let key = callers[i % 2];
                let headers: Vec<(&str, &str)> = if byok {
                    vec![("x-leadmagic-key", key)]
                } else {
                    Vec::new()
                };
                let call = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "validate_email", "arguments": args()}});
                let (code, body) = post_mcp(&client, &server.mcp_url(), &call, &headers).await;
                assert_eq!(code, 200, "{status}: {body}");
                assert_eq!(body["result"]["isError"], status != 200, "{status}: {body}");
                bodies_seen.push_str(&body.to_string());
                bodies_seen.push('\n');
            }
            if byok {
                let keys: Vec<&str> = mock
                    .requests()
                    .iter()
                    .filter_map(|r| r.header("x-api-key").map(str::to_owned))
                    .map(|k| {
                        if k == callers[0] {
                            callers[0]
                        } else {
                            callers[1]
                        }
                    })
                    .collect();
                assert!(keys.contains(&callers[0]) && keys.contains(&callers[1]));
            }
            let stderr = server.stderr.lock().unwrap().clone();
            let keys = [CANARY_KEY, callers[0], callers[1]];
            let mode = if byok { "callers' keys" } else { "server key" };
            assert_clean(
                &format!("HTTP bodies ({mode}, {level})"),
                &bodies_seen,
                &keys,
                false,
            );
            assert_clean(&format!("stderr ({mode}, {level})"), &stderr, &keys, bodies);
        }
    }
}

/// The fields a model reads are still there, with the key gone: a request id that is the key is
/// dropped rather than passed on, and a 200 body keeps every other field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_keys_are_removed_not_the_answer() {
    let mock = Mock::start(CANARY_KEY).await;
    let url = mock.url();
    let mut server = McpProcess::spawn(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", url.as_str()),
        ],
        &[],
    );
    server.initialize().await;
    mock.on("POST", PATH, echoing(402));
    let r = server.call("validate_email", args()).await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["kind"], "insufficient_credits", "{s}");
    assert!(
        s.get("request_id").is_none(),
        "a request id holding the key is dropped: {s}"
    );
    assert!(
        !s["hint"].as_str().unwrap().contains("code:"),
        "so is such a code: {s}"
    );
    mock.on("POST", PATH, echoing(200));
    let r = server.call("validate_email", args()).await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["email_status"], "valid");
    assert_eq!(s["api_key"], "[redacted]");
    assert_eq!(s["note"], "request by key [redacted]... accepted");
    assert!(s["auth"].as_str().unwrap().contains("[redacted]"), "{s}");
    assert_eq!(
        s["first_name"], "Canaryjane",
        "results are not masked, only logs"
    );
    server.finish().await;
}
