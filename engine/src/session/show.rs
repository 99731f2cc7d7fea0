//! `SHOW DATABASES`, `SHOW TABLES` and `DESCRIBE`.

use regex::RegexBuilder;
use sqlparser::ast::{ObjectName, ShowStatementFilter, ShowStatementFilterPosition, ShowStatementOptions};

use crate::error::{EngineError, Result};
use crate::session::names::{database_name, table_name};
use crate::session::result::{rows, text_column, ResultColumn};
use crate::session::{QueryOutput, Session};

/// `SHOW DATABASES|SCHEMAS [LIKE 'pattern']`: one `database_name` row per database.
pub(super) fn show_databases(session: &Session, options: &ShowStatementOptions) -> Result<QueryOutput> {
    let filter = NameFilter::new(options)?;
    let names = session.catalog.list_databases()?.into_iter().map(|d| d.name).filter(|n| filter.matches(n));
    text_column("database_name", names)
}

/// `SHOW TABLES [IN|FROM db] [LIKE 'pattern']`: one `table_name` row per table.
pub(super) fn show_tables(session: &Session, options: &ShowStatementOptions) -> Result<QueryOutput> {
    let database = match options.show_in.as_ref().and_then(|i| i.parent_name.as_ref()) {
        Some(name) => database_name(name)?,
        None => session.current_database().to_string(),
    };
    let filter = NameFilter::new(options)?;
    let names = session.catalog.list_tables(&database)?.into_iter().map(|t| t.name).filter(|n| filter.matches(n));
    text_column("table_name", names)
}

/// `DESCRIBE [db.]t`: data columns, then partition keys flagged `partition_key` (the tabular
/// form of Athena's `# Partition Information` section).
pub(super) fn describe(session: &Session, name: &ObjectName) -> Result<QueryOutput> {
    let name = table_name(session, name)?;
    let table = session.catalog.get_table(&name.database, &name.table)?;
    let keys = table.partition_keys.len();
    let columns: Vec<_> = table.all_columns().collect();
    let data_columns = columns.len() - keys;
    rows(vec![
        ResultColumn::Text("column_name", columns.iter().map(|c| Some(c.name.clone())).collect()),
        ResultColumn::Text("data_type", columns.iter().map(|c| Some(c.data_type.to_string())).collect()),
        ResultColumn::Boolean("partition_key", (0..columns.len()).map(|i| i >= data_columns).collect()),
        ResultColumn::Text("comment", columns.iter().map(|c| c.comment.clone()).collect()),
    ])
}

/// The `LIKE 'pattern'` of a `SHOW`: SQL wildcards (`%`, `_`) and Hive's (`*`, `|` between
/// alternatives, as Athena's `SHOW TABLES 'sales*|orders'`), matched case-insensitively.
struct NameFilter(Option<regex::Regex>);

impl NameFilter {
    fn new(options: &ShowStatementOptions) -> Result<NameFilter> {
        let pattern = match &options.filter_position {
            None => return Ok(NameFilter(None)),
            Some(ShowStatementFilterPosition::Infix(filter) | ShowStatementFilterPosition::Suffix(filter)) => {
                match filter {
                    ShowStatementFilter::Like(p)
                    | ShowStatementFilter::ILike(p)
                    | ShowStatementFilter::NoKeyword(p) => p,
                    ShowStatementFilter::Where(_) => {
                        return Err(EngineError::Unsupported("not supported yet: SHOW ... WHERE".into()))
                    }
                }
            }
        };
        let alternatives: Vec<String> = pattern.split('|').map(|alt| wildcard_regex(alt.trim())).collect();
        let regex = RegexBuilder::new(&format!("^(?:{})$", alternatives.join("|")))
            .case_insensitive(true)
            .build()
            .map_err(|e| EngineError::plan(format!("invalid pattern '{pattern}': {e}")))?;
        Ok(NameFilter(Some(regex)))
    }

    fn matches(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|r| r.is_match(name))
    }
}

fn wildcard_regex(pattern: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            '%' | '*' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pattern: &str) -> NameFilter {
        let options = ShowStatementOptions {
            show_in: None,
            starts_with: None,
            limit: None,
            limit_from: None,
            filter_position: Some(ShowStatementFilterPosition::Suffix(ShowStatementFilter::Like(pattern.into()))),
        };
        NameFilter::new(&options).unwrap()
    }

    #[test]
    fn like_patterns_take_sql_and_hive_wildcards() {
        assert!(filter("sales%").matches("sales_2024"));
        assert!(filter("SALES*").matches("sales_2024"));
        assert!(!filter("sales%").matches("orders"));
        assert!(filter("s_les").matches("sales"));
        assert!(filter("orders|sales*").matches("orders"));
        assert!(!filter("a.c").matches("abc"));
    }
}
