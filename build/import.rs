//! The facts-only import of a LeadMagic OpenAPI document (`cargo xtask import`).
//!
//! Kept: paths, methods, operation ids, tags, parameters, request and response schemas (types,
//! formats, enum values, bounds, `required`), media types, response headers, examples and
//! security. Removed: every piece of prose (`description`, `summary`, `title`, `externalDocs`,
//! enums whose values are sentences, sentences inside examples), the document's own `x-`
//! extensions, and components nothing refers to. Our curation lives in the overlay instead.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Where the imported document came from, recorded in it as `x-leadmagic-import`.
pub struct Provenance {
    pub source: String,
    pub sha256: String,
    pub date: String,
}

/// A string that reads as prose rather than as a value: several words, or a sentence.
pub fn is_sentence(s: &str) -> bool {
    let words = s.split_whitespace().count();
    words >= 3 || (words >= 2 && s.trim_end().ends_with(['.', '!', '?']))
}

/// The facts of `doc`.
pub fn facts(doc: &Value, provenance: &Provenance) -> Value {
    let mut out = Map::new();
    if let Some(v) = doc.get("openapi") {
        out.insert("openapi".into(), v.clone());
    }
    let version = doc
        .pointer("/info/version")
        .cloned()
        .unwrap_or(json!("unknown"));
    out.insert(
        "info".into(),
        json!({ "title": "LeadMagic API", "version": version }),
    );
    out.insert(
        "x-leadmagic-import".into(),
        json!({
            "source": provenance.source,
            "version": version,
            "sha256": provenance.sha256,
            "imported": provenance.date,
        }),
    );
    if let Some(servers) = doc.get("servers").and_then(Value::as_array) {
        let urls: Vec<Value> = servers
            .iter()
            .filter_map(|s| s.get("url"))
            .map(|u| json!({ "url": u }))
            .collect();
        out.insert("servers".into(), Value::Array(urls));
    }
    if let Some(sec) = doc.get("security") {
        out.insert("security".into(), sec.clone());
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut p = Map::new();
        for (path, item) in paths {
            p.insert(path.clone(), path_item(item));
        }
        out.insert("paths".into(), Value::Object(p));
    }
    if let Some(components) = doc.get("components").and_then(Value::as_object) {
        let mut c = Map::new();
        for (kind, entries) in components {
            let Some(entries) = entries.as_object() else {
                continue;
            };
            let cleaned: Map<String, Value> = entries
                .iter()
                .map(|(name, v)| {
                    let v = match kind.as_str() {
                        "schemas" => schema(v),
                        "parameters" => parameter(v),
                        "responses" => response(v),
                        "requestBodies" => request_body(v),
                        "headers" => header(v),
                        "securitySchemes" => security_scheme(v),
                        _ => return (name.clone(), Value::Null),
                    };
                    (name.clone(), v)
                })
                .filter(|(_, v)| !v.is_null())
                .collect();
            if !cleaned.is_empty() {
                c.insert(kind.clone(), Value::Object(cleaned));
            }
        }
        out.insert("components".into(), Value::Object(c));
    }
    let mut out = Value::Object(out);
    drop_unused_components(&mut out);
    out
}

/// Keep only these keys of an object, each cleaned by `f`.
fn keep(v: &Value, keys: &[&str], f: impl Fn(&str, &Value) -> Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    if let Some(r) = obj.get("$ref") {
        return json!({ "$ref": r });
    }
    let mut out = Map::new();
    for (k, x) in obj {
        if keys.contains(&k.as_str()) {
            out.insert(k.clone(), f(k, x));
        }
    }
    Value::Object(out)
}

fn path_item(v: &Value) -> Value {
    keep(
        v,
        &[
            "get",
            "put",
            "post",
            "patch",
            "delete",
            "head",
            "options",
            "parameters",
        ],
        |k, x| match k {
            "parameters" => list(x, parameter),
            _ => operation(x),
        },
    )
}

fn list(v: &Value, f: fn(&Value) -> Value) -> Value {
    match v.as_array() {
        Some(items) => Value::Array(items.iter().map(f).collect()),
        None => v.clone(),
    }
}

fn map_values(v: &Value, f: fn(&Value) -> Value) -> Value {
    match v.as_object() {
        Some(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), f(x))).collect()),
        None => v.clone(),
    }
}

fn operation(v: &Value) -> Value {
    keep(
        v,
        &[
            "operationId",
            "tags",
            "parameters",
            "requestBody",
            "responses",
            "security",
            "deprecated",
        ],
        |k, x| match k {
            "parameters" => list(x, parameter),
            "requestBody" => request_body(x),
            "responses" => map_values(x, response),
            _ => x.clone(),
        },
    )
}

fn parameter(v: &Value) -> Value {
    keep(
        v,
        &[
            "name",
            "in",
            "required",
            "schema",
            "style",
            "explode",
            "deprecated",
            "allowEmptyValue",
            "example",
        ],
        |k, x| match k {
            "schema" => schema(x),
            "example" => data(x),
            _ => x.clone(),
        },
    )
}

fn request_body(v: &Value) -> Value {
    keep(v, &["required", "content"], |k, x| match k {
        "content" => map_values(x, media_type),
        _ => x.clone(),
    })
}

fn response(v: &Value) -> Value {
    keep(v, &["content", "headers"], |k, x| match k {
        "content" => map_values(x, media_type),
        _ => map_values(x, header),
    })
}

fn header(v: &Value) -> Value {
    keep(v, &["required", "schema", "deprecated"], |k, x| match k {
        "schema" => schema(x),
        _ => x.clone(),
    })
}

fn media_type(v: &Value) -> Value {
    keep(v, &["schema", "example", "examples"], |k, x| match k {
        "schema" => schema(x),
        "example" => data(x),
        // Named examples: only their values (each also has a summary and a description).
        _ => match x.as_object() {
            Some(named) => Value::Object(
                named
                    .iter()
                    .filter_map(|(n, e)| {
                        e.get("value")
                            .map(|val| (n.clone(), json!({ "value": data(val) })))
                    })
                    .collect(),
            ),
            None => Value::Null,
        },
    })
}

fn security_scheme(v: &Value) -> Value {
    keep(
        v,
        &[
            "type",
            "in",
            "name",
            "scheme",
            "bearerFormat",
            "flows",
            "openIdConnectUrl",
        ],
        |_, x| x.clone(),
    )
}

/// Schema keywords kept: everything that constrains or shapes a value.
const SCHEMA_KEYWORDS: [&str; 32] = [
    "type",
    "format",
    "enum",
    "const",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "nullable",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "default",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// A schema with its prose removed. Property names are data (a property may well be called
/// `description`); only keywords are filtered.
pub fn schema(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    if let Some(r) = obj.get("$ref") {
        return json!({ "$ref": r });
    }
    let mut out = Map::new();
    for (k, x) in obj {
        if !SCHEMA_KEYWORDS.contains(&k.as_str()) {
            continue;
        }
        let cleaned = match k.as_str() {
            "properties" => map_values(x, schema),
            "items" | "not" => schema(x),
            "additionalProperties" if x.is_object() => schema(x),
            "anyOf" | "oneOf" | "allOf" => list(x, schema),
            "enum" => {
                // An enum of sentences (a list of messages) is prose, not a set of values.
                let prose = x
                    .as_array()
                    .is_some_and(|vals| vals.iter().any(|s| s.as_str().is_some_and(is_sentence)));
                if prose {
                    continue;
                }
                x.clone()
            }
            "example" | "default" | "const" => {
                if x.as_str().is_some_and(is_sentence) {
                    continue;
                }
                data(x)
            }
            "examples" => match x.as_array() {
                Some(items) => Value::Array(
                    items
                        .iter()
                        .filter(|e| !e.as_str().is_some_and(is_sentence))
                        .map(data)
                        .collect(),
                ),
                None => continue,
            },
            _ => x.clone(),
        };
        out.insert(k.clone(), cleaned);
    }
    Value::Object(out)
}

/// An example value with its sentences removed (members whose value is prose are dropped).
fn data(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.as_str().is_some_and(is_sentence))
                .map(|(k, x)| (k.clone(), data(x)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|x| !x.as_str().is_some_and(is_sentence))
                .map(data)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every local `$ref` target in `v`, as (kind, name) of `#/components/<kind>/<name>`.
fn refs(v: &Value, out: &mut BTreeSet<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && let Some(rest) = r.strip_prefix("#/components/")
                && let Some((kind, name)) = rest.split_once('/')
            {
                out.insert((kind.to_string(), name.replace("~1", "/").replace("~0", "~")));
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Remove components that nothing reachable from the paths (or the security requirements)
/// refers to.
fn drop_unused_components(doc: &mut Value) {
    let mut used = BTreeSet::new();
    if let Some(paths) = doc.get("paths") {
        refs(paths, &mut used);
    }
    for req in doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for name in req.as_object().into_iter().flat_map(|m| m.keys()) {
            used.insert(("securitySchemes".into(), name.clone()));
        }
    }
    // Follow references between components until nothing new turns up.
    loop {
        let mut more = BTreeSet::new();
        for (kind, name) in &used {
            if let Some(c) = doc.pointer(&format!(
                "/components/{kind}/{}",
                name.replace('~', "~0").replace('/', "~1")
            )) {
                refs(c, &mut more);
            }
        }
        let before = used.len();
        used.extend(more);
        if used.len() == before {
            break;
        }
    }
    if let Some(Value::Object(components)) = doc.get_mut("components") {
        for (kind, entries) in components.iter_mut() {
            if let Value::Object(entries) = entries {
                entries.retain(|name, _| used.contains(&(kind.clone(), name.clone())));
            }
        }
        components.retain(|_, entries| entries.as_object().is_some_and(|e| !e.is_empty()));
    }
}

/// Prose left in a document: JSON pointers of every `description`, `summary`, `title` or
/// `externalDocs` keyword, and of every enum of sentences (empty for an import).
pub fn prose_left(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_prose(doc, "", false, &mut found);
    found
}

fn walk_prose(v: &Value, at: &str, in_properties: bool, found: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                let keyword = !in_properties;
                if keyword
                    && matches!(k.as_str(), "description" | "summary" | "externalDocs")
                    && (x.is_string() || x.is_object())
                {
                    found.push(here.clone());
                }
                if keyword && k == "title" && x.is_string() && at != "/info" {
                    found.push(here.clone());
                }
                if keyword
                    && k == "enum"
                    && x.as_array().is_some_and(|vals| {
                        vals.iter().any(|s| s.as_str().is_some_and(is_sentence))
                    })
                {
                    found.push(here.clone());
                }
                // Example values are data: their keys are not keywords.
                if matches!(
                    k.as_str(),
                    "example" | "examples" | "default" | "const" | "enum"
                ) {
                    continue;
                }
                walk_prose(x, &here, keyword && k == "properties", found);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                walk_prose(x, &format!("{at}/{i}"), false, found);
            }
        }
        _ => {}
    }
}
