//! Property test of the stdio server: whatever JSON-RPC line (or non-JSON line) a client sends,
//! the server answers it or ignores it, writes only JSON-RPC to stdout, and keeps serving (a
//! ping after each line is answered). One server for all cases; CI runs 256, `PROPTEST_CASES=N`
//! makes a long run (SECURITY.md has the figures).

mod common;

use common::McpProcess;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A line: a JSON-RPC-shaped message with random parts, any JSON value, or any text.
fn line() -> impl Strategy<Value = String> {
    let method = prop_oneof![
        Just("initialize"),
        Just("ping"),
        Just("tools/list"),
        Just("tools/call"),
        Just("prompts/list"),
        Just("prompts/get"),
        Just("resources/list"),
        Just("resources/read"),
        Just("resources/templates/list"),
        Just("server/discover"),
        Just("notifications/cancelled"),
        Just("notifications/initialized"),
        Just("notifications/progress"),
        Just("completion/complete"),
        Just("logging/setLevel"),
        Just("nonsense/method"),
    ];
    let id = prop_oneof![
        Just(None),
        any::<i64>().prop_map(|n| Some(json!(n))),
        "\\PC{0,8}".prop_map(|s| Some(json!(s))),
        Just(Some(Value::Null)),
        Just(Some(json!([1]))),
    ];
    let message = (method, id, json_value(), any::<bool>()).prop_map(|(m, id, params, version)| {
        let mut v = json!({"method": m, "params": params});
        if version {
            v["jsonrpc"] = json!("2.0");
        }
        if let Some(id) = id {
            v["id"] = id;
        }
        v.to_string()
    });
    prop_oneof![
        6 => message,
        2 => json_value().prop_map(|v| v.to_string()),
        1 => "[^\n]{0,200}",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_line_is_answered_or_ignored_and_the_server_keeps_serving() {
    let mut server = McpProcess::spawn(&[], &["--sandbox", "--toolsets", "all", "--no-confirm"]);
    server.initialize().await;
    let cases: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    // Lines drawn from the strategy (no shrinking: a failure names its line).
    let mut runner = TestRunner::new(Config::default());
    let lines: Vec<String> = (0..cases)
        .map(|_| line().new_tree(&mut runner).unwrap().current())
        .collect();
    let started = std::time::Instant::now();
    for (n, l) in lines.iter().enumerate() {
        server.send_raw(l).await;
        let probe = format!("probe-{n}");
        server
            .send(&json!({"jsonrpc": "2.0", "id": probe, "method": "ping"}))
            .await;
        loop {
            // Every line on stdout is JSON (recv panics otherwise), and the ping comes back.
            let msg = server.recv().await;
            if msg["id"] == json!(probe) {
                assert!(msg.get("result").is_some(), "after {l:?}: {msg}");
                break;
            }
        }
    }
    eprintln!(
        "stdio: {} random lines, each followed by an answered ping, in {:?}",
        lines.len(),
        started.elapsed()
    );
    let (rest, stderr) = server.finish().await;
    for line in rest {
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}
