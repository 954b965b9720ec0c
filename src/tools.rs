//! The generated tool table (data) and dispatch, plus the types they are made of and the
//! selection of tools a server exposes (toolsets, allow-list, read-only).

use crate::generated::{Client, types};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt;

pub use crate::catalog::{Annotations, Credits, Output};

/// A group of tools (`--toolsets`).
#[derive(Debug)]
pub struct ToolsetDef {
    pub name: &'static str,
    /// On without `--toolsets` (the `default` set).
    pub default: bool,
    pub description: &'static str,
}

/// One MCP tool = one API operation.
#[derive(Debug)]
pub struct ToolDef {
    /// Its place in `TOOLS` (the dispatch and the schema cache are indexed by it).
    pub index: usize,
    pub name: &'static str,
    pub operation_id: &'static str,
    /// The generated client method (also progenitor's `OperationInfo::operation_id`).
    pub client_method: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// First sentence, the "give one of" rule and the cost (compact profile).
    pub compact_description: &'static str,
    /// First tag of the operation.
    pub toolset: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// JSON Schema of the arguments (portable: refs inlined, no type arrays).
    pub input_schema: &'static str,
    /// Lenient JSON Schema of `structuredContent`.
    pub output_schema: &'static str,
    /// "Give one of these groups of fields" constraints.
    pub any_of_required: &'static [&'static [&'static str]],
    pub annotations: Annotations,
    pub credits: Credits,
    /// Other names the tool answers to (not listed).
    pub aliases: &'static [&'static str],
    /// Arguments holding someone else's secret: kept out of every output, like the key.
    pub secret_arguments: &'static [&'static str],
    /// For a status poll: seconds to wait before the next one (0 otherwise).
    pub poll_after_s: u64,
    /// Largest arguments accepted, as JSON bytes (0: only the transport's cap).
    pub max_argument_bytes: u64,
    pub output: Output,
    /// Sandbox answer.
    pub sample_content_type: &'static str,
    pub sample_body: &'static str,
    /// Ask before running it, whatever it costs (bulk submissions).
    pub confirm: bool,
    /// A composite tool's steps (empty for an API operation).
    pub steps: &'static [Step],
}

/// One step of a composite tool: a tool of the table, with its arguments mapped.
#[derive(Debug)]
pub struct Step {
    pub id: &'static str,
    /// The tool it calls: its place in `TOOLS`.
    pub tool: usize,
    /// Each argument with its sources, in order of preference (the first with a value wins).
    pub args: &'static [(&'static str, &'static [ArgFrom])],
    /// A boolean argument of the composite that must be true for the step to run ("": always).
    pub when: &'static str,
    /// An array argument of the composite: the step runs once per element ("": once).
    pub for_each: &'static str,
}

/// Where a step's argument comes from.
#[derive(Debug)]
pub enum ArgFrom {
    /// The composite's argument of this name.
    Input(&'static str),
    /// The element of the `for_each` array this run is for.
    Item,
    /// A field of an earlier step's result (a JSON pointer); `host`: the host name of that URL.
    Step {
        step: usize,
        pointer: &'static str,
        host: bool,
    },
    /// A fixed value, as JSON text.
    Literal(&'static str),
}

/// A prompt template (`prompts/get`): `{name}` marks an argument.
#[derive(Debug)]
pub struct PromptDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArg],
    pub text: &'static str,
}

#[derive(Debug)]
pub struct PromptArg {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

impl ToolDef {
    /// Billed operations say so; a repeat of a billed call bills again.
    pub fn is_billed(&self) -> bool {
        !self.credits.known || self.credits.amount > 0.0
    }

    /// Credits as one short phrase, e.g. "1 credit per call" or "free".
    pub fn cost(&self) -> String {
        let c = &self.credits;
        if !c.known {
            return "not stated".into();
        }
        if c.amount == 0.0 {
            return "free".into();
        }
        if !self.steps.is_empty() {
            // The sum of every step's price: the most, not what each call costs.
            return format!("up to {} per call", c.amount_phrase());
        }
        format!("{} per {}", c.amount_phrase(), c.per)
    }

    /// The names of the path's parameters (`/v1/jobs/{id}` has `id`).
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        crate::catalog::path_params(self.path)
    }
}

/// A bad argument: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// JSON path of the field ("" for the whole argument object).
    pub field: String,
    pub message: String,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

/// Why a dispatch did not produce a response.
#[derive(Debug)]
pub enum CallError {
    UnknownTool,
    Args(ArgError),
    Upstream(progenitor_client::Error),
}

impl From<ArgError> for CallError {
    fn from(e: ArgError) -> Self {
        CallError::Args(e)
    }
}

impl From<progenitor_client::Error> for CallError {
    fn from(e: progenitor_client::Error) -> Self {
        CallError::Upstream(e)
    }
}

/// Tool arguments on their way into the generated request types (already checked against the
/// tool's schema: unknown arguments never get here).
pub struct Args(Map<String, Value>);

// The generated dispatch calls the helpers its document needs: a document whose operations all
// take a body (the legacy ones) never reads a parameter.
#[allow(dead_code)]
impl Args {
    pub fn new(args: Map<String, Value>) -> Self {
        Args(args)
    }

    fn decode<T: DeserializeOwned>(name: &str, v: Value) -> Result<T, ArgError> {
        serde_json::from_value(v).map_err(|e| ArgError {
            field: name.into(),
            message: e.to_string(),
        })
    }

    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, ArgError> {
        match self.0.remove(name) {
            Some(v) if !v.is_null() => Self::decode(name, v),
            _ => Err(ArgError {
                field: name.into(),
                message: "is required".into(),
            }),
        }
    }

    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, ArgError> {
        match self.0.remove(name) {
            Some(v) if !v.is_null() => Self::decode(name, v).map(Some),
            _ => Ok(None),
        }
    }

    /// The remaining arguments are the request body's fields.
    pub fn body<T: DeserializeOwned>(&mut self) -> Result<T, ArgError> {
        let rest = std::mem::take(&mut self.0);
        serde_json::from_value(Value::Object(rest)).map_err(|e| ArgError {
            field: String::new(),
            message: e.to_string(),
        })
    }
}

#[allow(clippy::all, unused_mut, unused_variables, unreachable_code)]
mod table {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/tools.rs"));
}

/// The prompts are served by the MCP server only.
#[cfg(feature = "server")]
pub use table::PROMPTS;
pub use table::{TOOLS, TOOLSETS, dispatch};

/// Every tool by name and alias, and by client method: built once, looked up in O(1).
struct Index {
    by_name: std::collections::HashMap<&'static str, &'static ToolDef>,
    by_method: std::collections::HashMap<&'static str, &'static ToolDef>,
}

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| Index {
        by_name: TOOLS
            .iter()
            .flat_map(|t| {
                std::iter::once(t.name)
                    .chain(t.aliases.iter().copied())
                    .map(move |n| (n, t))
            })
            .collect(),
        by_method: TOOLS
            .iter()
            .filter(|t| !t.client_method.is_empty())
            .map(|t| (t.client_method, t))
            .collect(),
    })
}

/// The tool with this name (or alias), among all tools of the document.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    index().by_name.get(name).copied()
}

/// The tool whose typed-client method this is (progenitor's operation id).
pub fn by_client_method(method: &str) -> Option<&'static ToolDef> {
    index().by_method.get(method).copied()
}

/// Which tools a server exposes: toolsets (`default`, `all`, or names), then tools added by
/// name, minus excluded tools (which win over both), then only read-only ones if asked.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Toolsets to include; empty = the default set. `default` and `all` may appear.
    pub toolsets: Vec<String>,
    /// Tools to include by name (on top of the toolsets; alone, only these).
    pub tools: Vec<String>,
    /// Tools to leave out, whatever else says.
    pub exclude_tools: Vec<String>,
    /// Only tools hinted read-only.
    pub read_only: bool,
}

fn names_of<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

impl Selection {
    /// Check the names against the table, so a typo fails at startup instead of hiding tools.
    pub fn validate(&self) -> Result<(), String> {
        for t in &self.toolsets {
            if t != "default" && t != "all" && !TOOLSETS.iter().any(|s| s.name == t) {
                return Err(format!(
                    "unknown toolset `{t}`; valid: default, all, {}",
                    names_of(TOOLSETS.iter().map(|s| s.name))
                ));
            }
        }
        for t in self.tools.iter().chain(&self.exclude_tools) {
            if find(t).is_none() {
                return Err(format!(
                    "unknown tool `{t}`; valid: {} (`leadmagic-mcp --toolsets all tools` lists them)",
                    names_of(TOOLS.iter().map(|d| d.name))
                ));
            }
        }
        Ok(())
    }

    fn in_toolsets(&self, t: &ToolDef) -> bool {
        let set = TOOLSETS.iter().find(|s| s.name == t.toolset);
        let default = set.is_some_and(|s| s.default);
        if self.toolsets.is_empty() {
            // `--tools` alone means exactly those tools.
            return self.tools.is_empty() && default;
        }
        self.toolsets
            .iter()
            .any(|s| s == "all" || (s == "default" && default) || s == t.toolset)
    }

    pub fn includes(&self, t: &ToolDef) -> bool {
        let named = |list: &[String]| {
            list.iter()
                .any(|n| n == t.name || t.aliases.contains(&n.as_str()))
        };
        (self.in_toolsets(t) || named(&self.tools))
            && !named(&self.exclude_tools)
            && (!self.read_only || t.annotations.read_only)
    }

    pub fn tools(&self) -> impl Iterator<Item = &'static ToolDef> + '_ {
        TOOLS.iter().filter(|t| self.includes(t))
    }

    /// This selection narrowed by another (a caller's request headers): a tool stays only if
    /// both include it, so a caller can never widen what the operator enabled.
    pub(crate) fn narrowed_by(&self, other: &Selection) -> Narrowed<'_> {
        Narrowed {
            outer: self,
            inner: other.clone(),
        }
    }

    /// The toolsets with at least one tool in this selection.
    pub fn enabled_toolsets(&self) -> Vec<&'static str> {
        TOOLSETS
            .iter()
            .filter(|s| self.tools().any(|t| t.toolset == s.name))
            .map(|s| s.name)
            .collect()
    }
}

/// A selection narrowed by a caller's own (see `Selection::narrowed_by`).
pub struct Narrowed<'a> {
    outer: &'a Selection,
    inner: Selection,
}

impl Narrowed<'_> {
    pub fn includes(&self, t: &ToolDef) -> bool {
        self.outer.includes(t) && self.inner_includes(t)
    }

    fn inner_includes(&self, t: &ToolDef) -> bool {
        let i = &self.inner;
        // A caller naming no toolsets keeps the operator's: only what it names narrows.
        let sets = i.toolsets.is_empty()
            || i.toolsets.iter().any(|s| {
                s == "all"
                    || s == t.toolset
                    || (s == "default" && TOOLSETS.iter().any(|d| d.name == t.toolset && d.default))
            });
        let named = |list: &[String]| {
            list.iter()
                .any(|n| n == t.name || t.aliases.contains(&n.as_str()))
        };
        let tools = i.tools.is_empty() || named(&i.tools);
        sets && tools && !named(&i.exclude_tools) && (!i.read_only || t.annotations.read_only)
    }
}

/// The compact profile of an input schema: names, types, enums, nesting and what is required;
/// no descriptions, formats or bounds (the server still enforces them).
pub fn compact_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "type" | "required" | "enum" => {
                        out.insert(k.clone(), v.clone());
                    }
                    "items" | "additionalProperties" if v.is_object() => {
                        out.insert(k.clone(), compact_schema(v));
                    }
                    // Enforced by the server, so declared in every profile.
                    "additionalProperties" if v == &Value::Bool(false) => {
                        out.insert(k.clone(), v.clone());
                    }
                    "anyOf" => {
                        let branches = v
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(compact_schema)
                            .collect();
                        out.insert(k.clone(), Value::Array(branches));
                    }
                    "properties" => {
                        let props = v.as_object().into_iter().flatten();
                        let props = props
                            .map(|(name, s)| (name.clone(), compact_schema(s)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {}
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
