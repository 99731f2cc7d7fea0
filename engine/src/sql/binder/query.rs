//! Whole queries: `WITH` (non-recursive CTEs), set operations, `VALUES`, `ORDER BY` and
//! `LIMIT/OFFSET`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{self, Spanned};

use crate::error::Result;
use crate::plan::{Expr, LogicalPlan, ScalarValue, SortExpr};
use crate::sql::binder::coerce::{cast_to, supertype};
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::scope::{eq_ignore_case, Scope};
use crate::sql::binder::select::SelectOutput;
use crate::sql::binder::set_operations::{set_operation_plan, SetOperation};
use crate::sql::binder::{not_supported, plan_err, Binder};

/// A bound CTE: its plan and the column names it was declared with (`WITH x(a, b) AS ...`).
#[derive(Debug, Clone)]
pub(crate) struct BoundCte {
    pub name: String,
    pub plan: LogicalPlan,
    pub column_names: Vec<String>,
}

/// The CTEs visible at one point: those of enclosing queries and the earlier ones of this `WITH`.
#[derive(Debug, Default)]
pub(crate) struct CteScope<'p> {
    parent: Option<&'p CteScope<'p>>,
    ctes: Vec<BoundCte>,
}

impl<'p> CteScope<'p> {
    pub fn root() -> CteScope<'static> {
        CteScope { parent: None, ctes: Vec::new() }
    }

    /// The innermost CTE of that name.
    pub fn lookup(&self, name: &str) -> Option<&BoundCte> {
        self.ctes
            .iter()
            .rev()
            .find(|c| eq_ignore_case(&c.name, name))
            .or_else(|| self.parent.and_then(|p| p.lookup(name)))
    }
}

impl Binder<'_> {
    pub(crate) fn bind_query_in(&self, query: &ast::Query, outer: &CteScope<'_>) -> Result<LogicalPlan> {
        let span = query.span();
        if query.fetch.is_some()
            || !query.locks.is_empty()
            || query.for_clause.is_some()
            || query.settings.is_some()
            || query.format_clause.is_some()
            || !query.pipe_operators.is_empty()
        {
            return Err(not_supported("this query clause (FETCH, FOR, SETTINGS, FORMAT or a pipe)", span));
        }
        let mut ctes = CteScope { parent: Some(outer), ctes: Vec::new() };
        if let Some(with) = &query.with {
            if with.recursive {
                return Err(not_supported("WITH RECURSIVE", with.with_token.0.span));
            }
            for cte in &with.cte_tables {
                let plan = self.bind_query_in(&cte.query, &ctes)?;
                let column_names = cte.alias.columns.iter().map(|c| ident_name(&c.name)).collect::<Vec<_>>();
                if !column_names.is_empty() && column_names.len() != plan.schema().fields().len() {
                    return Err(plan_err(
                        format!(
                            "WITH query '{}' has {} columns but {} column names were given",
                            cte.alias.name.value,
                            plan.schema().fields().len(),
                            column_names.len()
                        ),
                        cte.alias.name.span,
                    ));
                }
                ctes.ctes.push(BoundCte { name: cte.alias.name.value.clone(), plan, column_names });
            }
        }
        let SelectOutput { plan, sort_keys, visible } = match (query.body.as_ref(), &query.order_by) {
            (ast::SetExpr::Select(select), order_by) => self.bind_select(select, order_by.as_ref(), &ctes)?,
            (body, order_by) => {
                let plan = self.bind_set_expr(body, &ctes)?;
                let visible = plan.schema().fields().len();
                let sort_keys = match order_by {
                    Some(order_by) => self.bind_output_order_by(order_by, &plan)?,
                    None => Vec::new(),
                };
                SelectOutput { plan, sort_keys, visible }
            }
        };
        let mut plan = plan;
        if !sort_keys.is_empty() {
            plan = LogicalPlan::Sort { input: Box::new(plan), keys: sort_keys, fetch: None };
        }
        if let Some(limit) = &query.limit_clause {
            let (skip, fetch) = self.bind_limit(limit)?;
            if skip > 0 || fetch.is_some() {
                plan = LogicalPlan::Limit { input: Box::new(plan), skip, fetch };
            }
        }
        let schema = plan.schema();
        if visible < schema.fields().len() {
            let exprs = (0..visible).map(Expr::Column).collect();
            let fields: Vec<Field> = schema.fields().iter().take(visible).map(|f| f.as_ref().clone()).collect();
            plan = LogicalPlan::Project { input: Box::new(plan), exprs, schema: Arc::new(Schema::new(fields)) };
        }
        Ok(plan)
    }

    /// The body of a query that is not a lone `SELECT` (whose `ORDER BY` can see its inputs).
    fn bind_set_expr(&self, body: &ast::SetExpr, ctes: &CteScope<'_>) -> Result<LogicalPlan> {
        match body {
            ast::SetExpr::Select(select) => Ok(self.bind_select(select, None, ctes)?.finish()),
            ast::SetExpr::Query(query) => self.bind_query_in(query, ctes),
            ast::SetExpr::SetOperation { left, op: ast::SetOperator::Union, set_quantifier, right } => {
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    _ => return Err(not_supported("UNION BY NAME", body.span())),
                };
                let left = self.bind_set_expr(left, ctes)?;
                let right = self.bind_set_expr(right, ctes)?;
                let union = union_plan(vec![left, right], body, "UNION")?;
                Ok(if all { union } else { LogicalPlan::Distinct { input: Box::new(union) } })
            }
            ast::SetExpr::SetOperation { left, op, set_quantifier, right } => {
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    _ => return Err(not_supported(&format!("{op} BY NAME"), body.span())),
                };
                let (operation, name) = match op {
                    ast::SetOperator::Intersect => (SetOperation::Intersect, "INTERSECT"),
                    _ => (SetOperation::Except, "EXCEPT"),
                };
                let left = self.bind_set_expr(left, ctes)?;
                let right = self.bind_set_expr(right, ctes)?;
                set_operation_plan(union_plan(vec![left, right], body, name)?, operation, all)
            }
            ast::SetExpr::Values(values) => self.bind_values(values, body),
            _ => Err(not_supported("this kind of query body", body.span())),
        }
    }

    fn bind_values(&self, values: &ast::Values, body: &ast::SetExpr) -> Result<LogicalPlan> {
        let empty = Scope::default();
        let binder = ExprBinder::new(self, &empty, "VALUES");
        let mut rows = Vec::with_capacity(values.rows.len());
        let mut types: Vec<DataType> = Vec::new();
        for row in &values.rows {
            let bound = row.iter().map(|e| binder.bind_typed(e)).collect::<Result<Vec<_>>>()?;
            if !rows.is_empty() && bound.len() != types.len() {
                return Err(plan_err("VALUES lists must all be the same length", body.span()));
            }
            if types.is_empty() {
                types = vec![DataType::Null; bound.len()];
            }
            for ((_, t), acc) in bound.iter().zip(types.iter_mut()) {
                *acc = supertype(acc, t)
                    .ok_or_else(|| plan_err(format!("VALUES types {acc} and {t} cannot be matched"), body.span()))?;
            }
            rows.push(bound);
        }
        let rows = rows
            .into_iter()
            .map(|row| row.into_iter().zip(&types).map(|((e, t), to)| cast_to(e, &t, to)).collect())
            .collect();
        let fields: Vec<Field> =
            types.iter().enumerate().map(|(i, t)| Field::new(format!("column{}", i + 1), t.clone(), true)).collect();
        Ok(LogicalPlan::Values { schema: Arc::new(Schema::new(fields)), rows })
    }

    /// `ORDER BY` of a set operation: output names, ordinals, or expressions over the output.
    fn bind_output_order_by(&self, order_by: &ast::OrderBy, plan: &LogicalPlan) -> Result<Vec<SortExpr>> {
        let ast::OrderByKind::Expressions(keys) = &order_by.kind else {
            return Err(not_supported("ORDER BY ALL", plan_span(order_by)));
        };
        let scope = Scope::from_schema(None, &plan.schema());
        let binder = ExprBinder::new(self, &scope, "ORDER BY");
        keys.iter()
            .map(|key| {
                let expr = match ordinal(&key.expr, scope.len())? {
                    Some(i) => Expr::Column(i),
                    None => binder.bind(&key.expr)?,
                };
                Ok(sort_expr(expr, &key.options))
            })
            .collect()
    }

    fn bind_limit(&self, limit: &ast::LimitClause) -> Result<(usize, Option<usize>)> {
        match limit {
            ast::LimitClause::LimitOffset { limit, offset, limit_by } => {
                if let Some(first) = limit_by.first() {
                    return Err(not_supported("LIMIT BY", first.span()));
                }
                let fetch = limit.as_ref().map(|e| self.bind_count(e, "LIMIT")).transpose()?.flatten();
                let skip = offset.as_ref().map(|o| self.bind_count(&o.value, "OFFSET")).transpose()?.flatten();
                Ok((skip.unwrap_or(0), fetch))
            }
            ast::LimitClause::OffsetCommaLimit { offset, limit } => {
                Ok((self.bind_count(offset, "OFFSET")?.unwrap_or(0), self.bind_count(limit, "LIMIT")?))
            }
        }
    }

    /// A `LIMIT`/`OFFSET` count: a non-negative integer constant, or NULL for "no limit".
    fn bind_count(&self, expr: &ast::Expr, clause: &'static str) -> Result<Option<usize>> {
        let empty = Scope::default();
        let bound = ExprBinder::new(self, &empty, clause).bind(expr)?;
        let value = match bound {
            Expr::Literal(ScalarValue::Int32(v)) => v.map(i64::from),
            Expr::Literal(ScalarValue::Int64(v)) => v,
            Expr::Literal(ScalarValue::Null) => None,
            _ => return Err(plan_err(format!("argument of {clause} must be an integer constant"), expr.span())),
        };
        value
            .map(|v| usize::try_from(v).map_err(|_| plan_err(format!("{clause} must not be negative"), expr.span())))
            .transpose()
    }
}

/// `UNION ALL` of `inputs`: column counts must agree; each column is cast to the common supertype
/// of its inputs; names come from the first input. `op` names the set operation in errors.
fn union_plan(inputs: Vec<LogicalPlan>, body: &ast::SetExpr, op: &str) -> Result<LogicalPlan> {
    let first = inputs[0].schema();
    let width = first.fields().len();
    let mut types: Vec<DataType> = first.fields().iter().map(|f| f.data_type().clone()).collect();
    for input in &inputs[1..] {
        let schema = input.schema();
        if schema.fields().len() != width {
            return Err(plan_err(
                format!("each {op} query must have the same number of columns ({width} vs {})", schema.fields().len()),
                body.span(),
            ));
        }
        for (acc, f) in types.iter_mut().zip(schema.fields()) {
            *acc = supertype(acc, f.data_type()).ok_or_else(|| {
                plan_err(
                    format!("{op} types {acc} and {} of column '{}' cannot be matched", f.data_type(), f.name()),
                    body.span(),
                )
            })?;
        }
    }
    let fields: Vec<Field> =
        first.fields().iter().zip(&types).map(|(f, t)| Field::new(f.name(), t.clone(), true)).collect();
    let schema = Arc::new(Schema::new(fields));
    let inputs = inputs
        .into_iter()
        .map(|input| {
            let input_schema = input.schema();
            if input_schema.fields().iter().zip(&types).all(|(f, t)| f.data_type() == t) {
                return input;
            }
            let exprs = input_schema
                .fields()
                .iter()
                .zip(&types)
                .enumerate()
                .map(|(i, (f, t))| cast_to(Expr::Column(i), f.data_type(), t))
                .collect();
            let fields: Vec<Field> =
                input_schema.fields().iter().zip(&types).map(|(f, t)| Field::new(f.name(), t.clone(), true)).collect();
            LogicalPlan::Project { input: Box::new(input), exprs, schema: Arc::new(Schema::new(fields)) }
        })
        .collect();
    Ok(LogicalPlan::Union { inputs, schema })
}

/// `ORDER BY 2` / `GROUP BY 2`: the 0-based position, checked against `width` output columns.
pub(crate) fn ordinal(expr: &ast::Expr, width: usize) -> Result<Option<usize>> {
    let ast::Expr::Value(v) = expr else { return Ok(None) };
    let ast::Value::Number(text, _) = &v.value else { return Ok(None) };
    match text.parse::<usize>() {
        Ok(n) if (1..=width).contains(&n) => Ok(Some(n - 1)),
        _ => Err(plan_err(format!("position {text} is not in the select list (1..{width})"), v.span)),
    }
}

/// A sort key with the default NULL order resolved: NULLs sort as larger than any value.
pub(crate) fn sort_expr(expr: Expr, options: &ast::OrderByOptions) -> SortExpr {
    let ascending = !matches!(options.sort, Some(ast::OrderBySort::Desc));
    SortExpr { expr, ascending, nulls_first: options.nulls_first.unwrap_or(!ascending) }
}

/// How an identifier names a column or alias: unquoted names fold to lower case, as in
/// PostgreSQL, Redshift and Athena; quoted ones keep their spelling.
pub(crate) fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

fn plan_span(order_by: &ast::OrderBy) -> sqlparser::tokenizer::Span {
    match &order_by.kind {
        ast::OrderByKind::Expressions(keys) => {
            keys.first().map(|k| k.expr.span()).unwrap_or(sqlparser::tokenizer::Span::empty())
        }
        ast::OrderByKind::All(_) => sqlparser::tokenizer::Span::empty(),
    }
}
