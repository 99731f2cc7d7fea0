//! Binder tests over a real catalog in a temporary home: each construct's plan and output
//! schema, and the errors (with positions) users see for unknown, ambiguous and ungrouped names.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use tarn_catalog::{Catalog, Column, DataFormat, Partition, SqlType, StorageDescriptor, Table, TableKind};

use crate::error::{EngineError, Result, SqlPosition};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::{JoinType, LogicalPlan};
use crate::sql::binder::Binder;

/// A scalar function with a fixed signature, for binding only.
struct TestScalar {
    name: &'static str,
    args: Vec<DataType>,
    ret: DataType,
}

impl ScalarFunction for TestScalar {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        if args.len() != self.args.len() {
            return Err(EngineError::plan(format!("{} takes {} arguments", self.name, self.args.len())));
        }
        Ok(Signature { arg_types: self.args.clone(), return_type: self.ret.clone() })
    }
    fn invoke(&self, _args: &[ColumnarValue], _rows: usize) -> Result<ColumnarValue> {
        Err(EngineError::execution("test function"))
    }
}

/// An aggregate returning Int64 (`count`) or its argument's type.
struct TestAggregate(&'static str);

impl AggregateFunction for TestAggregate {
    fn name(&self) -> &str {
        self.0
    }
    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let return_type = if self.0 == "count" { DataType::Int64 } else { args[0].clone() };
        Ok(Signature { arg_types: args.to_vec(), return_type })
    }
    fn accumulator(&self, _: &[DataType], _: bool) -> Result<Box<dyn GroupsAccumulator>> {
        Err(EngineError::execution("test aggregate"))
    }
}

pub(crate) fn test_functions() -> FunctionRegistry {
    let mut registry = FunctionRegistry::default();
    for name in ["count", "sum", "min", "max"] {
        registry.register_aggregate(Arc::new(TestAggregate(name)));
    }
    let scalar = |name, args: &[DataType], ret| Arc::new(TestScalar { name, args: args.to_vec(), ret });
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    registry.register_scalar(scalar("upper", &[DataType::Utf8], DataType::Utf8));
    registry.register_scalar(scalar("date_part", &[DataType::Utf8, ts.clone()], DataType::Int64));
    registry.register_scalar(scalar("datediff", &[DataType::Utf8, ts.clone(), ts], DataType::Int64));
    registry.register_scalar(scalar("substring", &[DataType::Utf8, DataType::Int64, DataType::Int64], DataType::Utf8));
    registry
}

fn table(name: &str, columns: &[(&str, SqlType)], keys: &[(&str, SqlType)]) -> Table {
    let cols = |list: &[(&str, SqlType)]| list.iter().map(|(n, t)| Column::new(*n, t.clone())).collect();
    Table {
        database: "default".into(),
        name: name.into(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns: cols(columns),
            location: format!("file:///lake/{name}/"),
            format: DataFormat::Parquet,
            serde_parameters: Default::default(),
        },
        partition_keys: cols(keys),
        parameters: Default::default(),
        created_at: 0,
        updated_at: 0,
        version: 1,
    }
}

/// A catalog with `orders`, `customers` and the partitioned `events`.
pub(crate) fn test_catalog() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = Catalog::open(dir.path()).expect("open catalog");
    let orders = table(
        "orders",
        &[
            ("id", SqlType::Int),
            ("customer_id", SqlType::Int),
            ("amount", SqlType::Decimal(10, 2)),
            ("status", SqlType::String),
            ("ts", SqlType::Timestamp),
        ],
        &[],
    );
    let customers = table(
        "customers",
        &[("id", SqlType::Int), ("name", SqlType::Varchar(Some(32))), ("region", SqlType::String)],
        &[],
    );
    let events = table(
        "events",
        &[("id", SqlType::BigInt), ("payload", SqlType::String)],
        &[("year", SqlType::Int), ("month", SqlType::String)],
    );
    for t in [&orders, &customers, &events] {
        catalog.create_table(t, false).expect("create table");
    }
    let partition = |y: &str, m: &str| Partition {
        values: vec![y.into(), m.into()],
        location: format!("file:///lake/events/year={y}/month={m}/"),
        parameters: Default::default(),
        created_at: 0,
    };
    let parts = [
        partition("2023", "12"),
        partition("2024", "01"),
        partition("2024", "02"),
        partition(tarn_catalog::HIVE_DEFAULT_PARTITION, "01"),
    ];
    catalog.add_partitions("default", "events", &parts, false).expect("add partitions");
    (dir, catalog)
}

pub(crate) fn bind_with(catalog: &Catalog, functions: &FunctionRegistry, sql: &str) -> Result<LogicalPlan> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).expect("test SQL parses");
    let sqlparser::ast::Statement::Query(query) = &statements[0] else { panic!("not a query: {sql}") };
    Binder::new(catalog, "default", functions).bind_query(query)
}

fn bind(sql: &str) -> Result<LogicalPlan> {
    let (_dir, catalog) = test_catalog();
    bind_with(&catalog, &test_functions(), sql)
}

fn plan(sql: &str) -> String {
    bind(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).display_indent()
}

fn names_and_types(sql: &str) -> Vec<(String, DataType)> {
    let plan = bind(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    plan.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
}

fn error(sql: &str) -> (String, Option<SqlPosition>) {
    match bind(sql) {
        Ok(plan) => panic!("{sql} bound to\n{}", plan.display_indent()),
        Err(e) => (e.to_string(), e.position()),
    }
}

fn at(line: u64, column: u64) -> Option<SqlPosition> {
    Some(SqlPosition { line, column })
}

#[test]
fn select_star_lists_data_columns_then_partition_keys() {
    let cols = names_and_types("SELECT * FROM events");
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["id", "payload", "year", "month"]);
    assert_eq!(plan("SELECT * FROM events"), "Project [#0 AS id, #1 AS payload, #2 AS year, #3 AS month]\n  Scan default.events columns=[id, payload, year, month] partitions=4/4\n");
}

#[test]
fn qualified_names_aliases_and_where() {
    let p = plan(
        "SELECT orders.id, default.orders.status, o2.id FROM default.orders, orders AS o2 WHERE o2.status = 'paid'",
    );
    assert!(p.starts_with("Project [#0 AS id, #3 AS status, #5 AS id]\n  Filter (#8 = 'paid')\n    Join Cross"), "{p}");
}

#[test]
fn literals_take_their_types() {
    let cols = names_and_types(
        "SELECT 1, 3000000000, 1.50, 1e3, 'x', DATE '2024-01-31', TIMESTAMP '2024-01-31 10:00:00', true, NULL",
    );
    let types: Vec<DataType> = cols.into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        types,
        [
            DataType::Int32,
            DataType::Int64,
            DataType::Decimal128(3, 2),
            DataType::Float64,
            DataType::Utf8,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Boolean,
            DataType::Null
        ]
    );
    assert_eq!(plan("SELECT 1 AS one"), "Project [1 AS one]\n  Values rows=1 columns=[]\n");
}

#[test]
fn comparisons_and_arithmetic_insert_casts() {
    let p = plan("SELECT id + amount, ts >= '2024-01-01' FROM orders");
    assert!(p.contains("(CAST(#0 AS Decimal128(10, 0)) + #2)"), "{p}");
    assert!(p.contains("(#4 >= TIMESTAMP '2024-01-01 00:00:00')"), "{p}");
    let cols = names_and_types("SELECT id + amount AS total FROM orders");
    assert_eq!(cols[0].0, "total");
    assert!(matches!(cols[0].1, DataType::Decimal128(..)));
}

#[test]
fn predicates_between_in_like_case_cast() {
    let p = plan(
        "SELECT CASE WHEN amount BETWEEN 1 AND 5 THEN 'small' ELSE NULL END, \
         status IN ('a', 'b'), status NOT LIKE 'x%', status ILIKE 'P%', id::bigint, CAST(status AS varchar(10)), \
         TRY_CAST(status AS int), amount IS NULL, (id > 1) IS TRUE FROM orders",
    );
    assert!(p.contains("CASE WHEN ((#2 >= CAST(1 AS Decimal128(10, 2))) AND (#2 <= CAST(5 AS Decimal128(10, 2)))) THEN 'small' ELSE NULL END"), "{p}");
    assert!(p.contains("#3 IN ('a', 'b')"), "{p}");
    assert!(p.contains("#3 NOT LIKE 'x%'"), "{p}");
    assert!(p.contains("#3 ILIKE 'P%'"), "{p}");
    assert!(p.contains("CAST(#0 AS Int64) AS id"), "{p}");
    assert!(p.contains("TRY_CAST(#3 AS Int32)"), "{p}");
    assert!(p.contains("#2 IS NULL"), "{p}");
}

#[test]
fn special_function_syntax_maps_to_registry_calls() {
    let p = plan("SELECT EXTRACT(year FROM ts), SUBSTRING(status FROM 2 FOR 3), upper(status) || 'x', datediff(month, ts, ts) FROM orders");
    assert!(p.contains("date_part('year', #4)"), "{p}");
    assert!(p.contains("substring(#3, CAST(2 AS Int64), CAST(3 AS Int64))"), "{p}");
    assert!(p.contains("(upper(#3) || 'x')"), "{p}");
    assert!(p.contains("datediff('month', #4, #4)"), "{p}");
}

#[test]
fn joins_split_equi_keys_and_residual() {
    let p = plan("SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer_id = c.id AND o.amount > 5 AND c.region <> o.status");
    assert!(p.contains("Join Inner on=[#1 = #0] filter=((#2 > CAST(5 AS Decimal128(10, 2))) AND (#7 <> #3))"), "{p}");
    let p = plan("SELECT * FROM orders LEFT JOIN customers USING (id)");
    assert!(p.contains("Join Left on=[#0 = #0]"), "{p}");
    let names: Vec<String> =
        names_and_types("SELECT * FROM orders JOIN customers USING (id)").into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["id", "customer_id", "amount", "status", "ts", "name", "region"]);
    let p = plan("SELECT * FROM orders, customers");
    assert!(p.contains("Join Cross on=[]"), "{p}");
    let p = plan("SELECT * FROM orders o FULL OUTER JOIN customers c ON o.customer_id = c.id CROSS JOIN events");
    assert!(p.contains("Join Cross") && p.contains("Join Full"), "{p}");
    let p = plan("SELECT * FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id");
    assert!(p.contains("Join Right"), "{p}");
}

#[test]
fn join_outputs_become_nullable_on_the_padded_side() {
    let plan = bind("SELECT c.name FROM orders o LEFT JOIN customers c ON o.customer_id = c.id").unwrap();
    let LogicalPlan::Project { input, .. } = &plan else { panic!() };
    let LogicalPlan::Join { join_type, schema, .. } = input.as_ref() else { panic!() };
    assert_eq!(*join_type, JoinType::Left);
    assert!(schema.field(6).is_nullable());
}

#[test]
fn group_by_names_aliases_ordinals_and_expressions() {
    let expected = "Project [#0 AS status, #1 AS n]\n  Aggregate group_by=[#3] aggregates=[count(*)]\n    Scan default.orders columns=[id, customer_id, amount, status, ts]\n";
    assert_eq!(plan("SELECT status, COUNT(*) AS n FROM orders GROUP BY status"), expected);
    assert_eq!(
        plan("SELECT status AS s, COUNT(*) AS n FROM orders GROUP BY s").replace("AS s,", "AS status,"),
        expected
    );
    assert_eq!(plan("SELECT status, COUNT(*) AS n FROM orders GROUP BY 1"), expected);
    let p = plan("SELECT upper(status), SUM(amount) FROM orders GROUP BY upper(status) HAVING SUM(amount) > 100");
    assert!(p.contains("Aggregate group_by=[upper(#3)] aggregates=[sum(#2)]"), "{p}");
    assert!(p.contains("Filter (#1 > CAST(100 AS Decimal128(10, 2)))"), "{p}");
    let p = plan("SELECT COUNT(DISTINCT customer_id), SUM(amount) FILTER (WHERE status = 'paid') FROM orders");
    assert!(p.contains("aggregates=[count(DISTINCT #1), sum(#2) FILTER (WHERE (#3 = 'paid'))]"), "{p}");
    let p = plan("SELECT MAX(amount) - MIN(amount) FROM orders");
    assert!(p.contains("Project [(#0 - #1) AS ?column?]"), "{p}");
}

#[test]
fn order_by_alias_ordinal_and_hidden_columns() {
    let p = plan("SELECT id AS k, status FROM orders ORDER BY k DESC, 2");
    assert!(p.starts_with("Sort [#0 DESC NULLS FIRST, #1 ASC NULLS LAST]\n  Project"), "{p}");
    let p = plan("SELECT id FROM orders ORDER BY amount LIMIT 5 OFFSET 2");
    assert_eq!(
        p,
        "Project [#0 AS id]\n  Limit skip=2 fetch=Some(5)\n    Sort [#1 ASC NULLS LAST]\n      Project [#0 AS id, #2 AS __order_2]\n        Scan default.orders columns=[id, customer_id, amount, status, ts]\n"
    );
    let p = plan("SELECT status FROM orders GROUP BY status ORDER BY COUNT(*) DESC NULLS LAST");
    assert!(p.contains("Sort [#1 DESC NULLS LAST]"), "{p}");
    let (msg, _) = error("SELECT DISTINCT status FROM orders ORDER BY id");
    assert!(msg.contains("ORDER BY expressions must appear in the select list"), "{msg}");
}

#[test]
fn ctes_derived_tables_and_unions() {
    let p = plan(
        "WITH big(i, a) AS (SELECT id, amount FROM orders WHERE amount > 100) SELECT b.i FROM big b WHERE b.a < 1000",
    );
    assert!(p.contains("Scan default.orders"), "{p}");
    let cols = names_and_types("SELECT x.n FROM (SELECT COUNT(*) AS n FROM orders) AS x");
    assert_eq!(cols, [("n".to_string(), DataType::Int64)]);
    let p = plan("SELECT id FROM orders UNION SELECT id FROM events ORDER BY 1 LIMIT 3");
    assert!(
        p.starts_with("Limit skip=0 fetch=Some(3)\n  Sort [#0 ASC NULLS LAST]\n    Distinct\n      Union inputs=2"),
        "{p}"
    );
    assert!(p.contains("Project [CAST(#0 AS Int64) AS id]"), "{p}");
    let cols = names_and_types("SELECT id FROM orders UNION ALL SELECT id FROM events");
    assert_eq!(cols, [("id".to_string(), DataType::Int64)]);
}

#[test]
fn scans_list_all_partitions() {
    let plan = bind("SELECT id FROM events").unwrap();
    let LogicalPlan::Project { input, .. } = plan else { panic!() };
    let LogicalPlan::Scan(scan) = *input else { panic!() };
    assert_eq!(scan.partitions.len(), 4);
    assert_eq!(scan.partitions_pruned, 0);
    assert_eq!(scan.projection, [0, 1, 2, 3]);
    assert!(scan.filters.is_empty());
}

#[test]
fn unknown_table_suggests_the_closest_name() {
    let (msg, pos) = error("SELECT *\nFROM  ordrs");
    assert_eq!(msg, "table 'default.ordrs' does not exist; did you mean 'orders'? (line 2, column 7)");
    assert_eq!(pos, at(2, 7));
    let (msg, _) = error("SELECT * FROM nope.orders");
    assert!(msg.starts_with("database 'nope' does not exist"), "{msg}");
}

#[test]
fn unknown_column_suggests_the_closest_visible_name() {
    let (msg, pos) = error("SELECT id, amout FROM orders");
    assert!(msg.starts_with("column 'amout' does not exist; did you mean 'amount'?"), "{msg}");
    assert_eq!(pos, at(1, 12));
    let (msg, pos) = error("SELECT o.id FROM orders x");
    assert!(msg.contains("no table or alias 'o' in FROM"), "{msg}");
    assert_eq!(pos, at(1, 8));
}

#[test]
fn ambiguous_column_names_its_sources() {
    let (msg, pos) = error("SELECT id FROM orders o JOIN customers c ON o.customer_id = c.id");
    assert!(msg.starts_with("column reference 'id' is ambiguous: it could be o.id or c.id"), "{msg}");
    assert_eq!(pos, at(1, 8));
}

#[test]
fn ungrouped_column_is_named_with_its_position() {
    let (msg, pos) = error("SELECT status,\n  id FROM orders GROUP BY status");
    assert!(
        msg.starts_with("column 'id' must appear in the GROUP BY clause or be used in an aggregate function"),
        "{msg}"
    );
    assert_eq!(pos, at(2, 3));
}

#[test]
fn misplaced_aggregates_and_unknown_functions_are_errors() {
    let (msg, _) = error("SELECT id FROM orders WHERE COUNT(*) > 1");
    assert!(msg.starts_with("aggregate function 'count' is not allowed in WHERE"), "{msg}");
    let (msg, _) = error("SELECT SUM(COUNT(*)) FROM orders");
    assert!(msg.contains("not allowed in an aggregate's arguments"), "{msg}");
    let (msg, pos) = error("SELECT uper(status) FROM orders");
    assert!(msg.starts_with("function 'uper' does not exist; did you mean 'upper'?"), "{msg}");
    assert_eq!(pos, at(1, 8));
}

#[test]
fn later_features_are_rejected_clearly() {
    for (sql, what) in [
        ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", "WITH RECURSIVE is not supported yet"),
        (
            "SELECT * FROM orders o JOIN customers c ON c.id IN (SELECT id FROM customers)",
            "a subquery in JOIN ... ON is not supported yet",
        ),
        (
            "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = o.id))",
            "a reference to a query more than one level out is not supported yet",
        ),
    ] {
        let (msg, _) = error(sql);
        assert!(msg.starts_with(what), "{sql}: {msg}");
    }
}

#[test]
fn correlated_names_resolve_in_the_outer_query() {
    let plan = bind("SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)")
        .unwrap()
        .display_indent();
    // customers.id is the subquery's column #0; orders.customer_id the outer query's #1.
    assert!(
        plan.contains("Filter EXISTS(Project [1 AS ?column?]; Filter (#0 = outer#1); Scan default.customers"),
        "{plan}"
    );
    // A name both queries have resolves to the innermost one.
    let plan =
        bind("SELECT id FROM orders WHERE id IN (SELECT id FROM customers WHERE id > 1)").unwrap().display_indent();
    assert!(plan.contains("#0 IN (Project [#0 AS id]; Filter (#0 > 1)"), "{plan}");
}

#[test]
fn subquery_shapes_are_checked() {
    let (msg, pos) = error("SELECT id FROM orders WHERE id IN (SELECT id, name FROM customers)");
    assert!(msg.starts_with("subquery must return only one column, not 2"), "{msg}");
    assert_eq!(pos, at(1, 29));
    let (msg, _) =
        error("SELECT status, (SELECT max(id) FROM customers c WHERE c.id = o.id) FROM orders o GROUP BY status");
    assert!(msg.starts_with("column 'id' must appear in the GROUP BY clause"), "{msg}");
}

#[test]
fn grouping_sets_are_a_union_of_aggregates() {
    let plan = bind("SELECT status, customer_id, count(*), GROUPING(status, customer_id) FROM orders GROUP BY ROLLUP (status, customer_id)")
        .unwrap()
        .display_indent();
    assert!(plan.contains("Union inputs=3"), "{plan}");
    assert!(plan.contains("Aggregate group_by=[#3, #1] aggregates=[count(*)]"), "{plan}");
    assert!(plan.contains("Project [#0 AS status, NULL AS customer_id, #1 AS count, 1 AS grouping]"), "{plan}");
    assert!(plan.contains("Project [NULL AS status, NULL AS customer_id, #0 AS count, 3 AS grouping]"), "{plan}");
    let cube = bind("SELECT status, customer_id FROM orders GROUP BY CUBE (status, customer_id)").unwrap();
    assert!(cube.display_indent().contains("Union inputs=4"), "{}", cube.display_indent());
    let (msg, _) = error("SELECT status, GROUPING(id) FROM orders GROUP BY status");
    assert!(msg.starts_with("arguments to GROUPING must be grouping expressions"), "{msg}");
    let (msg, _) = error("SELECT GROUPING(id) FROM orders");
    assert!(msg.starts_with("arguments to GROUPING must be grouping expressions"), "{msg}");
}

#[test]
fn intersect_and_except_count_rows_per_side() {
    let plan = bind("SELECT id FROM orders INTERSECT SELECT id FROM customers").unwrap().display_indent();
    assert!(plan.contains("Filter ((#1 > 0) AND (#2 > 0))"), "{plan}");
    assert!(plan.contains("aggregates=[count(*) FILTER (WHERE (#1 = 0)), count(*) FILTER (WHERE (#1 = 1))]"), "{plan}");
    let plan = bind("SELECT id FROM orders EXCEPT ALL SELECT id FROM customers").unwrap().display_indent();
    assert!(plan.contains("Filter ((#2 > 0) AND (#3 = 0))"), "{plan}");
    assert!(plan.contains("Window [row_number() OVER (PARTITION BY #0"), "{plan}");
}
