//! The crawl plan: what the crawl will create or change in the catalog, and why, decided by
//! comparing the tables found on storage with the catalog as it is. Nothing here writes; the
//! plan is printed by `--dry-run` and applied by [`crate::apply`].
//!
//! Re-crawls are incremental and conservative: columns are only added or widened, never dropped
//! or narrowed; SerDe parameters and table properties that differ from what the crawler would
//! write are kept (a user may have set them with DDL) and reported; only the statistics
//! (`recordCount`, `objectCount`, `sizeKey`, `averageRecordSize`) are refreshed.

use std::collections::BTreeMap;

use object_store::path::{Path as ObjectPath, PathPart};
use tarn_catalog::{
    serde_keys, Catalog, Column, DataFormat, Location, Parameters, Partition, SqlType, StorageDescriptor, Table,
    TableKind,
};

use crate::classify::{FileFormat, UnclassifiedFile};
use crate::error::Result;
use crate::group::{PartitionKey, Stats, TableGroup, UnplacedFile};
use crate::known::KnownUpdate;
use crate::list::{Listing, SkippedObject};
use crate::options::DeleteBehavior;
use crate::schema::widen;

/// The table property naming the crawl root a table came from, so a re-crawl recognises its own
/// tables (and their vanishing).
pub const SOURCE_PARAMETER: &str = "tarn.crawler.source";

/// Table properties that are statistics of the data, refreshed by every crawl.
const STATISTICS: &[&str] = &["recordCount", "objectCount", "sizeKey", "averageRecordSize"];

/// What the crawl does to one table.
#[derive(Debug, Clone, PartialEq)]
pub enum TableAction {
    Create,
    /// Definition, statistics or partitions change.
    Update,
    Unchanged,
    /// The table cannot be touched; the reason says why and what to do.
    Conflict(String),
}

impl TableAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            TableAction::Create => "create",
            TableAction::Update => "update",
            TableAction::Unchanged => "unchanged",
            TableAction::Conflict(_) => "conflict",
        }
    }
}

/// How a column comes out of the crawl.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnChange {
    /// In a new table.
    New,
    /// Added to an existing table.
    Added,
    Widened {
        from: SqlType,
    },
    Unchanged,
    /// In the catalog but in none of the files found; kept, never dropped.
    Kept,
}

/// One column of a planned table and the reasons for its type.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    pub name: String,
    pub data_type: SqlType,
    pub change: ColumnChange,
    pub reasons: Vec<String>,
}

/// A partition whose folder is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct VanishedPartition {
    pub values: Vec<String>,
    pub location: String,
}

/// The plan for one table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub name: String,
    pub location: String,
    pub action: TableAction,
    /// The definition the catalog will hold.
    pub table: Table,
    /// The catalog version the plan was made against (`None` for new tables).
    pub base_version: Option<i64>,
    pub columns: Vec<ColumnPlan>,
    pub partition_keys: Vec<PartitionKey>,
    pub add_partitions: Vec<Partition>,
    /// Partitions whose statistics changed (replaced in place).
    pub update_partitions: Vec<Partition>,
    pub vanished_partitions: Vec<VanishedPartition>,
    /// Why the schema changed, recorded as a schema version; `None` when it did not.
    pub schema_change: Option<String>,
    pub reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub file_notes: Vec<String>,
    pub stats: Stats,
}

/// A table the crawler made from this root earlier whose data is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct VanishedTable {
    pub name: String,
    pub location: String,
    pub version: i64,
}

/// Everything one crawl decided.
#[derive(Debug, Clone)]
pub struct CrawlPlan {
    pub source: String,
    pub database: String,
    pub dry_run: bool,
    pub delete_behavior: DeleteBehavior,
    pub create_database: bool,
    pub tables: Vec<TablePlan>,
    pub vanished_tables: Vec<VanishedTable>,
    pub objects_listed: u64,
    /// Objects opened (footer or sample read) by this crawl.
    pub objects_read: u64,
    /// Objects unchanged since an earlier crawl read them, whose findings were reused unopened.
    pub objects_reused: u64,
    pub skipped: Vec<SkippedObject>,
    pub unclassified: Vec<UnclassifiedFile>,
    pub unplaced: Vec<UnplacedFile>,
    /// What the catalog will remember of the objects read (written with the plan, never by a
    /// dry run); not a change to any table.
    pub known: KnownUpdate,
}

impl CrawlPlan {
    /// Whether applying the plan would change nothing in the catalog.
    pub fn is_empty(&self) -> bool {
        !self.create_database
            && self.tables.iter().all(|t| matches!(t.action, TableAction::Unchanged | TableAction::Conflict(_)))
            && (self.delete_behavior == DeleteBehavior::Log || self.vanished_tables.is_empty())
    }
}

/// What the plan needs besides the tables: the crawl's inputs and findings.
pub struct PlanInputs<'a> {
    pub root: &'a Location,
    pub database: &'a str,
    pub dry_run: bool,
    pub delete_behavior: DeleteBehavior,
    pub objects_listed: u64,
    pub objects_read: u64,
    pub objects_reused: u64,
    pub skipped: Vec<SkippedObject>,
    pub unclassified: Vec<UnclassifiedFile>,
    pub unplaced: Vec<UnplacedFile>,
}

/// Plans the crawl of `groups` against the catalog's current state (read in one snapshot).
pub fn build_plan(catalog: &Catalog, groups: Vec<TableGroup>, inputs: PlanInputs<'_>) -> Result<CrawlPlan> {
    let root_url = inputs.root.as_dir().as_url_str();
    let database = inputs.database.to_lowercase();
    let (db_exists, existing) = catalog.read(|tx| {
        if !tx.database_exists(&database)? {
            return Ok((false, BTreeMap::new()));
        }
        let mut existing = BTreeMap::new();
        for table in tx.list_tables(&database)? {
            let partitions =
                if table.is_partitioned() { tx.list_partitions(&database, &table.name)? } else { Vec::new() };
            existing.insert(table.name.clone(), (table, partitions));
        }
        Ok((true, existing))
    })?;
    // Nothing under a folder that could not be listed is known to have vanished.
    let unlisted: Vec<String> =
        Listing::unlisted_folders(&inputs.skipped).map(|folder| folder_url(inputs.root, folder)).collect();
    let is_unlisted = |location: &str| unlisted.iter().any(|folder| location.starts_with(folder.as_str()));
    let mut tables = Vec::new();
    for group in groups {
        let desired = desired_table(&database, &root_url, inputs.root, &group);
        let mut plan = match existing.get(&group.name.to_lowercase()) {
            None => new_table_plan(group, desired),
            Some((current, partitions)) => {
                existing_table_plan(group, desired, current, partitions, inputs.delete_behavior)
            }
        };
        plan.vanished_partitions.retain(|p| !is_unlisted(&p.location));
        tables.push(plan);
    }
    let found: Vec<String> = tables.iter().map(|t| t.name.to_lowercase()).collect();
    let vanished_tables = existing
        .values()
        .filter(|(t, _)| {
            t.parameters.get(SOURCE_PARAMETER) == Some(&root_url)
                && !found.contains(&t.name)
                && !is_unlisted(&t.storage.location)
        })
        .map(|(t, _)| VanishedTable { name: t.name.clone(), location: t.storage.location.clone(), version: t.version })
        .collect();
    Ok(CrawlPlan {
        source: root_url,
        database,
        dry_run: inputs.dry_run,
        delete_behavior: inputs.delete_behavior,
        create_database: !db_exists,
        tables,
        vanished_tables,
        objects_listed: inputs.objects_listed,
        objects_read: inputs.objects_read,
        objects_reused: inputs.objects_reused,
        skipped: inputs.skipped,
        unclassified: inputs.unclassified,
        unplaced: inputs.unplaced,
        known: KnownUpdate::default(),
    })
}

/// The URL of a folder below the crawl root, given as `/`-separated key segments. Segments are
/// kept literally (`ts=10%3A00` stays so), which both stores resolve back to the same folder.
pub fn folder_url(root: &Location, relative: &str) -> String {
    let mut path: ObjectPath = root.object_path();
    for name in relative.split('/').filter(|s| !s.is_empty()) {
        path = path.join(PathPart::parse(name).unwrap_or_else(|_| PathPart::from(name)));
    }
    match root.bucket() {
        Some(bucket) => format!("s3://{bucket}/{path}/"),
        None => format!("file:///{path}/"),
    }
}

/// The table the files describe, before any comparison with the catalog.
fn desired_table(database: &str, root_url: &str, root: &Location, group: &TableGroup) -> Table {
    let key_names: Vec<String> = group.partition_keys.iter().map(|k| k.name.to_lowercase()).collect();
    let columns = group
        .schema
        .columns
        .iter()
        .filter(|c| !key_names.contains(&c.name.to_lowercase()))
        .map(|c| Column::new(c.name.clone(), c.data_type.clone()))
        .collect();
    let mut serde = Parameters::new();
    let mut parameters = Parameters::new();
    let format = match &group.format {
        FileFormat::Parquet { .. } => DataFormat::Parquet,
        FileFormat::JsonLines { .. } => DataFormat::Json,
        FileFormat::Delimited { dialect, header, .. } => {
            let delimiter = (dialect.delimiter as char).to_string();
            serde.insert(serde_keys::FIELD_DELIMITER.into(), delimiter.clone());
            parameters.insert("delimiter".into(), delimiter);
            if let Some(quote) = dialect.quote {
                serde.insert(serde_keys::QUOTE_CHAR.into(), (quote as char).to_string());
            }
            if let Some(escape) = dialect.escape {
                serde.insert(serde_keys::ESCAPE_CHAR.into(), (escape as char).to_string());
            }
            if *header {
                serde.insert(serde_keys::SKIP_HEADER.into(), "1".into());
                parameters.insert(serde_keys::SKIP_HEADER.into(), "1".into());
            }
            if group.word_nulls {
                serde.insert(serde_keys::NULL_FORMAT.into(), "NULL".into());
            }
            let formats = |wanted: SqlType| {
                let mut found: Vec<String> = Vec::new();
                for column in group.schema.columns.iter().filter(|c| c.data_type == wanted) {
                    for f in column.format.iter().flat_map(|f| f.split(',')) {
                        if !found.iter().any(|x| x == f) {
                            found.push(f.to_string());
                        }
                    }
                }
                found.join(",")
            };
            let timestamp_formats = formats(SqlType::Timestamp);
            if !timestamp_formats.is_empty() {
                serde.insert(serde_keys::TIMESTAMP_FORMAT.into(), timestamp_formats);
            }
            let date_formats = formats(SqlType::Date);
            if !date_formats.is_empty() {
                serde.insert(serde_keys::DATE_FORMAT.into(), date_formats);
            }
            DataFormat::Csv
        }
    };
    let compression = group.format.compression();
    if !matches!(group.format, FileFormat::Parquet { .. }) && compression != "none" {
        serde.insert(serde_keys::COMPRESSION.into(), compression.clone());
    }
    parameters.insert("classification".into(), group.format.classification().into());
    parameters.insert("compressionType".into(), compression);
    parameters.insert("typeOfData".into(), "file".into());
    parameters.insert(SOURCE_PARAMETER.into(), root_url.to_string());
    insert_statistics(&mut parameters, &group.stats);
    Table {
        database: database.to_string(),
        name: group.name.clone(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns,
            location: folder_url(root, &group.relative_dir),
            format,
            serde_parameters: serde,
        },
        partition_keys: group.partition_keys.iter().map(|k| Column::new(k.name.clone(), k.data_type.clone())).collect(),
        parameters,
        created_at: 0,
        updated_at: 0,
        version: 0,
    }
}

fn insert_statistics(parameters: &mut Parameters, stats: &Stats) {
    parameters.insert("recordCount".into(), stats.rows.to_string());
    parameters.insert("objectCount".into(), stats.files.to_string());
    parameters.insert("sizeKey".into(), stats.bytes.to_string());
    let average = stats.bytes.checked_div(stats.rows).unwrap_or(0);
    parameters.insert("averageRecordSize".into(), average.to_string());
}

/// The catalog entries of the partitions found, with their statistics.
fn found_partitions(group: &TableGroup, table_location: &str) -> Vec<Partition> {
    let Ok(table_root) = Location::parse(table_location) else {
        return Vec::new();
    };
    group
        .partitions
        .iter()
        .map(|p| {
            let mut parameters = Parameters::new();
            parameters.insert("numFiles".into(), p.stats.files.to_string());
            parameters.insert("totalSize".into(), p.stats.bytes.to_string());
            parameters.insert("numRows".into(), p.stats.rows.to_string());
            Partition {
                values: p.values.clone(),
                location: folder_url(&table_root, &p.relative_dir),
                parameters,
                created_at: 0,
            }
        })
        .collect()
}

fn column_reasons(group: &TableGroup, name: &str) -> Vec<String> {
    group
        .schema
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .map(|c| {
            let mut reasons = c.reasons.clone();
            reasons.dedup();
            reasons
        })
        .unwrap_or_default()
}

fn new_table_plan(group: TableGroup, table: Table) -> TablePlan {
    let columns = table
        .storage
        .columns
        .iter()
        .map(|c| ColumnPlan {
            name: c.name.clone(),
            data_type: c.data_type.clone(),
            change: ColumnChange::New,
            reasons: column_reasons(&group, &c.name),
        })
        .collect();
    let mut warnings = group.warnings.clone();
    for key in &group.partition_keys {
        if group.schema.columns.iter().any(|c| c.name.eq_ignore_ascii_case(&key.name)) {
            warnings.push(format!("column {} is also a partition key; the folder value is used", key.name));
        }
    }
    let add_partitions = found_partitions(&group, &table.storage.location);
    TablePlan {
        name: table.name.clone(),
        location: table.storage.location.clone(),
        action: TableAction::Create,
        base_version: None,
        columns,
        partition_keys: group.partition_keys.clone(),
        add_partitions,
        update_partitions: Vec::new(),
        vanished_partitions: Vec::new(),
        schema_change: Some(format!("created by tarn crawl: {}", group.reasons.join("; "))),
        reasons: group.reasons.clone(),
        warnings,
        file_notes: group.file_notes.clone(),
        stats: group.stats,
        table,
    }
}

fn existing_table_plan(
    group: TableGroup,
    desired: Table,
    current: &Table,
    partitions: &[Partition],
    delete_behavior: DeleteBehavior,
) -> TablePlan {
    let mut plan = new_table_plan(group.clone(), desired.clone());
    plan.base_version = Some(current.version);
    plan.schema_change = None;
    plan.add_partitions.clear();
    if current.storage.location != desired.storage.location {
        plan.action = TableAction::Conflict(format!(
            "a table {} already exists at {}; left alone (use --table-prefix to crawl into other names)",
            current.name, current.storage.location
        ));
        return plan;
    }
    let current_keys: Vec<String> = current.partition_keys.iter().map(|k| k.name.to_lowercase()).collect();
    let desired_keys: Vec<String> = desired.partition_keys.iter().map(|k| k.name.to_lowercase()).collect();
    if current_keys != desired_keys {
        plan.action = TableAction::Conflict(format!(
            "partitioned by ({}) in the catalog but the folders say ({}); left alone",
            current_keys.join(", "),
            desired_keys.join(", ")
        ));
        return plan;
    }
    let mut table = current.clone();
    let mut schema_changes = Vec::new();
    let mut columns = Vec::new();
    for column in &mut table.storage.columns {
        let found = desired.storage.columns.iter().find(|c| c.name.eq_ignore_ascii_case(&column.name));
        let reasons = column_reasons(&group, &column.name);
        let change = match found {
            None => ColumnChange::Kept,
            Some(f) => {
                let widened = widen(&column.data_type, &f.data_type);
                if widened != column.data_type {
                    schema_changes.push(format!("{} widened {} → {widened}", column.name, column.data_type));
                    let from = std::mem::replace(&mut column.data_type, widened);
                    ColumnChange::Widened { from }
                } else {
                    ColumnChange::Unchanged
                }
            }
        };
        let reasons = if change == ColumnChange::Kept {
            vec!["not in the files found; kept (the crawler never drops columns)".to_string()]
        } else {
            reasons
        };
        columns.push(ColumnPlan { name: column.name.clone(), data_type: column.data_type.clone(), change, reasons });
    }
    for column in &desired.storage.columns {
        if !table.storage.columns.iter().any(|c| c.name.eq_ignore_ascii_case(&column.name)) {
            let reasons = column_reasons(&group, &column.name);
            let first_seen = group
                .schema
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&column.name))
                .map(|c| c.first_seen.clone())
                .unwrap_or_default();
            schema_changes.push(format!("{} {} added (first in {first_seen})", column.name, column.data_type));
            table.storage.columns.push(column.clone());
            columns.push(ColumnPlan {
                name: column.name.clone(),
                data_type: column.data_type.clone(),
                change: ColumnChange::Added,
                reasons,
            });
        }
    }
    for (key, wanted) in table.partition_keys.iter_mut().zip(&desired.partition_keys) {
        let widened = widen(&key.data_type, &wanted.data_type);
        if widened != key.data_type {
            schema_changes.push(format!("partition key {} widened {} → {widened}", key.name, key.data_type));
            key.data_type = widened;
        }
    }
    keep_or_fill(
        &mut table.storage.serde_parameters,
        &desired.storage.serde_parameters,
        "SerDe parameter",
        &mut plan.warnings,
    );
    let mut wanted_parameters = desired.parameters.clone();
    for key in STATISTICS {
        if let Some(value) = wanted_parameters.remove(*key) {
            table.parameters.insert(key.to_string(), value);
        }
    }
    keep_or_fill(&mut table.parameters, &wanted_parameters, "table property", &mut plan.warnings);
    if table.storage.format != desired.storage.format {
        plan.warnings.push(format!(
            "the catalog says {} but the files are {}; kept the catalog's format",
            table.storage.format.as_str(),
            desired.storage.format.as_str()
        ));
    }
    plan.columns = columns;
    if !schema_changes.is_empty() {
        plan.schema_change = Some(schema_changes.join("; "));
    }
    let found = found_partitions(&group, &desired.storage.location);
    let mut by_values: BTreeMap<&[String], &Partition> = BTreeMap::new();
    for p in partitions {
        by_values.insert(&p.values, p);
    }
    for partition in &found {
        match by_values.remove(&partition.values[..]) {
            None => plan.add_partitions.push(partition.clone()),
            Some(existing) => {
                let mut merged = existing.parameters.clone();
                merged.extend(partition.parameters.clone());
                if merged != existing.parameters {
                    plan.update_partitions.push(Partition { parameters: merged, ..existing.clone() });
                }
            }
        }
    }
    plan.vanished_partitions = by_values
        .into_values()
        .map(|p| VanishedPartition { values: p.values.clone(), location: p.location.clone() })
        .collect();
    let changed = table != *current
        || !plan.add_partitions.is_empty()
        || !plan.update_partitions.is_empty()
        || (delete_behavior == DeleteBehavior::Delete && !plan.vanished_partitions.is_empty());
    plan.action = if changed { TableAction::Update } else { TableAction::Unchanged };
    plan.table = table;
    plan
}

/// Adds the `wanted` entries `current` lacks; where both have a key with different values the
/// current one stays (it may be the user's) and a warning says so.
fn keep_or_fill(current: &mut Parameters, wanted: &Parameters, what: &str, warnings: &mut Vec<String>) {
    for (key, value) in wanted {
        match current.get(key) {
            None => {
                current.insert(key.clone(), value.clone());
            }
            Some(existing) if existing != value => warnings.push(format!(
                "{what} {key} is '{existing}' in the catalog but the files suggest '{value}'; kept the catalog's"
            )),
            Some(_) => {}
        }
    }
}
