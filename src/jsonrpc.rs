//! JSON-RPC 2.0 framing checks shared by the stdio and HTTP transports: each incoming message is
//! screened before the MCP layer sees it, and a malformed one gets the answer JSON-RPC defines
//! (parse error or invalid request with `"id": null` when no id can be read, invalid params with
//! the request's id) instead of silence or a wrong code. Plain serde_json, no MCP SDK types.

use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
/// The `MCP-Protocol-Version` header and the request's `_meta` name different revisions.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP 2026-07-28: the requested protocol version is not one this server speaks.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// What kind of message passed the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
}

/// A message that passed the screen, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub value: Value,
    pub kind: Kind,
}

impl Message {
    /// The request id (requests and responses).
    pub fn id(&self) -> Value {
        self.value.get("id").cloned().unwrap_or(Value::Null)
    }

    pub fn method(&self) -> Option<&str> {
        self.value.get("method").and_then(Value::as_str)
    }
}

/// The error answer for a message that did not pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's id when it could be read, else null.
    pub id: Value,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl Rejection {
    pub fn new(id: Value, code: i64, message: impl Into<String>) -> Self {
        Rejection {
            id,
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The JSON-RPC error response, as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.data {
            error["data"] = d.clone();
        }
        json!({ "jsonrpc": "2.0", "id": self.id, "error": error }).to_string()
    }
}

fn valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some() || id.as_u64().is_some()
}

/// Most JSON objects a message may hold. A JSON object in memory weighs ~30 times its text
/// (a B-tree node each), so 1 MiB of `{"a":1}` would take ~100 MiB; no MCP request needs more.
pub const MAX_MESSAGE_OBJECTS: usize = 10_000;

/// How many JSON objects (`{`) a text holds, outside strings: a bound on what parsing it into
/// values will allocate, found without allocating.
pub fn object_count(bytes: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'{' {
            count += 1;
        }
    }
    count
}

/// Screen one message (a stdio line or an HTTP body).
pub fn screen(bytes: &[u8]) -> Result<Message, Rejection> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.len() > 64 * 1024 && object_count(bytes) > MAX_MESSAGE_OBJECTS {
        return Err(Rejection::new(
            top_level_id(&bytes[..bytes.len().min(4096)]).unwrap_or(Value::Null),
            INVALID_REQUEST,
            format!(
                "Invalid request: the message holds more than {MAX_MESSAGE_OBJECTS} JSON objects"
            ),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let why = if e.is_eof() {
            "the message ends early"
        } else {
            "the message is not valid JSON"
        };
        Rejection::new(Value::Null, PARSE_ERROR, format!("Parse error: {why}"))
    })?;
    let obj = match &value {
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Err(Rejection::new(
                Value::Null,
                INVALID_REQUEST,
                "Invalid request: JSON-RPC batches are not supported; send one message at a time",
            ));
        }
        _ => {
            return Err(Rejection::new(
                Value::Null,
                INVALID_REQUEST,
                "Invalid request: a JSON-RPC message is a JSON object",
            ));
        }
    };
    let id = match obj.get("id") {
        Some(id) if valid_id(id) => id.clone(),
        Some(Value::Null) | None => Value::Null,
        Some(_) => {
            return Err(Rejection::new(
                Value::Null,
                INVALID_REQUEST,
                "Invalid request: `id` must be a string or an integer",
            ));
        }
    };
    let invalid = |why: &str| {
        Rejection::new(
            id.clone(),
            INVALID_REQUEST,
            format!("Invalid request: {why}"),
        )
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    let kind = match obj.get("method") {
        Some(Value::String(_)) if obj.contains_key("id") && id.is_null() => {
            return Err(invalid("a request's `id` must be a string or an integer"));
        }
        Some(Value::String(_)) if id.is_null() => Kind::Notification,
        Some(Value::String(_)) => Kind::Request,
        Some(_) => return Err(invalid("`method` must be a string")),
        None if obj.contains_key("result") != obj.contains_key("error")
            && obj.contains_key("id") =>
        {
            Kind::Response
        }
        None => {
            return Err(invalid(
                "a message needs a `method` (or is a response with `result` or `error`)",
            ));
        }
    };
    // Only requests are answered; a notification with odd params is the MCP layer's to drop.
    if kind == Kind::Request {
        let method = obj.get("method").and_then(Value::as_str).unwrap_or("");
        if let Err(why) = check_params(method, obj.get("params")) {
            return Err(Rejection::new(
                id,
                INVALID_PARAMS,
                format!("Invalid params for {method}: {why}"),
            ));
        }
    }
    Ok(Message { value, kind })
}

/// The parameter shapes of the methods this server implements (MCP params are objects).
fn check_params(method: &str, params: Option<&Value>) -> Result<(), String> {
    let params = match params {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => return Err("`params` must be an object".into()),
    };
    let empty = Map::new();
    let p = params.unwrap_or(&empty);
    let string = |name: &str| match p.get(name) {
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(format!("`{name}` must be a string")),
        None => Err(format!("`{name}` is required")),
    };
    let object_if_given = |name: &str| match p.get(name) {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(format!("`{name}` must be an object")),
    };
    match method {
        "tools/call" => {
            string("name")?;
            object_if_given("arguments")
        }
        "initialize" => {
            string("protocolVersion")?;
            object_if_given("capabilities")?;
            object_if_given("clientInfo")
        }
        "tools/list" | "resources/list" | "prompts/list" => match p.get("cursor") {
            None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
            Some(_) => Err("`cursor` must be a string".into()),
        },
        _ => Ok(()),
    }
}

/// The answer to a message longer than the limit, which was not read whole. Its id is looked
/// for in the part that was read, so a client waiting for that id gets an answer.
pub fn oversized(prefix: &[u8], limit: usize) -> Rejection {
    Rejection::new(
        top_level_id(prefix).unwrap_or(Value::Null),
        INVALID_REQUEST,
        format!("Invalid request: the message is longer than {limit} bytes and was not read"),
    )
}

/// The value of a top-level `"id"` member in the start of a JSON object, if the start holds
/// one whole (a string without escapes, or an integer).
fn top_level_id(bytes: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut in_string = false;
    let mut string_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 1 && &bytes[string_start..i] == b"id" {
                        return id_value(&bytes[i + 1..]);
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    string_start = i + 1;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// After a member name: `: <value>`, where the value is an integer or a plain string.
fn id_value(rest: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(rest).ok().or_else(|| {
        // The cut may split a character; the id comes before it.
        let valid = std::str::from_utf8(rest).err()?.valid_up_to();
        std::str::from_utf8(&rest[..valid]).ok()
    })?;
    let text = text.trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = text.strip_prefix('"') {
        let end = s.find(['"', '\\'])?;
        return (s.as_bytes()[end] == b'"').then(|| Value::String(s[..end].to_string()));
    }
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    // A number cut by the end of the prefix is not trusted.
    if end == text.len() {
        return None;
    }
    serde_json::from_str::<Value>(&text[..end])
        .ok()
        .filter(|v| v.as_i64().is_some())
}

/// The answer for a protocol version this server does not speak: the versions it does, and the
/// one asked for.
pub fn unsupported_version(id: Value, requested: &str, supported: &[String]) -> Rejection {
    Rejection {
        id,
        code: UNSUPPORTED_PROTOCOL_VERSION,
        message: format!("Unsupported protocol version {requested:?}"),
        data: Some(json!({ "requested": requested, "supported": supported })),
    }
}

/// The protocol version a message names in `_meta` (MCP 2026-07-28 per-request metadata).
pub fn meta_protocol_version(message: &Value) -> Option<&str> {
    message
        .pointer("/params/_meta")?
        .get("io.modelcontextprotocol/protocolVersion")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str) -> Rejection {
        screen(text.as_bytes()).expect_err(text)
    }

    #[test]
    fn malformed_messages_get_the_codes_json_rpc_defines() {
        for (text, code, id) in [
            ("this is not json", PARSE_ERROR, Value::Null),
            (
                "{\"jsonrpc\":\"2.0\",\"id\":98, this is",
                PARSE_ERROR,
                Value::Null,
            ),
            ("", PARSE_ERROR, Value::Null),
            ("{}", INVALID_REQUEST, Value::Null),
            ("[]", INVALID_REQUEST, Value::Null),
            (
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                INVALID_REQUEST,
                Value::Null,
            ),
            ("42", INVALID_REQUEST, Value::Null),
            (r#"{"id":3,"method":"ping"}"#, INVALID_REQUEST, json!(3)),
            (
                r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
                INVALID_REQUEST,
                Value::Null,
            ),
            (
                r#"{"jsonrpc":"2.0","id":4,"method":7}"#,
                INVALID_REQUEST,
                json!(4),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":[]}}"#,
                INVALID_PARAMS,
                json!("a"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":5}}"#,
                INVALID_PARAMS,
                json!(5),
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":[]}"#,
                INVALID_PARAMS,
                json!(6),
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#,
                INVALID_PARAMS,
                json!(7),
            ),
        ] {
            let r = rejected(text);
            assert_eq!((r.code, &r.id), (code, &id), "{text}");
            let answer: Value = serde_json::from_str(&r.to_json()).unwrap();
            assert_eq!(answer["id"], id, "id is present, null when unknown: {text}");
            assert_eq!(answer["error"]["code"], code);
        }
    }

    #[test]
    fn good_messages_pass_with_their_kind() {
        for (text, kind) in [
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                Kind::Request,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                Kind::Notification,
            ),
            (r#"{"jsonrpc":"2.0","id":"x","result":{}}"#, Kind::Response),
            (
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}"#,
                Kind::Response,
            ),
            (
                "\u{FEFF}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"arguments\":{}}}",
                Kind::Request,
            ),
        ] {
            assert_eq!(screen(text.as_bytes()).expect(text).kind, kind, "{text}");
        }
    }

    #[test]
    fn an_oversized_message_is_answered_with_its_id_when_the_start_has_it() {
        let pad = "x".repeat(100);
        let r = oversized(
            format!(r#"{{"jsonrpc":"2.0","id":99,"method":"tools/list","params":{{"pad":"{pad}"#)
                .as_bytes(),
            10,
        );
        assert_eq!(r.id, json!(99));
        let r = oversized(br#"{"jsonrpc":"2.0","params":{"id":1,"x":"#, 10);
        assert_eq!(r.id, Value::Null, "a nested id is not the message's");
        let r = oversized(br#"{"id":"req-7","method":"#, 10);
        assert_eq!(r.id, json!("req-7"));
        let r = oversized(br#"{"id":12"#, 10);
        assert_eq!(r.id, Value::Null, "a number cut by the end is not trusted");
    }

    #[test]
    fn objects_are_counted_outside_strings() {
        assert_eq!(
            object_count(br#"{"a":{"b":"{{}}"},"c":[{}, {"d":"\"{"}]}"#),
            4
        );
        let many = format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"x","arguments":{{"rows":[{}]}}}}}}"#,
            vec!["{}"; MAX_MESSAGE_OBJECTS + 1].join(",")
        );
        let padded = format!("{}{}", &many[..many.len() - 1], " ".repeat(70_000) + "}");
        let r = rejected(&padded);
        assert_eq!((r.code, r.id), (INVALID_REQUEST, json!(3)));
    }

    #[test]
    fn unsupported_version_lists_what_is_spoken() {
        let r = unsupported_version(json!(301), "v999.0.0", &["2025-06-18".into()]);
        let v: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["error"]["code"], -32022);
        assert_eq!(v["error"]["data"]["requested"], "v999.0.0");
        assert_eq!(v["error"]["data"]["supported"], json!(["2025-06-18"]));
        assert_eq!(v["id"], 301);
    }
}
