//! Hive partition folders as writers name them: `key=value/` per partition key, the value spelled
//! as text and escaped as Hive's `FileUtils.escapePathName` escapes it, NULL spelled
//! `__HIVE_DEFAULT_PARTITION__`, so Athena, Spark, DuckDB and Tarn's own scans read them back.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use tarn_catalog::HIVE_DEFAULT_PARTITION;

use crate::error::{EngineError, Result};

/// The partition value of every row of `array`, as catalog text (unescaped; `None` for NULL).
pub fn partition_texts(array: &ArrayRef) -> Result<Vec<Option<String>>> {
    if let DataType::Timestamp(TimeUnit::Microsecond, None) = array.data_type() {
        let values = array.as_primitive::<TimestampMicrosecondType>();
        return Ok((0..values.len()).map(|i| values.is_valid(i).then(|| timestamp_text(values.value(i)))).collect());
    }
    let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
        .map_err(|e| EngineError::execution(format!("cannot spell {} partition values: {e}", array.data_type())))?;
    Ok((0..array.len()).map(|i| array.is_valid(i).then(|| formatter.value(i).to_string())).collect())
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, the text form Hive and Athena give timestamp partitions.
fn timestamp_text(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(ts) => {
            let fraction = micros.rem_euclid(1_000_000);
            let base = ts.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
            if fraction == 0 {
                base
            } else {
                format!("{base}.{fraction:06}")
            }
        }
        None => micros.to_string(),
    }
}

/// The folder of one partition below the table: `k1=v1/k2=v2/`.
pub fn partition_folder(keys: &[String], values: &[Option<String>]) -> String {
    let mut folder = String::new();
    for (key, value) in keys.iter().zip(values) {
        folder.push_str(&escape_path_name(key));
        folder.push('=');
        match value {
            Some(v) if !v.is_empty() => folder.push_str(&escape_path_name(v)),
            _ => folder.push_str(HIVE_DEFAULT_PARTITION),
        }
        folder.push('/');
    }
    folder
}

/// The catalog spelling of partition values: Hive's folder text, NULL (and empty text, which Hive
/// cannot tell from NULL in a folder name) as `__HIVE_DEFAULT_PARTITION__`.
pub fn catalog_values(values: &[Option<String>]) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            Some(v) if !v.is_empty() => escape_path_name(v),
            _ => HIVE_DEFAULT_PARTITION.to_string(),
        })
        .collect()
}

/// Hive's `FileUtils.escapePathName`: control characters and `"#%'*/:=?\{[]^` plus DEL become
/// `%XX` (upper-case hex).
pub fn escape_path_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let escape = matches!(c, '\u{1}'..='\u{1f}' | '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\')
            || matches!(c, '\u{7f}' | '{' | '[' | ']' | '^');
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int32Array, StringArray, TimestampMicrosecondArray};

    use super::*;

    #[test]
    fn escapes_as_hive_does() {
        assert_eq!(escape_path_name("2024-01-01 10:00:00"), "2024-01-01 10%3A00%3A00");
        assert_eq!(escape_path_name("a/b=c%"), "a%2Fb%3Dc%25");
        assert_eq!(escape_path_name("plain text-1_2"), "plain text-1_2");
    }

    #[test]
    fn spells_values_and_folders() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(2024), None]));
        assert_eq!(partition_texts(&ints).unwrap(), vec![Some("2024".to_string()), None]);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![19_723]));
        assert_eq!(partition_texts(&dates).unwrap(), vec![Some("2024-01-01".to_string())]);
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![1_704_103_200_000_000, 1_500_000]));
        assert_eq!(
            partition_texts(&ts).unwrap(),
            vec![Some("2024-01-01 10:00:00".to_string()), Some("1970-01-01 00:00:01.500000".to_string())]
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a b"]));
        assert_eq!(partition_texts(&text).unwrap(), vec![Some("a b".to_string())]);

        let keys = vec!["year".to_string(), "city".to_string()];
        let values = vec![Some("2024".to_string()), None];
        assert_eq!(partition_folder(&keys, &values), "year=2024/city=__HIVE_DEFAULT_PARTITION__/");
        assert_eq!(catalog_values(&values), vec!["2024", HIVE_DEFAULT_PARTITION]);
    }
}
