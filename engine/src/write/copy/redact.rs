//! Keeping credentials out of everything Tarn prints or stores. Redshift's `COPY` (and `UNLOAD`)
//! take secrets inline: `CREDENTIALS 'aws_access_key_id=...;aws_secret_access_key=...'`,
//! `ACCESS_KEY_ID '...' SECRET_ACCESS_KEY '...' SESSION_TOKEN '...'`, `IAM_ROLE 'arn:...'`. Tarn
//! never stores statement text in the catalog, but the text reaches two places: the REPL's history
//! file and an error rendered with the line of the statement under a caret. Both go through
//! [`redact_credentials`], which replaces each such literal with `'***'`.

use tarn_catalog::location::s3_error::redact_userinfo;

/// Options whose string argument is a secret (or names an account, as a role ARN does).
const SECRET_OPTIONS: [&str; 6] =
    ["CREDENTIALS", "IAM_ROLE", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "MASTER_SYMMETRIC_KEY"];

/// Markers of a credentials string wherever it appears (an error quoting the literal, a literal
/// after an option Tarn does not know).
const SECRET_MARKERS: [&str; 4] = ["aws_access_key_id=", "aws_secret_access_key=", "token=", "aws_iam_role="];

/// `text` (SQL, or an error quoting SQL) with every secret literal replaced by `'***'` and every
/// URL's userinfo by `***`. Text without secrets comes back unchanged.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut secret_next = false;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            let (literal, end) = literal_at(text, at);
            let lower = literal.to_ascii_lowercase();
            if secret_next || SECRET_MARKERS.iter().any(|m| lower.contains(m)) {
                out.push_str("'***'");
            } else {
                out.push_str(&text[at..end]);
            }
            secret_next = false;
            while chars.peek().is_some_and(|(i, _)| *i < end) {
                chars.next();
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start_of_word = text[..at].chars().next_back().is_none_or(|p| !(p.is_ascii_alphanumeric() || p == '_'));
            let end =
                text[at..].find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).map_or(text.len(), |n| at + n);
            let word = &text[at..end];
            if start_of_word {
                if SECRET_OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(word)) {
                    secret_next = true;
                } else if !word.eq_ignore_ascii_case("AS") {
                    secret_next = false;
                }
            }
            out.push_str(word);
            while chars.peek().is_some_and(|(i, _)| *i < end) {
                chars.next();
            }
            continue;
        }
        if !c.is_whitespace() {
            secret_next = false;
        }
        out.push(c);
    }
    redact_userinfo(&out)
}

/// The content of the string literal opening at byte `at` (a `'`), `''` standing for a quote, and
/// the byte just past its closing quote; an unterminated literal runs to the end of the text.
fn literal_at(text: &str, at: usize) -> (String, usize) {
    let mut content = String::new();
    let mut iter = text[at + 1..].char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c == '\'' {
            if iter.peek().is_some_and(|(_, n)| *n == '\'') {
                content.push('\'');
                iter.next();
                continue;
            }
            return (content, at + 1 + i + 1);
        }
        content.push(c);
    }
    (content, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_secrets_are_masked_and_the_rest_kept() {
        let sql = "COPY t FROM 's3://b/k' CREDENTIALS 'aws_access_key_id=AKIAXX;aws_secret_access_key=wJalr' \
                   DELIMITER ',' IAM_ROLE AS 'arn:aws:iam::123456789012:role/r'";
        assert_eq!(redact_credentials(sql), "COPY t FROM 's3://b/k' CREDENTIALS '***' DELIMITER ',' IAM_ROLE AS '***'");
        let keys = "copy t from 'x'\n access_key_id 'AKIA1' secret_access_key\n'it''s secret' session_token 'tok' csv";
        assert_eq!(
            redact_credentials(keys),
            "copy t from 'x'\n access_key_id '***' secret_access_key\n'***' session_token '***' csv"
        );
        // `IAM_ROLE default` has no literal; the next literal is not a secret.
        assert_eq!(
            redact_credentials("COPY t FROM 'x' IAM_ROLE default DELIMITER '|'"),
            "COPY t FROM 'x' IAM_ROLE default DELIMITER '|'"
        );
    }

    #[test]
    fn secrets_quoted_in_errors_and_urls_are_masked() {
        assert_eq!(
            redact_credentials("expected a COPY option, found: 'aws_access_key_id=AK;aws_secret_access_key=SK"),
            "expected a COPY option, found: '***'"
        );
        assert_eq!(redact_credentials("SELECT 'a''b', my_credentials 'x'"), "SELECT 'a''b', my_credentials 'x'");
        assert_eq!(redact_credentials("endpoint http://u:p@h/x"), "endpoint http://***@h/x");
    }
}
