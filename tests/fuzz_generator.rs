//! Property test of the generator: the overlay, the normaliser and the code generator, run on
//! mutated documents, return a `GenError` or a result, never a panic. The base is a small
//! document with the constructs LeadMagic's uses (refs, allOf, oneOf, enums, nullable, path and
//! query parameters, a body, problem+json errors) and a small overlay; a case deletes, replaces
//! or retypes a few of its nodes. CI runs 64 cases; `PROPTEST_CASES=N` makes a long run.

#[path = "../build/mod.rs"]
#[allow(dead_code)]
mod generator;

use proptest::prelude::*;
use serde_json::{Value, json};

const BASE: &str = r##"
openapi: 3.1.0
info: { title: Fixture, version: '1.0.0' }
paths:
  /v1/people/email-validation:
    post:
      operationId: validate_email
      tags: [people]
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/EmailRequest' }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                allOf:
                  - $ref: '#/components/schemas/Base'
                  - type: object
                    properties:
                      email_status: { type: string, enum: [valid, invalid, unknown] }
                      score: { type: [number, "null"] }
        "400":
          description: bad
          content:
            application/problem+json:
              schema: { $ref: '#/components/schemas/Problem' }
  /v1/jobs/{jobId}:
    get:
      operationId: get_job
      tags: [bulk]
      parameters:
        - { name: jobId, in: path, required: true, schema: { type: string, format: uuid } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100, exclusiveMaximum: 101 } }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                oneOf:
                  - { type: object, properties: { status: { type: string } } }
                  - { type: array, items: { type: string } }
components:
  schemas:
    EmailRequest:
      type: object
      required: [email]
      properties:
        email: { type: string, format: email, default: a@example.org }
        first_name: { type: [string, "null"] }
        tags: { type: array, items: { type: string, const: x } }
      additionalProperties: false
    Base:
      type: object
      properties:
        credits_consumed: { type: number }
        message: { type: string }
    Problem:
      type: object
      properties: { code: { type: string }, detail: { type: string } }
"##;

const OVERLAY: &str = r##"
overlay: 1.0.0
info: { title: fixture curation, version: 1.0.0 }
actions:
  - target: $.paths['/v1/people/email-validation'].post
    update:
      x-leadmagic-tool: validate_work_email
      x-leadmagic-credits: {amount: 0.25, per: call, free_when: unknown}
      x-leadmagic-annotations: {readOnly: true, destructive: false, idempotent: false, openWorld: true}
  - target: $.paths['/v1/jobs/{jobId}'].get
    update:
      x-leadmagic-credits: {amount: 0}
      x-leadmagic-one-of: [[jobId]]
"##;

/// Every path to a node of the document, as a list of keys and indexes.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(k.clone());
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(i.to_string());
                paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(p)?,
            Value::Array(a) => a.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete,
    Replace(Value),
    Retype(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!("")),
        Just(json!("#/components/schemas/Missing")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"$ref": "#/components/schemas/Base"})),
        Just(json!({"type": ["string", "integer", "null"]})),
        Just(json!({"anyOf": [{"type": "string"}, {"type": "object"}]})),
    ];
    prop_oneof![
        Just(Mutation::Delete),
        value.prop_map(Mutation::Replace),
        prop_oneof![
            Just("string"),
            Just("integer"),
            Just("number"),
            Just("boolean"),
            Just("array"),
            Just("object"),
            Just("null"),
            Just("file")
        ]
        .prop_map(Mutation::Retype),
    ]
}

fn mutate(doc: &mut Value, picks: &[(usize, Mutation)]) {
    for (pick, m) in picks {
        let mut all = Vec::new();
        paths(doc, &mut Vec::new(), &mut all);
        let path = all[pick % all.len()].clone();
        let Some((last, parent_path)) = path.split_last() else {
            continue;
        };
        match m {
            Mutation::Delete => match node(doc, parent_path) {
                Some(Value::Object(map)) => {
                    map.remove(last);
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            },
            Mutation::Replace(v) => {
                if let Some(n) = node(doc, &path) {
                    *n = v.clone();
                }
            }
            Mutation::Retype(t) => {
                if let Some(Value::Object(map)) = node(doc, &path) {
                    map.insert("type".into(), json!(t));
                }
            }
        }
    }
}

fn run_pipeline(doc: &Value, overlay: &Value) -> Result<(), String> {
    let doc = generator::overlay::apply(doc, overlay).map_err(|e| e.to_string())?;
    generator::generate(&doc)
        .map(drop)
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_documents_give_an_error_or_code_never_a_panic(
        doc_picks in prop::collection::vec((any::<usize>(), mutation()), 1..4),
        overlay_picks in prop::collection::vec((any::<usize>(), mutation()), 0..2),
    ) {
        let mut doc = generator::load::parse(BASE).unwrap();
        let mut overlay = generator::load::parse(OVERLAY).unwrap();
        mutate(&mut doc, &doc_picks);
        mutate(&mut overlay, &overlay_picks);
        let outcome = std::panic::catch_unwind(|| run_pipeline(&doc, &overlay));
        prop_assert!(outcome.is_ok(), "a panic on {}\nwith overlay {}", doc, overlay);
    }
}

#[test]
fn the_base_document_generates() {
    let doc = generator::load::parse(BASE).unwrap();
    let overlay = generator::load::parse(OVERLAY).unwrap();
    run_pipeline(&doc, &overlay).unwrap();
}

/// Defects the property test found, kept as plain tests: a schema that is only a reference to
/// itself overflowed the stack (now a pre-flight error), and `type: file` reached a `todo!` in
/// progenitor (now a pre-flight error). A schema that refers to itself through a property is
/// fine.
#[test]
fn what_the_property_test_found() {
    let case = |path: &str, v: Value| {
        let mut doc = generator::load::parse(BASE).unwrap();
        *doc.pointer_mut(path).unwrap() = v;
        run_pipeline(&doc, &generator::load::parse(OVERLAY).unwrap())
    };
    let ring = case(
        "/components/schemas/Base",
        json!({"$ref": "#/components/schemas/Base"}),
    );
    assert!(ring.unwrap_err().contains("chain of references"));
    let file = case(
        "/components/schemas/Base/properties/message",
        json!({"type": "file"}),
    );
    assert!(
        file.unwrap_err()
            .contains("`type: \"file\"` is not a JSON Schema type")
    );
    case(
        "/components/schemas/Base/properties/message",
        json!({"$ref": "#/components/schemas/Base"}),
    )
    .unwrap();
}
