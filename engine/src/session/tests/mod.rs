//! Session-level tests: SQL text in, catalog state and result rows out, on a temporary home.

mod ddl;
mod queries;

use arrow::util::display::array_value_to_string;
use tarn_catalog::Table;
use tempfile::TempDir;

use crate::error::EngineError;
use crate::session::{QueryOutput, Session};

pub(super) fn session() -> (TempDir, Session) {
    let home = tempfile::tempdir().unwrap();
    let session = Session::open(home.path()).unwrap();
    (home, session)
}

/// The rows of the last statement's output, every value as text (NULL as "NULL").
pub(super) fn query(session: &mut Session, sql: &str) -> Vec<Vec<String>> {
    let outputs = session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", e.render(sql)));
    match outputs.into_iter().last() {
        Some(QueryOutput::Rows { batches, .. }) => batches
            .iter()
            .flat_map(|b| {
                (0..b.num_rows()).map(move |row| {
                    b.columns()
                        .iter()
                        .map(|c| if c.is_null(row) { "NULL".into() } else { array_value_to_string(c, row).unwrap() })
                        .collect()
                })
            })
            .collect(),
        other => panic!("{sql}: expected rows, got {other:?}"),
    }
}

pub(super) fn column(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|mut r| r.remove(0)).collect()
}

pub(super) fn message(session: &mut Session, sql: &str) -> String {
    match session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", e.render(sql))).pop() {
        Some(QueryOutput::Message(m)) => m,
        other => panic!("{sql}: expected a message, got {other:?}"),
    }
}

pub(super) fn error(session: &mut Session, sql: &str) -> EngineError {
    match session.execute(sql) {
        Err(e) => e,
        Ok(outputs) => panic!("{sql}: expected an error, got {outputs:?}"),
    }
}

/// A table without the fields the store stamps, for comparing definitions.
pub(super) fn definition(mut table: Table) -> Table {
    table.created_at = 0;
    table.updated_at = 0;
    table.version = 0;
    table
}
