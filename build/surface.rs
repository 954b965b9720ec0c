//! The tool surface of a document, and the classified difference between two of them
//! (`cargo xtask import` and `cargo xtask diff`).
//!
//! Compared: tools (by route, so a rename is a rename), arguments (added, removed, newly
//! required; type, format, enum and bound changes, nested fields included), results (the same,
//! in the 2xx schema), cost and annotations. Each change is classified for an agent calling
//! the tool and for a Rust caller of the typed client, with oasdiff's rule: narrowing what a
//! caller may send, or widening what it may receive, breaks.

use super::GenError;
use super::catalog::Annotations;
use super::preflight::{self, tool_name};
use super::schema;
use super::tools::{self, Cost};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What one tool offers, as far as a caller can tell.
#[derive(Debug, Clone)]
pub struct ToolSurface {
    pub name: String,
    pub aliases: Vec<String>,
    /// "METHOD /path": the tool's identity across versions.
    pub route: String,
    /// The typed client's method (snake_case operationId).
    pub client_method: String,
    pub toolset: String,
    /// Our curation names, prices and hints the operation.
    pub curated: bool,
    pub input: Fields,
    pub output: Fields,
    pub any_of: Vec<Vec<String>>,
    pub cost: Cost,
    pub annotations: Annotations,
}

/// A schema flattened to its fields: `email`, `company.location.city`, `items[].name`.
pub type Fields = BTreeMap<String, Field>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Field {
    pub types: BTreeSet<String>,
    pub format: Option<String>,
    pub enumeration: Option<BTreeSet<String>>,
    pub required: bool,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<f64>,
    pub max_length: Option<f64>,
    pub min_items: Option<f64>,
    pub max_items: Option<f64>,
    pub pattern: Option<String>,
}

fn flatten(s: &Value, prefix: &str, required: bool, out: &mut Fields, depth: usize) {
    if depth > 8 {
        return;
    }
    let Some(o) = s.as_object() else { return };
    if !prefix.is_empty() {
        let num = |k: &str| o.get(k).and_then(Value::as_f64);
        let mut f = Field {
            types: o
                .get("type")
                .and_then(Value::as_str)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            format: o.get("format").and_then(Value::as_str).map(str::to_owned),
            enumeration: o
                .get("enum")
                .and_then(Value::as_array)
                .map(|e| e.iter().map(|v| v.to_string()).collect()),
            required,
            minimum: num("minimum").or(num("exclusiveMinimum")),
            maximum: num("maximum").or(num("exclusiveMaximum")),
            min_length: num("minLength"),
            max_length: num("maxLength"),
            min_items: num("minItems"),
            max_items: num("maxItems"),
            pattern: o.get("pattern").and_then(Value::as_str).map(str::to_owned),
        };
        for branch in o
            .get("anyOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = branch.get("type").and_then(Value::as_str) {
                f.types.insert(t.to_string());
            }
        }
        out.insert(prefix.to_string(), f);
    }
    let req: BTreeSet<&str> = o
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, p) in o
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        flatten(p, &path, req.contains(name.as_str()), out, depth + 1);
    }
    if let Some(items) = o.get("items") {
        flatten(items, &format!("{prefix}[]"), false, out, depth + 1);
    }
    for branch in o
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if branch.get("properties").is_some() {
            flatten(branch, prefix, false, out, depth + 1);
        }
    }
}

/// The tool surface of a document (with its overlay already applied).
pub fn surface(doc: &Value) -> Result<Vec<ToolSurface>, GenError> {
    let ops = preflight::check(doc)?;
    let mut out = Vec::new();
    for op in &ops {
        let mut warnings = Vec::new();
        let annotations = tools::annotations(op, &mut warnings)?;
        let curated = op.raw.contains_key("x-leadmagic-tool")
            && op.raw.contains_key("x-leadmagic-credits")
            && op.raw.contains_key("x-leadmagic-annotations");
        let mut input = Fields::new();
        flatten(&schema::input_schema(doc, op)?, "", false, &mut input, 0);
        let mut output = Fields::new();
        if let Some((_, s)) = &op.success.media {
            flatten(&schema::portable(doc, s, 0), "", false, &mut output, 0);
        }
        let any_of = tools::give_one_of(doc, op)?;
        out.push(ToolSurface {
            name: op.name.clone(),
            aliases: op.aliases.clone(),
            route: format!("{} {}", op.method, op.path),
            client_method: tool_name(&op.operation_id),
            toolset: op.toolset.clone(),
            curated,
            input,
            output,
            any_of,
            cost: tools::cost(op)?,
            annotations,
        });
    }
    Ok(out)
}

/// How a change affects one kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    None,
    Compatible,
    Breaking,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub tool: String,
    pub what: String,
    pub agent: Impact,
    pub rust: Impact,
}

use Impact::{Breaking, Compatible};

struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, tool: &str, what: String, agent: Impact, rust: Impact) {
        self.0.push(Change {
            tool: tool.to_string(),
            what,
            agent,
            rust,
        });
    }
}

/// The classified changes from `old` to `new`.
pub fn diff(old: &[ToolSurface], new: &[ToolSurface]) -> Vec<Change> {
    let mut c = Changes(Vec::new());
    for o in old {
        match new.iter().find(|n| n.route == o.route) {
            None => c.push(
                &o.name,
                format!("tool removed ({})", o.route),
                Breaking,
                Breaking,
            ),
            Some(n) => tool_changes(o, n, &mut c),
        }
    }
    for n in new {
        if !old.iter().any(|o| o.route == n.route) {
            c.push(
                &n.name,
                format!("tool added ({}, toolset {})", n.route, n.toolset),
                Compatible,
                Compatible,
            );
        }
    }
    c.0
}

fn tool_changes(o: &ToolSurface, n: &ToolSurface, c: &mut Changes) {
    let t = n.name.as_str();
    if o.name != n.name {
        // Still callable under the old name if it became an alias.
        let agent = if n.aliases.contains(&o.name) {
            Compatible
        } else {
            Breaking
        };
        c.push(t, format!("renamed from `{}`", o.name), agent, Impact::None);
    }
    if o.client_method != n.client_method {
        c.push(
            t,
            format!(
                "client method renamed from `{}` to `{}`",
                o.client_method, n.client_method
            ),
            Impact::None,
            Breaking,
        );
    }
    if o.toolset != n.toolset {
        c.push(
            t,
            format!("moved from toolset `{}` to `{}`", o.toolset, n.toolset),
            Compatible,
            Impact::None,
        );
    }
    fields(t, "argument", &o.input, &n.input, true, c);
    fields(t, "result field", &o.output, &n.output, false, c);
    if o.any_of != n.any_of {
        c.push(
            t,
            format!(
                "\"give one of\" rule changed from {:?} to {:?}",
                o.any_of, n.any_of
            ),
            Breaking,
            Impact::None,
        );
    }
    let (oc, nc) = (&o.cost, &n.cost);
    if tools::cost_sentence(oc) != tools::cost_sentence(nc) {
        // Dearer (or no longer stated) breaks a budget an agent planned with.
        let (ocr, ncr) = (&oc.credits, &nc.credits);
        let dearer = ncr.amount > ocr.amount || (ocr.known && !ncr.known);
        c.push(
            t,
            format!(
                "cost changed: \"{}\" -> \"{}\"",
                tools::cost_sentence(oc),
                tools::cost_sentence(nc)
            ),
            if dearer { Breaking } else { Compatible },
            Impact::None,
        );
    }
    let (oa, na) = (o.annotations, n.annotations);
    for (hint, before, after, riskier) in [
        (
            "readOnlyHint",
            oa.read_only,
            na.read_only,
            oa.read_only && !na.read_only,
        ),
        (
            "destructiveHint",
            oa.destructive,
            na.destructive,
            !oa.destructive && na.destructive,
        ),
        (
            "idempotentHint",
            oa.idempotent,
            na.idempotent,
            oa.idempotent && !na.idempotent,
        ),
        (
            "openWorldHint",
            oa.open_world,
            na.open_world,
            !oa.open_world && na.open_world,
        ),
    ] {
        if before != after {
            // A client may have approved the tool on the old hint.
            let agent = if riskier { Breaking } else { Compatible };
            c.push(
                t,
                format!("{hint}: {before} -> {after}"),
                agent,
                Impact::None,
            );
        }
    }
}

/// Changes between two flattened schemas. `request`: what the caller sends (narrowing
/// breaks); otherwise what it receives (widening breaks).
fn fields(tool: &str, kind: &str, old: &Fields, new: &Fields, request: bool, c: &mut Changes) {
    let narrows = |narrowing: bool| {
        if narrowing == request {
            Breaking
        } else {
            Compatible
        }
    };
    for (name, o) in old {
        let Some(n) = new.get(name) else {
            c.push(tool, format!("{kind} `{name}` removed"), Breaking, Breaking);
            continue;
        };
        if request && n.required && !o.required {
            c.push(
                tool,
                format!("{kind} `{name}` is now required"),
                Breaking,
                Breaking,
            );
        }
        if request && o.required && !n.required {
            c.push(
                tool,
                format!("{kind} `{name}` is no longer required"),
                Compatible,
                Breaking,
            );
        }
        if !request && o.required && !n.required {
            c.push(
                tool,
                format!("{kind} `{name}` may now be absent"),
                Breaking,
                Impact::None,
            );
        }
        if o.types != n.types && !o.types.is_empty() && !n.types.is_empty() {
            let widened = o.types.is_subset(&n.types);
            let narrowed = n.types.is_subset(&o.types);
            let agent = match (widened, narrowed) {
                (true, false) => narrows(false),
                (false, true) => narrows(true),
                _ => Breaking,
            };
            c.push(
                tool,
                format!("{kind} `{name}` type {:?} -> {:?}", o.types, n.types),
                agent,
                Breaking,
            );
        }
        if o.format != n.format {
            // Dropping a format accepts more; adding or changing one accepts less.
            let agent = if n.format.is_none() {
                narrows(false)
            } else {
                narrows(true)
            };
            c.push(
                tool,
                format!("{kind} `{name}` format {:?} -> {:?}", o.format, n.format),
                agent,
                Breaking,
            );
        }
        match (&o.enumeration, &n.enumeration) {
            (Some(a), Some(b)) if a != b => {
                let removed: Vec<&String> = a.difference(b).collect();
                let added: Vec<&String> = b.difference(a).collect();
                if !removed.is_empty() {
                    c.push(
                        tool,
                        format!("{kind} `{name}` lost enum values {removed:?}"),
                        narrows(true),
                        if request { Breaking } else { Impact::None },
                    );
                }
                if !added.is_empty() {
                    c.push(
                        tool,
                        format!("{kind} `{name}` gained enum values {added:?}"),
                        narrows(false),
                        Impact::None,
                    );
                }
            }
            (None, Some(_)) => c.push(
                tool,
                format!("{kind} `{name}` is now limited to an enum"),
                narrows(true),
                Impact::None,
            ),
            (Some(_), None) => c.push(
                tool,
                format!("{kind} `{name}` is no longer limited to an enum"),
                narrows(false),
                Impact::None,
            ),
            _ => {}
        }
        for (bound, before, after, lower) in [
            ("minimum", o.minimum, n.minimum, true),
            ("maximum", o.maximum, n.maximum, false),
            ("minLength", o.min_length, n.min_length, true),
            ("maxLength", o.max_length, n.max_length, false),
            ("minItems", o.min_items, n.min_items, true),
            ("maxItems", o.max_items, n.max_items, false),
        ] {
            if before == after {
                continue;
            }
            // A lower bound rising, or an upper bound falling, accepts less.
            let narrowing = match (before, after) {
                (Some(b), Some(a)) => (a > b) == lower,
                (None, Some(_)) => true,
                _ => false,
            };
            c.push(
                tool,
                format!("{kind} `{name}` {bound} {before:?} -> {after:?}"),
                narrows(narrowing),
                Impact::None,
            );
        }
        if o.pattern != n.pattern {
            c.push(
                tool,
                format!("{kind} `{name}` pattern {:?} -> {:?}", o.pattern, n.pattern),
                narrows(n.pattern.is_some()),
                Impact::None,
            );
        }
    }
    for (name, n) in new {
        if old.contains_key(name) {
            continue;
        }
        if request {
            // An agent may leave an optional argument out; a Rust caller's call or struct
            // literal no longer compiles either way.
            let agent = if n.required { Breaking } else { Compatible };
            let what = if n.required { "required" } else { "optional" };
            c.push(
                tool,
                format!("{what} {kind} `{name}` added"),
                agent,
                Breaking,
            );
        } else {
            c.push(
                tool,
                format!("{kind} `{name}` added"),
                Compatible,
                Compatible,
            );
        }
    }
}
