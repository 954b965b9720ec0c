//! Composite tools: rows of `TOOLS` whose `steps` are set (declared in the overlay, generated
//! like the rest). Their worst case, the up-front check of what their input decides, and the
//! run: a step starts as soon as what it reads is known (independent steps at once), each is
//! called as the tool it names, and each reports its status, result and credits; a failed step
//! does not lose the others.

use crate::call::{self, Caller, Outcome};
use crate::errors::{Kind, ToolError};
use crate::generated::Client;
use crate::tools::{ArgError, ArgFrom, Step, TOOLS, ToolDef};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use progenitor_client::ClientInfo;
use serde_json::{Map, Value, json};

/// The runs of a step for these arguments: none when its `when` argument is not true, one per
/// element of its `for_each` array, else one.
fn runs<'a>(step: &Step, args: &'a Map<String, Value>) -> Vec<Option<&'a Value>> {
    if !step.when.is_empty() && args.get(step.when) != Some(&Value::Bool(true)) {
        return Vec::new();
    }
    if step.for_each.is_empty() {
        return vec![None];
    }
    match args.get(step.for_each) {
        Some(Value::Array(items)) => items.iter().map(Some).collect(),
        _ => Vec::new(),
    }
}

/// What the steps so far have produced: per step, finished or not, and its result when it is
/// one that later steps may read (a step run once that succeeded).
struct Known<'a> {
    done: &'a [bool],
    results: &'a [Option<Value>],
}

/// A step run's arguments. `Err` lists the steps it still waits for; a source that cannot give
/// a value (an absent input, a finished step without that field) is passed over.
fn resolve(
    step: &Step,
    args: &Map<String, Value>,
    item: Option<&Value>,
    known: &Known<'_>,
) -> Result<Map<String, Value>, Vec<usize>> {
    let mut out = Map::new();
    let mut waiting = Vec::new();
    for (name, sources) in step.args {
        for source in *sources {
            let value = match source {
                ArgFrom::Input(a) => args.get(*a).filter(|v| !v.is_null()).cloned(),
                ArgFrom::Item => item.cloned(),
                ArgFrom::Literal(text) => serde_json::from_str(text).ok(),
                ArgFrom::Step {
                    step,
                    pointer,
                    host,
                } => {
                    if !known.done[*step] {
                        waiting.push(*step);
                        break;
                    }
                    let found = known.results[*step]
                        .as_ref()
                        .and_then(|r| r.pointer(pointer))
                        .filter(|v| !v.is_null());
                    match found {
                        Some(Value::String(s)) if *host => host_of(s).map(Value::String),
                        Some(v) if !*host => Some(v.clone()),
                        _ => None,
                    }
                }
            };
            if let Some(v) = value {
                out.insert((*name).to_string(), v);
                break;
            }
        }
    }
    if waiting.is_empty() {
        Ok(out)
    } else {
        Err(waiting)
    }
}

/// The host name of a URL (or of a bare `www.example.com`), without `www.`.
fn host_of(text: &str) -> Option<String> {
    let url = url::Url::parse(text)
        .or_else(|_| url::Url::parse(&format!("https://{text}")))
        .ok()?;
    let host = url.host_str()?;
    Some(
        host.strip_prefix("www.")
            .unwrap_or(host)
            .to_ascii_lowercase(),
    )
}

/// The most a composite can cost for these arguments: every run of every step at its tool's
/// worst case. Cost arguments never come from a step's result (the generator refuses it), so
/// the input alone decides.
pub fn worst_case(tool: &ToolDef, args: &Map<String, Value>) -> f64 {
    let done = vec![false; tool.steps.len()];
    let results = vec![None; tool.steps.len()];
    let known = Known {
        done: &done,
        results: &results,
    };
    let mut total = 0.0;
    for step in tool.steps {
        let t = &TOOLS[step.tool];
        for item in runs(step, args) {
            let mapped = resolve(step, args, item, &known).unwrap_or_default();
            total += call::worst_case(t, &mapped);
        }
    }
    total
}

/// Check, before anything is sent, every step run that the input alone decides: a value the
/// input gives but the step's tool would refuse is an invalid argument of the composite.
pub fn check(tool: &ToolDef, args: &Map<String, Value>) -> Result<(), ArgError> {
    let done = vec![false; tool.steps.len()];
    let results = vec![None; tool.steps.len()];
    let known = Known {
        done: &done,
        results: &results,
    };
    for step in tool.steps {
        let t = &TOOLS[step.tool];
        for (k, item) in runs(step, args).into_iter().enumerate() {
            let Ok(mapped) = resolve(step, args, item, &known) else {
                continue;
            };
            crate::validate::check(t, &mapped).map_err(|e| ArgError {
                field: input_field(step, &e.field, item.map(|_| k)),
                message: format!("{} (for step {}, {})", e.message, step.id, t.name),
            })?;
        }
    }
    Ok(())
}

/// The composite's argument a step's field came from (`titles[2]` for a `for_each` item).
fn input_field(step: &Step, field: &str, index: Option<usize>) -> String {
    let top = field.split(['.', '[']).next().unwrap_or(field);
    let source = step
        .args
        .iter()
        .find(|(name, _)| *name == top)
        .and_then(|(_, sources)| sources.first());
    match (source, index) {
        (Some(ArgFrom::Input(a)), _) => (*a).to_string(),
        (Some(ArgFrom::Item), Some(i)) => format!("{}[{i}]", step.for_each),
        _ => String::new(),
    }
}

/// What one step run produced, for the report.
struct Run {
    step: usize,
    /// Its place among the runs of a `for_each` step (0 otherwise).
    item_index: usize,
    report: Value,
    /// The result, when it succeeded.
    result: Option<Value>,
    used: f64,
    reported: bool,
}

/// Run a composite whose worst case `worst` is already reserved for the caller.
pub async fn run(
    client: &Client,
    tool: &'static ToolDef,
    args: Map<String, Value>,
    caller: &Caller,
    worst: f64,
) -> Outcome {
    let steps = tool.steps;
    let total_runs: usize = steps.iter().map(|s| runs(s, &args).len()).sum();
    let mut done = vec![false; steps.len()];
    let mut results: Vec<Option<Value>> = vec![None; steps.len()];
    let mut started = vec![false; steps.len()];
    let mut left = vec![0usize; steps.len()];
    let mut finished: Vec<Run> = Vec::new();
    let mut reserved = worst;
    let mut completed = 0u32;
    let mut pending = FuturesUnordered::new();
    loop {
        // Start every step whose inputs are known; a step with no runs is done at once.
        let mut changed = true;
        while changed {
            changed = false;
            for (i, step) in steps.iter().enumerate() {
                if started[i] {
                    continue;
                }
                let known = Known {
                    done: &done,
                    results: &results,
                };
                let items = runs(step, &args);
                let all = items.len();
                let mut calls = Vec::new();
                for (k, item) in items.into_iter().enumerate() {
                    match resolve(step, &args, item, &known) {
                        Ok(mapped) => calls.push((k, item.cloned(), mapped)),
                        Err(_) => break,
                    }
                }
                if calls.len() < all {
                    continue; // still waiting for an earlier step
                }
                started[i] = true;
                changed = true;
                if all == 0 {
                    done[i] = true;
                    finished.push(not_run(i, step));
                    continue;
                }
                left[i] = all;
                for (k, item, mapped) in calls {
                    let waited_for = depends_on_steps(step, &mapped);
                    pending.push(run_step(
                        client,
                        caller,
                        steps,
                        (i, k),
                        item,
                        mapped,
                        waited_for,
                    ));
                }
            }
        }
        let Some((run, share)) = pending.next().await else {
            break;
        };
        reserved -= share;
        let i = run.step;
        left[i] -= 1;
        if left[i] == 0 {
            done[i] = true;
        }
        if steps[i].for_each.is_empty() {
            results[i] = run.result.clone();
        }
        completed += 1;
        if let Some(progress) = &caller.progress {
            progress(
                completed,
                total_runs as u32,
                &format!("step {} done", steps[i].id),
            );
        }
        finished.push(run);
    }
    let runtime = client.inner();
    let payer = caller.payer();
    // Whatever no run settled (none should remain) goes back to the budget.
    if !runtime.is_sandbox() && reserved > 1e-9 {
        runtime.budget().settle(payer, reserved, 0.0);
    }
    finished.sort_by_key(|r| (r.step, r.item_index));
    report(client, caller, worst, finished)
}

/// Which of a run's arguments came from an earlier step: `(argument, step id)`, for the
/// reason given when the step's tool refuses what it got.
fn depends_on_steps(step: &Step, mapped: &Map<String, Value>) -> Vec<(&'static str, usize)> {
    step.args
        .iter()
        .filter(|(name, _)| !mapped.contains_key(*name))
        .filter_map(|(name, sources)| {
            sources.iter().find_map(|s| match s {
                ArgFrom::Step { step, .. } => Some((*name, *step)),
                _ => None,
            })
        })
        .collect()
}

fn not_run(i: usize, step: &Step) -> Run {
    let reason = if step.when.is_empty() {
        format!("{} is empty", step.for_each)
    } else {
        format!("{} is not set", step.when)
    };
    Run {
        step: i,
        item_index: 0,
        report: json!({
            "id": step.id,
            "tool": TOOLS[step.tool].name,
            "status": "skipped",
            "reason": reason,
            "credits": {"used": 0},
        }),
        result: None,
        used: 0.0,
        reported: true,
    }
}

/// One run of a step: its tool's own check, then its call under the composite's reservation.
/// Returns the run and the share of the reservation it settled.
async fn run_step(
    client: &Client,
    caller: &Caller,
    steps: &'static [Step],
    (i, item_index): (usize, usize),
    item: Option<Value>,
    mapped: Map<String, Value>,
    waited_for: Vec<(&'static str, usize)>,
) -> (Run, f64) {
    let step = &steps[i];
    let tool: &'static ToolDef = &TOOLS[step.tool];
    let share = call::worst_case(tool, &mapped);
    let mut report = json!({ "id": step.id, "tool": tool.name });
    if let Some(item) = &item {
        report["item"] = item.clone();
    }
    if let Err(e) = crate::validate::check(tool, &mapped) {
        let runtime = client.inner();
        if !runtime.is_sandbox() {
            runtime.budget().settle(caller.payer(), share, 0.0);
        }
        match waited_for.first() {
            // What an earlier step was to provide is missing: this step is skipped, unbilled.
            Some((arg, from)) => {
                report["status"] = json!("skipped");
                report["reason"] = json!(format!(
                    "needs {arg} from step {}, which did not provide it",
                    steps[*from].id
                ));
            }
            None => {
                report["status"] = json!("error");
                report["error"] = call::invalid(e).structured;
            }
        }
        report["credits"] = json!({"used": 0});
        let run = Run {
            step: i,
            item_index,
            report,
            result: None,
            used: 0.0,
            reported: true,
        };
        return (run, share);
    }
    // The composite reports progress per step; a step does not report its own.
    let step_caller = Caller {
        progress: None,
        ..caller.clone()
    };
    let mut outcome = call::execute(client, tool, mapped, &step_caller, share).await;
    let credits = match &mut outcome.structured {
        Value::Object(map) => map.remove("_credits"),
        _ => None,
    }
    .unwrap_or_else(|| json!({}));
    let used = credits.get("used").and_then(Value::as_f64).unwrap_or(0.0);
    let reported = credits
        .get("reported")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut step_credits = json!({ "used": used });
    for key in ["reported", "would_cost"] {
        if let Some(v) = credits.get(key) {
            step_credits[key] = v.clone();
        }
    }
    report["credits"] = step_credits;
    let result = if outcome.is_error {
        report["status"] = json!("error");
        report["error"] = outcome.structured;
        None
    } else {
        report["status"] = json!("ok");
        report["result"] = outcome.structured.clone();
        Some(outcome.structured)
    };
    let run = Run {
        step: i,
        item_index,
        report,
        result,
        used,
        reported,
    };
    (run, share)
}

/// The composite's result: every run's report in step order, a summary, and `_credits`.
fn report(client: &Client, caller: &Caller, worst: f64, runs: Vec<Run>) -> Outcome {
    let count = |status: &str| runs.iter().filter(|r| r.report["status"] == status).count();
    let (ok, failed, skipped) = (count("ok"), count("error"), count("skipped"));
    let used: f64 = runs.iter().map(|r| r.used.max(0.0)).sum();
    let reported = runs.iter().all(|r| r.reported);
    let runtime = client.inner();
    let credits = if runtime.is_sandbox() {
        json!({ "used": 0, "would_cost": call::round(worst) })
    } else {
        let payer = caller.payer();
        let total = runtime.budget().spent(payer);
        call::credits_report(client, payer, used, reported, total)
    };
    let first_error = runs
        .iter()
        .find_map(|r| r.report.pointer("/error/kind").cloned());
    let mut structured = json!({
        "steps": runs.into_iter().map(|r| r.report).collect::<Vec<_>>(),
        "summary": {"ok": ok, "error": failed, "skipped": skipped},
        "_credits": credits,
    });
    if runtime.is_sandbox() {
        structured["_sandbox"] = json!(
            "Sample data from the built-in sandbox: each step answered with sample data; nothing \
             was sent and no credits were used."
        );
    }
    // Nothing succeeded: an error result, with the first step's kind (every step still shown).
    let is_error = ok == 0;
    if is_error {
        let e = ToolError::new(
            Kind::UpstreamUnavailable,
            "No step of this composite succeeded; each step's error says why.",
            "Fix what the steps' errors name, or call the step's tool alone.",
        );
        structured["kind"] = first_error.unwrap_or_else(|| json!(e.kind));
        structured["message"] = json!(e.message);
        structured["hint"] = json!(e.hint);
    }
    Outcome {
        structured,
        is_error,
    }
}
