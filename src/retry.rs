//! When to send a request again. The rule: **retry only when the request provably was not
//! processed** (nothing was sent, or the server said so with 429 / 503 + `Retry-After`), or when
//! the operation is free. A billed request whose outcome is unknown is never repeated: that
//! could charge the user twice.
//!
//! Pure decisions (no clock, no sleeping, no randomness of its own) so every branch is unit-tested.

use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff base and cap: sleep = uniform(0, min(cap, base * 2^retry)).
    pub base: Duration,
    pub cap: Duration,
    /// A server-requested wait longer than this is not waited for; the call fails fast saying
    /// how long to wait.
    pub max_server_wait: Duration,
    /// Attempts plus sleeps stay under this (below the tool-call timeout of clients). Every
    /// attempt gets its full timeout: one that would not fit is not made. The first attempt
    /// always fits (the deadline is at least one timeout).
    pub deadline: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 3,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(4),
            max_server_wait: Duration::from_secs(30),
            deadline: Duration::from_secs(50),
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The connection was refused or the name did not resolve: nothing was sent.
    NotSent,
    /// TLS or certificate failure: retrying will not help.
    Tls,
    /// Sent, then no (complete) answer in time.
    Timeout,
    /// Sent, then the connection broke.
    Dropped,
    /// An HTTP status arrived.
    Status(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Use this outcome as the answer.
    Stop,
    /// Sleep this long, then send again.
    RetryAfter(Duration),
}

/// Where a call stands when an attempt ends.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The operation costs credits (unknown costs count as billed).
    pub billed: bool,
    /// The attempt that just ended (0 = the first).
    pub attempt: u32,
    /// Time spent on this call so far.
    pub elapsed: Duration,
    pub now: SystemTime,
    /// The whole-request timeout each attempt gets.
    pub attempt_timeout: Duration,
}

impl Policy {
    /// The deadline for a call whose attempts time out after `attempt_timeout`: never shorter
    /// than one full attempt.
    pub(crate) fn deadline_for(&self, attempt_timeout: Duration) -> Duration {
        self.deadline.max(attempt_timeout)
    }
}

/// Decide what to do after an attempt. `jitter` returns a uniform value in [0, 1).
pub fn decide(
    policy: &Policy,
    ctx: &Context,
    outcome: Outcome,
    headers: Option<&HeaderMap>,
    jitter: &mut dyn FnMut() -> f64,
) -> Decision {
    let Context {
        billed,
        attempt,
        elapsed,
        now,
        attempt_timeout,
    } = *ctx;
    if attempt + 1 >= policy.max_attempts {
        return Decision::Stop;
    }
    let server_wait = headers.and_then(|h| retry_after(h, now));
    let wait = match outcome {
        Outcome::NotSent => Some(backoff(policy, attempt, jitter)),
        Outcome::Tls => None,
        Outcome::Timeout | Outcome::Dropped if !billed => Some(backoff(policy, attempt, jitter)),
        Outcome::Timeout | Outcome::Dropped => None,
        Outcome::Status(429) => Some(
            headers
                .and_then(|h| rate_limited_for(h, now))
                .unwrap_or_else(|| backoff(policy, attempt, jitter)),
        ),
        Outcome::Status(503) if server_wait.is_some() => server_wait,
        Outcome::Status(502..=504) if !billed => {
            Some(server_wait.unwrap_or_else(|| backoff(policy, attempt, jitter)))
        }
        Outcome::Status(_) => None,
    };
    match wait {
        // The next attempt must fit whole: a request sent with less than its timeout could
        // reach LeadMagic, be billed, and have its answer abandoned.
        Some(w)
            if w <= policy.max_server_wait
                && elapsed + w + attempt_timeout <= policy.deadline_for(attempt_timeout) =>
        {
            Decision::RetryAfter(w)
        }
        _ => Decision::Stop,
    }
}

/// Full jitter: uniform(0, min(cap, base * 2^attempt)).
pub fn backoff(policy: &Policy, attempt: u32, jitter: &mut dyn FnMut() -> f64) -> Duration {
    let ceiling = policy
        .base
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.cap);
    ceiling.mul_f64(jitter().clamp(0.0, 1.0))
}

/// How long a 429 asks us to wait: `Retry-After`, else the rate-limit window's reset.
pub fn rate_limited_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    retry_after(headers, now).or_else(|| rate_limit_reset(headers, now))
}

/// `Retry-After` (RFC 9110 10.2.3): delta-seconds or an HTTP-date in any of the three formats a
/// recipient must accept (IMF-fixdate, RFC 850, asctime). A past date means 0; negative,
/// fractional or unparsable values are ignored (the caller falls back to backoff).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            v.parse::<u64>().unwrap_or(u64::MAX).min(u32::MAX as u64),
        ));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `RateLimit-Reset`: seconds until the window resets, or (some LeadMagic routes) a unix time.
pub fn rate_limit_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v: u64 = headers
        .get("ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if v > 1_000_000_000 {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(v);
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    Some(Duration::from_secs(v))
}

/// Whether the account is out of requests for this window (`RateLimit-Remaining: 0`), and for
/// how long.
pub fn exhausted_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let remaining: u64 = headers
        .get("ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (remaining == 0).then(|| rate_limit_reset(headers, now).unwrap_or(Duration::from_secs(1)))
}

/// Classify a transport error without reading its text. A connect error is checked first: a
/// connect timeout is both, and nothing was sent.
pub fn classify(error: &reqwest::Error) -> Outcome {
    if error.is_connect() {
        // `is_connect` is also true for TLS failures, which must not be retried.
        return if caused_by_tls(error) {
            Outcome::Tls
        } else {
            Outcome::NotSent
        };
    }
    if error.is_timeout() {
        return Outcome::Timeout;
    }
    Outcome::Dropped
}

/// Whether a rustls error is in the chain. tokio-rustls and hyper-rustls wrap it in `io::Error`s,
/// whose `source()` skips the wrapped error, so those are opened with `get_ref`.
fn caused_by_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        .is_some_and(|inner| caused_by_tls(inner));
    wrapped || error.source().is_some_and(caused_by_tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn run(billed: bool, attempt: u32, outcome: Outcome, h: &HeaderMap) -> Decision {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ctx = Context {
            billed,
            attempt,
            elapsed: Duration::ZERO,
            now,
            attempt_timeout: Duration::from_secs(30),
        };
        decide(&Policy::default(), &ctx, outcome, Some(h), &mut || 0.5)
    }

    #[test]
    fn billed_calls_never_retry_an_unknown_outcome() {
        let none = HeaderMap::new();
        for outcome in [
            Outcome::Timeout,
            Outcome::Dropped,
            Outcome::Status(500),
            Outcome::Status(502),
            Outcome::Status(503),
            Outcome::Status(504),
        ] {
            assert_eq!(run(true, 0, outcome, &none), Decision::Stop, "{outcome:?}");
        }
    }

    #[test]
    fn free_calls_retry_gateway_errors_and_timeouts() {
        let none = HeaderMap::new();
        for outcome in [
            Outcome::Timeout,
            Outcome::Dropped,
            Outcome::Status(502),
            Outcome::Status(503),
            Outcome::Status(504),
        ] {
            assert!(
                matches!(run(false, 0, outcome, &none), Decision::RetryAfter(_)),
                "{outcome:?}"
            );
        }
        assert_eq!(run(false, 0, Outcome::Status(500), &none), Decision::Stop);
    }

    #[test]
    fn provably_unprocessed_requests_retry_for_everyone() {
        let none = HeaderMap::new();
        assert!(matches!(
            run(true, 0, Outcome::NotSent, &none),
            Decision::RetryAfter(_)
        ));
        assert_eq!(run(true, 0, Outcome::Tls, &none), Decision::Stop);
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(
            run(true, 0, Outcome::Status(429), &h),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            run(true, 0, Outcome::Status(503), &h),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        let reset = headers(&[("ratelimit-reset", "3")]);
        assert_eq!(
            run(true, 0, Outcome::Status(429), &reset),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        assert!(matches!(
            run(true, 0, Outcome::Status(429), &none),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn client_errors_never_retry() {
        let none = HeaderMap::new();
        for s in [400, 401, 402, 403, 404, 409, 422] {
            assert_eq!(
                run(false, 0, Outcome::Status(s), &none),
                Decision::Stop,
                "{s}"
            );
        }
    }

    #[test]
    fn attempts_and_waits_are_capped() {
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(
            run(true, 2, Outcome::Status(429), &h),
            Decision::Stop,
            "third attempt is the last"
        );
        let long = headers(&[("retry-after", "31")]);
        assert_eq!(
            run(true, 0, Outcome::Status(429), &long),
            Decision::Stop,
            "fail fast beyond the cap"
        );
        let now = SystemTime::UNIX_EPOCH;
        let ctx = Context {
            billed: true,
            attempt: 0,
            elapsed: Duration::from_secs(49),
            now,
            attempt_timeout: Duration::from_secs(1),
        };
        let d = decide(
            &Policy::default(),
            &ctx,
            Outcome::Status(429),
            Some(&h),
            &mut || 0.5,
        );
        assert_eq!(d, Decision::Stop, "past the deadline");
        // 18 s in, a 2 s wait and a full 30 s attempt end at exactly 50 s: allowed. One more
        // second and the attempt would have to be cut short, so it is not made.
        for (elapsed, expected) in [
            (18, Decision::RetryAfter(Duration::from_secs(2))),
            (19, Decision::Stop),
        ] {
            let ctx = Context {
                elapsed: Duration::from_secs(elapsed),
                attempt_timeout: Duration::from_secs(30),
                ..ctx
            };
            let d = decide(
                &Policy::default(),
                &ctx,
                Outcome::Status(429),
                Some(&h),
                &mut || 0.5,
            );
            assert_eq!(d, expected, "{elapsed} s in");
        }
    }

    #[test]
    fn retry_after_parsing() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let p = |v: &str| retry_after(&headers(&[("retry-after", v)]), now);
        assert_eq!(p("5"), Some(Duration::from_secs(5)));
        assert_eq!(p("-1"), None);
        assert_eq!(p("1.5"), None);
        assert_eq!(p("soon"), None);
        assert!(p("99999999").unwrap() > Duration::from_secs(30));
        // 2001-09-09T01:46:50Z is 10 s after `now`; a date in the past means 0.
        assert_eq!(
            p("Sun, 09 Sep 2001 01:46:50 GMT"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(p("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        // The two obsolete formats RFC 9110 still requires (RFC 2822 parsing read neither).
        assert_eq!(
            p("Sunday, 09-Sep-01 01:46:50 GMT"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(p("Sun Sep  9 01:46:50 2001"), Some(Duration::from_secs(10)));
        // Not HTTP-dates: a numeric zone, a wrong weekday.
        assert_eq!(p("Sun, 09 Sep 2001 01:46:50 +0000"), None);
        assert_eq!(p("Mon, 09 Sep 2001 01:46:50 GMT"), None);
    }

    #[test]
    fn backoff_is_full_jitter_below_the_ceiling() {
        let p = Policy::default();
        for attempt in 0..6 {
            let ceiling = p.base.saturating_mul(1 << attempt).min(p.cap);
            assert_eq!(backoff(&p, attempt, &mut || 0.0), Duration::ZERO);
            assert!(backoff(&p, attempt, &mut || 0.999) <= ceiling);
            assert_eq!(backoff(&p, attempt, &mut || 0.5), ceiling / 2);
        }
    }

    #[test]
    fn exhausted_window() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            exhausted_for(
                &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "7")]),
                now
            ),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            exhausted_for(&headers(&[("ratelimit-remaining", "3")]), now),
            None
        );
    }
}
