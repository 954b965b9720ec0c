//! Confirmation before a big spend. A call needs the user's go-ahead when its worst case is
//! above `--confirm-above`, when it is a bulk submission (`x-leadmagic-confirm`) or when it is
//! destructive. The server asks through the client when it can (elicitation, in `mcp.rs`);
//! otherwise the first call sends nothing and returns a `confirmation_token` for the second.
//!
//! A token is an HMAC-SHA256, under the server's secret, of the tool, its exact arguments, who
//! pays, an expiry and a random nonce: any replica with the same secret can check it (stateless
//! HTTP behind a load balancer), none can forge it, and a replica refuses a nonce it has
//! already redeemed. A replay sent to a different replica within the expiry is not detected
//! there: the expiry is short for that reason (SECURITY.md says so).

use crate::config::ApiKey;
use crate::tools::ToolDef;
use ring::hmac;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The argument that carries a token back (accepted by every tool that may ask).
pub const TOKEN_ARGUMENT: &str = "confirmation_token";

/// Default threshold: above every single lookup (the dearest is 10 credits) and every
/// composite at its largest (21), below a page of search results with contact details.
pub const DEFAULT_ABOVE: f64 = 25.0;

/// Default life of a token: long enough for a person to answer, short enough that a token
/// replayed to another replica has little time to run.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// When a call must be confirmed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// `--no-confirm`: never ask.
    pub enabled: bool,
    /// Ask when the worst case is above this many credits.
    pub above: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: true,
            above: DEFAULT_ABOVE,
        }
    }
}

impl Policy {
    /// Whether this call, with this worst case, needs the user's go-ahead.
    pub fn needs(&self, tool: &ToolDef, worst: f64) -> bool {
        self.enabled && (tool.confirm || tool.annotations.destructive || worst > self.above)
    }

    /// Whether some arguments of this tool could need it (its schema then takes the token).
    pub fn may_need(&self, tool: &ToolDef) -> bool {
        let c = &tool.credits;
        let most = if !c.known {
            f64::INFINITY
        } else if !tool.steps.is_empty() || c.per == "call" {
            c.amount + c.surcharge
        } else {
            (c.amount + c.surcharge) * c.cap_max
        };
        self.needs(tool, most)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token this server makes.
    Malformed,
    /// Made under another secret, or for another tool, other arguments or another payer.
    Invalid,
    Expired,
    /// Already used on this replica.
    Replayed,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Malformed => "the confirmation_token is not one this server issued",
            Refusal::Invalid => {
                "the confirmation_token was issued for another tool or other arguments (or by a \
                 server with another secret)"
            }
            Refusal::Expired => "the confirmation_token has expired",
            Refusal::Replayed => "the confirmation_token has already been used",
        }
    }
}

/// Issues and redeems tokens under one secret.
pub struct Tokens {
    key: hmac::Key,
    /// Keeps a configured secret in the last-line filter (`secrets.rs`) while it is in use.
    _filter: Option<crate::secrets::Registration>,
    ttl: Duration,
    /// Nonces redeemed here, with their expiry (forgotten once expired).
    used: Mutex<HashMap<[u8; 16], u64>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    /// Tokens under `secret` (shared by replicas), or under a random one for this process.
    pub fn new(secret: Option<&[u8]>, ttl: Duration) -> Self {
        let key = match secret {
            Some(s) => hmac::Key::new(hmac::HMAC_SHA256, s),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, &random::<32>())),
        };
        let text = secret.map(String::from_utf8_lossy);
        Tokens {
            key,
            _filter: text.as_deref().map(crate::secrets::register),
            ttl,
            used: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Who pays, as the token binds it: the server's key, or a caller's key by a keyed hash.
    fn payer(&self, key: Option<&ApiKey>) -> String {
        match key {
            None => "server".into(),
            Some(k) => hex(&hmac::sign(&self.key, k.expose().as_bytes()).as_ref()[..16]),
        }
    }

    fn tag(&self, exp: u64, nonce: &[u8; 16], payer: &str, tool: &str, args: &str) -> hmac::Tag {
        let message = format!("lmc1\n{exp}\n{}\n{payer}\n{tool}\n{args}", hex(nonce));
        hmac::sign(&self.key, message.as_bytes())
    }

    /// A token for this call: `tool` with exactly `args` (without a token), paid by `key`.
    pub fn issue(&self, tool: &str, args: &Map<String, Value>, key: Option<&ApiKey>) -> String {
        self.issue_at(tool, args, key, now_s())
    }

    fn issue_at(
        &self,
        tool: &str,
        args: &Map<String, Value>,
        key: Option<&ApiKey>,
        now: u64,
    ) -> String {
        let exp = now + self.ttl.as_secs();
        let nonce = random::<16>();
        let tag = self.tag(exp, &nonce, &self.payer(key), tool, &canonical(args));
        format!("lmc1.{exp}.{}.{}", hex(&nonce), hex(tag.as_ref()))
    }

    /// Check a token for this call and use it up.
    pub fn redeem(
        &self,
        token: &str,
        tool: &str,
        args: &Map<String, Value>,
        key: Option<&ApiKey>,
    ) -> Result<(), Refusal> {
        self.redeem_at(token, tool, args, key, now_s())
    }

    fn redeem_at(
        &self,
        token: &str,
        tool: &str,
        args: &Map<String, Value>,
        key: Option<&ApiKey>,
        now: u64,
    ) -> Result<(), Refusal> {
        let mut parts = token.trim().split('.');
        let (Some("lmc1"), Some(exp), Some(nonce), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Refusal::Malformed);
        };
        let exp: u64 = exp.parse().map_err(|_| Refusal::Malformed)?;
        let nonce = unhex::<16>(nonce).ok_or(Refusal::Malformed)?;
        let tag = unhex::<32>(tag).ok_or(Refusal::Malformed)?;
        let message = format!(
            "lmc1\n{exp}\n{}\n{}\n{tool}\n{}",
            hex(&nonce),
            self.payer(key),
            canonical(args)
        );
        // Constant-time comparison of the tag.
        hmac::verify(&self.key, message.as_bytes(), &tag).map_err(|_| Refusal::Invalid)?;
        if now > exp {
            return Err(Refusal::Expired);
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|_, e| *e >= now);
        if used.insert(nonce, exp).is_some() {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The system's generator does not fail on supported platforms; a zero nonce would still
    // be unique per expiry second only, never accepted twice here.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut out);
    out
}

/// The arguments as the token binds them: JSON with keys in order (serde_json's map is sorted),
/// the token itself left out.
fn canonical(args: &Map<String, Value>) -> String {
    let mut args = args.clone();
    args.remove(TOKEN_ARGUMENT);
    Value::Object(args).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_token_runs_its_call_once() {
        let t = Tokens::new(Some(b"a shared secret of the replicas"), DEFAULT_TTL);
        let a = args(json!({"limit": 100, "company_domain": "example.org"}));
        let token = t.issue_at("search_people", &a, None, 1000);
        // Key order does not matter; the token argument itself is ignored.
        let mut again = args(json!({"company_domain": "example.org", "limit": 100}));
        again.insert(TOKEN_ARGUMENT.into(), json!(token));
        assert_eq!(
            t.redeem_at(&token, "search_people", &again, None, 1001),
            Ok(())
        );
        assert_eq!(
            t.redeem_at(&token, "search_people", &a, None, 1002),
            Err(Refusal::Replayed)
        );
    }

    #[test]
    fn a_token_is_bound_to_its_tool_arguments_payer_secret_and_time() {
        let t = Tokens::new(Some(b"a shared secret of the replicas"), DEFAULT_TTL);
        let a = args(json!({"limit": 100}));
        let token = t.issue_at("search_people", &a, None, 1000);
        let other = args(json!({"limit": 101}));
        assert_eq!(
            t.redeem_at(&token, "search_people", &other, None, 1001),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            t.redeem_at(&token, "search_companies", &a, None, 1001),
            Err(Refusal::Invalid)
        );
        let someone = ApiKey::new("a-caller-key-0123456789").unwrap();
        assert_eq!(
            t.redeem_at(&token, "search_people", &a, Some(&someone), 1001),
            Err(Refusal::Invalid)
        );
        let elsewhere = Tokens::new(Some(b"another secret entirely"), DEFAULT_TTL);
        assert_eq!(
            elsewhere.redeem_at(&token, "search_people", &a, None, 1001),
            Err(Refusal::Invalid)
        );
        // A forged tag, a later expiry written in, garbage.
        let forged = format!("{}0", &token[..token.len() - 1]);
        let forged = if forged == token {
            format!("{}1", &token[..token.len() - 1])
        } else {
            forged
        };
        assert_eq!(
            t.redeem_at(&forged, "search_people", &a, None, 1001),
            Err(Refusal::Invalid)
        );
        let later = token.replacen(".1300.", ".9999999999.", 1);
        assert_eq!(
            t.redeem_at(&later, "search_people", &a, None, 1001),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            t.redeem_at("lmc1.x.y.z", "search_people", &a, None, 1001),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            t.redeem_at(&token, "search_people", &a, None, 1301),
            Err(Refusal::Expired)
        );
        // The same secret on another replica accepts it (once there).
        let replica = Tokens::new(Some(b"a shared secret of the replicas"), DEFAULT_TTL);
        assert_eq!(
            replica.redeem_at(&token, "search_people", &a, None, 1001),
            Ok(())
        );
    }

    #[test]
    fn what_asks_first() {
        let policy = Policy::default();
        let find = |n: &str| crate::tools::find(n).unwrap();
        assert!(!policy.needs(find("find_work_email"), 1.0));
        assert!(policy.needs(find("search_people"), 175.0));
        assert!(!policy.needs(find("search_people"), 25.0));
        assert!(policy.needs(find("submit_bulk_job"), 0.25), "bulk: always");
        assert!(
            policy.needs(find("delete_budget"), 0.0),
            "destructive: always"
        );
        assert!(policy.may_need(find("search_people")));
        assert!(!policy.may_need(find("find_work_email")));
        assert!(!policy.may_need(find("research_account")));
        let off = Policy {
            enabled: false,
            ..policy
        };
        assert!(!off.needs(find("submit_bulk_job"), 1e9));
    }
}
