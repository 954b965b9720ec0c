//! Which tools a server offers: toolsets (`default`, `all`, names), `--tools`,
//! `--exclude-tools`, `--read-only`, aliases, HTTP callers narrowing (never widening) the
//! operator's set, the instructions that say what is on, and the opt-in tools that carry
//! someone else's secret.

mod common;

use common::{CANARY_KEY, HttpServer, McpProcess, Mock, Reply, http_client, key_traces, post_mcp};
use leadmagic_mcp::server::{TOOLS, TOOLSETS};
use serde_json::{Value, json};

fn names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

async fn listed(args: &[&str]) -> (Vec<String>, Value) {
    let mut server = McpProcess::spawn(&[], &[&["--sandbox"], args].concat());
    let init = server.initialize().await;
    let list = server.request("tools/list", json!({})).await;
    let again = server.request("tools/list", json!({})).await;
    assert_eq!(list["result"], again["result"], "the same list every time");
    server.finish().await;
    (names(&list), init)
}

fn in_sets(sets: &[&str]) -> usize {
    TOOLS.iter().filter(|t| sets.contains(&t.toolset)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toolsets_tools_and_exclusions_select_the_listed_tools() {
    let defaults: Vec<&str> = TOOLSETS
        .iter()
        .filter(|s| s.default)
        .map(|s| s.name)
        .collect();
    let (default, init) = listed(&[]).await;
    assert_eq!(default.len(), in_sets(&defaults));
    assert!(
        default.contains(&"search_people".to_string())
            && !default.contains(&"submit_bulk_job".to_string())
    );
    let instructions = init["result"]["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("Toolsets enabled: credits, workflows, people"),
        "{instructions}"
    );
    assert!(
        instructions.contains("Not enabled: job_search") && instructions.contains("--toolsets"),
        "{instructions}"
    );

    let (all, init) = listed(&["--toolsets", "all"]).await;
    assert_eq!(all.len(), TOOLS.len());
    assert!(all.len() >= 90);
    assert!(
        !init["result"]["instructions"]
            .as_str()
            .unwrap()
            .contains("Not enabled")
    );

    let (more, _) = listed(&["--toolsets", "default,bulk"]).await;
    assert_eq!(more.len(), in_sets(&[&defaults[..], &["bulk"]].concat()));

    let (few, _) = listed(&["--tools", "find_work_email,get_bulk_job_status"]).await;
    assert!(
        few.len() == 2
            && few.contains(&"find_work_email".into())
            && few.contains(&"get_bulk_job_status".into()),
        "--tools alone: exactly those: {few:?}"
    );

    let (added, _) = listed(&["--toolsets", "people", "--tools", "preview_cost"]).await;
    assert_eq!(
        added.len(),
        in_sets(&["people"]) + 1,
        "--tools adds to the toolsets"
    );

    let (without, _) = listed(&[
        "--exclude-tools",
        "validate_work_email",
        "--tools",
        "validate_work_email",
    ])
    .await;
    assert!(without.is_empty(), "--exclude-tools wins: {without:?}");
    let (without, _) = listed(&["--exclude-tools", "find_work_email"]).await;
    assert_eq!(without.len(), default.len() - 1);

    let (read_only, _) = listed(&["--toolsets", "all", "--read-only"]).await;
    for name in &read_only {
        let t = TOOLS.iter().find(|t| t.name == name).unwrap();
        assert!(t.annotations.read_only, "{name}");
    }
    assert!(!read_only.contains(&"delete_budget".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_stop_the_server_listing_the_valid_ones() {
    for (flag, value, expect) in [
        (
            "--toolsets",
            "peeple",
            "valid: default, all, credits, workflows, people",
        ),
        ("--tools", "no_such_tool", "valid: "),
        ("--exclude-tools", "no_such_tool", "valid: "),
    ] {
        let out = std::process::Command::new(common::binary())
            .args(["--sandbox", flag, value, "tools"])
            .env_clear()
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{flag}: {stderr}");
    }
}

/// Today's names from before the curation are still callable, but not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_names_are_callable_aliases_not_listed() {
    let mut server = McpProcess::spawn(&[], &["--sandbox"]);
    server.initialize().await;
    let list = server.request("tools/list", json!({})).await;
    let listed = names(&list);
    for (old, new) in [
        ("validate_email", "validate_work_email"),
        ("get_credit_balance", "check_credit_balance"),
        ("find_employees", "find_company_employees"),
    ] {
        assert!(!listed.contains(&old.to_string()) && listed.contains(&new.to_string()));
    }
    let r = server
        .call("validate_email", json!({"email": "jane@example.org"}))
        .await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    server.finish().await;
}

/// Over HTTP a caller narrows the operator's set with X-MCP-* headers, never widens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_callers_narrow_but_never_widen_the_selection() {
    let server = HttpServer::start(&[], &["--sandbox"]).await;
    let client = http_client();
    let mcp = server.mcp_url();
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let (_, all_default) = post_mcp(&client, &mcp, &list, &[]).await;
    let default_names = names(&all_default);

    let (_, people) = post_mcp(&client, &mcp, &list, &[("x-mcp-toolsets", "people")]).await;
    let people = names(&people);
    assert_eq!(
        people.len(),
        TOOLS.iter().filter(|t| t.toolset == "people").count()
    );

    let (_, wider) = post_mcp(&client, &mcp, &list, &[("x-mcp-toolsets", "bulk,people")]).await;
    assert_eq!(names(&wider), people, "bulk is not the operator's to give");

    let (_, one) = post_mcp(
        &client,
        &mcp,
        &list,
        &[("x-mcp-tools", "find_work_email,submit_bulk_job")],
    )
    .await;
    assert_eq!(names(&one), ["find_work_email"]);

    let (_, ro) = post_mcp(
        &client,
        &mcp,
        &list,
        &[
            ("x-mcp-readonly", "true"),
            ("x-mcp-exclude-tools", "find_work_email"),
        ],
    )
    .await;
    let ro = names(&ro);
    assert!(
        !ro.contains(&"find_work_email".to_string()) && ro.len() == default_names.len() - 1,
        "{ro:?}"
    );

    // A call outside the caller's narrowing is refused as not enabled.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "find_work_email", "arguments": {"first_name": "Jane", "domain": "example.org"}}});
    let (_, refused) = post_mcp(&client, &mcp, &call, &[("x-mcp-toolsets", "companies")]).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let (_, allowed) = post_mcp(&client, &mcp, &call, &[("x-mcp-toolsets", "people")]).await;
    assert_eq!(allowed["result"]["isError"], false, "{allowed}");
}

/// Registering a provider sends someone else's credential: the tool is off unless asked for,
/// and the credential reaches no output even when LeadMagic echoes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_credential_is_kept_out_of_every_output() {
    const CREDENTIAL: &str = "third_party_SECRET_4b7d9f1a3c5e7b9d";
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/v1/batch/providers",
        Reply::json(201, &json!({"id": "p1", "authCredentialValue": CREDENTIAL, "echo": format!("saved {CREDENTIAL}")})),
    );
    let url = mock.url();
    let args = json!({"name": "acme", "baseUrl": "https://api.acme.example", "authType": "api_key",
        "authCredentialName": "X-Acme-Key", "authCredentialValue": CREDENTIAL});
    let env = [
        ("LEADMAGIC_API_KEY", CANARY_KEY),
        ("LEADMAGIC_BASE_URL", url.as_str()),
        ("LEADMAGIC_LOG", "trace"),
        ("LEADMAGIC_LOG_BODIES", "1"),
    ];
    // Off by default, and off in `--toolsets batch`.
    for flags in [&[][..], &["--toolsets", "batch"][..]] {
        let mut server = McpProcess::spawn(&env, flags);
        server.initialize().await;
        let r = server.call("create_batch_provider", args.clone()).await;
        assert_eq!(r["error"]["code"], -32602, "{flags:?}: {r}");
        server.finish().await;
    }
    let mut server = McpProcess::spawn(&env, &["--toolsets", "providers"]);
    server.initialize().await;
    let r = server.call("create_batch_provider", args.clone()).await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    assert_eq!(r["result"]["structuredContent"]["id"], "p1");
    let (lines, stderr) = server.finish().await;
    assert_eq!(
        mock.requests()[0].json()["authCredentialValue"],
        CREDENTIAL,
        "it does reach LeadMagic"
    );
    assert!(stderr.contains("request body"), "bodies were logged");
    for (channel, text) in [("stdout", lines.join("\n")), ("stderr", stderr)] {
        let traces = key_traces(&text, CREDENTIAL);
        assert!(traces.is_empty(), "{channel}: {traces:?}\n{text}");
    }
}

/// Bulk submissions are bounded before anything is sent: rows in count, arguments in bytes;
/// and their worst case (rows at the product's price) counts against the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_submissions_are_bounded_and_budgeted() {
    let mock = Mock::start(CANARY_KEY).await;
    mock.on(
        "POST",
        "/bulk/submit",
        Reply::json(
            202,
            &json!({"jobId": "j1", "status": "uploaded", "credits_consumed": 0}),
        ),
    );
    let url = mock.url();
    let mut server = McpProcess::spawn(
        &[
            ("LEADMAGIC_API_KEY", CANARY_KEY),
            ("LEADMAGIC_BASE_URL", url.as_str()),
        ],
        // Bounds and budget only: confirmations have their own tests (tests/workflows.rs).
        &["--toolsets", "bulk", "--max-credits", "1", "--no-confirm"],
    );
    server.initialize().await;
    let rows = |n: usize, pad: usize| -> Value {
        (0..n)
            .map(|i| json!({"email": format!("p{i}@example.org"), "note": "x".repeat(pad)}))
            .collect()
    };
    for (args, field) in [
        (
            json!({"product": "email_validation", "rows": rows(1001, 0)}),
            "rows",
        ),
        (
            json!({"product": "email_validation", "rows": rows(3, 100_000)}),
            "bytes",
        ),
    ] {
        let r = server.call("submit_bulk_job", args).await;
        let s = &r["result"]["structuredContent"];
        assert_eq!(s["kind"], "invalid_arguments", "{field}: {s}");
    }
    let over = server
        .call(
            "submit_bulk_job",
            json!({"product": "email_finder", "rows": rows(2, 0)}),
        )
        .await;
    assert_eq!(
        over["result"]["structuredContent"]["kind"], "budget_exceeded",
        "2 rows at 1 credit: {over}"
    );
    let fine = server
        .call(
            "submit_bulk_job",
            json!({"product": "email_validation", "rows": rows(3, 0)}),
        )
        .await;
    assert_eq!(fine["result"]["isError"], false, "3 rows at 0.25: {fine}");
    assert_eq!(
        mock.total(),
        1,
        "only the submission within bounds and budget went out"
    );
    server.finish().await;
}
