//! `leadmagic-mcp`: the MCP server (stdio) and a small CLI around the same tool table.

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};
use leadmagic_mcp::Config;
use leadmagic_mcp::server::{self, HttpOptions, Selection};
use std::io::Write;
use std::process::ExitCode;

mod setup;

#[derive(Parser)]
#[command(
    name = "leadmagic-mcp",
    version,
    about = "MCP server and CLI for the LeadMagic B2B data API (one tool per API operation).",
    after_help = "The API key is read from LEADMAGIC_API_KEY (or a .env file), never from the command line.\n\
                  LEADMAGIC_BASE_URL overrides https://api.leadmagic.io (plain http only for loopback).\n\
                  Logs go to stderr; set LEADMAGIC_LOG (or RUST_LOG), e.g. LEADMAGIC_LOG=debug."
)]
struct Cli {
    /// Answer every call from the built-in sandbox (sample data; no key, no network, no credits).
    #[arg(long, global = true, env = "LEADMAGIC_SANDBOX", value_parser = BoolishValueParser::new())]
    sandbox: bool,
    /// Toolsets to expose (comma-separated or repeated): `default` (the prospecting set), `all`,
    /// or names (`leadmagic-mcp --toolsets all tools` lists them). Without it: the default set.
    #[arg(long, global = true, env = "LEADMAGIC_TOOLSETS", value_name = "LIST", value_delimiter = ',', value_parser = list_item)]
    toolsets: Vec<String>,
    /// Tools to expose by name, on top of the toolsets (alone: only these).
    #[arg(long, global = true, env = "LEADMAGIC_TOOLS", value_name = "LIST", value_delimiter = ',', value_parser = list_item)]
    tools: Vec<String>,
    /// Tools to leave out, whatever --toolsets and --tools say.
    #[arg(long, global = true, env = "LEADMAGIC_EXCLUDE_TOOLS", value_name = "LIST", value_delimiter = ',', value_parser = list_item)]
    exclude_tools: Vec<String>,
    /// Only expose tools hinted read-only.
    #[arg(long, global = true, env = "LEADMAGIC_READ_ONLY", value_parser = BoolishValueParser::new())]
    read_only: bool,
    /// Refuse any call whose worst-case cost would push this process's spend over N credits.
    #[arg(long, global = true, env = "LEADMAGIC_MAX_CREDITS", value_name = "N")]
    max_credits: Option<f64>,
    /// Ask the user before a call whose worst case is above N credits (bulk submissions and
    /// destructive tools always ask).
    #[arg(long, global = true, env = "LEADMAGIC_CONFIRM_ABOVE", value_name = "N", default_value_t = server::DEFAULT_CONFIRM_ABOVE)]
    confirm_above: f64,
    /// Never ask for confirmation.
    #[arg(long, global = true, env = "LEADMAGIC_NO_CONFIRM", value_parser = BoolishValueParser::new())]
    no_confirm: bool,
    /// Smaller tool definitions for small-context clients (short descriptions, no output schemas).
    #[arg(long, global = true, env = "LEADMAGIC_COMPACT", value_parser = BoolishValueParser::new())]
    compact: bool,
    /// Log request and response bodies at debug level, with emails, phones and URLs masked.
    #[arg(long, global = true, env = "LEADMAGIC_LOG_BODIES", value_parser = BoolishValueParser::new())]
    log_bodies: bool,
    /// `serve`'s settings also apply without a subcommand (serving is the default), so their
    /// environment variables are read either way.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (default 127.0.0.1:8787). A
    /// non-loopback address needs LEADMAGIC_MCP_TOKEN (callers send `Authorization: Bearer`).
    #[arg(long, env = server::ADDR_VAR, value_name = "ADDR", num_args = 0..=1, default_missing_value = server::DEFAULT_ADDR)]
    http: Option<std::net::SocketAddr>,
    /// Host names accepted in the Host header (comma-separated; default localhost,127.0.0.1,::1).
    #[arg(long, env = "LEADMAGIC_ALLOWED_HOSTS", value_name = "LIST", value_delimiter = ',', value_parser = list_item)]
    allowed_hosts: Vec<String>,
    /// Browser origins accepted (comma-separated; `scheme://host:*` for any port; default loopback).
    #[arg(long, env = "LEADMAGIC_ALLOWED_ORIGINS", value_name = "LIST", value_delimiter = ',', value_parser = list_item)]
    allowed_origins: Vec<String>,
    /// Each HTTP request brings its caller's own LeadMagic key in `x-leadmagic-key`; no server key
    /// is used.
    #[arg(long, env = "LEADMAGIC_PER_REQUEST_KEY", value_parser = BoolishValueParser::new())]
    per_request_key: bool,
    /// Most HTTP requests handled at once, counted once a request's whole body has arrived;
    /// others wait.
    #[arg(long, env = "LEADMAGIC_MAX_CONCURRENCY", default_value_t = 64)]
    max_concurrency: usize,
    /// Most HTTP connections open at once; further clients wait in the listen backlog.
    #[arg(long, env = "LEADMAGIC_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a connection may take to send a request head; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, env = "LEADMAGIC_HTTP_HEADER_TIMEOUT_SECS", value_name = "SECS", default_value_t = server::DEFAULT_HEADER_TIMEOUT.as_secs_f64())]
    header_timeout: f64,
    /// Seconds a request body may take to arrive (408 after that).
    #[arg(long, env = "LEADMAGIC_HTTP_BODY_TIMEOUT_SECS", value_name = "SECS", default_value_t = server::DEFAULT_BODY_TIMEOUT.as_secs_f64())]
    body_timeout: f64,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP on stdin/stdout (the default), or on streamable HTTP with --http.
    Serve(ServeArgs),
    /// List the tools with their cost.
    Tools {
        /// Print the MCP `tools/list` result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print this server's entry for an MCP client's configuration (its own format, this
    /// binary's absolute path, the settings given with it), or merge it into the client's file.
    Config {
        /// The client.
        #[arg(value_enum)]
        client: setup::Target,
        /// Merge the entry into the client's configuration file (a backup first, other servers
        /// kept).
        #[arg(long)]
        write: bool,
        /// Also write LEADMAGIC_API_KEY (from the environment or .env) into the file, in plain
        /// text. Without it no key is written.
        #[arg(long)]
        with_key: bool,
        /// The server's name in the client.
        #[arg(long, default_value = "leadmagic")]
        name: String,
    },
    /// Check a running `serve --http` (for a container's health check): exit 0 when its
    /// /healthz answers ok.
    Health {
        /// The health endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8787/healthz")]
        url: String,
    },
    /// Call one tool and print its result as JSON.
    Call {
        /// Tool name, as listed by `leadmagic-mcp tools`.
        tool: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
    },
}

fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let requested = std::env::var("LEADMAGIC_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".into());
    // `target=level` directives only (no span filters): `Targets` needs no regex engine, which
    // keeps regex-automata out of the release build. An unreadable setting falls back to warn.
    let filter: Targets = log_directives(&requested)
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::WARN));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(ScrubbedStderr)
                .with_ansi(false),
        )
        .with(filter)
        .init();
}

/// Log output: each event is formatted whole into a buffer, passes the last-line filter (no
/// part of a key in use survives, whatever the level or the crate that logged it), then goes to
/// stderr in one write.
struct ScrubbedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedEvent;
    fn make_writer(&'a self) -> ScrubbedEvent {
        ScrubbedEvent(Vec::with_capacity(256))
    }
}

struct ScrubbedEvent(Vec<u8>);

impl Write for ScrubbedEvent {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedEvent {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let clean = server::scrub(&text);
        let _ = std::io::stderr().lock().write_all(clean.as_bytes());
    }
}

/// rmcp logs every JSON-RPC error answer (an unknown tool, a bad request) as a warning: they are
/// the client's mistakes, answered to the client, so only rmcp's errors reach the log.
const RMCP_SERVICE_CAP: &str = "rmcp::service=error";

/// Crates whose debug output includes request details: never logged past info.
const CAPPED_CRATES: [&str; 8] = [
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "rmcp",
    "axum",
    "tower_http",
];

/// The filter directives for a `LEADMAGIC_LOG` setting: the caller's own, except those naming a
/// capped crate, which get the lower of the global level and info.
fn log_directives(requested: &str) -> String {
    let global = requested
        .split(',')
        .find(|d| !d.contains('='))
        .unwrap_or("warn")
        .trim();
    let cap = match global.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" => "info".to_string(),
        other => other.to_string(),
    };
    let names_capped = |directive: &str| {
        let target = directive.split('=').next().unwrap_or("").trim();
        CAPPED_CRATES.iter().any(|c| {
            target
                .strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    };
    requested
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .filter(|d| !(d.contains('=') && names_capped(d)))
        .map(str::to_string)
        .chain(CAPPED_CRATES.iter().map(|c| format!("{c}={cap}")))
        .chain(std::iter::once(RMCP_SERVICE_CAP.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// One item of a comma-separated list, spaces around it dropped (`a, b` is `a` and `b`).
fn list_item(item: &str) -> Result<String, std::convert::Infallible> {
    Ok(item.trim().to_string())
}

/// A list's items without the empty ones a trailing or doubled comma leaves.
fn named(items: &[String]) -> Vec<String> {
    items.iter().filter(|i| !i.is_empty()).cloned().collect()
}

/// The typed client from the environment plus the command-line settings.
fn connect(cli: &Cli, caller_keys: bool) -> Result<leadmagic_mcp::Client, String> {
    let mut config = Config::from_env(cli.sandbox, caller_keys).map_err(|e| e.to_string())?;
    if let Some(max) = cli.max_credits {
        if !(max.is_finite() && max >= 0.0) {
            return Err("--max-credits must be a number of credits, 0 or more".into());
        }
        config.max_credits = Some(max);
    }
    config.log_bodies = cli.log_bodies;
    leadmagic_mcp::connect(&config).map_err(|e| e.to_string())
}

fn profile(cli: &Cli) -> server::Profile {
    if cli.compact {
        server::Profile::Compact
    } else {
        server::Profile::Full
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let message = message.to_string();
    eprintln!("leadmagic-mcp: {}", server::scrub(&message));
    ExitCode::from(2)
}

fn print_stdout(text: &str) -> ExitCode {
    let text = server::scrub_json_text(text);
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Puts the `LEADMAGIC_*` settings of `./.env` into the environment before clap reads it, so
/// every setting (`LEADMAGIC_TOOLSETS`, `LEADMAGIC_MCP_TOKEN`, ...) can live there, not only
/// the key. A variable already set to something other than blanks wins. Unreadable lines are
/// reported later, by `Config::from_env`, once logging is up.
fn export_dotenv() {
    let Ok(entries) = dotenvy::from_path_iter(".env") else {
        return;
    };
    for (name, value) in entries.flatten() {
        let unset = std::env::var_os(&name).is_none_or(|v| v.to_string_lossy().trim().is_empty());
        if name.starts_with("LEADMAGIC_") && unset {
            // SAFETY: called first thing in `main`, before any other thread exists, so nothing
            // reads the environment while it changes.
            unsafe { std::env::set_var(&name, value) };
        }
    }
}

fn main() -> ExitCode {
    export_dotenv();
    let mut cli = Cli::parse();
    init_logging();
    let command = cli
        .command
        .take()
        .unwrap_or_else(|| Command::Serve(cli.serve.clone()));
    // stdio serves one client: one thread is enough and starts faster with less memory.
    let http = matches!(&command, Command::Serve(a) if a.http.is_some());
    let mut builder = if http {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(rt) => rt.block_on(run(cli, command)),
        Err(e) => fail(format!("cannot start the async runtime: {e}")),
    }
}

async fn run(cli: Cli, command: Command) -> ExitCode {
    let selection = Selection {
        toolsets: named(&cli.toolsets),
        tools: named(&cli.tools),
        exclude_tools: named(&cli.exclude_tools),
        read_only: cli.read_only,
    };
    if let Err(e) = selection.validate() {
        return fail(e);
    }
    match command {
        Command::Config {
            client,
            write,
            with_key,
            name,
        } => configure(&cli, client, write, with_key, name),
        Command::Health { url } => health(&url).await,
        Command::Tools { json } => {
            if json {
                let text =
                    serde_json::to_string_pretty(&server::tools_json(&selection, profile(&cli)))
                        .unwrap_or_default();
                return print_stdout(&text);
            }
            print_stdout(&tools_table(&selection))
        }
        Command::Call { tool, args } => {
            let def = match server::find_tool(&tool) {
                Some(def) if selection.includes(def) => def,
                Some(_) => {
                    return fail(format!(
                        "`{tool}` exists but is not enabled by --toolsets / --tools / --read-only \
                         (or their LEADMAGIC_ variables); `leadmagic-mcp tools` lists the enabled ones"
                    ));
                }
                None => {
                    return fail(format!(
                        "unknown tool `{tool}`; `leadmagic-mcp tools` lists them"
                    ));
                }
            };
            let args = match serde_json::from_str::<serde_json::Value>(&args) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => {
                    return fail(
                        "--args must be a JSON object, e.g. --args '{\"email\":\"a@b.co\"}'",
                    );
                }
            };
            let client = match connect(&cli, false) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let outcome = server::call_tool(&client, def, args).await;
            let code = print_stdout(&outcome.structured.to_string());
            if outcome.is_error {
                ExitCode::from(1)
            } else {
                code
            }
        }
        Command::Serve(args) => {
            let byok = args.http.is_some() && args.per_request_key;
            let client = match connect(&cli, byok) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let confirmation = match confirmation(&cli) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let mut mcp = server::LeadMagicServer::new(client, &selection, profile(&cli))
                .with_confirmation(confirmation.0, confirmation.1);
            let Some(addr) = args.http else {
                if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    // Started from a shell by hand: say why nothing happens.
                    eprintln!(
                        "leadmagic-mcp: waiting for an MCP client on stdin (JSON-RPC, one message per \
                         line). This is the server an MCP client starts; to try it by hand, run \
                         `leadmagic-mcp tools` or `leadmagic-mcp call validate_email --sandbox --args \
                         '{{\"email\":\"jane@example.org\"}}'`. Ctrl-D ends it."
                    );
                }
                return match mcp.serve_stdio().await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(format!("MCP session failed: {e}")),
                };
            };
            if byok {
                mcp = mcp.with_caller_keys();
            }
            let mut options = HttpOptions::new(addr);
            if !named(&args.allowed_hosts).is_empty() {
                options.allowed_hosts = named(&args.allowed_hosts);
            }
            if !named(&args.allowed_origins).is_empty() {
                options.allowed_origins = named(&args.allowed_origins);
            }
            // The server token comes from the environment only (argv is visible in `ps`).
            options.token = std::env::var(server::TOKEN_VAR)
                .ok()
                .filter(|t| !t.is_empty())
                .map(secrecy::SecretString::from);
            options.per_request_key = args.per_request_key;
            options.max_concurrency = args.max_concurrency.max(1);
            options.max_connections = args.max_connections.max(1);
            for (name, secs, slot) in [
                (
                    "--header-timeout",
                    args.header_timeout,
                    &mut options.header_timeout,
                ),
                (
                    "--body-timeout",
                    args.body_timeout,
                    &mut options.body_timeout,
                ),
            ] {
                if !(0.1..=3600.0).contains(&secs) {
                    return fail(format!("{name} must be between 0.1 and 3600 seconds"));
                }
                *slot = std::time::Duration::from_secs_f64(secs);
            }
            match server::serve_http(mcp, options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
    }
}

/// The `tools` listing: one row per enabled tool, columns as wide as their longest cell.
fn tools_table(selection: &Selection) -> String {
    let rows: Vec<[String; 4]> =
        std::iter::once(["TOOL", "TOOLSET", "COST", "TITLE"].map(String::from))
            .chain(selection.tools().map(|t| {
                [
                    t.name.to_string(),
                    t.toolset.to_string(),
                    t.cost(),
                    t.title.to_string(),
                ]
            }))
            .collect();
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    rows.iter()
        .map(|[a, b, c, d]| {
            format!("{a:<w0$}  {b:<w1$}  {c:<w2$}  {d}")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `health`: one GET of /healthz on a plain-HTTP address (a container checking itself: no
/// curl in the image). `Host: localhost`, which the default allow-list and the manifests accept.
async fn health(url: &str) -> ExitCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(rest) = url.strip_prefix("http://") else {
        return fail("health: the URL must be http://HOST:PORT/PATH");
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        let request =
            format!("GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.take(4096).read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer);
        Some(text.starts_with("HTTP/1.1 200") && text.contains("\"status\":\"ok\""))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), check).await {
        Ok(Some(true)) => ExitCode::SUCCESS,
        _ => {
            eprintln!("leadmagic-mcp: {url} is not healthy");
            ExitCode::from(1)
        }
    }
}

/// The settings of this command line that the client should start the server with.
fn server_args(cli: &Cli) -> Vec<String> {
    let mut args = Vec::new();
    let mut list = |flag: &str, items: &[String]| {
        let items = named(items);
        if !items.is_empty() {
            args.push(flag.to_string());
            args.push(items.join(","));
        }
    };
    list("--toolsets", &cli.toolsets);
    list("--tools", &cli.tools);
    list("--exclude-tools", &cli.exclude_tools);
    for (on, flag) in [
        (cli.sandbox, "--sandbox"),
        (cli.read_only, "--read-only"),
        (cli.compact, "--compact"),
        (cli.no_confirm, "--no-confirm"),
    ] {
        if on {
            args.push(flag.into());
        }
    }
    if let Some(max) = cli.max_credits {
        args.extend(["--max-credits".into(), max.to_string()]);
    }
    if cli.confirm_above != server::DEFAULT_CONFIRM_ABOVE {
        args.extend(["--confirm-above".into(), cli.confirm_above.to_string()]);
    }
    args
}

/// `config CLIENT`: print the entry, or merge it into the client's file.
fn configure(
    cli: &Cli,
    client: setup::Target,
    write: bool,
    with_key: bool,
    name: String,
) -> ExitCode {
    let command = match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => p.display().to_string(),
        Err(e) => return fail(format!("cannot find this binary's path: {e}")),
    };
    let key = if with_key {
        match std::env::var("LEADMAGIC_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            Some(k) => Some(k),
            None => return fail("--with-key: LEADMAGIC_API_KEY is not set (environment or .env)"),
        }
    } else {
        None
    };
    let entry = setup::Entry {
        name,
        command,
        args: server_args(cli),
        key,
    };
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = client.path(&home, &cwd);
    let note = client.key_note(entry.key.is_some());
    if !write {
        eprintln!(
            "leadmagic-mcp: for {} (add it with --write)",
            path.display()
        );
        if let Some(note) = note {
            eprintln!("leadmagic-mcp: {note}");
        }
        // The snippet may hold the key the user asked for: it is theirs, printed to them.
        return match std::io::stdout().write_all(setup::snippet(client, &entry).as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    match setup::write(client, &path, &entry) {
        Ok(backup) => {
            let kept = backup.map(|b| format!("; the old file is {}", b.display()));
            eprintln!(
                "leadmagic-mcp: {} now starts `{}` as \"{}\"{}",
                path.display(),
                entry.command,
                entry.name,
                kept.unwrap_or_default()
            );
            if let Some(note) = note {
                eprintln!("leadmagic-mcp: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// The confirmation policy and its token secret: `LEADMAGIC_CONFIRM_SECRET` (environment or
/// `.env` only; replicas behind one load balancer share it), else a random one per process.
fn confirmation(cli: &Cli) -> Result<(server::ConfirmPolicy, server::ConfirmTokens), String> {
    if cli.confirm_above.is_nan() || cli.confirm_above < 0.0 {
        return Err("--confirm-above must be a number of credits, 0 or more".into());
    }
    let policy = server::ConfirmPolicy {
        enabled: !cli.no_confirm,
        above: cli.confirm_above,
    };
    let secret = std::env::var(server::CONFIRM_SECRET_VAR)
        .ok()
        .filter(|s| !s.is_empty());
    if let Some(s) = &secret
        && s.len() < 32
    {
        return Err(format!(
            "{} is too short: use at least 32 random characters (e.g. openssl rand -hex 32)",
            server::CONFIRM_SECRET_VAR
        ));
    }
    let ttl = match std::env::var(server::CONFIRM_TTL_VAR) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
            Ok(s) if (1..=3600).contains(&s) => std::time::Duration::from_secs(s),
            _ => {
                return Err(format!(
                    "{} must be a whole number of seconds from 1 to 3600",
                    server::CONFIRM_TTL_VAR
                ));
            }
        },
        _ => server::DEFAULT_CONFIRM_TTL,
    };
    let tokens = server::ConfirmTokens::new(secret.as_deref().map(str::as_bytes), ttl);
    Ok((policy, tokens))
}

#[cfg(test)]
mod tests {
    use super::log_directives;
    use tracing::Level;
    use tracing_subscriber::filter::Targets;

    fn filter(requested: &str) -> Targets {
        log_directives(requested).parse().expect("directives parse")
    }

    #[test]
    fn third_party_crates_are_capped_at_info_even_when_asked_for_more() {
        let f = filter("trace,hyper=trace,rmcp::service=debug");
        assert!(f.would_enable("leadmagic_mcp::runtime", &Level::TRACE));
        for target in ["hyper", "hyper::proto::h1", "rmcp::transport", "reqwest"] {
            assert!(f.would_enable(target, &Level::INFO), "{target}");
            assert!(!f.would_enable(target, &Level::DEBUG), "{target}");
        }
    }

    #[test]
    fn rmcp_error_answers_are_not_warnings_in_the_log() {
        let f = filter("info");
        assert!(!f.would_enable("rmcp::service", &Level::WARN));
        assert!(f.would_enable("rmcp::service", &Level::ERROR));
        assert!(f.would_enable("rmcp::transport", &Level::WARN));
    }

    #[test]
    fn the_tools_table_columns_fit_their_widest_cell() {
        let table = super::tools_table(&leadmagic_mcp::server::Selection::default());
        let lines: Vec<&str> = table.lines().collect();
        let cost_at = lines[0].find("COST").unwrap();
        let title_at = lines[0].find("TITLE").unwrap();
        for line in &lines[1..] {
            let chars: Vec<char> = line.chars().collect();
            assert_eq!(chars[cost_at - 1], ' ', "{line}");
            assert_eq!(chars[cost_at - 2], ' ', "two spaces before COST: {line}");
            assert_eq!(chars[title_at - 2], ' ', "two spaces before TITLE: {line}");
            assert_ne!(chars[title_at], ' ', "{line}");
        }
    }

    #[test]
    fn the_cap_is_never_above_the_global_level() {
        let f = filter("warn");
        assert!(f.would_enable("rmcp", &Level::WARN));
        assert!(!f.would_enable("rmcp", &Level::INFO));
        assert!(!f.would_enable("leadmagic_mcp", &Level::INFO));
        let quiet = filter("leadmagic_mcp=debug");
        assert!(quiet.would_enable("leadmagic_mcp::call", &Level::DEBUG));
        assert!(!quiet.would_enable("rustls", &Level::INFO));
    }
}
