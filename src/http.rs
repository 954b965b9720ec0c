//! Streamable HTTP transport, safe by default: loopback bind, Host and Origin allow-lists,
//! bearer-token auth (required off loopback), a concurrency limit, body size cap, `/healthz`,
//! graceful shutdown, and the opt-in bring-your-own-key mode. The MCP endpoint itself comes from
//! `server.rs` (the only rmcp importer); this module is plain axum.

use crate::config::ApiKey;
use crate::server::LeadMagicServer;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const ADDR_VAR: &str = "LEADMAGIC_HTTP_ADDR";
pub const TOKEN_VAR: &str = "LEADMAGIC_MCP_TOKEN";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";
/// The header a caller puts its own LeadMagic key in, in bring-your-own-key mode.
pub const KEY_HEADER: &str = "x-leadmagic-key";

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Host names (no port) accepted in the `Host` header.
    pub allowed_hosts: Vec<String>,
    /// Origins accepted when a browser sends `Origin`; `scheme://host:*` matches any port.
    pub allowed_origins: Vec<String>,
    /// Bearer token callers must present (`LEADMAGIC_MCP_TOKEN`).
    pub token: Option<SecretString>,
    /// Read each caller's LeadMagic key from `x-leadmagic-key` (or `Authorization: Bearer` when
    /// no server token is set) and use it for that request only.
    pub per_request_key: bool,
    pub max_body_bytes: usize,
    pub max_concurrency: usize,
}

impl HttpOptions {
    pub fn new(addr: SocketAddr) -> Self {
        HttpOptions {
            addr,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            token: None,
            per_request_key: false,
            max_body_bytes: 1 << 20,
            max_concurrency: 64,
        }
    }

    /// Refuse configurations that would expose the key: a non-loopback bind needs a token.
    pub fn check(&self) -> Result<(), String> {
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            return Err(format!(
                "refusing to listen on {} without authentication: set {TOKEN_VAR} (callers then send \
                 `Authorization: Bearer <token>`), or bind a loopback address",
                self.addr
            ));
        }
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 16)
        {
            return Err(format!(
                "{TOKEN_VAR} is too short: use at least 16 random characters"
            ));
        }
        Ok(())
    }
}

/// A caller's own LeadMagic key, attached to the HTTP request for the MCP handler.
#[derive(Clone)]
pub struct CallerKey(pub ApiKey);

struct Shared {
    options: HttpOptions,
    slots: Semaphore,
    versions: Vec<String>,
}

/// The whole HTTP application (also used by tests through `serve`).
pub fn app(server: LeadMagicServer, options: HttpOptions) -> Router {
    let shared = Arc::new(Shared {
        slots: Semaphore::new(options.max_concurrency),
        options: options.clone(),
        versions: crate::server::protocol_versions(),
    });
    let mcp = server
        .http_router(options.max_body_bytes)
        .layer(middleware::from_fn_with_state(shared.clone(), caller_key))
        .layer(middleware::from_fn_with_state(shared.clone(), concurrency))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            protocol_version,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), bearer_auth));
    Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .merge(mcp)
        .layer(middleware::from_fn_with_state(shared, host_and_origin))
}

/// Bind and serve until SIGINT/SIGTERM; in-flight requests finish, new connections are refused.
pub async fn serve(server: LeadMagicServer, options: HttpOptions) -> Result<(), String> {
    options.check()?;
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // The one line a supervisor (or a test) reads to learn the port, whatever the log level.
    eprintln!("leadmagic-mcp: listening on http://{local}/mcp");
    axum::serve(listener, app(server, options))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| e.to_string())
}

/// Install the SIGINT/SIGTERM handlers now (before anyone can learn the port), and return the
/// future that completes on the first signal.
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::warn!("shutting down: finishing in-flight requests");
    })
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// Host name of a `Host` header value, without the port (IPv6 brackets removed).
fn host_name(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    value.rsplit_once(':').map_or(value, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            value
        }
    })
}

fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|pattern| match pattern.strip_suffix(":*") {
            Some(prefix) => {
                origin == prefix
                    || origin
                        .strip_prefix(prefix)
                        .and_then(|r| r.strip_prefix(':'))
                        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            }
            None => pattern == origin,
        })
}

/// DNS-rebinding defence: the Host must be one of ours, and a browser Origin must be allowed.
async fn host_and_origin(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host_name(host);
    if !shared
        .options
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
    {
        return plain(StatusCode::FORBIDDEN, "Host not allowed\n");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        if !origin_allowed(origin, &shared.options.allowed_origins) {
            return plain(StatusCode::FORBIDDEN, "Origin not allowed\n");
        }
    }
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Server auth: `Authorization: Bearer <LEADMAGIC_MCP_TOKEN>`, compared in constant time.
async fn bearer_auth(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &shared.options.token else {
        return next.run(request).await;
    };
    let given = bearer(request.headers()).unwrap_or("");
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.expose_secret().as_bytes()).into();
    if !ok {
        let mut r = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"leadmagic-mcp\", error=\"invalid_token\""),
        );
        return r;
    }
    // Our token never travels further (it is not LeadMagic's).
    request.headers_mut().remove(header::AUTHORIZATION);
    next.run(request).await
}

/// An unknown `MCP-Protocol-Version` is a 400 (absent means the client predates the header).
async fn protocol_version(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    for v in request.headers().get_all("mcp-protocol-version") {
        let known = v
            .to_str()
            .is_ok_and(|v| shared.versions.iter().any(|k| k == v));
        if !known {
            return plain(
                StatusCode::BAD_REQUEST,
                "Unsupported MCP-Protocol-Version\n",
            );
        }
    }
    next.run(request).await
}

async fn concurrency(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Ok(_slot) = shared.slots.acquire().await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "Shutting down\n");
    };
    next.run(request).await
}

/// Bring-your-own-key: move the caller's key out of the headers into a request extension, so it
/// is used for this request only and never logged. Without the mode, those headers are dropped.
async fn caller_key(
    State(shared): State<Arc<Shared>>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    // Without a server token, `Authorization: Bearer` may carry the caller's key instead.
    let from_bearer = match shared.options.token {
        None => bearer(request.headers()).and_then(|t| HeaderValue::from_str(t).ok()),
        Some(_) => None,
    };
    let headers = request.headers_mut();
    let from_header = headers.remove(KEY_HEADER);
    if shared.options.token.is_none() {
        headers.remove(header::AUTHORIZATION);
    }
    if shared.options.per_request_key {
        let raw = from_header.or(from_bearer);
        if let Some(raw) = raw {
            match raw.to_str().ok().map(ApiKey::new) {
                Some(Ok(key)) => {
                    request.extensions_mut().insert(CallerKey(key));
                }
                _ => {
                    return plain(
                        StatusCode::BAD_REQUEST,
                        "x-leadmagic-key is not a usable key\n",
                    );
                }
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("localhost:8787"), "localhost");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8787"), "::1");
        assert_eq!(host_name("evil.example"), "evil.example");
    }

    #[test]
    fn origins() {
        let allowed = HttpOptions::new(DEFAULT_ADDR.parse().unwrap()).allowed_origins;
        assert!(origin_allowed("http://localhost:6274", &allowed));
        assert!(origin_allowed("http://127.0.0.1:3000", &allowed));
        assert!(!origin_allowed("https://evil.example", &allowed));
        assert!(!origin_allowed(
            "http://localhost.evil.example:80",
            &allowed
        ));
        assert!(!origin_allowed("null", &allowed));
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let mut o = HttpOptions::new("0.0.0.0:8787".parse().unwrap());
        assert!(o.check().is_err());
        o.token = Some(SecretString::from("0123456789abcdef0123"));
        assert!(o.check().is_ok());
        assert!(
            HttpOptions::new(DEFAULT_ADDR.parse().unwrap())
                .check()
                .is_ok()
        );
    }
}
