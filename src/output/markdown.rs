//! GitHub-flavoured Markdown tables, for pasting results into issues and docs.

use std::io::{self, Write};

use super::RowsText;

/// Numeric columns are right-aligned (`---:`); NULL prints as `NULL`; `|` and line breaks are
/// escaped so a cell never breaks the table.
pub fn write(out: &mut dyn Write, rows: &RowsText) -> io::Result<()> {
    if rows.names.is_empty() {
        return Ok(());
    }
    let header: Vec<String> = rows.names.iter().map(|name| escape(name)).collect();
    writeln!(out, "| {} |", header.join(" | "))?;
    let rule: Vec<&str> = rows.kinds.iter().map(|kind| if kind.is_numeric() { "---:" } else { "---" }).collect();
    writeln!(out, "| {} |", rule.join(" | "))?;
    for row in &rows.rows {
        let cells: Vec<String> = row.iter().map(|cell| cell.as_deref().map_or("NULL".to_string(), escape)).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace("\r\n", "<br>").replace(['\n', '\r'], "<br>")
}

#[cfg(test)]
mod tests {
    use crate::output::test_rows::render;
    use crate::output::OutputFormat;

    #[test]
    fn github_table_with_escapes() {
        assert_eq!(
            render(OutputFormat::Markdown),
            "| id | name | amount | refunded | ts |\n\
             | ---: | --- | ---: | --- | --- |\n\
             | 1 | plain | 12.50 | true | 2019-05-01 00:13:11 |\n\
             | 22 | a, \"quoted\" \\| line<br>break | NULL | false | 2019-05-01 00:13:11.783000 |\n\
             | NULL | 서울 ☕ | -0.05 | NULL | NULL |\n"
        );
    }
}
