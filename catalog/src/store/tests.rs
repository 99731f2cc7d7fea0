//! Tests of the catalog store: CRUD of each kind, naming, transactions, persistence, concurrency.

use std::sync::Arc;

use tempfile::TempDir;

use super::*;
use crate::model::{Column, DataFormat, Parameters, StorageDescriptor, TableKind};
use crate::types::SqlType;

fn open() -> (TempDir, Catalog) {
    let home = tempfile::tempdir().expect("temp dir");
    let catalog = Catalog::open(home.path()).expect("open catalog");
    (home, catalog)
}

fn database(name: &str) -> Database {
    Database {
        name: name.to_string(),
        description: Some("sales data".to_string()),
        location_uri: Some("s3://bucket/sales/".to_string()),
        parameters: Parameters::from([("owner".to_string(), "bi".to_string())]),
        created_at: 0,
    }
}

fn table(database: &str, name: &str) -> Table {
    let mut column = Column::new("amount", SqlType::Decimal(12, 2));
    column.comment = Some("in euros".to_string());
    Table {
        database: database.to_string(),
        name: name.to_string(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns: vec![Column::new("id", SqlType::BigInt), Column::new("label", SqlType::Varchar(Some(32))), column],
            location: format!("s3://bucket/{name}/"),
            format: DataFormat::Csv,
            serde_parameters: Parameters::from([
                ("field.delim".to_string(), "|".to_string()),
                ("skip.header.line.count".to_string(), "1".to_string()),
            ]),
        },
        partition_keys: vec![Column::new("year", SqlType::Int), Column::new("month", SqlType::String)],
        parameters: Parameters::from([("classification".to_string(), "csv".to_string())]),
        created_at: 0,
        updated_at: 0,
        version: 0,
    }
}

fn partition(year: &str, month: &str) -> Partition {
    Partition {
        values: vec![year.to_string(), month.to_string()],
        location: format!("s3://bucket/t/year={year}/month={month}/"),
        parameters: Parameters::from([("numFiles".to_string(), "3".to_string())]),
        created_at: 0,
    }
}

fn file(name: &str) -> DataFile {
    DataFile { path: format!("file:///home/warehouse/default/t/{name}"), size_bytes: 1234, row_count: 10 }
}

fn values(year: &str, month: &str) -> Vec<String> {
    vec![year.to_string(), month.to_string()]
}

#[test]
fn opens_with_default_database() {
    let (home, catalog) = open();
    assert!(home.path().join(CATALOG_FILE).exists());
    let names: Vec<_> = catalog.list_databases().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["default"]);
    assert!(matches!(catalog.drop_database("DEFAULT", true, true), Err(CatalogError::ProtectedDatabase(_))));
}

#[test]
fn database_crud_and_if_not_exists() {
    let (_home, catalog) = open();
    assert!(catalog.create_database(&database("Sales"), false).unwrap());
    assert!(!catalog.create_database(&database("SALES"), true).unwrap());
    assert!(matches!(
        catalog.create_database(&database("sales"), false),
        Err(CatalogError::DatabaseExists(name)) if name == "sales"
    ));
    let stored = catalog.get_database("sAlEs").unwrap();
    assert_eq!(stored.name, "sales");
    assert_eq!(stored.description.as_deref(), Some("sales data"));
    assert_eq!(stored.location_uri.as_deref(), Some("s3://bucket/sales/"));
    assert_eq!(stored.parameters, database("x").parameters);
    assert!(stored.created_at > 0);
    catalog.create_database(&database("archive"), false).unwrap();
    let names: Vec<_> = catalog.list_databases().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["archive", "default", "sales"]);
    assert!(catalog.drop_database("Archive", false, false).unwrap().is_empty());
    assert!(!catalog.database_exists("archive").unwrap());
    assert!(catalog.drop_database("archive", true, false).unwrap().is_empty());
    assert!(matches!(catalog.drop_database("archive", false, false), Err(CatalogError::DatabaseNotFound(_))));
    assert!(matches!(catalog.get_database("nope"), Err(CatalogError::DatabaseNotFound(_))));
}

#[test]
fn drop_database_refuses_non_empty_without_cascade() {
    let (_home, catalog) = open();
    catalog.create_database(&database("sales"), false).unwrap();
    catalog.create_table(&table("sales", "orders"), false).unwrap();
    catalog.add_partitions("sales", "orders", &[partition("2024", "01")], false).unwrap();
    assert!(matches!(
        catalog.drop_database("sales", false, false),
        Err(CatalogError::DatabaseNotEmpty { tables: 1, .. })
    ));
    let dropped = catalog.drop_database("sales", false, true).unwrap();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].name, "orders");
    assert!(!catalog.database_exists("sales").unwrap());
    // The name is free again and nothing of the old table survives.
    catalog.create_database(&database("sales"), false).unwrap();
    catalog.create_table(&table("sales", "orders"), false).unwrap();
    assert!(catalog.list_partitions("sales", "orders").unwrap().is_empty());
}

#[test]
fn table_crud_round_trips_faithfully() {
    let (_home, catalog) = open();
    let original = table("Default", "Orders");
    assert!(catalog.create_table(&original, false).unwrap());
    assert!(!catalog.create_table(&original, true).unwrap());
    assert!(matches!(catalog.create_table(&original, false), Err(CatalogError::TableExists { .. })));
    let stored = catalog.get_table("DEFAULT", "ORDERS").unwrap();
    assert_eq!(stored.database, "default");
    assert_eq!(stored.name, "orders");
    assert_eq!(stored.version, 1);
    assert!(stored.created_at > 0 && stored.updated_at == stored.created_at);
    let expected = Table {
        database: "default".into(),
        name: "orders".into(),
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        version: 1,
        ..original
    };
    assert_eq!(stored, expected);
    assert!(catalog.table_exists("default", "orders").unwrap());
    assert!(!catalog.table_exists("nowhere", "orders").unwrap());

    catalog.create_table(&table("default", "customers"), false).unwrap();
    let names: Vec<_> = catalog.list_tables("default").unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["customers", "orders"]);

    let dropped = catalog.drop_table("default", "Customers", false).unwrap();
    assert_eq!(dropped.map(|t| t.name).as_deref(), Some("customers"));
    assert_eq!(catalog.drop_table("default", "customers", true).unwrap(), None);
    assert!(matches!(catalog.drop_table("default", "customers", false), Err(CatalogError::TableNotFound { .. })));
    assert!(matches!(catalog.get_table("nowhere", "t"), Err(CatalogError::DatabaseNotFound(_))));
    assert!(matches!(catalog.create_table(&table("nowhere", "t"), false), Err(CatalogError::DatabaseNotFound(_))));
    assert!(matches!(catalog.list_tables("nowhere"), Err(CatalogError::DatabaseNotFound(_))));
}

#[test]
fn replace_table_bumps_version() {
    let (_home, catalog) = open();
    catalog.create_table(&table("default", "orders"), false).unwrap();
    let before = catalog.get_table("default", "orders").unwrap();
    let mut changed = before.clone();
    changed.storage.columns.push(Column::new("note", SqlType::String));
    changed.kind = TableKind::Local;
    changed.storage.format = DataFormat::Parquet;
    let returned = catalog.replace_table(&changed).unwrap();
    let after = catalog.get_table("default", "orders").unwrap();
    assert_eq!(returned, after);
    assert_eq!(after.version, 2);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    assert_eq!(after.storage.columns.len(), 4);
    assert_eq!(after.kind, TableKind::Local);
    assert_eq!(after.storage.format, DataFormat::Parquet);
    assert!(matches!(catalog.replace_table(&table("default", "missing")), Err(CatalogError::TableNotFound { .. })));
}

#[test]
fn partitions_add_list_get_drop() {
    let (_home, catalog) = open();
    catalog.create_table(&table("default", "t"), false).unwrap();
    let added = catalog
        .add_partitions(
            "default",
            "T",
            &[partition("2024", "10"), partition("2024", "2"), partition("2023", "12")],
            false,
        )
        .unwrap();
    assert_eq!(added, 3);
    let listed: Vec<_> = catalog.list_partitions("default", "t").unwrap().into_iter().map(|p| p.values).collect();
    assert_eq!(listed, [values("2023", "12"), values("2024", "2"), values("2024", "10")]);

    let found = catalog.get_partition("default", "t", &values("2024", "2")).unwrap().unwrap();
    assert_eq!(found.location, "s3://bucket/t/year=2024/month=2/");
    assert_eq!(found.parameters.get("numFiles").map(String::as_str), Some("3"));
    assert!(found.created_at > 0);
    assert_eq!(catalog.get_partition("default", "t", &values("1999", "1")).unwrap(), None);

    // IF NOT EXISTS skips the existing one; without it nothing is added at all.
    let batch = [partition("2024", "2"), partition("2025", "1")];
    assert!(matches!(catalog.add_partitions("default", "t", &batch, false), Err(CatalogError::PartitionExists { .. })));
    assert_eq!(catalog.list_partitions("default", "t").unwrap().len(), 3);
    assert_eq!(catalog.add_partitions("default", "t", &batch, true).unwrap(), 1);

    assert!(matches!(
        catalog.add_partitions(
            "default",
            "t",
            &[Partition { values: vec!["2024".into()], ..partition("x", "y") }],
            true
        ),
        Err(CatalogError::PartitionArity { expected: 2, got: 1, .. })
    ));

    let gone = [values("2024", "2"), values("1999", "1")];
    assert!(matches!(
        catalog.drop_partitions("default", "t", &gone, false),
        Err(CatalogError::PartitionNotFound { .. })
    ));
    assert_eq!(catalog.list_partitions("default", "t").unwrap().len(), 4);
    assert_eq!(catalog.drop_partitions("default", "t", &gone, true).unwrap(), 1);
    assert_eq!(catalog.list_partitions("default", "t").unwrap().len(), 3);

    catalog.drop_table("default", "t", false).unwrap();
    catalog.create_table(&table("default", "t"), false).unwrap();
    assert!(catalog.list_partitions("default", "t").unwrap().is_empty());
}

#[test]
fn table_files_add_replace_list() {
    let (_home, catalog) = open();
    let mut local = table("default", "t");
    local.kind = TableKind::Local;
    catalog.create_table(&local, false).unwrap();
    assert!(catalog.list_table_files("default", "t").unwrap().is_empty());
    catalog.add_table_files("default", "t", &[file("b.parquet"), file("a.parquet")]).unwrap();
    catalog.add_table_files("default", "t", &[file("c.parquet")]).unwrap();
    let listed = catalog.list_table_files("default", "T").unwrap();
    assert_eq!(listed, [file("b.parquet"), file("a.parquet"), file("c.parquet")]);
    assert!(matches!(
        catalog.add_table_files("default", "t", &[file("d.parquet"), file("a.parquet")]),
        Err(CatalogError::FileExists { .. })
    ));
    assert_eq!(catalog.list_table_files("default", "t").unwrap().len(), 3);
    catalog.replace_table_files("default", "t", &[file("z.parquet")]).unwrap();
    assert_eq!(catalog.list_table_files("default", "t").unwrap(), [file("z.parquet")]);
    catalog.replace_table_files("default", "t", &[]).unwrap();
    assert!(catalog.list_table_files("default", "t").unwrap().is_empty());
    assert!(matches!(
        catalog.add_table_files("default", "missing", &[file("a")]),
        Err(CatalogError::TableNotFound { .. })
    ));
}

#[test]
fn write_rolls_back_when_the_closure_fails() {
    let (_home, catalog) = open();
    let result: Result<()> = catalog.write(|tx| {
        tx.create_database(&database("staging"), false)?;
        tx.create_table(&table("staging", "t"), false)?;
        tx.create_table(&table("staging", "t"), false)?;
        Ok(())
    });
    assert!(matches!(result, Err(CatalogError::TableExists { .. })));
    assert!(!catalog.database_exists("staging").unwrap());

    // A failed operation whose error the closure swallows leaves no partial change behind.
    catalog
        .write(|tx| {
            tx.create_table(&table("default", "t"), false)?;
            let failed = tx.add_partitions("default", "t", &[partition("1", "1"), partition("1", "1")], false);
            assert!(failed.is_err());
            Ok(())
        })
        .unwrap();
    assert!(catalog.list_partitions("default", "t").unwrap().is_empty());
}

#[test]
fn read_transactions_refuse_writes() {
    let (_home, catalog) = open();
    let result = catalog.read(|tx| tx.create_database(&database("x"), false));
    assert!(matches!(result, Err(CatalogError::ReadOnlyTransaction(_))));
    let seen = catalog.read(|tx| Ok((tx.list_databases()?.len(), tx.database_exists("default")?)));
    assert_eq!(seen.unwrap(), (1, true));
}

#[test]
fn persists_across_reopen() {
    let home = tempfile::tempdir().unwrap();
    {
        let catalog = Catalog::open(home.path()).unwrap();
        catalog.create_database(&database("sales"), false).unwrap();
        catalog.create_table(&table("sales", "orders"), false).unwrap();
        catalog.add_partitions("sales", "orders", &[partition("2024", "01")], false).unwrap();
        catalog.add_table_files("sales", "orders", &[file("a.parquet")]).unwrap();
    }
    let catalog = Catalog::open(home.path()).unwrap();
    assert!(catalog.database_exists("sales").unwrap());
    assert_eq!(catalog.get_table("sales", "orders").unwrap().storage.columns.len(), 3);
    assert_eq!(catalog.list_partitions("sales", "orders").unwrap().len(), 1);
    assert_eq!(catalog.list_table_files("sales", "orders").unwrap(), [file("a.parquet")]);
}

#[test]
fn refuses_a_newer_schema_and_reports_corrupt_rows() {
    let home = tempfile::tempdir().unwrap();
    drop(Catalog::open(home.path()).unwrap());
    let path = home.path().join(CATALOG_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("UPDATE databases SET parameters = 'not json' WHERE name = 'default'").unwrap();
    drop(conn);
    let catalog = Catalog::open(home.path()).unwrap();
    match catalog.get_database("default") {
        Err(CatalogError::Corrupt(what)) => assert!(what.contains("database 'default'"), "{what}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    drop(catalog);

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert!(matches!(Catalog::open(home.path()), Err(CatalogError::UnsupportedSchema { found: 99, .. })));
}

#[test]
fn two_catalogs_on_one_home_create_tables_concurrently() {
    let home = tempfile::tempdir().unwrap();
    let first = Arc::new(Catalog::open(home.path()).unwrap());
    let second = Arc::new(Catalog::open(home.path()).unwrap());
    let workers: Vec<_> = [("a", first.clone()), ("b", second)]
        .into_iter()
        .map(|(prefix, catalog)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    catalog.create_table(&table("default", &format!("{prefix}_{i}")), false)?;
                }
                Ok::<_, CatalogError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker thread").expect("create tables");
    }
    assert_eq!(first.list_tables("default").unwrap().len(), 100);
}

#[test]
fn concurrent_opens_of_a_new_home_migrate_once() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("fresh");
    let openers: Vec<_> = (0..6)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let catalog = Catalog::open(&path)?;
                catalog.create_table(&table("default", &format!("t{i}")), false)
            })
        })
        .collect();
    for opener in openers {
        assert!(opener.join().expect("opener thread").expect("open and create"));
    }
    let catalog = Catalog::open(&path).unwrap();
    assert_eq!(catalog.list_tables("default").unwrap().len(), 6);
    assert_eq!(catalog.list_databases().unwrap().len(), 1);
}

#[test]
fn catalog_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Catalog>();
}
