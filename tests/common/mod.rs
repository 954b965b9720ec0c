//! Test support: a loopback mock of the LeadMagic API that counts requests per route, and a
//! JSON-RPC driver for the real `leadmagic-mcp` binary over stdio.
#![allow(dead_code)]

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The generator's sample maker (the sandbox's answers come from it too). Tests that include
/// the whole generator load the file a second time, hence the allow.
#[allow(clippy::duplicate_mod)]
#[path = "../../build/sample.rs"]
pub mod sample;

#[allow(dead_code)] // only the TLS tests use it
pub mod tls;

pub const CANARY_KEY: &str = "lm_CANARY_7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e";

/// A test that cannot run here says so where `cargo test` shows it: straight to the process's
/// stderr, which the test harness does not capture (it captures `eprintln!` only). In CI
/// (`LEADMAGIC_TEST_NO_SKIP=1`) it fails instead.
pub fn skip(why: &str) {
    assert!(
        std::env::var_os("LEADMAGIC_TEST_NO_SKIP").is_none(),
        "this test would be skipped in CI: {why}"
    );
    let name = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED {name}: {why}\n").as_bytes(),
    );
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole request had arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection after reading the request, without answering.
    pub drop: bool,
}

impl Reply {
    /// LeadMagic's answer to an email validation: valid, a quarter of a credit.
    pub fn valid_email() -> Self {
        Reply::json(
            200,
            &serde_json::json!({"email_status": "valid", "credits_consumed": 0.25}),
        )
    }

    pub fn json(status: u16, body: &Value) -> Self {
        Reply::raw(status, "application/json", body.to_string().into_bytes())
    }

    pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            ..Reply::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    pub fn dropped() -> Self {
        Reply {
            drop: true,
            ..Reply::default()
        }
    }
}

#[derive(Default)]
struct State {
    /// Replies per route, used in turn; the last one repeats.
    routes: HashMap<(String, String), Vec<Reply>>,
    requests: Vec<Recorded>,
}

/// A loopback HTTP/1.1 server standing in for api.leadmagic.io. It answers 401 unless the
/// request carries the expected `X-API-Key` (any key when the expected one is empty), and 404
/// for routes it was not told about.
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Mock {
    pub async fn start(expected_key: &str) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let key = expected_key.to_string();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let _ = socket.set_nodelay(true);
                let st = st.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(socket, st, key).await;
                });
            }
        });
        Mock { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn on(&self, method: &str, path: &str, reply: Reply) {
        self.on_seq(method, path, vec![reply]);
    }

    /// Answer with these replies in turn (the last one repeats).
    pub fn on_seq(&self, method: &str, path: &str, replies: Vec<Reply>) {
        let key = (method.to_string(), path.to_string());
        self.state.lock().unwrap().routes.insert(key, replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn hits(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    pub fn total(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }
}

async fn serve_connection(
    socket: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    key: String,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let rec = Recorded {
            at: std::time::Instant::now(),
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body,
        };
        let reply = {
            let mut st = state.lock().unwrap();
            st.requests.push(rec.clone());
            if !key.is_empty() && rec.header("x-api-key") != Some(key.as_str()) {
                Reply::json(
                    401,
                    &json!({"success": false, "errors": [{"status": 401, "code": "invalid_api_key"}]}),
                )
            } else {
                match st.routes.get_mut(&(method, path)) {
                    Some(replies) if replies.len() > 1 => replies.remove(0),
                    Some(replies) if !replies.is_empty() => replies[0].clone(),
                    _ => Reply::json(
                        404,
                        &json!({"success": false, "errors": [{"status": 404, "code": "resource_not_found"}]}),
                    ),
                }
            }
        };
        let reply = echo_key(reply, rec.header("x-api-key").unwrap_or(""));
        if reply.drop {
            return Ok(());
        }
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        // One write per response: split writes meet Nagle + delayed ACK (40 ms stalls).
        let mut out = format!(
            "HTTP/1.1 {} Mock\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        )
        .into_bytes();
        for (k, v) in &reply.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&reply.body);
        write.write_all(&out).await?;
        write.flush().await?;
    }
}

/// Placeholders a reply may hold, replaced by the key the request carried: the whole key, its
/// first 10 characters, and its base64 form. A careless API echoing the key looks like this.
pub const ECHO_KEY: &str = "%%KEY%%";
pub const ECHO_KEY_PREFIX: &str = "%%KEY10%%";
pub const ECHO_KEY_BASE64: &str = "%%KEY64%%";

fn echo_key(mut reply: Reply, key: &str) -> Reply {
    let fill = |text: &str| {
        text.replace(ECHO_KEY, key)
            .replace(ECHO_KEY_PREFIX, &key[..key.len().min(10)])
            .replace(ECHO_KEY_BASE64, &base64(key.as_bytes()))
    };
    if let Ok(body) = std::str::from_utf8(&reply.body)
        && body.contains("%%KEY")
    {
        reply.body = fill(body).into_bytes();
    }
    for (_, v) in reply.headers.iter_mut() {
        *v = fill(v);
    }
    reply
}

/// Standard base64 with padding (test fixtures only).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in data.chunks(3) {
        let mut g = [0u8; 3];
        g[..group.len()].copy_from_slice(group);
        let n = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every trace of `key` a leak could leave in `text`: any 8-character slice of it, any
/// 12-character slice of its base64 form. Empty when there is none.
pub fn key_traces(text: &str, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    for w in key.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap();
        if text.contains(w) {
            found.push(w.to_string());
        }
    }
    let b64 = base64(key.as_bytes());
    let b64 = b64.trim_end_matches('=');
    for w in b64.as_bytes()[..b64.len() - 2].windows(12) {
        let w = std::str::from_utf8(w).unwrap();
        if text.contains(w) {
            found.push(format!("base64 {w}"));
        }
    }
    found
}

/// The real binary, spoken to over stdio.
pub struct McpProcess {
    pub child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
    /// Every stdout line seen, for the "stdout is JSON-RPC only" check.
    pub stdout_lines: Vec<String>,
    /// The working directory (and HOME), removed when the process is finished or dropped.
    dir: tempfile::TempDir,
}

/// The binary under test: this build's, or the one named by `LEADMAGIC_TEST_BINARY` (to show
/// that a new test fails on an older build).
pub fn binary() -> &'static str {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        std::env::var("LEADMAGIC_TEST_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_leadmagic-mcp").to_string())
    })
}

impl McpProcess {
    /// Start the server with exactly these environment variables (plus PATH), in a temp dir.
    pub fn spawn(env: &[(&str, &str)], args: &[&str]) -> McpProcess {
        Self::spawn_program(binary(), env, args)
    }

    /// Same, for another program speaking MCP on stdio (the benchmark's floor process).
    pub fn spawn_program(program: &str, env: &[(&str, &str)], args: &[&str]) -> McpProcess {
        Self::spawn_in(temp_dir(), program, env, args)
    }

    /// Same, in a directory prepared by the test (a `.env` file, say).
    pub fn spawn_in(
        dir: tempfile::TempDir,
        program: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> McpProcess {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn leadmagic-mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        McpProcess {
            child,
            stdin,
            stdout,
            next_id: 1,
            stdout_lines: Vec::new(),
            dir,
        }
    }

    /// The process's working directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string()).await;
    }

    pub async fn send_raw(&mut self, line: &str) {
        // One write per message, newline included, as the official SDK clients do (two writes
        // would wake the server twice per message).
        let mut framed = String::with_capacity(line.len() + 1);
        framed.push_str(line);
        framed.push('\n');
        self.stdin.write_all(framed.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Next stdout line, parsed; panics after 20 s.
    pub async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
            .await
            .expect("timed out waiting for the server")
            .unwrap()
            .expect("server closed stdout");
        self.stdout_lines.push(line.clone());
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    /// Send a request and wait for the response with its id.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let msg = self.recv().await;
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
        }
    }

    pub async fn initialize(&mut self) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}),
            )
            .await;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r
    }

    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }

    /// Close stdin, wait for exit, return (remaining stdout, stderr).
    pub async fn finish(mut self) -> (Vec<String>, String) {
        drop(self.stdin);
        let mut rest = self.stdout_lines;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line()).await
        {
            rest.push(line);
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), e.read_to_string(&mut err)).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        (rest, err)
    }
}

/// A fresh directory for one test, removed when dropped (also when the test fails).
/// Run the binary to its end in `dir` with only `env`: (success, stdout, stderr).
#[allow(dead_code)] // not every test binary runs the command line
pub fn run_binary(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(binary());
    cmd.args(args)
        .env_clear()
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("leadmagic-mcp-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// Valid arguments for a tool, made from its input schema: every required field, plus the first
/// "one of these" group, with values that pass the formats and bounds.
pub fn valid_args(schema: &Value, groups: &[&[&str]]) -> Map<String, Value> {
    let mut args = match sample::sample(schema, sample::Fill::Required) {
        Value::Object(args) => args,
        _ => Map::new(),
    };
    for name in groups.first().copied().unwrap_or_default() {
        let field = &schema["properties"][*name];
        args.insert(
            name.to_string(),
            sample::sample(field, sample::Fill::Required),
        );
    }
    args
}

/// `leadmagic-mcp serve --http` on a free loopback port; killed on drop.
pub struct HttpServer {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
    /// The working directory, removed on drop.
    pub dir: tempfile::TempDir,
}

impl HttpServer {
    pub async fn start(env: &[(&str, &str)], args: &[&str]) -> HttpServer {
        let argv: Vec<&str> = ["serve", "--http", "127.0.0.1:0"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        Self::start_argv(env, &argv).await
    }

    /// Same, with exactly this command line (the address may come from the environment).
    pub async fn start_argv(env: &[(&str, &str)], argv: &[&str]) -> HttpServer {
        Self::start_in(temp_dir(), env, argv).await
    }

    /// Same, in a directory prepared by the test.
    pub async fn start_in(
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
        argv: &[&str],
    ) -> HttpServer {
        let mut cmd = tokio::process::Command::new(binary());
        cmd.args(argv)
            .env_clear()
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn leadmagic-mcp serve --http");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("server start")
                .unwrap()
                .expect("server exited before listening");
            stderr.lock().unwrap().push_str(&line);
            stderr.lock().unwrap().push('\n');
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().trim_end_matches("/mcp").to_string();
            }
        };
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
        HttpServer {
            child,
            base,
            stderr,
            dir,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

/// A plain HTTP client for the tests (rustls needs its crypto provider installed once).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POST one JSON-RPC message to /mcp with the usual MCP headers plus `extra`.
pub async fn post_mcp(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if !extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("mcp-protocol-version"))
    {
        req = req.header("mcp-protocol-version", "2025-06-18");
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
