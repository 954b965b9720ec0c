//! Streamable HTTP transport, safe by default: loopback bind, Host and Origin allow-lists,
//! bearer-token auth (required off loopback), bounded connections (a cap on open connections,
//! hyper's header-read timeout, which also ends idle keep-alive connections, and a body-read
//! timeout), a concurrency limit counted on complete requests only, a body size cap, JSON-RPC
//! answers to malformed messages, `/healthz`, graceful shutdown, and the opt-in
//! bring-your-own-key mode. Every response passes the last-line filter (`secrets.rs`). The MCP
//! endpoint itself comes from `mcp.rs` (the only rmcp importer); this module is axum and hyper.

use crate::config::ApiKey;
use crate::mcp::{CallerKey, LeadMagicServer};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const ADDR_VAR: &str = "LEADMAGIC_HTTP_ADDR";
pub const TOKEN_VAR: &str = "LEADMAGIC_MCP_TOKEN";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";
/// The header a caller puts its own LeadMagic key in, in bring-your-own-key mode.
pub const KEY_HEADER: &str = "x-leadmagic-key";
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

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
    /// Requests handled at once, counted from the moment a whole body has arrived.
    pub max_concurrency: usize,
    /// Open connections at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// A request head must arrive within this; it also ends idle keep-alive connections.
    pub header_timeout: Duration,
    /// A request body must arrive within this (408 otherwise).
    pub body_timeout: Duration,
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
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// Refuse configurations that would expose the key: a non-loopback bind needs a token.
    pub(crate) fn check(&self) -> Result<(), String> {
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

struct Shared {
    options: HttpOptions,
    versions: Vec<String>,
}

/// The whole HTTP application (also used by tests through `serve`).
pub fn app(server: LeadMagicServer, options: HttpOptions) -> Router {
    let shared = Arc::new(Shared {
        options: options.clone(),
        versions: crate::mcp::protocol_versions(),
    });
    // Outermost first: well-formed Host and Origin, auth, the whole body (bounded in size and
    // time) screened as JSON-RPC, only then a concurrency slot (tower's), the caller's key, and
    // rmcp, which checks the Host and Origin allow-lists.
    let mcp = server
        .http_router(
            &options.allowed_hosts,
            &options.allowed_origins,
            options.max_body_bytes,
        )
        .layer(middleware::from_fn_with_state(shared.clone(), caller_key))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            options.max_concurrency,
        ))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            whole_message,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), bearer_auth));
    // /healthz is not rmcp's: it keeps its own allow-list check.
    let health = Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), allowed_host));
    Router::new()
        .merge(health)
        .merge(mcp)
        .layer(middleware::from_fn(well_formed_host_and_origin))
        .layer(middleware::from_fn(last_line))
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
    let app = app(server, options.clone());
    accept_loop(listener, app, &options, shutdown).await;
    Ok(())
}

/// hyper's HTTP/1 server with the limits axum::serve does not expose: at most
/// `max_connections` open (one permit per connection, taken before `accept`), and hyper's
/// header-read timeout, which runs whenever a connection waits for a request head, idle
/// keep-alive time included. On shutdown: the listen queue is served, then the listener closed,
/// and every open connection finishes what it was sent (see `serve_connection`).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    options: &HttpOptions,
    shutdown: impl Future<Output = ()>,
) {
    // At most u32::MAX, so that the shutdown can wait for all permits at once.
    let max_connections = u32::try_from(options.max_connections.max(1))
        .unwrap_or(u32::MAX)
        .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
    let connections = Arc::new(Semaphore::new(max_connections as usize));
    let stopping = tokio_util::sync::CancellationToken::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    let serve = |stream: tokio::net::TcpStream, permit| {
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            http.clone(),
            stream,
            app.clone(),
            stopping.clone(),
            permit,
        ));
    };
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            // Nothing closes this semaphore, so acquiring fails never.
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        serve(stream, permit);
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    // First, so that idle keep-alive connections close and give their permits to the queue.
    stopping.cancel();
    drain_listen_queue(listener, &connections, deadline, serve).await;
    // Every connection holds a permit until it ends: all of them back means all closed.
    if tokio::time::timeout_at(deadline, connections.acquire_many(max_connections))
        .await
        .is_err()
    {
        tracing::warn!("shutdown: requests still running after the grace period were dropped");
    }
}

/// One connection, until it ends. When the server stops, hyper's graceful shutdown lets a
/// request in progress finish and closes an idle keep-alive connection, but it also closes a
/// connection it has not read a byte from yet, and that may be a request already on its way (a
/// load balancer opens a connection per request and cannot retry a POST it sent;
/// `tests/replicas.rs` lost calls that way). So a connection that has sent nothing yet is given
/// until its first bytes, or hyper's header-read timeout, before the shutdown reaches it.
async fn serve_connection(
    http: hyper::server::conn::http1::Builder,
    stream: tokio::net::TcpStream,
    app: Router,
    stopping: tokio_util::sync::CancellationToken,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let (first_bytes, arrived) = tokio::sync::oneshot::channel();
    let io = hyper_util::rt::TokioIo::new(ConnectionStream {
        stream,
        signal: Some(first_bytes),
        linger: None,
        lingered: 0,
    });
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return drop(permit),
        () = stopping.cancelled() => {}
    }
    // Closed without a byte, the sender is dropped: nothing to wait for either way.
    tokio::select! {
        _ = connection.as_mut() => return drop(permit),
        _ = arrived => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
    drop(permit);
}

/// A server connection's TCP stream, with two additions. It says when its first bytes have been
/// read (see `serve_connection`). And its close lingers: after hyper's FIN it reads and drops
/// what the client still sends, until the client closes too or `LINGER` passes. Closing a socket
/// with unread bytes resets the connection, and a reset can destroy the answer in the client's
/// buffer before it is read: a client that sent a body over the size cap would see a broken pipe
/// instead of the 413 that says why (`secure_defaults_host_origin_size_and_health` in
/// `tests/http.rs` saw one in some 40 runs).
struct ConnectionStream {
    stream: tokio::net::TcpStream,
    signal: Option<tokio::sync::oneshot::Sender<()>>,
    linger: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    lingered: usize,
}

/// At most this long, and this many bytes read and dropped, between our FIN and the close.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 << 20;

impl tokio::io::AsyncRead for ConnectionStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = std::pin::Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before
            && let Some(signal) = self.signal.take()
        {
            let _ = signal.send(());
        }
        read
    }
}

impl tokio::io::AsyncWrite for ConnectionStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        use tokio::io::AsyncRead as _;
        let this = self.get_mut();
        let linger = match &mut this.linger {
            Some(linger) => linger,
            None => {
                std::task::ready!(std::pin::Pin::new(&mut this.stream).poll_shutdown(cx))?;
                this.linger.insert(Box::pin(tokio::time::sleep(LINGER)))
            }
        };
        let mut scratch = [0u8; 8192];
        loop {
            if linger.as_mut().poll(cx).is_ready() || this.lingered > LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match std::pin::Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    this.lingered += buf.filled().len();
                }
                // The client closed too (or the connection failed): nothing left to protect.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Serve every connection already in the listen queue, then close the listener. The kernel
/// completes handshakes before `accept`, so a client (a load balancer) may have sent its request
/// on one of them; closing the listener would reset it, and a POST that was sent is one a load
/// balancer does not retry. Connections that arrive after the listener is closed are refused,
/// which a load balancer does retry elsewhere.
async fn drain_listen_queue(
    listener: tokio::net::TcpListener,
    connections: &Arc<Semaphore>,
    deadline: tokio::time::Instant,
    mut serve: impl FnMut(tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit),
) {
    // tokio accepts only once its reactor has seen the socket readable; the std listener asks
    // the kernel directly, so nothing queued is missed. It is non-blocking already.
    let Ok(listener) = listener.into_std() else {
        return;
    };
    let mut drained = 0usize;
    loop {
        let Ok(Ok(permit)) =
            tokio::time::timeout_at(deadline, connections.clone().acquire_owned()).await
        else {
            break;
        };
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break, // WouldBlock: the queue is empty
        };
        // An accepted socket does not inherit the listener's non-blocking mode; tokio needs it.
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream));
        match stream {
            Ok(stream) => {
                drained += 1;
                serve(stream, permit);
            }
            Err(e) => tracing::warn!(error = %e, "shutdown: a queued connection was dropped"),
        }
    }
    drop(listener);
    if drained > 0 {
        tracing::info!(connections = drained, "shutdown: served the listen queue");
    }
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

/// The host of an RFC 3986 authority (`host[:port]`, IPv6 in brackets), without the port; `None`
/// when the value is not one. Stricter than the RFC's reg-name (letters, digits, `-` and `.`
/// only), which no allowed name needs.
fn authority_host(value: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        let (host, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !name_ok {
            return None;
        }
        (host, port)
    };
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().is_err())
    {
        return None;
    }
    Some(host)
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

/// What rmcp's own Host and Origin checks miss (`tests/http.rs::hosts_are_parsed_strictly_and_origins_counted`
/// shows each): a second `Host` (rmcp reads the first), a bracketed non-address such as
/// `[localhost]` (rmcp strips the brackets), an absolute-form target naming another authority
/// than `Host`, and a second `Origin`. Every route gets this; rmcp then checks `/mcp` against the
/// allow-lists, and `allowed_host` checks `/healthz`.
async fn well_formed_host_and_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "exactly one Host header is required\n",
        );
    };
    if host.to_str().ok().and_then(authority_host).is_none() {
        return plain(StatusCode::BAD_REQUEST, "malformed Host header\n");
    }
    if let Some(target) = request.uri().authority()
        && !target
            .as_str()
            .eq_ignore_ascii_case(host.to_str().unwrap_or(""))
    {
        return plain(
            StatusCode::BAD_REQUEST,
            "the request target names another host than Host\n",
        );
    }
    if headers.get_all(header::ORIGIN).iter().count() > 1 {
        return plain(StatusCode::FORBIDDEN, "more than one Origin\n");
    }
    next.run(request).await
}

/// The allow-lists, for the routes rmcp does not serve (`/healthz`).
async fn allowed_host(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let name = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(authority_host)
        .unwrap_or("");
    if !shared
        .options
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
    {
        return plain(StatusCode::FORBIDDEN, "Host not allowed\n");
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin_allowed(
            origin.to_str().unwrap_or("null"),
            &shared.options.allowed_origins,
        )
    {
        return plain(StatusCode::FORBIDDEN, "Origin not allowed\n");
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

fn jsonrpc_error(status: StatusCode, rejection: &crate::jsonrpc::Rejection) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        rejection.to_json(),
    )
        .into_response()
}

/// Read the whole body (bounded in size and time) before anything else happens, screen it as
/// one JSON-RPC message, and check the protocol version it asks for. Malformed messages get a
/// 400 with the JSON-RPC error for them (parse error, invalid request, invalid params), an
/// unsupported protocol version a 400 with `UnsupportedProtocolVersionError` (-32022) listing
/// what is spoken. Kept because rmcp's answers are wrong for a client: plain text or "method
/// not found" for a malformed message (`tests/http.rs::malformed_bodies_get_400_with_a_json_rpc_error`),
/// plain text for a protocol version it does not know, where the specification and the
/// conformance suite want -32022 (`tests/http.rs::an_unsupported_protocol_version_gets_a_json_rpc_error_listing_the_supported_ones`).
async fn whole_message(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    use crate::jsonrpc::{INVALID_REQUEST, PARSE_ERROR, Rejection, meta_protocol_version, screen};
    let (parts, body) = request.into_parts();
    let limit = shared.options.max_body_bytes;
    let too_large = || {
        jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &Rejection::new(
                serde_json::Value::Null,
                INVALID_REQUEST,
                format!("Invalid request: the body is larger than {limit} bytes"),
            ),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let read = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit));
    let bytes = match tokio::time::timeout(shared.options.body_timeout, read).await {
        Err(_) => {
            return jsonrpc_error(
                StatusCode::REQUEST_TIMEOUT,
                &Rejection::new(
                    serde_json::Value::Null,
                    INVALID_REQUEST,
                    "Invalid request: the body did not arrive in time",
                ),
            );
        }
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large();
        }
        Ok(Err(_)) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                &Rejection::new(
                    serde_json::Value::Null,
                    PARSE_ERROR,
                    "Parse error: the body could not be read (malformed chunked encoding?)",
                ),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let header_version = match parts.headers.get("mcp-protocol-version") {
        Some(v) => Some(v.to_str().unwrap_or("")),
        None => None,
    };
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    // Only a JSON POST carries a message; anything else is rmcp's to answer (405, 415, 406).
    let mut id = serde_json::Value::Null;
    let mut meta_version = None;
    if parts.method == axum::http::Method::POST && is_json {
        // 2026-07-28 removed `initialize`: a request made on that revision gets rmcp's answer
        // for a removed method (404, -32601), not our check of the old handshake's params
        // (`screen` makes that check, so this look at the method has to come before it).
        if header_version.is_some_and(is_stateless_revision) && names_method(&bytes, "initialize") {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        let message = match screen(&bytes) {
            Ok(m) => m,
            Err(rejection) => return jsonrpc_error(StatusCode::BAD_REQUEST, &rejection),
        };
        id = message.id();
        meta_version = meta_protocol_version(&message.value).map(str::to_owned);
        if let Err(rejection) = crate::mcp::check_message(message) {
            return jsonrpc_error(StatusCode::BAD_REQUEST, &rejection);
        }
    }
    // A header and `_meta` that name different revisions disagree (-32020, rmcp's answer),
    // whether or not either is one this server speaks.
    if let (Some(header), Some(meta)) = (header_version, meta_version.as_deref())
        && header != meta
    {
        let rejection = crate::jsonrpc::Rejection::new(
            id,
            crate::jsonrpc::HEADER_MISMATCH,
            format!(
                "MCP-Protocol-Version header ({header}) does not match request _meta \
                 protocolVersion ({meta})"
            ),
        );
        return jsonrpc_error(StatusCode::BAD_REQUEST, &rejection);
    }
    for requested in header_version.into_iter().chain(meta_version.as_deref()) {
        if !shared.versions.iter().any(|k| k == requested) {
            let rejection = crate::jsonrpc::unsupported_version(id, requested, &shared.versions);
            return jsonrpc_error(StatusCode::BAD_REQUEST, &rejection);
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A revision without `initialize` (2026-07-28 and later; revisions are dates).
fn is_stateless_revision(version: &str) -> bool {
    version.len() == 10 && version >= "2026-07-28"
}

/// Whether a JSON-RPC body is a call of `method` (read without building the whole value).
fn names_method(body: &[u8], method: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Method>(body).is_ok_and(|m| m.method.as_deref() == Some(method))
}

/// The last line for HTTP: a response body holding any part of a key in use is scrubbed
/// (`secrets.rs`). Our responses are small and already complete, so reading them costs little.
async fn last_line(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let bytes = match http_body_util::BodyExt::collect(body).await {
        Ok(c) => c.to_bytes(),
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "response failed\n"),
    };
    let text = String::from_utf8_lossy(&bytes);
    match crate::secrets::scrub_json_text(&text) {
        std::borrow::Cow::Borrowed(_) => Response::from_parts(parts, Body::from(bytes)),
        std::borrow::Cow::Owned(clean) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(clean))
        }
    }
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
    fn hosts_are_parsed_as_authorities() {
        assert_eq!(authority_host("localhost:8787"), Some("localhost"));
        assert_eq!(authority_host("127.0.0.1"), Some("127.0.0.1"));
        assert_eq!(authority_host("[::1]:8787"), Some("::1"));
        assert_eq!(authority_host("[::1]"), Some("::1"));
        assert_eq!(authority_host("evil.example"), Some("evil.example"));
        for bad in [
            "[::1]evil.example",
            "[::1].evil.example",
            "[localhost]",
            "[::1]:",
            "localhost:",
            "localhost:99999",
            "localhost:80:80",
            "::1",
            "local host",
            "user@localhost",
            "",
            "localhost/x",
        ] {
            assert_eq!(authority_host(bad), None, "{bad:?}");
        }
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
