//! The MCP server and what runs it: the tool catalog, one call of a tool, stdio and streamable
//! HTTP. Only re-exports: the server itself lives in `mcp.rs` (the one rmcp importer), its HTTP
//! transport in `http.rs`.

pub use crate::call::{Outcome, call as call_tool};
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
