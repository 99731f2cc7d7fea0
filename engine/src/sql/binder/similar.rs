//! `SIMILAR TO`: the SQL-standard pattern language (LIKE's `%` and `_` plus regular-expression
//! alternation, repetition and grouping), bound as `regexp_like` over the equivalent regular
//! expression. The translation follows PostgreSQL's `similar_escape`: the pattern must match the
//! whole string, `%`/`_` are wildcards outside brackets, `.` `^` `$` are literal, and the escape
//! character (default `\`) makes the next character literal.

use std::fmt::Write;

/// The `regex`-crate pattern equivalent to SQL `pattern` under `escape` (`None`: no escape
/// character, as with `ESCAPE ''`). Errors name what is wrong with the pattern.
pub(crate) fn similar_to_regex(pattern: &str, escape: Option<char>) -> Result<String, String> {
    // `(?s)`: `%` and `_` match newlines too, as in PostgreSQL.
    let mut out = String::from("(?s)^(?:");
    let mut chars = pattern.chars();
    let mut in_bracket = false;
    let mut in_braces = false;
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            let Some(next) = chars.next() else {
                return Err(format!("SIMILAR TO pattern '{pattern}' ends with the escape character"));
            };
            push_literal(&mut out, next);
            continue;
        }
        if in_bracket {
            // Bracket expressions pass through; only a backslash needs escaping for the regex crate.
            match c {
                ']' => {
                    in_bracket = false;
                    out.push(']');
                }
                '\\' => out.push_str("\\\\"),
                '[' => out.push_str("\\["),
                _ => out.push(c),
            }
            continue;
        }
        if in_braces {
            // A repetition count `{m}`, `{m,}`, `{m,n}` passes through.
            in_braces = c != '}';
            out.push(c);
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_bracket = true;
                out.push('[');
                // A leading `^` negates and a leading `]` is literal, as in POSIX brackets.
                let mut rest = chars.clone();
                if rest.next() == Some('^') {
                    out.push('^');
                    chars.next();
                }
                if chars.clone().next() == Some(']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '(' => out.push_str("(?:"),
            '{' => {
                in_braces = true;
                out.push('{');
            }
            '|' | '*' | '+' | '?' | ')' => out.push(c),
            _ => push_literal(&mut out, c),
        }
    }
    if in_bracket {
        return Err(format!("SIMILAR TO pattern '{pattern}' has an unterminated bracket expression"));
    }
    out.push_str(")$");
    // Unbalanced parentheses or a bad repetition count surface here, at bind time.
    regex::Regex::new(&out).map_err(|e| format!("SIMILAR TO pattern '{pattern}' is not valid: {}", first_line(&e)))?;
    Ok(out)
}

fn first_line(error: &regex::Error) -> String {
    let text = error.to_string();
    let line = text.lines().rev().find(|l| l.starts_with("error:")).unwrap_or(text.as_str());
    line.trim_start_matches("error:").trim().to_string()
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{:02x}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::similar_to_regex;

    fn matches(text: &str, pattern: &str) -> bool {
        let regex = regex::Regex::new(&similar_to_regex(pattern, Some('\\')).unwrap()).unwrap();
        regex.is_match(text)
    }

    #[test]
    fn postgres_documented_examples() {
        // From the PostgreSQL manual, "SIMILAR TO Regular Expressions".
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "a"), "the pattern must match the whole string");
        assert!(matches("abc", "%(b|d)%"));
        assert!(!matches("abc", "(b|c)%"));
        assert!(matches("-abc-", "-%-"));
        assert!(!matches("xabcy", "-%-"));
    }

    #[test]
    fn wildcards_brackets_and_repetition() {
        assert!(matches("a1", "a_"));
        assert!(!matches("a", "a_"));
        assert!(matches("line1\nline2", "line%"));
        assert!(matches("b7", "[a-c][0-9]"));
        assert!(!matches("d7", "[a-c][0-9]"));
        assert!(matches("x", "[^a-c]"));
        assert!(matches("%", "[%]"));
        assert!(matches("aaa", "a+"));
        assert!(matches("ab", "a{1,2}b?"));
        assert!(matches("a.c", "a.c"));
        assert!(!matches("abc", "a.c"), "a dot is literal in SIMILAR TO");
        assert!(matches("a$^", "a$^"));
    }

    #[test]
    fn escape_character_makes_the_next_literal() {
        assert!(matches("a_c", "a\\_c"));
        assert!(!matches("abc", "a\\_c"));
        assert!(matches("50%", "50\\%"));
        let with_hash = similar_to_regex("a#%", Some('#')).unwrap();
        assert!(regex::Regex::new(&with_hash).unwrap().is_match("a%"));
        assert!(similar_to_regex("abc\\", Some('\\')).unwrap_err().contains("escape"));
        assert!(similar_to_regex("[abc", Some('\\')).unwrap_err().contains("bracket"));
        assert!(similar_to_regex("(ab", Some('\\')).unwrap_err().contains("not valid"));
    }
}
