//! Writing Arrow batches as delimited text (Athena CTAS `format='TEXTFILE'|'CSV'`), spelled so
//! that Tarn's CSV scan, Hive's `LazySimpleSerDe` and DuckDB read the values back: no header,
//! `\N` for NULL (Hive's default), dates `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS[.f]`,
//! RFC 4180 quotes only around fields that need them. Optionally gzip-compressed.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::csv::{Writer, WriterBuilder};
use arrow::record_batch::RecordBatch;
use flate2::write::GzEncoder;

use crate::error::{EngineError, Result};
use crate::io::csv_dialect::DEFAULT_NULL_FORMAT;

/// How a text file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvWriteOptions {
    pub delimiter: u8,
    pub gzip: bool,
    /// A first line of column names (UNLOAD ... HEADER); tables are written without one.
    pub header: bool,
}

/// Where the text goes: straight to the destination or through a gzip encoder.
enum TextOut<W: Write> {
    Plain(W),
    /// Boxed: the encoder's state is large beside a plain writer.
    Gzip(Box<GzEncoder<W>>),
}

impl<W: Write> Write for TextOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            TextOut::Plain(w) => w.write(buf),
            TextOut::Gzip(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            TextOut::Plain(w) => w.flush(),
            TextOut::Gzip(w) => w.flush(),
        }
    }
}

/// Counts the bytes that reach the destination, for rolling over at the target file size.
struct Counted<W: Write> {
    inner: W,
    bytes: Arc<AtomicU64>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One delimited text file being written.
pub struct CsvFileWriter<W: Write + Send> {
    writer: Writer<TextOut<Counted<W>>>,
    /// Shared with the `Counted` inside the writer, which arrow's CSV writer does not expose.
    bytes: Arc<AtomicU64>,
    rows: u64,
}

impl<W: Write + Send> CsvFileWriter<W> {
    pub fn new(destination: W, options: &CsvWriteOptions) -> CsvFileWriter<W> {
        let bytes = Arc::new(AtomicU64::new(0));
        let counted = Counted { inner: destination, bytes: bytes.clone() };
        let out = if options.gzip {
            TextOut::Gzip(Box::new(GzEncoder::new(counted, flate2::Compression::default())))
        } else {
            TextOut::Plain(counted)
        };
        let writer = WriterBuilder::new()
            .with_header(options.header)
            .with_delimiter(options.delimiter)
            .with_null(String::from_utf8_lossy(DEFAULT_NULL_FORMAT).into_owned())
            .with_date_format("%Y-%m-%d".into())
            .with_datetime_format("%Y-%m-%d %H:%M:%S%.f".into())
            .with_timestamp_format("%Y-%m-%d %H:%M:%S%.f".into())
            .build(out);
        CsvFileWriter { writer, bytes, rows: 0 }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| EngineError::execution(format!("writing CSV: {e}")))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Bytes written to the destination so far (compressed bytes when gzipped).
    pub fn estimated_size(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the text (and the gzip trailer); returns the destination.
    pub fn finish(self) -> Result<W> {
        let io_err = |e: std::io::Error| EngineError::execution(format!("finishing a CSV file: {e}"));
        let counted = match self.writer.into_inner() {
            TextOut::Plain(mut c) => {
                c.flush().map_err(io_err)?;
                c
            }
            TextOut::Gzip(g) => g.finish().map_err(io_err)?,
        };
        Ok(counted.inner)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use arrow::array::{Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_500_000), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn writes_hive_text_with_quotes_and_nulls() {
        let mut writer =
            CsvFileWriter::new(Vec::new(), &CsvWriteOptions { delimiter: b',', gzip: false, header: false });
        writer.write(&batch()).unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        assert_eq!(text, "1,\"a,b\",1970-01-01 00:00:01.500\n\\N,\\N,\\N\n");
    }

    #[test]
    fn gzip_output_decompresses_to_the_same_text() {
        let mut writer = CsvFileWriter::new(Vec::new(), &CsvWriteOptions { delimiter: b'|', gzip: true, header: true });
        writer.write(&batch()).unwrap();
        assert_eq!(writer.rows(), 2);
        let bytes = writer.finish().unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        assert!(text.starts_with("id|name|at\n1|a,b|1970-01-01 00:00:01.500\n"), "{text}");
    }
}
