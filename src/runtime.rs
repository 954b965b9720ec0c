//! The handwritten seam under the generated client: auth header, transport rules, bounded
//! response reads, the raw-response capture used by tools, and the sandbox.
//!
//! progenitor calls `pre` and `exec` (its `ClientHooks`) around every request; everything that
//! must hold for every call lives here.

use crate::config::{Config, ConfigError};
use crate::generated::Client;
use crate::limits::{Budget, Limiter, Payer};
use crate::retry::{self, Decision, Outcome, Policy};
use bytes::{Bytes, BytesMut};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

pub const USER_AGENT: &str = concat!("leadmagic-mcp/", env!("CARGO_PKG_VERSION"));
pub const SANDBOX_HEADER: &str = "x-leadmagic-sandbox";

/// State shared by every request of one client (progenitor's "inner" value). A tool call works
/// on a clone carrying its `CallScope`.
#[derive(Clone, Debug)]
pub struct Runtime {
    sandbox: bool,
    /// Whole-request timeout of one attempt (also the client's default).
    timeout: std::time::Duration,
    max_body_bytes: usize,
    log_bodies: bool,
    policy: Policy,
    limiter: Arc<Limiter>,
    budget: Arc<Budget>,
    /// Keeps the server's key in the last-line filter (`secrets.rs`) while the client lives.
    _key_filter: Option<Arc<crate::secrets::Registration>>,
    /// The tool call these requests belong to (`None` for the typed client used directly).
    call: Option<Arc<CallScope>>,
}

/// A progress report: done so far, the total (0 when not known), what just happened.
pub type Progress = Arc<dyn Fn(u32, u32, &str) + Send + Sync>;

/// One tool call, as the requests it makes see it: created once where the call enters, carried
/// by a per-call clone of the client (no task-locals, no second tool lookup).
pub struct CallScope {
    pub tool: &'static crate::tools::ToolDef,
    /// A caller's own key (bring-your-own-key mode), used in place of the configured one.
    pub key: Option<crate::config::ApiKey>,
    pub payer: Payer,
    /// Cancelled by the client: a request not sent yet is not sent.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Told as the events of a watched stream arrive.
    pub progress: Option<Progress>,
    /// The raw answer, kept whole for the tool result.
    captured: Mutex<Option<Captured>>,
}

impl std::fmt::Debug for CallScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: only what the call is and who pays.
        f.debug_struct("CallScope")
            .field("tool", &self.tool.name)
            .field("payer", &self.payer)
            .finish_non_exhaustive()
    }
}

impl CallScope {
    pub fn new(
        tool: &'static crate::tools::ToolDef,
        key: Option<crate::config::ApiKey>,
        payer: Payer,
        cancel: Option<tokio_util::sync::CancellationToken>,
        progress: Option<Progress>,
    ) -> Arc<Self> {
        Arc::new(CallScope {
            tool,
            key,
            payer,
            cancel,
            progress,
            captured: Mutex::new(None),
        })
    }

    /// The answer captured during the call, if any.
    pub fn take_captured(&self) -> Option<Captured> {
        self.captured.lock().map(|mut c| c.take()).unwrap_or(None)
    }

    fn store(&self, c: Captured) {
        if let Ok(mut slot) = self.captured.lock() {
            *slot = Some(c);
        }
    }
}

impl Client {
    /// A clone of this client whose requests belong to `scope`.
    pub(crate) fn for_call(&self, scope: Arc<CallScope>) -> Client {
        let mut runtime = self.inner().clone();
        runtime.call = Some(scope);
        Client::new_with_client(self.baseurl(), self.client().clone(), runtime)
    }
}

impl Runtime {
    /// The credit budget (`--max-credits`), kept per payer.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Whether every call is answered by the built-in sandbox.
    pub(crate) fn is_sandbox(&self) -> bool {
        self.sandbox
    }
}

/// Where a captured answer came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    /// LeadMagic answered.
    Upstream,
    /// The built-in sandbox answered; nothing was sent.
    Sandbox,
    /// Nothing was sent: the payer's rate-limit window is used up for longer than the call may
    /// wait. The wait left is attached.
    HeldBack(std::time::Duration),
    /// Nothing was sent: the client cancelled the call first.
    Cancelled,
}

/// The raw upstream answer to one request, kept whole for the tool result: typed responses drop
/// fields the document does not list.
#[derive(Debug, Clone)]
pub struct Captured {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body was longer than the cap; `body` holds its start only.
    pub truncated: bool,
    pub source: Source,
}

/// Build the typed client: the key travels in a sensitive `X-API-Key` default header, redirects
/// are never followed (they would carry the key to another host), timeouts are set.
pub fn client(config: &Config) -> Result<Client, ConfigError> {
    // ring keeps the build free of C toolchains and of aws-lc. Mozilla's roots are compiled in:
    // loading the system store instead reads and parses ~150 files at every start.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &config.ca_file {
        add_roots(&mut roots, path)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut headers = HeaderMap::new();
    let key_filter = config
        .api_key
        .as_ref()
        .map(|k| Arc::new(crate::secrets::register(k.expose())));
    if let Some(key) = &config.api_key {
        let mut value = HeaderValue::from_str(key.expose()).map_err(|_| ConfigError::InvalidKey)?;
        value.set_sensitive(true);
        headers.insert("x-api-key", value);
    } else if !config.sandbox && !config.caller_keys {
        return Err(ConfigError::MissingKey);
    }
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .default_headers(headers)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .build()
        .map_err(|e| ConfigError::Client(e.without_url().to_string()))?;
    let runtime = Runtime {
        sandbox: config.sandbox,
        timeout: config.timeout,
        max_body_bytes: config.max_body_bytes,
        log_bodies: config.log_bodies,
        policy: config.retry.clone(),
        limiter: Arc::new(Limiter::new(config.rate_limit_per_minute)),
        budget: Arc::new(Budget::new(config.max_credits)),
        _key_filter: key_filter,
        call: None,
    };
    Ok(Client::new_with_client(&config.base_url, http, runtime))
}

/// Trust the certificates of a PEM file as well as the compiled-in roots (a corporate proxy
/// that inspects TLS presents its own); certificate checks stay on.
fn add_roots(roots: &mut rustls::RootCertStore, path: &std::path::Path) -> Result<(), ConfigError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let var = crate::config::CA_FILE_VAR;
    let bad = |why: String| ConfigError::Setting(format!("{var}={}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("a certificate cannot be a root ({e})")))?;
        added += 1;
    }
    if added == 0 {
        return Err(bad("holds no certificate".into()));
    }
    tracing::debug!(certificates = added, "extra roots trusted");
    Ok(())
}

impl ClientHooks<Runtime> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        // progenitor adds `api-version: <info.version>`; LeadMagic does not use it.
        request.headers_mut().remove("api-version");
        Ok(())
    }

    /// Send with the retry policy (see `retry.rs`), under the rate limiter, reading the answer
    /// up to the size cap and capturing it for the tool result.
    async fn exec(
        &self,
        mut request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let runtime = self.inner();
        let scope = runtime.call.as_deref();
        if let Some(key) = scope.and_then(|s| s.key.as_ref())
            && let Ok(mut value) = HeaderValue::from_str(key.expose())
        {
            value.set_sensitive(true);
            request.headers_mut().insert("x-api-key", value);
        }
        let payer = scope.map_or(Payer::Server, |s| s.payer);
        // A tool call knows its tool; the typed client used directly finds it by operation.
        let tool = scope
            .map(|s| s.tool)
            .or_else(|| crate::tools::by_client_method(info.operation_id));
        if runtime.sandbox {
            // The request was built and validated exactly as a real one would be.
            return Ok(sandbox_response(scope, tool));
        }
        let billed = tool.is_none_or(|t| t.is_billed());
        if runtime.log_bodies {
            let body = request
                .body()
                .and_then(|b| b.as_bytes())
                .unwrap_or_default();
            tracing::debug!(operation = info.operation_id, body = %crate::redact::mask(&String::from_utf8_lossy(body)), "request body");
        }
        let mut policy = runtime.policy.clone();
        if request.body().is_some_and(|b| b.as_bytes().is_none()) {
            policy.max_attempts = 1; // a streaming body cannot be sent twice
        }
        let mut original = Some(request);
        let started = Instant::now();
        // Every attempt runs with its full timeout, so the last one must start by this time.
        let latest_start = started
            + policy
                .deadline_for(runtime.timeout)
                .saturating_sub(runtime.timeout);
        let mut attempt = 0;
        loop {
            // Until the first attempt goes out, a cancelled call sends nothing; once sent, it
            // completes and is counted (LeadMagic may already be charging for it).
            let acquired = match scope.and_then(|s| s.cancel.as_ref()) {
                Some(cancel) if attempt == 0 => tokio::select! {
                    biased;
                    _ = cancel.cancelled() => None,
                    acquired = runtime.limiter.acquire_by(payer, latest_start) => Some(acquired),
                },
                _ => Some(runtime.limiter.acquire_by(payer, latest_start).await),
            };
            let Some(acquired) = acquired else {
                tracing::debug!(operation = info.operation_id, "cancelled before sending");
                return Ok(cancelled_response(scope));
            };
            if let Err(wait) = acquired {
                // Waiting would cut the request's timeout short: send nothing, say how long.
                tracing::info!(
                    operation = info.operation_id,
                    wait_ms = wait.as_millis() as u64,
                    "held back: rate-limit window used up"
                );
                return Ok(held_back_response(scope, wait));
            }
            // A copy while another attempt may follow; the request itself on the last one.
            let this_try = if attempt + 1 >= policy.max_attempts {
                original.take()
            } else {
                original.as_ref().and_then(reqwest::Request::try_clone)
            };
            let Some(this_try) = this_try else {
                unreachable!("a request that cannot be cloned is sent once (max_attempts = 1)")
            };
            let decide = |outcome: Outcome, headers: Option<&HeaderMap>| {
                let ctx = retry::Context {
                    billed,
                    attempt,
                    elapsed: started.elapsed(),
                    now: SystemTime::now(),
                    attempt_timeout: runtime.timeout,
                };
                retry::decide(&policy, &ctx, outcome, headers, &mut jitter)
            };
            let response = match self.client().execute(this_try).await {
                Ok(r) => r,
                Err(e) => match decide(retry::classify(&e), None) {
                    Decision::RetryAfter(wait) => {
                        wait_before_retry(info, &mut attempt, wait, "transport").await;
                        continue;
                    }
                    Decision::Stop => return Err(e),
                },
            };
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            if let Some(wait) = retry::exhausted_for(&headers, SystemTime::now()) {
                runtime.limiter.pause(payer, Instant::now(), wait);
            }
            if let Decision::RetryAfter(wait) =
                decide(Outcome::Status(status.as_u16()), Some(&headers))
            {
                drop(response);
                wait_before_retry(info, &mut attempt, wait, status.as_str()).await;
                continue;
            }
            let progress = scope.and_then(|s| s.progress.as_ref());
            let (body, truncated) =
                match read_bounded(response, runtime.max_body_bytes, progress).await {
                    Ok(read) => read,
                    Err(e) => match decide(retry::classify(&e), None) {
                        Decision::RetryAfter(wait) => {
                            wait_before_retry(info, &mut attempt, wait, "body").await;
                            continue;
                        }
                        Decision::Stop => return Err(e),
                    },
                };
            if runtime.log_bodies {
                tracing::debug!(operation = info.operation_id, status = status.as_u16(), body = %crate::redact::mask(&String::from_utf8_lossy(&body)), "response body");
            }
            let Some(scope) = scope else {
                return Ok(rebuild(status, version, headers, body));
            };
            // A tool reads the captured answer; the typed layer gets no body to decode and drop.
            scope.store(Captured {
                status: status.as_u16(),
                headers: headers.clone(),
                body,
                truncated,
                source: Source::Upstream,
            });
            return Ok(rebuild(status, version, headers, Bytes::new()));
        }
    }
}

/// The answer for a request that was not sent because the client cancelled the call.
fn cancelled_response(scope: Option<&CallScope>) -> reqwest::Response {
    if let Some(scope) = scope {
        scope.store(Captured {
            status: 499,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            truncated: false,
            source: Source::Cancelled,
        });
    }
    rebuild(
        reqwest::StatusCode::from_u16(499).unwrap_or(reqwest::StatusCode::BAD_REQUEST),
        reqwest::Version::HTTP_11,
        HeaderMap::new(),
        Bytes::new(),
    )
}

/// The answer for a request that was not sent because the rate-limit window is used up.
fn held_back_response(scope: Option<&CallScope>, wait: std::time::Duration) -> reqwest::Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&crate::errors::retry_after_s(wait).to_string()) {
        headers.insert(reqwest::header::RETRY_AFTER, v);
    }
    if let Some(scope) = scope {
        scope.store(Captured {
            status: 429,
            headers: headers.clone(),
            body: Bytes::new(),
            truncated: false,
            source: Source::HeldBack(wait),
        });
    }
    rebuild(
        reqwest::StatusCode::TOO_MANY_REQUESTS,
        reqwest::Version::HTTP_11,
        headers,
        Bytes::new(),
    )
}

async fn wait_before_retry(
    info: &OperationInfo,
    attempt: &mut u32,
    wait: std::time::Duration,
    why: &str,
) {
    let wait_ms = wait.as_millis() as u64;
    tracing::info!(
        operation = info.operation_id,
        attempt = *attempt + 1,
        wait_ms,
        why,
        "retrying"
    );
    tokio::time::sleep(wait).await;
    *attempt += 1;
}

/// A uniform value in [0, 1) for backoff jitter (xorshift; no need for a CSPRNG here).
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(88172645463325252, |d| d.as_nanos() as u64)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// An event stream never ends by itself: a tool call returns the events of this window.
pub const EVENT_STREAM_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// Read at most `cap` bytes of the body; the rest is not buffered. An event stream is read for
/// `EVENT_STREAM_WINDOW` at most, telling `progress` as its events arrive. The flag says the
/// body was cut.
async fn read_bounded(
    mut response: reqwest::Response,
    cap: usize,
    progress: Option<&Progress>,
) -> reqwest::Result<(Bytes, bool)> {
    let streaming = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let deadline = tokio::time::Instant::now() + EVENT_STREAM_WINDOW;
    // Sized once from Content-Length (never beyond the cap), so the buffer does not regrow.
    let expected = response
        .content_length()
        .unwrap_or(8 * 1024)
        .min(cap as u64) as usize;
    let mut buf = BytesMut::with_capacity(expected);
    loop {
        let chunk = if streaming {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(chunk) => chunk?,
                Err(_) => return Ok((buf.freeze(), true)),
            }
        } else {
            response.chunk().await?
        };
        let Some(chunk) = chunk else {
            return Ok((buf.freeze(), false));
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), true));
        }
        buf.extend_from_slice(&chunk);
        if streaming && let Some(progress) = progress {
            let events = buf.windows(2).filter(|w| w == b"\n\n").count() as u32;
            if events > 0 && chunk.windows(2).any(|w| w == b"\n\n") {
                progress(events, 0, &format!("{events} events so far"));
            }
        }
    }
}

fn rebuild(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: HeaderMap,
    body: Bytes,
) -> reqwest::Response {
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    let response = builder
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Bytes::new()));
    reqwest::Response::from(response)
}

/// The sandbox answers from the document's examples (or from its schemas), in process.
fn sandbox_response(
    scope: Option<&CallScope>,
    tool: Option<&crate::tools::ToolDef>,
) -> reqwest::Response {
    let (status, content_type, body) = match tool {
        Some(t) => (200, t.sample_content_type, t.sample_body),
        None => (404, "application/json", r#"{"message":"unknown route"}"#),
    };
    let mut headers = HeaderMap::new();
    if !content_type.is_empty() {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
    }
    headers.insert(SANDBOX_HEADER, HeaderValue::from_static("true"));
    let mut body = Bytes::from_static(body.as_bytes());
    if let Some(scope) = scope {
        scope.store(Captured {
            status,
            headers: headers.clone(),
            body: std::mem::take(&mut body),
            truncated: false,
            source: Source::Sandbox,
        });
    }
    rebuild(
        reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::OK),
        reqwest::Version::HTTP_11,
        headers,
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers with `head` and `body`, then keeps the connection open.
    async fn open_ended(head: &'static str, body: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(body).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        });
        let _ = rustls::crypto::ring::default_provider().install_default(); // for reqwest::get
        format!("http://{addr}/")
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_stream_is_read_for_a_bounded_window() {
        let url = open_ended(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            b"data: one\n\n",
        )
        .await;
        let response = reqwest::get(&url).await.unwrap();
        let (body, cut) = read_bounded(response, 1 << 20, None).await.unwrap();
        assert_eq!(&body[..], b"data: one\n\n");
        assert!(cut, "the window ended the read");
    }

    #[tokio::test]
    async fn a_body_is_cut_at_the_cap() {
        let url = open_ended(
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
            b"0123456789",
        )
        .await;
        let response = reqwest::get(&url).await.unwrap();
        let (body, cut) = read_bounded(response, 4, None).await.unwrap();
        assert_eq!(&body[..], b"0123");
        assert!(cut);
    }
}
