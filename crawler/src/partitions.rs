//! Partition folders: Hive `key=value` levels become typed partition keys named after their key;
//! other folder levels below a table become `partition_0`, `partition_1`... (as Glue names them).
//! Values are URL-decoded (`ts=10%3A00` is `10:00`), as Hive escapes them when it writes folders.

use chrono::NaiveDate;
use tarn_catalog::{SqlType, HIVE_DEFAULT_PARTITION};

use crate::infer::format_count;

/// One folder level of a file's path below its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// The Hive key (lower-case), `None` for a plain folder.
    pub key: Option<String>,
    /// The decoded value (the whole folder name for plain folders).
    pub value: String,
}

/// Splits a folder name into its Hive key and decoded value.
pub fn parse_level(name: &str) -> Level {
    match name.split_once('=') {
        Some((key, value)) if !key.is_empty() => Level { key: Some(key.to_lowercase()), value: url_decode(value) },
        _ => Level { key: None, value: url_decode(name) },
    }
}

fn url_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The partition layout of a path: one key name (or `None`) per level, e.g. `[year, month]`.
pub type Signature = Vec<Option<String>>;

pub fn signature(levels: &[Level]) -> Signature {
    levels.iter().map(|l| l.key.clone()).collect()
}

/// Describes a signature for messages: `year/month`, `partition_0`, `(none)`.
pub fn describe_signature(signature: &Signature) -> String {
    if signature.is_empty() {
        return "no partition folders".into();
    }
    key_names(signature).join("/")
}

/// The partition key names of a signature: Hive keys, or `partition_<level>` for plain folders.
pub fn key_names(signature: &Signature) -> Vec<String> {
    signature.iter().enumerate().map(|(i, key)| key.clone().unwrap_or_else(|| format!("partition_{i}"))).collect()
}

/// The type of a partition key from all its values: integer, date or text, the same for every
/// value; `__HIVE_DEFAULT_PARTITION__` (NULL) does not count.
pub fn key_type(name: &str, values: &[&str]) -> (SqlType, String) {
    let present: Vec<&str> = values.iter().copied().filter(|v| *v != HIVE_DEFAULT_PARTITION).collect();
    let mut distinct = present.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let examples = distinct.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    let more = if distinct.len() > 3 { format!(" and {} more", distinct.len() - 3) } else { String::new() };
    let count = format_count(distinct.len() as u64);
    if present.is_empty() {
        return (SqlType::String, format!("{name}: only NULL partitions, kept as text"));
    }
    let integers: Option<Vec<i64>> = present.iter().map(|v| v.parse::<i64>().ok()).collect();
    if let Some(integers) = integers {
        let fits_int = integers.iter().all(|v| i32::try_from(*v).is_ok());
        let data_type = if fits_int { SqlType::Int } else { SqlType::BigInt };
        return (data_type, format!("{count} values ({examples}{more}) are all integers"));
    }
    if present.iter().all(|v| v.len() == 10 && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()) {
        return (SqlType::Date, format!("{count} values ({examples}{more}) all match yyyy-MM-dd"));
    }
    let odd = present
        .iter()
        .find(|v| v.parse::<i64>().is_err() && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err())
        .copied()
        .unwrap_or_default();
    (SqlType::String, format!("{count} values ({examples}{more}); '{odd}' is not an integer or a date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hive_and_plain_levels_with_decoding() {
        assert_eq!(parse_level("Year=2024"), Level { key: Some("year".into()), value: "2024".into() });
        assert_eq!(parse_level("ts=2024-01-01 10%3A00%3A00").value, "2024-01-01 10:00:00");
        assert_eq!(parse_level("city=S%C3%A3o Paulo").value, "São Paulo");
        assert_eq!(parse_level("2024"), Level { key: None, value: "2024".into() });
        assert_eq!(parse_level("=x").key, None);
        let sig = signature(&[parse_level("year=2024"), parse_level("05")]);
        assert_eq!(key_names(&sig), ["year", "partition_1"]);
        assert_eq!(describe_signature(&sig), "year/partition_1");
    }

    #[test]
    fn types_keys_from_all_values() {
        assert_eq!(key_type("year", &["2023", "2024", HIVE_DEFAULT_PARTITION]).0, SqlType::Int);
        assert_eq!(key_type("month", &["01", "12"]).0, SqlType::Int);
        assert_eq!(key_type("id", &["1", "99999999999"]).0, SqlType::BigInt);
        assert_eq!(key_type("dt", &["2024-01-01", "2024-02-29"]).0, SqlType::Date);
        let (t, reason) = key_type("region", &["eu", "1"]);
        assert_eq!(t, SqlType::String);
        assert!(reason.contains("'eu'"), "{reason}");
        assert_eq!(key_type("dt", &["2024-01-01", "2024-13-01"]).0, SqlType::String);
    }
}
