//! Delimited-text dialect sniffing: which delimiter, quote and escape characters a file uses and
//! whether its first row is a header.
//!
//! Each candidate dialect parses the sample; the winner is the one whose rows most often agree on
//! one field count, then the one with more fields (DuckDB's sniffer rule). Header detection
//! compares the first row with the types of the rows below it and, when every column is text,
//! with how column names look (Glue's crawler misses headers of all-text files; this does not).

use crate::infer::{ColumnInference, InferredType};

/// Delimiters tried, in order of preference on a tie.
const DELIMITERS: &[u8] = b",\t|;";

/// Words that are column names far more often than data.
const NAME_WORDS: &[&str] = &[
    "id",
    "name",
    "date",
    "time",
    "type",
    "code",
    "status",
    "count",
    "amount",
    "price",
    "email",
    "city",
    "country",
    "state",
    "value",
    "key",
    "description",
    "title",
    "category",
    "total",
    "qty",
    "quantity",
    "first",
    "last",
    "address",
    "phone",
    "created",
    "updated",
    "user",
    "customer",
    "product",
    "order",
    "year",
    "month",
    "day",
    "timestamp",
    "ts",
    "dt",
    "zip",
    "region",
    "label",
    "score",
    "url",
    "number",
    "no",
    "num",
];

/// How one file's delimited text is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CsvDialect {
    pub delimiter: u8,
    /// The quote character seen in the file, `None` when no field is quoted.
    pub quote: Option<u8>,
    pub escape: Option<u8>,
}

impl CsvDialect {
    /// A parser for this dialect that keeps rows of any length (raggedness is judged later).
    fn reader<'a>(&self, text: &'a [u8]) -> csv::Reader<&'a [u8]> {
        let mut builder = csv::ReaderBuilder::new();
        builder.delimiter(self.delimiter).has_headers(false).flexible(true);
        match self.quote {
            Some(quote) => builder.quote(quote).quoting(true),
            None => builder.quoting(false),
        };
        if let Some(escape) = self.escape {
            builder.escape(Some(escape)).double_quote(false);
        }
        builder.from_reader(text)
    }

    /// The delimiter as the plan prints it (`tab` rather than an invisible character).
    pub fn delimiter_name(&self) -> String {
        match self.delimiter {
            b'\t' => "tab".into(),
            other => format!("'{}'", other as char),
        }
    }
}

/// A parsed row with the line it started on (1-based), for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    /// Offset of the row's first byte in the parsed text.
    pub byte: u64,
    pub fields: Vec<String>,
}

/// Parses `text` with `dialect`, up to `limit` rows. Invalid UTF-8 is replaced, not fatal: the
/// classifier has already refused binary files.
pub fn parse_rows(text: &[u8], dialect: &CsvDialect, limit: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut reader = dialect.reader(text);
    let mut record = csv::ByteRecord::new();
    while rows.len() < limit {
        match reader.read_byte_record(&mut record) {
            Ok(true) => rows.push(Row {
                line: record.position().map_or(0, |p| p.line()),
                byte: record.position().map_or(0, |p| p.byte()),
                fields: record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect(),
            }),
            Ok(false) | Err(_) => break,
        }
    }
    rows
}

/// The dialect that parses `text` most consistently.
pub fn sniff_dialect(text: &[u8]) -> CsvDialect {
    let quote_chars: Vec<Option<u8>> =
        [b'"', b'\''].into_iter().filter(|q| text.contains(q)).map(Some).chain([None]).collect();
    let mut best: Option<((usize, usize), CsvDialect)> = None;
    for &delimiter in DELIMITERS {
        for &quote in &quote_chars {
            let mut candidates = vec![CsvDialect { delimiter, quote, escape: None }];
            if let Some(q) = quote {
                if text.windows(2).any(|w| w == [b'\\', q]) {
                    candidates.push(CsvDialect { delimiter, quote, escape: Some(b'\\') });
                }
            }
            for dialect in candidates {
                let score = consistency(&parse_rows(text, &dialect, 200));
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    best = Some((score, dialect));
                }
            }
        }
    }
    best.map(|(_, d)| d).unwrap_or(CsvDialect { delimiter: b',', quote: None, escape: None })
}

/// (rows agreeing on the most common field count, that count); single-column parses score
/// below any multi-column one.
fn consistency(rows: &[Row]) -> (usize, usize) {
    let mut counts: std::collections::BTreeMap<usize, usize> = Default::default();
    for row in rows {
        *counts.entry(row.fields.len()).or_default() += 1;
    }
    let Some((&fields, &agreeing)) = counts.iter().max_by_key(|(fields, agreeing)| (**agreeing, **fields)) else {
        return (0, 0);
    };
    if fields < 2 {
        (0, agreeing)
    } else {
        (agreeing, fields)
    }
}

/// Whether the first row is a header, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderDecision {
    pub has_header: bool,
    pub reason: String,
}

/// Decides whether `first` names the columns whose data rows were inferred as `types`
/// (`data_columns` are the data rows' values per column, to see whether names repeat).
pub fn detect_header(first: &[String], types: &[InferredType], data_columns: &[Vec<&str>]) -> HeaderDecision {
    let decide = |has_header: bool, reason: String| HeaderDecision { has_header, reason };
    let preview = shorten(&first.join(","));
    if first.iter().any(|f| f.trim().is_empty()) && first.len() > 1 {
        let empty = first.iter().filter(|f| f.trim().is_empty()).count();
        if empty * 2 >= first.len() {
            return decide(false, format!("no header: the first row '{preview}' is mostly empty"));
        }
    }
    let typed: Vec<(usize, &InferredType)> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.data_type != tarn_catalog::SqlType::String && !t.reason.starts_with("no non-null"))
        .collect();
    if !typed.is_empty() {
        let deviating = typed
            .iter()
            .filter(|(i, t)| first.get(*i).is_some_and(|v| !ColumnInference::fits(v, &t.data_type)))
            .count();
        if deviating == typed.len() {
            let names: Vec<String> = typed.iter().take(3).map(|(_, t)| t.data_type.to_string()).collect();
            return decide(
                true,
                format!("header: the first row '{preview}' is text where the rows below hold {}", names.join("/")),
            );
        }
        if deviating == 0 {
            return decide(false, format!("no header: the first row '{preview}' has the same types as the rows below"));
        }
    }
    let all_names = first.iter().all(|f| looks_like_name(f));
    let mut seen = std::collections::HashSet::new();
    let unique = first.iter().all(|f| seen.insert(f.trim().to_lowercase()));
    let repeated = first.iter().zip(data_columns).find(|(name, values)| values.iter().any(|v| v.trim() == name.trim()));
    if !all_names {
        return decide(false, format!("no header: the first row '{preview}' does not look like column names"));
    }
    if !unique {
        return decide(false, format!("no header: the first row '{preview}' repeats a value"));
    }
    if let Some((name, _)) = repeated {
        return decide(false, format!("no header: '{name}' of the first row recurs in its column below"));
    }
    let vocabulary = first.iter().any(|f| name_signal(f));
    let data_name_like = data_columns
        .iter()
        .flat_map(|values| values.iter())
        .filter(|v| !v.trim().is_empty())
        .fold((0usize, 0usize), |(like, all), v| (like + usize::from(looks_like_name(v)), all + 1));
    let data_mostly_names = data_name_like.1 > 0 && data_name_like.0 * 2 > data_name_like.1;
    if vocabulary || !data_mostly_names {
        let why = if vocabulary {
            "look like column names (identifier spelling, words such as id/name/date)"
        } else {
            "look like column names and the rows below do not"
        };
        return decide(true, format!("header: every column is text, and the first row's values '{preview}' {why}"));
    }
    decide(false, format!("no header: every column is text and the first row '{preview}' reads like the data below"))
}

/// A plausible column name: short, starts with a letter or `_`, identifier-like characters.
fn looks_like_name(text: &str) -> bool {
    let text = text.trim();
    let Some(first) = text.chars().next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && text.chars().count() <= 64
        && text.split_whitespace().count() <= 4
        && text.chars().all(|c| c.is_alphanumeric() || " _-.#()/".contains(c))
        && !matches!(text.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "null")
}

/// Spellings that mark column names: snake_case, camelCase, or a common column word.
fn name_signal(text: &str) -> bool {
    let text = text.trim();
    if text.contains('_') {
        return true;
    }
    let camel = text.chars().next().is_some_and(|c| c.is_lowercase())
        && text.chars().any(|c| c.is_uppercase())
        && !text.contains(' ');
    camel || words(text).iter().any(|w| NAME_WORDS.contains(&w.as_str()))
}

/// Lower-case words of a name split at spaces, `-`, `_` and camelCase humps.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if (!c.is_alphanumeric() || (c.is_uppercase() && previous_lower)) && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        }
        previous_lower = c.is_lowercase();
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Catalog column names from a header: lower-case identifiers (as Glue stores them), unique,
/// `col<i>` for blanks.
pub fn column_names(header: Option<&[String]>, width: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(width);
    for i in 0..width {
        let raw = header.and_then(|h| h.get(i)).map(|s| s.trim()).unwrap_or_default();
        let mut name = String::new();
        for c in raw.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                name.push(c);
            } else if !name.ends_with('_') {
                name.push('_');
            }
        }
        let mut name = name.trim_matches('_').to_string();
        if name.is_empty() {
            name = format!("col{i}");
        }
        let base = name.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(text: &str) -> CsvDialect {
        sniff_dialect(text.as_bytes())
    }

    #[test]
    fn sniffs_delimiters_quotes_and_escapes() {
        assert_eq!(dialect("a,b,c\n1,2,3\n4,5,6\n").delimiter, b',');
        assert_eq!(dialect("a\tb\n1\t2\n").delimiter, b'\t');
        assert_eq!(dialect("a|b|c\n1|x,y|3\n2|z|4\n").delimiter, b'|');
        assert_eq!(dialect("a;b\n1,5;2\n3,5;4\n").delimiter, b';');
        let quoted = dialect("id,note\n1,\"hello, world\"\n2,\"say \"\"hi\"\"\"\n");
        assert_eq!((quoted.delimiter, quoted.quote, quoted.escape), (b',', Some(b'"'), None));
        let escaped = dialect("id,note\n1,\"a \\\"quoted\\\", word\"\n2,\"plain\"\n");
        assert_eq!(escaped.escape, Some(b'\\'));
        assert_eq!(parse_rows(b"id,note\n1,\"a \\\"q\\\", w\"\n", &escaped, 10)[1].fields, ["1", "a \"q\", w"]);
        let single = dialect("id,note\n1,'a, b'\n2,'c'\n");
        assert_eq!(single.quote, Some(b'\''));
        assert_eq!(dialect("just\none\ncolumn\n").quote, None);
    }

    fn header(rows: &[&[&str]]) -> HeaderDecision {
        let first: Vec<String> = rows[0].iter().map(|s| s.to_string()).collect();
        let width = first.len();
        let mut columns = vec![ColumnInference::default(); width];
        let mut values: Vec<Vec<&str>> = vec![Vec::new(); width];
        for row in &rows[1..] {
            for (i, v) in row.iter().enumerate() {
                columns[i].observe(v);
                values[i].push(v);
            }
        }
        let types: Vec<InferredType> = columns.iter().map(ColumnInference::conclude).collect();
        detect_header(&first, &types, &values)
    }

    #[test]
    fn detects_headers_by_type_deviation() {
        assert!(header(&[&["id", "ts"], &["1", "2024-01-01 10:00:00"], &["2", "2024-01-02 11:00:00"]]).has_header);
        assert!(!header(&[&["0", "2023-12-31 09:00:00"], &["1", "2024-01-01 10:00:00"]]).has_header);
    }

    #[test]
    fn detects_headers_of_all_text_files_by_name_likeness() {
        let named = header(&[&["first_name", "city"], &["Alice Smith", "Paris"], &["Bob Jones", "Oslo"]]);
        assert!(named.has_header, "{}", named.reason);
        assert!(header(&[&["Name", "Country"], &["alice", "France"], &["bob", "Norway"]]).has_header);
        let data = header(&[&["alice", "paris"], &["bob", "oslo"], &["carol", "rome"]]);
        assert!(!data.has_header, "{}", data.reason);
        assert!(!header(&[&["red", "apple"], &["red", "cherry"]]).has_header, "a value recurring below is data");
        assert!(!header(&[&["hello world, how are you?", "x"], &["a", "b"]]).has_header);
    }

    #[test]
    fn makes_catalog_column_names() {
        let header: Vec<String> = ["Order ID", "order-id", "", "Amount (€)"].iter().map(|s| s.to_string()).collect();
        assert_eq!(column_names(Some(&header), 5), ["order_id", "order_id_2", "col2", "amount", "col4"]);
        assert_eq!(column_names(None, 2), ["col0", "col1"]);
    }
}
