//! Decoding delimited text into batches of the table's declared types: a small columnar parser
//! (one typed builder per needed column, fields appended straight from the file's bytes) that
//! knows the line and column of every value, so a bad value or a ragged row fails with
//! `Data { file, row, column }`. Quoted fields may hold delimiters, doubled quotes and newlines
//! (RFC 4180); the escape character, when set, makes the next byte literal.
//!
//! A morsel is one file: its row numbers count from the file's first line, which a split at an
//! arbitrary byte offset could not know.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field, Schema, SchemaRef};
use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::io::csv_dialect::{decompress, CsvDialect};
use crate::io::object_reader::ObjectFile;
use crate::io::text_values::TextColumnBuilder;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Decodes the files of one CSV table for one scan.
#[derive(Debug, Clone)]
pub struct CsvDecoder {
    dialect: CsvDialect,
    /// Names of all data columns, in file order (the fields of a line, positionally).
    column_names: Vec<String>,
    /// For each data column, its position in the output, when the scan needs it.
    targets: Vec<Option<usize>>,
    /// The needed data columns, in declared types.
    output: SchemaRef,
}

impl CsvDecoder {
    /// `data_columns` are all data columns of the table in declared order and types; `needed`
    /// are the indices (into `data_columns`) the scan reads, in output order.
    pub fn new(dialect: CsvDialect, data_columns: &[Field], needed: &[usize]) -> Result<CsvDecoder> {
        let mut targets = vec![None; data_columns.len()];
        for (out, &col) in needed.iter().enumerate() {
            targets[col] = Some(out);
        }
        let output = Arc::new(Schema::new(needed.iter().map(|&i| data_columns[i].clone()).collect::<Vec<_>>()));
        // Fail at planning time, not on the first row, when a declared type has no text reader.
        for field in output.fields() {
            TextColumnBuilder::with_formats(field.data_type(), 0, &dialect.temporal)?;
        }
        Ok(CsvDecoder {
            dialect,
            column_names: data_columns.iter().map(|f| f.name().clone()).collect(),
            targets,
            output,
        })
    }

    /// The schema of the batches `decode` emits.
    pub fn schema(&self) -> &SchemaRef {
        &self.output
    }

    /// Decodes one whole file (possibly compressed) into batches of up to `batch_size` rows.
    pub fn decode(
        &self,
        file: &ObjectFile,
        data: Bytes,
        batch_size: usize,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let data = decompress(file, data)?;
        let batch_size = batch_size.max(1);
        let mut builders = self
            .output
            .fields()
            .iter()
            .map(|f| TextColumnBuilder::with_formats(f.data_type(), batch_size, &self.dialect.temporal))
            .collect::<Result<Vec<_>>>()?;
        // Spreadsheet exports start with a UTF-8 byte order mark; it is not part of the first value.
        let text = data.strip_prefix(UTF8_BOM).unwrap_or(&data);
        let mut parser = RecordParser::new(text, &self.dialect);
        parser.skip_lines(self.dialect.skip_header_lines);
        let mut rows = 0usize;
        let ncols = self.column_names.len();
        while parser.at_record_start() {
            let row = parser.line;
            let data_error = |column: Option<&str>, message: String| EngineError::Data {
                file: file.url.clone(),
                row: Some(row),
                column: column.map(str::to_string),
                message,
            };
            let mut col = 0;
            loop {
                let field =
                    parser.next_field().map_err(|m| data_error(self.column_names.get(col).map(String::as_str), m))?;
                if let Some(Some(target)) = self.targets.get(col) {
                    let builder = &mut builders[*target];
                    let raw = parser.raw(&field);
                    // An unquoted empty field is NULL for every type, text included, as DuckDB and
                    // Redshift COPY read it; a quoted `""` stays an empty string.
                    let null = !field.quoted && (raw.is_empty() || raw == self.dialect.null_format.as_slice());
                    if null {
                        builder.append_null();
                    } else {
                        builder
                            .append(parser.value(&field))
                            .map_err(|m| data_error(Some(&self.column_names[col]), m))?;
                    }
                }
                col += 1;
                if field.ends_record {
                    break;
                }
            }
            if col != ncols {
                let missing = self.column_names.get(col).map(String::as_str);
                return Err(data_error(missing, format!("expected {ncols} fields, found {col}")));
            }
            rows += 1;
            if rows == batch_size {
                out(self.finish_batch(&mut builders, rows)?)?;
                rows = 0;
            }
        }
        if rows > 0 {
            out(self.finish_batch(&mut builders, rows)?)?;
        }
        Ok(())
    }

    fn finish_batch(&self, builders: &mut [TextColumnBuilder], rows: usize) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = builders.iter_mut().map(TextColumnBuilder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)
    }
}

/// Where a field's value is: in the file's bytes, or unescaped into the parser's scratch buffer.
#[derive(Debug, Clone, Copy)]
struct ParsedField {
    /// The field as written, without surrounding quotes.
    raw: (usize, usize),
    /// The unescaped value lives in `scratch` (escapes or doubled quotes were present).
    in_scratch: bool,
    quoted: bool,
    ends_record: bool,
}

/// Walks the records of one file. `line` is the 1-based physical line of the position.
struct RecordParser<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
    dialect: &'a CsvDialect,
    scratch: Vec<u8>,
}

impl<'a> RecordParser<'a> {
    fn new(data: &'a [u8], dialect: &'a CsvDialect) -> RecordParser<'a> {
        RecordParser { data, pos: 0, line: 1, dialect, scratch: Vec::new() }
    }

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

    /// Skips empty lines; true when a record starts at the position.
    fn at_record_start(&mut self) -> bool {
        loop {
            let rest = &self.data[self.pos..];
            if rest.starts_with(b"\n") {
                self.pos += 1;
            } else if rest.starts_with(b"\r\n") {
                self.pos += 2;
            } else {
                return !rest.is_empty();
            }
            self.line += 1;
        }
    }

    fn raw(&self, field: &ParsedField) -> &[u8] {
        &self.data[field.raw.0..field.raw.1]
    }

    fn value(&self, field: &ParsedField) -> &[u8] {
        if field.in_scratch {
            &self.scratch
        } else {
            self.raw(field)
        }
    }

    /// Parses the field at the position and moves past its delimiter or line end.
    fn next_field(&mut self) -> std::result::Result<ParsedField, String> {
        self.scratch.clear();
        match self.dialect.quote {
            Some(q) if self.data.get(self.pos) == Some(&q) => self.quoted_field(q),
            _ => Ok(self.unquoted_field()),
        }
    }

    fn unquoted_field(&mut self) -> ParsedField {
        let data = self.data;
        let delim = self.dialect.delimiter;
        let start = self.pos;
        let mut segment = start;
        let mut in_scratch = false;
        loop {
            let rest = &data[self.pos..];
            let hit = match self.dialect.escape {
                Some(e) => memchr::memchr3(delim, b'\n', e, rest),
                None => memchr::memchr2(delim, b'\n', rest),
            };
            let Some(i) = hit else {
                self.pos = data.len();
                return self.finish_unquoted(start, segment, data.len(), in_scratch, true);
            };
            let p = self.pos + i;
            let byte = data[p];
            if Some(byte) == self.dialect.escape && byte != delim && byte != b'\n' {
                if let Some(&next) = data.get(p + 1) {
                    self.scratch.extend_from_slice(&data[segment..p]);
                    self.scratch.push(next);
                    if next == b'\n' {
                        self.line += 1;
                    }
                    in_scratch = true;
                    self.pos = p + 2;
                    segment = self.pos;
                    continue;
                }
                self.pos = data.len();
                return self.finish_unquoted(start, segment, data.len(), in_scratch, true);
            }
            self.pos = p + 1;
            let ends_record = byte == b'\n';
            if ends_record {
                self.line += 1;
            }
            return self.finish_unquoted(start, segment, p, in_scratch, ends_record);
        }
    }

    fn finish_unquoted(
        &mut self,
        start: usize,
        segment: usize,
        mut end: usize,
        in_scratch: bool,
        ends_record: bool,
    ) -> ParsedField {
        if ends_record && end > segment && self.data[end - 1] == b'\r' {
            end -= 1;
        }
        if in_scratch {
            self.scratch.extend_from_slice(&self.data[segment..end]);
        }
        ParsedField { raw: (start, end), in_scratch, quoted: false, ends_record }
    }

    fn quoted_field(&mut self, quote: u8) -> std::result::Result<ParsedField, String> {
        let data = self.data;
        let start = self.pos + 1;
        let mut segment = start;
        let mut pos = start;
        let mut in_scratch = false;
        let close = loop {
            let rest = &data[pos..];
            let hit = match self.dialect.escape {
                Some(e) if e != quote => memchr::memchr2(quote, e, rest),
                _ => memchr::memchr(quote, rest),
            };
            let Some(i) = hit else {
                return Err("unterminated quoted field (no closing quote before the end of the file)".into());
            };
            let p = pos + i;
            if data[p] == quote && data.get(p + 1) != Some(&quote) {
                break p;
            }
            // An escape byte or a doubled quote: the next byte is literal.
            let Some(&next) = data.get(p + 1) else {
                return Err("unterminated quoted field (no closing quote before the end of the file)".into());
            };
            self.scratch.extend_from_slice(&data[segment..p]);
            self.scratch.push(next);
            in_scratch = true;
            pos = p + 2;
            segment = pos;
        };
        if in_scratch {
            self.scratch.extend_from_slice(&data[segment..close]);
        }
        self.line += memchr::memchr_iter(b'\n', &data[start..close]).count() as u64;
        let after = close + 1;
        let (ends_record, next) = match data.get(after) {
            None => (true, after),
            Some(&b) if b == self.dialect.delimiter => (false, after + 1),
            Some(b'\n') => (true, after + 1),
            Some(b'\r') if data.get(after + 1) == Some(&b'\n') => (true, after + 2),
            Some(&b) => {
                return Err(format!(
                    "unexpected {:?} after the closing quote of a field (expected a delimiter or line end)",
                    b as char
                ))
            }
        };
        if ends_record && next > after {
            self.line += 1;
        }
        self.pos = next;
        Ok(ParsedField { raw: (start, close), in_scratch, quoted: true, ends_record })
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int32Type, Int64Type};
    use object_store::memory::InMemory;

    use super::*;

    fn file() -> ObjectFile {
        ObjectFile {
            store: Arc::new(InMemory::new()),
            path: "t/data.csv".into(),
            url: "file:///t/data.csv".into(),
            size: 0,
            version: None,
        }
    }

    fn columns() -> Vec<Field> {
        vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("qty", DataType::Int32, true),
        ]
    }

    fn decode_with(dialect: CsvDialect, needed: &[usize], text: &[u8], batch_size: usize) -> Result<Vec<RecordBatch>> {
        let decoder = CsvDecoder::new(dialect, &columns(), needed)?;
        let mut batches = Vec::new();
        decoder.decode(&file(), Bytes::copy_from_slice(text), batch_size, &mut |b| {
            batches.push(b);
            Ok(())
        })?;
        Ok(batches)
    }

    fn decode(text: &[u8]) -> Result<RecordBatch> {
        let batches = decode_with(CsvDialect::default(), &[0, 1, 2], text, 1024)?;
        Ok(arrow::compute::concat_batches(&Arc::new(Schema::new(columns())), &batches)?)
    }

    fn names(batch: &RecordBatch) -> Vec<Option<String>> {
        batch.column(1).as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn quotes_hold_delimiters_newlines_and_doubled_quotes() {
        let batch = decode(b"1,\"a,b\",3\r\n2,\"line1\nline2\",4\n3,\"say \"\"hi\"\"\",5").unwrap();
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(names(&batch), vec![Some("a,b".into()), Some("line1\nline2".into()), Some("say \"hi\"".into())]);
        assert_eq!(batch.column(2).as_primitive::<Int32Type>().values().to_vec(), vec![3, 4, 5]);
    }

    #[test]
    fn nulls_empty_fields_and_backslash_n() {
        let batch = decode(b"1,,\n\\N,\\N,7\n3,\"\",\"\"\n").unwrap();
        let ids = batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.iter().collect::<Vec<_>>(), vec![Some(1), None, Some(3)]);
        // Unquoted empty is NULL, quoted `""` is the empty string (DuckDB's reading).
        assert_eq!(names(&batch), vec![None, None, Some(String::new())]);
        assert_eq!(batch.column(2).null_count(), 2);
    }

    #[test]
    fn header_skip_custom_delimiter_escape_and_null_format() {
        let dialect = CsvDialect {
            delimiter: b'|',
            quote: None,
            escape: Some(b'\\'),
            skip_header_lines: 1,
            null_format: b"NULL".to_vec(),
            ..CsvDialect::default()
        };
        let text = b"id|name|qty\n1|a\\|b|NULL\n2|\"x\"|3\n";
        let batches = decode_with(dialect, &[0, 1, 2], text, 1024).unwrap();
        let batch = &batches[0];
        assert_eq!(names(batch), vec![Some("a|b".into()), Some("\"x\"".into())]);
        assert!(batch.column(2).is_null(0));
    }

    #[test]
    fn projection_and_batch_size() {
        let batches = decode_with(CsvDialect::default(), &[2], b"1,a,10\n2,b,20\n3,c,30\n", 2).unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(batches[0].schema().field(0).name(), "qty");
        let batches = decode_with(CsvDialect::default(), &[], b"1,a,10\n\n2,b,20\n", 1024).unwrap();
        assert_eq!(batches[0].num_columns(), 0);
        assert_eq!(batches[0].num_rows(), 2);
    }

    #[test]
    fn bad_value_names_file_row_and_column() {
        let dialect = CsvDialect { skip_header_lines: 1, ..CsvDialect::default() };
        let err = decode_with(dialect, &[0, 2], b"id,name,qty\n1,\"two\nlines\",2\n3,c,x7\n", 1024).unwrap_err();
        match err {
            EngineError::Data { file, row, column, message } => {
                assert_eq!(file, "file:///t/data.csv");
                assert_eq!(row, Some(4));
                assert_eq!(column.as_deref(), Some("qty"));
                assert!(message.contains("'x7'"), "{message}");
            }
            other => panic!("expected a Data error, got {other:?}"),
        }
    }

    #[test]
    fn ragged_rows_and_unterminated_quotes_are_data_errors() {
        let err = decode(b"1,a,2\n2,b\n").unwrap_err();
        assert!(
            matches!(&err, EngineError::Data { row: Some(2), column: Some(c), message, .. } if c == "qty" && message.contains("expected 3 fields, found 2")),
            "{err:?}"
        );
        let err = decode(b"1,a,2,9\n").unwrap_err();
        assert!(
            matches!(&err, EngineError::Data { row: Some(1), message, .. } if message.contains("found 4")),
            "{err:?}"
        );
        let err = decode(b"1,\"abc,2\n").unwrap_err();
        assert!(
            matches!(&err, EngineError::Data { row: Some(1), message, .. } if message.contains("unterminated")),
            "{err:?}"
        );
        assert!(decode(b"1,\"a\"x,2\n").is_err());
    }

    #[test]
    fn gzip_and_zstd_files_are_detected_by_magic() {
        use std::io::Write;
        let text = b"1,a,2\n2,b,3\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        assert_eq!(decode(&gz.finish().unwrap()).unwrap().num_rows(), 2);
        let zst = zstd::stream::encode_all(&text[..], 3).unwrap();
        assert_eq!(decode(&zst).unwrap().num_rows(), 2);
        let err = decode(&[0x1f, 0x8b, 0, 1, 2]).unwrap_err();
        assert!(matches!(err, EngineError::Data { ref message, .. } if message.contains("gzip")), "{err:?}");
    }
}
