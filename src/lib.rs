//! leadmagic-mcp: a typed Rust client for the LeadMagic API and an MCP server exposing one tool
//! per API operation. Both are generated from the OpenAPI document in `openapi/` by `build.rs`.
//!
//! Library use (no MCP server): depend with `default-features = false` and use [`connect`] or
//! [`Client`] with [`Config`].
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout)]

pub mod call;
mod catalog;
pub mod config;
pub mod errors;
#[cfg(feature = "server")]
pub mod http;
pub mod jsonrpc;
pub mod limits;
pub mod redact;
pub mod retry;
pub mod runtime;
pub mod secrets;
#[cfg(feature = "server")]
pub mod server;
pub mod tools;
pub mod validate;

/// The generated typed client (progenitor). Reviewable copy: `generated/client.rs`.
#[allow(clippy::all, missing_docs, unreachable_pub, unused)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use config::{ApiKey, Config, ConfigError};
pub use generated::{Client, ResponseValue, types};
pub use progenitor_client::Error;

/// Build a typed client from a configuration: auth header, timeouts, user agent, no redirects.
pub fn connect(config: &Config) -> Result<Client, ConfigError> {
    runtime::client(config)
}
