//! What a benchmark run is about, independent of the engine that runs it: the tables (their files,
//! format and columns) and the queries. The same description registers the tables in Tarn and is
//! handed to the peers' driver as JSON, so every engine reads the very same files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// How a table's files are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Parquet,
    /// Comma-separated with one header line and `"` quoting (what `tpchgen-cli csv` writes).
    Csv,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

/// One table: a folder of files in one format, with the columns in file order. Types are spelled
/// as Hive DDL spells them (`bigint`, `decimal(15,2)`, `string`, `date`); the peers' driver maps
/// them to its engines' types.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: String,
    pub format: FileFormat,
    pub location: PathBuf,
    pub columns: Vec<(String, String)>,
    /// A dimension table that Tarn should hold as a local table when it can (as Redshift Spectrum
    /// users join lake facts with local dimensions); the peers read its files either way.
    pub prefer_local: bool,
}

impl TableSpec {
    pub fn new(name: &str, format: FileFormat, location: PathBuf, columns: &[(&str, &str)]) -> TableSpec {
        TableSpec {
            name: name.to_string(),
            format,
            location,
            columns: columns.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
            prefer_local: false,
        }
    }

    /// The Hive `CREATE EXTERNAL TABLE` statement Tarn registers the files with, under `name`.
    pub fn external_ddl(&self, name: &str) -> String {
        let columns: Vec<String> = self.columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
        let location = self.location.display();
        let columns = columns.join(", ");
        match self.format {
            FileFormat::Parquet => {
                format!("CREATE EXTERNAL TABLE {name} ({columns}) STORED AS PARQUET LOCATION '{location}'")
            }
            FileFormat::Csv => format!(
                "CREATE EXTERNAL TABLE {name} ({columns}) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' \
                 STORED AS TEXTFILE LOCATION '{location}' TBLPROPERTIES ('skip.header.line.count'='1')"
            ),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "format": self.format.name(),
            "location": self.location,
            "columns": self.columns,
        })
    }
}

/// One query of a workload, read from `queries/<workload>/<name>.sql`.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub name: String,
    pub path: PathBuf,
}

/// Tables and queries of one run, plus a one-line description of the data for the report.
#[derive(Debug, Clone)]
pub struct Workload {
    pub title: String,
    pub tables: Vec<TableSpec>,
    pub queries: Vec<QuerySpec>,
}

impl Workload {
    /// The JSON the peers' driver reads (`peers.py --workload FILE`).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let tables: Vec<Value> = self.tables.iter().map(TableSpec::to_json).collect();
        let text = serde_json::to_string_pretty(&json!({ "title": self.title, "tables": tables }))?;
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// The `.sql` files of `dir` in name order, keeping those `selected` names (all when empty). A
/// selection matches a file stem exactly or the part before its first `_` (`s1` selects
/// `s1_region_category.sql`), so short names work on the command line.
pub fn load_queries(dir: &Path, selected: &[String]) -> Result<Vec<QuerySpec>> {
    let mut queries = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("reading queries from {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            queries.push(QuerySpec { name, path });
        }
    }
    queries.sort_by(|a, b| a.name.cmp(&b.name));
    if selected.is_empty() {
        return Ok(queries);
    }
    let mut chosen = Vec::new();
    for wanted in selected {
        let hit = queries.iter().find(|q| q.name == *wanted || q.name.split('_').next() == Some(wanted.as_str()));
        match hit {
            Some(query) => chosen.push(query.clone()),
            None => bail!("no query '{wanted}' in {}", dir.display()),
        }
    }
    Ok(chosen)
}
