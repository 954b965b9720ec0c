//! A soak: stdio and HTTP servers under concurrent clients for a bounded time, mixing calls that
//! succeed, that LeadMagic answers with an error (not found, a 500 on a billed call), that lose
//! their connection after the request was read, free calls and invalid arguments. It reports calls/s, errors by kind, p50/p99 latency and each server's
//! RSS at the start, middle and end, and fails (exit 1) on an unexplained result, on any billed
//! call reaching the mock other than exactly once, or on RSS growing more than 10 % over the
//! second half. Nothing here is timed against a target.
//!
//!   cargo bench --bench soak                        # 60 s, 4 stdio servers + 1 HTTP, 8 clients
//!   SOAK_SECS=600 SOAK_CLIENTS=16 cargo bench --bench soak
//!   SOAK_SECS=30 cargo bench --profile dev --bench soak     # the CI run (.ci/run)

#[path = "../tests/common/mod.rs"]
mod common;

use common::{CANARY_KEY, HttpServer, McpProcess, Mock, Reply, http_client, post_mcp};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A call, the result kind it must give (`None`: success), and the route it must reach once.
struct Case {
    tool: &'static str,
    args: fn(usize) -> Value,
    expect: Option<&'static str>,
    route: Option<&'static str>,
}

const CASES: [Case; 6] = [
    Case {
        tool: "validate_work_email",
        args: |n| json!({"email": format!("p{n}@example.org")}),
        expect: None,
        route: Some("/v1/people/email-validation"),
    },
    Case {
        tool: "find_work_email",
        args: |n| json!({"first_name": format!("Jo{n}"), "domain": "example.org"}),
        expect: Some("not_found"),
        route: Some("/v1/people/email-finder"),
    },
    Case {
        tool: "enrich_company",
        args: |_| json!({"company_domain": "example.org"}),
        // A 500 on a billed call: reported as possibly charged, never sent again.
        expect: Some("outcome_unknown"),
        route: Some("/v1/companies/company-search"),
    },
    Case {
        tool: "find_people_by_role",
        args: |_| json!({"company_domain": "example.org", "job_title": "CTO"}),
        // The connection drops after the request was read: possibly charged, never sent again.
        expect: Some("outcome_unknown"),
        route: Some("/v1/people/role-finder"),
    },
    Case {
        tool: "check_credit_balance",
        args: |_| json!({}),
        expect: None,
        route: Some("/v1/credits"),
    },
    Case {
        tool: "validate_work_email",
        args: |_| json!({"email": "not an email"}),
        expect: Some("invalid_arguments"),
        route: None,
    },
];

#[derive(Default)]
struct Tally {
    calls: usize,
    unexplained: Vec<String>,
    kinds: std::collections::BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    /// Calls made per case, to compare with the mock's counts.
    per_case: [usize; CASES.len()],
}

impl Tally {
    fn record(&mut self, case: usize, result: &Value, took: Duration) {
        self.calls += 1;
        self.per_case[case] += 1;
        self.latencies.push(took);
        let kind = result["structuredContent"]["kind"]
            .as_str()
            .map(str::to_owned);
        let expected = CASES[case].expect.map(str::to_owned);
        let got = if result["isError"] == true {
            kind.clone()
        } else {
            None
        };
        *self
            .kinds
            .entry(got.clone().unwrap_or("ok".into()))
            .or_default() += 1;
        if got != expected {
            self.unexplained
                .push(format!("{}: {result}", CASES[case].tool));
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    std::process::exit(rt.block_on(soak()));
}

async fn soak() -> i32 {
    let secs = env_number("SOAK_SECS", 60);
    let clients = env_number("SOAK_CLIENTS", 8).max(2) as usize;
    let mock = Mock::start(CANARY_KEY).await;
    let ok =
        json!({"email": "jane@example.org", "email_status": "valid", "credits_consumed": 0.25});
    mock.on("POST", "/v1/people/email-validation", Reply::json(200, &ok));
    mock.on(
        "POST",
        "/v1/people/email-finder",
        Reply::json(
            404,
            &json!({"error": "profile_not_found", "credits_consumed": 0}),
        ),
    );
    mock.on(
        "POST",
        "/v1/companies/company-search",
        Reply::json(500, &json!({"error": "INTERNAL_ERROR"})),
    );
    mock.on(
        "GET",
        "/v1/credits",
        Reply::json(200, &json!({"credits": 1000})),
    );
    // The connection drops after the request was read.
    mock.on("POST", "/v1/people/role-finder", Reply::dropped());
    let url = mock.url();
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_RATE_LIMIT", "off"),
        ("LEADMAGIC_NO_CONFIRM", "1"),
    ];
    // Half the clients on stdio (one server each: a stdio server has one client), half on one
    // HTTP server.
    let stdio_count = clients / 2;
    let http_clients = clients - stdio_count;
    let http = HttpServer::start(&env, &[]).await;
    let mut pids = vec![("http".to_string(), http.child.id().unwrap())];
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..stdio_count {
        let mut server = McpProcess::spawn(&env, &[]);
        server.initialize().await;
        pids.push((format!("stdio {i}"), server.child.id().unwrap()));
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = i;
            while Instant::now() < deadline {
                let case = n % CASES.len();
                let started = Instant::now();
                let r = server.call(CASES[case].tool, (CASES[case].args)(n)).await;
                tally
                    .lock()
                    .unwrap()
                    .record(case, &r["result"], started.elapsed());
                n += 1;
            }
            server.finish().await;
        }));
    }
    let mcp = http.mcp_url();
    for i in 0..http_clients {
        let (tally, mcp) = (tally.clone(), mcp.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut n = i;
            while Instant::now() < deadline {
                let case = n % CASES.len();
                let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                    "params": {"name": CASES[case].tool, "arguments": (CASES[case].args)(n)}});
                let started = Instant::now();
                let (status, r) = post_mcp(&client, &mcp, &body, &[]).await;
                let result = if status == 200 {
                    r["result"].clone()
                } else {
                    json!({"status": status})
                };
                tally
                    .lock()
                    .unwrap()
                    .record(case, &result, started.elapsed());
                n += 1;
            }
        }));
    }
    // RSS at the start (after warm-up), in the middle and at the end of the run.
    let sample = |pids: &[(String, u32)]| pids.iter().map(|(_, p)| rss_kib(*p)).collect::<Vec<_>>();
    tokio::time::sleep(Duration::from_secs(2.min(secs))).await;
    let start = sample(&pids);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs.saturating_sub(2) / 2)).await;
    let middle = sample(&pids);
    let calls_at_middle = tally.lock().unwrap().calls;
    let until_end = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(until_end.saturating_sub(Duration::from_millis(200))).await;
    let end = sample(&pids);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let mut tally = tally.lock().unwrap();
    tally.latencies.sort();
    let pct = |p: f64| {
        let l = &tally.latencies;
        l.get(((l.len().saturating_sub(1)) as f64 * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "soak: {secs} s, {stdio_count} stdio servers + 1 HTTP server with {http_clients} clients"
    );
    println!(
        "calls: {} ({:.0}/s), results {:?}, unexplained {}",
        tally.calls,
        tally.calls as f64 / elapsed.as_secs_f64().max(0.001),
        tally.kinds,
        tally.unexplained.len()
    );
    println!(
        "latency p50 {:.3} ms, p99 {:.3} ms; calls by the middle sample: {calls_at_middle}",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    let mut failed = false;
    for (i, (name, _)) in pids.iter().enumerate() {
        let growth = if middle[i] > 0 {
            (end[i] as f64 - middle[i] as f64) / middle[i] as f64 * 100.0
        } else {
            0.0
        };
        println!(
            "RSS {name}: start {:.1} MiB, middle {:.1} MiB, end {:.1} MiB ({growth:+.1} % over the second half)",
            start[i] as f64 / 1024.0,
            middle[i] as f64 / 1024.0,
            end[i] as f64 / 1024.0
        );
        if growth > 10.0 {
            println!("FAIL: {name} grew more than 10 % over the second half");
            failed = true;
        }
    }
    for (case, c) in CASES.iter().enumerate() {
        let Some(route) = c.route else { continue };
        let method = if route == "/v1/credits" {
            "GET"
        } else {
            "POST"
        };
        // Free calls may be retried; billed ones reach LeadMagic exactly once per call.
        let same_route_calls: usize = CASES
            .iter()
            .enumerate()
            .filter(|(_, o)| o.route == Some(route))
            .map(|(i, _)| tally.per_case[i])
            .sum();
        let hits = mock.hits(method, route);
        println!("{route}: {hits} requests for {same_route_calls} calls");
        if hits != same_route_calls {
            println!("FAIL: {route} got {hits} requests for {same_route_calls} calls");
            failed = true;
        }
        let _ = case;
    }
    for u in tally.unexplained.iter().take(5) {
        println!("unexplained: {u}");
    }
    if !tally.unexplained.is_empty() {
        failed = true;
    }
    if failed { 1 } else { 0 }
}
