//! Argument validation against a tool's input schema, before anything is sent (and billed).
//!
//! Covers the JSON Schema subset the generator emits: type, properties, required, items, enum,
//! numeric bounds, string lengths, pattern, format, anyOf, plus the tool's "one of these
//! identifiers" groups. Messages name the field so a model can fix its call.

use crate::tools::{ArgError, ToolDef};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// Strings without a declared `maxLength` are capped at this many characters.
pub const MAX_STRING_CHARS: usize = 10_000;

fn err(field: &str, message: impl Into<String>) -> ArgError {
    ArgError {
        field: field.to_string(),
        message: message.into(),
    }
}

fn schemas() -> &'static [Value] {
    static SCHEMAS: OnceLock<Vec<Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::tools::TOOLS
            .iter()
            .map(|t| serde_json::from_str(t.input_schema).expect("generated schema is JSON"))
            .collect()
    })
}

/// The parsed input schema of a tool (by its index; parsed once per process).
pub fn input_schema(tool: &ToolDef) -> &'static Value {
    let schemas = schemas();
    match (schemas.get(tool.index), crate::tools::TOOLS.get(tool.index)) {
        (Some(s), Some(t)) if t.name == tool.name => s,
        _ => panic!("{} is not in the generated tool table", tool.name),
    }
}

/// Check the arguments of one call.
pub fn check(tool: &ToolDef, args: &Map<String, Value>) -> Result<(), ArgError> {
    if tool.max_argument_bytes > 0 {
        let size = serde_json::to_vec(args).map_or(0, |v| v.len()) as u64;
        if size > tool.max_argument_bytes {
            return Err(err(
                "",
                format!(
                    "the arguments take {size} bytes; this tool accepts at most {} (send the \
                     rest as a file URL, or in several jobs)",
                    tool.max_argument_bytes
                ),
            ));
        }
    }
    let schema = input_schema(tool);
    let props = schema.get("properties").and_then(Value::as_object);
    for key in args.keys() {
        if !props.is_some_and(|p| p.contains_key(key)) {
            let known: Vec<&str> = props
                .into_iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            let hint = if known.is_empty() {
                "this tool takes no arguments".to_string()
            } else {
                format!("valid arguments: {}", known.join(", "))
            };
            return Err(err(
                key,
                format!("is not an argument of this tool ({hint})"),
            ));
        }
    }
    value(schema, &Value::Object(args.clone()), "")?;
    if !tool.any_of_required.is_empty() {
        let given = |f: &&str| args.get(*f).is_some_and(is_given);
        if !tool
            .any_of_required
            .iter()
            .any(|group| group.iter().all(given))
        {
            let groups = crate::catalog::alternatives(tool.any_of_required);
            return Err(err("", format!("give one of: {groups}")));
        }
    }
    for name in tool.path_params() {
        if let Some(Value::String(s)) = args.get(name) {
            let lower = s.to_ascii_lowercase();
            if s.contains(['/', '\\'])
                || s.contains("..")
                || lower.contains("%2e")
                || lower.contains("%2f")
            {
                return Err(err(
                    name,
                    "must be a single path segment (no '/', '\\' or '..')",
                ));
            }
        }
    }
    Ok(())
}

/// A value counts as given unless it is null or a blank string (a blank identifier would be
/// billed and find nothing).
pub fn is_given(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn value(schema: &Value, v: &Value, path: &str) -> Result<(), ArgError> {
    let Some(s) = schema.as_object() else {
        return Ok(());
    };
    if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
        let mut first = None;
        for b in branches {
            match value(b, v, path) {
                Ok(()) => {
                    first = None;
                    break;
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first {
            return Err(e);
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "string" => v.is_string(),
            "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            let expected = match t {
                "integer" => "an integer",
                "number" => "a number",
                "boolean" => "a boolean",
                "array" => "an array",
                "object" => "an object",
                _ => "a string",
            };
            return Err(err(
                path,
                format!("must be {expected}, not {}", type_name(v)),
            ));
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        return Err(err(path, format!("must be one of {}", list.join(", "))));
    }
    match v {
        Value::String(text) => string(s, text, path)?,
        Value::Number(n) => number(s, n.as_f64().unwrap_or(0.0), path)?,
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(min) = s
                .get("minItems")
                .and_then(Value::as_u64)
                .filter(|m| len < *m)
            {
                return Err(err(path, format!("needs at least {min} items")));
            }
            if let Some(max) = s
                .get("maxItems")
                .and_then(Value::as_u64)
                .filter(|m| len > *m)
            {
                return Err(err(path, format!("takes at most {max} items")));
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    value(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::Object(map) => {
            let props = s.get("properties").and_then(Value::as_object);
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = r.as_str() else { continue };
                match map.get(name) {
                    Some(v) if is_given(v) => {}
                    Some(Value::String(_)) => {
                        return Err(err(&join(path, name), "is required and may not be blank"));
                    }
                    _ => return Err(err(&join(path, name), "is required")),
                }
            }
            for (k, item) in map {
                if item.is_null() {
                    continue; // null = not given
                }
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => value(ps, item, &join(path, k))?,
                    None => {
                        if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                            value(ap, item, &join(path, k))?;
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn number(s: &Map<String, Value>, n: f64, path: &str) -> Result<(), ArgError> {
    let bound = |k: &str| s.get(k).and_then(Value::as_f64);
    if let Some(min) = bound("minimum").filter(|m| n < *m) {
        return Err(err(path, format!("must be at least {min}")));
    }
    if let Some(max) = bound("maximum").filter(|m| n > *m) {
        return Err(err(path, format!("must be at most {max}")));
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|m| n <= *m) {
        return Err(err(path, format!("must be greater than {min}")));
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|m| n >= *m) {
        return Err(err(path, format!("must be less than {max}")));
    }
    Ok(())
}

/// Characters that hide or reorder text: controls (except tab/newline), bidi overrides, zero-width.
pub fn is_hidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        || matches!(c, '\u{E0000}'..='\u{E007F}')
}

fn string(s: &Map<String, Value>, text: &str, path: &str) -> Result<(), ArgError> {
    if text.trim().is_empty() {
        return Err(err(
            path,
            "is blank: give a value or leave the argument out",
        ));
    }
    let chars = text.chars().count();
    let max = s
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize)
        .unwrap_or(MAX_STRING_CHARS);
    if chars > max {
        return Err(err(
            path,
            format!("is {chars} characters long; the limit is {max}"),
        ));
    }
    // Surrounding spaces do not count towards the minimum.
    if let Some(min) = s
        .get("minLength")
        .and_then(Value::as_u64)
        .filter(|m| (text.trim().chars().count() as u64) < *m)
    {
        return Err(err(path, format!("must be at least {min} characters long")));
    }
    if text.chars().any(is_hidden_char) {
        return Err(err(path, "contains control or invisible characters"));
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str)
        && let Ok(re) = regress::Regex::new(p)
        && re.find(text).is_none()
    {
        return Err(err(path, format!("does not match the pattern {p}")));
    }
    if let Some(format) = s.get("format").and_then(Value::as_str) {
        let ok = match format {
            "email" => is_email(text),
            "hostname" => is_hostname(text),
            "date" => is_date(text),
            "date-time" => is_date_time(text),
            "uri" | "url" => {
                reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            }
            "uuid" => uuid::Uuid::parse_str(text).is_ok(),
            _ => true,
        };
        if !ok {
            let what = match format {
                "email" => "a valid email address (name@domain.tld)",
                "hostname" => "a domain name such as example.com (no scheme or path)",
                "date" => "a date as YYYY-MM-DD",
                "date-time" => "an RFC 3339 date-time",
                "uri" | "url" => "an http(s) URL",
                "uuid" => "a UUID",
                _ => "well formed",
            };
            return Err(err(path, format!("must be {what}")));
        }
    }
    Ok(())
}

/// Exactly `YYYY-MM-DD`, a real day (chrono's parser alone also takes surrounding spaces, a
/// newline inside and years past 9999).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// RFC 3339 with a `T` between date and time, and nothing around it.
pub fn is_date_time(s: &str) -> bool {
    s.len() > 10
        && s.get(..10).is_some_and(is_date)
        && matches!(s.as_bytes()[10], b'T' | b't')
        && !s.chars().any(char::is_whitespace)
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// A practical email check: one `@`, a local part of 1-64 visible characters, a domain with a dot.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && !local.contains('@')
        && local.chars().all(|c| c.is_ascii_graphic() || !c.is_ascii())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && is_hostname(domain)
        && domain.contains('.')
}

/// A DNS name: dot-separated labels of letters, digits and hyphens (IDN allowed), a dot required.
pub fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("jane.doe@example.org"));
        assert!(!is_email("a@b"));
        assert!(!is_email("no-at-sign.example.org"));
        assert!(!is_email(&format!("{}@example.org", "x".repeat(300))));
        assert!(!is_email("jane doe@example.org"));
    }

    #[test]
    fn hostnames() {
        assert!(is_hostname("leadmagic.io"));
        assert!(is_hostname("sub.example.co.uk"));
        assert!(!is_hostname("https://leadmagic.io"));
        assert!(!is_hostname("leadmagic.io/path"));
        assert!(!is_hostname("localhost"));
        assert!(!is_hostname("-bad.com"));
    }

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert!(is_date("2024-01-15"));
        assert!(is_date("2024-02-29"));
        for bad in [
            " 2024-01-15",
            "2024-01-15 ",
            "2024-01-\n5",
            "+10000-01-01",
            "2024-1-15",
            "2023-02-29",
            "20240115",
            "2024/01/15",
        ] {
            assert!(!is_date(bad), "{bad:?}");
        }
        assert!(is_date_time("2024-01-15T10:00:00Z"));
        assert!(is_date_time("2024-01-15T10:00:00+02:00"));
        for bad in [
            "2024-01-1é10:00:00Z",
            "2024-01-15 10:00:00Z",
            " 2024-01-15T10:00:00Z",
            "2024-01-15T10:00:00",
            "+10000-01-15T10:00:00Z",
        ] {
            assert!(!is_date_time(bad), "{bad:?}");
        }
    }

    #[test]
    fn hidden_chars() {
        assert!(is_hidden_char('\u{202E}'));
        assert!(is_hidden_char('\u{0}'));
        assert!(is_hidden_char('\u{E0041}'));
        assert!(!is_hidden_char('é'));
    }
}
