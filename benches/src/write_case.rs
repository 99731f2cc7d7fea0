//! The three write cases of `tarn-bench write` and the SQL each engine runs for them. The case
//! description (what to write, from where, with which columns) is a small JSON file both the Tarn
//! worker and `peers.py --write` read, so the two engines write the very same input.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// One write measured side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCase {
    /// `lineitem` (Parquet) rewritten as one unpartitioned Parquet Snappy table.
    Ctas,
    /// The same, Hive-partitioned by `year(l_shipdate) AS ship_year`.
    CtasByShipYear,
    /// The CSV copy of `lineitem` loaded into a local table.
    CopyCsv,
}

impl WriteCase {
    pub const ALL: [WriteCase; 3] = [WriteCase::Ctas, WriteCase::CtasByShipYear, WriteCase::CopyCsv];

    /// The key on the command line of the workers and in the case file.
    pub fn key(self) -> &'static str {
        match self {
            WriteCase::Ctas => "ctas",
            WriteCase::CtasByShipYear => "ctas-ship-year",
            WriteCase::CopyCsv => "copy-csv",
        }
    }

    pub fn from_key(key: &str) -> Result<WriteCase> {
        match WriteCase::ALL.into_iter().find(|case| case.key() == key) {
            Some(case) => Ok(case),
            None => bail!("unknown write case '{key}'; known: ctas, ctas-ship-year, copy-csv"),
        }
    }

    /// The label of the report line.
    pub fn label(self) -> &'static str {
        match self {
            WriteCase::Ctas => "CTAS → Parquet Snappy, unpartitioned",
            WriteCase::CtasByShipYear => "CTAS → Parquet Snappy, partitioned by ship year",
            WriteCase::CopyCsv => "COPY CSV → local table",
        }
    }

    /// Whether the input is the CSV copy of `lineitem` (else its Parquet copy).
    pub fn reads_csv(self) -> bool {
        self == WriteCase::CopyCsv
    }
}

/// What a worker needs: the case, the folder of input files and their columns (Hive types).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    pub case: WriteCase,
    pub source: PathBuf,
    pub columns: Vec<(String, String)>,
}

impl CaseFile {
    pub fn to_json(&self) -> Value {
        json!({ "case": self.case.key(), "source": self.source, "columns": self.columns })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        fs::write(path, serde_json::to_string_pretty(&self.to_json())?)
            .with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(path: &Path) -> Result<CaseFile> {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let case = WriteCase::from_key(value["case"].as_str().context("the case file has no \"case\"")?)?;
        let source = PathBuf::from(value["source"].as_str().context("the case file has no \"source\"")?);
        let columns = value["columns"]
            .as_array()
            .context("the case file has no \"columns\"")?
            .iter()
            .map(|pair| match (pair[0].as_str(), pair[1].as_str()) {
                (Some(name), Some(ty)) => Ok((name.to_string(), ty.to_string())),
                _ => bail!("a column of the case file is not [name, type]: {pair}"),
            })
            .collect::<Result<_>>()?;
        Ok(CaseFile { case, source, columns })
    }

    /// Tarn's statements: the untimed setup, the timed write into `out` (a fresh folder) and the
    /// untimed read-back whose row is compared across engines.
    pub fn tarn_sql(&self, out: &Path) -> TarnSql {
        let columns: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        let source = self.source.display();
        match self.case {
            WriteCase::Ctas | WriteCase::CtasByShipYear => {
                let typed: Vec<String> = self.columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
                let (select, partitioning) = if self.case == WriteCase::CtasByShipYear {
                    (
                        format!("{}, year(l_shipdate) AS ship_year", columns.join(", ")),
                        ", partitioned_by = ARRAY['ship_year']",
                    )
                } else {
                    (columns.join(", "), "")
                };
                TarnSql {
                    setup: vec![format!(
                        "CREATE EXTERNAL TABLE lineitem ({}) STORED AS PARQUET LOCATION '{source}'",
                        typed.join(", ")
                    )],
                    write: format!(
                        "CREATE TABLE written WITH (external_location = '{}/', format = 'PARQUET', \
                         write_compression = 'SNAPPY'{partitioning}) AS SELECT {select} FROM lineitem",
                        out.display()
                    ),
                    check: checksum_sql("written"),
                }
            }
            WriteCase::CopyCsv => {
                let typed: Vec<String> =
                    self.columns.iter().map(|(n, t)| format!("{n} {}", redshift_type(t))).collect();
                TarnSql {
                    setup: vec![format!("CREATE TABLE lineitem_local ({})", typed.join(", "))],
                    write: format!("COPY lineitem_local FROM '{source}/' CSV IGNOREHEADER 1"),
                    check: checksum_sql("lineitem_local"),
                }
            }
        }
    }
}

/// Tarn's statements for one run of a case.
#[derive(Debug, Clone)]
pub struct TarnSql {
    pub setup: Vec<String>,
    pub write: String,
    pub check: String,
}

/// The read-back both engines answer for what they wrote: rows and a money checksum.
pub fn checksum_sql(table: &str) -> String {
    format!("SELECT count(*), sum(l_extendedprice) FROM {table}")
}

/// A Redshift column type for a Hive one (local tables are created with Redshift DDL).
fn redshift_type(hive: &str) -> String {
    match hive {
        "string" => "varchar".to_string(),
        "int" => "integer".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(case: WriteCase) -> CaseFile {
        CaseFile {
            case,
            source: PathBuf::from("/d/lineitem"),
            columns: vec![
                ("l_extendedprice".into(), "decimal(15,2)".into()),
                ("l_shipdate".into(), "date".into()),
                ("l_comment".into(), "string".into()),
            ],
        }
    }

    #[test]
    fn case_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("tarn-bench-case-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("case.json");
        let original = case(WriteCase::CtasByShipYear);
        original.write(&path).unwrap();
        assert_eq!(CaseFile::read(&path).unwrap(), original);
        fs::remove_dir_all(&dir).unwrap();
        assert!(WriteCase::from_key("unload").is_err());
    }

    #[test]
    fn partitioned_ctas_puts_the_partition_column_last() {
        let sql = case(WriteCase::CtasByShipYear).tarn_sql(Path::new("/o"));
        assert!(sql.write.contains("partitioned_by = ARRAY['ship_year']"), "{}", sql.write);
        assert!(sql.write.contains("l_comment, year(l_shipdate) AS ship_year FROM lineitem"), "{}", sql.write);
        let plain = case(WriteCase::Ctas).tarn_sql(Path::new("/o"));
        assert!(!plain.write.contains("partitioned_by"));
        let copy = case(WriteCase::CopyCsv).tarn_sql(Path::new("/o"));
        assert_eq!(
            copy.setup[0],
            "CREATE TABLE lineitem_local (l_extendedprice decimal(15,2), l_shipdate date, l_comment varchar)"
        );
        assert!(copy.write.ends_with("CSV IGNOREHEADER 1"));
    }
}
