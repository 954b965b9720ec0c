//! The MCP server. The only module that imports rmcp, so an SDK upgrade touches this file alone.

use crate::confirm::{Policy, TOKEN_ARGUMENT, Tokens};
use crate::errors::{Kind, ToolError};
use crate::generated::Client;
use crate::tools::{Selection, ToolDef};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, DiscoverResult,
    ElicitRequest, ElicitRequestParams, ElicitationAction, ElicitationSchema,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, InputRequest,
    InputRequiredResult, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    Prompt, PromptArgument, PromptMessage, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::service::RequestContext;
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest JSON-RPC message accepted on stdin, in bytes, the newline not counted. A longer line
/// is not read: it is answered with an invalid-request error (with its id when the start of the
/// line names one) and the server keeps serving.
pub const MAX_STDIO_LINE: usize = 1 << 20;

const INSTRUCTIONS: &str = "LeadMagic B2B data: find and validate work emails, mobiles, profiles, \
companies, jobs and ads. Most tools spend credits (each description states the cost; a repeated \
call is billed again), so prefer one precise call over several guesses; preview_cost prices \
large work first. Results are personal data.";

/// The server's instructions: what it is for, which toolsets are on, and how to turn on more.
fn instructions(selection: &Selection) -> String {
    let on = selection.enabled_toolsets();
    let off: Vec<&str> = crate::tools::TOOLSETS
        .iter()
        .map(|t| t.name)
        .filter(|n| !on.contains(n))
        .collect();
    let mut text = format!("{INSTRUCTIONS} Toolsets enabled: {}.", on.join(", "));
    if !off.is_empty() {
        text.push_str(&format!(
            " Not enabled: {}; the operator enables them with --toolsets (e.g. --toolsets default,{}) \
             or LEADMAGIC_TOOLSETS.",
            off.join(", "),
            off[0]
        ));
    }
    text
}

/// Headers by which an HTTP caller narrows the operator's tool selection for its own requests
/// (never widens it): the same lists as `--toolsets`, `--tools`, `--exclude-tools`, `--read-only`.
pub const NARROWING_HEADERS: [&str; 4] = [
    "x-mcp-toolsets",
    "x-mcp-tools",
    "x-mcp-exclude-tools",
    "x-mcp-readonly",
];

/// A comma-separated header value's items, trimmed, without empty ones.
fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A caller's narrowing of the selection, from its request headers (`None` without any).
fn caller_selection(context: &RequestContext<RoleServer>) -> Option<Selection> {
    let parts = context.extensions.get::<http::request::Parts>()?;
    let list = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(split_list)
            .unwrap_or_default()
    };
    if !NARROWING_HEADERS
        .iter()
        .any(|h| parts.headers.contains_key(*h))
    {
        return None;
    }
    Some(Selection {
        toolsets: list("x-mcp-toolsets"),
        tools: list("x-mcp-tools"),
        exclude_tools: list("x-mcp-exclude-tools"),
        read_only: parts
            .headers
            .get("x-mcp-readonly")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            }),
    })
}

/// A caller's own LeadMagic key (bring-your-own-key mode), attached to its HTTP request by the
/// transport for the call that request makes.
#[derive(Clone)]
pub struct CallerKey(pub crate::config::ApiKey);

#[derive(Clone)]
pub struct LeadMagicServer {
    client: Arc<Client>,
    /// Tools exposed, in table order, with their MCP form built once.
    tools: Arc<Vec<(&'static ToolDef, Tool)>>,
    listed: Arc<Vec<Tool>>,
    /// Name and alias -> place in `tools`: one lookup per call.
    by_name: Arc<std::collections::HashMap<&'static str, usize>>,
    selection: Arc<Selection>,
    profile: Profile,
    instructions: Arc<str>,
    /// Bring-your-own-key mode: every call must carry the caller's key.
    caller_keys: bool,
    /// Which calls need the user's go-ahead, and the tokens that carry it.
    policy: Policy,
    tokens: Arc<Tokens>,
}

/// How long a client may keep a list or a document: they change only with the configuration
/// (a new binary or new flags), so an hour.
const CACHE_TTL_MS: u64 = 3_600_000;

/// The key of the answer in an elicitation (form) and in a 2026-07-28 `inputResponses`.
const CONFIRM_FIELD: &str = "confirm";

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

/// A tool that may ask for confirmation takes the token back as an argument.
fn with_token_argument(mut tool: Tool, profile: Profile) -> Tool {
    let mut schema = tool.input_schema.as_ref().clone();
    let mut argument = json!({"type": "string"});
    if profile == Profile::Full {
        argument["description"] = json!("From confirmation_required, once the user agreed.");
    }
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert(TOKEN_ARGUMENT.into(), argument);
    }
    tool.input_schema = Arc::new(schema);
    tool
}

impl LeadMagicServer {
    pub fn new(client: Client, selection: &Selection, profile: Profile) -> Self {
        let mut server = LeadMagicServer {
            client: Arc::new(client),
            tools: Arc::default(),
            listed: Arc::default(),
            by_name: Arc::default(),
            selection: Arc::new(selection.clone()),
            profile,
            instructions: instructions(selection).into(),
            caller_keys: false,
            policy: Policy::default(),
            tokens: Arc::new(Tokens::new(None, crate::confirm::DEFAULT_TTL)),
        };
        server.list_tools_once();
        server
    }

    /// Build the MCP form of every exposed tool once (they depend on the confirmation policy).
    fn list_tools_once(&mut self) {
        let tools: Vec<(&'static ToolDef, Tool)> = self
            .selection
            .tools()
            .map(|t| (t, listed_tool(t, self.profile, &self.policy)))
            .collect();
        self.listed = Arc::new(tools.iter().map(|(_, t)| t.clone()).collect());
        self.by_name = Arc::new(
            tools
                .iter()
                .enumerate()
                .flat_map(|(i, (d, _))| {
                    std::iter::once(d.name)
                        .chain(d.aliases.iter().copied())
                        .map(move |n| (n, i))
                })
                .collect(),
        );
        self.tools = Arc::new(tools);
    }

    /// Ask before big spends as `policy` says, with tokens under `tokens`' secret.
    pub fn with_confirmation(mut self, policy: Policy, tokens: Tokens) -> Self {
        self.tokens = Arc::new(tokens);
        // The listing depends on the policy: built again only when it is not the one `new` used.
        if policy != self.policy {
            self.policy = policy;
            self.list_tools_once();
        }
        self
    }

    /// The exposed tool answering to `name` (its name or an alias).
    fn exposed(&self, name: &str) -> Option<&(&'static ToolDef, Tool)> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    /// Require each call to bring its caller's own LeadMagic key (HTTP `--per-request-key`).
    pub fn with_caller_keys(mut self) -> Self {
        self.caller_keys = true;
        self
    }

    /// The MCP endpoint at `/mcp`: streamable HTTP, stateless (any replica can answer any
    /// request), plain JSON responses. rmcp checks the Host and Origin allow-lists; `http.rs`
    /// in front checks what rmcp misses (see `well_formed_host_and_origin`), auth, and the body.
    pub(crate) fn http_router(
        self,
        allowed_hosts: &[String],
        allowed_origins: &[String],
        max_body_bytes: usize,
    ) -> axum::Router {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(allowed_hosts.to_vec())
            .with_allowed_origins(allowed_origins.to_vec())
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
        self.serve_lines(stdin, stdout).await
    }

    /// Serve MCP over any pair of byte streams, one JSON-RPC message per line.
    pub(crate) async fn serve_lines<R, W>(
        self,
        read: R,
        write: W,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let transport = LineTransport::new(read, write);
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
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("leadmagic-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("LeadMagic"),
            )
            .with_instructions(self.instructions.as_ref())
    }

    /// 2026-07-28 discovery: what `initialize` used to say, with a caching hint (it depends on
    /// the configuration only, as the lists do).
    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        Ok(
            DiscoverResult::from_server_info(protocol_version_list(), self.get_info())
                .with_ttl_ms(CACHE_TTL_MS)
                .with_cache_scope(scope_of(&context)),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = match caller_selection(&context) {
            None => self.listed.as_ref().clone(),
            Some(mine) => {
                let narrowed = self.selection.narrowed_by(&mine);
                self.tools
                    .iter()
                    .filter(|(d, _)| narrowed.includes(d))
                    .map(|(_, t)| t.clone())
                    .collect()
            }
        };
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(scope_of(&context)))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = crate::tools::PROMPTS
            .iter()
            .map(|p| {
                let arguments = p
                    .arguments
                    .iter()
                    .map(|a| {
                        PromptArgument::new(a.name)
                            .with_description(a.description)
                            .with_required(a.required)
                    })
                    .collect();
                Prompt::new(p.name, Some(p.description), Some(arguments)).with_title(p.title)
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts)
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(scope_of(&context)))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let Some(p) = crate::tools::PROMPTS
            .iter()
            .find(|p| p.name == request.name)
        else {
            return Err(ErrorData::invalid_params(
                format!("unknown prompt: {}", request.name),
                None,
            ));
        };
        let given = request.arguments.unwrap_or_default();
        let mut text = p.text.to_string();
        for a in p.arguments {
            let value = given.get(a.name).and_then(Value::as_str).map(str::trim);
            let value = match value {
                Some(v) if !v.is_empty() => v,
                _ if a.required => {
                    return Err(ErrorData::invalid_params(
                        format!("prompt {} needs the argument {}", p.name, a.name),
                        None,
                    ));
                }
                _ => "not given",
            };
            // Arguments are the user's words: kept to one line, never able to add a step.
            let value: String = value
                .chars()
                .filter(|c| !c.is_control())
                .take(500)
                .collect();
            text = text.replace(&format!("{{{}}}", a.name), &value);
        }
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(p.description)
                .into(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let docs = Resource::new(crate::docs::DOCS_URI, "docs")
            .with_title("LeadMagic tools: toolsets, costs, credits, paging, errors")
            .with_mime_type("text/markdown");
        Ok(ListResourcesResult::with_all_items(vec![docs])
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(scope_of(&context)))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new(crate::docs::TOOL_URI_TEMPLATE, "tool")
            .with_title("One tool in depth: arguments, rules, cost, hints")
            .with_mime_type("text/markdown");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template])
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(scope_of(&context)))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let text = if uri == crate::docs::DOCS_URI {
            let visible: Vec<&ToolDef> = self
                .tools
                .iter()
                .map(|(d, _)| *d)
                .filter(|d| self.visible_to(d, &context))
                .collect();
            crate::docs::overview(&visible)
        } else if let Some(def) = uri
            .strip_prefix(crate::docs::TOOL_URI_PREFIX)
            .and_then(|name| self.exposed(name))
            .map(|(d, _)| *d)
            .filter(|d| self.visible_to(d, &context))
        {
            crate::docs::tool(def)
        } else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {uri}; read {} or {}",
                    crate::docs::DOCS_URI,
                    crate::docs::TOOL_URI_TEMPLATE
                ),
                Some(json!({ "uri": uri })),
            ));
        };
        let contents = ResourceContents::TextResourceContents {
            uri: uri.to_string(),
            mime_type: Some("text/markdown".into()),
            text,
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents])
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(scope_of(&context))
            .into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.exposed(name).map(|(_, t)| t.clone())
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(&(def, _)) = self
            .exposed(request.name.as_ref())
            .filter(|(d, _)| self.visible_to(d, &context))
        else {
            // An unknown tool is a protocol error (the model cannot fix it by changing arguments).
            // rmcp's warning for it is capped (main.rs); this is the one log line, at debug.
            tracing::debug!("tools/call for a tool this server does not list");
            let message = if crate::tools::find(&request.name).is_some() {
                format!("tool {} is not enabled on this server", request.name)
            } else {
                format!("unknown tool: {}", request.name)
            };
            return Err(ErrorData::invalid_params(
                message,
                Some(json!({ "tool": request.name })),
            ));
        };
        let mut args = request.arguments.take().unwrap_or_default();
        let token = args.remove(TOKEN_ARGUMENT);
        let caller_key = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<CallerKey>())
            .map(|k| k.0.clone());
        if caller_key.is_none() && self.caller_keys {
            return Ok(outcome_result(crate::call::missing_caller_key()).into());
        }
        let caller = crate::call::Caller {
            key: caller_key,
            cancel: Some(context.ct.clone()),
            progress: progress_reporter(&context),
        };
        // The go-ahead for a big spend, asked before anything is sent. Only tools that may ask
        // pay for this look (the call validates again); bad arguments are refused by the call
        // itself (they cost nothing and need no confirmation), and so is a call the budget
        // refuses, before anyone is asked about it.
        if self.policy.may_need(def) && crate::call::check(def, &args).is_ok() {
            let worst = crate::call::worst_case(def, &args);
            if self.policy.needs(def, worst) {
                if let Some(refused) =
                    crate::call::budget_refusal(&self.client, def, worst, &caller)
                {
                    return Ok(outcome_result(refused).into());
                }
                let key = caller.key.as_ref();
                match self
                    .confirmation(def, &args, worst, key, token, &request, &context)
                    .await
                {
                    Confirmation::Given => {}
                    Confirmation::Refused(outcome) => return Ok(outcome_result(outcome).into()),
                    Confirmation::Ask(input) => return Ok(input.into()),
                }
            }
        }
        let outcome = crate::call::call_with(&self.client, def, args, &caller).await;
        Ok(outcome_result(outcome).into())
    }
}

fn outcome_result(outcome: crate::call::Outcome) -> CallToolResult {
    if outcome.is_error {
        CallToolResult::structured_error(outcome.structured)
    } else {
        CallToolResult::structured(outcome.structured)
    }
}

/// Lists and documents depend on the caller when it narrows the selection or brings its own
/// key; otherwise only on the configuration.
fn scope_of(context: &RequestContext<RoleServer>) -> CacheScope {
    let parts = context.extensions.get::<http::request::Parts>();
    let per_caller = parts.is_some_and(|p| {
        p.extensions.get::<CallerKey>().is_some()
            || NARROWING_HEADERS.iter().any(|h| p.headers.contains_key(*h))
    });
    if per_caller {
        CacheScope::Private
    } else {
        CacheScope::Public
    }
}

/// Progress notifications for a call whose request carries a `progressToken` (stdio: the
/// stateless HTTP transport answers with one JSON body and has no stream to send them on).
fn progress_reporter(context: &RequestContext<RoleServer>) -> Option<crate::call::Progress> {
    if context.extensions.get::<http::request::Parts>().is_some() {
        return None;
    }
    let token = context.meta.get_progress_token()?;
    let peer = context.peer.clone();
    Some(Arc::new(move |done: u32, total: u32, message: &str| {
        let mut param = ProgressNotificationParam::new(token.clone(), f64::from(done))
            .with_message(message.to_string());
        if total > 0 {
            param = param.with_total(f64::from(total));
        }
        let peer = peer.clone();
        tokio::spawn(async move {
            let _ = peer.notify_progress(param).await;
        });
    }))
}

/// What the confirmation step decided.
enum Confirmation {
    Given,
    Refused(crate::call::Outcome),
    /// 2026-07-28: ask the client to put the question to the user, then call again.
    Ask(InputRequiredResult),
}

fn not_confirmed(message: &str) -> crate::call::Outcome {
    crate::call::Outcome::error(ToolError::new(
        Kind::NotConfirmed,
        format!("Not run: {message}; nothing was sent to LeadMagic and nothing was counted."),
        "Call again without confirmation_token to get a new one, and ask the user first.",
    ))
}

/// What the call may cost and why it asks, e.g. "may cost up to 100 credits".
fn stakes(def: &ToolDef, worst: f64) -> String {
    let cost = if worst.is_finite() {
        format!("may cost up to {} credits", crate::call::round(worst))
    } else {
        "has a cost LeadMagic does not state".into()
    };
    let why = if def.confirm {
        " (a bulk submission)"
    } else if def.annotations.destructive {
        " (it deletes or overwrites data)"
    } else {
        ""
    };
    format!("{cost}{why}")
}

/// The question put to the user.
fn question(def: &ToolDef, worst: f64) -> String {
    format!("LeadMagic: run {}? It {}.", def.name, stakes(def, worst))
}

fn confirm_form(def: &ToolDef, worst: f64) -> ElicitRequestParams {
    let schema = ElicitationSchema::builder()
        .required_bool(CONFIRM_FIELD)
        .description("Check to run the call and spend the credits.")
        .build_unchecked();
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question(def, worst),
        requested_schema: schema,
    }
}

/// An elicitation answer that says yes: accepted, with `confirm: true`.
fn accepted(action: &ElicitationAction, content: Option<&Value>) -> bool {
    *action == ElicitationAction::Accept
        && content.and_then(|c| c.get(CONFIRM_FIELD)) == Some(&Value::Bool(true))
}

impl LeadMagicServer {
    /// Whether the caller's header narrowing leaves this tool visible.
    fn visible_to(&self, d: &ToolDef, context: &RequestContext<RoleServer>) -> bool {
        caller_selection(context).is_none_or(|mine| self.selection.narrowed_by(&mine).includes(d))
    }

    /// Get the go-ahead for a call that needs it: a token from an earlier call, the answer to a
    /// 2026-07-28 input request, an elicitation on a stdio session, or else a token to bring back.
    #[allow(clippy::too_many_arguments)]
    async fn confirmation(
        &self,
        def: &'static ToolDef,
        args: &serde_json::Map<String, Value>,
        worst: f64,
        key: Option<&crate::config::ApiKey>,
        token: Option<Value>,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Confirmation {
        if let Some(token) = token {
            let Some(token) = token.as_str() else {
                return Confirmation::Refused(not_confirmed("confirmation_token is not a string"));
            };
            return match self.tokens.redeem(token, def.name, args, key) {
                Ok(()) => Confirmation::Given,
                Err(refusal) => Confirmation::Refused(not_confirmed(refusal.message())),
            };
        }
        // The second round of a 2026-07-28 input request: the state is our token.
        if let Some(state) = &request.request_state {
            let answer = request
                .input_responses
                .as_ref()
                .and_then(|r| r.get(CONFIRM_FIELD))
                .and_then(|v| serde_json::from_value::<rmcp::model::ElicitResult>(v.clone()).ok());
            let Some(answer) = answer else {
                return Confirmation::Refused(not_confirmed("the confirmation answer is missing"));
            };
            if !accepted(&answer.action, answer.content.as_ref()) {
                return Confirmation::Refused(not_confirmed("the user declined"));
            }
            return match self.tokens.redeem(state, def.name, args, key) {
                Ok(()) => Confirmation::Given,
                Err(refusal) => Confirmation::Refused(not_confirmed(refusal.message())),
            };
        }
        let elicits = context.client_capabilities().is_some_and(|c| {
            c.elicitation
                .as_ref()
                .is_some_and(|e| e.form.is_some() || e.url.is_none())
        });
        let modern = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let over_http = context.extensions.get::<http::request::Parts>().is_some();
        if elicits && modern {
            let mut ask = std::collections::BTreeMap::new();
            ask.insert(
                CONFIRM_FIELD.to_string(),
                InputRequest::Elicitation(ElicitRequest::new(confirm_form(def, worst))),
            );
            let state = self.tokens.issue(def.name, args, key);
            return Confirmation::Ask(InputRequiredResult::new(Some(ask), Some(state)));
        }
        if elicits && !over_http {
            // A session (stdio) on 2025-06-18 / 2025-11-25: ask now, through the client.
            return match context
                .peer
                .create_elicitation(confirm_form(def, worst))
                .await
            {
                Ok(answer) if accepted(&answer.action, answer.content.as_ref()) => {
                    Confirmation::Given
                }
                Ok(_) => Confirmation::Refused(not_confirmed("the user declined")),
                Err(e) => {
                    tracing::debug!(error = %e, "elicitation failed; falling back to a token");
                    Confirmation::Refused(self.confirmation_required(def, args, worst, key))
                }
            };
        }
        Confirmation::Refused(self.confirmation_required(def, args, worst, key))
    }

    /// The first half of the two-step flow: nothing sent, a token for the second call.
    fn confirmation_required(
        &self,
        def: &'static ToolDef,
        args: &serde_json::Map<String, Value>,
        worst: f64,
        key: Option<&crate::config::ApiKey>,
    ) -> crate::call::Outcome {
        let mut e = ToolError::new(
            Kind::ConfirmationRequired,
            format!(
                "Not run yet: {} {}, so the user must agree first. Nothing was sent and nothing \
                 was counted.",
                def.name,
                stakes(def, worst)
            ),
            "Ask the user. If they agree, call this tool again with the same arguments plus \
             confirmation_token (valid once, for these arguments only, until it expires).",
        );
        tracing::info!(tool = def.name, "confirmation required: nothing sent");
        e.would_cost = worst.is_finite().then(|| crate::call::round(worst));
        e.confirmation_token = Some(self.tokens.issue(def.name, args, key));
        e.expires_in_s = Some(self.tokens.ttl().as_secs());
        crate::call::Outcome::error(e)
    }
}

fn protocol_version_list() -> Vec<ProtocolVersion> {
    ProtocolVersion::KNOWN_VERSIONS.to_vec()
}

/// Protocol revisions this server speaks (for the HTTP `MCP-Protocol-Version` check).
pub fn protocol_versions() -> Vec<String> {
    rmcp::model::ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .map(|v| v.as_str().to_string())
        .collect()
}

/// A tool as `tools/list` shows it under a confirmation policy: one that may ask takes the
/// token back as an argument.
fn listed_tool(t: &'static ToolDef, profile: Profile, policy: &Policy) -> Tool {
    let tool = mcp_tool(t, profile);
    if policy.may_need(t) {
        with_token_argument(tool, profile)
    } else {
        tool
    }
}

/// `tools/list` as JSON, for the CLI and tests: the objects a server with the default
/// confirmation policy sends.
pub fn tools_json(selection: &Selection, profile: Profile) -> Value {
    let policy = Policy::default();
    let tools: Vec<Tool> = selection
        .tools()
        .map(|t| listed_tool(t, profile, &policy))
        .collect();
    json!({ "tools": tools })
}

/// Methods this server answers: a request for one of them that rmcp cannot read has bad params
/// (rmcp would otherwise take it for an unknown method).
const SERVED_METHODS: [&str; 5] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
];

/// Screen a message the way rmcp will read it: `Ok` with rmcp's form, or the answer to send.
/// `None` means: drop it silently (a notification or response rmcp cannot read).
fn parse_for_rmcp(
    message: crate::jsonrpc::Message,
) -> Result<ClientJsonRpcMessage, Option<crate::jsonrpc::Rejection>> {
    use crate::jsonrpc::{INVALID_PARAMS, Kind, Rejection};
    let id = message.id();
    let kind = message.kind;
    let method = message.method().unwrap_or("").to_string();
    let bad_params = || {
        Rejection::new(
            id.clone(),
            INVALID_PARAMS,
            format!("Invalid params for {method}: they do not match the MCP schema"),
        )
    };
    match serde_json::from_value::<ClientJsonRpcMessage>(message.value) {
        Ok(ClientJsonRpcMessage::Request(r))
            if matches!(r.request, ClientRequest::CustomRequest(_))
                && SERVED_METHODS.contains(&method.as_str()) =>
        {
            Err(Some(bad_params()))
        }
        Ok(m) => Ok(m),
        Err(_) if kind == Kind::Request => Err(Some(bad_params())),
        Err(_) => Err(None),
    }
}

/// Check a message the HTTP transport received before rmcp reads it (see `parse_for_rmcp`).
pub fn check_message(message: crate::jsonrpc::Message) -> Result<(), crate::jsonrpc::Rejection> {
    match parse_for_rmcp(message) {
        Err(Some(rejection)) => Err(rejection),
        _ => Ok(()),
    }
}

/// One JSON-RPC message per line, on any byte streams (stdin/stdout for the stdio server):
/// - lines are bounded (`MAX_STDIO_LINE`) without buffering more than that;
/// - each line is screened (`jsonrpc.rs`) and a malformed one is answered here: parse error or
///   invalid request (`"id": null` when no id can be read), invalid params with its id;
/// - before the session starts, stray notifications and responses are dropped (rmcp would end
///   the session on them); requests go on, and rmcp answers them;
/// - every outgoing message passes the last-line filter (`secrets.rs`).
struct LineTransport<R, W> {
    read: BufReader<R>,
    line: Vec<u8>,
    /// Dropping the rest of a line that was too long, until its newline.
    discarding: bool,
    write: Arc<tokio::sync::Mutex<W>>,
    /// The session has started (an initialize, or a 2026-07-28 request, was answered).
    started: Arc<AtomicBool>,
    /// Ids of requests passed on before the session started; an answer to one starts it.
    opening: Arc<Mutex<HashSet<String>>>,
    /// Answers written from `receive`, run as tasks so a cancelled `receive` never cuts a line.
    replies: Vec<tokio::task::JoinHandle<()>>,
}

enum Line {
    Whole,
    TooLong,
    End,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    fn new(read: R, write: W) -> Self {
        LineTransport {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            discarding: false,
            write: Arc::new(tokio::sync::Mutex::new(write)),
            started: Arc::new(AtomicBool::new(false)),
            opening: Arc::new(Mutex::new(HashSet::new())),
            replies: Vec::new(),
        }
    }

    /// Read up to the next newline into `self.line`, never holding more than the limit (plus
    /// one buffer's worth). Cancel-safe: a partial line stays in `self.line`.
    async fn read_line(&mut self) -> std::io::Result<Line> {
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                return Ok(Line::End);
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            let ended = newline.is_some();
            if self.discarding {
                self.read.consume(take);
                if ended {
                    self.discarding = false;
                }
                continue;
            }
            self.line.extend_from_slice(&available[..take]);
            self.read.consume(take);
            let content = self.line.len() - usize::from(ended);
            let content = content - usize::from(ended && self.line.ends_with(b"\r\n"));
            if content > MAX_STDIO_LINE {
                self.discarding = !ended;
                return Ok(Line::TooLong);
            }
            if ended {
                return Ok(Line::Whole);
            }
        }
    }

    fn reply(&mut self, text: String) {
        self.replies.retain(|h| !h.is_finished());
        let write = self.write.clone();
        self.replies.push(tokio::spawn(async move {
            let _ = write_line(write, text).await;
        }));
    }
}

/// Write one message as one line, through the last-line filter, in one write.
async fn write_line<W: AsyncWrite + Unpin>(
    write: Arc<tokio::sync::Mutex<W>>,
    text: String,
) -> std::io::Result<()> {
    let mut framed = crate::secrets::scrub_json_text(&text).into_owned();
    framed.push('\n');
    let mut w = write.lock().await;
    w.write_all(framed.as_bytes()).await?;
    w.flush().await
}

fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if !self.started.load(Ordering::Relaxed) {
            let answered = match &item {
                ServerJsonRpcMessage::Response(r) => Some((id_key(&r.id), true)),
                ServerJsonRpcMessage::Error(e) => e.id.as_ref().map(|id| (id_key(id), false)),
                _ => None,
            };
            if let Some((id, success)) = answered {
                let mut opening = self.opening.lock().unwrap_or_else(|p| p.into_inner());
                if opening.remove(&id) && success {
                    self.started.store(true, Ordering::Relaxed);
                }
            }
        }
        let write = self.write.clone();
        async move { write_line(write, serde_json::to_string(&item)?).await }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        use crate::jsonrpc::{Kind, screen};
        loop {
            let line = match self.read_line().await {
                Ok(line) => line,
                Err(e) => {
                    tracing::debug!(error = %e, "stdin read failed");
                    Line::End
                }
            };
            match line {
                Line::End => {
                    // Answers already queued still go out before the session ends.
                    for h in self.replies.drain(..) {
                        let _ = h.await;
                    }
                    return None;
                }
                Line::TooLong => {
                    let rejection = crate::jsonrpc::oversized(
                        &self.line[..self.line.len().min(4096)],
                        MAX_STDIO_LINE,
                    );
                    self.line.clear();
                    tracing::warn!(
                        limit = MAX_STDIO_LINE,
                        "a message over the size limit was refused"
                    );
                    self.reply(rejection.to_json());
                    continue;
                }
                Line::Whole => {}
            }
            let text = std::mem::take(&mut self.line);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message = match screen(&text) {
                Ok(m) => m,
                Err(rejection) => {
                    tracing::debug!(code = rejection.code, "malformed message answered");
                    self.reply(rejection.to_json());
                    continue;
                }
            };
            let started = self.started.load(Ordering::Relaxed);
            match message.kind {
                Kind::Notification | Kind::Response if !started => {
                    tracing::debug!(
                        method = message.method(),
                        "message before the session started; ignored"
                    );
                    continue;
                }
                Kind::Request
                    if !started
                        && !matches!(message.method(), Some("ping" | "server/discover")) =>
                {
                    self.opening
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id_key(&message.id()));
                }
                _ => {}
            }
            match parse_for_rmcp(message) {
                Ok(m) => return Some(m),
                Err(Some(rejection)) => self.reply(rejection.to_json()),
                Err(None) => tracing::debug!("unreadable notification or response ignored"),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        for h in self.replies.drain(..) {
            let _ = h.await;
        }
        self.write.lock().await.flush().await
    }
}
