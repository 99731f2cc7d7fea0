//! RFC 4180 CSV: one header row, fields quoted only when they must be, `""` inside quotes.

use std::io::{self, Write};

use super::RowsText;

/// Lines end with `\n`, as DuckDB and `psql --csv` write; NULL is an empty field and the empty
/// string is `""`, so the two stay distinguishable (DuckDB's convention).
pub fn write(out: &mut dyn Write, rows: &RowsText) -> io::Result<()> {
    write_record(out, rows.names.iter().map(|name| Some(name.as_str())))?;
    for row in &rows.rows {
        write_record(out, row.iter().map(Option::as_deref))?;
    }
    Ok(())
}

fn write_record<'a>(out: &mut dyn Write, fields: impl Iterator<Item = Option<&'a str>>) -> io::Result<()> {
    let mut line = String::new();
    for (index, field) in fields.enumerate() {
        if index > 0 {
            line.push(',');
        }
        if let Some(text) = field {
            push_field(&mut line, text);
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

fn push_field(line: &mut String, text: &str) {
    if needs_quotes(text) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(text);
    }
}

/// Separators, quotes and line breaks must be quoted; so must leading or trailing spaces, which
/// many readers trim, and the empty string, which would otherwise read back as NULL.
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text.contains([',', '"', '\r', '\n'])
        || text.starts_with([' ', '\t'])
        || text.ends_with([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::render;
    use crate::output::OutputFormat;

    #[test]
    fn header_rows_quoting_and_nulls() {
        assert_eq!(
            render(OutputFormat::Csv),
            "id,name,amount,refunded,ts\n\
             1,plain,12.50,true,2019-05-01 00:13:11\n\
             22,\"a, \"\"quoted\"\" | line\nbreak\",,false,2019-05-01 00:13:11.783000\n\
             ,서울 ☕,-0.05,,\n"
        );
    }

    #[test]
    fn quotes_only_when_needed() {
        let mut line = String::new();
        for text in ["plain", " lead", "trail ", "", "cr\rlf", "x\"y", "ümlaut"] {
            push_field(&mut line, text);
            line.push('|');
        }
        assert_eq!(line, "plain|\" lead\"|\"trail \"|\"\"|\"cr\rlf\"|\"x\"\"y\"|ümlaut|");
    }
}
