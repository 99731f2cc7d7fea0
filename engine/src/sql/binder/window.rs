//! Window calls: `f(args) OVER (PARTITION BY ... ORDER BY ... frame)` and `OVER w` with the
//! `WINDOW w AS (...)` clause. Windows are evaluated after `GROUP BY` and `HAVING`, so their
//! arguments and keys may use aggregates (`SUM(COUNT(*)) OVER (...)`). While the select list is
//! bound, each distinct call is collected and stands in the expression as a placeholder; once the
//! `Window` node sits on the (grouped) input, placeholders become its output columns.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{EngineError, Result};
use crate::plan::types::is_numeric;
use crate::plan::window::{FrameBound, FrameOffset, FrameUnits, WindowExpr, WindowFrame};
use crate::plan::{Expr, LogicalPlan, ScalarValue, SortExpr};
use crate::sql::binder::coerce::cast_to;
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::query::{ident_name, sort_expr};
use crate::sql::binder::scope::{closest_match, eq_ignore_case, Scope};
use crate::sql::binder::{literal, not_supported, plan_err, position_of};

/// The name prefix of placeholder calls; `#` cannot start a function name users can call, so a
/// placeholder never collides with a registry function.
const WINDOW_PLACEHOLDER: &str = "#window";

/// The window calls of one `SELECT` and its named windows.
#[derive(Debug, Default)]
pub(crate) struct WindowCollector {
    pub calls: Vec<WindowExpr>,
    named: Vec<(String, ast::WindowSpec)>,
}

impl WindowCollector {
    /// A collector that knows the `WINDOW` clause's definitions (each may build on an earlier one).
    pub fn try_new(definitions: &[ast::NamedWindowDefinition]) -> Result<WindowCollector> {
        let mut collector = WindowCollector::default();
        for ast::NamedWindowDefinition(name, definition) in definitions {
            let spec = match definition {
                ast::NamedWindowExpr::WindowSpec(spec) => collector.resolve(spec)?,
                ast::NamedWindowExpr::NamedWindow(base) => collector.named(base)?.clone(),
            };
            let key = ident_name(name);
            if collector.named.iter().any(|(n, _)| *n == key) {
                return Err(plan_err(format!("window '{key}' is defined twice"), name.span));
            }
            collector.named.push((key, spec));
        }
        Ok(collector)
    }

    fn named(&self, name: &ast::Ident) -> Result<&ast::WindowSpec> {
        let key = ident_name(name);
        self.named
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, spec)| spec)
            .ok_or_else(|| plan_err(format!("window '{key}' does not exist"), name.span))
    }

    /// `spec` with its base window (`OVER (w ORDER BY ...)`) copied in, by PostgreSQL's rules: the
    /// partitioning is the base's, an ordering may be added, the base may have no frame.
    fn resolve(&self, spec: &ast::WindowSpec) -> Result<ast::WindowSpec> {
        let Some(base_name) = &spec.window_name else { return Ok(spec.clone()) };
        let base = self.named(base_name)?;
        let name = ident_name(base_name);
        if !spec.partition_by.is_empty() {
            return Err(plan_err(format!("cannot override PARTITION BY clause of window '{name}'"), base_name.span));
        }
        if !base.order_by.is_empty() && !spec.order_by.is_empty() {
            return Err(plan_err(format!("cannot override ORDER BY clause of window '{name}'"), base_name.span));
        }
        if base.window_frame.is_some() {
            return Err(plan_err(format!("cannot copy window '{name}' because it has a frame clause"), base_name.span));
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by.clone(),
            order_by: if spec.order_by.is_empty() { base.order_by.clone() } else { spec.order_by.clone() },
            window_frame: spec.window_frame.clone(),
        })
    }
}

impl ExprBinder<'_, '_> {
    /// Binds `name(args) OVER ...` into the collector and returns its placeholder.
    pub(crate) fn window_call(&self, f: &ast::Function, name: &str, over: &ast::WindowType) -> Result<Expr> {
        let span = f.span();
        let Some(collector) = self.windows else {
            return Err(plan_err(format!("window function '{name}' is not allowed in {}", self.clause), span));
        };
        let spec = {
            let collector = collector.borrow();
            match over {
                ast::WindowType::WindowSpec(spec) => collector.resolve(spec)?,
                ast::WindowType::NamedWindow(ident) => collector.named(ident)?.clone(),
            }
        };
        if f.filter.is_some() {
            return Err(not_supported("FILTER on a window function", span));
        }
        if matches!(f.null_treatment, Some(ast::NullTreatment::IgnoreNulls)) {
            return Err(not_supported("IGNORE NULLS", span));
        }
        if !f.within_group.is_empty() || !matches!(f.parameters, ast::FunctionArguments::None) {
            return Err(plan_err(format!("this form of a call to '{name}' is not supported yet"), span));
        }
        let (args, distinct, star) = call_arguments(f, name, span)?;
        // Arguments and keys see the rows the window runs over: aggregates allowed, windows not.
        let inner = ExprBinder {
            binder: self.binder,
            scope: self.scope,
            aggregates: self.aggregates,
            windows: None,
            clause: "a window function's arguments or window",
            ctes: self.ctes,
        };
        let bound = args.iter().map(|a| inner.bind(a)).collect::<Result<Vec<_>>>()?;
        let types: Vec<DataType> = bound.iter().map(|b| inner.type_of(b)).collect();
        let functions = self.binder.functions;
        let signature = if let Some(function) = functions.window(name) {
            if star || distinct {
                return Err(plan_err(format!("'{name}' takes no '*' or DISTINCT"), span));
            }
            function.signature(&types)
        } else if let Some(function) = functions.aggregate(name) {
            if star && name != "count" {
                return Err(plan_err(format!("'*' is an argument only of COUNT, not of '{name}'"), span));
            }
            function.signature(&types)
        } else {
            let hint =
                closest_match(name, functions.names()).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
            return Err(plan_err(format!("'{name}' is not a window or aggregate function{hint}"), span));
        }
        .map_err(|e| at(e, span))?;
        let args = bound
            .into_iter()
            .zip(types.iter().zip(&signature.arg_types))
            .map(|(a, (from, to))| cast_to(a, from, to))
            .collect();
        let partition_by = spec.partition_by.iter().map(|e| inner.bind(e)).collect::<Result<Vec<_>>>()?;
        let order_by = spec
            .order_by
            .iter()
            .map(|o| Ok(sort_expr(inner.bind(&o.expr)?, &o.options)))
            .collect::<Result<Vec<SortExpr>>>()?;
        let key_type = order_by.first().map(|k| inner.type_of(&k.expr));
        let frame = match &spec.window_frame {
            Some(frame) => bind_frame(frame, order_by.len(), key_type.as_ref(), span)?,
            None => WindowFrame::default_frame(),
        };
        let call = WindowExpr {
            name: name.to_string(),
            args,
            distinct,
            partition_by,
            order_by,
            frame,
            return_type: signature.return_type.clone(),
        };
        let mut collector = collector.borrow_mut();
        let index = match collector.calls.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                collector.calls.push(call);
                collector.calls.len() - 1
            }
        };
        Ok(Expr::Function {
            name: format!("{WINDOW_PLACEHOLDER}{index}"),
            args: vec![],
            return_type: signature.return_type,
        })
    }
}

/// The `Window` node computing `calls` over `input`: its columns, then one per call.
pub(crate) fn window_plan(input: LogicalPlan, calls: Vec<WindowExpr>) -> LogicalPlan {
    let input_schema = input.schema();
    let mut fields: Vec<Field> = input_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(calls.iter().map(|c| Field::new(c.name.clone(), c.return_type.clone(), true)));
    LogicalPlan::Window { input: Box::new(input), window_exprs: calls, schema: Arc::new(Schema::new(fields)) }
}

/// `expr` with every placeholder replaced by its column of a `Window` node whose input has
/// `base` columns.
pub(crate) fn resolve_placeholders(expr: Expr, base: usize) -> Expr {
    expr.transform(&mut |e| match placeholder_index(&e) {
        Some(i) => Expr::Column(base + i),
        None => e,
    })
}

fn placeholder_index(e: &Expr) -> Option<usize> {
    match e {
        Expr::Function { name, args, .. } if args.is_empty() => name.strip_prefix(WINDOW_PLACEHOLDER)?.parse().ok(),
        _ => None,
    }
}

/// The arguments of a call: expressions, whether `DISTINCT`, whether `*`.
fn call_arguments<'f>(f: &'f ast::Function, name: &str, span: Span) -> Result<(Vec<&'f ast::Expr>, bool, bool)> {
    match &f.args {
        ast::FunctionArguments::None => Ok((Vec::new(), false, false)),
        ast::FunctionArguments::Subquery(_) => Err(not_supported("a subquery", span)),
        ast::FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(plan_err(format!("clauses inside the call to '{name}' are not supported yet"), span));
            }
            let distinct = matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct));
            let mut args = Vec::with_capacity(list.args.len());
            let mut star = false;
            for (i, arg) in list.args.iter().enumerate() {
                match arg {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) if i == 0 && list.args.len() == 1 => {
                        star = true
                    }
                    other => return Err(plan_err(format!("argument '{other}' of '{name}' is not supported"), span)),
                }
            }
            Ok((args, distinct, star))
        }
    }
}

/// A frame clause, checked as PostgreSQL checks it. `RANGE` offsets need exactly one numeric
/// `ORDER BY` key (offsets are distances in its units).
fn bind_frame(
    frame: &ast::WindowFrame,
    order_keys: usize,
    key_type: Option<&DataType>,
    span: Span,
) -> Result<WindowFrame> {
    let units = match frame.units {
        ast::WindowFrameUnits::Rows => FrameUnits::Rows,
        ast::WindowFrameUnits::Range => FrameUnits::Range,
        ast::WindowFrameUnits::Groups => return Err(not_supported("a GROUPS frame", span)),
    };
    let start = frame_bound(&frame.start_bound, units, span)?;
    let end =
        frame.end_bound.as_ref().map(|b| frame_bound(b, units, span)).transpose()?.unwrap_or(FrameBound::CurrentRow);
    let message = match (&start, &end) {
        (FrameBound::UnboundedFollowing, _) => Some("frame start cannot be UNBOUNDED FOLLOWING"),
        (_, FrameBound::UnboundedPreceding) => Some("frame end cannot be UNBOUNDED PRECEDING"),
        (FrameBound::CurrentRow, FrameBound::Preceding(_)) => {
            Some("frame starting from current row cannot have preceding rows")
        }
        (FrameBound::Following(_), FrameBound::Preceding(_) | FrameBound::CurrentRow) => {
            Some("frame starting from following row cannot have preceding rows")
        }
        _ => None,
    };
    if let Some(message) = message {
        return Err(plan_err(message, span));
    }
    let has_offset = |b: &FrameBound| matches!(b, FrameBound::Preceding(_) | FrameBound::Following(_));
    if units == FrameUnits::Range && (has_offset(&start) || has_offset(&end)) {
        if order_keys != 1 {
            return Err(plan_err("RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column", span));
        }
        if let Some(t) = key_type.filter(|t| !is_numeric(t)) {
            return Err(plan_err(
                format!(
                    "RANGE with offset PRECEDING/FOLLOWING is supported only for numeric ORDER BY columns, not {t}"
                ),
                span,
            ));
        }
    }
    Ok(WindowFrame { units, start, end })
}

fn frame_bound(bound: &ast::WindowFrameBound, units: FrameUnits, span: Span) -> Result<FrameBound> {
    Ok(match bound {
        ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
        ast::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
        ast::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
        ast::WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(frame_offset(e, units, span)?),
        ast::WindowFrameBound::Following(Some(e)) => FrameBound::Following(frame_offset(e, units, span)?),
    })
}

/// A frame offset: a non-negative constant (an integer for `ROWS`).
fn frame_offset(e: &ast::Expr, units: FrameUnits, span: Span) -> Result<FrameOffset> {
    let bad = || plan_err(format!("frame offset '{e}' must be a non-negative constant"), e.span().union(&span));
    let ast::Expr::Value(v) = e else { return Err(bad()) };
    let ast::Value::Number(text, _) = &v.value else { return Err(bad()) };
    let value = literal::number(text, false, v.span)?;
    let (integer, float) = match value {
        ScalarValue::Int8(Some(x)) => (Some(x as i64), x as f64),
        ScalarValue::Int16(Some(x)) => (Some(x as i64), x as f64),
        ScalarValue::Int32(Some(x)) => (Some(x as i64), x as f64),
        ScalarValue::Int64(Some(x)) => (Some(x), x as f64),
        ScalarValue::Decimal128(Some(x), _, s) => (None, x as f64 / 10f64.powi(s as i32)),
        ScalarValue::Float64(Some(x)) => (None, x),
        _ => return Err(bad()),
    };
    match units {
        FrameUnits::Rows => match integer {
            Some(n) if n >= 0 => Ok(FrameOffset::Rows(n as u64)),
            _ => Err(plan_err(format!("ROWS frame offset '{e}' must be a non-negative integer"), v.span)),
        },
        FrameUnits::Range if float >= 0.0 => Ok(FrameOffset::Value(float)),
        FrameUnits::Range => Err(bad()),
    }
}

/// A registry error about a call, pointed at the call when it carries no position of its own.
fn at(err: EngineError, span: Span) -> EngineError {
    match err {
        EngineError::Plan { message, position: None } => EngineError::Plan { message, position: position_of(span) },
        other => other,
    }
}

/// `QUALIFY rn <= 3`: `predicate` with each name that is not an input column but is a select
/// alias replaced by the aliased expression (as DuckDB and Snowflake resolve QUALIFY), through
/// the operators a QUALIFY condition is made of.
pub(crate) fn with_select_aliases(predicate: &ast::Expr, aliases: &[(&str, &ast::Expr)], scope: &Scope) -> ast::Expr {
    use ast::Expr as A;
    let again = |e: &ast::Expr| Box::new(with_select_aliases(e, aliases, scope));
    match predicate {
        A::Identifier(ident) if scope.resolve(std::slice::from_ref(ident)).is_err() => {
            let name = ident_name(ident);
            match aliases.iter().find(|(alias, _)| eq_ignore_case(alias, &name)) {
                Some((_, expr)) => A::Nested(Box::new((*expr).clone())),
                None => predicate.clone(),
            }
        }
        A::BinaryOp { left, op, right } => A::BinaryOp { left: again(left), op: op.clone(), right: again(right) },
        A::UnaryOp { op, expr } => A::UnaryOp { op: *op, expr: again(expr) },
        A::Nested(e) => A::Nested(again(e)),
        A::IsNull(e) => A::IsNull(again(e)),
        A::IsNotNull(e) => A::IsNotNull(again(e)),
        A::Between { expr, negated, low, high } => {
            A::Between { expr: again(expr), negated: *negated, low: again(low), high: again(high) }
        }
        other => other.clone(),
    }
}
