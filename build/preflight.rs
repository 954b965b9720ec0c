//! Checks the document before progenitor sees it, and collects the operations.
//!
//! Every failure names the operation, a JSON pointer and a fix, instead of a panic deep inside
//! progenitor or typify.

use super::GenError;
use serde_json::{Map, Value};

/// Longest tool name: clients prefix `mcp__leadmagic__` (16 chars) and model APIs cap names at 64.
pub const MAX_TOOL_NAME: usize = 48;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// JSON Schema keywords of 3.1 that have no 3.0 equivalent and that we do not rewrite.
const UNSUPPORTED_KEYWORDS: [&str; 8] = [
    "prefixItems",
    "$defs",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentSchemas",
];

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// "path" or "query".
    pub location: String,
    pub required: bool,
    pub schema: Value,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Success {
    pub status: String,
    /// Media type and schema of the body, if the response has one.
    pub media: Option<(String, Value)>,
    pub example: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub operation_id: String,
    /// Tool name: `x-leadmagic-tool` (our curation), else the snake_case operationId.
    pub name: String,
    /// Other names the tool answers to (`x-leadmagic-aliases`): not listed, still callable.
    pub aliases: Vec<String>,
    /// Upper-case HTTP method.
    pub method: String,
    pub path: String,
    /// JSON pointer of the operation object.
    pub pointer: String,
    /// `x-leadmagic-toolset`, else the first tag, snake_case; "default" when untagged.
    pub toolset: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub params: Vec<Param>,
    /// JSON request body: media type and schema.
    pub body: Option<(String, Value)>,
    pub success: Success,
    /// The operation object itself (for extensions).
    pub raw: Map<String, Value>,
}

pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Follow a local `$ref` ("#/a/b").
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Follow `$ref`s until a non-reference object.
pub fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> Option<&'a Value> {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => v = resolve(doc, r)?,
            None => return Some(v),
        }
    }
    None
}

/// snake_case tool name from an operationId: `[a-z0-9_]` only.
pub fn tool_name(operation_id: &str) -> String {
    use heck::ToSnakeCase;
    let snake = operation_id.to_snake_case();
    let cleaned: String = snake
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_matches('_').to_string()
}

fn json_media(content: &Map<String, Value>) -> Option<(&String, &Value)> {
    content.iter().find(|(media, _)| {
        let m = media.split(';').next().unwrap_or("").trim();
        m == "application/json" || m.ends_with("+json")
    })
}

/// Check the document and list its operations in document order.
pub fn check(doc: &Value) -> Result<Vec<Operation>, GenError> {
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !(version.starts_with("3.0") || version.starts_with("3.1")) {
        return Err(GenError::new(
            None,
            "#/openapi",
            format!("unsupported OpenAPI version {version:?}"),
            "provide an OpenAPI 3.0 or 3.1 document",
        ));
    }
    // A schema that is only a reference to itself (or a ring of them) names no schema at all;
    // progenitor would recurse on it until the stack overflows.
    let components = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    for (name, schema) in components.into_iter().flatten() {
        if deref(doc, schema).is_none() {
            return Err(GenError::new(
                None,
                format!("#/components/schemas/{}", escape_pointer(name)),
                format!("schema `{name}` is a chain of references that never reaches a schema"),
                "point the reference at a schema, or remove the chain",
            ));
        }
    }
    let paths = doc.get("paths").and_then(Value::as_object).ok_or_else(|| {
        GenError::new(
            None,
            "#/paths",
            "the document has no paths",
            "add a `paths` object",
        )
    })?;
    let mut ops = Vec::new();
    for (path, item) in paths {
        let item_ptr = format!("#/paths/{}", escape_pointer(path));
        let item = deref(doc, item).and_then(Value::as_object).ok_or_else(|| {
            GenError::new(
                None,
                &item_ptr,
                "path item is not an object",
                "fix the path item",
            )
        })?;
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let pointer = format!("{item_ptr}/{method}");
            ops.push(operation(doc, path, method, item, op, &pointer)?);
        }
    }
    if ops.is_empty() {
        return Err(GenError::new(
            None,
            "#/paths",
            "the document has no operations",
            "add one",
        ));
    }
    // Tool names and aliases must be unique (case-sensitively, after snake_casing).
    let mut seen: Vec<(&str, &Operation)> = Vec::new();
    for op in &ops {
        for n in std::iter::once(&op.name).chain(&op.aliases) {
            if let Some((_, b)) = seen.iter().find(|(m, _)| *m == n) {
                return Err(GenError::new(
                    Some(&op.operation_id),
                    &op.pointer,
                    format!(
                        "tool name `{n}` is taken by operation `{}` ({} {}) too",
                        b.operation_id, b.method, b.path
                    ),
                    "give one of the operations a distinct name (x-leadmagic-tool or operationId)",
                ));
            }
            seen.push((n, op));
        }
    }
    // Client method names come from operationIds: those must be distinct too.
    for (i, a) in ops.iter().enumerate() {
        if let Some(b) = ops[..i]
            .iter()
            .find(|b| tool_name(&b.operation_id) == tool_name(&a.operation_id))
        {
            return Err(GenError::new(
                Some(&a.operation_id),
                &a.pointer,
                format!(
                    "operationId `{}` names the same client method as `{}`",
                    a.operation_id, b.operation_id
                ),
                "give the operations distinct operationIds",
            ));
        }
    }
    Ok(ops)
}

/// A tool name: `[a-z][a-z0-9_]*`, at most `MAX_TOOL_NAME` characters.
fn check_name(name: &str, oid: Option<&str>, pointer: &str) -> Result<(), GenError> {
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(GenError::new(
            oid,
            pointer,
            format!("{name:?} is not a usable tool name"),
            "use snake_case starting with a letter ([a-z][a-z0-9_]*)",
        ));
    }
    if name.len() > MAX_TOOL_NAME {
        return Err(GenError::new(
            oid,
            pointer,
            format!(
                "tool name `{name}` has {} characters; with the client prefix `mcp__leadmagic__` it \
                 would exceed the 64 characters model APIs accept",
                name.len()
            ),
            format!("shorten it to at most {MAX_TOOL_NAME} characters"),
        ));
    }
    Ok(())
}

fn operation(
    doc: &Value,
    path: &str,
    method: &str,
    item: &Map<String, Value>,
    op: &Value,
    pointer: &str,
) -> Result<Operation, GenError> {
    let obj = op.as_object().ok_or_else(|| {
        GenError::new(
            None,
            pointer,
            "operation is not an object",
            "fix the operation",
        )
    })?;
    let operation_id = obj
        .get("operationId")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            GenError::new(
                None,
                pointer,
                format!("{} {path} has no operationId", method.to_uppercase()),
                "add an operationId: it names the tool and the client method",
            )
        })?
        .to_string();
    let oid = Some(operation_id.as_str());
    let (name, name_ptr) = match obj.get("x-leadmagic-tool") {
        Some(Value::String(n)) => (n.clone(), format!("{pointer}/x-leadmagic-tool")),
        Some(_) => {
            return Err(GenError::new(
                oid,
                format!("{pointer}/x-leadmagic-tool"),
                "x-leadmagic-tool is not a string",
                "give the tool name as a string",
            ));
        }
        None => (tool_name(&operation_id), format!("{pointer}/operationId")),
    };
    check_name(&name, oid, &name_ptr)?;
    let mut aliases = Vec::new();
    if let Some(list) = obj.get("x-leadmagic-aliases") {
        let a_ptr = format!("{pointer}/x-leadmagic-aliases");
        let list = list.as_array().ok_or_else(|| {
            GenError::new(
                oid,
                &a_ptr,
                "x-leadmagic-aliases is not a list",
                "list names",
            )
        })?;
        for a in list {
            let a = a.as_str().ok_or_else(|| {
                GenError::new(oid, &a_ptr, "an alias is not a string", "list names")
            })?;
            check_name(a, oid, &a_ptr)?;
            aliases.push(a.to_string());
        }
    }

    // Parameters: path-item level first, overridden by operation level (same name + location).
    let mut params: Vec<Param> = Vec::new();
    let lists = [
        (
            item.get("parameters"),
            format!("{}/parameters", pointer.rsplit_once('/').unwrap().0),
        ),
        (obj.get("parameters"), format!("{pointer}/parameters")),
    ];
    for (list, list_ptr) in lists {
        let Some(list) = list.and_then(Value::as_array) else {
            continue;
        };
        for (i, p) in list.iter().enumerate() {
            let p_ptr = format!("{list_ptr}/{i}");
            let p = deref(doc, p).ok_or_else(|| {
                GenError::new(
                    oid,
                    &p_ptr,
                    "unresolvable parameter $ref",
                    "fix the reference",
                )
            })?;
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let location = p
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if location != "path" && location != "query" {
                // Header and cookie parameters (e.g. a declared X-API-Key) are the runtime's job.
                continue;
            }
            let schema = p
                .get("schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "string"}));
            check_schema(doc, &schema, oid, &format!("{p_ptr}/schema"), 0)?;
            let param = Param {
                required: location == "path"
                    || p.get("required").and_then(Value::as_bool).unwrap_or(false),
                description: p
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                name,
                location,
                schema,
            };
            params.retain(|q| !(q.name == param.name && q.location == param.location));
            params.push(param);
        }
    }
    for pname in super::catalog::path_params(path) {
        if !params
            .iter()
            .any(|p| p.location == "path" && p.name == pname)
        {
            return Err(GenError::new(
                oid,
                format!("{pointer}/parameters"),
                format!("path parameter `{pname}` is used in {path} but not declared"),
                format!("declare `{pname}` with `in: path`"),
            ));
        }
    }

    // Request body: JSON only.
    let mut body = None;
    if let Some(rb) = obj.get("requestBody") {
        let rb_ptr = format!("{pointer}/requestBody");
        let rb = deref(doc, rb).ok_or_else(|| {
            GenError::new(
                oid,
                &rb_ptr,
                "unresolvable requestBody $ref",
                "fix the reference",
            )
        })?;
        let content = rb.get("content").and_then(Value::as_object);
        match content.and_then(json_media) {
            Some((media, m)) => {
                let schema = m
                    .get("schema")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}));
                let s_ptr = format!("{rb_ptr}/content/{}/schema", escape_pointer(media));
                check_schema(doc, &schema, oid, &s_ptr, 0)?;
                body = Some((media.clone(), schema));
            }
            None if content.is_some_and(|c| !c.is_empty()) => {
                return Err(GenError::new(
                    oid,
                    format!("{rb_ptr}/content"),
                    "the request body has no JSON media type",
                    "describe the body as application/json",
                ));
            }
            None => {}
        }
    }

    // Exactly one 2xx response.
    let responses = obj
        .get("responses")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            GenError::new(
                oid,
                format!("{pointer}/responses"),
                "no responses",
                "add a 2xx response",
            )
        })?;
    let successes: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
    if successes.len() != 1 {
        return Err(GenError::new(
            oid,
            format!("{pointer}/responses"),
            format!("expected exactly one 2xx response, found {:?}", successes),
            "keep one success response; describe variants with oneOf in its schema",
        ));
    }
    let status = successes[0].clone();
    let r_ptr = format!("{pointer}/responses/{status}");
    let resp = deref(doc, &responses[&status]).ok_or_else(|| {
        GenError::new(
            oid,
            &r_ptr,
            "unresolvable response $ref",
            "fix the reference",
        )
    })?;
    let mut success = Success {
        status,
        media: None,
        example: None,
    };
    if let Some(content) = resp
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
    {
        let (media, m) = json_media(content).unwrap_or_else(|| content.iter().next().unwrap());
        let schema = m
            .get("schema")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let s_ptr = format!("{r_ptr}/content/{}/schema", escape_pointer(media));
        check_schema(doc, &schema, oid, &s_ptr, 0)?;
        success.example = m.get("example").cloned().or_else(|| {
            m.get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .and_then(|e| deref(doc, e))
                .and_then(|e| e.get("value"))
                .cloned()
        });
        success.media = Some((media.clone(), schema));
    }

    let toolset = obj
        .get("x-leadmagic-toolset")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            obj.get("tags")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(Value::as_str)
                .map(tool_name)
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "default".to_string());
    Ok(Operation {
        name,
        aliases,
        method: method.to_uppercase(),
        path: path.to_string(),
        pointer: pointer.to_string(),
        toolset,
        summary: obj
            .get("summary")
            .and_then(Value::as_str)
            .map(str::to_owned),
        description: obj
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        params,
        body,
        success,
        raw: obj.clone(),
        operation_id,
    })
}

/// Walk a schema (following references) and reject what cannot be generated.
fn check_schema(
    doc: &Value,
    schema: &Value,
    op: Option<&str>,
    pointer: &str,
    depth: usize,
) -> Result<(), GenError> {
    if depth > 24 {
        return Ok(()); // recursive schemas: the references were checked on the way down
    }
    let Some(obj) = schema.as_object() else {
        return Ok(());
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        if !r.starts_with("#/components/schemas/") {
            return Err(GenError::new(
                op,
                pointer,
                format!(
                    "`$ref: {r}` is used as a schema but does not point into #/components/schemas"
                ),
                "reference a schema (responses and parameters cannot stand in for schemas)",
            ));
        }
        let target = resolve(doc, r).ok_or_else(|| {
            GenError::new(
                op,
                pointer,
                format!("`$ref: {r}` does not resolve"),
                "fix the reference",
            )
        })?;
        if deref(doc, target).is_none() {
            return Err(GenError::new(
                op,
                pointer,
                format!("`$ref: {r}` starts a chain of references that never reaches a schema"),
                "point the reference at a schema",
            ));
        }
        return check_schema(doc, target, op, r, depth + 1);
    }
    // A `type` JSON Schema does not define (e.g. Swagger 2's `file`) would reach a `todo!` in
    // progenitor; so would a type that is not a name or a list of names.
    if let Some(t) = obj.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let known = [
            "string", "number", "integer", "boolean", "array", "object", "null",
        ];
        if let Some(bad) = names
            .iter()
            .find(|n| !n.as_str().is_some_and(|n| known.contains(&n)))
        {
            return Err(GenError::new(
                op,
                format!("{pointer}/type"),
                format!("`type: {bad}` is not a JSON Schema type"),
                "use one of string, number, integer, boolean, array, object, null (a file upload is \
                 `type: string, format: binary`)",
            ));
        }
    }
    for kw in UNSUPPORTED_KEYWORDS {
        if obj.contains_key(kw) {
            return Err(GenError::new(
                op,
                format!("{pointer}/{}", escape_pointer(kw)),
                format!("JSON Schema keyword `{kw}` has no OpenAPI 3.0 equivalent"),
                "rewrite the schema without it (e.g. properties/items/oneOf)",
            ));
        }
    }
    for (k, v) in obj {
        let child = format!("{pointer}/{}", escape_pointer(k));
        match k.as_str() {
            "properties" => {
                if let Some(props) = v.as_object() {
                    for (pk, pv) in props {
                        check_schema(
                            doc,
                            pv,
                            op,
                            &format!("{child}/{}", escape_pointer(pk)),
                            depth + 1,
                        )?;
                    }
                }
            }
            "items" | "additionalProperties" | "not" => {
                check_schema(doc, v, op, &child, depth + 1)?
            }
            "allOf" | "anyOf" | "oneOf" => {
                for (i, s) in v.as_array().into_iter().flatten().enumerate() {
                    check_schema(doc, s, op, &format!("{child}/{i}"), depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
