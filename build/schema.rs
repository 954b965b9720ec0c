//! MCP tool schemas, built from the original document (not from Rust types, which lose bounds,
//! formats and descriptions).
//!
//! Input schemas are portable across mainstream clients: `$ref`s inlined, no type arrays, no
//! `nullable`, every array has `items`, and `additionalProperties: false` only at the top, where
//! the server enforces it (unknown arguments are refused before anything is sent). Output schemas are
//! lenient and shallow: top-level field names, any value, extra fields allowed.

use super::catalog::Output;
use super::preflight::{Operation, deref};
use super::sample::{Fill, sample};
use super::{GenError, is_constraint_only, without_type_arrays};
use serde_json::{Map, Value, json};

const MAX_INLINE_DEPTH: usize = 8;

/// Keywords kept in input schemas; everything else (examples, titles, defaults, extensions,
/// readOnly, xml, ...) is dropped to keep `tools/list` small and portable.
const INPUT_KEYWORDS: [&str; 18] = [
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "anyOf",
    "additionalProperties",
];

/// Inline references and rewrite one schema into the portable input form.
pub fn portable(doc: &Value, s: &Value, depth: usize) -> Value {
    rewrite(doc, s, depth, false)
}

/// The portable form with each field's `example` kept: what the sandbox's answers are made of.
pub fn with_examples(doc: &Value, s: &Value) -> Value {
    rewrite(doc, s, 0, true)
}

fn rewrite(doc: &Value, s: &Value, depth: usize, examples: bool) -> Value {
    if depth > MAX_INLINE_DEPTH {
        return json!({});
    }
    let s = match deref(doc, s) {
        Some(s) => s,
        None => return json!({}),
    };
    let Some(src) = s.as_object() else {
        return json!({});
    };
    let mut obj = src.clone();

    // allOf: merge the parts (properties and required are unioned).
    if let Some(Value::Array(parts)) = obj.remove("allOf") {
        for part in parts {
            if let Value::Object(p) = rewrite(doc, &part, depth + 1, examples) {
                merge_into(&mut obj, p);
            }
        }
    }
    // Type arrays and nullable: optional fields are simply not required.
    without_type_arrays(&mut obj);
    // 3.0 boolean exclusive bounds -> the 2020-12 numeric form that MCP clients read.
    for (ex, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if obj.get(ex) == Some(&Value::Bool(true)) {
            if let Some(b) = obj.remove(bound) {
                obj.insert(ex.into(), b);
            }
        } else if obj.get(ex) == Some(&Value::Bool(false)) {
            obj.remove(ex);
        }
    }
    // oneOf/anyOf: drop null branches and constraint-only branches (the tool checks "give one
    // of" itself); one branch left -> inline it. A branch that accepts anything (`{}`) makes
    // the whole alternative no constraint at all.
    let mut alternatives: Vec<Value> = Vec::new();
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = obj.remove(key) {
            let resolved: Vec<Value> = branches
                .iter()
                .map(|b| deref(doc, b).cloned().unwrap_or(json!({})))
                .collect();
            if resolved
                .iter()
                .any(|b| b.as_object().is_some_and(Map::is_empty))
            {
                continue;
            }
            for b in resolved {
                if b.get("type") == Some(&json!("null")) || is_constraint_only(&b) {
                    continue;
                }
                alternatives.push(rewrite(doc, &b, depth + 1, examples));
            }
        }
    }
    match alternatives.len() {
        0 => {}
        1 => {
            if let Value::Object(only) = alternatives.remove(0) {
                merge_into(&mut obj, only);
            }
        }
        _ => {
            obj.insert("anyOf".into(), Value::Array(alternatives));
        }
    }
    obj.retain(|k, _| INPUT_KEYWORDS.contains(&k.as_str()) || (examples && k == "example"));
    if obj
        .get("additionalProperties")
        .is_some_and(|a| !a.is_object())
    {
        obj.remove("additionalProperties");
    }
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for p in props.values_mut() {
            *p = rewrite(doc, p, depth + 1, examples);
        }
    }
    if let Some(items) = obj.get("items").cloned() {
        obj.insert("items".into(), rewrite(doc, &items, depth + 1, examples));
    } else if obj.get("type") == Some(&json!("array")) {
        obj.insert("items".into(), json!({}));
    }
    if let Some(ap) = obj.get("additionalProperties").cloned() {
        obj.insert(
            "additionalProperties".into(),
            rewrite(doc, &ap, depth + 1, examples),
        );
    }
    if let Some(Value::Array(branches)) = obj.get_mut("anyOf") {
        for b in branches.iter_mut() {
            *b = rewrite(doc, b, depth + 1, examples);
        }
    }
    if obj
        .get("required")
        .is_some_and(|r| r.as_array().is_some_and(Vec::is_empty))
    {
        obj.remove("required");
    }
    Value::Object(obj)
}

fn merge_into(obj: &mut Map<String, Value>, part: Map<String, Value>) {
    for (k, v) in part {
        match (k.as_str(), obj.get_mut(&k)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(new) = v {
                    existing.extend(new);
                }
            }
            ("required", Some(Value::Array(existing))) => {
                for r in v.as_array().into_iter().flatten() {
                    if !existing.contains(r) {
                        existing.push(r.clone());
                    }
                }
            }
            (_, Some(_)) => {} // the outer schema's own keyword wins
            (_, None) => {
                obj.insert(k, v);
            }
        }
    }
}

/// Groups of fields of which the caller must give at least one group ("one of these
/// identifiers"), from constraint-only `anyOf`/`oneOf` branches of the request body.
pub fn any_of_required(doc: &Value, body: &Value) -> Vec<Vec<String>> {
    let Some(body) = deref(doc, body) else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    let mut parts = vec![body.clone()];
    parts.extend(
        body.get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .cloned(),
    );
    for part in parts {
        let part = deref(doc, &part).cloned().unwrap_or(json!({}));
        for key in ["anyOf", "oneOf"] {
            let branches = part.get(key).and_then(Value::as_array);
            let Some(branches) = branches.filter(|b| b.iter().all(is_constraint_only)) else {
                continue;
            };
            // A branch that requires nothing is always met: no group to enforce.
            if branches
                .iter()
                .any(|b| b["required"].as_array().is_none_or(Vec::is_empty))
            {
                continue;
            }
            for b in branches {
                let names = b["required"].as_array().into_iter().flatten();
                groups.push(names.filter_map(Value::as_str).map(str::to_owned).collect());
            }
        }
    }
    groups
}

/// The tool's input schema: path, query and body fields merged into one object.
pub fn input_schema(doc: &Value, op: &Operation) -> Result<Value, GenError> {
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let oid = Some(op.operation_id.as_str());
    for p in &op.params {
        let mut s = portable(doc, &p.schema, 0);
        if let (Some(d), Some(o)) = (&p.description, s.as_object_mut()) {
            o.entry("description").or_insert_with(|| json!(d));
        }
        if properties.insert(p.name.clone(), s).is_some() {
            return Err(GenError::new(
                oid,
                format!("{}/parameters", op.pointer),
                format!("parameter `{}` is declared twice (path and query)", p.name),
                "rename one of them",
            ));
        }
        if p.required {
            required.push(json!(p.name));
        }
    }
    if let Some((_, body)) = &op.body {
        let b = portable(doc, body, 0);
        if !body_is_free_form(&b) {
            for (k, v) in b
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if properties.insert(k.clone(), v.clone()).is_some() {
                    return Err(GenError::new(
                        oid,
                        format!("{}/requestBody", op.pointer),
                        format!("body field `{k}` has the same name as a path or query parameter"),
                        "rename the parameter or the body field: tool arguments are one flat object",
                    ));
                }
            }
            for r in b
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                required.push(r.clone());
            }
        } else {
            // A body that is not an object travels as the `body` argument.
            if properties.insert("body".into(), b).is_some() {
                return Err(GenError::new(
                    oid,
                    format!("{}/parameters", op.pointer),
                    "a parameter named `body` clashes with the non-object request body",
                    "rename the parameter",
                ));
            }
            required.push(json!("body"));
        }
    }
    // The server refuses arguments the tool does not take, so the schema says so.
    let mut schema =
        json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    Ok(schema)
}

/// A body with no declared fields (any JSON object, or not an object at all) travels whole as
/// the `body` argument; a body with fields spreads them over the tool's arguments.
fn body_is_free_form(b: &Value) -> bool {
    b.get("properties").is_none()
        && !(b.get("type") == Some(&json!("object"))
            && b.get("additionalProperties") == Some(&Value::Bool(false)))
}

/// Whether the body travels as the `body` argument rather than as top-level fields.
pub fn body_is_wrapped(doc: &Value, op: &Operation) -> bool {
    op.body
        .as_ref()
        .is_some_and(|(_, b)| body_is_free_form(&portable(doc, b, 0)))
}

pub fn output_kind(doc: &Value, op: &Operation) -> Output {
    match &op.success.media {
        None => Output::Empty,
        Some((media, s)) if media.contains("json") => {
            let p = portable(doc, s, 0);
            if p.get("type") == Some(&json!("array")) {
                Output::Wrapped
            } else {
                Output::Object
            }
        }
        Some(_) => Output::Text,
    }
}

/// The lenient output schema: the top-level field names, each accepting any value (null
/// included), none required, unknown fields allowed: LeadMagic adds fields, mixes naming styles
/// and sends nulls. Types are left out on purpose: clients validate `structuredContent` against
/// this schema, and every byte here is paid for in the model's context on every request.
pub fn output_schema(doc: &Value, op: &Operation) -> Value {
    match output_kind(doc, op) {
        Output::Empty => json!({ "type": "object" }),
        Output::Text => json!({
            "type": "object",
            "properties": {
                "content_type": { "type": "string" },
                "text": { "type": "string" },
                "truncated": { "type": "boolean" }
            }
        }),
        Output::Wrapped => json!({
            "type": "object",
            "properties": { "items": { "type": "array" } }
        }),
        Output::Object => {
            let s = &op.success.media.as_ref().unwrap().1;
            let p = portable(doc, s, 0);
            let mut props = Map::new();
            let names = p
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten();
            for (name, _) in names {
                props.insert(name.clone(), json!({}));
            }
            if props.is_empty() {
                json!({ "type": "object" })
            } else {
                json!({ "type": "object", "properties": props })
            }
        }
    }
}

/// A plausible response body for the sandbox: the document's example, else one made from the
/// schema. Returns (content type, body text).
pub fn sample_response(doc: &Value, op: &Operation) -> (String, String) {
    match &op.success.media {
        None => ("".into(), "".into()),
        Some((media, s)) if media.contains("json") => {
            let v = op
                .success
                .example
                .clone()
                .unwrap_or_else(|| sample(&with_examples(doc, s), Fill::Every));
            ("application/json".into(), v.to_string())
        }
        Some((media, _)) if media.contains("csv") => {
            (media.clone(), "id,status\n1,sample\n".into())
        }
        Some((media, _)) => (media.clone(), "event: sample\ndata: {}\n\n".into()),
    }
}
