//! Whole-process performance of the real binary against the loopback mock, printed as a table:
//! startup, memory, per-call overhead, CPU per call (beside a floor process making the same
//! exchange), pipelined throughput, `tools/list` size, and an HTTP load run. The client-side rate
//! limit is off, so the server is measured, not the bucket. Loopback only; every loop is bounded.
//!
//! `cargo bench --bench perf` (or `bash bench/run.sh`, which adds build time and binary size).
//! Set `PERF_QUICK=1` for a short run.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{CANARY_KEY, HttpServer, McpProcess, Mock, Reply, http_client, post_mcp};
use serde_json::{Value, json};
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

const TOOL: &str = "validate_email";
const ROUTE: &str = "/v1/people/email-validation";

fn quick() -> bool {
    std::env::var_os("PERF_QUICK").is_some()
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU time of a process.
fn cpu_time(pid: u32, ticks_per_s: f64) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    Duration::from_secs_f64(ticks / ticks_per_s)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ok_reply() -> Reply {
    Reply::json(
        200,
        &json!({"email": "jane@example.org", "email_status": "valid", "credits_consumed": 0.25}),
    )
}

fn spawn(mock: &Mock, extra: &[&str]) -> McpProcess {
    let url = mock.url();
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_RATE_LIMIT", "off"),
    ];
    McpProcess::spawn(&env, extra)
}

struct Row(String, String, String);

/// Set in the environment of the floor process (this same executable, run as a server).
const FLOOR_VAR: &str = "LEADMAGIC_BENCH_FLOOR";

/// The floor: the least a stdio server does per call on this machine. A blocking loop that reads a
/// JSON-RPC line, sends the same HTTP request to the mock on a kept-alive socket, reads the answer
/// and writes a JSON-RPC line: no runtime, no validation, no retry, no logging.
fn run_floor() {
    let base = std::env::var("LEADMAGIC_BASE_URL").expect("LEADMAGIC_BASE_URL");
    let key = std::env::var("LEADMAGIC_API_KEY").expect("LEADMAGIC_API_KEY");
    let mut upstream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    upstream.set_nodelay(true).unwrap();
    let mut reader = std::io::BufReader::new(upstream.try_clone().unwrap());
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let msg: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let Some(id) = msg.get("id") else { continue };
        let result = if msg["method"] == "tools/call" {
            let body = msg["params"]["arguments"].to_string();
            let request = format!(
                "POST {ROUTE} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {key}\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            upstream.write_all(request.as_bytes()).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut answer = vec![0; length];
            reader.read_exact(&mut answer).unwrap();
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            json!({"content": [{"type": "text", "text": answer.to_string()}], "structuredContent": answer, "isError": false})
        } else {
            json!({})
        };
        let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
        out.write_all(format!("{reply}\n").as_bytes()).unwrap();
        out.flush().unwrap();
    }
}

/// Sequential calls on a started process: (sorted latencies, CPU per call, wall time).
async fn sequential_calls(
    p: &mut McpProcess,
    calls: usize,
    args: &Value,
    ticks: f64,
) -> (Vec<Duration>, Duration, Duration) {
    for _ in 0..50 {
        p.call(TOOL, args.clone()).await; // warm-up
    }
    let pid = p.child.id().unwrap();
    let cpu0 = cpu_time(pid, ticks);
    let mut lat = Vec::with_capacity(calls);
    let t_all = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let r = p.call(TOOL, args.clone()).await;
        lat.push(t.elapsed());
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    let wall = t_all.elapsed();
    let cpu = cpu_time(pid, ticks).saturating_sub(cpu0);
    lat.sort();
    (lat, cpu / calls as u32, wall)
}

fn main() {
    if std::env::var_os(FLOOR_VAR).is_some() {
        return run_floor();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

async fn bench() {
    let mut rows: Vec<Row> = Vec::new();
    let mock = Mock::start(CANARY_KEY).await;
    mock.on("POST", ROUTE, ok_reply());
    let ticks = clock_ticks();
    let args = json!({ "email": "jane@example.org" });

    // 1. Startup: spawn -> initialize answered, -> tools/list answered (default toolsets, then
    // every toolset), and the RSS after the full list.
    let spawns = if quick() { 5 } else { 25 };
    let (mut to_init, mut to_list, mut to_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut rss_all = 0;
    for _ in 0..spawns {
        let t0 = Instant::now();
        let mut p = spawn(&mock, &[]);
        p.initialize().await;
        to_init.push(t0.elapsed());
        p.request("tools/list", json!({})).await;
        to_list.push(t0.elapsed());
        p.finish().await;
        let t0 = Instant::now();
        let mut p = spawn(&mock, &["--toolsets", "all"]);
        p.initialize().await;
        p.request("tools/list", json!({})).await;
        to_all.push(t0.elapsed());
        rss_all = rss_all.max(memory_kib(p.child.id().unwrap()).0);
        p.finish().await;
    }
    to_init.sort();
    to_list.sort();
    to_all.sort();
    let mmm = |v: &[Duration]| {
        format!(
            "{} / {} / {}",
            ms(v[0]),
            ms(percentile(v, 0.5)),
            ms(v[v.len() - 1])
        )
    };
    rows.push(Row(
        format!("spawn -> initialize answered (min / median / max, {spawns} spawns)"),
        mmm(&to_init),
        "-".into(),
    ));
    rows.push(Row(
        "spawn -> tools/list answered (min / median / max)".into(),
        mmm(&to_list),
        "median <= 5 ms".into(),
    ));
    rows.push(Row(
        "spawn -> tools/list answered, every toolset (min / median / max)".into(),
        mmm(&to_all),
        "median <= 5 ms".into(),
    ));
    rows.push(Row(
        "RSS after tools/list, every toolset (highest of the spawns)".into(),
        mib(rss_all),
        "<= 8 MiB".into(),
    ));

    // 2. One long-lived server: memory, per-call latency, CPU per call.
    let mut p = spawn(&mock, &[]);
    let pid = p.child.id().unwrap();
    p.initialize().await;
    let list = p.request("tools/list", json!({})).await;
    let (rss_after_list, _) = memory_kib(pid);
    rows.push(Row(
        "RSS after tools/list".into(),
        mib(rss_after_list),
        "<= 8 MiB".into(),
    ));

    let calls = if quick() { 300 } else { 2000 };
    let (lat, cpu_per_call, wall) = sequential_calls(&mut p, calls, &args, ticks).await;
    let (_, peak_after_calls) = memory_kib(pid);
    rows.push(Row(
        format!("peak RSS after {calls} calls"),
        mib(peak_after_calls),
        "<= 12 MiB".into(),
    ));

    // The same request sent directly to the mock, over a kept-alive connection.
    let client = http_client();
    let url = format!("{}{ROUTE}", mock.url());
    let mut direct = Vec::with_capacity(calls);
    for i in 0..(calls + 50) {
        let t = Instant::now();
        let resp = client
            .post(&url)
            .header("x-api-key", CANARY_KEY)
            .json(&args)
            .send()
            .await
            .unwrap();
        let _ = resp.bytes().await.unwrap();
        if i >= 50 {
            direct.push(t.elapsed());
        }
    }
    direct.sort();
    let p50 = percentile(&lat, 0.5);
    let d50 = percentile(&direct, 0.5);
    rows.push(Row(
        "tool call over stdio, p50 / p99".into(),
        format!("{} / {}", ms(p50), ms(percentile(&lat, 0.99))),
        "-".into(),
    ));
    rows.push(Row(
        "same request direct to the mock, p50 / p99".into(),
        format!("{} / {}", ms(d50), ms(percentile(&direct, 0.99))),
        "-".into(),
    ));
    rows.push(Row(
        "per-call overhead (p50 difference)".into(),
        ms(p50.saturating_sub(d50)),
        "<= 0.1 ms".into(),
    ));
    rows.push(Row(
        "server CPU per call (user + system)".into(),
        format!(
            "{} ({} calls, {:.0} calls/s sequential)",
            ms(cpu_per_call),
            calls,
            calls as f64 / wall.as_secs_f64()
        ),
        "<= 0.05 ms".into(),
    ));

    // The floor: a do-almost-nothing blocking process in the server's place, same client, same
    // mock. What it costs is the machine's (pipe and loopback TCP wake-ups), not the server's.
    let exe = std::env::current_exe().unwrap();
    let url = mock.url();
    let floor_env = [
        (FLOOR_VAR, "1"),
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
    ];
    let mut floor = McpProcess::spawn_program(exe.to_str().unwrap(), &floor_env, &[]);
    floor.initialize().await;
    let (floor_lat, floor_cpu, _) = sequential_calls(&mut floor, calls, &args, ticks).await;
    floor.finish().await;
    let f50 = percentile(&floor_lat, 0.5);
    rows.push(Row(
        "floor (minimal blocking process, same exchange): p50 / overhead / CPU per call".into(),
        format!(
            "{} / {} / {}",
            ms(f50),
            ms(f50.saturating_sub(d50)),
            ms(floor_cpu)
        ),
        "-".into(),
    ));
    rows.push(Row(
        "server above the floor: latency p50 / CPU per call".into(),
        format!(
            "{} / {}",
            ms(p50.saturating_sub(f50)),
            ms(cpu_per_call.saturating_sub(floor_cpu))
        ),
        "-".into(),
    ));

    // 3. Pipelined throughput: 8 requests in flight on one stdio connection.
    let total = if quick() { 400 } else { 4000 };
    let t0 = Instant::now();
    let mut sent = 0u64;
    let mut done = 0u64;
    let mut next_id = 10_000u64;
    let send = |p_id: u64| json!({"jsonrpc": "2.0", "id": p_id, "method": "tools/call", "params": {"name": TOOL, "arguments": args}});
    for _ in 0..8 {
        p.send(&send(next_id)).await;
        next_id += 1;
        sent += 1;
    }
    while done < total {
        let msg = p.recv().await;
        if msg
            .get("id")
            .and_then(Value::as_u64)
            .is_some_and(|id| id >= 10_000)
        {
            done += 1;
            if sent < total {
                p.send(&send(next_id)).await;
                next_id += 1;
                sent += 1;
            }
        }
    }
    let rate = total as f64 / t0.elapsed().as_secs_f64();
    rows.push(Row(
        "pipelined throughput on stdio (8 in flight)".into(),
        format!("{rate:.0} calls/s"),
        "-".into(),
    ));

    // 4. An 8 MiB upstream body: read up to the cap, then dropped.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(8 << 20));
    mock.on(
        "POST",
        ROUTE,
        Reply::raw(200, "application/json", big.into_bytes()),
    );
    let r = p.call(TOOL, args.clone()).await;
    assert_eq!(r["result"]["structuredContent"]["kind"], "invalid_response");
    let (_, peak_after_big) = memory_kib(pid);
    rows.push(Row(
        "peak RSS after an 8 MiB upstream body".into(),
        mib(peak_after_big),
        "<= 16 MiB".into(),
    ));
    p.finish().await;

    // 4b. Bodies just under the cap are parsed and returned, which costs more than a dropped
    // one; how much depends on the shape (a JSON value per small object weighs far more than
    // its text). Each in a fresh process, so the peak is that call's.
    let cap = 1 << 20;
    let one_string = format!("{{\"pad\":\"{}\"}}", "x".repeat(cap - 64));
    let mut many = String::from("{\"items\":[");
    while many.len() < cap - 64 {
        many.push_str("{\"a\":1},");
    }
    many.pop();
    many.push_str("]}");
    for (shape, body) in [
        ("one 1 MiB string", one_string),
        ("~131,000 small objects", many),
    ] {
        assert!(body.len() < cap);
        mock.on(
            "POST",
            ROUTE,
            Reply::raw(200, "application/json", body.into_bytes()),
        );
        let mut fresh = spawn(&mock, &[]);
        fresh.initialize().await;
        let r = fresh.call(TOOL, args.clone()).await;
        assert_eq!(r["result"]["isError"], false, "{shape}");
        let (_, peak) = memory_kib(fresh.child.id().unwrap());
        rows.push(Row(
            format!("peak RSS after a body just under the cap: {shape}"),
            mib(peak),
            "-".into(),
        ));
        fresh.finish().await;
    }
    mock.on("POST", ROUTE, ok_reply());

    // 5. What clients send the model (name, title, description, input schema), then the whole
    // tools/list in both profiles, over the default toolsets and over every tool.
    let mut a = spawn(&mock, &["--toolsets", "all"]);
    a.initialize().await;
    let all_list = a.request("tools/list", json!({})).await;
    a.finish().await;
    let mut c = spawn(&mock, &["--compact", "--toolsets", "all"]);
    c.initialize().await;
    let compact_list = c.request("tools/list", json!({})).await;
    c.finish().await;
    let model_bytes = |list: &Value| -> (usize, usize) {
        let tools = list["result"]["tools"].as_array().unwrap();
        let bytes = tools
            .iter()
            .map(|t| {
                let seen: serde_json::Map<String, Value> =
                    ["name", "title", "description", "inputSchema"]
                        .iter()
                        .filter_map(|k| t.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect();
                serde_json::to_string(&seen).unwrap().len()
            })
            .sum();
        (tools.len(), bytes)
    };
    let (n_default, b_default) = model_bytes(&list);
    let (n_all, b_all) = model_bytes(&all_list);
    rows.push(Row(
        format!("model-facing tools/list (name, title, description, inputSchema), default toolsets ({n_default} tools)"),
        format!("{b_default} bytes, {:.0} tokens in all", b_default as f64 / 4.0),
        "<= 5,000 tokens".into(),
    ));
    rows.push(Row(
        format!("the same, every tool ({n_all} tools)"),
        format!(
            "{b_all} bytes, {:.1} tokens/tool",
            b_all as f64 / 4.0 / n_all as f64
        ),
        "<= 130 tokens/tool".into(),
    ));
    for (name, listed) in [("full", &all_list), ("compact", &compact_list)] {
        let text = serde_json::to_string(&listed["result"]).unwrap();
        let n = listed["result"]["tools"].as_array().unwrap().len() as f64;
        rows.push(Row(
            format!("whole tools/list, {name} profile, every tool ({n} tools)"),
            format!(
                "{} bytes, {:.0} tokens/tool",
                text.len(),
                text.len() as f64 / 4.0 / n
            ),
            "-".into(),
        ));
    }

    // 6. HTTP load: N concurrent clients for T seconds.
    let clients = 8;
    let secs = if quick() { 2 } else { 10 };
    let url = mock.url();
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_RATE_LIMIT", "off"),
    ];
    let server = HttpServer::start(&env, &["--max-concurrency", "64"]).await;
    let hpid = server.child.id().unwrap();
    let (rss_before, _) = memory_kib(hpid);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mcp = server.mcp_url();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": TOOL, "arguments": args}});
                let t = Instant::now();
                let (status, reply) = post_mcp(&client, &mcp, &body, &[]).await;
                lat.push(t.elapsed());
                if status != 200 || reply["result"]["isError"] != false {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut hlat, mut herrors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        hlat.extend(l);
        herrors += e;
    }
    hlat.sort();
    assert_eq!(herrors, 0, "every HTTP call under load succeeds");
    let (rss_after, peak) = memory_kib(hpid);
    rows.push(Row(
        format!("HTTP load: {clients} clients x {secs} s"),
        format!(
            "{:.0} calls/s, p50 {} / p99 {}, {} errors of {}",
            hlat.len() as f64 / secs as f64,
            ms(percentile(&hlat, 0.5)),
            ms(percentile(&hlat, 0.99)),
            herrors,
            hlat.len()
        ),
        "-".into(),
    ));
    rows.push(Row(
        "HTTP server RSS before / after / peak".into(),
        format!("{} / {} / {}", mib(rss_before), mib(rss_after), mib(peak)),
        "-".into(),
    ));
    drop(server);

    println!("| figure | measured | target |");
    println!("|---|---|---|");
    for Row(a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
}
