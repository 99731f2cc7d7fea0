//! The aligned table people read in a terminal.

use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, Table};

use super::RowsText;

/// Numbers right-aligned, NULL shown as `NULL` (so it differs from the empty string), and a
/// `(N rows)` footer as psql prints. Cells are never wrapped: long values widen the table.
pub fn write(out: &mut dyn Write, rows: &RowsText) -> io::Result<()> {
    if !rows.names.is_empty() {
        let mut table = Table::new();
        table.load_preset(presets::UTF8_FULL_CONDENSED);
        table.set_header(rows.names.iter());
        for row in &rows.rows {
            table.add_row(row.iter().map(|cell| cell.as_deref().unwrap_or("NULL")));
        }
        for (index, kind) in rows.kinds.iter().enumerate() {
            if let (true, Some(column)) = (kind.is_numeric(), table.column_mut(index)) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        writeln!(out, "{table}")?;
    }
    writeln!(out, "{}", row_count(rows.rows.len()))
}

/// `(1 row)`, `(3 rows)`.
pub fn row_count(count: usize) -> String {
    if count == 1 {
        "(1 row)".to_string()
    } else {
        format!("({count} rows)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::render;
    use crate::output::OutputFormat;

    #[test]
    fn aligned_with_footer() {
        let text = render(OutputFormat::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.last(), Some(&"(3 rows)"));
        assert!(lines[1].contains("id") && lines[1].contains("refunded"));
        // Numbers right-aligned: "1" sits under the last column of the two-digit "22".
        let one = lines.iter().find(|line| line.contains("plain")).unwrap();
        let twenty_two = lines.iter().find(|line| line.contains("22")).unwrap();
        assert_eq!(one.find("1 "), twenty_two.find("22").map(|at| at + 1));
        assert!(text.contains("NULL"));
        assert!(text.contains("서울 ☕"));
        assert!(text.contains("2019-05-01 00:13:11.783000"));
        // All rows are equally wide in display columns (unicode is measured, not counted in bytes).
        let widths: Vec<usize> = lines[..lines.len() - 1].iter().map(|line| display_width(line)).collect();
        assert!(widths.iter().all(|width| *width == widths[0]), "{text}");
    }

    #[test]
    fn footer_grammar() {
        assert_eq!(row_count(0), "(0 rows)");
        assert_eq!(row_count(1), "(1 row)");
        assert_eq!(row_count(2), "(2 rows)");
    }

    fn display_width(line: &str) -> usize {
        // Hangul and the coffee emoji are double-width; everything else in the sample is single.
        line.chars().map(|c| if ('\u{AC00}'..='\u{D7A3}').contains(&c) || c == '☕' { 2 } else { 1 }).sum()
    }
}
