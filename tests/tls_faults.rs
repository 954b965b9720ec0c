//! Faults over real TLS (loopback, a test-time root trusted through `LEADMAGIC_CA_FILE`): a
//! handshake that fails, a certificate for another host, an expired certificate, and a reset in
//! the middle of a body. Each is classified as in `tests/faults.rs`, with the exact number of
//! requests the server read: "nothing was sent" only where no request reached it, and a billed
//! call cut mid-answer is never sent again.

mod common;

use common::tls::{Behaviour, Root};
use common::{CANARY_KEY, temp_dir};
use serde_json::Value;
use std::sync::atomic::Ordering;

const BODY: &str = r#"{"email":"jane@example.org","email_status":"valid","credits_consumed":0.25}"#;

/// One billed call (`validate_work_email`) and one free one (`check_credit_balance`) through
/// the binary; returns their results.
fn calls(port: u16, ca: &std::path::Path) -> Vec<Value> {
    let dir = temp_dir();
    let base = format!("https://localhost:{port}");
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", base.as_str()),
        ("LEADMAGIC_CA_FILE", ca.to_str().unwrap()),
        ("LEADMAGIC_TIMEOUT_SECS", "5"),
    ];
    [
        vec![
            "call",
            "validate_work_email",
            "--args",
            r#"{"email":"jane@example.org"}"#,
        ],
        vec!["call", "check_credit_balance"],
    ]
    .iter()
    .map(|args| {
        let (_, out, err) = common::run_binary(dir.path(), args, &env);
        assert!(
            !out.contains(CANARY_KEY) && !err.contains(CANARY_KEY),
            "{out}{err}"
        );
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
    })
    .collect()
}

/// Fault, certificate name, expired, behaviour, what the message says, requests read.
type Row = (
    &'static str,
    &'static str,
    bool,
    Behaviour,
    [&'static str; 2],
    usize,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_faults_are_classified_with_exact_request_counts() {
    let root = Root::new();
    let dir = temp_dir();
    let ca = dir.path().join("root.pem");
    std::fs::write(&ca, root.pem()).unwrap();
    let table: [Row; 4] = [
        (
            "handshake fails",
            "localhost",
            false,
            Behaviour::NotTls,
            ["secure connection", "nothing was sent"],
            0,
        ),
        (
            "wrong host name",
            "other.example",
            false,
            Behaviour::Answer,
            ["secure connection", "nothing was sent"],
            0,
        ),
        (
            "expired certificate",
            "localhost",
            true,
            Behaviour::Answer,
            ["secure connection", "nothing was sent"],
            0,
        ),
        // Both calls reach the server; the billed one may have been charged and is not repeated,
        // the free one is (free calls are retried), so the server reads 1 + 3 requests.
        (
            "reset mid-body",
            "localhost",
            false,
            Behaviour::ResetMidBody,
            ["failed mid-call", "may have been charged"],
            4,
        ),
    ];
    let mut rows = Vec::new();
    for (fault, name, expired, behaviour, expect, requests) in table {
        let (port, read) = common::tls::serve(root.leaf(name, expired), behaviour, BODY).await;
        let results = tokio::task::block_in_place(|| calls(port, &ca));
        let billed = &results[0];
        assert!(billed["kind"].is_string(), "{fault}: {billed}");
        let message = billed["message"].as_str().unwrap();
        for part in expect {
            assert!(message.contains(part), "{fault}: {message}");
        }
        if behaviour == Behaviour::ResetMidBody {
            assert_eq!(billed["kind"], "outcome_unknown", "{fault}: {billed}");
        } else {
            assert_eq!(
                results[1]["kind"], "upstream_unavailable",
                "{fault}: {}",
                results[1]
            );
            assert!(
                results[1]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing was sent")
            );
        }
        assert_eq!(
            read.load(Ordering::SeqCst),
            requests,
            "{fault}: requests read"
        );
        rows.push(format!(
            "{fault}: {} / {} requests",
            billed["kind"],
            read.load(Ordering::SeqCst)
        ));
    }
    eprintln!("TLS faults: {rows:?}");
}
