//! Cardinality estimates for join ordering: how many rows a plan produces, and for each output
//! column what bounds its distinct values. The estimates only need to rank join orders, so they
//! use textbook heuristics: scans start from the table statistics gathered at bind time
//! ([`crate::plan::logical::TableStatistics`]); an equality with a literal keeps 1/NDV of the rows
//! when the column's value range is known (else 10%), a range comparison the covered share of the
//! range (else a third), `LIKE` a quarter; an equi-join keeps |L|·|R| / min(NDV(l), NDV(r)),
//! which for a primary-key/foreign-key join is the foreign-key side scaled by how much of the key
//! side survived its filters; an aggregate yields at most the product of its group NDVs.

use crate::plan::{BinaryOp, Expr, JoinType, LogicalPlan, ScalarValue};

/// Rows assumed for a table without statistics.
pub const UNKNOWN_TABLE_ROWS: f64 = 1_000.0;
/// Selectivities of predicates whose columns say nothing more specific.
const EQ_SELECTIVITY: f64 = 0.1;
const RANGE_SELECTIVITY: f64 = 1.0 / 3.0;
const LIKE_SELECTIVITY: f64 = 0.25;
const DEFAULT_SELECTIVITY: f64 = 0.5;
const NULL_SELECTIVITY: f64 = 0.05;

/// What bounds the distinct values of one output column.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColumnStats {
    /// (min, max) of an integer or date column.
    pub range: Option<(i64, i64)>,
    /// Rows of the relation whose column this is (a table, or an aggregate for its group keys):
    /// its distinct values cannot exceed them.
    pub base_rows: Option<f64>,
    /// Identity of that relation within one estimate (columns of one origin share a key).
    pub origin: Option<usize>,
}

impl ColumnStats {
    /// Distinct values from the value range alone (for equality with a literal).
    fn range_ndv(&self) -> Option<f64> {
        self.range.map(|(lo, hi)| (hi as f64 - lo as f64 + 1.0).max(1.0))
    }

    /// An upper bound of the column's distinct values, when one is known.
    pub fn domain(&self) -> Option<f64> {
        match (self.range_ndv(), self.base_rows) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A plan's estimated output rows and per-column statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub rows: f64,
    pub columns: Vec<ColumnStats>,
}

/// Estimates `plan`'s output.
pub fn estimate(plan: &LogicalPlan) -> Estimate {
    let unknown =
        |rows: f64, width: usize| Estimate { rows: rows.max(1.0), columns: vec![ColumnStats::default(); width] };
    match plan {
        LogicalPlan::Scan(scan) => {
            let stats = &scan.statistics;
            let table_rows = stats.rows.map(|r| r as f64);
            let total_partitions = scan.partitions.len() + scan.partitions_pruned;
            let read_share =
                if total_partitions == 0 { 1.0 } else { scan.partitions.len() as f64 / total_partitions as f64 };
            let origin = Some(scan as *const _ as usize);
            let table_columns: Vec<ColumnStats> = (0..scan.table_schema.fields().len())
                .map(|i| ColumnStats {
                    range: stats.int_ranges.get(i).copied().flatten(),
                    base_rows: table_rows,
                    origin,
                })
                .collect();
            let selectivity: f64 = scan.filters.iter().map(|f| selectivity(f, &table_columns)).product();
            let rows = table_rows.unwrap_or(UNKNOWN_TABLE_ROWS) * read_share * selectivity;
            Estimate { rows: rows.max(1.0), columns: scan.projection.iter().map(|&i| table_columns[i]).collect() }
        }
        LogicalPlan::Values { rows, schema } => unknown(rows.len() as f64, schema.fields().len()),
        LogicalPlan::Filter { input, predicate } => {
            let mut e = estimate(input);
            e.rows = (e.rows * selectivity(predicate, &e.columns)).max(1.0);
            e
        }
        LogicalPlan::Project { input, exprs, .. } => {
            let e = estimate(input);
            let columns = exprs.iter().map(|x| column_of(x, &e.columns).unwrap_or_default()).collect();
            Estimate { rows: e.rows, columns }
        }
        LogicalPlan::Aggregate { input, group_by, schema, .. } => {
            let e = estimate(input);
            let groups = if group_by.is_empty() {
                1.0
            } else {
                let ndvs: Option<f64> =
                    group_by.iter().map(|g| column_of(g, &e.columns).and_then(|c| c.domain())).product();
                ndvs.map_or(e.rows, |n| n.min(e.rows)).max(1.0)
            };
            let origin = Some(plan as *const _ as usize);
            let mut columns: Vec<ColumnStats> = group_by
                .iter()
                .map(|g| {
                    let range = column_of(g, &e.columns).and_then(|c| c.range);
                    // A single group key is unique in the output: a key for joins against it.
                    let base_rows = if group_by.len() == 1 { Some(groups) } else { None };
                    ColumnStats { range, base_rows, origin: base_rows.and(origin) }
                })
                .collect();
            columns.resize(schema.fields().len(), ColumnStats::default());
            Estimate { rows: groups, columns }
        }
        LogicalPlan::Join { left, right, join_type, on, filter, .. } => {
            let (l, r) = (estimate(left), estimate(right));
            let rows = join_rows(&l, &r, *join_type, on, filter.as_ref());
            let mut columns = l.columns;
            if join_type.emits_right() {
                columns.extend(r.columns);
            }
            if join_type.is_mark() {
                columns.push(ColumnStats::default());
            }
            Estimate { rows, columns }
        }
        LogicalPlan::Sort { input, fetch, .. } => {
            let mut e = estimate(input);
            if let Some(n) = fetch {
                e.rows = e.rows.min(*n as f64).max(1.0);
            }
            e
        }
        LogicalPlan::Limit { input, skip, fetch } => {
            let mut e = estimate(input);
            e.rows = (e.rows - *skip as f64).max(1.0);
            if let Some(n) = fetch {
                e.rows = e.rows.min(*n as f64).max(1.0);
            }
            e
        }
        LogicalPlan::Distinct { input } => {
            let e = estimate(input);
            let ndvs: Option<f64> = e.columns.iter().map(ColumnStats::domain).product();
            Estimate { rows: ndvs.map_or(e.rows, |n| n.min(e.rows)).max(1.0), columns: e.columns }
        }
        LogicalPlan::Window { input, schema, .. } => {
            let mut e = estimate(input);
            e.columns.resize(schema.fields().len(), ColumnStats::default());
            e
        }
        LogicalPlan::Union { inputs, schema } => {
            unknown(inputs.iter().map(|i| estimate(i).rows).sum(), schema.fields().len())
        }
        LogicalPlan::Shared { input, .. } => estimate(input),
    }
}

/// `plan` as `EXPLAIN` prints it ([`LogicalPlan::display_indent`]), with the estimated rows at
/// the end of each scan and join line (`est_rows=...`): the numbers join ordering went by.
pub fn display_with_estimates(plan: &LogicalPlan) -> String {
    fn write(plan: &LogicalPlan, depth: usize, out: &mut String) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&plan.to_string());
        if matches!(plan, LogicalPlan::Scan(_) | LogicalPlan::Join { .. }) {
            out.push_str(&format!(" est_rows={}", readable(estimate(plan).rows)));
        }
        out.push('\n');
        for input in plan.inputs() {
            write(input, depth + 1, out);
        }
    }
    let mut out = String::new();
    write(plan, 0, &mut out);
    out
}

/// A row estimate in two significant figures with an SI suffix (`1.5M`, `230k`, `25`).
fn readable(rows: f64) -> String {
    let (value, suffix) = match rows {
        r if r >= 1e9 => (r / 1e9, "G"),
        r if r >= 1e6 => (r / 1e6, "M"),
        r if r >= 1e3 => (r / 1e3, "k"),
        r => (r, ""),
    };
    if value >= 10.0 || suffix.is_empty() {
        format!("{value:.0}{suffix}")
    } else {
        format!("{value:.1}{suffix}")
    }
}

/// Rows out of a join of inputs estimated as `l` and `r`.
pub fn join_rows(l: &Estimate, r: &Estimate, join_type: JoinType, on: &[(Expr, Expr)], filter: Option<&Expr>) -> f64 {
    let keys: Vec<(Option<ColumnStats>, Option<ColumnStats>)> =
        on.iter().map(|(a, b)| (column_of(a, &l.columns), column_of(b, &r.columns))).collect();
    let pair_columns: Vec<ColumnStats> = l.columns.iter().chain(&r.columns).copied().collect();
    let residual = filter.map_or(1.0, |f| selectivity(f, &pair_columns));
    let inner = (equi_join_rows(l.rows, r.rows, &keys) * residual).max(1.0);
    match join_type {
        JoinType::Inner | JoinType::Cross => inner,
        JoinType::Left => inner.max(l.rows),
        JoinType::Right => inner.max(r.rows),
        JoinType::Full => inner.max(l.rows).max(r.rows),
        // A semi join filters its left side: each left key value survives when the right side
        // holds it, which (containment of the smaller key set) is ndv(right) / ndv(left) of them.
        JoinType::Semi if !keys.is_empty() => {
            let l_ndv = key_ndv(l.rows, keys.iter().map(|k| k.0).collect());
            let r_ndv = key_ndv(r.rows, keys.iter().map(|k| k.1).collect()).min(r.rows);
            (l.rows * (r_ndv / l_ndv).min(1.0) * residual).max(1.0)
        }
        JoinType::Semi => inner.min(l.rows),
        JoinType::Anti | JoinType::NullAwareAnti => (l.rows * DEFAULT_SELECTIVITY).max(1.0),
        JoinType::Mark | JoinType::NullAwareMark | JoinType::Single => l.rows,
    }
}

/// Rows of an inner equi-join on `keys` (each key's statistics on the left and right side, when
/// the key is a plain column): |L|·|R| / min(NDV(left keys), NDV(right keys)). Taking the smaller
/// NDV makes a primary-key/foreign-key join come out as the foreign-key side, even though the
/// NDV of a foreign-key column is only bounded by its table's rows; a key without statistics
/// counts as unique on its side, so an unknown join yields the larger input.
pub fn equi_join_rows(l_rows: f64, r_rows: f64, keys: &[(Option<ColumnStats>, Option<ColumnStats>)]) -> f64 {
    if keys.is_empty() {
        return (l_rows * r_rows).max(1.0);
    }
    let l_ndv = key_ndv(l_rows, keys.iter().map(|k| k.0).collect());
    let r_ndv = key_ndv(r_rows, keys.iter().map(|k| k.1).collect());
    (l_rows * r_rows / l_ndv.min(r_ndv)).max(1.0)
}

/// Distinct values of one side's join keys: the product of the key columns' domains (a column
/// without statistics counts as unique), at most `rows`' worth when the keys share a relation.
fn key_ndv(rows: f64, columns: Vec<Option<ColumnStats>>) -> f64 {
    let mut product = 1.0;
    for c in &columns {
        product *= c.and_then(|c| c.domain()).unwrap_or(rows);
    }
    // Key columns of one relation together cannot have more values than it has rows.
    let origins: Vec<Option<usize>> = columns.iter().map(|c| c.and_then(|c| c.origin)).collect();
    if let (Some(Some(first)), Some(Some(base))) =
        (origins.first(), columns.first().map(|c| c.and_then(|c| c.base_rows)))
    {
        if origins.iter().all(|o| *o == Some(*first)) {
            product = product.min(base);
        }
    }
    product.max(1.0)
}

/// The statistics of `expr` when it is a column (possibly under a cast, which keeps its
/// distinct values) of an input described by `columns`.
pub fn column_of(expr: &Expr, columns: &[ColumnStats]) -> Option<ColumnStats> {
    match expr {
        Expr::Column(i) => columns.get(*i).copied(),
        Expr::Cast { expr, .. } => column_of(expr, columns).map(|c| ColumnStats { range: None, ..c }),
        _ => None,
    }
}

/// The share of rows a predicate over columns described by `columns` keeps.
pub fn selectivity(predicate: &Expr, columns: &[ColumnStats]) -> f64 {
    let s = match predicate {
        Expr::Literal(ScalarValue::Boolean(Some(true))) => 1.0,
        Expr::Literal(_) => 0.0,
        Expr::Binary { op: BinaryOp::And, left, right } => selectivity(left, columns) * selectivity(right, columns),
        Expr::Binary { op: BinaryOp::Or, left, right } => {
            let (a, b) = (selectivity(left, columns), selectivity(right, columns));
            a + b - a * b
        }
        Expr::Not(inner) => 1.0 - selectivity(inner, columns),
        Expr::Binary { op, left, right } if op.is_comparison() => comparison(*op, left, right, columns),
        Expr::InList { expr, list, negated } => {
            let one = equality(expr, columns);
            let s = (one * list.len() as f64).min(1.0);
            if *negated {
                1.0 - s
            } else {
                s
            }
        }
        Expr::Like { negated, .. } => {
            if *negated {
                1.0 - LIKE_SELECTIVITY
            } else {
                LIKE_SELECTIVITY
            }
        }
        Expr::IsNull { negated, .. } => {
            if *negated {
                1.0 - NULL_SELECTIVITY
            } else {
                NULL_SELECTIVITY
            }
        }
        _ => DEFAULT_SELECTIVITY,
    };
    s.clamp(0.0, 1.0)
}

/// `column = literal`: one value out of the range's, else the default.
fn equality(expr: &Expr, columns: &[ColumnStats]) -> f64 {
    match column_of(expr, columns).and_then(|c| c.range_ndv()) {
        Some(ndv) => 1.0 / ndv,
        None => EQ_SELECTIVITY,
    }
}

fn comparison(op: BinaryOp, left: &Expr, right: &Expr, columns: &[ColumnStats]) -> f64 {
    // Put the column on the left: `5 < x` is `x > 5`.
    let (op, column, value) = match (literal_int(left), literal_int(right)) {
        (None, Some(v)) => (op, left, Some(v)),
        (Some(v), None) => (flip(op), right, Some(v)),
        _ => (op, left, None),
    };
    match op {
        BinaryOp::Eq if value.is_some() => equality(column, columns),
        BinaryOp::Eq => EQ_SELECTIVITY,
        BinaryOp::NotEq => 1.0 - EQ_SELECTIVITY,
        BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
            let range = match column {
                Expr::Column(i) => columns.get(*i).and_then(|c| c.range),
                _ => None,
            };
            match (range, value) {
                (Some((lo, hi)), Some(v)) => {
                    let width = hi as f64 - lo as f64 + 1.0;
                    let below = (v as f64 - lo as f64) / width;
                    let share = if matches!(op, BinaryOp::Lt | BinaryOp::LtEq) { below } else { 1.0 - below };
                    share.clamp(1.0 / width, 1.0)
                }
                _ => RANGE_SELECTIVITY,
            }
        }
        _ => DEFAULT_SELECTIVITY,
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// An integer or date literal as i64 (the unit the footer ranges use: days for dates).
fn literal_int(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(v) => match v {
            ScalarValue::Int8(Some(x)) => Some(i64::from(*x)),
            ScalarValue::Int16(Some(x)) => Some(i64::from(*x)),
            ScalarValue::Int32(Some(x)) | ScalarValue::Date32(Some(x)) => Some(i64::from(*x)),
            ScalarValue::Int64(Some(x)) => Some(*x),
            _ => None,
        },
        _ => None,
    }
}
