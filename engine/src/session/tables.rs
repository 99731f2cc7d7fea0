//! `CREATE EXTERNAL TABLE` and `DROP TABLE`.

use sqlparser::ast::ObjectName;

use crate::error::Result;
use crate::session::external_table::table_from_ddl;
use crate::session::names::table_name;
use crate::session::{QueryOutput, Session};
use crate::sql::statement::CreateExternalTable;

pub(super) fn create_external_table(session: &mut Session, create: &CreateExternalTable) -> Result<QueryOutput> {
    let name = table_name(session, &create.name)?;
    // Also fails early, with the catalog's message, when the database does not exist.
    let database = session.catalog.get_database(&name.database)?;
    let table = table_from_ddl(create, &name, database.location_uri.as_deref())?;
    let created = session.catalog.create_table(&table, create.if_not_exists)?;
    let shown = format!("{}.{}", table.database.to_lowercase(), table.name.to_lowercase());
    Ok(QueryOutput::Message(if created {
        format!("table '{shown}' created")
    } else {
        format!("table '{shown}' already exists; nothing done")
    }))
}

/// `DROP TABLE [IF EXISTS] t, ...`: removes the definitions; an external table's files stay.
pub(super) fn drop_tables(session: &mut Session, names: &[ObjectName], if_exists: bool) -> Result<QueryOutput> {
    let mut messages = Vec::new();
    for name in names {
        let name = table_name(session, name)?;
        let shown = format!("{}.{}", name.database.to_lowercase(), name.table.to_lowercase());
        messages.push(match session.catalog.drop_table(&name.database, &name.table, if_exists)? {
            Some(table) => {
                crate::write::remove_local_data(session, &table)?;
                format!("table '{shown}' dropped")
            }
            None => format!("table '{shown}' does not exist; nothing done"),
        });
    }
    Ok(QueryOutput::Message(messages.join("\n")))
}
