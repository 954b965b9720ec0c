//! Composite tools, prompts, resources and confirmations, against the loopback mock with its
//! request counts (what reaches LeadMagic is what is billed).

mod common;

use common::{CANARY_KEY, HttpServer, McpProcess, Mock, Reply, http_client, post_mcp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PROFILE: &str = "/v1/companies/company-search";
const FUNDING: &str = "/v1/companies/company-funding";
const COMPETITORS: &str = "/v1/companies/competitors-search";
const TECH: &str = "/v1/companies/technographics";
const FINDER: &str = "/v1/people/email-finder";
const VALIDATE: &str = "/v1/people/email-validation";
const MOBILE: &str = "/v1/people/mobile-finder";
const ROLE: &str = "/v1/people/role-finder";
const SEARCH: &str = "/v3/people/search";

fn spawn(mock: &Mock, args: &[&str]) -> McpProcess {
    let url = mock.url();
    McpProcess::spawn(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", url.as_str()),
        ],
        args,
    )
}

fn account_mock(mock: &Mock, delay: Duration) {
    mock.on(
        "POST",
        PROFILE,
        Reply::json(200, &json!({"companyName": "Example", "websiteUrl": "https://www.example.org", "credits_consumed": 1})).delayed(delay),
    );
    // The failing step: LeadMagic has no funding data (free).
    mock.on(
        "POST",
        FUNDING,
        Reply::json(
            404,
            &json!({"error": "resource_not_found", "message": "no data", "credits_consumed": 0}),
        )
        .delayed(delay),
    );
    mock.on(
        "POST",
        COMPETITORS,
        Reply::json(
            200,
            &json!({"competitors": [{"name": "Rival"}], "credits_consumed": 5}),
        )
        .delayed(delay),
    );
    mock.on(
        "POST",
        TECH,
        Reply::json(200, &json!([{"name": "nginx"}]))
            .header("x-credits-consumed", "1")
            .delayed(delay),
    );
}

fn steps(result: &Value) -> Vec<Value> {
    result["structuredContent"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_runs_each_step_once_at_once_and_keeps_the_others_when_one_fails() {
    let mock = Mock::start(CANARY_KEY).await;
    let delay = Duration::from_millis(300);
    account_mock(&mock, delay);
    let mut server = spawn(&mock, &[]);
    server.initialize().await;
    let list = server.request("tools/list", json!({})).await;
    let research = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "research_account")
        .cloned()
        .expect("research_account is listed");
    assert!(
        research["description"]
            .as_str()
            .unwrap()
            .contains("Cost: up to 11 credits"),
        "{research}"
    );
    let started = Instant::now();
    let r = server
        .call("research_account", json!({"company_domain": "example.org"}))
        .await;
    let composite = started.elapsed();
    let result = &r["result"];
    assert_eq!(result["isError"], false, "{r}");
    let by_id = |id: &str| {
        steps(result)
            .into_iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("step {id}: {r}"))
    };
    assert_eq!(by_id("profile")["status"], "ok");
    assert_eq!(by_id("profile")["credits"]["used"], 1.0);
    assert_eq!(by_id("funding")["status"], "error");
    assert_eq!(by_id("funding")["error"]["kind"], "not_found");
    assert_eq!(by_id("funding")["credits"]["used"], 0.0);
    assert_eq!(
        by_id("competitors")["result"]["competitors"][0]["name"],
        "Rival"
    );
    assert_eq!(by_id("competitors")["credits"]["used"], 5.0);
    assert_eq!(by_id("technographics")["credits"]["used"], 1.0);
    let s = &result["structuredContent"];
    assert_eq!(s["summary"], json!({"ok": 3, "error": 1, "skipped": 0}));
    assert_eq!(s["_credits"]["used"], 7.0);
    assert_eq!(s["_credits"]["process_total"], 7.0);
    for path in [PROFILE, FUNDING, COMPETITORS, TECH] {
        assert_eq!(mock.hits("POST", path), 1, "{path}: one request");
    }
    // At once: every step's request arrived before the first answer could have been sent
    // (each answer waits 300 ms), so no step waited for another.
    let arrivals: Vec<Instant> = mock.requests().iter().map(|r| r.at).collect();
    let spread = *arrivals.iter().max().unwrap() - *arrivals.iter().min().unwrap();
    assert!(spread < delay, "the four requests arrived {spread:?} apart");
    // The same four steps one by one, for the closing note's comparison (not asserted: no
    // timing in tests).
    let started = Instant::now();
    for (tool, path) in [
        ("enrich_company", PROFILE),
        ("find_company_funding", FUNDING),
        ("list_company_competitors", COMPETITORS),
        ("get_company_technographics", TECH),
    ] {
        let _ = path;
        server
            .call(tool, json!({"company_domain": "example.org"}))
            .await;
    }
    eprintln!(
        "research_account: 1 call, 4 requests, {:?}; the four tools one by one: 4 calls, 4 \
         requests, {:?} (each answer delayed {delay:?})",
        composite,
        started.elapsed()
    );
    assert_eq!(mock.total(), 8);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_step_reads_an_earlier_result_and_is_skipped_without_it() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on_seq(
        "POST",
        FINDER,
        vec![
            Reply::json(
                200,
                &json!({"email": "jane.doe@example.org", "status": "valid", "credits_consumed": 1}),
            ),
            Reply::json(
                200,
                &json!({"email": null, "status": "not_found", "credits_consumed": 0}),
            ),
        ],
    );
    mock.on(
        "POST",
        VALIDATE,
        Reply::json(200, &json!({"email": "jane.doe@example.org", "email_status": "valid", "credits_consumed": 0.25})),
    );
    mock.on(
        "POST",
        MOBILE,
        Reply::json(
            200,
            &json!({"mobile_number": "+15550100", "credits_consumed": 5}),
        ),
    );
    let mut server = spawn(&mock, &[]);
    server.initialize().await;
    let args = json!({"first_name": "Jane", "last_name": "Doe", "domain": "example.org", "include_mobile": true});
    let r = server.call("enrich_contact", args.clone()).await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["summary"]["ok"], 3, "{r}");
    assert_eq!(s["_credits"]["used"], 6.25);
    let sent: Vec<Value> = mock
        .requests()
        .iter()
        .filter(|q| q.path != FINDER)
        .map(|q| q.json())
        .collect();
    assert!(
        sent.contains(&json!({"email": "jane.doe@example.org"})),
        "{sent:?}"
    );
    assert!(
        sent.contains(&json!({"work_email": "jane.doe@example.org"})),
        "{sent:?}"
    );
    // No email found: the steps that needed it are skipped, unbilled, with the reason.
    let r = server.call("enrich_contact", args).await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(
        s["summary"],
        json!({"ok": 1, "error": 0, "skipped": 2}),
        "{r}"
    );
    let reasons: Vec<String> = steps(&r["result"])
        .iter()
        .filter_map(|s| s["reason"].as_str().map(str::to_owned))
        .collect();
    assert!(
        reasons.iter().all(|r| r.contains("from step email")),
        "{reasons:?}"
    );
    assert_eq!(mock.total(), 4, "3 requests, then 1");
    // Without include_mobile the mobile step does not run.
    let r = server
        .call(
            "enrich_contact",
            json!({"full_name": "Jane Doe", "company_name": "Example"}),
        )
        .await;
    let mobile = steps(&r["result"])
        .into_iter()
        .find(|s| s["id"] == "mobile")
        .unwrap();
    assert_eq!(mobile["status"], "skipped");
    assert_eq!(mobile["reason"], "include_mobile is not set");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_refuses_a_composite_whole_before_any_step_is_sent() {
    let mock = Mock::start(CANARY_KEY).await;
    account_mock(&mock, Duration::ZERO);
    mock.on(
        "POST",
        ROLE,
        Reply::json(200, &json!({"name": "Ada", "credits_consumed": 2})),
    );
    let mut server = spawn(&mock, &["--max-credits", "10"]);
    server.initialize().await;
    let r = server
        .call("research_account", json!({"company_domain": "example.org"}))
        .await;
    assert_eq!(
        r["result"]["structuredContent"]["kind"], "budget_exceeded",
        "{r}"
    );
    let titles: Vec<String> = (0..10).map(|i| format!("Title {i}")).collect();
    let r = server
        .call(
            "find_decision_makers",
            json!({"company_domain": "example.org", "titles": titles}),
        )
        .await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["kind"], "budget_exceeded", "{r}");
    assert!(
        s["message"].as_str().unwrap().contains("up to 21 credits"),
        "{s}"
    );
    assert_eq!(mock.total(), 0, "nothing was sent");
    // Two titles: 1 + 2 x 2 = 5 credits fit.
    let r = server
        .call(
            "find_decision_makers",
            json!({"company_domain": "example.org", "titles": ["CEO", "CTO"]}),
        )
        .await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    let items: Vec<Value> = steps(&r["result"])
        .into_iter()
        .filter(|s| s["id"] == "people")
        .map(|s| s["item"].clone())
        .collect();
    assert_eq!(
        items,
        [json!("CEO"), json!("CTO")],
        "runs reported in the order given"
    );
    assert_eq!(mock.hits("POST", ROLE), 2);
    assert_eq!(mock.hits("POST", PROFILE), 1);
    let bodies: Vec<Value> = mock
        .requests()
        .iter()
        .filter(|q| q.path == ROLE)
        .map(|q| q.json())
        .collect();
    for title in ["CEO", "CTO"] {
        assert!(
            bodies.contains(&json!({"company_domain": "example.org", "job_title": title})),
            "{bodies:?}"
        );
    }
    // Bad input is refused with the composite's field named, before anything is sent.
    let r = server
        .call(
            "find_decision_makers",
            json!({"company_domain": "example.org", "titles": ["CEO", " "]}),
        )
        .await;
    assert_eq!(
        r["result"]["structuredContent"]["field"], "titles[1]",
        "{r}"
    );
    assert_eq!(mock.total(), 3);
    server.finish().await;
}

fn token_of(r: &Value) -> String {
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["kind"], "confirmation_required", "{r}");
    s["confirmation_token"].as_str().unwrap().to_string()
}

fn search_mock(mock: &Mock) {
    mock.on(
        "POST",
        SEARCH,
        Reply::json(
            200,
            &json!({"people": [], "has_more": false, "credits_consumed": 0}),
        ),
    );
    mock.on(
        "POST",
        "/v3/companies/search",
        Reply::json(200, &json!({"companies": [], "credits_consumed": 0})),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_token_runs_its_call_once_and_nothing_else() {
    let mock = Mock::start(CANARY_KEY).await;
    search_mock(&mock);
    let mut server = spawn(&mock, &[]);
    server.initialize().await; // a client without elicitation: the two-step flow
    let big = json!({"company_domain": "example.org", "limit": 100});
    let first = server.call("search_people", big.clone()).await;
    let token = token_of(&first);
    assert_eq!(first["result"]["structuredContent"]["would_cost"], 100.0);
    assert_eq!(mock.total(), 0, "nothing is sent before confirmation");
    let with = |args: &Value, token: &str| {
        let mut a = args.clone();
        a["confirmation_token"] = json!(token);
        a
    };
    // Other arguments, another tool, a forged token: refused, nothing sent.
    let other_args = json!({"company_domain": "example.org", "limit": 99});
    // The tag's last hex digit changed (to another digit, whatever it was).
    let last = if token.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let refused = [
        server
            .call("search_people", with(&other_args, &token))
            .await,
        server
            .call("search_companies", with(&json!({"limit": 50}), &token))
            .await,
        server.call("search_people", with(&big, &forged)).await,
        server.call("search_people", with(&big, "lmc1.1.2.3")).await,
    ];
    for r in &refused {
        assert_eq!(
            r["result"]["structuredContent"]["kind"], "not_confirmed",
            "{r}"
        );
    }
    assert_eq!(mock.total(), 0);
    let second = server.call("search_people", with(&big, &token)).await;
    assert_eq!(second["result"]["isError"], false, "{second}");
    assert_eq!(mock.total(), 1, "sent once after confirmation");
    let replay = server.call("search_people", with(&big, &token)).await;
    assert_eq!(
        replay["result"]["structuredContent"]["kind"],
        "not_confirmed"
    );
    assert!(
        replay["result"]["structuredContent"]["message"]
            .as_str()
            .unwrap()
            .contains("already been used")
    );
    assert_eq!(mock.total(), 1, "a replay sends nothing");
    // Below the threshold nothing asks; --no-confirm never asks.
    let small = server
        .call(
            "search_people",
            json!({"company_domain": "example.org", "limit": 5}),
        )
        .await;
    assert_eq!(small["result"]["isError"], false, "{small}");
    assert_eq!(mock.total(), 2);
    server.finish().await;
    let mut server = spawn(&mock, &["--no-confirm"]);
    server.initialize().await;
    let r = server.call("search_people", big).await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    assert_eq!(mock.total(), 3);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let mock = Mock::start(CANARY_KEY).await;
    search_mock(&mock);
    let url = mock.url();
    let mut server = McpProcess::spawn(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", url.as_str()),
            ("LEADMAGIC_CONFIRM_TTL_SECS", "1"),
        ],
        &[],
    );
    server.initialize().await;
    let mut args = json!({"company_domain": "example.org", "limit": 100});
    let token = token_of(&server.call("search_people", args.clone()).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    args["confirmation_token"] = json!(token);
    let r = server.call("search_people", args).await;
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["kind"], "not_confirmed", "{r}");
    assert!(s["message"].as_str().unwrap().contains("expired"), "{s}");
    assert_eq!(mock.total(), 0);
    server.finish().await;
}

fn http_call(id: u64, tool: &str, args: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_the_same_secret_accepts_the_token_and_another_secret_does_not() {
    let mock = Mock::start(CANARY_KEY).await;
    search_mock(&mock);
    let url = mock.url();
    // Random-looking, as a real one is (the last-line filter masks any 8 characters of it).
    let secret = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b";
    let env = |secret: &'static str| {
        vec![
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", url.as_str()),
            ("LEADMAGIC_CONFIRM_SECRET", secret),
        ]
    };
    let a = HttpServer::start(&env(secret), &[]).await;
    let b = HttpServer::start(&env(secret), &[]).await;
    let other = HttpServer::start(
        &env("0d8e6c4a2f1b3d5e7f9a0c2e4d6b8a1f3c5e7d9b2a4c6e8f"),
        &[],
    )
    .await;
    let client = http_client();
    let mut args = json!({"company_domain": "example.org", "limit": 100});
    let (_, first) = post_mcp(
        &client,
        &a.mcp_url(),
        &http_call(1, "search_people", &args),
        &[],
    )
    .await;
    let token = token_of(&first);
    args["confirmation_token"] = json!(token);
    let (_, refused) = post_mcp(
        &client,
        &other.mcp_url(),
        &http_call(2, "search_people", &args),
        &[],
    )
    .await;
    assert_eq!(
        refused["result"]["structuredContent"]["kind"], "not_confirmed",
        "{refused}"
    );
    assert_eq!(mock.total(), 0);
    let (_, ran) = post_mcp(
        &client,
        &b.mcp_url(),
        &http_call(3, "search_people", &args),
        &[],
    )
    .await;
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    assert_eq!(mock.total(), 1, "one request, from replica b");
    for server in [&a, &b, &other] {
        assert!(
            !server.stderr.lock().unwrap().contains(secret),
            "the secret is never logged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_and_resources_answer_with_caching_hints() {
    let mock = Mock::start(CANARY_KEY).await;
    let mut server = spawn(&mock, &[]);
    let init = server.initialize().await;
    let caps = &init["result"]["capabilities"];
    assert!(
        caps["prompts"].is_object() && caps["resources"].is_object(),
        "{caps}"
    );
    let prompts = server.request("prompts/list", json!({})).await;
    let names: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["account_research", "contact_lookup", "find_decision_makers"]
    );
    assert!(
        prompts["result"]["ttlMs"].as_u64().unwrap() > 0,
        "{prompts}"
    );
    let got = server
        .request(
            "prompts/get",
            json!({"name": "account_research", "arguments": {"company": "example.org"}}),
        )
        .await;
    let text = got["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("research_account") && text.contains("up to 11 credits"),
        "{text}"
    );
    assert!(
        text.contains("example.org") && !text.contains("{company}"),
        "{text}"
    );
    let missing = server
        .request(
            "prompts/get",
            json!({"name": "contact_lookup", "arguments": {"name": "Jane"}}),
        )
        .await;
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("company"),
        "{missing}"
    );
    let resources = server.request("resources/list", json!({})).await;
    assert_eq!(
        resources["result"]["resources"][0]["uri"],
        "leadmagic://docs"
    );
    assert_eq!(resources["result"]["cacheScope"], "public");
    let templates = server.request("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "leadmagic://tools/{name}"
    );
    let docs = server
        .request("resources/read", json!({"uri": "leadmagic://docs"}))
        .await;
    let text = docs["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("research_account: up to 11 credits per call"),
        "{text}"
    );
    assert!(text.contains("- confirmation_required: "), "{text}");
    assert!(docs["result"]["ttlMs"].as_u64().unwrap() > 0);
    let tool = server
        .request(
            "resources/read",
            json!({"uri": "leadmagic://tools/find_work_email"}),
        )
        .await;
    let text = tool["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("POST /v1/people/email-finder") && text.contains("`domain`"),
        "{text}"
    );
    // A tool that is not enabled has no document here.
    let off = server
        .request(
            "resources/read",
            json!({"uri": "leadmagic://tools/submit_bulk_job"}),
        )
        .await;
    assert!(off["error"].is_object(), "{off}");
    assert_eq!(mock.total(), 0, "prompts and resources cost nothing");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_before_it_is_sent_sends_nothing() {
    let mock = Mock::start(CANARY_KEY).await;
    // The first answer says the rate-limit window is used up for 5 s: the next call waits.
    mock.on(
        "POST",
        VALIDATE,
        Reply::valid_email()
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", "5"),
    );
    let mut server = spawn(&mock, &[]);
    server.initialize().await;
    let args = json!({"email": "jane@example.org"});
    let first = server.call("validate_work_email", args.clone()).await;
    assert_eq!(first["result"]["isError"], false, "{first}");
    server
        .send(&json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "validate_work_email", "arguments": args}}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77, "reason": "user"}}))
        .await;
    // The wait was for 5 s: well after it, the cancelled call has still sent nothing (the
    // protocol sends no answer to a cancelled request), and the server goes on serving.
    tokio::time::sleep(Duration::from_millis(6000)).await;
    assert_eq!(mock.total(), 1, "the cancelled call sent nothing");
    let next = server
        .call("validate_work_email", json!({"email": "ann@example.org"}))
        .await;
    assert_eq!(next["result"]["isError"], false, "{next}");
    assert_eq!(mock.total(), 2);
    let (lines, _) = server.finish().await;
    assert!(
        !lines.iter().any(|l| l.contains(r#""id":77"#)),
        "no answer to the cancelled request"
    );
}

/// Send a call with a progress token; read until its answer and `expected` progress
/// notifications have arrived (notifications are sent as work finishes, so the last ones may
/// follow the answer).
async fn call_with_progress(
    server: &mut McpProcess,
    id: u64,
    tool: &str,
    args: Value,
    expected: usize,
) -> (Vec<Value>, Value) {
    server
        .send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": args, "_meta": {"progressToken": format!("p{id}")}}}))
        .await;
    let mut progress = Vec::new();
    let mut answer = None;
    while answer.is_none() || progress.len() < expected {
        let msg = server.recv().await;
        if msg["method"] == "notifications/progress" {
            assert_eq!(msg["params"]["progressToken"], format!("p{id}"));
            progress.push(msg["params"].clone());
        } else if msg["id"] == id {
            answer = Some(msg);
        }
    }
    (progress, answer.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composites_and_a_watched_bulk_job_report_progress() {
    let mock = Mock::start(CANARY_KEY).await;
    account_mock(&mock, Duration::ZERO);
    let job = "0b9a3c4e-1f2d-4e5f-8a9b-0c1d2e3f4a5b";
    let watch = leadmagic_mcp::server::find_tool("stream_bulk_job_events").unwrap();
    let param = watch.path_params().next().unwrap();
    let path = watch.path.replace(&format!("{{{param}}}"), job);
    mock.on(
        watch.method,
        &path,
        Reply::raw(
            200,
            "text/event-stream",
            b"event: job.progress\ndata: {\"done\": 1}\n\nevent: job.completed\ndata: {}\n\n"
                .to_vec(),
        ),
    );
    let mut server = spawn(&mock, &["--toolsets", "default,bulk"]);
    server.initialize().await;
    let args = json!({"company_domain": "example.org"});
    let (progress, answer) = call_with_progress(&mut server, 50, "research_account", args, 4).await;
    assert_eq!(
        answer["result"]["structuredContent"]["summary"]["ok"], 3,
        "{answer}"
    );
    let mut done: Vec<f64> = progress
        .iter()
        .filter_map(|p| p["progress"].as_f64())
        .collect();
    done.sort_by(f64::total_cmp);
    assert_eq!(done, [1.0, 2.0, 3.0, 4.0], "one per step: {progress:?}");
    assert!(progress.iter().all(|p| p["total"] == 4.0));
    assert!(
        progress.iter().any(|p| p["message"] == "step funding done"),
        "{progress:?}"
    );
    let (events, answer) =
        call_with_progress(&mut server, 51, watch.name, json!({ param: job }), 1).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(events[0]["message"], "2 events so far", "{events:?}");
    assert!(
        events[0].get("total").is_none(),
        "a watch has no known total"
    );
    server.finish().await;
}
