//! How a table's delimited text is spelled, read from its SerDe parameters with the keys Hive and
//! Athena use (`field.delim`, `quoteChar`, `escapeChar`, `skip.header.line.count`,
//! `serialization.null.format`, `compressionType`, `date.format`, `timestamp.formats`), and the
//! decompression of whole files.

use std::io::Read;

use bytes::Bytes;
use tarn_catalog::{serde_keys, Parameters};

use crate::error::{EngineError, Result};
use crate::io::object_reader::ObjectFile;
use crate::io::text_values::TemporalFormats;

/// The NULL spelling Hive's `LazySimpleSerDe` writes when none is configured.
pub const DEFAULT_NULL_FORMAT: &[u8] = b"\\N";

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The delimited-text dialect of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDialect {
    pub delimiter: u8,
    /// `None` when quoting is switched off (`quoteChar` set to the empty string).
    pub quote: Option<u8>,
    /// The byte that makes the next byte literal (`escapeChar`); none by default.
    pub escape: Option<u8>,
    /// Physical lines to skip at the start of every file.
    pub skip_header_lines: u64,
    /// An unquoted field spelled exactly like this is NULL, for every column type.
    pub null_format: Vec<u8>,
    /// Date and timestamp spellings besides ISO, compiled once per scan.
    pub temporal: TemporalFormats,
}

impl Default for CsvDialect {
    fn default() -> CsvDialect {
        CsvDialect {
            delimiter: b',',
            quote: Some(b'"'),
            escape: None,
            skip_header_lines: 0,
            null_format: DEFAULT_NULL_FORMAT.to_vec(),
            temporal: TemporalFormats::default(),
        }
    }
}

impl CsvDialect {
    /// The dialect a table's SerDe parameters describe; unset keys take the defaults (`,`, `"`,
    /// no escape, no header, `\N`, ISO dates and timestamps).
    pub fn from_serde(params: &Parameters) -> Result<CsvDialect> {
        let mut dialect = CsvDialect::default();
        if let Some(d) = params.get(serde_keys::FIELD_DELIMITER) {
            dialect.delimiter = single_byte(serde_keys::FIELD_DELIMITER, d)?
                .ok_or_else(|| EngineError::plan(format!("{} must not be empty", serde_keys::FIELD_DELIMITER)))?;
        }
        if let Some(q) = params.get(serde_keys::QUOTE_CHAR) {
            dialect.quote = single_byte(serde_keys::QUOTE_CHAR, q)?;
        }
        if let Some(e) = params.get(serde_keys::ESCAPE_CHAR) {
            dialect.escape = single_byte(serde_keys::ESCAPE_CHAR, e)?;
        }
        if let Some(n) = params.get(serde_keys::SKIP_HEADER) {
            dialect.skip_header_lines = n.trim().parse().map_err(|_| {
                EngineError::plan(format!("{} must be a non-negative integer, not '{n}'", serde_keys::SKIP_HEADER))
            })?;
        }
        if let Some(n) = params.get(serde_keys::NULL_FORMAT) {
            dialect.null_format = n.as_bytes().to_vec();
        }
        dialect.temporal = TemporalFormats::compile(
            params.get(serde_keys::DATE_FORMAT).map(String::as_str),
            params.get(serde_keys::TIMESTAMP_FORMAT).map(String::as_str),
        )
        .map_err(|e| {
            EngineError::plan(format!(
                "{} / {} of the table: {e}",
                serde_keys::DATE_FORMAT,
                serde_keys::TIMESTAMP_FORMAT
            ))
        })?;
        if let Some(c) = params.get(serde_keys::COMPRESSION) {
            if !matches!(c.to_ascii_lowercase().as_str(), "" | "none" | "gzip" | "gz" | "zstd") {
                return Err(EngineError::Unsupported(format!(
                    "{} '{c}' (supported: gzip, zstd)",
                    serde_keys::COMPRESSION
                )));
            }
        }
        if Some(dialect.delimiter) == dialect.quote || dialect.delimiter == b'\n' {
            return Err(EngineError::plan(format!(
                "{} {:?} cannot also be the quote character or a newline",
                serde_keys::FIELD_DELIMITER,
                dialect.delimiter as char
            )));
        }
        Ok(dialect)
    }
}

/// One ASCII byte from a SerDe parameter, accepting the escaped spellings DDL leaves behind
/// (`\t`, `\001`, `\u0001`); `None` for the empty string.
fn single_byte(key: &str, text: &str) -> Result<Option<u8>> {
    let byte = match text {
        "" => return Ok(None),
        "\\t" => b'\t',
        "\\n" => b'\n',
        "\\\\" => b'\\',
        _ if text.len() == 1 && text.is_ascii() => text.as_bytes()[0],
        _ => {
            let code = text
                .strip_prefix("\\u")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| text.strip_prefix('\\').and_then(|o| u32::from_str_radix(o, 8).ok()));
            match code {
                Some(c) if c < 128 => c as u8,
                _ => {
                    return Err(EngineError::Unsupported(format!(
                        "{key} '{text}': only single ASCII characters are supported"
                    )))
                }
            }
        }
    };
    Ok(Some(byte))
}

/// The file's text, decompressed when its first bytes are a gzip or zstd magic number (which
/// plain text never starts with), so `compressionType`, `.gz` names and unmarked files all work.
pub fn decompress(file: &ObjectFile, data: Bytes) -> Result<Bytes> {
    if data.starts_with(GZIP_MAGIC) {
        let mut out = Vec::with_capacity(data.len() * 4);
        flate2::read::MultiGzDecoder::new(&data[..])
            .read_to_end(&mut out)
            .map_err(|e| file.data_error(format!("corrupt gzip data: {e}")))?;
        return Ok(Bytes::from(out));
    }
    if data.starts_with(ZSTD_MAGIC) {
        let out =
            zstd::stream::decode_all(&data[..]).map_err(|e| file.data_error(format!("corrupt zstd data: {e}")))?;
        return Ok(Bytes::from(out));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Parameters {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_serde_parameters_with_defaults() {
        assert_eq!(CsvDialect::from_serde(&Parameters::new()).unwrap(), CsvDialect::default());
        let d = CsvDialect::from_serde(&params(&[
            ("field.delim", "|"),
            ("quoteChar", "'"),
            ("escapeChar", "\\\\"),
            ("skip.header.line.count", "1"),
            ("serialization.null.format", "NULL"),
        ]))
        .unwrap();
        assert_eq!((d.delimiter, d.quote, d.escape, d.skip_header_lines), (b'|', Some(b'\''), Some(b'\\'), 1));
        assert_eq!(d.null_format, b"NULL");
        assert_eq!(CsvDialect::from_serde(&params(&[("field.delim", "\\t")])).unwrap().delimiter, b'\t');
        assert_eq!(CsvDialect::from_serde(&params(&[("field.delim", "\\001")])).unwrap().delimiter, 1);
        assert_eq!(CsvDialect::from_serde(&params(&[("field.delim", "\u{1}")])).unwrap().delimiter, 1);
        assert!(CsvDialect::from_serde(&params(&[("field.delim", "||")])).is_err());
        assert!(CsvDialect::from_serde(&params(&[("skip.header.line.count", "x")])).is_err());
        assert!(CsvDialect::from_serde(&params(&[("compressionType", "lzo")])).is_err());
        let d = CsvDialect::from_serde(&params(&[
            ("date.format", "MM/dd/yyyy"),
            ("timestamp.formats", "yyyy/MM/dd HH:mm:ss,yyyy-MM-dd'T'HH:mm:ss.SSSSSS"),
        ]))
        .unwrap();
        let names = |p: &[crate::io::text_values::TemporalPattern]| {
            p.iter().map(|p| p.as_str().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(&d.temporal.dates), ["MM/dd/yyyy"]);
        assert_eq!(names(&d.temporal.timestamps), ["yyyy/MM/dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"]);
        let err = CsvDialect::from_serde(&params(&[("date.format", "dd-MMM-yyyy")])).unwrap_err();
        assert!(err.to_string().contains("'dd-MMM-yyyy'"), "{err}");
    }
}
