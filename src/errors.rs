//! Tool errors made for a model: a kind, a first sentence that stands alone, a hint saying what
//! to do. Never upstream free text or transport error strings (they can carry URLs and keys).

use reqwest::header::HeaderMap;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InvalidArguments,
    Auth,
    InsufficientCredits,
    NotFound,
    RateLimited,
    UpstreamUnavailable,
    Timeout,
    OutcomeUnknown,
    InvalidResponse,
    BudgetExceeded,
    /// Nothing was sent: the call needs the user's go-ahead first (see `confirm.rs`).
    ConfirmationRequired,
    /// The user said no, or the confirmation was not valid for this call: nothing was sent.
    NotConfirmed,
    /// The client cancelled the call before anything was sent.
    Cancelled,
}

impl Kind {
    /// Every kind, with what it means for the caller (the docs resource lists them).
    pub const ALL: [(Kind, &'static str); 13] = [
        (
            Kind::InvalidArguments,
            "an argument is wrong (`field` names it); nothing was sent: fix it and call again",
        ),
        (
            Kind::Auth,
            "the API key is missing or refused; nothing more will work until it is fixed",
        ),
        (
            Kind::InsufficientCredits,
            "the account has too few credits; top up, or check with check_credit_balance",
        ),
        (
            Kind::NotFound,
            "LeadMagic has no such record; usually free; do not retry with guesses",
        ),
        (
            Kind::RateLimited,
            "too many requests; call again after `retry_after_s` seconds",
        ),
        (
            Kind::UpstreamUnavailable,
            "LeadMagic is failing; try again later",
        ),
        (
            Kind::Timeout,
            "no answer in time; the call may have been charged, check before repeating it",
        ),
        (
            Kind::OutcomeUnknown,
            "the request may have reached LeadMagic; check before repeating it",
        ),
        (
            Kind::InvalidResponse,
            "LeadMagic's answer could not be read; it may have been charged",
        ),
        (
            Kind::BudgetExceeded,
            "this server's --max-credits would be exceeded; nothing was sent",
        ),
        (
            Kind::ConfirmationRequired,
            "nothing was sent; ask the user, then call again with `confirmation_token`",
        ),
        (
            Kind::NotConfirmed,
            "the user declined, or the token was not valid for this call; nothing was sent",
        ),
        (
            Kind::Cancelled,
            "the client cancelled the call before anything was sent; nothing was counted",
        ),
    ];

    /// The kind's wire name (`invalid_arguments`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A tool error, ready to become `structuredContent` (absent parts are left out).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolError {
    pub kind: Kind,
    pub message: String,
    pub hint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The argument at fault, for invalid_arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For confirmation_required: the most the call may cost, and the token that lets it run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

impl ToolError {
    pub fn new(kind: Kind, message: impl Into<String>, hint: impl Into<String>) -> Self {
        ToolError {
            kind,
            message: message.into(),
            hint: hint.into(),
            status: None,
            request_id: None,
            retry_after_s: None,
            field: None,
            would_cost: None,
            confirmation_token: None,
            expires_in_s: None,
        }
    }

    pub fn to_value(&self) -> Value {
        // Strings, small integers and a unit enum: serializing cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Longest wait `retry_after_s` ever names: an upstream `Retry-After: 4294967295` is a day.
pub const MAX_RETRY_AFTER_S: u64 = 86_400;

/// A wait as whole seconds for `retry_after_s`, rounded up and capped at a day.
pub fn retry_after_s(wait: std::time::Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).min(MAX_RETRY_AFTER_S)
}

/// A token we are willing to repeat from upstream: short, only `[A-Za-z0-9_.-]`, and holding no
/// part of a key in use (an API echoing the key back would otherwise pass it on as an "id").
fn safe_token(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !crate::secrets::contains_secret(s);
    ok.then(|| s.to_string())
}

/// The request id from `X-Request-Id` (`from_status` also reads the body's `meta.request_id`).
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(safe_token)
}

/// The parts of a problem body we read: the first error's `code` and `param`, and
/// `meta.request_id`. Read without building a JSON tree (a body of many small objects would
/// cost ~30 times its size), everything else skipped.
#[derive(Debug, Default, serde::Deserialize)]
struct Problem {
    #[serde(default, deserialize_with = "first_error")]
    errors: Option<ProblemItem>,
    #[serde(default)]
    meta: Option<ProblemMeta>,
    /// Credits charged for the failed call, when the body says.
    #[serde(default)]
    credits_consumed: Option<Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ProblemItem {
    #[serde(default)]
    code: Lenient,
    #[serde(default, deserialize_with = "strings")]
    param: Vec<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ProblemMeta {
    #[serde(default)]
    request_id: Lenient,
}

/// A string, or nothing when the value is anything else (which is skipped, not built).
#[derive(Debug, Default)]
struct Lenient(Option<String>);

impl<'de> serde::Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Lenient, E> {
                Ok(Lenient(Some(s.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Lenient, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Lenient, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The first element of an array of problem items; the rest skipped.
fn first_error<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ProblemItem>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<ProblemItem>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of problems")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let first = a.next_element::<ProblemItem>()?;
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(V)
}

/// An array's string elements (others skipped), at most 16.
fn strings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of strings")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Lenient(s)) = a.next_element::<Lenient>()? {
                if let Some(s) = s.filter(|_| out.len() < 16) {
                    out.push(s);
                }
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

/// An upstream error response, turned into a fixed message per status, with the credits its
/// body reports. Only machine tokens from the body (error `code`, offending `param` names) are
/// repeated.
pub fn from_status(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    billed: bool,
) -> (ToolError, Option<f64>) {
    let problem: Problem = if body.trim_ascii_start().starts_with(b"{") {
        serde_json::from_slice(body).unwrap_or_default()
    } else {
        Problem::default()
    };
    let first = problem.errors.unwrap_or_default();
    let code = first.code.0.as_deref().and_then(safe_token);
    let params: Vec<String> = first.param.iter().filter_map(|p| safe_token(p)).collect();
    let (kind, message, hint) = match status {
        400 | 422 => (
            Kind::InvalidArguments,
            "LeadMagic rejected the arguments.".to_string(),
            if params.is_empty() {
                "Check the argument values against the tool's input schema and try again.".to_string()
            } else {
                format!("Check these arguments: {}.", params.join(", "))
            },
        ),
        401 | 403 => (
            Kind::Auth,
            "LeadMagic rejected the API key.".to_string(),
            "Check LEADMAGIC_API_KEY (and that the plan includes this product), then restart the server."
                .to_string(),
        ),
        402 => (
            Kind::InsufficientCredits,
            "The LeadMagic account has too few credits for this call.".to_string(),
            "Top up credits in the LeadMagic dashboard; get_credit_balance shows the balance.".to_string(),
        ),
        404 => (
            Kind::NotFound,
            "LeadMagic found nothing for these arguments (not billed).".to_string(),
            "Try another identifier, e.g. a domain instead of a name.".to_string(),
        ),
        409 => (
            Kind::InvalidArguments,
            "LeadMagic reported a conflict with the current state.".to_string(),
            "Read the current state and retry with updated arguments.".to_string(),
        ),
        429 => (
            Kind::RateLimited,
            "LeadMagic is rate limiting this account.".to_string(),
            "Wait before calling again; retry_after_s says how long when known.".to_string(),
        ),
        500..=599 if billed && status_may_charge(status, headers) => (
            Kind::OutcomeUnknown,
            format!("LeadMagic failed with HTTP {status}; the call may have been charged."),
            "Check get_credit_balance or the usage report before repeating a billed call.".to_string(),
        ),
        500..=599 => (
            Kind::UpstreamUnavailable,
            format!("LeadMagic is unavailable (HTTP {status})."),
            "Try again in a minute.".to_string(),
        ),
        _ => (
            Kind::InvalidResponse,
            format!("LeadMagic answered with unexpected HTTP {status}."),
            "Try again later; report it if it persists.".to_string(),
        ),
    };
    let mut e = ToolError::new(kind, message, hint);
    e.status = Some(status);
    e.request_id = request_id(headers).or_else(|| {
        problem
            .meta
            .and_then(|m| m.request_id.0)
            .as_deref()
            .and_then(safe_token)
    });
    if status == 429 || status == 503 {
        e.retry_after_s = crate::retry::rate_limited_for(headers, std::time::SystemTime::now())
            .map(retry_after_s);
    }
    if let Some(code) = code {
        e.hint = format!("{} (code: {code})", e.hint);
    }
    let credits = problem
        .credits_consumed
        .as_ref()
        .and_then(crate::limits::credits_value);
    (e, credits)
}

/// Whether LeadMagic may have charged for an answer with this status: any success, and any 5xx
/// except a 503 that says when to come back (the API's "not processed, try later").
pub fn status_may_charge(status: u16, headers: &HeaderMap) -> bool {
    (200..300).contains(&status)
        || ((500..600).contains(&status) && !(status == 503 && headers.contains_key("retry-after")))
}

fn transport_error(error: &progenitor_client::Error) -> Option<&reqwest::Error> {
    match error {
        progenitor_client::Error::CommunicationError(e)
        | progenitor_client::Error::ResponseBodyError(e) => Some(e),
        _ => None,
    }
}

/// Whether a call that got no answer may have been charged: only if the request went out.
pub fn transport_may_charge(error: &progenitor_client::Error) -> bool {
    transport_error(error).is_some_and(|e| {
        matches!(
            crate::retry::classify(e),
            crate::retry::Outcome::Timeout | crate::retry::Outcome::Dropped
        )
    })
}

/// A failure before any response arrived. Uses only the error's classification, never its text.
pub fn from_transport(error: &progenitor_client::Error, billed: bool) -> ToolError {
    use crate::retry::{Outcome, classify};
    let maybe_charged = if billed {
        "; the call may have been charged"
    } else {
        ""
    };
    match transport_error(error).map(classify) {
        Some(Outcome::Timeout) => ToolError::new(
            Kind::Timeout,
            format!("LeadMagic did not answer in time{maybe_charged}."),
            "Try again later; check get_credit_balance before repeating a billed call.",
        ),
        Some(Outcome::NotSent) => ToolError::new(
            Kind::UpstreamUnavailable,
            "Could not connect to LeadMagic (nothing was sent).",
            "Check the network and LEADMAGIC_BASE_URL, then try again.",
        ),
        Some(Outcome::Tls) => ToolError::new(
            Kind::UpstreamUnavailable,
            "Could not set up a secure connection to LeadMagic (nothing was sent).",
            "Check LEADMAGIC_BASE_URL; if a proxy on this network inspects TLS, give its root \
             certificate in LEADMAGIC_CA_FILE.",
        ),
        Some(_) if billed => ToolError::new(
            Kind::OutcomeUnknown,
            "The connection to LeadMagic failed mid-call; the call may have been charged.",
            "Check get_credit_balance before repeating this call.",
        ),
        Some(_) => ToolError::new(
            Kind::UpstreamUnavailable,
            "The connection to LeadMagic failed.",
            "Try again in a minute.",
        ),
        None => ToolError::new(
            Kind::InvalidArguments,
            "The request could not be built from these arguments.",
            "Check the argument values against the tool's input schema.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The form clients read: `kind` in snake_case, absent parts left out (not `null`).
    #[test]
    fn the_json_form_names_the_kind_and_leaves_out_absent_parts() {
        let mut e = ToolError::new(Kind::RateLimited, "Too many calls.", "Wait.");
        assert_eq!(
            e.to_value(),
            json!({"kind": "rate_limited", "message": "Too many calls.", "hint": "Wait."})
        );
        e.status = Some(429);
        e.request_id = Some("req_1".into());
        e.retry_after_s = Some(3);
        e.field = Some("email".into());
        assert_eq!(
            e.to_value(),
            json!({"kind": "rate_limited", "message": "Too many calls.", "hint": "Wait.",
                   "status": 429, "request_id": "req_1", "retry_after_s": 3, "field": "email"})
        );
        let kinds = [
            (Kind::InvalidArguments, "invalid_arguments"),
            (Kind::Auth, "auth"),
            (Kind::InsufficientCredits, "insufficient_credits"),
            (Kind::NotFound, "not_found"),
            (Kind::RateLimited, "rate_limited"),
            (Kind::UpstreamUnavailable, "upstream_unavailable"),
            (Kind::Timeout, "timeout"),
            (Kind::OutcomeUnknown, "outcome_unknown"),
            (Kind::InvalidResponse, "invalid_response"),
            (Kind::BudgetExceeded, "budget_exceeded"),
        ];
        for (kind, name) in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(name));
        }
    }
}
