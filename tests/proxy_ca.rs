//! Corporate networks: the server reaches LeadMagic through an HTTPS proxy (`HTTPS_PROXY`,
//! honoured by reqwest; `NO_PROXY` exempts hosts), and trusts a TLS-inspecting proxy's root from
//! `LEADMAGIC_CA_FILE` on top of the compiled-in roots. Loopback only: a CONNECT proxy and a TLS
//! mock whose certificate is signed, at test time, by a root that only the CA file holds.

mod common;

use common::{CANARY_KEY, temp_dir};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP CONNECT proxy: tunnels to whatever it is asked for; records the targets.
async fn connect_proxy() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let targets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = targets.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut client = BufReader::new(socket);
                let mut first = String::new();
                client.read_line(&mut first).await.unwrap();
                loop {
                    let mut line = String::new();
                    if client.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(first.trim().to_string());
                let target = target.replacen("localhost", "127.0.0.1", 1);
                let Ok(mut upstream) = TcpStream::connect(&target).await else {
                    return;
                };
                let mut client = client.into_inner();
                client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, targets)
}

fn call(env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = temp_dir();
    let args = [
        "call",
        "validate_work_email",
        "--args",
        r#"{"email":"jane@example.org"}"#,
    ];
    let env: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .chain([("LEADMAGIC_API_KEY", CANARY_KEY)])
        .collect();
    common::run_binary(dir.path(), &args, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_through_the_proxy_and_trust_the_root_of_the_ca_file_only() {
    let root = common::tls::Root::new();
    let ca_pem = root.pem();
    let body = r#"{"email":"jane@example.org","email_status":"valid","credits_consumed":0.25}"#;
    let (mock_port, requests) = common::tls::serve(
        root.leaf("localhost", false),
        common::tls::Behaviour::Answer,
        body,
    )
    .await;
    let (proxy_port, targets) = connect_proxy().await;
    let dir = temp_dir();
    let ca_file = dir.path().join("corporate-root.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let base = format!("https://localhost:{mock_port}");
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let ca = ca_file.to_str().unwrap();

    // Through the proxy, trusting the extra root: the call reaches the mock once.
    let run = |extra: Vec<(&'static str, String)>| {
        let mut env: Vec<(&str, String)> = vec![("LEADMAGIC_BASE_URL", base.clone())];
        env.extend(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        call(&env)
    };
    let (ok, out, err) = tokio::task::block_in_place(|| {
        run(vec![
            ("HTTPS_PROXY", proxy.clone()),
            ("LEADMAGIC_CA_FILE", ca.to_string()),
        ])
    });
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("\"email_status\":\"valid\""), "{out}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        targets.lock().unwrap().as_slice(),
        [format!("CONNECT localhost:{mock_port} HTTP/1.1")],
        "one tunnel, to LeadMagic's host (the key travels inside it)"
    );

    // NO_PROXY exempts the host: straight to the mock, no new tunnel.
    let (ok, out, _) = tokio::task::block_in_place(|| {
        run(vec![
            ("HTTPS_PROXY", proxy.clone()),
            ("NO_PROXY", "localhost".into()),
            ("LEADMAGIC_CA_FILE", ca.to_string()),
        ])
    });
    assert!(ok, "{out}");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(targets.lock().unwrap().len(), 1);

    // Without the CA file the certificate is not trusted: a TLS error, nothing sent.
    let (ok, out, err) = tokio::task::block_in_place(|| run(vec![("HTTPS_PROXY", proxy.clone())]));
    assert!(!ok);
    let result: serde_json::Value = serde_json::from_str(out.trim()).expect("a tool error");
    let message = result["message"].as_str().unwrap_or_default();
    assert!(message.contains("nothing was sent"), "{result}\n{err}");
    assert_eq!(requests.load(Ordering::SeqCst), 2, "no request got through");
    for text in [&out, &err] {
        assert!(!text.contains(CANARY_KEY));
    }

    // A CA file that is not one stops the server at start, naming the setting.
    std::fs::write(&ca_file, "not a certificate").unwrap();
    let (ok, _, err) =
        tokio::task::block_in_place(|| run(vec![("LEADMAGIC_CA_FILE", ca.to_string())]));
    assert!(!ok && err.contains("LEADMAGIC_CA_FILE"), "{err}");
}
