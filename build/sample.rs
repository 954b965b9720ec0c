//! A value that a portable schema (see `schema.rs`) accepts: the sandbox's answers are made
//! from response schemas with every field, the tests' arguments from input schemas with the
//! required fields only. One maker for both, so a new keyword is handled once.

use serde_json::{Value, json};

/// Which fields of an object a sample fills.
#[derive(Clone, Copy, PartialEq)]
pub enum Fill {
    /// Every field the schema lists (an answer).
    Every,
    /// Only the required ones (arguments).
    #[allow(dead_code)] // used by the tests, not by the build
    Required,
}

/// Objects and arrays deeper than this are left empty.
const MAX_DEPTH: usize = 4;

pub fn sample(schema: &Value, fill: Fill) -> Value {
    at_depth(schema, fill, 0)
}

fn at_depth(s: &Value, fill: Fill, depth: usize) -> Value {
    // An answer uses the document's own example of a field (a real-looking email, URL, name),
    // so the sandbox's answers read like LeadMagic's and composites can chain them.
    if fill == Fill::Every
        && let Some(example) = s.get("example").filter(|e| !e.is_null())
    {
        return example.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(first) = s
        .get("anyOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return at_depth(first, fill, depth);
    }
    let number = |key: &str| s.get(key).and_then(Value::as_f64);
    match s.get("type").and_then(Value::as_str) {
        Some("string") => string(s),
        Some("integer") => json!(number("minimum").unwrap_or(1.0).max(1.0) as i64),
        Some("number") => json!(number("minimum").unwrap_or(1.0).max(1.0)),
        Some("boolean") => json!(false),
        Some("array") if depth < MAX_DEPTH => {
            let item = at_depth(s.get("items").unwrap_or(&json!({})), fill, depth + 1);
            let count = number("minItems").unwrap_or(1.0).max(1.0) as usize;
            Value::Array(vec![item; count])
        }
        Some("array") => json!([]),
        _ if depth < MAX_DEPTH => {
            let names: Vec<&str> = match fill {
                Fill::Every => s
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|p| p.keys().map(String::as_str))
                    .collect(),
                Fill::Required => s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect(),
            };
            let props = s.get("properties").and_then(Value::as_object);
            let out = names.into_iter().map(|n| {
                let field = props.and_then(|p| p.get(n)).unwrap_or(&Value::Null);
                (n.to_string(), at_depth(field, fill, depth + 1))
            });
            Value::Object(out.collect())
        }
        _ => json!({}),
    }
}

/// A string in the schema's format, as long as its bounds allow.
fn string(s: &Value) -> Value {
    let text = match s.get("format").and_then(Value::as_str) {
        Some("email") => "jane.doe@example.org",
        Some("hostname") => "example.org",
        Some("date") => "2026-01-01",
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("uuid") => "0b9a3c4e-1f2d-4e5f-8a9b-0c1d2e3f4a5b",
        Some("uri") => "https://example.org/x",
        _ => {
            let bound = |key: &str| s.get(key).and_then(Value::as_u64).map(|n| n as usize);
            let min = bound("minLength").unwrap_or(0);
            let max = bound("maxLength").unwrap_or(usize::MAX);
            let mut text: String = "sample".chars().take(max).collect();
            while text.len() < min {
                text.push('x');
            }
            return json!(text);
        }
    };
    json!(text)
}
