//! One delimited-text file from its sample: dialect, raggedness, header, column types, and an
//! estimate of its row count.

use crate::infer::{format_count, ColumnInference};
use crate::sample::{inner_lines, TextSample};
use crate::schema::FileColumn;
use crate::sniff::{column_names, detect_header, parse_rows, sniff_dialect, CsvDialect, HeaderDecision, Row};

/// Bytes of the head the dialect is sniffed from (parsing every candidate is the costly part).
const SNIFF_BYTES: usize = 64 * 1024;

/// Extensions that say "delimited text" even when every line holds a single field.
const TEXT_EXTENSIONS: &[&str] = &["csv", "tsv", "psv", "txt", "dat", "tab"];

/// What sampling learned about one delimited-text file.
#[derive(Debug, Clone)]
pub struct DelimitedFile {
    pub dialect: CsvDialect,
    pub header: HeaderDecision,
    pub columns: Vec<FileColumn>,
    /// Rows below the header: exact when the whole file was read, else estimated.
    pub rows: u64,
    pub rows_exact: bool,
    /// Some nulls were spelled `NULL`, which the table's null format must say.
    pub word_nulls: bool,
    /// Remarks for the plan (rows from mid-file pieces that did not line up...).
    pub notes: Vec<String>,
}

/// Analyses a sampled text file named `name`; `Err` is the reason it is not usable as a table.
pub fn analyse(name: &str, sample: &TextSample, sample_rows: usize, size: u64) -> Result<DelimitedFile, String> {
    let sniff_text = &sample.head[..sample.head.len().min(SNIFF_BYTES)];
    let sniff_text = match sniff_text.iter().rposition(|&b| b == b'\n') {
        Some(last) if sample.head.len() > SNIFF_BYTES => &sniff_text[..=last],
        _ => sniff_text,
    };
    let dialect = sniff_dialect(sniff_text);
    let head_budget = if sample.pieces.is_empty() { sample_rows } else { sample_rows.div_ceil(2) };
    let rows = parse_rows(&sample.head, &dialect, head_budget + 1);
    let Some(width) = common_width(&rows) else {
        return Err("no rows: the file holds only blank lines".into());
    };
    if width == 1 && !has_text_extension(name) {
        return Err("not delimited: no ',', tab, '|' or ';' separates fields, and the name does not say CSV".into());
    }
    let ragged: Vec<&Row> = rows.iter().filter(|r| r.fields.len() != width).collect();
    if let Some(first) = ragged.first() {
        return Err(format!(
            "ragged rows: line {} has {} fields where the file has {width} ({} of {} sampled rows differ); \
             fix the file or exclude it",
            first.line,
            first.fields.len(),
            ragged.len(),
            rows.len()
        ));
    }
    let mut notes = Vec::new();
    let mut piece_rows = Vec::new();
    let mut misaligned = 0usize;
    // (rows, bytes) spanned by parsed rows, from the first row's start to the last row's start.
    let mut span = row_span(&rows);
    if !sample.pieces.is_empty() {
        let per_piece = (sample_rows / 2).div_ceil(sample.pieces.len()).max(1);
        for piece in &sample.pieces {
            let parsed = parse_rows(inner_lines(piece), &dialect, per_piece);
            let (n, bytes) = row_span(&parsed);
            span = (span.0 + n, span.1 + bytes);
            for row in parsed {
                if row.fields.len() == width {
                    piece_rows.push(row);
                } else {
                    misaligned += 1;
                }
            }
        }
    }
    if misaligned > 0 {
        notes.push(format!(
            "{misaligned} rows sampled mid-file did not split into {width} fields (a quoted newline or ragged rows) \
             and were not used for inference"
        ));
    }
    let data_rows: Vec<&Row> = rows.iter().skip(1).chain(piece_rows.iter()).collect();
    let mut inference = vec![ColumnInference::default(); width];
    for row in &data_rows {
        for (column, value) in inference.iter_mut().zip(&row.fields) {
            column.observe(value);
        }
    }
    let types: Vec<_> = inference.iter().map(ColumnInference::conclude).collect();
    let by_column: Vec<Vec<&str>> =
        (0..width).map(|i| data_rows.iter().map(|r| r.fields[i].as_str()).collect()).collect();
    let header = if data_rows.is_empty() {
        HeaderDecision { has_header: true, reason: "header: the file has a single row, read as column names".into() }
    } else {
        detect_header(&rows[0].fields, &types, &by_column)
    };
    if !header.has_header {
        for (column, value) in inference.iter_mut().zip(&rows[0].fields) {
            column.observe(value);
        }
    }
    let names = column_names(header.has_header.then_some(&rows[0].fields[..]), width);
    let columns = names
        .into_iter()
        .zip(&inference)
        .map(|(name, column)| {
            let inferred = column.conclude();
            FileColumn { name, data_type: inferred.data_type, reason: inferred.reason, format: inferred.format }
        })
        .collect();
    let word_nulls = inference.iter().any(ColumnInference::has_word_nulls);
    let sampled_rows = rows.len() - usize::from(header.has_header);
    let (rows_total, rows_exact) = if sample.whole && rows.len() <= head_budget {
        (sampled_rows as u64, true)
    } else {
        let row_bytes = if span.0 > 0 { span.1 as f64 / span.0 as f64 } else { sample.head.len() as f64 };
        let estimate = (size as f64 * sample.expansion / row_bytes.max(1.0)).round() as u64;
        (estimate.saturating_sub(u64::from(header.has_header)), false)
    };
    notes.push(format!(
        "{} rows sampled{}",
        format_count((sampled_rows + piece_rows.len()) as u64),
        if sample.pieces.is_empty() {
            " from the start".to_string()
        } else {
            format!(" from the start and {} places further on", sample.pieces.len())
        }
    ));
    Ok(DelimitedFile { dialect, header, columns, rows: rows_total, rows_exact, word_nulls, notes })
}

/// Rows and bytes between the first and the last parsed row's starts: the average row length
/// of what was parsed, whatever part of the text the parse stopped at.
fn row_span(rows: &[Row]) -> (u64, u64) {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) if rows.len() > 1 => ((rows.len() - 1) as u64, last.byte - first.byte),
        _ => (0, 0),
    }
}

/// The field count most rows have; `None` for no rows.
fn common_width(rows: &[Row]) -> Option<usize> {
    let mut counts = std::collections::BTreeMap::<usize, usize>::new();
    for row in rows {
        *counts.entry(row.fields.len()).or_default() += 1;
    }
    counts.into_iter().max_by_key(|&(width, n)| (n, width)).map(|(width, _)| width)
}

fn has_text_extension(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let base = base.trim_end_matches(".gz").trim_end_matches(".zst").trim_end_matches(".bz2");
    base.rsplit_once('.').is_some_and(|(_, ext)| TEXT_EXTENSIONS.contains(&ext))
}
