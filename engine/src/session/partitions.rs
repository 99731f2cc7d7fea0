//! Partitions of Hive-style tables: `ALTER TABLE ... ADD|DROP PARTITION`, `SHOW PARTITIONS` and
//! `MSCK REPAIR TABLE` (which lists the table's folder for `key=value` folders the catalog lacks).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use chrono::{NaiveDate, NaiveDateTime};
use futures::TryStreamExt;
use sqlparser::ast::{Msck, ObjectName};
use tarn_catalog::{CatalogError, Column, Location, Parameters, Partition, SqlType, Table, HIVE_DEFAULT_PARTITION};

use crate::error::{EngineError, Result};
use crate::io::runtime::io_runtime;
use crate::session::hive_text::{escape_path_name, unescape_path_name};
use crate::session::names::{table_name, TableName};
use crate::session::result::text_column;
use crate::session::{QueryOutput, Session};
use crate::sql::statement::{AddPartitions, DropPartitions, PartitionValue};

pub(super) fn add_partitions(session: &mut Session, add: &AddPartitions) -> Result<QueryOutput> {
    let (name, table) = partitioned_table(session, &add.table)?;
    let root = Location::parse(&table.storage.location)?.as_dir();
    let partitions = add
        .partitions
        .iter()
        .map(|spec| {
            let values = complete_values(&table, &spec.values)?;
            let location = match &spec.location {
                Some(text) => Location::parse(text)?.as_dir(),
                None => root.join(&folder_of(&table.partition_keys, &values)),
            };
            Ok(Partition { values, location: location.as_url_str(), parameters: Parameters::new(), created_at: 0 })
        })
        .collect::<Result<Vec<_>>>()?;
    let added = session.catalog.add_partitions(&name.database, &name.table, &partitions, add.if_not_exists)?;
    Ok(QueryOutput::Message(format!("{added} partition(s) added to '{}'", shown(&table))))
}

/// Drops the partitions matching each spec; a spec may name only some keys (Hive drops every
/// partition matching it).
pub(super) fn drop_partitions(session: &mut Session, drop: &DropPartitions) -> Result<QueryOutput> {
    let (name, table) = partitioned_table(session, &drop.table)?;
    let existing = session.catalog.list_partitions(&name.database, &name.table)?;
    let mut matched: Vec<Vec<String>> = Vec::new();
    for spec in &drop.partitions {
        let wanted = keyed_values(&table, spec)?;
        let before = matched.len();
        for partition in &existing {
            let matches = wanted
                .iter()
                .zip(&partition.values)
                .zip(&table.partition_keys)
                .all(|((want, have), key)| want.as_ref().is_none_or(|w| same_value(w, have, &key.data_type)));
            if matches && !matched.contains(&partition.values) {
                matched.push(partition.values.clone());
            }
        }
        if matched.len() == before && !drop.if_exists {
            return Err(CatalogError::PartitionNotFound {
                table: shown(&table),
                values: spec.iter().map(|v| v.value.clone()).collect(),
            }
            .into());
        }
    }
    let dropped = session.catalog.drop_partitions(&name.database, &name.table, &matched, drop.if_exists)?;
    Ok(QueryOutput::Message(format!("{dropped} partition(s) dropped from '{}'", shown(&table))))
}

/// `SHOW PARTITIONS t`: one `key=value/key2=value2` row per partition, as Athena prints them.
pub(super) fn show_partitions(session: &mut Session, name: &ObjectName) -> Result<QueryOutput> {
    let (name, table) = partitioned_table(session, name)?;
    let partitions = session.catalog.list_partitions(&name.database, &name.table)?;
    let rows = partitions.iter().map(|p| {
        let pairs: Vec<String> =
            table.partition_keys.iter().zip(&p.values).map(|(key, value)| format!("{}={value}", key.name)).collect();
        pairs.join("/")
    });
    text_column("partition", rows)
}

/// `MSCK REPAIR TABLE t`: adds the partitions whose `key=value/...` folders exist under the
/// table's location but not in the catalog. Folders whose values do not fit the key types, and
/// hidden ones (`_temporary`, `.staging`), are skipped.
pub(super) fn repair_table(session: &mut Session, msck: &Msck) -> Result<QueryOutput> {
    if msck.partition_action.is_some() {
        return Err(EngineError::Unsupported(format!("not supported yet: {msck}")));
    }
    let (name, table) = partitioned_table(session, &msck.table_name)?;
    let root = Location::parse(&table.storage.location)?.as_dir();
    let found = partition_folders(session, &root, &table.partition_keys)?;
    let known: HashSet<Vec<String>> =
        session.catalog.list_partitions(&name.database, &name.table)?.into_iter().map(|p| p.values).collect();
    let missing: Vec<Partition> = found
        .into_iter()
        .filter(|(values, _)| !known.contains(values))
        .map(|(values, folder)| Partition {
            values,
            location: root.join(&folder).as_url_str(),
            parameters: Parameters::new(),
            created_at: 0,
        })
        .collect();
    // `if_not_exists`: a concurrent repair may have added some of them meanwhile.
    let added = session.catalog.add_partitions(&name.database, &name.table, &missing, true)?;
    let mut message = format!("{added} partition(s) added to '{}'", shown(&table));
    for partition in &missing {
        message.push_str(&format!("\n  {}", folder_of(&table.partition_keys, &partition.values).trim_end_matches('/')));
    }
    Ok(QueryOutput::Message(message))
}

fn partitioned_table(session: &Session, name: &ObjectName) -> Result<(TableName, Table)> {
    let name = table_name(session, name)?;
    let table = session.catalog.get_table(&name.database, &name.table)?;
    if !table.is_partitioned() {
        return Err(EngineError::plan(format!("table '{}' is not partitioned", shown(&table))));
    }
    Ok((name, table))
}

fn shown(table: &Table) -> String {
    format!("{}.{}", table.database, table.name)
}

/// The values of a `PARTITION (...)` spec in key order (`None` for keys it does not name),
/// each checked against its key's type.
fn keyed_values(table: &Table, spec: &[PartitionValue]) -> Result<Vec<Option<String>>> {
    let keys = &table.partition_keys;
    let mut values: Vec<Option<String>> = vec![None; keys.len()];
    for value in spec {
        let Some(index) = keys.iter().position(|k| k.name.eq_ignore_ascii_case(&value.key.value)) else {
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            return Err(EngineError::plan_at(
                format!(
                    "table '{}' has no partition key '{}'; its keys are: {}",
                    shown(table),
                    value.key.value,
                    names.join(", ")
                ),
                Some(value.position),
            ));
        };
        if values[index].is_some() {
            return Err(EngineError::plan_at(
                format!("partition key '{}' is given twice", keys[index].name),
                Some(value.position),
            ));
        }
        if !fits_type(&value.value, &keys[index].data_type) {
            return Err(EngineError::plan_at(
                format!(
                    "partition value '{}' is not a valid {} (the type of partition key '{}')",
                    value.value, keys[index].data_type, keys[index].name
                ),
                Some(value.position),
            ));
        }
        values[index] = Some(value.value.clone());
    }
    Ok(values)
}

/// Like `keyed_values`, but every key must have a value (adding a partition).
fn complete_values(table: &Table, spec: &[PartitionValue]) -> Result<Vec<String>> {
    let values = keyed_values(table, spec)?;
    let missing: Vec<&str> =
        table.partition_keys.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(k, _)| k.name.as_str()).collect();
    if !missing.is_empty() {
        return Err(EngineError::plan_at(
            format!("a partition of '{}' needs a value for every key; missing: {}", shown(table), missing.join(", ")),
            spec.first().map(|v| v.position),
        ));
    }
    Ok(values.into_iter().flatten().collect())
}

/// Whether a partition value's text reads as a value of the key's type (Hive stores the text;
/// queries cast it, so a value that cannot cast would fail every query of the table).
fn fits_type(value: &str, data_type: &SqlType) -> bool {
    if value == HIVE_DEFAULT_PARTITION {
        return true;
    }
    let text = value.trim();
    match data_type {
        SqlType::TinyInt => text.parse::<i8>().is_ok(),
        SqlType::SmallInt => text.parse::<i16>().is_ok(),
        SqlType::Int => text.parse::<i32>().is_ok(),
        SqlType::BigInt => text.parse::<i64>().is_ok(),
        SqlType::Real | SqlType::Double => text.parse::<f64>().is_ok(),
        SqlType::Decimal(..) => text.parse::<f64>().is_ok() && !text.contains(['e', 'E']),
        SqlType::Boolean => text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false"),
        SqlType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        SqlType::Timestamp => {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
                .iter()
                .any(|f| NaiveDateTime::parse_from_str(text, f).is_ok())
                || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        }
        SqlType::Varchar(_) | SqlType::Char(_) | SqlType::String => true,
    }
}

/// Whether two spellings name the same partition value (`05` and `5` of an integer key do).
fn same_value(a: &str, b: &str, data_type: &SqlType) -> bool {
    let integer = matches!(data_type, SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt);
    match (integer, a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
        (true, Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// `key=value/key2=value2/`, values escaped as Hive names folders.
fn folder_of(keys: &[Column], values: &[String]) -> String {
    keys.iter().zip(values).map(|(key, value)| format!("{}={}/", key.name, escape_path_name(value))).collect()
}

/// The partition folders under `root`: values (in key order) → the folder path relative to
/// `root`, for every folder chain `k1=v1/k2=v2/...` that holds at least one visible file.
fn partition_folders(session: &Session, root: &Location, keys: &[Column]) -> Result<BTreeMap<Vec<String>, String>> {
    let stores = session.stores.clone();
    let listed_root = root.clone();
    let paths = run_io(async move {
        let store = stores.store_for(&listed_root).await?;
        let prefix = listed_root.object_path();
        let listing: Vec<_> = match store.list(Some(&prefix)).try_collect().await {
            Ok(objects) => objects,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => {
                return Err(EngineError::Storage { location: listed_root.as_url_str(), message: e.to_string() });
            }
        };
        let relative: Vec<Vec<String>> = listing
            .into_iter()
            .filter_map(|meta| {
                meta.location.prefix_match(&prefix).map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
            })
            .collect();
        Ok(relative)
    })?;
    let mut found = BTreeMap::new();
    for parts in paths {
        if parts.len() <= keys.len() || parts.iter().any(|p| p.starts_with('_') || p.starts_with('.')) {
            continue;
        }
        let mut values = Vec::with_capacity(keys.len());
        for (part, key) in parts.iter().zip(keys) {
            match part.split_once('=') {
                Some((name, value)) if name.eq_ignore_ascii_case(&key.name) => {
                    let value = unescape_path_name(value);
                    if !fits_type(&value, &key.data_type) {
                        break;
                    }
                    values.push(value);
                }
                _ => break,
            }
        }
        if values.len() == keys.len() {
            let folder: String = parts[..keys.len()].iter().map(|p| format!("{p}/")).collect();
            found.entry(values).or_insert(folder);
        }
    }
    Ok(found)
}

/// Runs `future` on the I/O runtime and waits for it; safe to call from any thread, including
/// one inside another tokio runtime (unlike `Runtime::block_on`).
fn run_io<T: Send + 'static>(future: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    let task = io_runtime().spawn(future);
    futures::executor::block_on(task).map_err(|e| EngineError::execution(format!("I/O task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_key_types() {
        assert!(fits_type("2024", &SqlType::Int));
        assert!(fits_type("05", &SqlType::Int));
        assert!(!fits_type("x", &SqlType::Int));
        assert!(!fits_type("300", &SqlType::TinyInt));
        assert!(fits_type("2024-02-29", &SqlType::Date));
        assert!(!fits_type("2023-02-29", &SqlType::Date));
        assert!(fits_type("2024-01-01 10:00:00", &SqlType::Timestamp));
        assert!(fits_type(HIVE_DEFAULT_PARTITION, &SqlType::Int));
        assert!(fits_type("anything", &SqlType::String));
    }

    #[test]
    fn folders_escape_values() {
        let keys = vec![Column::new("dt", SqlType::String), Column::new("h", SqlType::Int)];
        assert_eq!(folder_of(&keys, &["2024-01-01 10:00".into(), "7".into()]), "dt=2024-01-01 10%3A00/h=7/");
        assert!(same_value("05", "5", &SqlType::Int));
        assert!(!same_value("05", "5", &SqlType::String));
    }
}
