//! Client-side limits: a request-rate limiter (LeadMagic's limits may run in "soft mode" and
//! never send a 429, while hammering earns escalating blocks) and a per-process credit budget.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Credits as LeadMagic reports them (`X-Credits-Consumed`, `credits_consumed`): a finite
/// number of 0 or more, else nothing.
pub fn credits_number(s: &str) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// A body's `credits_consumed`, a number or a numeric string.
pub fn credits_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|v| *v >= 0.0),
        Value::String(s) => credits_number(s),
        _ => None,
    }
}

/// Who pays for a call: the server's own key, or (bring-your-own-key mode) one caller's key,
/// known here only by a keyed hash of it. Spend, budgets and LeadMagic's "window used up" pauses
/// belong to a payer, so one caller never spends or waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payer {
    Server,
    Caller(u64),
}

impl Payer {
    /// The payer for a caller's key: SipHash under a random per-process key, so the map holds no
    /// key and a hash means nothing outside this process.
    pub fn caller(key: &crate::config::ApiKey) -> Payer {
        use std::hash::BuildHasher;
        static HASH: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
        Payer::Caller(
            HASH.get_or_init(std::hash::RandomState::new)
                .hash_one(key.expose()),
        )
    }
}

/// Most callers remembered at once (bring-your-own-key mode). Only callers that spent credits,
/// have a call in flight or are paused are kept; past the cap the least recently seen goes.
pub const MAX_PAYERS: usize = 10_000;

/// A token bucket refilled at `per_minute` tokens a minute, holding at most `burst` (the
/// operator's cap for the whole process), plus per-payer pauses until a time the server names
/// (`RateLimit-Remaining: 0`). A rate of 0 turns the bucket off; the pauses still apply.
#[derive(Debug)]
pub struct Limiter {
    unlimited: bool,
    per_minute: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
    paused_until: HashMap<Payer, Instant>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Self {
        let unlimited = per_minute == 0;
        let per_minute = f64::from(per_minute.max(1));
        let burst = (per_minute / 6.0).clamp(1.0, 50.0);
        Limiter {
            unlimited,
            per_minute,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                refilled_at: Instant::now(),
                paused_until: HashMap::new(),
            }),
        }
    }

    /// How long `payer` must wait before its next request may go, taking a token if it may go
    /// now.
    pub fn check(&self, payer: Payer, now: Instant) -> Option<Duration> {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&until) = b.paused_until.get(&payer) {
            if until > now {
                return Some(until - now);
            }
            b.paused_until.remove(&payer);
        }
        if self.unlimited {
            return None;
        }
        let refill =
            now.saturating_duration_since(b.refilled_at).as_secs_f64() * self.per_minute / 60.0;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.refilled_at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (1.0 - b.tokens) * 60.0 / self.per_minute,
            ))
        }
    }

    /// Hold `payer`'s requests until `now + wait` (the server said its window is used up).
    pub fn pause(&self, payer: Payer, now: Instant, wait: Duration) {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let until = now + wait.min(Duration::from_secs(60));
        if b.paused_until.len() >= MAX_PAYERS {
            b.paused_until.retain(|_, u| *u > now);
        }
        if b.paused_until.len() >= MAX_PAYERS && !b.paused_until.contains_key(&payer) {
            // Full of live pauses: forget the one that ends first.
            if let Some(first) = b
                .paused_until
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(p, _)| *p)
            {
                b.paused_until.remove(&first);
            }
        }
        let entry = b.paused_until.entry(payer).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Wait for a token, but only while the request could still start by `latest_start`.
    /// `Err(wait)` means it could not: nothing may be sent, and `wait` is how long is left.
    pub async fn acquire_by(&self, payer: Payer, latest_start: Instant) -> Result<(), Duration> {
        loop {
            let now = Instant::now();
            match self.check(payer, now) {
                None => return Ok(()),
                Some(wait) if now + wait <= latest_start => tokio::time::sleep(wait).await,
                Some(wait) => return Err(wait),
            }
        }
    }
}

/// Credits that may be spent (`--max-credits`) and what has been spent, per payer: the whole
/// process when it uses its own key, each caller's key in bring-your-own-key mode.
#[derive(Debug)]
pub struct Budget {
    max: Option<f64>,
    state: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    server: Spend,
    callers: HashMap<u64, (Spend, u64)>,
    /// Bumped on every use, so the least recently seen caller is the smallest stamp.
    clock: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Spend {
    spent: f64,
    /// Worst cases of calls in flight.
    reserved: f64,
}

impl Ledger {
    fn spend(&mut self, payer: Payer) -> &mut Spend {
        self.clock += 1;
        let stamp = self.clock;
        let Payer::Caller(id) = payer else {
            return &mut self.server;
        };
        if !self.callers.contains_key(&id) && self.callers.len() >= MAX_PAYERS {
            let oldest = self
                .callers
                .iter()
                .filter(|(_, (s, _))| s.reserved == 0.0)
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.callers.remove(&k);
            }
        }
        let entry = self.callers.entry(id).or_default();
        entry.1 = stamp;
        &mut entry.0
    }

    fn forget_if_idle(&mut self, payer: Payer) {
        if let Payer::Caller(id) = payer
            && self
                .callers
                .get(&id)
                .is_some_and(|(s, _)| s.spent == 0.0 && s.reserved == 0.0)
        {
            self.callers.remove(&id);
        }
    }
}

/// The budget would be exceeded: nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverBudget {
    pub max: f64,
    pub spent: f64,
    pub worst_case: f64,
}

impl Budget {
    pub fn new(max: Option<f64>) -> Self {
        Budget {
            max,
            state: Mutex::default(),
        }
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// Whether the worst case would fit now, reserving nothing (asked before a confirmation, so
    /// the user is never asked about a call the budget refuses anyway).
    pub fn check(&self, payer: Payer, worst_case: f64) -> Result<(), OverBudget> {
        let ledger = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = match payer {
            Payer::Server => ledger.server,
            Payer::Caller(id) => ledger.callers.get(&id).map(|(s, _)| *s).unwrap_or_default(),
        };
        match self.max {
            Some(max) if s.spent + s.reserved + worst_case > max + 1e-9 => Err(OverBudget {
                max,
                spent: s.spent,
                worst_case,
            }),
            _ => Ok(()),
        }
    }

    /// Reserve the worst-case cost of a call for `payer`, or refuse it.
    pub fn reserve(&self, payer: Payer, worst_case: f64) -> Result<(), OverBudget> {
        let mut ledger = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = ledger.spend(payer);
        if let Some(max) = self.max
            && s.spent + s.reserved + worst_case > max + 1e-9
        {
            let refused = OverBudget {
                max,
                spent: s.spent,
                worst_case,
            };
            ledger.forget_if_idle(payer);
            return Err(refused);
        }
        s.reserved += worst_case;
        Ok(())
    }

    /// Replace a reservation by what the call really cost; returns the payer's running total.
    pub fn settle(&self, payer: Payer, worst_case: f64, actual: f64) -> f64 {
        let mut ledger = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = ledger.spend(payer);
        s.reserved = (s.reserved - worst_case).max(0.0);
        s.spent += actual.max(0.0);
        let total = s.spent;
        ledger.forget_if_idle(payer);
        total
    }

    /// What `payer` has spent so far.
    pub fn spent(&self, payer: Payer) -> f64 {
        let ledger = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match payer {
            Payer::Server => ledger.server.spent,
            Payer::Caller(id) => ledger.callers.get(&id).map_or(0.0, |(s, _)| s.spent),
        }
    }

    /// Callers remembered right now (for tests of the bound).
    #[cfg(test)]
    fn remembered_callers(&self) -> usize {
        let ledger = self.state.lock().unwrap_or_else(|p| p.into_inner());
        ledger.callers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Payer = Payer::Server;

    #[test]
    fn bucket_allows_a_burst_then_spaces_requests() {
        let l = Limiter::new(60); // one a second, burst 10
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.check(S, t0), None);
        }
        let wait = l.check(S, t0).expect("bucket empty");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert_eq!(
            l.check(S, t0 + Duration::from_secs(1)),
            None,
            "refilled after a second"
        );
    }

    #[test]
    fn pause_holds_requests_until_the_reset() {
        let l = Limiter::new(600);
        let t0 = Instant::now();
        l.pause(S, t0, Duration::from_secs(5));
        assert_eq!(
            l.check(S, t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(l.check(S, t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn one_callers_pause_does_not_hold_another() {
        let l = Limiter::new(0);
        let t0 = Instant::now();
        l.pause(Payer::Caller(1), t0, Duration::from_secs(5));
        assert!(l.check(Payer::Caller(1), t0).is_some());
        assert_eq!(l.check(Payer::Caller(2), t0), None);
        assert_eq!(l.check(S, t0), None);
    }

    #[test]
    fn pauses_are_bounded_in_number() {
        let l = Limiter::new(0);
        let t0 = Instant::now();
        for i in 0..(MAX_PAYERS as u64 + 50) {
            l.pause(Payer::Caller(i), t0, Duration::from_secs(5));
        }
        let held = l.state.lock().unwrap().paused_until.len();
        assert!(held <= MAX_PAYERS, "{held}");
        assert!(
            l.check(Payer::Caller(MAX_PAYERS as u64 + 49), t0).is_some(),
            "the newest pause is kept"
        );
    }

    #[test]
    fn rate_zero_turns_the_bucket_off_but_not_the_pause() {
        let l = Limiter::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(l.check(S, t0), None);
        }
        l.pause(S, t0, Duration::from_secs(5));
        assert_eq!(
            l.check(S, t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(4))
        );
        assert_eq!(l.check(S, t0 + Duration::from_secs(5)), None);
    }

    #[tokio::test]
    async fn a_wait_past_the_latest_start_is_refused_without_sleeping() {
        let l = Limiter::new(0);
        let now = Instant::now();
        l.pause(S, now, Duration::from_secs(50));
        let started = Instant::now();
        let refused = l.acquire_by(S, now + Duration::from_secs(20)).await;
        assert!(started.elapsed() < Duration::from_millis(100), "no sleep");
        let left = refused.expect_err("the wait would pass the latest start");
        assert!(left > Duration::from_secs(49) && left <= Duration::from_secs(50));
        assert_eq!(
            l.acquire_by(Payer::Caller(7), now).await,
            Ok(()),
            "others go"
        );
    }

    #[test]
    fn budget_refuses_before_spending_and_counts_reports() {
        let b = Budget::new(Some(5.0));
        assert!(b.reserve(S, 5.0).is_ok());
        assert!(b.reserve(S, 0.25).is_err(), "in-flight worst cases count");
        assert_eq!(b.settle(S, 5.0, 1.0), 1.0);
        assert!(b.reserve(S, 4.0).is_ok());
        assert_eq!(b.settle(S, 4.0, 4.0), 5.0);
        let refused = b.reserve(S, 0.05).unwrap_err();
        assert_eq!(refused.spent, 5.0);
        assert!(b.reserve(S, 0.0).is_ok(), "free calls always go");
        let unlimited = Budget::new(None);
        assert!(unlimited.reserve(S, f64::INFINITY).is_ok());
    }

    #[test]
    fn each_caller_has_its_own_budget_and_total() {
        let b = Budget::new(Some(0.5));
        let (a, c) = (Payer::Caller(1), Payer::Caller(2));
        assert!(b.reserve(a, 0.25).is_ok());
        assert_eq!(b.settle(a, 0.25, 0.25), 0.25);
        assert!(b.reserve(a, 0.25).is_ok());
        assert_eq!(b.settle(a, 0.25, 0.25), 0.5);
        assert!(b.reserve(a, 0.25).is_err(), "a's budget is spent");
        assert!(b.reserve(c, 0.25).is_ok(), "c's is untouched");
        assert_eq!(b.settle(c, 0.25, 0.25), 0.25, "c's total is c's own");
        assert!(b.reserve(S, 0.5).is_ok(), "the server's is separate");
    }

    #[test]
    fn callers_that_spent_nothing_are_not_remembered_and_the_map_is_bounded() {
        let b = Budget::new(Some(1.0));
        for i in 0..1_000 {
            let p = Payer::Caller(i);
            assert!(b.reserve(p, 0.25).is_ok());
            b.settle(p, 0.25, 0.0); // e.g. a rejected key: 401, nothing charged
        }
        assert_eq!(b.remembered_callers(), 0);
        for i in 0..(MAX_PAYERS as u64 + 10) {
            let p = Payer::Caller(i);
            assert!(b.reserve(p, 0.25).is_ok());
            b.settle(p, 0.25, 0.25);
        }
        assert_eq!(b.remembered_callers(), MAX_PAYERS);
    }

    #[test]
    fn a_callers_payer_is_a_hash_not_the_key() {
        let k = crate::config::ApiKey::new("lm_hash_me_0123456789abcdef").unwrap();
        let p = Payer::caller(&k);
        assert_eq!(p, Payer::caller(&k), "stable within the process");
        assert_ne!(
            p,
            Payer::caller(&crate::config::ApiKey::new("lm_other_0123456789abcdef").unwrap())
        );
        assert!(!format!("{p:?}").contains("hash_me"));
    }
}
