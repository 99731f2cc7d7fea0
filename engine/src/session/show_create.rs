//! `SHOW CREATE TABLE`: the Athena-style DDL of a table, which Tarn parses back into the same
//! table (the inverse of `external_table.rs`); a local table's `CREATE TABLE db.t (cols)`.

use sqlparser::ast::ObjectName;
use tarn_catalog::{serde_keys, Column, DataFormat, Table, TableKind};

use crate::error::Result;
use crate::session::external_table::{COMMENT_PROPERTY, OPEN_CSV_SERDE, READER_TABLE_PROPERTIES};
use crate::session::hive_text::quote_literal;
use crate::session::names::table_name;
use crate::session::result::text_column;
use crate::session::{QueryOutput, Session};

/// One row, column `createtab_stmt` (Hive's and Athena's name for it).
pub(super) fn show_create_table(session: &Session, name: &ObjectName) -> Result<QueryOutput> {
    let name = table_name(session, name)?;
    let table = session.catalog.get_table(&name.database, &name.table)?;
    text_column("createtab_stmt", [create_table_ddl(&table)?])
}

/// The DDL text of `table`.
pub(super) fn create_table_ddl(table: &Table) -> Result<String> {
    if table.kind == TableKind::Local {
        // A local table's files are Tarn's own business: its DDL is the column list alone.
        let name = format!("{}.{}", quote_name(&table.database), quote_name(&table.name));
        return Ok(format!("CREATE TABLE {name} (\n{})", column_list(&table.storage.columns)));
    }
    let mut ddl = format!("CREATE EXTERNAL TABLE {}.{} (\n", quote_name(&table.database), quote_name(&table.name));
    ddl.push_str(&column_list(&table.storage.columns));
    ddl.push(')');
    if let Some(comment) = table.parameters.get(COMMENT_PROPERTY) {
        ddl.push_str(&format!("\nCOMMENT {}", quote_literal(comment)));
    }
    if table.is_partitioned() {
        ddl.push_str(&format!("\nPARTITIONED BY (\n{})", column_list(&table.partition_keys)));
    }
    let serde = &table.storage.serde_parameters;
    // SerDe parameters copied from TBLPROPERTIES print there, once.
    let from_table_properties =
        |key: &str| READER_TABLE_PROPERTIES.contains(&key) && table.parameters.get(key) == serde.get(key);
    let mut serde_properties: Vec<(String, &String)> = Vec::new();
    match table.storage.format {
        DataFormat::Csv if serde.contains_key(serde_keys::QUOTE_CHAR) => {
            ddl.push_str(&format!("\nROW FORMAT SERDE {}", quote_literal(OPEN_CSV_SERDE)));
            for (key, value) in serde {
                let key = if key == serde_keys::FIELD_DELIMITER { "separatorChar" } else { key.as_str() };
                serde_properties.push((key.to_string(), value));
            }
        }
        DataFormat::Csv => {
            ddl.push_str("\nROW FORMAT DELIMITED");
            let delimited = [
                (serde_keys::FIELD_DELIMITER, "FIELDS TERMINATED BY"),
                (serde_keys::ESCAPE_CHAR, "ESCAPED BY"),
                ("collection.delim", "COLLECTION ITEMS TERMINATED BY"),
                ("mapkey.delim", "MAP KEYS TERMINATED BY"),
            ];
            for (key, clause) in delimited {
                if let Some(value) = serde.get(key) {
                    ddl.push_str(&format!("\n  {clause} {}", quote_literal(value)));
                }
            }
            if let Some(value) =
                serde.get(serde_keys::NULL_FORMAT).filter(|_| !from_table_properties(serde_keys::NULL_FORMAT))
            {
                ddl.push_str(&format!("\n  NULL DEFINED AS {}", quote_literal(value)));
            }
            let in_clauses = delimited.map(|(key, _)| key);
            for (key, value) in serde {
                if !in_clauses.contains(&key.as_str()) && key != serde_keys::NULL_FORMAT {
                    serde_properties.push((key.clone(), value));
                }
            }
        }
        DataFormat::Parquet | DataFormat::Json => {
            serde_properties.extend(serde.iter().map(|(k, v)| (k.clone(), v)));
        }
    }
    serde_properties.retain(|(key, _)| !from_table_properties(key));
    if !serde_properties.is_empty() {
        ddl.push_str(&format!("\nWITH SERDEPROPERTIES (\n{})", property_list(serde_properties.into_iter())));
    }
    let stored_as = match table.storage.format {
        DataFormat::Parquet => "PARQUET",
        DataFormat::Csv => "TEXTFILE",
        DataFormat::Json => "JSONFILE",
    };
    ddl.push_str(&format!("\nSTORED AS {stored_as}\nLOCATION {}", quote_literal(&table.storage.location)));
    let properties: Vec<(String, &String)> = table
        .parameters
        .iter()
        .filter(|(key, _)| key.as_str() != COMMENT_PROPERTY)
        .map(|(k, v)| (k.clone(), v))
        .collect();
    if !properties.is_empty() {
        ddl.push_str(&format!("\nTBLPROPERTIES (\n{})", property_list(properties.into_iter())));
    }
    Ok(ddl)
}

/// `  `name` type [COMMENT '..'],` lines.
fn column_list(columns: &[Column]) -> String {
    let lines: Vec<String> = columns
        .iter()
        .map(|c| {
            let comment = c.comment.as_ref().map(|t| format!(" COMMENT {}", quote_literal(t))).unwrap_or_default();
            format!("  {} {}{comment}", quote_name(&c.name), c.data_type)
        })
        .collect();
    lines.join(",\n")
}

fn property_list<'a>(properties: impl Iterator<Item = (String, &'a String)>) -> String {
    let lines: Vec<String> = properties.map(|(k, v)| format!("  {}={}", quote_literal(&k), quote_literal(v))).collect();
    lines.join(",\n")
}

/// A name in backquotes, as Athena prints them (any name, keywords included, reads back).
fn quote_name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
