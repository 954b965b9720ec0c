//! leadmagic-mcp: a typed Rust client for the LeadMagic API and an MCP server exposing one tool
//! per API operation. Both are generated from the OpenAPI document in `openapi/` by `build.rs`.
//!
//! Library use (no MCP server): depend with `default-features = false` and use [`connect`] or
//! [`Client`] with [`Config`].
#![forbid(unsafe_code)]
#![cfg_attr(not(feature = "server"), allow(dead_code))]
#![deny(clippy::print_stdout)]

// The tool machinery (calls from JSON arguments, their validation and errors) is compiled in
// both builds; without the server feature nothing public reaches it, hence the allow. The
// default build is where dead code is found.
mod call;
mod catalog;
mod composite;
mod config;
#[cfg(feature = "server")]
mod confirm;
#[cfg(feature = "server")]
mod docs;
mod errors;
#[cfg(feature = "server")]
mod http;
mod jsonrpc;
mod limits;
#[cfg(feature = "server")]
mod mcp;
mod redact;
mod retry;
mod runtime;
mod secrets;
#[cfg(feature = "server")]
pub mod server;
mod tools;
mod validate;

/// The generated typed client (progenitor). Reviewable copy: `generated/client.rs`.
#[allow(clippy::all, missing_docs, unreachable_pub, unused)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use config::{ApiKey, Config, ConfigError};
pub use generated::{ByteStream, Client, ResponseValue, types};
pub use progenitor_client::Error;
pub use retry::Policy as RetryPolicy;
pub use runtime::Runtime;

/// Build a typed client from a configuration: auth header, timeouts, user agent, no redirects.
pub fn connect(config: &Config) -> Result<Client, ConfigError> {
    runtime::client(config)
}
