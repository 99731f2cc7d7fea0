//! Hive's text conventions: backslash escapes in DDL string literals (`'\t'`, `'\001'`, `'\\'`)
//! and percent-escapes in partition folder names (`dt=2024-01-01 10%3A00`). Both follow Hive's
//! `unescapeSQLString` and `FileUtils.escapePathName`, so DDL and folders written for Hive or
//! Athena mean the same here.

/// Decodes Hive's backslash escapes. `sqlparser`'s generic tokenizer keeps backslashes as written,
/// so `FIELDS TERMINATED BY '\t'` arrives as two characters and becomes a tab here.
pub(super) fn unescape_literal(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 == chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        let octal: String = chars[i + 1..].iter().take(3).take_while(|c| matches!(c, '0'..='7')).collect();
        if octal.len() == 3 {
            if let Some(decoded) = u32::from_str_radix(&octal, 8).ok().and_then(char::from_u32) {
                out.push(decoded);
                i += 4;
                continue;
            }
        }
        if next == 'u' {
            let hex: String = chars[i + 2..].iter().take(4).collect();
            if let Some(decoded) =
                (hex.len() == 4).then(|| u32::from_str_radix(&hex, 16).ok()).flatten().and_then(char::from_u32)
            {
                out.push(decoded);
                i += 6;
                continue;
            }
        }
        out.push(match next {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            '0' => '\0',
            'Z' => '\u{1a}',
            other => other,
        });
        i += 2;
    }
    out
}

/// A single-quoted DDL literal that [`unescape_literal`] (after the tokenizer) reads back as
/// `text`: backslashes and control characters escaped as Hive writes them, quotes doubled.
pub(super) fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether Hive percent-escapes `c` in a partition folder name.
fn escaped_in_path(c: char) -> bool {
    (c as u32) < 0x20
        || matches!(c, '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '\u{7f}' | '{' | '[' | ']' | '^')
}

/// A partition value as Hive spells it in a folder name (`10:00` → `10%3A00`).
pub(super) fn escape_path_name(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if escaped_in_path(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The partition value a folder name spells (`10%3A00` → `10:00`); malformed escapes stay as
/// written, as Hive leaves them.
pub(super) fn unescape_path_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| name.to_string())
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_round_trip_through_hive_escapes() {
        assert_eq!(unescape_literal("\\t"), "\t");
        assert_eq!(unescape_literal("\\001"), "\u{1}");
        assert_eq!(unescape_literal("\\\\"), "\\");
        assert_eq!(unescape_literal("\\\""), "\"");
        assert_eq!(unescape_literal("\\u0001"), "\u{1}");
        assert_eq!(unescape_literal(","), ",");
        for text in [",", "\t", "\u{1}", "\\", "'", "\"", "a|b"] {
            let quoted = quote_literal(text);
            // The generic tokenizer turns '' into ' and keeps backslashes.
            let tokenized = quoted[1..quoted.len() - 1].replace("''", "'");
            assert_eq!(unescape_literal(&tokenized), text, "{quoted}");
        }
    }

    #[test]
    fn path_names_round_trip() {
        assert_eq!(escape_path_name("2024-01-01 10:00"), "2024-01-01 10%3A00");
        assert_eq!(escape_path_name("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(unescape_path_name("2024-01-01 10%3A00"), "2024-01-01 10:00");
        assert_eq!(unescape_path_name("100%"), "100%");
        assert_eq!(unescape_path_name("%zz"), "%zz");
    }
}
