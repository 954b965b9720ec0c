//! The generator (build/) on small OpenAPI 3.1 fixture documents, one construct each.

#[path = "../build/mod.rs"]
#[allow(dead_code)]
mod generator;

use generator::{GenError, Generated};
use serde_json::{Value, json};

fn doc(paths: &str, components: &str) -> Value {
    let text = format!(
        "openapi: 3.1.0\ninfo: {{ title: Fixture, version: '9.9.9' }}\npaths:\n{paths}\ncomponents:\n{components}\n"
    );
    generator::load::parse(&text).unwrap_or_else(|e| panic!("fixture YAML: {e}\n{text}"))
}

fn generate(paths: &str, components: &str) -> Generated {
    generator::generate(&doc(paths, components))
        .unwrap_or_else(|e| panic!("generation failed: {e}"))
}

fn fail(paths: &str, components: &str) -> GenError {
    match generator::generate(&doc(paths, components)) {
        Ok(_) => panic!("generation should have failed"),
        Err(e) => e,
    }
}

/// The JSON string literal of a ToolDef field (`input_schema`, `output_schema`), parsed.
fn schema_field(g: &Generated, tool: &str, field: &str) -> Value {
    let file: syn::File = syn::parse_str(&g.tools).expect("tools.rs parses");
    let text = quote::ToTokens::to_token_stream(&file).to_string();
    let start = text
        .find(&format!("name : \"{tool}\""))
        .expect("tool present");
    let rest = &text[start..];
    let at = rest.find(&format!("{field} : ")).unwrap() + field.len() + 3;
    let lit: syn::LitStr = syn::parse_str(rest[at..].split(" ,").next().unwrap()).unwrap();
    serde_json::from_str(&lit.value()).unwrap()
}

fn has_key_anywhere(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key_anywhere(x, key)),
        Value::Array(a) => a.iter().any(|x| has_key_anywhere(x, key)),
        _ => false,
    }
}

const A: &str = "x-leadmagic-annotations: { readOnly: true, destructive: false, idempotent: false, openWorld: true }";
const NO_COMPONENTS: &str = "  schemas: {}";

#[test]
fn type_arrays_become_nullable_and_portable() {
    let g = generate(
        &format!(
            r##"  /v1/thing:
    post:
      operationId: get-thing
      {A}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {{ type: [string, "null"] }}
                either: {{ type: [integer, string] }}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  value: {{ type: [string, "null"] }}
                  count: {{ type: integer }}"##
        ),
        NO_COMPONENTS,
    );
    assert_eq!(g.operation_count, 1);
    let input = schema_field(&g, "get_thing", "input_schema");
    assert_eq!(
        input["properties"]["name"]["type"], "string",
        "no type arrays in input schemas"
    );
    assert!(input["properties"]["either"]["anyOf"].is_array());
    let output = schema_field(&g, "get_thing", "output_schema");
    assert_eq!(
        output["properties"]["value"],
        json!({}),
        "any value, null included"
    );
    assert_eq!(output["properties"]["count"], json!({}));
    assert!(output.get("required").is_none());
    assert!(g.client.contains("pub async fn get_thing"));
}

#[test]
fn numeric_exclusive_bounds_are_rewritten() {
    let g = generate(
        &format!(
            r##"  /v1/budget:
    post:
      operationId: set_budget
      {A}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                pct: {{ type: number, exclusiveMinimum: 0, exclusiveMaximum: 1 }}
                floor: {{ type: number, minimum: 5, exclusiveMinimum: 2 }}
      responses:
        "204": {{ description: done }}"##
        ),
        NO_COMPONENTS,
    );
    let input = schema_field(&g, "set_budget", "input_schema");
    assert_eq!(input["properties"]["pct"]["exclusiveMinimum"], 0);
    assert_eq!(input["properties"]["pct"]["exclusiveMaximum"], 1);
    assert_eq!(input["properties"]["floor"]["minimum"], 5);
    // For progenitor (3.0): boolean form, and the stricter bound wins.
    let mut pct = json!({ "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 });
    generator::normalize::schema(&mut pct, generator::normalize::Side::Request);
    assert_eq!(
        pct,
        json!({ "type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true })
    );
    let mut floor = json!({ "type": "number", "minimum": 5, "exclusiveMinimum": 2 });
    generator::normalize::schema(&mut floor, generator::normalize::Side::Request);
    assert_eq!(floor, json!({ "type": "number", "minimum": 5 }));
    assert!(g.tools.contains("output: Output::Empty"));
}

#[test]
fn path_and_query_parameters_with_patch_and_delete() {
    let g = generate(
        r##"  /v1/items/{itemId}:
    parameters:
      - { name: itemId, in: path, required: true, schema: { type: string, format: uuid } }
    patch:
      operationId: update_item
      parameters:
        - { name: dry_run, in: query, schema: { type: boolean } }
        - { name: X-Trace, in: header, schema: { type: string } }
      requestBody:
        content:
          application/json:
            schema: { type: object, properties: { label: { type: string } } }
      responses:
        "200": { description: ok, content: { application/json: { schema: { type: object } } } }
    delete:
      operationId: delete_item
      responses:
        "200": { description: deleted }"##,
        NO_COMPONENTS,
    );
    let input = schema_field(&g, "update_item", "input_schema");
    assert_eq!(input["properties"]["itemId"]["format"], "uuid");
    assert_eq!(input["properties"]["dry_run"]["type"], "boolean");
    assert_eq!(input["properties"]["label"]["type"], "string");
    assert!(
        input["properties"].get("X-Trace").is_none(),
        "header parameters are the runtime's job"
    );
    assert_eq!(input["required"], json!(["itemId"]));
    // Dispatch arms pass path, query and body in the client method's order.
    assert!(
        g.tools
            .contains("client.update_item(&item_id, dry_run, &body)"),
        "{}",
        g.tools
    );
    assert!(g.tools.contains("client.delete_item(&item_id)"));
    // No explicit annotations: DELETE is destructive, PATCH is treated as a destructive write.
    assert!(g.warnings.iter().any(|w| w.contains("delete_item")));
    let delete_at = g.tools.find("name: \"delete_item\"").unwrap();
    assert!(g.tools[delete_at..].contains("destructive: true"));
}

#[test]
fn problem_json_errors_and_response_refs_are_dropped_from_the_client() {
    let g = generate(
        &format!(
            r##"  /bulk/submit:
    post:
      operationId: bulk_submit
      {A}
      requestBody:
        content:
          application/json:
            schema: {{ type: object, properties: {{ rows: {{ type: array, items: {{ type: object }} }} }} }}
      responses:
        "202": {{ description: accepted, content: {{ application/json: {{ schema: {{ type: object }} }} }} }}
        "400":
          description: bad
          content:
            application/problem+json:
              schema: {{ $ref: "#/components/responses/Bad" }}
        "402": {{ description: pay, content: {{ application/problem+json: {{ schema: {{ $ref: "#/components/schemas/Problem" }} }} }} }}
        "429": {{ description: slow, content: {{ application/json: {{ schema: {{ type: object, properties: {{ wait: {{ type: integer }} }} }} }} }} }}"##
        ),
        r##"  schemas:
    Problem: { type: object, properties: { title: { type: string } } }
  responses:
    Bad: { description: bad }"##,
    );
    assert!(g.client.contains("202u16 =>"));
    assert!(
        g.client.contains("Error<()>"),
        "errors are read raw by the runtime"
    );
    let input = schema_field(&g, "bulk_submit", "input_schema");
    assert_eq!(
        input["properties"]["rows"]["items"],
        json!({ "type": "object" })
    );
}

#[test]
fn non_json_responses_are_text_tools() {
    let g = generate(
        &format!(
            r##"  /bulk/jobs/{{jobId}}/download:
    get:
      operationId: download
      {A}
      parameters: [ {{ name: jobId, in: path, required: true, schema: {{ type: string }} }} ]
      responses:
        "200": {{ description: csv, content: {{ text/csv: {{ schema: {{ type: string }} }} }} }}
  /bulk/jobs/{{jobId}}/stream:
    get:
      operationId: stream
      {A}
      parameters: [ {{ name: jobId, in: path, required: true, schema: {{ type: string }} }} ]
      responses:
        "200": {{ description: sse, content: {{ text/event-stream: {{ schema: {{ type: string }} }} }} }}"##
        ),
        NO_COMPONENTS,
    );
    assert_eq!(g.tools.matches("output: Output::Text").count(), 2);
    let out = schema_field(&g, "stream", "output_schema");
    assert_eq!(out["properties"]["truncated"]["type"], "boolean");
    assert!(g.client.contains("ByteStream"));
}

#[test]
fn all_of_one_of_and_nullable() {
    let g = generate(
        &format!(
            r##"  /v3/search:
    post:
      operationId: search
      {A}
      requestBody:
        content:
          application/json:
            schema:
              allOf:
                - $ref: "#/components/schemas/Paging"
                - type: object
                  properties:
                    query: {{ type: string, nullable: true }}
                    target:
                      oneOf:
                        - {{ type: string }}
                        - {{ type: integer }}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                oneOf:
                  - {{ $ref: "#/components/schemas/Page" }}
                  - {{ type: array, items: {{ type: object }} }}"##
        ),
        r##"  schemas:
    Paging: { type: object, required: [limit], properties: { limit: { type: integer, minimum: 1, maximum: 50 } } }
    Page: { type: object, properties: { items: { type: array, items: { type: object } }, next: { type: string, nullable: true } } }"##,
    );
    let input = schema_field(&g, "search", "input_schema");
    assert_eq!(
        input["properties"]["limit"]["maximum"], 50,
        "allOf parts merged, $ref inlined"
    );
    assert_eq!(input["required"], json!(["limit"]));
    assert_eq!(input["properties"]["query"]["type"], "string");
    assert!(input["properties"]["target"]["anyOf"].is_array());
    assert!(!has_key_anywhere(&input, "$ref") && !has_key_anywhere(&input, "nullable"));
}

#[test]
fn sample_defaults_are_never_sent_or_advertised() {
    let g = generate(
        &format!(
            r##"  /v1/lookup:
    post:
      operationId: lookup
      {A}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                domain: {{ type: string, default: leadmagic.io }}
                limit: {{ type: integer, default: 10 }}
      responses:
        "200": {{ description: ok, content: {{ application/json: {{ schema: {{ type: object }} }} }} }}"##
        ),
        NO_COMPONENTS,
    );
    assert!(
        !g.client.contains("leadmagic.io"),
        "no default value in the client: it would always be sent"
    );
    assert!(
        g.client
            .contains("pub domain: ::std::option::Option<::std::string::String>")
    );
    let input = schema_field(&g, "lookup", "input_schema");
    assert!(!has_key_anywhere(&input, "default"));
}

#[test]
fn one_of_these_identifiers_becomes_groups() {
    let g = generate(
        &format!(
            r##"  /v1/company:
    post:
      operationId: company
      {A}
      x-leadmagic-credits: {{ amount: 1, per: call, free_when: not found }}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                company_domain: {{ type: string }}
                company_name: {{ type: string }}
              anyOf:
                - required: [company_domain]
                - required: [company_name]
      responses:
        "200": {{ description: ok, content: {{ application/json: {{ schema: {{ type: object }} }} }} }}"##
        ),
        NO_COMPONENTS,
    );
    assert!(
        g.tools
            .contains(r##"any_of_required: &[&["company_domain"], &["company_name"]]"##)
    );
    assert!(g.tools.contains(
        "Give one of: company_domain, company_name. Cost: 1 credit; free when not found."
    ));
    let input = schema_field(&g, "company", "input_schema");
    assert!(
        input.get("anyOf").is_none(),
        "no top-level anyOf: several clients reject it"
    );
}

#[test]
fn an_alternative_that_accepts_anything_constrains_nothing() {
    let g = generate(
        &format!(
            r##"  /v1/company:
    post:
      operationId: company
      {A}
      x-leadmagic-credits: {{ amount: 1, per: call }}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                company_domain: {{ type: string }}
                company_name: {{ type: string }}
                size:
                  anyOf:
                    - {{ type: integer }}
                    - {{}}
              anyOf:
                - required: [company_domain]
                - {{}}
      responses:
        "200": {{ description: ok, content: {{ application/json: {{ schema: {{ type: object }} }} }} }}"##
        ),
        NO_COMPONENTS,
    );
    assert!(g.tools.contains("any_of_required: &[]"), "{}", g.tools);
    assert!(!g.tools.contains("Give one of"));
    let input = schema_field(&g, "company", "input_schema");
    assert!(input.get("anyOf").is_none());
    assert!(
        input["properties"]["size"].get("type").is_none(),
        "size accepts anything, as the document says: {input}"
    );
}

#[test]
fn preflight_missing_operation_id() {
    let e = fail(
        r##"  /v1/x:
    get:
      responses: { "200": { description: ok } }"##,
        NO_COMPONENTS,
    );
    assert_eq!(e.pointer, "#/paths/~1v1~1x/get");
    assert!(e.message.contains("no operationId") && e.fix.contains("operationId"));
}

#[test]
fn preflight_two_success_responses() {
    let e = fail(
        r##"  /v1/x:
    post:
      operationId: x
      responses: { "200": { description: ok }, "201": { description: created } }"##,
        NO_COMPONENTS,
    );
    assert_eq!(e.operation.as_deref(), Some("x"));
    assert!(e.message.contains("exactly one 2xx"));
}

#[test]
fn preflight_name_too_long_and_collisions() {
    let long = "a".repeat(49);
    let e = fail(
        &format!(
            "  /v1/x:\n    get:\n      operationId: {long}\n      responses: {{ \"200\": {{ description: ok }} }}"
        ),
        NO_COMPONENTS,
    );
    assert!(e.message.contains("64"), "{e}");
    let e = fail(
        r##"  /v1/x:
    get:
      operationId: findEmail
      responses: { "200": { description: ok } }
  /v1/y:
    get:
      operationId: find-email
      responses: { "200": { description: ok } }"##,
        NO_COMPONENTS,
    );
    assert!(e.message.contains("find_email"), "{e}");
}

#[test]
fn preflight_response_ref_used_as_schema_and_31_only_keywords() {
    let e = fail(
        r##"  /v1/x:
    post:
      operationId: x
      requestBody: { content: { application/json: { schema: { $ref: "#/components/responses/Bad" } } } }
      responses: { "200": { description: ok } }"##,
        "  responses:\n    Bad: { description: bad }",
    );
    assert!(
        e.pointer
            .ends_with("/requestBody/content/application~1json/schema"),
        "{e}"
    );
    let e = fail(
        r##"  /v1/x:
    post:
      operationId: x
      requestBody: { content: { application/json: { schema: { type: array, prefixItems: [ { type: string } ] } } } }
      responses: { "200": { description: ok } }"##,
        NO_COMPONENTS,
    );
    assert!(e.message.contains("prefixItems"), "{e}");
}

#[test]
fn preflight_partial_annotations_fail() {
    let e = fail(
        r##"  /v1/x:
    post:
      operationId: x
      x-leadmagic-annotations: { readOnly: true }
      responses: { "200": { description: ok } }"##,
        NO_COMPONENTS,
    );
    assert!(e.message.contains("destructive"), "{e}");
}

#[test]
fn our_document_generates_what_is_committed() {
    let read = |path: &str| {
        let text =
            std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        generator::load::parse(&text).unwrap()
    };
    let doc = generator::overlay::apply(
        &read("openapi/leadmagic.contract.yaml"),
        &read("openapi/leadmagic.overlay.yaml"),
    )
    .unwrap();
    let g = generator::generate(&doc).unwrap();
    assert!(
        g.warnings.is_empty(),
        "our overlay curates every operation: {:?}",
        g.warnings
    );
    assert!(g.operation_count >= 90);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/generated/tools.rs"))
            .unwrap();
    assert_eq!(
        g.tools, committed,
        "generated/tools.rs is stale; run `cargo xtask generate`"
    );
}
