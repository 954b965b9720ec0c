//! The last-line filter: every string the server emits (tool results, errors, hints, JSON-RPC
//! answers, log lines at every level) passes through here on its way out, and loses any trace of
//! an API key in use. Structural on purpose: a per-field allow-list leaks whatever fits its
//! pattern (an outside review found the key coming back through `X-Request-Id`, `meta.request_id`
//! and `errors[].code`, each of which "looked like a machine token").
//!
//! A key in use is registered while it is in use: the server's key for the life of its client,
//! a caller's own key (bring-your-own-key mode) for the duration of its call. What is removed:
//! the key, any slice of it of 8 or more characters, and the same for its base64 (standard and
//! URL alphabets, at each of the three byte alignments a key can have inside a longer encoded
//! text), percent-encoded and JSON-escaped forms.

use serde_json::Value;
use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use zeroize::Zeroize;

/// Shortest slice of a key that counts as a leak.
pub const MIN_SLICE: usize = 8;

/// What a removed secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// One secret in its matchable forms. Windows are 8-byte slices packed into `u64`s, sorted for
/// binary search, with a small bitmap of their first two bytes to reject most positions at once.
pub struct Secret {
    windows: Vec<u64>,
    first_two: Box<[u64; 64]>,
    /// Keys shorter than `MIN_SLICE` are matched whole.
    short: Option<String>,
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.windows.zeroize();
        self.first_two.zeroize();
        self.short.zeroize();
    }
}

fn pair_bit(a: u8, b: u8) -> usize {
    (usize::from(a) * 31 + usize::from(b)) & 4095
}

fn pack(w: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&w[..8]);
    u64::from_le_bytes(b)
}

impl Secret {
    pub fn new(key: &str) -> Secret {
        let mut forms = forms(key);
        let mut windows = Vec::new();
        let mut first_two = Box::new([0u64; 64]);
        for form in &forms {
            for w in form.as_bytes().windows(MIN_SLICE) {
                windows.push(pack(w));
                let bit = pair_bit(w[0], w[1]);
                first_two[bit / 64] |= 1 << (bit % 64);
            }
        }
        forms.zeroize();
        windows.sort_unstable();
        windows.dedup();
        let short = (key.len() < MIN_SLICE && !key.is_empty()).then(|| key.to_string());
        Secret {
            windows,
            first_two,
            short,
        }
    }

    fn hit_at(&self, bytes: &[u8], i: usize) -> bool {
        let bit = pair_bit(bytes[i], bytes[i + 1]);
        self.first_two[bit / 64] & (1 << (bit % 64)) != 0
            && self
                .windows
                .binary_search(&pack(&bytes[i..i + MIN_SLICE]))
                .is_ok()
    }

    /// Byte ranges of `text` that belong to this secret, merged, in order.
    fn ranges(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        if let Some(short) = &self.short {
            for (i, _) in text.match_indices(short.as_str()) {
                out.push((i, i + short.len()));
            }
            return;
        }
        let bytes = text.as_bytes();
        if bytes.len() < MIN_SLICE {
            return;
        }
        for i in 0..=bytes.len() - MIN_SLICE {
            if self.hit_at(bytes, i) {
                out.push((i, i + MIN_SLICE));
            }
        }
    }
}

/// The forms a key can take on its way back to us.
fn forms(key: &str) -> Vec<String> {
    let mut out = vec![key.to_string()];
    let escaped = serde_json::to_string(key).unwrap_or_default();
    out.push(escaped.trim_matches('"').to_string());
    out.push(percent_encode(key, false));
    out.push(percent_encode(key, true));
    for alphabet in [STANDARD, URL_SAFE] {
        for offset in 0..3 {
            out.push(base64_inner(key.as_bytes(), offset, alphabet));
        }
    }
    out.sort();
    out.dedup();
    out.retain(|f| f.len() >= MIN_SLICE);
    out
}

fn percent_encode(key: &str, lower: bool) -> String {
    let mut out = String::with_capacity(key.len() * 3);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64 characters that depend on the key's bytes alone when the key starts `offset`
/// bytes into a 3-byte group of a longer encoded text (the characters at either end mix with
/// the neighbours' bits and are left out).
fn base64_inner(key: &[u8], offset: usize, alphabet: &[u8; 64]) -> String {
    let mut data = vec![0u8; offset];
    data.extend_from_slice(key);
    data.extend_from_slice(&[0, 0]);
    let mut chars = Vec::with_capacity(data.len() * 4 / 3 + 4);
    for group in data.chunks(3) {
        let mut g = [0u8; 3];
        g[..group.len()].copy_from_slice(group);
        let n = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
        for k in 0..4 {
            chars.push(alphabet[((n >> (18 - 6 * k)) & 63) as usize]);
        }
    }
    // Character j covers bits [6j, 6j + 6); the key's bits are [8 * offset, 8 * (offset + len)).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + key.len())) / 6; // exclusive: 6j + 6 <= 8 * (offset + len)
    let inner = if end > first {
        String::from_utf8_lossy(&chars[first..end]).into_owned()
    } else {
        String::new()
    };
    data.zeroize();
    chars.zeroize();
    inner
}

/// Secrets in use right now, each under an id so its guard removes exactly it.
static ACTIVE: RwLock<Vec<(u64, Arc<Secret>)>> = RwLock::new(Vec::new());

/// Keeps a secret registered; dropping it removes the secret from the filter.
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut active = ACTIVE.write().unwrap_or_else(|p| p.into_inner());
        active.retain(|(id, _)| *id != self.0);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registration([REDACTED])")
    }
}

/// Add a key to the filter until the returned guard is dropped.
pub fn register(key: &str) -> Registration {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let secret = Arc::new(Secret::new(key));
    ACTIVE
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, secret));
    Registration(id)
}

fn active() -> Vec<Arc<Secret>> {
    ACTIVE
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, s)| s.clone())
        .collect()
}

fn ranges_of(secrets: &[Arc<Secret>], text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    for s in secrets {
        s.ranges(text, &mut ranges);
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Whether `text` holds any part of a key in use.
pub fn contains_secret(text: &str) -> bool {
    !ranges_of(&active(), text).is_empty()
}

fn scrub_with<'a>(secrets: &[Arc<Secret>], text: &'a str) -> Cow<'a, str> {
    let ranges = ranges_of(secrets, text);
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b) in ranges {
        // Matches are ASCII, so both ends fall on character boundaries.
        out.push_str(&text[at..a]);
        out.push_str(REDACTED);
        at = b;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// `text` without any part of a key in use (plain text: log lines, messages).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = active();
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    scrub_with(&secrets, text)
}

/// Remove keys in use from every string of a JSON value, object keys included.
pub fn scrub_value(v: &mut Value) {
    let secrets = active();
    if !secrets.is_empty() {
        scrub_value_with(&secrets, v);
    }
}

fn scrub_value_with(secrets: &[Arc<Secret>], v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = scrub_with(secrets, s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scrub_value_with(secrets, i)),
        Value::Object(map) => {
            let dirty: Vec<String> = map
                .keys()
                .filter(|k| !ranges_of(secrets, k).is_empty())
                .cloned()
                .collect();
            for k in dirty {
                if let Some(item) = map.remove(&k) {
                    map.insert(scrub_with(secrets, &k).into_owned(), item);
                }
            }
            map.values_mut().for_each(|i| scrub_value_with(secrets, i));
        }
        _ => {}
    }
}

/// A serialized JSON message on its way out: unchanged when it holds no key (the usual case,
/// one scan); otherwise parsed, scrubbed string by string (so escapes stay valid) and written
/// again. Text that is not JSON is scrubbed as plain text.
pub fn scrub_json_text(text: &str) -> Cow<'_, str> {
    let secrets = active();
    if secrets.is_empty() || ranges_of(&secrets, text).is_empty() {
        return Cow::Borrowed(text);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            scrub_value_with(&secrets, &mut v);
            Cow::Owned(v.to_string())
        }
        Err(_) => Cow::Owned(scrub_with(&secrets, text).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "lm_TESTKEY_9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a";

    pub(super) fn b64(data: &[u8], alphabet: &[u8; 64]) -> String {
        // Reference encoder for the tests (with padding).
        let mut out = String::new();
        for group in data.chunks(3) {
            let mut g = [0u8; 3];
            g[..group.len()].copy_from_slice(group);
            let n = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
            for k in 0..=group.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * k)) & 63) as usize]));
            }
            for _ in group.len()..3 {
                out.push('=');
            }
        }
        out
    }

    fn assert_no_trace(text: &str) {
        let secrets = [Arc::new(Secret::new(KEY))];
        let clean = scrub_with(&secrets, text);
        let mut left = Vec::new();
        secrets[0].ranges(&clean, &mut left);
        assert!(left.is_empty(), "{clean}");
        for w in KEY.as_bytes().windows(MIN_SLICE) {
            assert!(!clean.contains(std::str::from_utf8(w).unwrap()), "{clean}");
        }
    }

    #[test]
    fn the_key_and_every_slice_of_eight_or_more_are_removed() {
        for text in [
            format!("id {KEY} end"),
            KEY[..8].to_string(),
            format!("x{}y", &KEY[5..19]),
            format!("\"request_id\":\"{}\"", &KEY[KEY.len() - 9..]),
        ] {
            assert_no_trace(&text);
            assert!(scrub_with(&[Arc::new(Secret::new(KEY))], &text).contains(REDACTED));
        }
        let seven = &KEY[3..10];
        assert_eq!(
            scrub_with(&[Arc::new(Secret::new(KEY))], seven),
            seven,
            "7 characters are not a leak"
        );
    }

    #[test]
    fn base64_forms_are_removed_at_any_alignment() {
        let secrets = [Arc::new(Secret::new(KEY))];
        for alphabet in [STANDARD, URL_SAFE] {
            for prefix in ["", "u", "us", "user:"] {
                let encoded = b64(format!("{prefix}{KEY}").as_bytes(), alphabet);
                let clean = scrub_with(&secrets, &encoded);
                assert!(clean.contains(REDACTED), "{prefix:?}: {encoded}");
                // What is left is at most the few characters mixing with the prefix and padding.
                assert!(clean.len() < 20, "{prefix:?}: {clean}");
            }
        }
    }

    #[test]
    fn percent_and_json_escaped_forms_are_removed() {
        let key = "k3y+with/odd=chars\"and\\more";
        let secrets = [Arc::new(Secret::new(key))];
        let pct = percent_encode(key, false);
        assert!(scrub_with(&secrets, &pct).contains(REDACTED));
        assert!(scrub_with(&secrets, &percent_encode(key, true)).contains(REDACTED));
        let json = serde_json::to_string(key).unwrap();
        assert!(!scrub_with(&secrets, &json).contains("with/odd"));
    }

    #[test]
    fn json_stays_valid_and_keys_of_objects_are_scrubbed() {
        let _r = register(KEY);
        let text = format!(r#"{{"a":"{KEY}","{}":1,"n":[2,"ok"]}}"#, &KEY[..12]);
        let clean = scrub_json_text(&text);
        let v: Value = serde_json::from_str(&clean).expect("still JSON");
        assert_eq!(v["a"], REDACTED);
        assert_eq!(v[REDACTED], 1);
        assert_eq!(v["n"][1], "ok");
        assert!(matches!(
            scrub_json_text(r#"{"ok":true}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn registration_ends_with_its_guard() {
        let key = "lm_guarded_00112233445566778899";
        let r = register(key);
        assert!(contains_secret(key));
        drop(r);
        assert!(!contains_secret(key));
    }

    #[test]
    fn short_keys_are_matched_whole() {
        let secrets = [Arc::new(Secret::new("abc12"))];
        assert_eq!(scrub_with(&secrets, "x abc12 y"), format!("x {REDACTED} y"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    use super::tests::b64;

    /// How the key is hidden in the text.
    #[derive(Debug, Clone)]
    enum Form {
        Whole,
        Slice(usize, usize),
        Base64 { lead: usize, url: bool },
        Percent,
        Json,
    }

    fn form() -> impl Strategy<Value = Form> {
        prop_oneof![
            Just(Form::Whole),
            (0usize..40, 8usize..48).prop_map(|(s, l)| Form::Slice(s, l)),
            (0usize..3, any::<bool>()).prop_map(|(lead, url)| Form::Base64 { lead, url }),
            Just(Form::Percent),
            Just(Form::Json),
        ]
    }

    proptest! {
        // CI runs the default 256 cases; `PROPTEST_CASES=100000 cargo test --lib
        // secrets::properties` is the long run (SECURITY.md).
        #[test]
        fn no_trace_of_a_key_survives_the_filter(
            key in "[A-Za-z0-9_+/=.-]{8,48}",
            before in "\\PC{0,30}",
            after in "\\PC{0,30}",
            form in form(),
        ) {
            let hidden = match &form {
                Form::Whole => key.clone(),
                Form::Slice(start, len) => {
                    let start = start % (key.len() - 7);
                    let end = (start + len).min(key.len()).max(start + 8);
                    key[start..end].to_string()
                }
                Form::Base64 { lead, url } => {
                    let data = format!("{}{key}", &"abc"[..*lead]);
                    b64(data.as_bytes(), if *url { URL_SAFE } else { STANDARD })
                }
                Form::Percent => percent_encode(&key, false),
                Form::Json => serde_json::to_string(&key).unwrap(),
            };
            let text = format!("{before}{hidden}{after}");
            let secrets = [Arc::new(Secret::new(&key))];
            let clean = scrub_with(&secrets, &text);
            for w in key.as_bytes().windows(MIN_SLICE) {
                let w = std::str::from_utf8(w).unwrap();
                prop_assert!(!clean.contains(w), "slice {w:?} left in {clean:?}");
            }
            if let Form::Base64 { .. } = form {
                // The encoded characters that depend on the key's bytes alone (the first and
                // last quantum mix in the lead and the padding; 8 bytes encode to 12 or more).
                let inner = &hidden[4..hidden.len() - 4];
                for w in inner.as_bytes().windows(MIN_SLICE + 4) {
                    let w = std::str::from_utf8(w).unwrap();
                    prop_assert!(!clean.contains(w), "base64 {w:?} left in {clean:?}");
                }
            }
        }
    }
}
