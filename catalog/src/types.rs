//! Column types as the catalog stores them: Hive/Glue type names (`int`, `varchar(32)`,
//! `decimal(10,2)`), because that is what Athena, Glue and Spark write into a catalog and what
//! `SHOW CREATE TABLE` must print back. The mapping to Arrow lives here so the crawler and the
//! engine agree on it.

use std::fmt;

use arrow_schema::{DataType, TimeUnit};

use crate::error::CatalogError;

/// A SQL column type in the subset Tarn stores and executes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    /// `decimal(precision, scale)`; precision 1..=38 as in Hive and Redshift.
    Decimal(u8, i8),
    /// `varchar(n)`; the length is kept for `SHOW CREATE TABLE` but not enforced on read.
    Varchar(Option<u32>),
    /// `char(n)`; read as text.
    Char(u32),
    /// Hive `string`.
    String,
    Date,
    Timestamp,
}

impl SqlType {
    /// Parses a Hive/Glue/Redshift type name (case-insensitive), e.g. `VARCHAR(32)`, `int4`,
    /// `decimal(12, 2)`, `timestamp without time zone`.
    pub fn parse(text: &str) -> Result<SqlType, CatalogError> {
        let norm = text.trim().to_ascii_lowercase();
        let (base, args) = match norm.find('(') {
            Some(open) if norm.ends_with(')') => {
                let args: Vec<&str> = norm[open + 1..norm.len() - 1].split(',').map(str::trim).collect();
                (norm[..open].trim(), args)
            }
            _ => (norm.as_str(), Vec::new()),
        };
        let bad = || CatalogError::InvalidType(text.to_string());
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let ty = match (base, args.len()) {
            ("boolean" | "bool", 0) => SqlType::Boolean,
            ("tinyint" | "int1", 0) => SqlType::TinyInt,
            ("smallint" | "int2", 0) => SqlType::SmallInt,
            ("int" | "integer" | "int4", 0) => SqlType::Int,
            ("bigint" | "int8" | "long", 0) => SqlType::BigInt,
            ("real" | "float" | "float4", 0) => SqlType::Real,
            ("double" | "double precision" | "float8", 0) => SqlType::Double,
            ("decimal" | "numeric", 0) => SqlType::Decimal(18, 0),
            ("decimal" | "numeric", 1) => SqlType::Decimal(checked_precision(num(args[0])?).ok_or_else(bad)?, 0),
            ("decimal" | "numeric", 2) => {
                let p = checked_precision(num(args[0])?).ok_or_else(bad)?;
                let s = num(args[1])?;
                if s > p as u32 {
                    return Err(bad());
                }
                SqlType::Decimal(p, s as i8)
            }
            ("varchar" | "character varying" | "nvarchar" | "text", 0) if base != "text" => SqlType::Varchar(None),
            ("text", 0) => SqlType::String,
            ("varchar" | "character varying" | "nvarchar", 1) => SqlType::Varchar(Some(num(args[0])?)),
            ("char" | "character" | "nchar" | "bpchar", 0) => SqlType::Char(1),
            ("char" | "character" | "nchar" | "bpchar", 1) => SqlType::Char(num(args[0])?),
            ("string", 0) => SqlType::String,
            ("date", 0) => SqlType::Date,
            ("timestamp" | "datetime" | "timestamp without time zone", 0) => SqlType::Timestamp,
            _ => return Err(bad()),
        };
        Ok(ty)
    }

    /// The Arrow type the engine uses for this column. All text is `Utf8` and all timestamps are
    /// microseconds without a zone, so every operator sees one representation per SQL type.
    pub fn to_arrow(&self) -> DataType {
        match self {
            SqlType::Boolean => DataType::Boolean,
            SqlType::TinyInt => DataType::Int8,
            SqlType::SmallInt => DataType::Int16,
            SqlType::Int => DataType::Int32,
            SqlType::BigInt => DataType::Int64,
            SqlType::Real => DataType::Float32,
            SqlType::Double => DataType::Float64,
            SqlType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            SqlType::Varchar(_) | SqlType::Char(_) | SqlType::String => DataType::Utf8,
            SqlType::Date => DataType::Date32,
            SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// The SQL type for an Arrow type found in a file (Parquet footer, inferred CSV). Text-like
    /// and timestamp variants collapse to the one representation `to_arrow` produces.
    pub fn from_arrow(dt: &DataType) -> Result<SqlType, CatalogError> {
        Ok(match dt {
            DataType::Boolean => SqlType::Boolean,
            DataType::Int8 => SqlType::TinyInt,
            DataType::Int16 | DataType::UInt8 => SqlType::SmallInt,
            DataType::Int32 | DataType::UInt16 => SqlType::Int,
            DataType::Int64 | DataType::UInt32 => SqlType::BigInt,
            DataType::UInt64 => SqlType::Decimal(20, 0),
            DataType::Float16 | DataType::Float32 => SqlType::Real,
            DataType::Float64 => SqlType::Double,
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
                SqlType::Decimal(*p, *s)
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::String,
            DataType::Dictionary(_, value) => SqlType::from_arrow(value)?,
            DataType::Date32 | DataType::Date64 => SqlType::Date,
            DataType::Timestamp(_, _) => SqlType::Timestamp,
            other => return Err(CatalogError::InvalidType(format!("unsupported Arrow type {other}"))),
        })
    }
}

fn checked_precision(p: u32) -> Option<u8> {
    (1..=38).contains(&p).then_some(p as u8)
}

impl fmt::Display for SqlType {
    /// Hive spelling, as Glue stores it and `SHOW CREATE TABLE` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => write!(f, "boolean"),
            SqlType::TinyInt => write!(f, "tinyint"),
            SqlType::SmallInt => write!(f, "smallint"),
            SqlType::Int => write!(f, "int"),
            SqlType::BigInt => write!(f, "bigint"),
            SqlType::Real => write!(f, "float"),
            SqlType::Double => write!(f, "double"),
            SqlType::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            SqlType::Varchar(Some(n)) => write!(f, "varchar({n})"),
            SqlType::Varchar(None) => write!(f, "varchar"),
            SqlType::Char(n) => write!(f, "char({n})"),
            SqlType::String => write!(f, "string"),
            SqlType::Date => write!(f, "date"),
            SqlType::Timestamp => write!(f, "timestamp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dialect_spellings() {
        assert_eq!(SqlType::parse("VARCHAR(32)").unwrap(), SqlType::Varchar(Some(32)));
        assert_eq!(SqlType::parse("int4").unwrap(), SqlType::Int);
        assert_eq!(SqlType::parse("decimal(12, 2)").unwrap(), SqlType::Decimal(12, 2));
        assert_eq!(SqlType::parse("timestamp without time zone").unwrap(), SqlType::Timestamp);
        assert!(SqlType::parse("decimal(2,5)").is_err());
        assert!(SqlType::parse("decimal(39,0)").is_err());
        assert!(SqlType::parse("blob").is_err());
    }

    #[test]
    fn display_round_trips() {
        for t in ["int", "bigint", "varchar(32)", "decimal(10,2)", "string", "timestamp", "date", "boolean", "double"] {
            assert_eq!(SqlType::parse(t).unwrap().to_string(), t);
        }
    }
}
