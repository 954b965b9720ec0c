//! Masking for the opt-in body logs (`--log-bodies`). By default nothing of a body is ever
//! logged; with the flag, a JSON body is logged as its shape: keys, numbers, booleans and short
//! machine values stay, while people do not: names, emails, phone numbers and profile URLs (with
//! or without a scheme) are replaced, free text is replaced by its length, and long opaque
//! tokens are masked. A body that is not JSON is logged as its size only. The text is capped.
//! Keys in use need no rule here: every log line passes the last-line filter (`secrets.rs`).

use serde_json::Value;

/// Longest masked body written to the log.
pub const MAX_LOGGED_BODY: usize = 2048;

/// Runs of at least this many token characters are masked as opaque tokens.
const TOKEN_CHARS: usize = 20;

/// Longest string value kept as it is (after masking), when it has no spaces.
const MACHINE_VALUE_CHARS: usize = 64;

/// Mask personal data in a body for logging.
pub fn mask(text: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return format!("<{} bytes, not JSON>", text.len());
    };
    mask_value(None, &mut value);
    let mut out = value.to_string();
    if out.len() > MAX_LOGGED_BODY {
        let mut cut = MAX_LOGGED_BODY;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...[cut]");
    }
    out
}

/// What a field holds, judged by its name, for what its value alone would not give away: a
/// name, or a profile given as a bare slug (`jane-doe`). Emails and phone numbers are found by
/// their values, so `email_status: "valid"` stays readable.
fn field_kind(key: &str) -> Option<&'static str> {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if k.contains("url") || k.contains("linkedin") || k.contains("profile") {
        Some("<url>")
    } else if k.contains("name") {
        Some("<name>")
    } else {
        None
    }
}

fn mask_value(key: Option<&str>, v: &mut Value) {
    match v {
        Value::String(s) => {
            *s = match key.and_then(field_kind) {
                Some(kind) => kind.to_string(),
                None => mask_text(s),
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_value(key, i)),
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                mask_value(Some(k), item);
            }
        }
        _ => {}
    }
}

/// A string value under a field with no telling name: machine values (no spaces, short) are
/// kept with emails, phones, URLs and tokens masked inside; free text is replaced by its length.
fn mask_text(s: &str) -> String {
    let masked = mask_tokens(s);
    if masked.chars().any(char::is_whitespace) || masked.chars().count() > MACHINE_VALUE_CHARS {
        format!("<text: {} chars>", s.chars().count())
    } else {
        masked
    }
}

fn mask_tokens(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // URLs, with a scheme or without one (`linkedin.com/in/...`): up to a delimiter.
        if starts_with(&chars[i..], "http://")
            || starts_with(&chars[i..], "https://")
            || starts_with(&chars[i..], "www.")
            || is_host_then_path(&chars[i..])
        {
            i = skip_while(&chars, i, |c| {
                !matches!(c, '"' | '\'' | ' ' | ',' | '}' | ']' | ')' | '<' | '>')
            });
            out.push_str("<url>");
            continue;
        }
        if chars[i].is_alphanumeric() {
            // Emails: a run of local-part characters, '@', a domain.
            let end = skip_while(&chars, i, is_local);
            if end < chars.len() && chars[end] == '@' {
                let domain_end = skip_while(&chars, end + 1, |c| {
                    c.is_alphanumeric() || c == '.' || c == '-'
                });
                if domain_end > end + 1 {
                    out.push_str("<email>");
                    i = domain_end;
                    continue;
                }
            }
            // Long opaque tokens (session ids, base64 blobs), whatever they are.
            let token_end = skip_while(&chars, i, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')
            });
            if token_end - i >= TOKEN_CHARS {
                out.push_str("<token>");
                i = token_end;
                continue;
            }
        }
        // Phone numbers: 7 or more digits, possibly with + ( ) - . and spaces between them.
        if chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let end = skip_while(&chars, i, |c| {
                c.is_ascii_digit() || matches!(c, '+' | '(' | ')' | '-' | '.' | ' ')
            });
            let digits = chars[i..end].iter().filter(|c| c.is_ascii_digit()).count();
            if digits >= 7 {
                out.push_str("<phone>");
            } else {
                out.extend(&chars[i..end]);
            }
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `label.label.../`: a host name followed by a path, at the start of `chars`.
fn is_host_then_path(chars: &[char]) -> bool {
    let end = skip_while(chars, 0, |c| {
        c.is_ascii_alphanumeric() || c == '.' || c == '-'
    });
    let host: String = chars[..end].iter().collect();
    chars.get(end) == Some(&'/')
        && host.contains('.')
        && host.split('.').all(|l| !l.is_empty())
        && host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

fn starts_with(chars: &[char], prefix: &str) -> bool {
    let mut it = chars.iter();
    prefix
        .chars()
        .all(|p| it.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}

fn skip_while(chars: &[char], mut i: usize, keep: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && keep(chars[i]) {
        i += 1;
    }
    i
}

fn is_local(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_personal_data() {
        let body = r#"{"email":"jane.doe@example.org","mobile_number":"+1 (555) 555-0123","profile_url":"https://www.linkedin.com/in/jane-doe","credits_consumed":5,"year":2026,"email_status":"valid"}"#;
        let m = mask(body);
        assert!(!m.contains("jane"), "{m}");
        assert!(!m.contains("555"), "{m}");
        assert!(m.contains(r#""email":"<email>""#) && m.contains("<phone>") && m.contains("<url>"));
        assert!(
            m.contains(r#""credits_consumed":5"#) && m.contains("2026"),
            "numbers that are not phones stay: {m}"
        );
        assert!(m.contains(r#""email_status":"valid""#), "{m}");
    }

    #[test]
    fn names_and_scheme_less_profile_urls_are_masked() {
        let body = r#"{"first_name":"Jane","lastName":"Doe","full_name":"Jane Doe","company":{"name":"Acme"},"profile":"linkedin.com/in/jane-doe","note":"see linkedin.com/in/jane-doe","people":[{"fullName":"Jo Bloggs","title":"CTO"}],"message":"Found Jane Doe at Acme","status":"valid"}"#;
        let m = mask(body);
        for person in ["Jane", "Doe", "Acme", "jane-doe", "Jo", "Bloggs"] {
            assert!(!m.contains(person), "{person} in {m}");
        }
        assert!(
            m.contains(r#""status":"valid""#) && m.contains(r#""title":"CTO""#),
            "{m}"
        );
        assert!(
            m.contains("<text: 22 chars>"),
            "free text becomes its length: {m}"
        );
    }

    #[test]
    fn short_and_punctuated_tokens_are_masked_in_free_values() {
        for token in ["dGhpcyBpcyBhIHRva2Vu+/abc==", "abcdefghij0123456789"] {
            let m = mask(&format!(r#"{{"session":"{token}"}}"#));
            assert!(!m.contains(token), "{m}");
        }
        let m = mask(r#"{"path":"www.example.org/x"}"#);
        assert_eq!(m, r#"{"path":"<url>"}"#);
    }

    #[test]
    fn a_body_that_is_not_json_is_logged_as_its_size() {
        assert_eq!(
            mask("<html>Jane Doe, jane@example.org</html>"),
            "<39 bytes, not JSON>"
        );
    }

    #[test]
    fn caps_length() {
        let body = serde_json::to_string(&vec!["ab"; 5_000]).unwrap();
        let m = mask(&body);
        assert!(m.len() <= MAX_LOGGED_BODY + 10 && m.ends_with("...[cut]"));
    }
}
