//! One tool call, start to finish: validate, dispatch through the typed client, turn the raw
//! response into a result. Shared by the MCP server and the `call` command.

use crate::config::ApiKey;
use crate::errors::{self, Kind, ToolError};
use crate::generated::Client;
use crate::limits::{self, Payer};
use crate::runtime::{CallScope, Captured, Source};
use crate::tools::{Args, CallError, Output, ToolDef};
use progenitor_client::ClientInfo;
use serde_json::{Map, Value, json};

/// Longest text value passed to the model; upstream profile text is attacker-writable.
pub const MAX_TEXT_CHARS: usize = 16_000;

/// Most JSON objects of an answer returned as structured data (about 13 MiB of B-tree nodes at
/// worst; real answers, even 1,000 bulk rows, hold a few thousand).
pub const MAX_RESULT_OBJECTS: usize = 20_000;

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

    pub(crate) fn error(e: ToolError) -> Self {
        Outcome {
            structured: e.to_value(),
            is_error: true,
        }
    }
}

pub(crate) fn invalid(e: crate::tools::ArgError) -> Outcome {
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

/// Who makes a call, and how it can be cut short or report progress. The default is the
/// server's own key, no cancellation, no progress.
#[derive(Clone, Default)]
pub struct Caller {
    /// A caller's own key (bring-your-own-key mode): used for this call's requests only, kept
    /// out of everything emitted; the spend, budget and rate-limit pauses are that key's own.
    pub key: Option<ApiKey>,
    /// The client's cancellation: a request not sent yet is then not sent.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Told after each step of a composite, and as a watched event stream's events arrive.
    pub progress: Option<Progress>,
}

pub use crate::runtime::Progress;

impl Caller {
    pub(crate) fn payer(&self) -> Payer {
        self.key.as_ref().map_or(Payer::Server, Payer::caller)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }
}

/// Run one call with the server's key. `args` is the JSON-RPC `arguments` object.
pub async fn call(client: &Client, tool: &'static ToolDef, args: Map<String, Value>) -> Outcome {
    call_with(client, tool, args, &Caller::default()).await
}

/// Run one call for a caller (its key, its cancellation, its progress).
pub async fn call_with(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
) -> Outcome {
    let _filter = caller
        .key
        .as_ref()
        .map(|k| crate::secrets::register(k.expose()));
    run(client, tool, args, caller).await
}

async fn run(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
) -> Outcome {
    let started = std::time::Instant::now();
    let mut outcome = attempt(client, tool, args, caller).await;
    // The last line: nothing of a key in use leaves in a result, error or hint.
    crate::secrets::scrub_value(&mut outcome.structured);
    let s = &outcome.structured;
    let used = s.pointer("/_credits/used").and_then(Value::as_f64);
    let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
    let status = s.get("status").and_then(Value::as_u64);
    let request_id = s.get("request_id").and_then(Value::as_str);
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

/// The values of a tool's secret arguments (`callback.secret` names a field of an object
/// argument), so they join the last-line filter for the call.
fn secret_values<'a>(tool: &ToolDef, args: &'a Map<String, Value>) -> Vec<&'a str> {
    tool.secret_arguments
        .iter()
        .filter_map(|path| {
            let mut parts = path.split('.');
            let mut v = args.get(parts.next()?)?;
            for p in parts {
                v = v.get(p)?;
            }
            v.as_str()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

async fn attempt(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
) -> Outcome {
    // Someone else's secret in the arguments is kept out of every output of this call, as the
    // key is, before anything (even a validation message) can repeat it.
    let _secrets: Vec<crate::secrets::Registration> = secret_values(tool, &args)
        .into_iter()
        .map(crate::secrets::register)
        .collect();
    let mut outcome = attempt_with(client, tool, args, caller).await;
    crate::secrets::scrub_value(&mut outcome.structured);
    outcome
}

/// Check the arguments, reserve the worst case against the budget, then run the call (or a
/// composite's steps). Nothing is sent when any of that refuses.
async fn attempt_with(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
) -> Outcome {
    if let Err(e) = check(tool, &args) {
        return invalid(e);
    }
    let payer = caller.payer();
    let runtime = client.inner();
    let worst = worst_case(tool, &args);
    // The sandbox spends nothing, so it counts nothing.
    if !runtime.is_sandbox()
        && let Err(over) = runtime.budget().reserve(payer, worst)
    {
        return over_budget(tool, payer, over);
    }
    if tool.steps.is_empty() {
        execute(client, tool, args, caller, worst).await
    } else {
        crate::composite::run(client, tool, args, caller, worst).await
    }
}

/// The refusal of a call whose worst case does not fit the budget, if it does not (nothing is
/// reserved: the call itself reserves).
pub(crate) fn budget_refusal(
    client: &Client,
    tool: &ToolDef,
    worst: f64,
    caller: &Caller,
) -> Option<Outcome> {
    let runtime = client.inner();
    if runtime.is_sandbox() {
        return None;
    }
    let payer = caller.payer();
    let over = runtime.budget().check(payer, worst).err()?;
    Some(over_budget(tool, payer, over))
}

fn over_budget(tool: &ToolDef, payer: Payer, over: limits::OverBudget) -> Outcome {
    let whose = match payer {
        Payer::Server => "this server",
        Payer::Caller(_) => "your key on this server",
    };
    let mut e = ToolError::new(
        Kind::BudgetExceeded,
        format!(
            "Refused: this call may cost up to {} credits and {whose} has spent {} of its \
             {}-credit budget (--max-credits); nothing was sent.",
            round(over.worst_case),
            round(over.spent),
            round(over.max)
        ),
        "Lower the cost (e.g. a smaller limit) or restart the server with a higher --max-credits.",
    );
    e.field = Some(tool.credits.cap_argument.to_string()).filter(|f| !f.is_empty());
    Outcome::error(e)
}

/// A tool's arguments against its schema; for a composite, also each step's arguments that
/// come from the input alone, so bad input is refused before any step is sent.
pub(crate) fn check(
    tool: &ToolDef,
    args: &Map<String, Value>,
) -> Result<(), crate::tools::ArgError> {
    crate::validate::check(tool, args)?;
    crate::composite::check(tool, args)
}

/// Send one validated call whose worst case is already reserved, settle the reservation with
/// what LeadMagic reported, and say so in `_credits`.
pub(crate) async fn execute(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
    worst: f64,
) -> Outcome {
    let payer = caller.payer();
    let runtime = client.inner();
    let sandbox = runtime.is_sandbox();
    let budget = runtime.budget();
    if caller.is_cancelled() {
        if !sandbox {
            budget.settle(payer, worst, 0.0);
        }
        return cancelled();
    }
    // A null argument is one not given (validation reads it so): it is left out of the request,
    // where a typed body would refuse it for a list or a number.
    let mut args = args;
    args.retain(|_, v| !v.is_null());
    let scope = CallScope::new(
        tool,
        caller.key.clone(),
        payer,
        caller.cancel.clone(),
        caller.progress.clone(),
    );
    let call_client = client.for_call(scope.clone());
    let result = crate::tools::dispatch(&call_client, tool, Args::new(args)).await;
    let captured = scope.take_captured();
    // Whether LeadMagic may have charged without saying how much.
    let maybe_charged = match (&result, &captured) {
        (_, Some(c)) => {
            c.source == Source::Upstream && errors::status_may_charge(c.status, &c.headers)
        }
        (Err(CallError::Upstream(e)), None) => errors::transport_may_charge(e),
        _ => false,
    };
    let (mut outcome, reported) = match (result, captured) {
        (Err(CallError::Args(e)), _) => (invalid(e), None),
        (Err(CallError::UnknownTool), _) => (
            Outcome::error(ToolError::new(
                Kind::InvalidArguments,
                format!("Unknown tool {}.", tool.name),
                "List the tools again.",
            )),
            None,
        ),
        (_, Some(c)) => from_captured(tool, c),
        (Err(CallError::Upstream(e)), None) => (
            Outcome::error(errors::from_transport(&e, tool.is_billed())),
            None,
        ),
        (Ok(()), None) => (
            Outcome::error(ToolError::new(
                Kind::InvalidResponse,
                "LeadMagic's answer was lost on the way.",
                "Try again.",
            )),
            None,
        ),
    };
    let credits = if sandbox {
        json!({ "used": 0, "would_cost": worst.is_finite().then(|| round(worst)) })
    } else {
        // Spend is what the API reported; without a report, the worst case if it may have charged.
        let fallback = if maybe_charged && tool.is_billed() && worst.is_finite() {
            worst
        } else {
            0.0
        };
        let used = reported.unwrap_or(fallback);
        let total = budget.settle(payer, worst, used);
        credits_report(client, payer, used, reported.is_some(), total)
    };
    if let Value::Object(map) = &mut outcome.structured {
        map.insert("_credits".into(), credits);
        if tool.poll_after_s > 0 && !outcome.is_error {
            // LeadMagic asks for a gap between polls; the result says how long.
            map.insert("_poll_after_s".into(), json!(tool.poll_after_s));
        }
    }
    outcome
}

/// `_credits` of a result: what this call used, and the payer's running total and budget.
pub(crate) fn credits_report(
    client: &Client,
    payer: Payer,
    used: f64,
    reported: bool,
    total: f64,
) -> Value {
    // Named for what it totals: the whole process, or one caller's key.
    let total_name = match payer {
        Payer::Server => "process_total",
        Payer::Caller(_) => "caller_key_total",
    };
    let mut credits = json!({ "used": round(used), "reported": reported });
    credits[total_name] = json!(round(total));
    if let Some(max) = client.inner().budget().max() {
        credits["budget_remaining"] = json!(round((max - total).max(0.0)));
    }
    credits
}

/// The client cancelled the call before anything was sent.
pub(crate) fn cancelled() -> Outcome {
    Outcome::error(ToolError::new(
        Kind::Cancelled,
        "Cancelled before anything was sent to LeadMagic; nothing was charged or counted.",
        "Call again if it is still wanted.",
    ))
}

/// The most this call can cost, from the document's `x-leadmagic-credits` and the arguments:
/// units (the cap argument's number, or its array's length; the default when absent; at most
/// the page cap) times the price per unit (by the priced argument's value, plus the surcharge
/// when its flag is set). Unknown cost = unbounded (refused under any budget).
pub fn worst_case(tool: &ToolDef, args: &Map<String, Value>) -> f64 {
    if !tool.steps.is_empty() {
        return crate::composite::worst_case(tool, args);
    }
    let c = &tool.credits;
    if !c.known {
        return f64::INFINITY;
    }
    let price_of = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .and_then(|v| c.prices.iter().find(|(name, _)| *name == v))
            .map_or(c.amount, |(_, p)| *p)
    };
    let surcharge = if args.get(c.surcharge_argument) == Some(&Value::Bool(true)) {
        c.surcharge
    } else {
        0.0
    };
    // A price per element of an array argument: the sum over its elements.
    if let Some((array, field)) = c.price_argument.split_once("[].") {
        return match args.get(array) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| price_of(item.get(field)) + surcharge)
                .sum(),
            _ => c.amount * c.cap_default,
        };
    }
    let price = if c.price_argument.is_empty() {
        c.amount
    } else {
        price_of(args.get(c.price_argument))
    } + surcharge;
    if c.per == "call" {
        return price;
    }
    let units = match args.get(c.cap_argument) {
        Some(Value::Array(items)) => items.len() as f64,
        Some(v) => v.as_f64().unwrap_or(c.cap_default),
        None => c.cap_default,
    };
    price * units.max(0.0).min(c.cap_max)
}

/// Credits the API says it charged in `X-Credits-Consumed` (it wins over the body).
fn header_credits(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    headers
        .get("x-credits-consumed")
        .and_then(|v| v.to_str().ok())
        .and_then(limits::credits_number)
}

/// `credits_consumed` of a body too large to hold as values: read alone, the rest skipped.
fn skimmed_credits(body: &[u8]) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct Report {
        credits_consumed: Option<Value>,
    }
    let report: Report = serde_json::from_slice(body).ok()?;
    limits::credits_value(&report.credits_consumed?)
}

pub(crate) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Turn the raw response into a result, with the credits LeadMagic reported for it. Each body
/// is parsed once; no field of a JSON body is dropped.
fn from_captured(tool: &ToolDef, c: Captured) -> (Outcome, Option<f64>) {
    if c.source == Source::Cancelled {
        return (cancelled(), None);
    }
    if let Source::HeldBack(wait) = c.source {
        let mut e = ToolError::new(
            Kind::RateLimited,
            "Held back: LeadMagic said this key's rate-limit window is used up, and waiting for \
             it would outlast the call's deadline; nothing was sent.",
            "Call again after retry_after_s seconds.",
        );
        e.retry_after_s = Some(errors::retry_after_s(wait));
        return (Outcome::error(e), None);
    }
    let header = header_credits(&c.headers);
    if !(200..300).contains(&c.status) {
        let (e, body) = errors::from_status(c.status, &c.headers, &c.body, tool.is_billed());
        return (Outcome::error(e), header.or(body));
    }
    let request_id = errors::request_id(&c.headers);
    let invalid_response = |message: &str| {
        let mut e = ToolError::new(
            Kind::InvalidResponse,
            message,
            "The call may have been charged; check get_credit_balance before repeating it.",
        );
        e.status = Some(c.status);
        e.request_id = request_id.clone();
        (Outcome::error(e), header)
    };
    if c.truncated && tool.output != Output::Text {
        return invalid_response(
            "LeadMagic's answer was larger than the size cap and was dropped.",
        );
    }
    let parse = |body: &[u8]| serde_json::from_slice::<Value>(body);
    let mut structured = match tool.output {
        // No body declared; one that arrives anyway is kept.
        Output::Empty => match parse(&c.body) {
            Ok(Value::Object(map))
                if crate::jsonrpc::object_count(&c.body) <= MAX_RESULT_OBJECTS =>
            {
                Value::Object(map)
            }
            _ => json!({ "status": c.status }),
        },
        Output::Text => json!({
            "content_type": c.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(""),
            "text": String::from_utf8_lossy(&c.body),
            "truncated": c.truncated,
        }),
        Output::Object | Output::Wrapped if c.body.iter().all(u8::is_ascii_whitespace) => {
            json!({ "status": c.status })
        }
        // Too many objects to hold as JSON values (each weighs ~30 times its text): the start of
        // the answer as text, with what to do instead.
        Output::Object | Output::Wrapped
            if c.body.len() > 64 * 1024
                && crate::jsonrpc::object_count(&c.body) > MAX_RESULT_OBJECTS =>
        {
            let credits = header.or_else(|| skimmed_credits(&c.body));
            let mut v = json!({
                "content_type": "application/json",
                "text": String::from_utf8_lossy(&c.body),
                "truncated": true,
                "_too_large": format!(
                    "LeadMagic's answer holds more than {MAX_RESULT_OBJECTS} JSON objects, too \
                     many to return as structured data; `text` holds its start. Ask for fewer \
                     results (a smaller limit, or one page at a time)."
                ),
            });
            clean(&mut v);
            return (Outcome::ok(v), credits);
        }
        Output::Object | Output::Wrapped => match parse(&c.body) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(other @ Value::Array(_)) => json!({ "items": other }),
            Ok(other) => json!({ "value": other }),
            Err(_) => return invalid_response("LeadMagic's answer was not valid JSON."),
        },
    };
    let reported = header.or_else(|| {
        structured
            .get("credits_consumed")
            .and_then(limits::credits_value)
    });
    clean(&mut structured);
    if c.source == Source::Sandbox {
        structured["_sandbox"] = json!(
            "Sample data from the built-in sandbox: not a real LeadMagic answer; nothing was \
             sent and no credits were used (_credits.would_cost says what the call could cost)."
        );
    }
    (Outcome::ok(structured), reported)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn worst(tool: &str, args: Value) -> f64 {
        let t = crate::tools::find(tool).expect(tool);
        worst_case(t, args.as_object().unwrap())
    }

    #[test]
    fn per_row_costs_follow_the_limit_and_the_page_cap() {
        assert_eq!(worst("find_company_employees", json!({})), 0.05 * 10.0);
        assert_eq!(worst("find_company_employees", json!({"limit": 100})), 5.0);
        assert_eq!(
            worst("find_jobs", json!({"per_page": 500})),
            50.0,
            "page cap"
        );
        assert_eq!(worst("search_people", json!({})), 25.0);
        assert_eq!(
            worst(
                "search_people",
                json!({"limit": 30, "include_contact_details": true})
            ),
            30.0 * 7.0,
            "contact details add 6 credits a row"
        );
    }

    #[test]
    fn submissions_cost_their_rows_at_the_products_price() {
        let rows = json!([{"email": "a@example.org"}, {"email": "b@example.org"}, {"email": "c@example.org"}]);
        assert_eq!(
            worst(
                "submit_bulk_job",
                json!({"product": "email_validation", "rows": rows})
            ),
            0.75
        );
        assert_eq!(
            worst(
                "submit_bulk_job",
                json!({"product": "something_new", "rows": rows})
            ),
            30.0,
            "an unlisted product is priced at the highest"
        );
        assert!(
            worst(
                "submit_bulk_job",
                json!({"product": "email_finder", "csv": "a,b"})
            )
            .is_infinite(),
            "rows in a file: no bound"
        );
        let items = json!([{"product": "email_finder", "input": {}}, {"product": "mobile_finder", "input": {}}]);
        assert_eq!(worst("submit_batch", json!({"items": items})), 6.0);
        assert!(
            worst(
                "review_bulk_job",
                json!({"jobId": "x", "action": "approve"})
            )
            .is_infinite()
        );
        assert_eq!(worst("preview_cost", json!({"items": items})), 0.0);
    }
}
