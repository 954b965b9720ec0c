//! Masking for the opt-in body logs (`--log-bodies`): emails, phone numbers and URLs (profile
//! links are personal data) are replaced before anything is written, and the text is capped.
//! By default nothing of a body is ever logged.

/// Longest masked body written to the log.
pub const MAX_LOGGED_BODY: usize = 2048;

/// Runs of at least this many letters, digits, `_` or `-` are masked as opaque tokens.
const TOKEN_CHARS: usize = 20;

/// Mask personal data in a body for logging.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LOGGED_BODY));
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && out.len() < MAX_LOGGED_BODY {
        // URLs: up to the next quote, space or closing bracket.
        if starts_with(&chars[i..], "http://")
            || starts_with(&chars[i..], "https://")
            || starts_with(&chars[i..], "www.")
        {
            i = skip_while(&chars, i, |c| {
                !matches!(c, '"' | '\'' | ' ' | ',' | '}' | ']' | ')' | '<' | '>')
            });
            out.push_str("<url>");
            continue;
        }
        // Emails: a run of local-part characters, '@', a run of domain characters.
        if is_word(chars[i]) {
            let end = skip_while(&chars, i, is_local);
            // Long opaque tokens (API keys, session ids) are never written, whatever they are.
            let token_end = skip_while(&chars, i, |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '-'
            });
            if token_end - i >= TOKEN_CHARS && chars.get(token_end) != Some(&'@') {
                out.push_str("<token>");
                i = token_end;
                continue;
            }
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
                i = end;
                continue;
            }
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    if i < chars.len() {
        out.push_str("...[cut]");
    }
    out
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

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_local(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_personal_data() {
        let body = r#"{"email":"jane.doe@example.org","mobile_number":"+1 (555) 555-0123","profile_url":"https://www.linkedin.com/in/jane-doe","credits_consumed":5,"year":2026}"#;
        let m = mask(body);
        assert!(!m.contains("jane"), "{m}");
        assert!(!m.contains("555"), "{m}");
        assert!(m.contains(r#""email":"<email>""#) && m.contains("<phone>") && m.contains("<url>"));
        assert!(
            m.contains(r#""credits_consumed":5"#) && m.contains("2026"),
            "numbers that are not phones stay: {m}"
        );
    }

    #[test]
    fn masks_long_tokens_such_as_keys() {
        let m = mask("key lm_CANARY_7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e rejected");
        assert_eq!(m, "key <token> rejected");
    }

    #[test]
    fn caps_length() {
        let m = mask(&"ab ".repeat(5_000));
        assert!(m.len() <= MAX_LOGGED_BODY + 10 && m.ends_with("...[cut]"));
    }
}
