//! The MCP server and what runs it: the tool catalog, one call of a tool, stdio and streamable
//! HTTP. Only re-exports: the server itself lives in `mcp.rs` (the one rmcp importer), its HTTP
//! transport in `http.rs`.

pub use crate::call::{Outcome, call as call_tool};
pub use crate::confirm::{
    DEFAULT_ABOVE as DEFAULT_CONFIRM_ABOVE, DEFAULT_TTL as DEFAULT_CONFIRM_TTL,
    Policy as ConfirmPolicy, Tokens as ConfirmTokens,
};

/// The secret confirmation tokens are made under (environment or `.env` only).
pub const CONFIRM_SECRET_VAR: &str = "LEADMAGIC_CONFIRM_SECRET";
/// How long a confirmation token stays valid, in seconds (default 300).
pub const CONFIRM_TTL_VAR: &str = "LEADMAGIC_CONFIRM_TTL_SECS";
pub use crate::http::{
    ADDR_VAR, DEFAULT_ADDR, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    HttpOptions, KEY_HEADER, TOKEN_VAR, serve as serve_http,
};
pub use crate::mcp::{LeadMagicServer, Profile, tools_json};
pub use crate::secrets::{scrub, scrub_json_text};
pub use crate::tools::{
    Annotations, Credits, Output, Selection, TOOLS, TOOLSETS, ToolDef, ToolsetDef,
    find as find_tool,
};
