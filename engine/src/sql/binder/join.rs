//! `FROM` items and joins: catalog tables (`db.t`, `t`), CTE references, derived tables and
//! nested joins, joined by `INNER/LEFT/RIGHT/FULL/CROSS JOIN ... ON|USING` or commas. An `ON`
//! condition is split into equi-key pairs (one side per input) and a residual filter.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;
use tarn_catalog::CatalogError;

use crate::error::{EngineError, Result};
use crate::plan::{BinaryOp, Expr, JoinType, LogicalPlan, TableScan};
use crate::sql::binder::expr::{coerce_comparison, ExprBinder};
use crate::sql::binder::query::{ident_name, CteScope};
use crate::sql::binder::scope::{closest_match, RelationName, Scope};
use crate::sql::binder::subquery::has_subquery;
use crate::sql::binder::{not_supported, plan_err, Binder};

impl Binder<'_> {
    pub(crate) fn bind_table_with_joins(
        &self,
        item: &ast::TableWithJoins,
        ctes: &CteScope<'_>,
    ) -> Result<(LogicalPlan, Scope)> {
        let mut left = self.bind_table_factor(&item.relation, ctes)?;
        for join in &item.joins {
            let right = self.bind_table_factor(&join.relation, ctes)?;
            left = self.bind_join(left, right, &join.join_operator, join.relation.span())?;
        }
        Ok(left)
    }

    fn bind_table_factor(&self, factor: &ast::TableFactor, ctes: &CteScope<'_>) -> Result<(LogicalPlan, Scope)> {
        match factor {
            ast::TableFactor::Table { name, alias, args, with_hints, version, partitions, sample, .. } => {
                if args.is_some()
                    || !with_hints.is_empty()
                    || version.is_some()
                    || !partitions.is_empty()
                    || sample.is_some()
                {
                    return Err(not_supported("a table function, hint, version or sample", factor.span()));
                }
                let parts: Vec<&ast::Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
                if parts.len() != name.0.len() {
                    return Err(plan_err(format!("invalid table name '{name}'"), name.span()));
                }
                if let [single] = parts.as_slice() {
                    if let Some(cte) = ctes.lookup(&single.value) {
                        let mut scope =
                            Scope::from_schema(Some(RelationName::new(cte.name.clone())), &cte.plan.schema());
                        rename_columns(&mut scope, &cte.column_names);
                        return apply_alias(cte.plan.clone(), scope, alias.as_ref());
                    }
                }
                let (database, table) = match parts.as_slice() {
                    [t] => (self.database.clone(), ident_name(t)),
                    [db, t] => (ident_name(db), ident_name(t)),
                    _ => {
                        return Err(plan_err(
                            format!("invalid table name '{name}': use table or database.table"),
                            name.span(),
                        ))
                    }
                };
                let scan = self.scan(&database, &table, name.span())?;
                let relation = RelationName { database: Some(database), name: table };
                let scope = Scope::from_schema(Some(relation), &scan.schema);
                apply_alias(LogicalPlan::Scan(scan), scope, alias.as_ref())
            }
            ast::TableFactor::Derived { lateral, subquery, alias, sample } => {
                if *lateral || sample.is_some() {
                    return Err(not_supported("LATERAL or TABLESAMPLE", factor.span()));
                }
                let plan = self.bind_query_in(subquery, ctes)?;
                let scope = Scope::from_schema(None, &plan.schema());
                apply_alias(plan, scope, alias.as_ref())
            }
            ast::TableFactor::NestedJoin { table_with_joins, alias } => {
                let (plan, scope) = self.bind_table_with_joins(table_with_joins, ctes)?;
                apply_alias(plan, scope, alias.as_ref())
            }
            _ => Err(not_supported("this kind of FROM item", factor.span())),
        }
    }

    /// A scan of every column and partition of `database.table`; a missing table gets the closest
    /// existing name as a suggestion.
    fn scan(&self, database: &str, table: &str, span: Span) -> Result<TableScan> {
        let table_def = match self.catalog.get_table(database, table) {
            Ok(t) => t,
            Err(CatalogError::TableNotFound { .. }) => {
                let names: Vec<String> = self.catalog.list_tables(database)?.into_iter().map(|t| t.name).collect();
                let hint = closest_match(table, names.iter().map(String::as_str))
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return Err(plan_err(format!("table '{database}.{table}' does not exist{hint}"), span));
            }
            Err(CatalogError::DatabaseNotFound(db)) => {
                let names: Vec<String> = self.catalog.list_databases()?.into_iter().map(|d| d.name).collect();
                let hint = closest_match(&db, names.iter().map(String::as_str))
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return Err(plan_err(format!("database '{db}' does not exist{hint}"), span));
            }
            Err(other) => return Err(EngineError::Catalog(other)),
        };
        let fields: Vec<Field> =
            table_def.all_columns().map(|c| Field::new(c.name.clone(), c.data_type.to_arrow(), true)).collect();
        let table_schema: SchemaRef = Arc::new(Schema::new(fields));
        let partitions = if table_def.is_partitioned() {
            self.catalog.list_partitions(&table_def.database, &table_def.name)?
        } else {
            Vec::new()
        };
        let statistics =
            Arc::new(crate::optimizer::statistics::table_statistics(self.catalog, &table_def, &partitions));
        Ok(TableScan {
            table: Arc::new(table_def),
            projection: (0..table_schema.fields().len()).collect(),
            schema: table_schema.clone(),
            table_schema,
            filters: Vec::new(),
            partitions,
            partitions_pruned: 0,
            statistics,
        })
    }

    fn bind_join(
        &self,
        left: (LogicalPlan, Scope),
        right: (LogicalPlan, Scope),
        operator: &ast::JoinOperator,
        span: Span,
    ) -> Result<(LogicalPlan, Scope)> {
        use ast::JoinOperator as J;
        let (join_type, constraint) = match operator {
            J::Join(c) | J::Inner(c) => (JoinType::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinType::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinType::Right, c),
            J::FullOuter(c) => (JoinType::Full, c),
            J::CrossJoin(c) => (JoinType::Cross, c),
            _ => return Err(not_supported("this kind of join", span)),
        };
        let (left_plan, left_scope) = left;
        let (right_plan, right_scope) = right;
        let left_len = left_scope.len();
        let mut scope = Scope::join(left_scope, right_scope);
        let predicate = match constraint {
            ast::JoinConstraint::On(on) => Some(ExprBinder::new(self, &scope, "JOIN ... ON").bind_predicate(on)?),
            ast::JoinConstraint::Using(columns) => Some(using_predicate(&mut scope, left_len, columns, join_type)?),
            ast::JoinConstraint::None => None,
            ast::JoinConstraint::Natural | ast::JoinConstraint::UsingAlias(..) => {
                return Err(not_supported("NATURAL JOIN or USING ... AS", span))
            }
        };
        if join_type == JoinType::Cross && predicate.is_some() {
            return Err(plan_err("CROSS JOIN takes no ON or USING condition", span));
        }
        let join_type = if predicate.is_none() && join_type == JoinType::Inner { JoinType::Cross } else { join_type };
        if predicate.is_none() && join_type != JoinType::Cross {
            return Err(plan_err(format!("{join_type:?} JOIN needs an ON or USING condition"), span));
        }
        if predicate.as_ref().is_some_and(has_subquery) {
            return Err(not_supported("a subquery in JOIN ... ON", span));
        }
        let (on, filter) = match predicate {
            Some(p) => split_join_predicate(p, left_len),
            None => (Vec::new(), None),
        };
        let schema = join_schema(&left_plan.schema(), &right_plan.schema(), join_type);
        for (column, field) in scope.columns.iter_mut().zip(schema.fields()) {
            column.nullable = field.is_nullable();
        }
        let plan =
            LogicalPlan::Join { left: Box::new(left_plan), right: Box::new(right_plan), join_type, on, filter, schema };
        Ok((plan, scope))
    }
}

/// A comma in `FROM`: the cross product of both sides.
pub(crate) fn cross_join(left: (LogicalPlan, Scope), right: (LogicalPlan, Scope)) -> (LogicalPlan, Scope) {
    let schema = join_schema(&left.0.schema(), &right.0.schema(), JoinType::Cross);
    let plan = LogicalPlan::Join {
        left: Box::new(left.0),
        right: Box::new(right.0),
        join_type: JoinType::Cross,
        on: Vec::new(),
        filter: None,
        schema,
    };
    (plan, Scope::join(left.1, right.1))
}

/// The output schema of a join: left then right fields (left only for semi/anti joins, left and
/// the boolean `mark` for mark joins), the side an outer join pads with NULLs made nullable.
pub fn join_schema(left: &Schema, right: &Schema, join_type: JoinType) -> SchemaRef {
    let nullable_left = matches!(join_type, JoinType::Right | JoinType::Full);
    let nullable_right = matches!(join_type, JoinType::Left | JoinType::Full | JoinType::Single);
    let mut fields: Vec<Field> =
        left.fields().iter().map(|f| f.as_ref().clone().with_nullable(f.is_nullable() || nullable_left)).collect();
    if join_type.emits_right() {
        fields
            .extend(right.fields().iter().map(|f| f.as_ref().clone().with_nullable(f.is_nullable() || nullable_right)));
    }
    if join_type.is_mark() {
        fields.push(Field::new("mark", arrow::datatypes::DataType::Boolean, join_type == JoinType::NullAwareMark));
    }
    Arc::new(Schema::new(fields))
}

/// Splits a join condition over left+right columns into equi-key pairs (`left_expr = right_expr`
/// where each side reads only one input; the right one rebased onto the right input) and the
/// residual conjuncts.
pub fn split_join_predicate(predicate: Expr, left_len: usize) -> (Vec<(Expr, Expr)>, Option<Expr>) {
    let mut keys = Vec::new();
    let mut residual = Vec::new();
    for conjunct in predicate.split_conjunction() {
        match equi_key(&conjunct, left_len) {
            Some(pair) => keys.push(pair),
            None => residual.push(conjunct),
        }
    }
    (keys, Expr::conjunction(residual))
}

/// `(left, right)` when `conjunct` is an equality between an expression over the left input only
/// and one over the right input only.
pub fn equi_key(conjunct: &Expr, left_len: usize) -> Option<(Expr, Expr)> {
    let Expr::Binary { op: BinaryOp::Eq, left, right } = conjunct else { return None };
    let side = |e: &Expr| {
        let mut cols = Vec::new();
        e.collect_columns(&mut cols);
        if cols.is_empty() {
            None
        } else if cols.iter().all(|c| *c < left_len) {
            Some(true)
        } else if cols.iter().all(|c| *c >= left_len) {
            Some(false)
        } else {
            None
        }
    };
    let rebase = |e: &Expr| e.clone().remap_columns(&|c| c - left_len);
    match (side(left)?, side(right)?) {
        (true, false) => Some((left.as_ref().clone(), rebase(right))),
        (false, true) => Some((right.as_ref().clone(), rebase(left))),
        _ => None,
    }
}

/// `USING (k, ...)`: `left.k = right.k` for each name, with the copy that does not survive the
/// join (the right one, or the left one for a RIGHT JOIN) hidden from `*` and unqualified names.
fn using_predicate(
    scope: &mut Scope,
    left_len: usize,
    columns: &[ast::ObjectName],
    join_type: JoinType,
) -> Result<Expr> {
    let left = Scope { columns: scope.columns[..left_len].to_vec() };
    let right = Scope { columns: scope.columns[left_len..].to_vec() };
    let mut conjuncts = Vec::new();
    for name in columns {
        let parts: Vec<ast::Ident> = name.0.iter().filter_map(|p| p.as_ident().cloned()).collect();
        let [ident] = parts.as_slice() else {
            return Err(plan_err(format!("USING takes plain column names, not '{name}'"), name.span()));
        };
        let l = left.resolve(std::slice::from_ref(ident))?;
        let r = left_len + right.resolve(std::slice::from_ref(ident))?;
        let (lt, rt) = (scope.columns[l].data_type.clone(), scope.columns[r].data_type.clone());
        let (le, re) = coerce_comparison(Expr::Column(l), &lt, Expr::Column(r), &rt, BinaryOp::Eq, ident.span)?;
        conjuncts.push(Expr::binary(le, BinaryOp::Eq, re));
        let hidden = if join_type == JoinType::Right { l } else { r };
        scope.columns[hidden].using_duplicate = true;
    }
    // Invariant: sqlparser requires at least one name in USING (...).
    Ok(Expr::conjunction(conjuncts).expect("USING lists at least one column"))
}

/// Requalifies a relation's columns by its alias and renames them by `AS x(a, b)`.
fn apply_alias(plan: LogicalPlan, mut scope: Scope, alias: Option<&ast::TableAlias>) -> Result<(LogicalPlan, Scope)> {
    if let Some(alias) = alias {
        for column in &mut scope.columns {
            column.relation = Some(RelationName::new(ident_name(&alias.name)));
        }
        let names: Vec<String> = alias.columns.iter().map(|c| ident_name(&c.name)).collect();
        if names.len() > scope.len() {
            return Err(plan_err(
                format!("'{}' has {} columns but {} names were given", alias.name.value, scope.len(), names.len()),
                alias.name.span,
            ));
        }
        rename_columns(&mut scope, &names);
    }
    Ok((plan, scope))
}

fn rename_columns(scope: &mut Scope, names: &[String]) {
    for (column, name) in scope.columns.iter_mut().zip(names) {
        column.name = name.clone();
    }
}
