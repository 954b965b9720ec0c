//! Rewrites a 3.0/3.1 document into the OpenAPI 3.0.3 subset that progenitor 0.15 and
//! openapiv3 2.2 accept, and makes response types lenient.
//!
//! The original document is never changed: tool schemas are built from it (see `schema.rs`).

use super::preflight::Operation;
use super::{GenError, is_constraint_only, without_type_arrays};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// How a schema will be used by the generated types.
#[derive(Clone, Copy, PartialEq)]
pub enum Side {
    /// Request: typed and validating; `default`s removed so nothing is sent unasked.
    Request,
    /// Response: lenient, so a new upstream value or a missing field never fails a call.
    Response,
}

/// Schema keywords progenitor/openapiv3 cannot read, dropped everywhere.
const DROPPED: [&str; 11] = [
    "examples",
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "contentMediaType",
    "contentEncoding",
    "dependentRequired",
    "patternProperties",
    "propertyNames",
    "contains",
];

/// Rewrite one schema in place for the given side.
pub fn schema(v: &mut Value, side: Side) {
    let Some(obj) = v.as_object_mut() else { return };
    if obj.contains_key("$ref") {
        // 3.0 forbids siblings of $ref; keep the reference alone.
        obj.retain(|k, _| k == "$ref");
        return;
    }
    for k in DROPPED {
        obj.remove(k);
    }
    // 3.1 `type: [T, "null"]` -> `type: T` + `nullable`; several types -> anyOf.
    if without_type_arrays(obj) {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    if obj.get("type") == Some(&json!("null")) {
        obj.remove("type");
        obj.insert("nullable".into(), Value::Bool(true));
    }
    numeric_exclusive(obj, "exclusiveMinimum", "minimum", |a, b| a >= b);
    numeric_exclusive(obj, "exclusiveMaximum", "maximum", |a, b| a <= b);
    // `{type: "null"}` branches become `nullable` on the parent.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.get_mut(key) {
            let before = branches.len();
            branches.retain(|b| b.get("type") != Some(&json!("null")));
            if branches.len() < before {
                obj.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
    // Branches that only say which fields are required ("one of these identifiers") are
    // checked by the tool validator; typify cannot turn them into types.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.get(key)
            && !branches.is_empty()
            && branches.iter().all(is_constraint_only)
        {
            obj.remove(key);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.get(key) {
            if branches.len() == 1 {
                let only = branches[0].clone();
                obj.remove(key);
                obj.insert("allOf".into(), json!([only]));
            } else if branches.is_empty() {
                obj.remove(key);
            }
        }
    }
    if let Some(Value::Array(_)) = obj.get("items") {
        obj.insert("items".into(), json!({})); // tuples have no 3.0 form
    }
    obj.remove("default");
    if side == Side::Response {
        for k in [
            "required",
            "enum",
            "format",
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minItems",
            "maxItems",
            "uniqueItems",
            "discriminator",
            "multipleOf",
        ] {
            obj.remove(k);
        }
        if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
            obj.remove("additionalProperties");
        }
        if obj.get("type") == Some(&json!("integer")) {
            obj.insert("type".into(), json!("number")); // fractional credits occur
        }
    }
    for (k, child) in obj.iter_mut() {
        match k.as_str() {
            "properties" => {
                if let Some(props) = child.as_object_mut() {
                    for p in props.values_mut() {
                        schema(p, side);
                    }
                }
            }
            "items" | "not" => schema(child, side),
            "additionalProperties" if child.is_object() => schema(child, side),
            "allOf" | "anyOf" | "oneOf" => {
                for b in child.as_array_mut().into_iter().flatten() {
                    schema(b, side);
                }
            }
            _ => {}
        }
    }
}

/// 3.1 numeric `exclusiveMinimum: n` -> 3.0 `minimum: n` + `exclusiveMinimum: true`; the stricter
/// bound wins when both are given.
fn numeric_exclusive(
    obj: &mut Map<String, Value>,
    key: &str,
    bound: &str,
    stricter_or_equal: fn(f64, f64) -> bool,
) {
    let Some(ex) = obj.get(key).and_then(Value::as_f64) else {
        return;
    };
    let ex_value = obj.remove(key).unwrap();
    match obj.get(bound).and_then(Value::as_f64) {
        Some(b) if !stricter_or_equal(ex, b) => {} // the inclusive bound is stricter
        _ => {
            obj.insert(bound.into(), ex_value);
            obj.insert(key.into(), Value::Bool(true));
        }
    }
}

/// Names of the component schemas reachable from `roots`.
fn reachable(doc: &Value, roots: &[&Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<Value> = roots.iter().map(|v| (*v).clone()).collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(Value::as_str)
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                    && seen.insert(name.to_string())
                    && let Some(t) = super::preflight::resolve(doc, r)
                {
                    stack.push(t.clone());
                }
                stack.extend(o.into_iter().map(|(_, v)| v));
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    seen
}

/// Build the progenitor input: OpenAPI 3.0.3, one JSON request body, one 2xx response, no
/// documented errors (the runtime reads error bodies itself), lenient response schemas.
pub fn for_progenitor(doc: &Value, ops: &[Operation]) -> Result<Value, GenError> {
    let response_roots: Vec<&Value> = ops
        .iter()
        .filter_map(|o| o.success.media.as_ref().map(|m| &m.1))
        .collect();
    let lenient = reachable(doc, &response_roots);

    let mut schemas = Map::new();
    if let Some(components) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, s) in components {
            let mut s = s.clone();
            let side = if lenient.contains(name) {
                Side::Response
            } else {
                Side::Request
            };
            schema(&mut s, side);
            schemas.insert(name.clone(), s);
        }
    }

    let mut paths = Map::new();
    for op in ops {
        let mut out = Map::new();
        out.insert("operationId".into(), json!(op.operation_id));
        if let Some(d) = &op.description {
            out.insert("description".into(), json!(d));
        }
        let params: Vec<Value> = op
            .params
            .iter()
            .map(|p| {
                let mut s = p.schema.clone();
                schema(&mut s, Side::Request);
                json!({ "name": p.name, "in": p.location, "required": p.required, "schema": s })
            })
            .collect();
        if !params.is_empty() {
            out.insert("parameters".into(), Value::Array(params));
        }
        if let Some((media, body)) = &op.body {
            let mut body = match body.get("$ref").and_then(Value::as_str) {
                // Inline the top-level body so it alone gets `deny_unknown_fields`.
                Some(r) if !lenient.contains(r.trim_start_matches("#/components/schemas/")) => {
                    super::preflight::deref(doc, body)
                        .cloned()
                        .unwrap_or_else(|| body.clone())
                }
                _ => body.clone(),
            };
            schema(&mut body, Side::Request);
            if let Some(o) = body.as_object_mut() {
                let plain_object = o.get("type") == Some(&json!("object"))
                    && !["allOf", "anyOf", "oneOf", "$ref"]
                        .iter()
                        .any(|k| o.contains_key(*k));
                if plain_object && !o.contains_key("additionalProperties") {
                    o.insert("additionalProperties".into(), Value::Bool(false));
                }
            }
            out.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { media: { "schema": body } } }),
            );
        }
        let mut success = json!({ "description": "success" });
        if let Some((media, s)) = &op.success.media {
            let mut s = s.clone();
            schema(&mut s, Side::Response);
            success["content"] = json!({ media: { "schema": s } });
        }
        out.insert(
            "responses".into(),
            json!({ op.success.status.clone(): success }),
        );
        let item = paths.entry(op.path.clone()).or_insert_with(|| json!({}));
        item[op.method.to_lowercase()] = Value::Object(out);
    }
    if paths.is_empty() {
        return Err(GenError::new(
            None,
            "#/paths",
            "nothing to generate",
            "add operations",
        ));
    }
    let title = doc
        .pointer("/info/title")
        .cloned()
        .unwrap_or(json!("LeadMagic API"));
    let version = doc.pointer("/info/version").cloned().unwrap_or(json!("0"));
    Ok(json!({
        "openapi": "3.0.3",
        "info": { "title": title, "version": version },
        "paths": paths,
        "components": { "schemas": schemas },
    }))
}
