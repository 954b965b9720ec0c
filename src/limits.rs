//! Client-side limits: a request-rate limiter (LeadMagic's limits may run in "soft mode" and
//! never send a 429, while hammering earns escalating blocks) and a per-process credit budget.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket refilled at `per_minute` tokens a minute, holding at most `burst`, that can
/// also be paused until a time the server names (`RateLimit-Remaining: 0`). A rate of 0 turns the
/// bucket off; the pause still applies.
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
    paused_until: Option<Instant>,
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
                paused_until: None,
            }),
        }
    }

    /// How long to wait before the next request may go, taking a token if it may go now.
    pub fn check(&self, now: Instant) -> Option<Duration> {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = b.paused_until {
            if until > now {
                return Some(until - now);
            }
            b.paused_until = None;
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

    /// Hold every request until `now + wait` (the server said the window is used up).
    pub fn pause(&self, now: Instant, wait: Duration) {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let until = now + wait.min(Duration::from_secs(60));
        b.paused_until = Some(b.paused_until.map_or(until, |u| u.max(until)));
    }

    /// Wait for a token.
    pub async fn acquire(&self) {
        while let Some(wait) = self.check(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Credits this process may spend (`--max-credits`), and what it has spent.
#[derive(Debug)]
pub struct Budget {
    max: Option<f64>,
    state: Mutex<Spend>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Spend {
    spent: f64,
    /// Worst cases of calls in flight.
    reserved: f64,
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

    /// Reserve the worst-case cost of a call, or refuse it.
    pub fn reserve(&self, worst_case: f64) -> Result<(), OverBudget> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(max) = self.max
            && s.spent + s.reserved + worst_case > max + 1e-9
        {
            return Err(OverBudget {
                max,
                spent: s.spent,
                worst_case,
            });
        }
        s.reserved += worst_case;
        Ok(())
    }

    /// Replace a reservation by what the call really cost; returns the running total.
    pub fn settle(&self, worst_case: f64, actual: f64) -> f64 {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.reserved = (s.reserved - worst_case).max(0.0);
        s.spent += actual.max(0.0);
        s.spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_spaces_requests() {
        let l = Limiter::new(60); // one a second, burst 10
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.check(t0), None);
        }
        let wait = l.check(t0).expect("bucket empty");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert_eq!(
            l.check(t0 + Duration::from_secs(1)),
            None,
            "refilled after a second"
        );
    }

    #[test]
    fn pause_holds_requests_until_the_reset() {
        let l = Limiter::new(600);
        let t0 = Instant::now();
        l.pause(t0, Duration::from_secs(5));
        assert_eq!(
            l.check(t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(l.check(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn rate_zero_turns_the_bucket_off_but_not_the_pause() {
        let l = Limiter::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(l.check(t0), None);
        }
        l.pause(t0, Duration::from_secs(5));
        assert_eq!(
            l.check(t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(4))
        );
        assert_eq!(l.check(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn budget_refuses_before_spending_and_counts_reports() {
        let b = Budget::new(Some(5.0));
        assert!(b.reserve(5.0).is_ok());
        assert!(b.reserve(0.25).is_err(), "in-flight worst cases count");
        assert_eq!(b.settle(5.0, 1.0), 1.0);
        assert!(b.reserve(4.0).is_ok());
        assert_eq!(b.settle(4.0, 4.0), 5.0);
        let refused = b.reserve(0.05).unwrap_err();
        assert_eq!(refused.spent, 5.0);
        assert!(b.reserve(0.0).is_ok(), "free calls always go");
        let unlimited = Budget::new(None);
        assert!(unlimited.reserve(f64::INFINITY).is_ok());
    }
}
