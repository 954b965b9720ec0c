//! The handwritten seam under the generated client: auth header, transport rules, bounded
//! response reads, the raw-response capture used by tools, and the sandbox.
//!
//! progenitor calls `pre` and `exec` (its `ClientHooks`) around every request; everything that
//! must hold for every call lives here.

use crate::config::{Config, ConfigError};
use crate::generated::Client;
use bytes::{Bytes, BytesMut};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue};
use std::sync::{Arc, Mutex};

pub const USER_AGENT: &str = concat!("leadmagic-mcp/", env!("CARGO_PKG_VERSION"));
pub const SANDBOX_HEADER: &str = "x-leadmagic-sandbox";

/// State shared by every request of one client (progenitor's "inner" value).
#[derive(Clone, Debug)]
pub struct Runtime {
    sandbox: bool,
    max_body_bytes: usize,
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
    pub sandbox: bool,
}

tokio::task_local! {
    static CAPTURE: Arc<Mutex<Option<Captured>>>;
}

/// Run `f` (a generated client call) and return the raw response it received, if any.
pub async fn capture<F: Future>(f: F) -> (F::Output, Option<Captured>) {
    let slot = Arc::new(Mutex::new(None));
    let out = CAPTURE.scope(slot.clone(), f).await;
    let captured = slot.lock().map(|mut s| s.take()).unwrap_or(None);
    (out, captured)
}

fn store(c: Captured) {
    let _ = CAPTURE.try_with(|slot| {
        if let Ok(mut s) = slot.lock() {
            *s = Some(c);
        }
    });
}

/// Build the typed client: the key travels in a sensitive `X-API-Key` default header, redirects
/// are never followed (they would carry the key to another host), timeouts are set.
pub fn client(config: &Config) -> Result<Client, ConfigError> {
    // rustls needs a process-wide crypto provider; ring keeps the build free of C toolchains.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HeaderMap::new();
    if let Some(key) = &config.api_key {
        let mut value = HeaderValue::from_str(key.expose()).map_err(|_| ConfigError::InvalidKey)?;
        value.set_sensitive(true);
        headers.insert("x-api-key", value);
    } else if !config.sandbox {
        return Err(ConfigError::MissingKey);
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .build()
        .map_err(|e| ConfigError::Client(e.without_url().to_string()))?;
    let runtime = Runtime {
        sandbox: config.sandbox,
        max_body_bytes: config.max_body_bytes,
    };
    Ok(Client::new_with_client(&config.base_url, http, runtime))
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

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let runtime = self.inner();
        if runtime.sandbox {
            return Ok(sandbox_response(&request, info));
        }
        let response = self.client().execute(request).await?;
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        let (body, truncated) = read_bounded(response, runtime.max_body_bytes).await?;
        store(Captured {
            status: status.as_u16(),
            headers: headers.clone(),
            body: body.clone(),
            truncated,
            sandbox: false,
        });
        Ok(rebuild(status, version, headers, body))
    }
}

/// Read at most `cap` bytes of the body; the rest is not buffered.
async fn read_bounded(
    mut response: reqwest::Response,
    cap: usize,
) -> reqwest::Result<(Bytes, bool)> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), false))
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
fn sandbox_response(request: &reqwest::Request, info: &OperationInfo) -> reqwest::Response {
    let tool = crate::tools::TOOLS
        .iter()
        .find(|t| t.client_method == info.operation_id);
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
    let _ = request; // the request was built and validated exactly as a real one would be
    let body = Bytes::from_static(body.as_bytes());
    store(Captured {
        status,
        headers: headers.clone(),
        body: body.clone(),
        truncated: false,
        sandbox: true,
    });
    rebuild(
        reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::OK),
        reqwest::Version::HTTP_11,
        headers,
        body,
    )
}
