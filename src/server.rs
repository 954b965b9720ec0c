//! The MCP server. The only module that imports rmcp, so an SDK upgrade touches this file alone.

use crate::generated::Client;
use crate::tools::{Selection, ToolDef};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;

/// Longest JSON-RPC line accepted on stdin; longer lines are dropped and the server keeps serving.
pub const MAX_STDIO_LINE: usize = 1 << 20;

const INSTRUCTIONS: &str = "LeadMagic B2B data: find and validate work emails, mobiles, profiles, \
companies, jobs and ads. Most tools spend credits (each description states the cost; a repeated \
call is billed again), so prefer one precise call over several guesses. Results are personal data.";

#[derive(Clone)]
pub struct LeadMagicServer {
    client: Arc<Client>,
    /// Tools exposed, in table order, with their MCP form built once.
    tools: Arc<Vec<(&'static ToolDef, Tool)>>,
    listed: Arc<Vec<Tool>>,
    /// Bring-your-own-key mode: every call must carry the caller's key.
    caller_keys: bool,
}

fn schema_object(text: &'static str) -> Arc<JsonObject> {
    Arc::new(serde_json::from_str(text).expect("generated schemas are JSON objects"))
}

/// How much of each tool definition `tools/list` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Title, full description (with the cost), input and output schemas, all four annotations.
    #[default]
    Full,
    /// For small-context clients: short description (with the "give one of" rule and the cost),
    /// input schema without descriptions or bounds, annotations that differ from the defaults.
    Compact,
}

/// The MCP form of one tool definition.
pub fn mcp_tool(t: &'static ToolDef, profile: Profile) -> Tool {
    let a = t.annotations;
    if profile == Profile::Compact {
        let input: JsonObject = match crate::tools::compact_schema(crate::validate::input_schema(t))
        {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        };
        // Omitted hints mean the spec defaults: not read-only, destructive, not idempotent, open world.
        let hints = ToolAnnotations::from_raw(
            None,
            a.read_only.then_some(true),
            (!a.destructive).then_some(false),
            a.idempotent.then_some(true),
            (!a.open_world).then_some(false),
        );
        return Tool::new(t.name, t.compact_description, Arc::new(input)).with_annotations(hints);
    }
    // The cost is stated in the description, where every client shows it to the model.
    Tool::new(t.name, t.description, schema_object(t.input_schema))
        .with_title(t.title)
        .with_raw_output_schema(schema_object(t.output_schema))
        .with_annotations(
            ToolAnnotations::new()
                .read_only(a.read_only)
                .destructive(a.destructive)
                .idempotent(a.idempotent)
                .open_world(a.open_world),
        )
}

impl LeadMagicServer {
    pub fn new(client: Client, selection: &Selection, profile: Profile) -> Self {
        let tools: Vec<(&'static ToolDef, Tool)> = selection
            .tools()
            .map(|t| (t, mcp_tool(t, profile)))
            .collect();
        let listed = tools.iter().map(|(_, t)| t.clone()).collect();
        LeadMagicServer {
            client: Arc::new(client),
            tools: Arc::new(tools),
            listed: Arc::new(listed),
            caller_keys: false,
        }
    }

    /// Require each call to bring its caller's own LeadMagic key (HTTP `--per-request-key`).
    pub fn with_caller_keys(mut self) -> Self {
        self.caller_keys = true;
        self
    }

    /// The MCP endpoint at `/mcp`: streamable HTTP, stateless (any replica can answer any
    /// request), plain JSON responses. Host, Origin and auth are checked by `http.rs` in front.
    pub fn http_router(self, max_body_bytes: usize) -> axum::Router {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_max_request_body_bytes(max_body_bytes);
        let service = StreamableHttpService::new(
            move || Ok(self.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        axum::Router::new().nest_service("/mcp", service)
    }

    /// Serve MCP on stdin/stdout until stdin closes.
    pub async fn serve_stdio(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // On Linux, when the client gave us pipes, read and write them on the IO reactor instead
        // of tokio's blocking pool: no thread hand-off per message (elsewhere: plain stdio).
        let (stdin, stdout) = rmcp::transport::stdio_pipes();
        let transport =
            AsyncRwTransport::new_server(stdin, stdout).with_max_line_length(MAX_STDIO_LINE);
        let running = match self.serve(transport).await {
            Ok(running) => running,
            // The client went away before initializing (e.g. a probe): a normal end, not an error.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let reason = running.waiting().await?;
        tracing::debug!(?reason, "stdio session ended");
        Ok(())
    }
}

impl ServerHandler for LeadMagicServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("leadmagic-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("LeadMagic"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.listed.as_ref().clone(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools
            .iter()
            .find(|(d, _)| d.name == name)
            .map(|(_, t)| t.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some((def, _)) = self
            .tools
            .iter()
            .find(|(d, _)| d.name == request.name.as_ref())
        else {
            // An unknown tool is a protocol error (the model cannot fix it by changing arguments).
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                Some(json!({ "tool": request.name })),
            ));
        };
        let args = request.arguments.unwrap_or_default();
        let caller_key = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<crate::http::CallerKey>())
            .map(|k| k.0.clone());
        let outcome = match caller_key {
            Some(key) => {
                crate::runtime::with_key(key, crate::call::call(&self.client, def, args)).await
            }
            None if self.caller_keys => crate::call::missing_caller_key(),
            None => crate::call::call(&self.client, def, args).await,
        };
        let result = if outcome.is_error {
            CallToolResult::structured_error(outcome.structured)
        } else {
            CallToolResult::structured(outcome.structured)
        };
        Ok(result.into())
    }
}

/// Protocol revisions this server speaks (for the HTTP `MCP-Protocol-Version` check).
pub fn protocol_versions() -> Vec<String> {
    rmcp::model::ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .map(|v| v.as_str().to_string())
        .collect()
}

/// `tools/list` as JSON, for the CLI and tests (same objects the server sends).
pub fn tools_json(selection: &Selection, profile: Profile) -> Value {
    let tools: Vec<Tool> = selection.tools().map(|t| mcp_tool(t, profile)).collect();
    json!({ "tools": tools })
}
