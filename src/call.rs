//! One tool call, start to finish: validate, dispatch through the typed client, turn the raw
//! response into a result. Shared by the MCP server and the `call` command.

use crate::errors::{self, Kind, ToolError};
use crate::generated::Client;
use crate::runtime::{self, Captured};
use crate::tools::{Args, CallError, Output, ToolDef};
use progenitor_client::ClientInfo;
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

/// Bring-your-own-key mode without a key: refused before anything is sent.
pub fn missing_caller_key() -> Outcome {
    Outcome::error(ToolError::new(
        Kind::Auth,
        "This server needs your own LeadMagic API key with each request.",
        "Send it in the x-leadmagic-key HTTP header (configure it in your MCP client's headers).",
    ))
}

/// Run one call. `args` is the JSON-RPC `arguments` object.
pub async fn call(client: &Client, tool: &ToolDef, args: Map<String, Value>) -> Outcome {
    if let Err(e) = crate::validate::check(tool, &args) {
        return invalid(e);
    }
    let budget = client.inner().budget();
    let worst = worst_case(tool, &args);
    if let Err(over) = budget.reserve(worst) {
        let mut e = ToolError::new(
            Kind::BudgetExceeded,
            format!(
                "Refused: this call may cost up to {} credits and this session has spent {} of its \
                 {}-credit budget (--max-credits); nothing was sent.",
                round(over.worst_case),
                round(over.spent),
                round(over.max)
            ),
            "Lower the cost (e.g. a smaller limit) or restart the server with a higher --max-credits.",
        );
        e.field = Some(tool.credits.cap_argument.to_string()).filter(|f| !f.is_empty());
        return Outcome::error(e);
    }
    let started = std::time::Instant::now();
    let (result, captured) =
        runtime::capture(crate::tools::dispatch(client, tool.name, Args::new(args))).await;
    let reported = captured.as_ref().and_then(reported_credits);
    // Whether LeadMagic may have charged without saying how much.
    let maybe_charged = match (&result, &captured) {
        (_, Some(c)) => errors::status_may_charge(c.status, &c.headers),
        (Err(CallError::Upstream(e)), None) => errors::transport_may_charge(e),
        _ => false,
    };
    let mut outcome = match (result, captured) {
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
    // Spend is what the API reported; without a report, the worst case if it may have charged.
    let fallback = if maybe_charged && tool.is_billed() && worst.is_finite() {
        worst
    } else {
        0.0
    };
    let used = reported.unwrap_or(fallback);
    let total = budget.settle(worst, used);
    let mut credits = json!({ "used": round(used), "session_total": round(total), "reported": reported.is_some() });
    if let Some(max) = budget.max() {
        credits["budget_remaining"] = json!(round((max - total).max(0.0)));
    }
    if let Value::Object(map) = &mut outcome.structured {
        map.insert("_credits".into(), credits);
    }
    let kind = outcome
        .structured
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = outcome.structured.get("status").and_then(Value::as_u64);
    let request_id = outcome.structured.get("request_id").and_then(Value::as_str);
    tracing::info!(
        tool = tool.name,
        operation = tool.operation_id,
        is_error = outcome.is_error,
        kind,
        status,
        request_id,
        credits = used,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "tool call"
    );
    outcome
}

/// The most this call can cost, from the document's `x-leadmagic-credits` and the argument
/// that caps billed units. Unknown cost = unbounded (refused under any budget).
pub fn worst_case(tool: &ToolDef, args: &Map<String, Value>) -> f64 {
    let c = &tool.credits;
    if !c.known {
        return f64::INFINITY;
    }
    if c.per == "call" {
        return c.amount;
    }
    let units = args
        .get(c.cap_argument)
        .and_then(Value::as_f64)
        .unwrap_or(c.cap_default);
    c.amount * units.max(0.0)
}

/// Credits the API says it charged: `X-Credits-Consumed`, else the body's `credits_consumed`.
fn reported_credits(c: &Captured) -> Option<f64> {
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let header = c
        .headers
        .get("x-credits-consumed")
        .and_then(|v| v.to_str().ok());
    if let Some(v) = header.and_then(parse) {
        return Some(v);
    }
    let body: Value = serde_json::from_slice(&c.body).ok()?;
    match body.get("credits_consumed")? {
        Value::Number(n) => n.as_f64().filter(|v| *v >= 0.0),
        Value::String(s) => parse(s),
        _ => None,
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
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
