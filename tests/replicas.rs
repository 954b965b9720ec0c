//! A team deployment, tested: three `serve --http` replicas behind nginx (Debian's package,
//! started here on loopback), driven by the official Python MCP SDK client. Every call succeeds
//! whichever replica answers; a confirmation token one replica issued is accepted by another
//! (the shared secret); SIGTERM to one replica under load loses no request and charges nothing
//! twice (nginx retries a request only when no replica received it; the mock counts).
//! `.ci/run` installs nginx and the SDK; without them the test skips, saying so.

mod common;

use common::{CANARY_KEY, HttpServer, Mock, Reply, temp_dir};
use serde_json::{Value, json};
use std::time::Duration;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/replicas_check.py"
);

fn nginx() -> Option<String> {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    let found = candidates.iter().find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        common::skip("nginx is not installed (.ci/run installs Debian's nginx)");
    }
    found.map(|p| p.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn python(py: &str, args: &[&str]) -> Value {
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
    assert!(!stdout.contains(CANARY_KEY) && !stderr.contains(CANARY_KEY));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// Calls of `tool` a replica answered, by its log (a `tool call` line per call run, a
/// `confirmation required` line per call that waits for one).
fn served(server: &HttpServer, tool: &str) -> usize {
    let log = server.stderr.lock().unwrap();
    log.lines()
        .filter(|l| l.contains("tool call") || l.contains("confirmation required"))
        .filter(|l| l.contains(&format!("tool={tool} ")) || l.contains(&format!("tool=\"{tool}\"")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_nginx_share_the_work_and_survive_a_sigterm() {
    let Some(nginx) = nginx() else { return };
    let Some(py) = std::env::var("LEADMAGIC_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        common::skip("LEADMAGIC_TEST_PYTHON is not set (.ci/run installs the official mcp SDK)");
        return;
    };
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/people/email-validation",
        Reply::valid_email().delayed(Duration::from_millis(40)),
    );
    mock.on(
        "POST",
        "/v3/people/search",
        Reply::json(200, &json!({"people": [], "credits_consumed": 0})),
    );
    let url = mock.url();
    let secret = "5e1f3a7c9b2d4f6e8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7d";
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_CONFIRM_SECRET", secret),
        ("LEADMAGIC_RATE_LIMIT", "off"),
        ("LEADMAGIC_LOG", "info"),
    ];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(HttpServer::start(&env, &[]).await);
    }
    // nginx on loopback, in a directory of its own; it never retries a POST a replica received
    // (its default for non-idempotent requests), only one no replica took. One process (no
    // master): killing it on drop, a failed assertion included, leaves no worker behind holding
    // the port and the test's output pipe.
    let dir = temp_dir();
    let port = free_port();
    let upstreams: String = replicas
        .iter()
        .map(|r| {
            format!(
                "server {} max_fails=1 fail_timeout=30s;\n",
                r.base.trim_start_matches("http://")
            )
        })
        .collect();
    let d = dir.path().display();
    let conf = format!(
        "master_process off; daemon off; pid {d}/nginx.pid; error_log {d}/error.log info;\n\
         events {{ worker_connections 512; }}\n\
         http {{ access_log {d}/access.log; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           upstream mcp {{ {upstreams} }}\n\
           server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://mcp;\n\
             proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host 127.0.0.1;\n\
             proxy_next_upstream error timeout; proxy_read_timeout 60s; }} }} }}\n"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut proxy = tokio::process::Command::new(&nginx)
        .args(["-e", &format!("{d}/error.log"), "-c"])
        .arg(&conf_path)
        .kill_on_drop(true)
        .spawn()
        .expect("start nginx");
    let mcp = format!("http://127.0.0.1:{port}/mcp");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every call succeeds whichever replica answers, and each replica answers some.
    let r = python(&py, &[&mcp, "load", "10", "3"]).await;
    assert_eq!(r["ok"], 30, "{r}");
    assert_eq!(r["errors"], json!([]), "{r}");
    assert_eq!(mock.hits("POST", "/v1/people/email-validation"), 30);
    let shares: Vec<usize> = replicas
        .iter()
        .map(|s| served(s, "validate_work_email"))
        .collect();
    assert!(
        shares.iter().all(|n| *n > 0),
        "every replica served calls: {shares:?}"
    );

    // A token issued by one replica runs the call on another.
    let r = python(&py, &[&mcp, "confirm"]).await;
    assert_eq!(r["first"], "confirmation_required", "{r}");
    assert_eq!(r["second_error"], false, "{r}");
    assert_eq!(mock.hits("POST", "/v3/people/search"), 1);
    let asked: Vec<usize> = replicas
        .iter()
        .map(|s| served(s, "search_people"))
        .collect();
    assert_eq!(asked.iter().sum::<usize>(), 2);
    assert!(
        asked.iter().all(|n| *n <= 1),
        "the two calls went to two replicas: {asked:?}"
    );

    // SIGTERM to one replica under load: no call lost, none charged twice.
    let before = mock.hits("POST", "/v1/people/email-validation");
    let load = {
        let (py, mcp) = (py.clone(), mcp.clone());
        tokio::spawn(async move { python(&py, &[&mcp, "load", "30", "4"]).await })
    };
    // SIGTERM once the replica is answering this load.
    for _ in 0..200 {
        if served(&replicas[1], "validate_work_email") > shares[1] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let pid = replicas[1].child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let r = load.await.unwrap();
    // nginx's account of any call it could not deliver (what it saw from the replica).
    let upstream_errors: Vec<String> = std::fs::read_to_string(dir.path().join("error.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("[error]"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        r["errors"],
        json!([]),
        "no call lost: {r}\nnginx errors:\n{}",
        upstream_errors.join("\n")
    );
    assert_eq!(r["ok"], 120, "{r}");
    let sent = mock.hits("POST", "/v1/people/email-validation") - before;
    assert_eq!(sent, 120, "each call reached LeadMagic exactly once");
    // The stopped replica took part in this load, then left it early.
    let during = served(&replicas[1], "validate_work_email") - shares[1];
    assert!(
        during > 0 && during < 40,
        "the replica stopped mid-load: {during} of 120 calls"
    );
    let status = tokio::time::timeout(Duration::from_secs(35), replicas[1].child.wait())
        .await
        .expect("the replica exits after draining")
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    eprintln!(
        "replicas: 30 + 2 + 120 calls through nginx, 0 errors; requests on the mock: {}; shares {shares:?}; \
         the stopped replica answered {during} of the 120 before SIGTERM took it out",
        mock.total()
    );
    let _ = proxy.kill().await;
}
