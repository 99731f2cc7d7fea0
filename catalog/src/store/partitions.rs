//! Partition operations (`ALTER TABLE ADD/DROP PARTITION`, `MSCK REPAIR TABLE`, `SHOW PARTITIONS`).

use std::cmp::Ordering;

use rusqlite::{params, OptionalExtension};

use super::codec::{self, RawPartition, PARTITION_COLUMNS};
use super::{now_ms, CatalogTxn};
use crate::error::{CatalogError, Result};
use crate::model::{Partition, Table};

impl CatalogTxn<'_> {
    /// Adds partitions (`created_at` stamped now); returns how many were added. An existing one
    /// is skipped with `if_not_exists` and is `PartitionExists` otherwise, in which case none is
    /// added.
    pub fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> Result<usize> {
        self.require_writable("add partitions")?;
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let owner = raw.decode()?;
        let now = now_ms();
        self.atomic(|| {
            let mut insert = self
                .conn
                .prepare(
                    "INSERT OR IGNORE INTO partitions \
                     (table_id, part_values, location, parameters, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| self.store_err(e))?;
            let mut added = 0;
            for partition in partitions {
                check_arity(&owner, &partition.values)?;
                let inserted = insert
                    .execute(params![
                        id,
                        codec::encode_values(&partition.values),
                        partition.location,
                        codec::encode_parameters(&partition.parameters),
                        now,
                    ])
                    .map_err(|e| self.store_err(e))?;
                match (inserted, if_not_exists) {
                    (0, true) => {}
                    (0, false) => {
                        return Err(CatalogError::PartitionExists {
                            table: qualified(&owner),
                            values: partition.values.clone(),
                        })
                    }
                    _ => added += 1,
                }
            }
            Ok(added)
        })
    }

    /// Drops partitions by their values; returns how many were dropped. A missing one is skipped
    /// with `if_exists` and is `PartitionNotFound` otherwise, in which case none is dropped.
    pub fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<String>],
        if_exists: bool,
    ) -> Result<usize> {
        self.require_writable("drop partitions")?;
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let owner = raw.decode()?;
        self.atomic(|| {
            let mut delete = self
                .conn
                .prepare("DELETE FROM partitions WHERE table_id = ?1 AND part_values = ?2")
                .map_err(|e| self.store_err(e))?;
            let mut dropped = 0;
            for partition_values in values {
                check_arity(&owner, partition_values)?;
                let deleted = delete
                    .execute(params![id, codec::encode_values(partition_values)])
                    .map_err(|e| self.store_err(e))?;
                match (deleted, if_exists) {
                    (0, true) => {}
                    (0, false) => {
                        return Err(CatalogError::PartitionNotFound {
                            table: qualified(&owner),
                            values: partition_values.clone(),
                        })
                    }
                    _ => dropped += 1,
                }
            }
            Ok(dropped)
        })
    }

    /// The partitions of a table ordered by their values, key by key: numeric values numerically
    /// (so `month=2` precedes `month=10`) and before any text, text values by their bytes.
    pub fn list_partitions(&self, database: &str, table: &str) -> Result<Vec<Partition>> {
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let owner = qualified(&raw.decode()?);
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {PARTITION_COLUMNS} FROM partitions WHERE table_id = ?1"))
            .map_err(|e| self.store_err(e))?;
        let raws = stmt
            .query_map([id], RawPartition::from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| codec::read_error(self.path, || format!("partitions of '{owner}'"), e))?;
        let mut partitions = raws.into_iter().map(|raw| raw.decode(&owner)).collect::<Result<Vec<_>>>()?;
        partitions.sort_by(|a, b| compare_values(&a.values, &b.values));
        Ok(partitions)
    }

    /// One partition by its values, if present.
    pub fn get_partition(&self, database: &str, table: &str, values: &[String]) -> Result<Option<Partition>> {
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let owner = raw.decode()?;
        check_arity(&owner, values)?;
        let owner = qualified(&owner);
        let found = self
            .conn
            .query_row(
                &format!(
                    "SELECT {PARTITION_COLUMNS} FROM partitions \
                     WHERE table_id = ?1 AND part_values = ?2"
                ),
                params![id, codec::encode_values(values)],
                RawPartition::from_row,
            )
            .optional()
            .map_err(|e| codec::read_error(self.path, || format!("partition {values:?} of '{owner}'"), e))?;
        found.map(|raw| raw.decode(&owner)).transpose()
    }
}

/// A partition is addressed by one value per partition key, in key order.
fn check_arity(table: &Table, values: &[String]) -> Result<()> {
    if values.len() == table.partition_keys.len() {
        Ok(())
    } else {
        Err(CatalogError::PartitionArity {
            table: qualified(table),
            expected: table.partition_keys.len(),
            got: values.len(),
        })
    }
}

fn qualified(table: &Table) -> String {
    format!("{}.{}", table.database, table.name)
}

/// A total order on partition values: per key, integers first in numeric order, then other text
/// in byte order; ties between spellings of one number (`01`, `1`) broken by the text.
fn compare_values(a: &[String], b: &[String]) -> Ordering {
    let key = |value: &String| match value.parse::<i64>() {
        Ok(number) => (0, number, value.clone()),
        Err(_) => (1, 0, value.clone()),
    };
    a.iter().map(key).cmp(b.iter().map(key))
}
