//! Composite tools and prompts, our curation in `info.x-leadmagic-composites` and
//! `info.x-leadmagic-prompts`: checked against the tools built from the document, then emitted
//! as data beside them (a composite is a row of the tool table whose `steps` are not empty).
//!
//! A step's argument is read from the composite's input (`$input.NAME`), an earlier step's
//! result (`$steps.ID.FIELD.SUB`, with `|host` for the host name of a URL), the current element
//! of a `for_each` (`$item`), or is a literal; a list of `$` references gives alternatives, the
//! first with a value wins. Steps only call tools priced per call, and no cost argument comes
//! from a step's result, so a composite's worst case is known before anything is sent.

use super::GenError;
use super::catalog::{self, Annotations, Output};
use super::preflight::{Operation, Success};
use super::tools::{Cost, ToolDef};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Map, Value, json};

/// One step: a tool called with arguments mapped from elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    /// The tool's place in the table.
    pub tool: usize,
    pub args: Vec<(String, Vec<From>)>,
    /// A boolean input argument that must be true for the step to run ("" = always).
    pub when: String,
    /// An array input argument: the step runs once per element ("" = once).
    pub for_each: String,
}

/// Where a step argument's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum From {
    Input(String),
    Item,
    Step {
        step: usize,
        pointer: String,
        host: bool,
    },
    /// JSON text.
    Literal(String),
}

const POINTER: &str = "#/info/x-leadmagic-composites";

fn err(name: &str, at: String, message: String, fix: &str) -> GenError {
    GenError::new(Some(name), at, message, fix)
}

/// The composite tools of the document, as table rows after `defs` (the operations).
pub fn composites(doc: &Value, defs: &[ToolDef]) -> Result<Vec<ToolDef>, GenError> {
    let Some(list) = doc.pointer("/info/x-leadmagic-composites") else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| {
        GenError::new(
            None,
            POINTER,
            "x-leadmagic-composites is not a list",
            "list composites",
        )
    })?;
    let mut out: Vec<ToolDef> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{POINTER}/{i}");
        let text = |key: &str| c.get(key).and_then(Value::as_str).unwrap_or("").trim();
        let name = text("name");
        let taken = defs
            .iter()
            .chain(&out)
            .any(|d| d.op.name == name || d.op.aliases.iter().any(|a| a == name));
        if name.is_empty() || name.len() > 48 || taken {
            return Err(GenError::new(
                None,
                at,
                format!("composite name `{name}` is empty, over 48 characters or taken"),
                "give each composite a new snake_case name",
            ));
        }
        let input = c.get("input").cloned().unwrap_or_else(|| json!({}));
        let props = input
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if input.get("type") != Some(&json!("object")) {
            return Err(err(
                name,
                format!("{at}/input"),
                "the input is not an object schema".into(),
                "write `input: {type: object, properties: ...}`",
            ));
        }
        let one_of: Vec<Vec<String>> = match c.get("one_of") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                err(
                    name,
                    format!("{at}/one_of"),
                    "one_of is not a list of lists of argument names".into(),
                    "write e.g. `[[company_domain], [company_name]]`",
                )
            })?,
        };
        if let Some(f) = one_of.iter().flatten().find(|f| !props.contains_key(*f)) {
            return Err(err(
                name,
                format!("{at}/one_of"),
                format!("`{f}` is not an input argument"),
                "name input arguments",
            ));
        }
        let mut steps: Vec<Step> = Vec::new();
        let raw_steps = c.get("steps").and_then(Value::as_array);
        for (j, s) in raw_steps.into_iter().flatten().enumerate() {
            steps.push(step(
                name,
                &format!("{at}/steps/{j}"),
                s,
                &props,
                defs,
                &steps,
            )?);
        }
        if steps.is_empty() {
            return Err(err(
                name,
                format!("{at}/steps"),
                "a composite has no steps".into(),
                "list its steps",
            ));
        }
        let (total, parts) = cost_parts(&steps, defs, &props);
        let used: Vec<&ToolDef> = steps.iter().map(|s| &defs[s.tool]).collect();
        let annotations = Annotations {
            read_only: used.iter().all(|d| d.annotations.read_only),
            destructive: used.iter().any(|d| d.annotations.destructive),
            idempotent: used.iter().all(|d| d.annotations.idempotent),
            open_world: used.iter().any(|d| d.annotations.open_world),
        };
        let described = text("description")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let first = match described.find(". ") {
            Some(k) => described[..=k].to_string(),
            None => described.clone(),
        };
        let mut rules = String::new();
        if !one_of.is_empty() {
            rules.push_str(&format!(
                " Give one of: {}.",
                catalog::alternatives(&one_of)
            ));
        }
        rules.push_str(&format!(
            " Cost: up to {total} credits ({}), each step billed as its tool is.",
            parts.join(", ")
        ));
        let title = match text("title") {
            "" => name.replace('_', " "),
            t => t.to_string(),
        };
        let toolset = match text("toolset") {
            "" => "workflows",
            t => t,
        };
        let mut d = ToolDef::synthetic(Operation {
            operation_id: name.to_string(),
            name: name.to_string(),
            aliases: Vec::new(),
            method: String::new(),
            path: String::new(),
            pointer: at,
            toolset: toolset.to_string(),
            summary: None,
            description: None,
            params: Vec::new(),
            body: None,
            success: Success {
                status: "200".into(),
                media: None,
                example: None,
            },
            raw: Map::new(),
        });
        d.title = title;
        d.description = format!("{described}{rules}");
        d.compact_description = format!("{first}{rules}");
        d.input_schema = input;
        d.output_schema = output_schema();
        d.output = Output::Object;
        d.any_of_required = one_of;
        d.annotations = annotations;
        d.cost.credits = catalog::Credits {
            known: true,
            amount: total,
            per: "call".into(),
            cap_argument: String::new(),
            cap_default: 1.0,
            cap_max: f64::INFINITY,
            price_argument: String::new(),
            prices: Vec::new(),
            surcharge_argument: String::new(),
            surcharge: 0.0,
        };
        d.steps = steps;
        out.push(d);
    }
    Ok(out)
}

fn step(
    name: &str,
    at: &str,
    s: &Value,
    input: &Map<String, Value>,
    defs: &[ToolDef],
    earlier: &[Step],
) -> Result<Step, GenError> {
    let text = |key: &str| s.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let id = text("id");
    if id.is_empty() || earlier.iter().any(|e| e.id == id) {
        return Err(err(
            name,
            format!("{at}/id"),
            format!("step id `{id}` is empty or used twice"),
            "give each step its own id",
        ));
    }
    let tool_name = text("tool");
    let tool = defs
        .iter()
        .position(|d| d.op.name == tool_name)
        .ok_or_else(|| {
            err(
                name,
                format!("{at}/tool"),
                format!("step `{id}` calls `{tool_name}`, which is not a tool of the document"),
                "name an operation's tool (not an alias, not a composite)",
            )
        })?;
    let d = &defs[tool];
    let c = &d.cost.credits;
    if !c.known || c.per != "call" {
        return Err(err(
            name,
            format!("{at}/tool"),
            format!("step `{id}` calls `{tool_name}`, which is not priced per call"),
            "composites call tools with a fixed price per call, so their cost is exact",
        ));
    }
    let kind = |arg: &str| input.get(arg).and_then(|p| p.get("type")).cloned();
    let when = text("when");
    if !when.is_empty() && kind(&when) != Some(json!("boolean")) {
        return Err(err(
            name,
            format!("{at}/when"),
            format!("`when: {when}` is not a boolean input argument"),
            "name a boolean input argument",
        ));
    }
    let for_each = text("for_each");
    if !for_each.is_empty()
        && (kind(&for_each) != Some(json!("array")) || input[&for_each].get("maxItems").is_none())
    {
        return Err(err(
            name,
            format!("{at}/for_each"),
            format!("`for_each: {for_each}` is not an array input argument with maxItems"),
            "name an array input argument and bound it with maxItems",
        ));
    }
    let mut args = Vec::new();
    for (arg, v) in s
        .get("args")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let here = format!("{at}/args/{arg}");
        if d.input_schema
            .pointer(&format!("/properties/{arg}"))
            .is_none()
        {
            return Err(err(
                name,
                here,
                format!("`{tool_name}` takes no argument `{arg}`"),
                "map only arguments the tool takes",
            ));
        }
        let refs = match v {
            Value::Array(items) if items.iter().all(is_reference) => items.clone(),
            other if is_reference(other) => vec![other.clone()],
            other => vec![json!(other.to_string())],
        };
        let mut from = Vec::new();
        for r in &refs {
            let f = match r.as_str().unwrap_or("") {
                _ if !is_reference(r) => From::Literal(r.as_str().unwrap_or("").to_string()),
                "$item" if !for_each.is_empty() => From::Item,
                t => reference(t, input, earlier).ok_or_else(|| {
                    err(
                        name,
                        here.clone(),
                        format!("`{t}` names no input argument, earlier step or item"),
                        "use $input.NAME, $steps.ID.FIELD (an earlier step) or $item (with for_each)",
                    )
                })?,
            };
            let costs = [&c.price_argument, &c.surcharge_argument];
            if matches!(f, From::Step { .. }) && costs.contains(&arg) {
                return Err(err(
                    name,
                    here.clone(),
                    format!("the cost argument `{arg}` comes from a step's result"),
                    "take cost arguments from the input, so the worst case is known up front",
                ));
            }
            from.push(f);
        }
        args.push((arg.clone(), from));
    }
    Ok(Step {
        id,
        tool,
        args,
        when,
        for_each,
    })
}

fn is_reference(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with('$'))
}

fn reference(text: &str, input: &Map<String, Value>, earlier: &[Step]) -> Option<From> {
    if let Some(arg) = text.strip_prefix("$input.") {
        return input
            .contains_key(arg)
            .then(|| From::Input(arg.to_string()));
    }
    let rest = text.strip_prefix("$steps.")?;
    let (rest, host) = match rest.strip_suffix("|host") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (id, path) = rest.split_once('.')?;
    let step = earlier.iter().position(|s| s.id == id)?;
    let pointer = path.split('.').map(|p| format!("/{p}")).collect();
    Some(From::Step {
        step,
        pointer,
        host,
    })
}

/// The most a composite can cost (every step run, every array at its longest), and the cost of
/// each step in words.
fn cost_parts(steps: &[Step], defs: &[ToolDef], input: &Map<String, Value>) -> (f64, Vec<String>) {
    let mut total = 0.0;
    let mut parts = Vec::new();
    for s in steps {
        let c = &defs[s.tool].cost.credits;
        let price = c.amount + c.surcharge;
        let mut part = format!("{} {price}", defs[s.tool].op.name);
        let mut times = 1.0;
        if !s.for_each.is_empty() {
            times = input[&s.for_each]["maxItems"].as_f64().unwrap_or(1.0);
            part.push_str(&format!(" per entry of {}", s.for_each));
        }
        if !s.when.is_empty() {
            part.push_str(&format!(" with {}", s.when));
        }
        total += price * times;
        parts.push(part);
    }
    ((total * 1000.0).round() / 1000.0, parts)
}

/// What a composite returns: every step's status, result (or error) and credits.
fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "tool": {"type": "string"},
                        "item": {},
                        "status": {"type": "string", "enum": ["ok", "error", "skipped"]},
                        "result": {"type": "object"},
                        "error": {"type": "object"},
                        "reason": {"type": "string"},
                        "credits": {"type": "object"}
                    },
                    "required": ["id", "tool", "status"]
                }
            },
            "summary": {"type": "object"}
        },
        "required": ["steps"]
    })
}

/// The tokens of a composite's steps (empty for an operation).
pub fn steps_tokens(steps: &[Step]) -> TokenStream {
    let steps = steps.iter().map(|s| {
        let (id, tool, when, for_each) = (&s.id, s.tool, &s.when, &s.for_each);
        let args = s.args.iter().map(|(name, from)| {
            let from = from.iter().map(|f| match f {
                From::Input(a) => quote!(ArgFrom::Input(#a)),
                From::Item => quote!(ArgFrom::Item),
                From::Step {
                    step,
                    pointer,
                    host,
                } => quote!(ArgFrom::Step { step: #step, pointer: #pointer, host: #host }),
                From::Literal(json) => quote!(ArgFrom::Literal(#json)),
            });
            quote!((#name, &[#(#from),*]))
        });
        quote! {
            Step { id: #id, tool: #tool, args: &[#(#args),*], when: #when, for_each: #for_each }
        }
    });
    quote!(&[#(#steps),*])
}

/// A prompt: our text, with `{cost:TOOL}` already replaced by that tool's cost.
pub struct Prompt {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Name, description, required.
    pub arguments: Vec<(String, String, bool)>,
    pub text: String,
}

/// The prompts of the document (`info.x-leadmagic-prompts`), checked against the tools.
pub fn prompts(doc: &Value, tools: &[ToolDef]) -> Result<Vec<Prompt>, GenError> {
    let at = "#/info/x-leadmagic-prompts";
    let mut out: Vec<Prompt> = Vec::new();
    let list = doc
        .pointer("/info/x-leadmagic-prompts")
        .and_then(Value::as_array);
    for (i, p) in list.into_iter().flatten().enumerate() {
        let here = format!("{at}/{i}");
        let text = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        let name = text("name");
        if name.is_empty() || out.iter().any(|o| o.name == name) {
            return Err(GenError::new(
                None,
                here,
                format!("prompt name `{name}` is empty or used twice"),
                "give each prompt its own name",
            ));
        }
        let mut arguments = Vec::new();
        for a in p
            .get("arguments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let required = a.get("required").and_then(Value::as_bool).unwrap_or(false);
            arguments.push((field("name"), field("description"), required));
        }
        let mut body = String::new();
        let mut rest = text("text");
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| {
                GenError::new(Some(&name), here.clone(), "a `{` is not closed", "close it")
            })?;
            let key = &rest[open + 1..close];
            body.push_str(&rest[..open]);
            if let Some(tool) = key.strip_prefix("cost:") {
                let d = tools.iter().find(|d| d.op.name == tool).ok_or_else(|| {
                    GenError::new(
                        Some(&name),
                        here.clone(),
                        format!("`{{cost:{tool}}}` names no tool"),
                        "name a tool of the table",
                    )
                })?;
                body.push_str(&cost_words(&d.cost));
            } else if arguments.iter().any(|(n, _, _)| n == key) {
                body.push_str(&rest[open..=close]);
            } else {
                return Err(GenError::new(
                    Some(&name),
                    here.clone(),
                    format!("`{{{key}}}` is neither an argument nor a cost"),
                    "declare the argument, or write {cost:TOOL}",
                ));
            }
            rest = rest[close + 1..].to_string();
        }
        body.push_str(&rest);
        out.push(Prompt {
            name,
            title: text("title"),
            description: text("description"),
            arguments,
            text: body,
        });
    }
    Ok(out)
}

/// A cost in a few words: "5 credits", "up to 11 credits", "free".
fn cost_words(cost: &Cost) -> String {
    let c = &cost.credits;
    if !c.known {
        "an unstated cost".into()
    } else if c.amount == 0.0 {
        "nothing".into()
    } else if c.per == "call" {
        let phrase = c.amount_phrase();
        if cost.free_when.is_empty() && !phrase.starts_with("up to") {
            format!("up to {phrase}")
        } else {
            phrase
        }
    } else {
        format!("{} per {}", c.amount_phrase(), c.per)
    }
}

/// The tokens of the prompt table.
pub fn prompts_tokens(prompts: &[Prompt]) -> TokenStream {
    let entries = prompts.iter().map(|p| {
        let (name, title, description, text) = (&p.name, &p.title, &p.description, &p.text);
        let args = p
            .arguments
            .iter()
            .map(|(n, d, r)| quote!(PromptArg { name: #n, description: #d, required: #r }));
        quote! {
            PromptDef { name: #name, title: #title, description: #description,
                arguments: &[#(#args),*], text: #text }
        }
    });
    let count = prompts.len();
    quote! {
        /// The prompts (our curation), their costs filled in from the table.
        pub static PROMPTS: [PromptDef; #count] = [#(#entries),*];
    }
}
