//! One tool call, start to finish: validate, dispatch through the typed client, turn the raw
//! response into a result. Shared by the MCP server and the `call` command.

use crate::errors::{self, Kind, ToolError};
use crate::generated::Client;
use crate::runtime::{self, Captured};
use crate::tools::{Args, CallError, Output, ToolDef};
use serde_json::{Map, Value, json};

/// Longest text value passed to the model; upstream profile text is attacker-writable.
pub const MAX_TEXT_CHARS: usize = 16_000;

/// What a tool call produced: `structuredContent` and whether it is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub structured: Value,
    pub is_error: bool,
}

impl Outcome {
    fn ok(v: Value) -> Self {
        Outcome {
            structured: v,
            is_error: false,
        }
    }

    fn error(e: ToolError) -> Self {
        Outcome {
            structured: e.to_value(),
            is_error: true,
        }
    }
}

fn invalid(e: crate::tools::ArgError) -> Outcome {
    let mut te = ToolError::new(
        Kind::InvalidArguments,
        format!("Invalid arguments: {e}."),
        "Fix the named argument and call again; nothing was sent to LeadMagic.",
    );
    te.field = Some(e.field).filter(|f| !f.is_empty());
    Outcome::error(te)
}

/// Run one call. `args` is the JSON-RPC `arguments` object.
pub async fn call(client: &Client, tool: &ToolDef, args: Map<String, Value>) -> Outcome {
    if let Err(e) = crate::validate::check(tool, &args) {
        return invalid(e);
    }
    let started = std::time::Instant::now();
    let (result, captured) =
        runtime::capture(crate::tools::dispatch(client, tool.name, Args::new(args))).await;
    let outcome = match (result, captured) {
        (Err(CallError::Args(e)), _) => invalid(e),
        (Err(CallError::UnknownTool), _) => Outcome::error(ToolError::new(
            Kind::InvalidArguments,
            format!("Unknown tool {}.", tool.name),
            "List the tools again.",
        )),
        (_, Some(c)) => from_captured(tool, c),
        (Err(CallError::Upstream(e)), None) => {
            Outcome::error(errors::from_transport(&e, tool.is_billed()))
        }
        (Ok(()), None) => Outcome::error(ToolError::new(
            Kind::InvalidResponse,
            "LeadMagic's answer was lost on the way.",
            "Try again.",
        )),
    };
    let kind = outcome
        .structured
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = outcome.structured.get("status").and_then(Value::as_u64);
    tracing::info!(
        tool = tool.name,
        operation = tool.operation_id,
        is_error = outcome.is_error,
        kind,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "tool call"
    );
    outcome
}

/// Turn the raw response into a result; no field of a JSON body is dropped.
fn from_captured(tool: &ToolDef, c: Captured) -> Outcome {
    if !(200..300).contains(&c.status) {
        return Outcome::error(errors::from_status(
            c.status,
            &c.headers,
            &c.body,
            tool.is_billed(),
        ));
    }
    let request_id = errors::request_id(&c.headers, None);
    let invalid_response = |message: &str| {
        let mut e = ToolError::new(
            Kind::InvalidResponse,
            message,
            "The call may have been charged; check get_credit_balance before repeating it.",
        );
        e.status = Some(c.status);
        e.request_id = request_id.clone();
        Outcome::error(e)
    };
    if c.truncated && tool.output != Output::Text {
        return invalid_response(
            "LeadMagic's answer was larger than the size cap and was dropped.",
        );
    }
    let mut structured = match tool.output {
        Output::Empty => json!({ "status": c.status }),
        Output::Text => json!({
            "content_type": c.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(""),
            "text": String::from_utf8_lossy(&c.body),
            "truncated": c.truncated,
        }),
        Output::Object | Output::Wrapped if c.body.iter().all(u8::is_ascii_whitespace) => {
            json!({ "status": c.status })
        }
        Output::Object | Output::Wrapped => match serde_json::from_slice::<Value>(&c.body) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(other @ Value::Array(_)) => json!({ "items": other }),
            Ok(other) => json!({ "value": other }),
            Err(_) => return invalid_response("LeadMagic's answer was not valid JSON."),
        },
    };
    clean(&mut structured);
    if c.sandbox {
        structured["_sandbox"] = json!(
            "Sample data from the built-in sandbox: not a real LeadMagic answer, no credits used."
        );
    }
    Outcome::ok(structured)
}

/// Remove invisible and control characters from every string and cap its length.
pub fn clean(v: &mut Value) {
    use crate::validate::is_hidden_char;
    match v {
        Value::String(s) if s.chars().any(is_hidden_char) || s.chars().count() > MAX_TEXT_CHARS => {
            let visible: Vec<char> = s.chars().filter(|c| !is_hidden_char(*c)).collect();
            let mut out: String = visible.iter().take(MAX_TEXT_CHARS).collect();
            if visible.len() > MAX_TEXT_CHARS {
                out.push_str(" [truncated]");
            }
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        Value::Object(map) => map.values_mut().for_each(clean),
        _ => {}
    }
}
