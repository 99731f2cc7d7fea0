//! `CREATE DATABASE|SCHEMA`, `DROP DATABASE|SCHEMA` and `USE`.

use sqlparser::ast::{ObjectName, Use};
use tarn_catalog::store::DEFAULT_DATABASE;
use tarn_catalog::{CatalogError, Database, Location};

use crate::error::{EngineError, Result};
use crate::session::names::database_name;
use crate::session::{QueryOutput, Session};
use crate::sql::statement::CreateDatabase;

pub(super) fn create_database(session: &mut Session, create: &CreateDatabase) -> Result<QueryOutput> {
    let location_uri = match &create.location {
        Some(text) => Some(Location::parse(text)?.as_dir().as_url_str()),
        None => None,
    };
    let database = Database {
        name: create.name.value.clone(),
        description: create.comment.clone(),
        location_uri,
        parameters: create.properties.iter().cloned().collect(),
        created_at: 0,
    };
    let created = session.catalog.create_database(&database, create.if_not_exists)?;
    let name = database.name.to_lowercase();
    Ok(QueryOutput::Message(if created {
        format!("database '{name}' created")
    } else {
        format!("database '{name}' already exists; nothing done")
    }))
}

/// `DROP DATABASE [IF EXISTS] db [CASCADE]`: external tables dropped with it keep their files.
pub(super) fn drop_databases(
    session: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<QueryOutput> {
    let mut messages = Vec::new();
    for name in names {
        let database = database_name(name)?;
        let shown = database.to_lowercase();
        if if_exists && !session.catalog.database_exists(&database)? {
            messages.push(format!("database '{shown}' does not exist; nothing done"));
            continue;
        }
        let tables = session.catalog.drop_database(&database, if_exists, cascade)?;
        for table in &tables {
            crate::write::remove_local_data(session, table)?;
        }
        if shown == session.database {
            session.database = DEFAULT_DATABASE.to_string();
        }
        messages.push(match tables.len() {
            0 => format!("database '{shown}' dropped"),
            n => format!("database '{shown}' dropped with {n} table(s); the files of external tables are kept"),
        });
    }
    Ok(QueryOutput::Message(messages.join("\n")))
}

/// `USE db`: later unqualified table names resolve in `db`.
pub(super) fn use_database(session: &mut Session, target: &Use) -> Result<QueryOutput> {
    let name = match target {
        Use::Object(name) | Use::Database(name) | Use::Schema(name) => database_name(name)?,
        other => return Err(EngineError::Unsupported(format!("not supported yet: {other}"))),
    };
    if !session.catalog.database_exists(&name)? {
        return Err(CatalogError::DatabaseNotFound(name).into());
    }
    session.database = name.to_lowercase();
    Ok(QueryOutput::Message(format!("using database '{}'", session.database)))
}
