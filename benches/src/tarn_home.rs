//! A fresh Tarn home holding a workload's tables, made once per run before any query is timed.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use tarn_engine::Session;

use crate::workload::Workload;

/// Recreates `home` and registers every table with `CREATE EXTERNAL TABLE`. A table that prefers
/// to be local becomes one by `CREATE TABLE ... AS SELECT` from its external twin `<name>_lake`
/// when Tarn supports it; otherwise it stays external. Returns notes on what was decided.
pub fn prepare_home(home: &Path, workload: &Workload) -> Result<Vec<String>> {
    if home.exists() {
        fs::remove_dir_all(home).with_context(|| format!("removing the old home {}", home.display()))?;
    }
    fs::create_dir_all(home)?;
    let mut session = Session::open(home).with_context(|| format!("opening a Tarn home in {}", home.display()))?;
    let mut notes = Vec::new();
    let mut local = Vec::new();
    let mut local_tables_work = true;
    for table in &workload.tables {
        if table.prefer_local && local_tables_work {
            let lake_name = format!("{}_lake", table.name);
            execute(&mut session, &table.external_ddl(&lake_name))?;
            let ctas = format!("CREATE TABLE {} AS SELECT * FROM {lake_name}", table.name);
            match session.execute(&ctas) {
                Ok(_) => {
                    local.push(table.name.as_str());
                    continue;
                }
                Err(e) => {
                    notes.push(format!(
                        "dimension tables are external (Parquet), not local: `{ctas}` failed: {}",
                        first_line(&e.to_string())
                    ));
                    local_tables_work = false;
                }
            }
        }
        execute(&mut session, &table.external_ddl(&table.name))?;
    }
    if !local.is_empty() {
        notes.push(format!("local tables in Tarn (CTAS from their Parquet files): {}", local.join(", ")));
    }
    Ok(notes)
}

fn execute(session: &mut Session, sql: &str) -> Result<()> {
    session.execute(sql).map_err(|e| anyhow::anyhow!("{}", e.render(sql))).with_context(|| format!("running {sql}"))?;
    Ok(())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
