//! Property test of argument handling: for any arguments, validation either refuses them, naming
//! the field, with nothing sent; or the typed client sends exactly them, once, to the tool's
//! route (and nothing else reaches the mock). CI runs 256 cases; `PROPTEST_CASES=N` for more.

mod common;

use common::{CANARY_KEY, Mock, Reply};
use leadmagic_mcp::server::{call_tool, find_tool};
use leadmagic_mcp::{ApiKey, Config, connect};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Map, Value, json};

/// Tools whose arguments all travel in the JSON body, with the route they reach.
const TOOLS: [(&str, &str); 4] = [
    ("validate_work_email", "/v1/people/email-validation"),
    ("find_work_email", "/v1/people/email-finder"),
    ("find_people_by_role", "/v1/people/role-finder"),
    ("search_people", "/v3/people/search"),
];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..300).prop_map(|n| json!(n)),
        (-1.0f64..1e3).prop_map(|f| json!(f)),
        prop_oneof![
            Just("jane@example.org"),
            Just("example.org"),
            Just("Jane"),
            Just(""),
            Just(" "),
            Just("https://www.linkedin.com/in/jane"),
            Just("CEO"),
            Just("not an email"),
            Just("a\u{202e}b"),
            Just("../x"),
        ]
        .prop_map(|s| json!(s)),
        "\\PC{0,30}".prop_map(Value::String),
        prop::collection::vec("[a-zA-Z ]{0,12}", 0..3).prop_map(|v| json!(v)),
        Just(json!({"nested": 1})),
    ]
}

fn arguments(properties: Vec<String>) -> impl Strategy<Value = Map<String, Value>> {
    let mut names = properties;
    names.extend(["bogus".to_string(), "confirmation_token".to_string()]);
    prop::collection::btree_map(prop::sample::select(names), value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_are_refused_naming_a_field_or_sent_exactly_once() {
    let mock = Mock::start(CANARY_KEY).await;
    for (_, route) in TOOLS {
        mock.on(
            "POST",
            route,
            Reply::json(200, &json!({"credits_consumed": 0})),
        );
    }
    let mut config = Config::new(ApiKey::new(CANARY_KEY).unwrap());
    config.base_url = mock.url();
    config.rate_limit_per_minute = 0;
    let client = connect(&config).unwrap();
    // What the property test found: a null list passed validation (null is "not given") and
    // then failed the typed body with an error naming no field. Now it is left out.
    let search = find_tool("search_people").unwrap();
    let args = json!({"company_domain": "example.org", "channels": null, "limit": 5});
    let outcome = call_tool(&client, search, args.as_object().unwrap().clone()).await;
    assert!(!outcome.is_error, "{}", outcome.structured);
    assert_eq!(
        mock.requests().pop().unwrap().json(),
        json!({"company_domain": "example.org", "limit": 5})
    );
    let cases: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new(RunnerConfig::default());
    let (mut refused, mut sent) = (0, 0);
    for n in 0..cases {
        let (name, route) = TOOLS[n % TOOLS.len()];
        let tool = find_tool(name).unwrap();
        let schema: Value = serde_json::from_str(tool.input_schema).unwrap();
        let properties: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let args = arguments(properties)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let before = mock.total();
        let outcome = call_tool(&client, tool, args.clone()).await;
        let s = &outcome.structured;
        if s["kind"] == "invalid_arguments" {
            refused += 1;
            assert!(
                s["field"].as_str().is_some_and(|f| !f.is_empty())
                    || s["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("give one of") || m.contains('`')),
                "{name} {args:?}: refused without naming a field: {s}"
            );
            assert_eq!(mock.total(), before, "{name} {args:?}: refused, yet sent");
        } else {
            sent += 1;
            assert!(!outcome.is_error, "{name} {args:?}: {s}");
            assert_eq!(
                mock.total(),
                before + 1,
                "{name} {args:?}: exactly one request"
            );
            let request = mock.requests().pop().unwrap();
            assert_eq!(request.path, route);
            let body = request.json();
            // Null means not given (it is left out), and the typed client leaves an empty list
            // out too (LeadMagic reads both as no filter); everything else goes as given.
            let expected: Map<String, Value> = args
                .into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                .collect();
            assert_eq!(
                body,
                Value::Object(expected),
                "{name}: the body is the arguments"
            );
        }
    }
    eprintln!(
        "arguments: {cases} sets, {refused} refused naming a field, {sent} sent exactly once"
    );
}
