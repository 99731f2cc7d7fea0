//! Loading delimited text the way Redshift COPY reads it, tolerating bad rows: each file is one
//! morsel; its records are split into fields (CSV quoting, `REMOVEQUOTES`, `ESCAPE`), converted
//! column by column into the table's types, and rows that fail anywhere are dropped from the
//! batch and recorded as load errors (file, line, column, raw line and value, reason), as in
//! `stl_load_errors`. Past `MAXERROR` errors the source fails and nothing is loaded.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{
    ArrayRef, BooleanArray, Date32Builder, RecordBatch, RecordBatchOptions, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, SchemaRef};
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use tarn_catalog::{Location, SqlType};

use crate::error::{EngineError, Result};
use crate::exec::pipeline::{lock, ExecContext, Morsels, Source};
use crate::io::csv_dialect::decompress;
use crate::io::object_reader::ObjectFile;
use crate::io::runtime::block_on_io;
use crate::io::text_values::TextColumnBuilder;
use crate::write::copy::datetime::{parse_date, parse_timestamp, TimeFormat};

/// One row that could not be loaded (Redshift's `stl_load_errors` columns).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub file: String,
    pub line: u64,
    pub column: String,
    pub column_type: String,
    pub raw_line: String,
    pub raw_value: String,
    pub code: i32,
    pub reason: String,
}

/// Redshift's error codes for the failures COPY records.
pub mod codes {
    pub const INVALID_DIGIT: i32 = 1207;
    pub const DELIMITER_NOT_FOUND: i32 = 1214;
    pub const EXTRA_COLUMNS: i32 = 1202;
    pub const INVALID_DATE: i32 = 1205;
    pub const INVALID_TIMESTAMP: i32 = 1206;
    pub const STRING_TOO_LONG: i32 = 1204;
    pub const INVALID_UTF8: i32 = 1220;
    pub const UNTERMINATED_QUOTE: i32 = 1213;
}

/// A table column a field of each record loads into.
#[derive(Debug, Clone)]
pub struct LoadColumn {
    pub name: String,
    pub sql_type: SqlType,
    /// Position in the output batches (the table's data columns).
    pub output: usize,
}

/// How records are spelled and converted (the COPY options for text).
#[derive(Debug, Clone)]
pub struct TextLoadOptions {
    pub delimiter: u8,
    /// CSV quoting (RFC 4180 with this quote character).
    pub csv_quote: Option<u8>,
    pub remove_quotes: bool,
    pub escape: bool,
    pub ignore_header: u64,
    pub null_as: Vec<u8>,
    pub blanks_as_null: bool,
    pub empty_as_null: bool,
    pub fill_record: bool,
    pub truncate_columns: bool,
    pub accept_inv_chars: Option<char>,
    pub trim_blanks: bool,
    /// A chrono date format; `None` for 'auto'.
    pub date_format: Option<String>,
    pub time_format: TimeFormat,
    pub max_error: u64,
}

/// An object a COPY reads.
#[derive(Debug, Clone)]
pub struct CopyFile {
    pub store: Arc<dyn ObjectStore>,
    pub path: object_store::path::Path,
    pub url: String,
    pub size: u64,
}

/// Every non-empty object whose key starts with `source` (Redshift's prefix match: a file, a
/// folder, or the common start of several keys), sorted by key.
pub fn list_copy_files(source: &Location, store: Arc<dyn ObjectStore>, ctx: &ExecContext) -> Result<Vec<CopyFile>> {
    let text = source.object_path().as_ref().to_string();
    // A folder matches the keys below it; anything else is a key prefix listed from its folder.
    let (folder, key_prefix) = if source.is_dir() {
        (text.clone(), format!("{text}/"))
    } else {
        (text.rsplit_once('/').map(|(folder, _)| folder.to_string()).unwrap_or_default(), text.clone())
    };
    let folder = object_store::path::Path::from(folder);
    let url_base = source.as_url_str();
    let listing_store = store.clone();
    let listed: Vec<object_store::ObjectMeta> = block_on_io(&ctx.io, async move {
        match listing_store.list(Some(&folder)).try_collect().await {
            Ok(listed) => Ok(listed),
            Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(EngineError::Storage { location: url_base, message: e.to_string() }),
        }
    })??;
    let mut files: Vec<CopyFile> = listed
        .into_iter()
        .filter(|meta| meta.size > 0 && meta.location.as_ref().starts_with(&key_prefix))
        .map(|meta| {
            let url = match source.bucket() {
                Some(bucket) => format!("s3://{bucket}/{}", meta.location),
                None => format!("file:///{}", meta.location),
            };
            CopyFile { store: store.clone(), path: meta.location, url, size: meta.size }
        })
        .collect();
    files.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(files)
}

/// The source of a text COPY: one morsel per file.
pub struct TextLoadSource {
    files: Vec<CopyFile>,
    columns: Vec<LoadColumn>,
    output: SchemaRef,
    options: TextLoadOptions,
    errors: Arc<Mutex<Vec<LoadError>>>,
    error_count: Arc<AtomicU64>,
}

impl TextLoadSource {
    pub fn new(
        files: Vec<CopyFile>,
        columns: Vec<LoadColumn>,
        output: SchemaRef,
        options: TextLoadOptions,
    ) -> TextLoadSource {
        TextLoadSource {
            files,
            columns,
            output,
            options,
            errors: Arc::new(Mutex::new(Vec::new())),
            error_count: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The errors recorded so far (all of them once the pipeline ran).
    pub fn errors(&self) -> Vec<LoadError> {
        let mut errors = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
        errors.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
        errors
    }

    pub fn error_count(&self) -> u64 {
        self.error_count.load(Ordering::Relaxed)
    }
}

impl Source for TextLoadSource {
    fn schema(&self) -> SchemaRef {
        self.output.clone()
    }

    fn open(&self, _ctx: &ExecContext) -> Result<Box<dyn Morsels>> {
        Ok(Box::new(TextLoadMorsels {
            files: self.files.clone(),
            columns: self.columns.clone(),
            output: self.output.clone(),
            options: self.options.clone(),
            errors: self.errors.clone(),
            error_count: self.error_count.clone(),
        }))
    }

    fn describe(&self) -> String {
        format!("CopyText files={}", self.files.len())
    }
}

struct TextLoadMorsels {
    files: Vec<CopyFile>,
    columns: Vec<LoadColumn>,
    output: SchemaRef,
    options: TextLoadOptions,
    errors: Arc<Mutex<Vec<LoadError>>>,
    error_count: Arc<AtomicU64>,
}

/// Load errors kept per COPY at most (the count goes on); enough to find the pattern.
const MAX_RECORDED_ERRORS: usize = 10_000;

impl Morsels for TextLoadMorsels {
    fn count(&self) -> usize {
        self.files.len()
    }

    fn read(&self, index: usize, ctx: &ExecContext, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        ctx.check_cancelled()?;
        let file = &self.files[index];
        let store = file.store.clone();
        let path = file.path.clone();
        let url = file.url.clone();
        let bytes = block_on_io(&ctx.io, async move {
            match store.get(&path).await {
                Ok(result) => {
                    result.bytes().await.map_err(|e| EngineError::Storage { location: url, message: e.to_string() })
                }
                Err(e) => Err(EngineError::Storage { location: url, message: e.to_string() }),
            }
        })??;
        let object = ObjectFile {
            store: file.store.clone(),
            path: file.path.clone(),
            url: file.url.clone(),
            size: file.size,
            version: None,
        };
        let data = decompress(&object, bytes)?;
        let mut cursor = Cursor { data: &data, pos: 0, line: 1, options: &self.options };
        cursor.skip_lines(self.options.ignore_header);
        let batch_size = ctx.batch_size.max(1);
        loop {
            let mut records = Vec::with_capacity(batch_size);
            while records.len() < batch_size {
                match cursor.next_record() {
                    None => break,
                    Some(Ok(record)) => records.push(record),
                    Some(Err(bad)) => self.record_error(&file.url, bad)?,
                }
            }
            if records.is_empty() {
                return Ok(());
            }
            let batch = self.convert(&file.url, &records)?;
            if batch.num_rows() > 0 {
                out(batch)?;
            }
        }
    }
}

/// A record split into fields.
struct Record<'a> {
    line: u64,
    raw: &'a [u8],
    fields: Vec<TextField<'a>>,
}

struct TextField<'a> {
    value: Cow<'a, [u8]>,
    quoted: bool,
}

/// A record that could not even be split (an unterminated quote).
struct BadRecord {
    line: u64,
    raw: String,
    code: i32,
    reason: String,
}

impl TextLoadMorsels {
    fn record_error(&self, file: &str, bad: BadRecord) -> Result<()> {
        self.push_error(LoadError {
            file: file.to_string(),
            line: bad.line,
            column: String::new(),
            column_type: String::new(),
            raw_line: bad.raw,
            raw_value: String::new(),
            code: bad.code,
            reason: bad.reason,
        })
    }

    /// Records an error; fails once there are more than `MAXERROR`, which stops the load.
    fn push_error(&self, error: LoadError) -> Result<()> {
        let count = self.error_count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut errors = lock(&self.errors)?;
        if errors.len() < MAX_RECORDED_ERRORS {
            errors.push(error.clone());
        }
        if count > self.options.max_error {
            return Err(EngineError::Data {
                file: error.file,
                row: Some(error.line),
                column: (!error.column.is_empty()).then_some(error.column),
                message: format!("{} (more than MAXERROR {} bad rows)", error.reason, self.options.max_error),
            });
        }
        Ok(())
    }

    /// Converts records column by column; rows with a bad field are recorded and dropped.
    fn convert(&self, file: &str, records: &[Record<'_>]) -> Result<RecordBatch> {
        let n = records.len();
        let mut bad = vec![false; n];
        let width = self.columns.len();
        for (row, record) in records.iter().enumerate() {
            let found = record.fields.len();
            // The column named is the last one read: where the line ended too early or too late.
            let problem = if found > width {
                Some((codes::EXTRA_COLUMNS, "Extra column(s) found".to_string(), width))
            } else if found < width && !self.options.fill_record {
                Some((codes::DELIMITER_NOT_FOUND, "Delimiter not found".to_string(), found))
            } else {
                None
            };
            if let Some((code, reason, read)) = problem {
                bad[row] = true;
                let column = self.columns.get(read.saturating_sub(1));
                self.push_error(LoadError {
                    file: file.to_string(),
                    line: record.line,
                    column: column.map(|c| c.name.clone()).unwrap_or_default(),
                    column_type: column.map(|c| c.sql_type.to_string()).unwrap_or_default(),
                    raw_line: lossy(record.raw),
                    raw_value: String::new(),
                    code,
                    reason,
                })?;
            }
        }
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; self.output.fields().len()];
        for (index, column) in self.columns.iter().enumerate() {
            let data_type = self.output.field(column.output).data_type().clone();
            let mut builder = ColumnBuilder::new(&data_type, n)?;
            for (row, record) in records.iter().enumerate() {
                let field = record.fields.get(index);
                if bad[row] {
                    builder.append_null();
                    continue;
                }
                match self.convert_field(&mut builder, column, field) {
                    Ok(()) => {}
                    Err((code, reason)) => {
                        builder.append_null();
                        bad[row] = true;
                        self.push_error(LoadError {
                            file: file.to_string(),
                            line: record.line,
                            column: column.name.clone(),
                            column_type: column.sql_type.to_string(),
                            raw_line: lossy(record.raw),
                            raw_value: field.map(|f| lossy(&f.value)).unwrap_or_default(),
                            code,
                            reason,
                        })?;
                    }
                }
            }
            arrays[column.output] = Some(builder.finish());
        }
        let columns: Vec<ArrayRef> = arrays
            .into_iter()
            .zip(self.output.fields())
            .map(|(array, field)| array.unwrap_or_else(|| arrow::array::new_null_array(field.data_type(), n)))
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let batch = RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?;
        if bad.iter().any(|b| *b) {
            let keep: BooleanArray = bad.iter().map(|b| Some(!b)).collect();
            return Ok(filter_record_batch(&batch, &keep)?);
        }
        Ok(batch)
    }

    /// Appends one field's value (or NULL) to `builder`; the error is (code, reason).
    fn convert_field(
        &self,
        builder: &mut ColumnBuilder,
        column: &LoadColumn,
        field: Option<&TextField<'_>>,
    ) -> std::result::Result<(), (i32, String)> {
        let options = &self.options;
        let Some(field) = field else {
            builder.append_null();
            return Ok(());
        };
        let raw: &[u8] = &field.value;
        if !field.quoted && raw == options.null_as.as_slice() {
            builder.append_null();
            return Ok(());
        }
        match builder {
            ColumnBuilder::Text(b) => {
                let mut text: Cow<'_, str> = match std::str::from_utf8(raw) {
                    Ok(text) => Cow::Borrowed(text),
                    Err(_) => match options.accept_inv_chars {
                        Some(replacement) => Cow::Owned(
                            String::from_utf8_lossy(raw).replace(char::REPLACEMENT_CHARACTER, &replacement.to_string()),
                        ),
                        None => {
                            return Err((
                                codes::INVALID_UTF8,
                                "String contains invalid or unsupported UTF8 codepoints".into(),
                            ))
                        }
                    },
                };
                if options.trim_blanks {
                    text = Cow::Owned(text.trim_end_matches(' ').to_string());
                }
                if (options.empty_as_null && text.is_empty())
                    || (options.blanks_as_null && !text.is_empty() && text.trim().is_empty())
                {
                    b.append_null();
                    return Ok(());
                }
                let limit = match column.sql_type {
                    SqlType::Varchar(Some(n)) | SqlType::Char(n) => Some(n as usize),
                    _ => None,
                };
                match limit {
                    // Redshift measures VARCHAR lengths in bytes.
                    Some(limit) if text.len() > limit => {
                        if !options.truncate_columns {
                            return Err((
                                codes::STRING_TOO_LONG,
                                format!("String length exceeds DDL length ({} > {limit} bytes)", text.len()),
                            ));
                        }
                        let mut end = limit;
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        b.append_value(&text[..end]);
                    }
                    _ => b.append_value(text.as_ref()),
                }
                Ok(())
            }
            ColumnBuilder::Date(b) => {
                let text = String::from_utf8_lossy(raw);
                if text.trim().is_empty() {
                    b.append_null();
                    return Ok(());
                }
                match parse_date(&text, options.date_format.as_deref()) {
                    Some(days) => {
                        b.append_value(days);
                        Ok(())
                    }
                    None => Err((codes::INVALID_DATE, format!("Invalid date format: '{text}'"))),
                }
            }
            ColumnBuilder::Timestamp(b) => {
                let text = String::from_utf8_lossy(raw);
                if text.trim().is_empty() {
                    b.append_null();
                    return Ok(());
                }
                match parse_timestamp(&text, &options.time_format) {
                    Some(micros) => {
                        b.append_value(micros);
                        Ok(())
                    }
                    None => Err((codes::INVALID_TIMESTAMP, format!("Invalid timestamp format: '{text}'"))),
                }
            }
            ColumnBuilder::Other(b) => b.append(raw).map_err(|reason| (codes::INVALID_DIGIT, reason)),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A column being built: text, dates and timestamps have COPY's own rules, the rest Hive's.
enum ColumnBuilder {
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Other(TextColumnBuilder),
}

impl ColumnBuilder {
    fn new(data_type: &DataType, capacity: usize) -> Result<ColumnBuilder> {
        Ok(match data_type {
            DataType::Utf8 => ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(_, None) => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            other => ColumnBuilder::Other(TextColumnBuilder::new(other, capacity)?),
        })
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Other(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Other(b) => b.finish(),
        }
    }
}

/// Walks the records of one file; `line` is the 1-based physical line at the position.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
    options: &'a TextLoadOptions,
}

impl<'a> Cursor<'a> {
    fn skip_lines(&mut self, n: u64) {
        for _ in 0..n {
            match memchr::memchr(b'\n', &self.data[self.pos..]) {
                Some(i) => {
                    self.pos += i + 1;
                    self.line += 1;
                }
                None => self.pos = self.data.len(),
            }
        }
    }

    /// The next record, skipping blank lines; `None` at the end of the data.
    fn next_record(&mut self) -> Option<std::result::Result<Record<'a>, BadRecord>> {
        loop {
            let rest = &self.data[self.pos..];
            if rest.is_empty() {
                return None;
            }
            if rest[0] == b'\n' || rest.starts_with(b"\r\n") {
                self.pos += if rest[0] == b'\n' { 1 } else { 2 };
                self.line += 1;
                continue;
            }
            break;
        }
        let start = self.pos;
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            let (field, ends_record) = match self.next_field() {
                Ok(next) => next,
                Err(reason) => {
                    let raw = lossy(&self.data[start..self.data.len().min(start + 1024)]);
                    self.pos = self.data.len();
                    return Some(Err(BadRecord { line, raw, code: codes::UNTERMINATED_QUOTE, reason }));
                }
            };
            fields.push(field);
            if ends_record {
                break;
            }
        }
        let mut end = self.pos;
        while end > start && matches!(self.data[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        Some(Ok(Record { line, raw: &self.data[start..end], fields }))
    }

    /// The field at the position and whether it ends its record; moves past its delimiter.
    fn next_field(&mut self) -> std::result::Result<(TextField<'a>, bool), String> {
        let options = self.options;
        let quote = options.csv_quote.or(options.remove_quotes.then_some(b'"'));
        if let Some(q) = quote {
            if self.data.get(self.pos) == Some(&q) {
                return self.quoted_field(q, options.csv_quote.is_some());
            }
        }
        let data = self.data;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        let mut segment = start;
        let mut i = start;
        while i < data.len() {
            let b = data[i];
            if options.escape && b == b'\\' && i + 1 < data.len() {
                let buf = owned.get_or_insert_with(Vec::new);
                buf.extend_from_slice(&data[segment..i]);
                buf.push(data[i + 1]);
                if data[i + 1] == b'\n' {
                    self.line += 1;
                }
                i += 2;
                segment = i;
                continue;
            }
            if b == options.delimiter || b == b'\n' {
                break;
            }
            i += 1;
        }
        let mut end = i;
        let ends_record = i >= data.len() || data[i] == b'\n';
        if ends_record && end > segment && data[end - 1] == b'\r' {
            end -= 1;
        }
        self.pos = if i < data.len() { i + 1 } else { data.len() };
        if ends_record && i < data.len() {
            self.line += 1;
        }
        let value = match owned {
            Some(mut buf) => {
                buf.extend_from_slice(&data[segment..end]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(&data[start..end]),
        };
        Ok((TextField { value, quoted: false }, ends_record))
    }

    /// A field starting with a quote: CSV (doubled quotes are literal, newlines allowed) or
    /// `REMOVEQUOTES` (the quotes are dropped, delimiters inside kept).
    fn quoted_field(&mut self, quote: u8, csv: bool) -> std::result::Result<(TextField<'a>, bool), String> {
        let data = self.data;
        let start = self.pos + 1;
        let mut owned: Option<Vec<u8>> = None;
        let mut segment = start;
        let mut i = start;
        let close = loop {
            let Some(offset) = memchr::memchr(quote, &data[i..]) else {
                return Err("Unterminated quoted field (no closing quote before the end of the file)".into());
            };
            let p = i + offset;
            if csv && data.get(p + 1) == Some(&quote) {
                let buf = owned.get_or_insert_with(Vec::new);
                buf.extend_from_slice(&data[segment..=p]);
                i = p + 2;
                segment = i;
                continue;
            }
            break p;
        };
        self.line += memchr::memchr_iter(b'\n', &data[start..close]).count() as u64;
        let value = match owned {
            Some(mut buf) => {
                buf.extend_from_slice(&data[segment..close]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(&data[start..close]),
        };
        let after = close + 1;
        let (ends_record, next) = match data.get(after) {
            None => (true, after),
            Some(&b) if b == self.options.delimiter => (false, after + 1),
            Some(b'\n') => (true, after + 1),
            Some(b'\r') if data.get(after + 1) == Some(&b'\n') => (true, after + 2),
            Some(&b) => {
                return Err(format!("Unexpected {:?} after the closing quote of a field", b as char));
            }
        };
        if ends_record && next > after {
            self.line += 1;
        }
        self.pos = next;
        Ok((TextField { value, quoted: true }, ends_record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TextLoadOptions {
        TextLoadOptions {
            delimiter: b',',
            csv_quote: None,
            remove_quotes: false,
            escape: false,
            ignore_header: 0,
            null_as: b"\\N".to_vec(),
            blanks_as_null: false,
            empty_as_null: false,
            fill_record: false,
            truncate_columns: false,
            accept_inv_chars: None,
            trim_blanks: false,
            date_format: None,
            time_format: TimeFormat::Auto,
            max_error: 0,
        }
    }

    fn split(text: &str, options: &TextLoadOptions) -> Vec<(u64, Vec<String>)> {
        let mut cursor = Cursor { data: text.as_bytes(), pos: 0, line: 1, options };
        cursor.skip_lines(options.ignore_header);
        let mut out = Vec::new();
        while let Some(record) = cursor.next_record() {
            let record = record.unwrap_or_else(|bad| panic!("{}", bad.reason));
            out.push((record.line, record.fields.iter().map(|f| lossy(&f.value)).collect()));
        }
        out
    }

    #[test]
    fn splits_csv_removequotes_and_escapes() {
        let csv = TextLoadOptions { csv_quote: Some(b'"'), ignore_header: 1, ..options() };
        assert_eq!(
            split("a,b\n1,\"x,\"\"y\"\"\"\r\n\n2,\"two\nlines\"\n3,\n", &csv),
            vec![
                (2, vec!["1".into(), "x,\"y\"".into()]),
                (4, vec!["2".into(), "two\nlines".into()]),
                (6, vec!["3".into(), String::new()])
            ]
        );
        let remove = TextLoadOptions { remove_quotes: true, delimiter: b'|', ..options() };
        assert_eq!(split("\"a|b\"|c\n", &remove), vec![(1, vec!["a|b".into(), "c".into()])]);
        let escape = TextLoadOptions { escape: true, ..options() };
        assert_eq!(split("a\\,b,c\n", &escape), vec![(1, vec!["a,b".into(), "c".into()])]);
    }
}
