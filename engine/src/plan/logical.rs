//! The logical plan: a tree of relational operators whose expressions are bound to their input's
//! output columns by position. The binder builds it, optimizer rules rewrite it, the physical
//! planner turns it into pipelines.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use tarn_catalog::{Partition, Table};

use crate::plan::expr::{AggregateExpr, Expr, SortExpr};
use crate::plan::window::WindowExpr;

/// Join semantics. `Semi`/`Anti`/`NullAwareAnti` output only the left columns; `Mark` and
/// `NullAwareMark` output the left columns and one boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    Inner,
    Left,
    Right,
    Full,
    Cross,
    Semi,
    Anti,
    /// `x NOT IN (subquery)` over the equi-keys: as `Anti`, but a right side with a NULL key
    /// keeps no row, and a left row with a NULL key is kept only when the right side is empty
    /// (SQL: `x NOT IN (..., NULL)` is never true).
    NullAwareAnti,
    /// `EXISTS` where it is not a `WHERE` conjunct: every left row, plus whether it matched.
    Mark,
    /// `x IN (subquery)` where it is not a `WHERE` conjunct: every left row, plus `x IN (...)`
    /// with three-valued logic (NULL when unmatched and either key side holds a NULL).
    NullAwareMark,
    /// A scalar subquery: as `Left`, but a left row with more than one match is an error.
    Single,
}

impl JoinType {
    /// Whether the output carries the right columns (after the left ones).
    pub fn emits_right(self) -> bool {
        !matches!(
            self,
            JoinType::Semi | JoinType::Anti | JoinType::NullAwareAnti | JoinType::Mark | JoinType::NullAwareMark
        )
    }

    /// Whether the output has one extra boolean column after the left ones.
    pub fn is_mark(self) -> bool {
        matches!(self, JoinType::Mark | JoinType::NullAwareMark)
    }
}

/// A scan of a catalog table with what the optimizer pushed into it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableScan {
    pub table: Arc<Table>,
    /// Every column of the table: data columns, then partition keys (Arrow types).
    pub table_schema: SchemaRef,
    /// Output columns, as indices into `table_schema`.
    pub projection: Vec<usize>,
    /// Conjuncts the scan must apply exactly, bound to `table_schema` (not to the projection), so
    /// the scan can read filter-only columns, prune row groups and drop rows before projecting.
    pub filters: Vec<Expr>,
    /// Partitions left to read (all of them until partition pruning runs). Empty for
    /// unpartitioned tables.
    pub partitions: Vec<Partition>,
    /// How many partitions pruning removed (for `EXPLAIN`).
    pub partitions_pruned: usize,
    /// Output schema (the projected fields of `table_schema`).
    pub schema: SchemaRef,
    /// What planning knows of the table's size (shared: scans of one table are cloned often).
    pub statistics: Arc<TableStatistics>,
}

/// What planning knows of a table before reading it, gathered once when the scan is bound
/// (`optimizer::statistics`) for cardinality estimates. Empty when nothing is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStatistics {
    /// Rows of the whole table (every partition), when known.
    pub rows: Option<u64>,
    /// Where `rows` came from: `catalog`, `files`, `footers` or `bytes` (a guess from file sizes).
    pub source: &'static str,
    /// Per column of the table (data columns, then partition keys): (min, max) of integer and
    /// date columns, when the files' footers record them.
    pub int_ranges: Vec<Option<(i64, i64)>>,
}

/// A logical relational operator.
#[derive(Debug, Clone, PartialEq)]
pub enum LogicalPlan {
    Scan(TableScan),
    /// Literal rows (`VALUES`, `SELECT` without `FROM`); expressions are constant.
    Values {
        schema: SchemaRef,
        rows: Vec<Vec<Expr>>,
    },
    Filter {
        input: Box<LogicalPlan>,
        predicate: Expr,
    },
    Project {
        input: Box<LogicalPlan>,
        exprs: Vec<Expr>,
        schema: SchemaRef,
    },
    /// Output: the group-by values, then one column per aggregate.
    Aggregate {
        input: Box<LogicalPlan>,
        group_by: Vec<Expr>,
        aggregates: Vec<AggregateExpr>,
        schema: SchemaRef,
    },
    /// Output: left columns then right columns (see [`JoinType`] for the others). `on` pairs are
    /// (expression over left, expression over right) equi-keys; `filter` is a residual predicate
    /// over the combined left+right columns.
    Join {
        left: Box<LogicalPlan>,
        right: Box<LogicalPlan>,
        join_type: JoinType,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
        schema: SchemaRef,
    },
    /// `fetch` limits the output to the first rows (top-N) when a `LIMIT` sits on the sort.
    Sort {
        input: Box<LogicalPlan>,
        keys: Vec<SortExpr>,
        fetch: Option<usize>,
    },
    Limit {
        input: Box<LogicalPlan>,
        skip: usize,
        fetch: Option<usize>,
    },
    /// Removes duplicate rows (SQL `DISTINCT`, `UNION` without `ALL`).
    Distinct {
        input: Box<LogicalPlan>,
    },
    /// Window functions over the input. Output: the input columns, then one column per window
    /// expression (bound to the input).
    Window {
        input: Box<LogicalPlan>,
        window_exprs: Vec<WindowExpr>,
        schema: SchemaRef,
    },
    /// Concatenation of inputs with identical column types (`UNION ALL`).
    Union {
        inputs: Vec<LogicalPlan>,
        schema: SchemaRef,
    },
    /// A subplan that occurs more than once in the query (a CTE used twice), computed once and
    /// read by every occurrence. Every occurrence keeps its full `input` (the plan stays a tree
    /// each rule and estimate can walk); the physical planner plans the input of the first
    /// occurrence of `id` only (`optimizer::shared_subplan`).
    Shared {
        id: usize,
        input: Box<LogicalPlan>,
    },
}

impl LogicalPlan {
    pub fn schema(&self) -> SchemaRef {
        match self {
            LogicalPlan::Scan(scan) => scan.schema.clone(),
            LogicalPlan::Values { schema, .. }
            | LogicalPlan::Project { schema, .. }
            | LogicalPlan::Aggregate { schema, .. }
            | LogicalPlan::Join { schema, .. }
            | LogicalPlan::Union { schema, .. }
            | LogicalPlan::Window { schema, .. } => schema.clone(),
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::Shared { input, .. } => input.schema(),
        }
    }

    pub fn inputs(&self) -> Vec<&LogicalPlan> {
        match self {
            LogicalPlan::Scan(_) | LogicalPlan::Values { .. } => vec![],
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::Window { input, .. }
            | LogicalPlan::Shared { input, .. } => vec![input],
            LogicalPlan::Join { left, right, .. } => vec![left, right],
            LogicalPlan::Union { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// An empty-input relation producing one row with no columns (`SELECT 1`).
    pub fn one_row() -> LogicalPlan {
        LogicalPlan::Values { schema: Arc::new(Schema::empty()), rows: vec![vec![]] }
    }

    /// Indented tree for `EXPLAIN`.
    pub fn display_indent(&self) -> String {
        let mut out = String::new();
        self.write_indent(&mut out, 0);
        out
    }

    fn write_indent(&self, out: &mut String, depth: usize) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&self.to_string());
        out.push('\n');
        for input in self.inputs() {
            input.write_indent(out, depth + 1);
        }
    }
}

fn join_list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// Field names of a schema, for plan display.
fn field_names(schema: &Schema) -> String {
    schema.fields().iter().map(|f: &Arc<Field>| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for LogicalPlan {
    /// One line per node; column references print as `#i` (position in the input).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogicalPlan::Scan(scan) => {
                write!(f, "Scan {}.{} columns=[{}]", scan.table.database, scan.table.name, field_names(&scan.schema))?;
                if !scan.filters.is_empty() {
                    write!(f, " filters=[{}]", join_list(&scan.filters))?;
                }
                if scan.table.is_partitioned() {
                    write!(
                        f,
                        " partitions={}/{}",
                        scan.partitions.len(),
                        scan.partitions.len() + scan.partitions_pruned
                    )?;
                }
                Ok(())
            }
            LogicalPlan::Values { rows, schema } => {
                write!(f, "Values rows={} columns=[{}]", rows.len(), field_names(schema))
            }
            LogicalPlan::Filter { predicate, .. } => write!(f, "Filter {predicate}"),
            LogicalPlan::Project { exprs, schema, .. } => {
                let items: Vec<String> =
                    exprs.iter().zip(schema.fields()).map(|(e, fl)| format!("{e} AS {}", fl.name())).collect();
                write!(f, "Project [{}]", items.join(", "))
            }
            LogicalPlan::Aggregate { group_by, aggregates, .. } => {
                write!(f, "Aggregate group_by=[{}] aggregates=[{}]", join_list(group_by), join_list(aggregates))
            }
            LogicalPlan::Join { join_type, on, filter, .. } => {
                let keys: Vec<String> = on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
                write!(f, "Join {join_type:?} on=[{}]", keys.join(", "))?;
                if let Some(filter) = filter {
                    write!(f, " filter={filter}")?;
                }
                Ok(())
            }
            LogicalPlan::Sort { keys, fetch, .. } => {
                let items: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        format!(
                            "{} {} NULLS {}",
                            k.expr,
                            if k.ascending { "ASC" } else { "DESC" },
                            if k.nulls_first { "FIRST" } else { "LAST" }
                        )
                    })
                    .collect();
                write!(f, "Sort [{}]", items.join(", "))?;
                if let Some(n) = fetch {
                    write!(f, " fetch={n}")?;
                }
                Ok(())
            }
            LogicalPlan::Limit { skip, fetch, .. } => write!(f, "Limit skip={skip} fetch={fetch:?}"),
            LogicalPlan::Distinct { .. } => write!(f, "Distinct"),
            LogicalPlan::Union { inputs, .. } => write!(f, "Union inputs={}", inputs.len()),
            LogicalPlan::Shared { id, .. } => write!(f, "Shared #{id}"),
            LogicalPlan::Window { window_exprs, schema, .. } => {
                let first = schema.fields().len() - window_exprs.len();
                let items: Vec<String> = window_exprs
                    .iter()
                    .zip(&schema.fields()[first..])
                    .map(|(w, fl)| format!("{w} AS {}", fl.name()))
                    .collect();
                write!(f, "Window [{}]", items.join(", "))
            }
        }
    }
}
