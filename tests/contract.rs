//! The contract and the overlay: the committed contract is exactly what `cargo xtask import`
//! makes of LeadMagic's document and holds none of its prose; the overlay curates every
//! operation; and the tool-surface diff classifies each kind of change (fixture pairs).

mod common;

#[path = "../build/mod.rs"]
#[allow(dead_code)]
mod generator;

use generator::surface::{Change, Impact, diff, surface};
use serde_json::{Value, json};
use std::path::Path;

fn read(path: &Path) -> Value {
    generator::load::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn repo(path: &str) -> Value {
    read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
}

fn upstream() -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/leadmagic-api/upstream/leadmagic-openapi-3.1-v1.4.35.yaml");
    if path.exists() {
        Some(read(&path))
    } else {
        common::skip(&format!(
            "{} is absent (it sits beside the repository in CI)",
            path.display()
        ));
        None
    }
}

/// Every prose string of LeadMagic's document: the values of its description, summary and
/// title keywords (property names excepted), and its sentence enums.
fn prose(v: &Value, in_properties: bool, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if !in_properties
                    && matches!(k.as_str(), "description" | "summary" | "title")
                    && let Some(s) = x.as_str()
                    && s.split_whitespace().count() >= 3
                {
                    out.push(s.to_string());
                }
                if !in_properties && k == "enum" {
                    for s in x.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if generator::import::is_sentence(s) {
                            out.push(s.to_string());
                        }
                    }
                }
                prose(x, !in_properties && k == "properties", out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| prose(x, false, out)),
        _ => {}
    }
}

#[test]
fn the_contract_is_the_facts_only_import_of_leadmagics_document() {
    let Some(upstream) = upstream() else { return };
    let contract = repo("openapi/leadmagic.contract.yaml");
    // What `cargo xtask import` would write, given the recorded provenance.
    let p = &contract["x-leadmagic-import"];
    let provenance = generator::import::Provenance {
        source: p["source"].as_str().unwrap().into(),
        sha256: p["sha256"].as_str().unwrap().into(),
        date: p["imported"].as_str().unwrap().into(),
    };
    assert_eq!(
        generator::import::facts(&upstream, &provenance),
        contract,
        "openapi/leadmagic.contract.yaml is not what `cargo xtask import` makes of the document"
    );
    assert!(generator::import::prose_left(&contract).is_empty());
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/leadmagic.contract.yaml"),
    )
    .unwrap();
    let mut sentences = Vec::new();
    prose(&upstream, false, &mut sentences);
    assert!(
        sentences.len() > 200,
        "the document has prose to remove: {}",
        sentences.len()
    );
    let left: Vec<&String> = sentences
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .collect();
    assert!(
        left.is_empty(),
        "LeadMagic's prose in the contract: {left:?}"
    );
    // Its sha256 is the document's.
    assert_eq!(
        p["sha256"],
        "1f289eff3a26b20933cc04cf0aa4de11dfa8ae4e0b6b571e95786e99974e9b11"
    );
}

fn merged() -> Value {
    generator::overlay::apply(
        &repo("openapi/leadmagic.contract.yaml"),
        &repo("openapi/leadmagic.overlay.yaml"),
    )
    .unwrap()
}

#[test]
fn the_overlay_curates_every_operation() {
    let tools = surface(&merged()).unwrap();
    assert!(tools.len() >= 90);
    let uncurated: Vec<&str> = tools
        .iter()
        .filter(|t| !t.curated)
        .map(|t| t.route.as_str())
        .collect();
    assert!(uncurated.is_empty(), "{uncurated:?}");
}

#[test]
fn an_overlay_action_that_matches_nothing_fails_naming_it() {
    let mut overlay = repo("openapi/leadmagic.overlay.yaml");
    overlay["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"target": "$.paths['/v9/gone'].post", "update": {"summary": "x"}}));
    let err = generator::overlay::apply(&repo("openapi/leadmagic.contract.yaml"), &overlay)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/v9/gone") && err.contains("actions["),
        "{err}"
    );
}

/// The changes from the current document to a copy changed by `edit`.
fn changes(edit: impl FnOnce(&mut Value)) -> Vec<Change> {
    let old = merged();
    let mut new = old.clone();
    edit(&mut new);
    diff(&surface(&old).unwrap(), &surface(&new).unwrap())
}

fn only(changes: &[Change]) -> &Change {
    assert_eq!(changes.len(), 1, "{changes:#?}");
    &changes[0]
}

fn body_props<'a>(doc: &'a mut Value, path: &str) -> &'a mut serde_json::Map<String, Value> {
    let pointer = format!(
        "/paths/{}/post/requestBody/content/application~1json/schema/properties",
        path.replace('/', "~1")
    );
    doc.pointer_mut(&pointer).unwrap().as_object_mut().unwrap()
}

#[test]
fn the_surface_diff_classifies_each_kind_of_change() {
    assert!(changes(|_| {}).is_empty(), "no change, nothing reported");

    // An added operation: compatible for both.
    let c = changes(|d| {
        let op = d["paths"]["/v1/credits"]["get"].clone();
        let mut op = op;
        op["operationId"] = json!("check-credits-v2");
        op["x-leadmagic-tool"] = json!("check_credit_balance_v2");
        op["x-leadmagic-aliases"] = json!([]);
        d["paths"]["/v2/credits"] = json!({ "get": op });
    });
    let c = only(&c);
    assert!(c.what.starts_with("tool added"), "{c:?}");
    assert_eq!((c.agent, c.rust), (Impact::Compatible, Impact::Compatible));

    // A removed operation: breaking for both.
    let c = changes(|d| {
        d["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/v1/jobs/regions");
    });
    let c = only(&c);
    assert!(
        c.what.starts_with("tool removed") && c.tool == "list_job_regions",
        "{c:?}"
    );
    assert_eq!((c.agent, c.rust), (Impact::Breaking, Impact::Breaking));

    // A renamed operation (new operationId, no curated name): both names change.
    let c = changes(|d| {
        let op = d["paths"]["/v1/jobs/regions"]["get"]
            .as_object_mut()
            .unwrap();
        op.insert("operationId".into(), json!("job-region-list"));
        op.remove("x-leadmagic-tool");
    });
    assert_eq!(c.len(), 2, "{c:#?}");
    assert!(
        c.iter()
            .any(|c| c.what.contains("renamed from `list_job_regions`")
                && c.agent == Impact::Breaking)
    );
    assert!(
        c.iter()
            .any(|c| c.what.contains("client method renamed") && c.rust == Impact::Breaking)
    );
    // ...unless the old name stays as an alias: then compatible for an agent.
    let c = changes(|d| {
        let op = d["paths"]["/v1/jobs/regions"]["get"]
            .as_object_mut()
            .unwrap();
        op.insert("x-leadmagic-tool".into(), json!("list_regions"));
        op.insert("x-leadmagic-aliases".into(), json!(["list_job_regions"]));
    });
    assert_eq!(only(&c).agent, Impact::Compatible, "{c:?}");

    // A new enum value: wider request (compatible), wider response (breaking for an agent).
    let c = changes(|d| {
        let level = &mut body_props(d, "/v1/jobs/jobs-finder")["experience_level"]["enum"];
        level.as_array_mut().unwrap().push(json!("intern"));
    });
    let c = only(&c);
    assert!(c.what.contains("gained enum values"), "{c:?}");
    assert_eq!(c.agent, Impact::Compatible);
    let c = changes(|d| {
        let p = "/paths/~1bulk~1jobs~1{jobId}~1priority/patch/requestBody/content/application~1json/schema/properties/priority/enum";
        d.pointer_mut(p)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .retain(|v| v != "high");
    });
    let c = only(&c);
    assert!(c.what.contains("lost enum values"), "{c:?}");
    assert_eq!((c.agent, c.rust), (Impact::Breaking, Impact::Breaking));

    // A newly required field: breaking for both.
    let c = changes(|d| {
        let schema = d
            .pointer_mut("/paths/~1v1~1people~1email-validation/post/requestBody/content/application~1json/schema/required")
            .unwrap();
        schema.as_array_mut().unwrap().push(json!("first_name"));
    });
    let c = only(&c);
    assert!(c.what.contains("`first_name` is now required"), "{c:?}");
    assert_eq!((c.agent, c.rust), (Impact::Breaking, Impact::Breaking));

    // A changed type: breaking.
    let c = changes(|d| {
        body_props(d, "/v1/people/employee-finder")["limit"]["type"] = json!("string");
    });
    assert!(
        c.iter().any(|c| c.what.contains("`limit` type")
            && c.agent == Impact::Breaking
            && c.rust == Impact::Breaking),
        "{c:#?}"
    );

    // A changed cost: dearer breaks an agent's plan, cheaper does not.
    let c = changes(|d| {
        d["paths"]["/v1/people/email-finder"]["post"]["x-leadmagic-credits"]["amount"] = json!(2);
    });
    let c = only(&c);
    assert!(c.what.starts_with("cost changed"), "{c:?}");
    assert_eq!((c.agent, c.rust), (Impact::Breaking, Impact::None));
    let c = changes(|d| {
        d["paths"]["/v1/people/email-finder"]["post"]["x-leadmagic-credits"]["amount"] = json!(0.5);
    });
    assert_eq!(only(&c).agent, Impact::Compatible);

    // A hint that lets a client do more without asking: breaking.
    let c = changes(|d| {
        d["paths"]["/v1/batch/budgets/{id}"]["delete"]["x-leadmagic-annotations"]["destructive"] =
            json!(false);
    });
    assert_eq!(
        only(&c).agent,
        Impact::Compatible,
        "less destructive is safer"
    );
    let c = changes(|d| {
        d["paths"]["/v1/batch/budgets"]["get"]["x-leadmagic-annotations"]["readOnly"] =
            json!(false);
    });
    assert_eq!(only(&c).agent, Impact::Breaking);

    // A result field removed: breaking for both; added: compatible.
    let c = changes(|d| {
        let p = "/paths/~1v1~1people~1email-validation/post/responses/200/content/application~1json/schema/properties";
        d.pointer_mut(p)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("mx_provider");
    });
    let c = only(&c);
    assert!(
        c.what.contains("result field `mx_provider` removed"),
        "{c:?}"
    );
    assert_eq!((c.agent, c.rust), (Impact::Breaking, Impact::Breaking));
}
