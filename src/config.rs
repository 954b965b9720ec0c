//! Configuration from the environment: the API key (never from argv), base URL, timeouts.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub const KEY_VAR: &str = "LEADMAGIC_API_KEY";
pub const BASE_URL_VAR: &str = "LEADMAGIC_BASE_URL";
pub const TIMEOUT_VAR: &str = "LEADMAGIC_TIMEOUT_SECS";
pub const CONNECT_TIMEOUT_VAR: &str = "LEADMAGIC_CONNECT_TIMEOUT_SECS";
pub const RATE_LIMIT_VAR: &str = "LEADMAGIC_RATE_LIMIT";
/// PEM file of extra root certificates (a corporate TLS-inspecting proxy's), trusted on top of
/// the compiled-in roots.
pub const CA_FILE_VAR: &str = "LEADMAGIC_CA_FILE";
pub const DEFAULT_BASE_URL: &str = "https://api.leadmagic.io";
/// Requests per minute. LeadMagic's lowest published per-endpoint limit is 100/min (jobs finder,
/// profile search on older plans); 300/min stays under most and is plenty for an agent.
pub const DEFAULT_RATE_LIMIT: u32 = 300;

/// The LeadMagic API key. Neither `Debug` nor `Display` shows it.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key: String = key.into();
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::MissingKey);
        }
        // A header value must be visible ASCII; refuse anything else rather than mangle it.
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidKey);
        }
        Ok(ApiKey(SecretString::from(key.to_string())))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    MissingKey,
    /// No key in the environment; the text says what the `.env` file had.
    NoKeyFound(String),
    InvalidKey,
    BaseUrl(String),
    Setting(String),
    Client(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingKey => write!(
                f,
                "{KEY_VAR} is not set: export your LeadMagic API key as {KEY_VAR} \
                 (or put {KEY_VAR}=... in a .env file); it is never read from the command line"
            ),
            ConfigError::NoKeyFound(dotenv) => write!(
                f,
                "{KEY_VAR} is not set: it is not in the environment, and {dotenv}. Export your \
                 LeadMagic API key as {KEY_VAR} or put {KEY_VAR}=... in a .env file in the \
                 working directory; it is never read from the command line"
            ),
            ConfigError::InvalidKey => {
                write!(f, "{KEY_VAR} contains characters an API key cannot have")
            }
            ConfigError::BaseUrl(why) => write!(
                f,
                "{BASE_URL_VAR} is not usable: {why}. Example: {BASE_URL_VAR}={DEFAULT_BASE_URL} \
                 (the default), or http://127.0.0.1:8080 for a local mock"
            ),
            ConfigError::Setting(why) => write!(f, "invalid setting: {why}"),
            ConfigError::Client(why) => write!(f, "cannot build the HTTP client: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Everything the runtime needs to reach LeadMagic.
#[derive(Debug, Clone)]
pub struct Config {
    /// `None` only in sandbox mode.
    pub api_key: Option<ApiKey>,
    /// Scheme + host (+ port), no trailing slash.
    pub base_url: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Serve every call from the built-in fake API: no key, no network, no credits.
    pub sandbox: bool,
    /// Largest upstream body read into memory; the rest is dropped and the call fails cleanly.
    pub max_body_bytes: usize,
    /// When to send a request again (never a billed one whose outcome is unknown).
    pub retry: crate::retry::Policy,
    /// Client-side request rate, per minute, across all tools; 0 = no client-side limit.
    pub rate_limit_per_minute: u32,
    /// Credits this process may spend; `None` = no limit.
    pub max_credits: Option<f64>,
    /// Log request and response bodies (masked) at debug level.
    pub log_bodies: bool,
    /// Keys come from each caller (HTTP bring-your-own-key mode); no server key is used.
    pub caller_keys: bool,
    /// Extra root certificates (PEM), trusted besides the compiled-in ones; never instead.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Config {
    /// A configuration for the production API with the given key.
    pub fn new(api_key: ApiKey) -> Self {
        Config::base(Some(api_key))
    }

    /// Defaults shared by every mode.
    fn base(api_key: Option<ApiKey>) -> Self {
        Config {
            api_key,
            base_url: DEFAULT_BASE_URL.into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            sandbox: false,
            max_body_bytes: 1 << 20,
            retry: crate::retry::Policy::default(),
            rate_limit_per_minute: DEFAULT_RATE_LIMIT,
            max_credits: None,
            log_bodies: false,
            caller_keys: false,
            ca_file: None,
        }
    }

    /// The built-in sandbox: no key, no network.
    pub fn sandbox() -> Self {
        Config {
            sandbox: true,
            ..Config::base(None)
        }
    }

    /// Read `LEADMAGIC_API_KEY`, `LEADMAGIC_BASE_URL`, `LEADMAGIC_TIMEOUT_SECS` from the process
    /// environment, falling back to a `.env` file in the working directory (the environment wins).
    /// With `caller_keys` (HTTP bring-your-own-key) no server key is read or used.
    pub fn from_env(sandbox: bool, caller_keys: bool) -> Result<Self, ConfigError> {
        let dotenv = read_dotenv(Path::new(".env"));
        for line in &dotenv.malformed {
            // The line itself is not shown: it may hold a secret.
            tracing::warn!(".env line {line} is not KEY=value and was ignored");
        }
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| {
                    dotenv
                        .entries
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                })
        };
        let mut config = if sandbox {
            Config::sandbox()
        } else if caller_keys {
            Config {
                caller_keys: true,
                ..Config::base(None)
            }
        } else {
            let key = get(KEY_VAR).ok_or_else(|| ConfigError::NoKeyFound(dotenv.describe()))?;
            Config::new(ApiKey::new(key)?)
        };
        // The sandbox never sends anything, so its base URL is never read (nor refused).
        if !sandbox && let Some(url) = get(BASE_URL_VAR) {
            config.base_url = check_base_url(&url)?;
        }
        if let Some(t) = get(TIMEOUT_VAR) {
            config.timeout = seconds(TIMEOUT_VAR, &t)?;
            config.connect_timeout = config.connect_timeout.min(config.timeout);
        }
        if let Some(t) = get(CONNECT_TIMEOUT_VAR) {
            config.connect_timeout = seconds(CONNECT_TIMEOUT_VAR, &t)?;
        }
        config.ca_file = get(CA_FILE_VAR).map(std::path::PathBuf::from);
        if let Some(r) = get(RATE_LIMIT_VAR) {
            config.rate_limit_per_minute = parse_rate_limit(&r).ok_or_else(|| {
                ConfigError::Setting(format!(
                    "{RATE_LIMIT_VAR}: {r:?} is not a count per minute (1-100000) or \"off\""
                ))
            })?;
        }
        Ok(config)
    }
}

/// Requests per minute; `off` (or 0) turns the client-side limit off, for a gateway that already
/// limits or a benchmark against a mock.
fn parse_rate_limit(r: &str) -> Option<u32> {
    let r = r.trim();
    if r.eq_ignore_ascii_case("off") {
        return Some(0);
    }
    r.parse().ok().filter(|n| (0..=100_000).contains(n))
}

fn seconds(var: &str, t: &str) -> Result<Duration, ConfigError> {
    let secs: f64 = t
        .trim()
        .parse()
        .map_err(|_| ConfigError::Setting(format!("{var}: {t:?} is not a number")))?;
    if !(0.1..=600.0).contains(&secs) {
        return Err(ConfigError::Setting(format!(
            "{var}: must be between 0.1 and 600 seconds"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// HTTPS anywhere; plain HTTP only to a loopback address (a local mock or proxy).
pub fn check_base_url(raw: &str) -> Result<String, ConfigError> {
    // The parser's message only: the value itself is not repeated (a key pasted into the wrong
    // variable would be printed).
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| ConfigError::BaseUrl(format!("it is not an absolute URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::BaseUrl(
            "credentials in the URL are not allowed".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::BaseUrl(
            "a query or fragment is not allowed".into(),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(ConfigError::BaseUrl("no host".into())),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ConfigError::BaseUrl(
                "plain http is only allowed for loopback addresses (127.0.0.0/8, ::1, localhost); use https"
                    .into(),
            ));
        }
        other => {
            return Err(ConfigError::BaseUrl(format!(
                "unsupported scheme {other:?}"
            )));
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// What a `.env` file held: `LEADMAGIC_*` entries, and the lines that were not `KEY=value`.
#[derive(Debug, Default)]
struct Dotenv {
    found: bool,
    entries: Vec<(String, String)>,
    /// 1-based numbers of lines that could not be read.
    malformed: Vec<usize>,
}

impl Dotenv {
    /// For the missing-key message: what the `.env` file had instead.
    fn describe(&self) -> String {
        let place = std::env::current_dir()
            .map(|d| d.join(".env").display().to_string())
            .unwrap_or_else(|_| ".env".into());
        match (self.found, self.malformed.as_slice()) {
            (false, _) => format!("there is no {place}"),
            (true, []) => format!("{place} has no {KEY_VAR} line"),
            (true, lines) => format!(
                "{place} has no readable {KEY_VAR} line (lines {} are not KEY=value)",
                lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The `LEADMAGIC_*` entries of a `.env` file, in dotenvy's grammar (`export`, quotes, escapes in
/// double quotes, multi-line quoted values, `#` comments, `${VAR}` substitution).
fn read_dotenv(path: &Path) -> Dotenv {
    let Ok(bytes) = std::fs::read(path) else {
        return Dotenv::default();
    };
    let mut dotenv = Dotenv {
        found: true,
        ..Dotenv::default()
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // dotenvy names an unreadable line by its text, which is never shown (it may hold a key);
    // its number is found by looking for that text after the previous unreadable one.
    let mut searched = 0;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) if k.starts_with("LEADMAGIC_") => dotenv.entries.push((k, v)),
            Ok(_) => {}
            Err(dotenvy::Error::LineParse(line, _)) => {
                let at = text[searched..]
                    .find(line.as_str())
                    .map_or(searched, |i| searched + i);
                dotenv.malformed.push(text[..at].matches('\n').count() + 1);
                searched = at + line.len();
            }
            // Reading from memory cannot fail; any other error ends the file.
            Err(_) => break,
        }
    }
    dotenv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_never_printed() {
        let key = ApiKey::new("lm_CANARY_0123456789abcdef").unwrap();
        let config = Config::new(key);
        assert!(!format!("{config:?}").contains("CANARY"));
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            check_base_url("https://api.leadmagic.io/").unwrap(),
            "https://api.leadmagic.io"
        );
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://[::1]:8080").is_ok());
        assert!(check_base_url("http://localhost:9").is_ok());
        assert!(check_base_url("http://example.com").is_err());
        assert!(check_base_url("http://10.0.0.1").is_err());
        assert!(check_base_url("ftp://api.leadmagic.io").is_err());
        assert!(check_base_url("https://user:pw@api.leadmagic.io").is_err());
    }

    #[test]
    fn rate_limit_setting() {
        assert_eq!(parse_rate_limit("600"), Some(600));
        assert_eq!(parse_rate_limit(" off "), Some(0));
        assert_eq!(parse_rate_limit("0"), Some(0));
        assert_eq!(parse_rate_limit("100001"), None);
        assert_eq!(parse_rate_limit("fast"), None);
        assert_eq!(parse_rate_limit("-1"), None);
    }

    /// The lines a hand parser got wrong, and line numbers that stay right after a value that
    /// spans lines.
    #[test]
    fn dotenv_grammar() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".env");
        let fixture = [
            "# a comment",
            "export LEADMAGIC_API_KEY=\"abc\"",
            "OTHER=1",
            "LEADMAGIC_BASE_URL='http://127.0.0.1:1'",
            "this line is wrong",
            "bad key=1",
            "LEADMAGIC_TOOLSETS=people,ads # inline comment",
            "LEADMAGIC_LOG = debug",
            "LEADMAGIC_A=\"say \\\"hi\\\"\\nbye\"",
            "LEADMAGIC_B='no \\n escapes'",
            "LEADMAGIC_C=\"two",
            "lines\"",
            "LEADMAGIC_D=${LEADMAGIC_TOOLSETS}",
            "LEADMAGIC_E=",
            "=no name",
        ]
        .join("\n");
        std::fs::write(&f, format!("\u{feff}{fixture}\n")).unwrap();
        let got = read_dotenv(&f);
        assert_eq!(got.malformed, vec![5, 6, 15]);
        assert!(got.describe().contains("lines 5, 6, 15 are not KEY=value"));
        let entry = |name: &str| {
            got.entries
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(entry("LEADMAGIC_API_KEY"), Some("abc"));
        assert_eq!(entry("LEADMAGIC_BASE_URL"), Some("http://127.0.0.1:1"));
        // The hand parser kept "people,ads # inline comment".
        assert_eq!(entry("LEADMAGIC_TOOLSETS"), Some("people,ads"));
        assert_eq!(entry("LEADMAGIC_LOG"), Some("debug"));
        // Escapes in double quotes; none in single quotes.
        assert_eq!(entry("LEADMAGIC_A"), Some("say \"hi\"\nbye"));
        assert_eq!(entry("LEADMAGIC_B"), Some("no \\n escapes"));
        assert_eq!(entry("LEADMAGIC_C"), Some("two\nlines"));
        assert_eq!(entry("LEADMAGIC_D"), Some("people,ads"));
        assert_eq!(entry("LEADMAGIC_E"), Some(""));
        assert!(
            entry("OTHER").is_none(),
            "only LEADMAGIC_ settings are kept"
        );
        drop(dir);
        assert!(read_dotenv(&f).describe().starts_with("there is no"));
    }

    #[test]
    fn a_bad_base_url_names_an_example_and_not_itself() {
        let e = check_base_url("garbage-lm_secret_value")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("https://api.leadmagic.io") && e.contains("http://127.0.0.1"),
            "{e}"
        );
        assert!(!e.contains("lm_secret"), "{e}");
    }
}
