//! Function calls: scalar functions and aggregates through the registry (arguments cast to the
//! signature's types), `COUNT(*)`, `DISTINCT` and `FILTER (WHERE ...)`, and the dialect quirk
//! that date parts arrive as bare identifiers (`DATEDIFF(month, a, b)`).

use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{EngineError, Result};
use crate::plan::{AggregateExpr, Expr, ScalarValue};
use crate::sql::binder::coerce::cast_to;
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::grouping_sets::GROUPING;
use crate::sql::binder::scope::closest_match;
use crate::sql::binder::{not_supported, plan_err, position_of};

/// Functions whose first argument is a date part that Redshift lets users write unquoted.
const DATE_PART_FUNCTIONS: &[&str] = &["datediff", "dateadd", "datepart", "date_part", "date_trunc"];

/// The parts those functions accept unquoted.
const DATE_PARTS: &[&str] = &[
    "year",
    "years",
    "yr",
    "yrs",
    "y",
    "quarter",
    "quarters",
    "qtr",
    "qtrs",
    "month",
    "months",
    "mon",
    "mons",
    "week",
    "weeks",
    "w",
    "day",
    "days",
    "d",
    "dow",
    "doy",
    "hour",
    "hours",
    "h",
    "hr",
    "hrs",
    "minute",
    "minutes",
    "m",
    "min",
    "mins",
    "second",
    "seconds",
    "s",
    "sec",
    "secs",
    "millisecond",
    "milliseconds",
    "ms",
    "microsecond",
    "microseconds",
    "epoch",
    "wk",
    "wks",
    "msec",
    "msecs",
    "us",
    "usec",
    "usecs",
    "decade",
    "decades",
    "century",
    "centuries",
    "millennium",
    "millennia",
];

impl ExprBinder<'_, '_> {
    /// Binds `name(args)`: an aggregate when the registry has one of that name, else a scalar.
    pub(crate) fn function(&self, f: &ast::Function) -> Result<Expr> {
        let span = f.span();
        let name = match f.name.0.as_slice() {
            [ast::ObjectNamePart::Identifier(ident)] => ident.value.to_ascii_lowercase(),
            _ => return Err(plan_err(format!("function '{}' does not exist", f.name), span)),
        };
        if let Some(over) = &f.over {
            return self.window_call(f, &name, over);
        }
        if self.binder.functions.window(&name).is_some() {
            return Err(plan_err(format!("window function '{name}' requires an OVER clause"), span));
        }
        let ordered = ORDERED_AGGREGATES.contains(&name.as_str());
        if (!f.within_group.is_empty() && !ordered)
            || f.null_treatment.is_some()
            || !matches!(f.parameters, ast::FunctionArguments::None)
        {
            return Err(plan_err(format!("this form of a call to '{name}' is not supported yet"), span));
        }
        let mut order_by: &[ast::OrderByExpr] = &f.within_group;
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false, false),
            ast::FunctionArguments::Subquery(_) => return Err(not_supported("a subquery", span)),
            ast::FunctionArguments::List(list) => {
                match list.clauses.as_slice() {
                    [] => {}
                    // `string_agg(x, ',' ORDER BY y)`: the ORDER BY of an ordered aggregate.
                    [ast::FunctionArgumentClause::OrderBy(keys)] if ordered && order_by.is_empty() => order_by = keys,
                    _ => {
                        return Err(plan_err(
                            format!("clauses inside the call to '{name}' are not supported yet"),
                            span,
                        ))
                    }
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
                        other => {
                            return Err(plan_err(format!("argument '{other}' of '{name}' is not supported"), span))
                        }
                    }
                }
                (args, distinct, star)
            }
        };
        if name == GROUPING && !distinct && !star && f.filter.is_none() {
            return self.grouping_call(&args, span);
        }
        if self.binder.functions.aggregate(&name).is_some() {
            if ordered {
                let args = ordered_aggregate_args(&name, &args, order_by, span)?;
                let args: Vec<&ast::Expr> = args.iter().collect();
                return self.aggregate_call(&name, &args, distinct, star, f.filter.as_deref(), span);
            }
            return self.aggregate_call(&name, &args, distinct, star, f.filter.as_deref(), span);
        }
        if star || distinct || f.filter.is_some() {
            return Err(plan_err(
                format!("'{name}' is not an aggregate function, so it takes no '*', DISTINCT or FILTER"),
                span,
            ));
        }
        let bound = args
            .iter()
            .enumerate()
            .map(|(i, a)| match date_part_identifier(&name, i, a) {
                Some(part) => Ok(Expr::Literal(ScalarValue::Utf8(Some(part)))),
                None => self.bind(a),
            })
            .collect::<Result<Vec<_>>>()?;
        self.call(&name, bound, span)
    }

    /// A scalar call to the registry function `name` with bound arguments, cast to its signature.
    pub(crate) fn call(&self, name: &str, args: Vec<Expr>, span: Span) -> Result<Expr> {
        let function = self.binder.functions.scalar(name).ok_or_else(|| self.unknown_function(name, span))?;
        let types: Vec<_> = args.iter().map(|a| self.type_of(a)).collect();
        let constants: Vec<Option<ScalarValue>> =
            args.iter().map(|a| if let Expr::Literal(v) = a { Some(v.clone()) } else { None }).collect();
        let signature = function.signature_for_constants(&types, &constants).map_err(|e| at(e, span))?;
        if let Some(value) = function.statement_constant(self.binder.statement_start_micros()) {
            return Ok(Expr::Literal(value));
        }
        let args = args
            .into_iter()
            .zip(types.iter().zip(&signature.arg_types))
            .map(|(a, (from, to))| cast_to(a, from, to))
            .collect();
        Ok(Expr::Function { name: name.to_string(), args, return_type: signature.return_type })
    }

    fn aggregate_call(
        &self,
        name: &str,
        args: &[&ast::Expr],
        distinct: bool,
        star: bool,
        filter: Option<&ast::Expr>,
        span: Span,
    ) -> Result<Expr> {
        let Some(collector) = self.aggregates else {
            return Err(plan_err(format!("aggregate function '{name}' is not allowed in {}", self.clause), span));
        };
        if star && name != "count" {
            return Err(plan_err(format!("'*' is an argument only of COUNT, not of '{name}'"), span));
        }
        // Arguments and FILTER see the rows before grouping, where aggregates cannot nest.
        let inner = ExprBinder::new(self.binder, self.scope, "an aggregate's arguments");
        let bound = args.iter().map(|a| inner.bind(a)).collect::<Result<Vec<_>>>()?;
        let filter = filter
            .map(|f| ExprBinder::new(self.binder, self.scope, "FILTER").bind_predicate(f))
            .transpose()?
            .map(Box::new);
        let input = self.scope.schema();
        let types: Vec<_> = bound.iter().map(|a| a.data_type(&input)).collect();
        // Invariant: the caller checked the registry has this aggregate.
        let function = self.binder.functions.aggregate(name).expect("aggregate looked up by the caller");
        let signature = function.signature(&types).map_err(|e| at(e, span))?;
        let args = bound
            .into_iter()
            .zip(types.iter().zip(&signature.arg_types))
            .map(|(a, (from, to))| cast_to(a, from, to))
            .collect();
        let call = AggregateExpr { name: name.to_string(), args, distinct, filter, return_type: signature.return_type };
        let mut collector = collector.borrow_mut();
        let index = match collector.calls.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                collector.calls.push(call);
                collector.calls.len() - 1
            }
        };
        Ok(Expr::Column(self.scope.len() + index))
    }

    fn unknown_function(&self, name: &str, span: Span) -> EngineError {
        let hint = closest_match(name, self.binder.functions.names())
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        plan_err(format!("function '{name}' does not exist{hint}"), span)
    }
}

/// Aggregates that take an ordering (`WITHIN GROUP (ORDER BY ...)`, or `ORDER BY` inside the
/// call): the binder passes it to the registry as extra arguments, see `ordered_aggregate_args`.
const ORDERED_AGGREGATES: &[&str] = &["percentile_cont", "percentile_disc", "listagg", "string_agg"];

/// The registry arguments of an ordered aggregate:
/// - `PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x [DESC])` → `(x, f, desc)`;
/// - `LISTAGG(v[, delimiter]) [WITHIN GROUP (ORDER BY k1 [DESC], ...)]` → `(v, delimiter,
///   k1, desc1, ...)`, the delimiter `''` when absent.
fn ordered_aggregate_args(
    name: &str,
    args: &[&ast::Expr],
    order_by: &[ast::OrderByExpr],
    span: Span,
) -> Result<Vec<ast::Expr>> {
    let descending = |o: &ast::OrderByExpr| -> Result<ast::Expr> {
        let desc = match &o.options.sort {
            Some(ast::OrderBySort::Desc) => true,
            None | Some(ast::OrderBySort::Asc) => false,
            Some(ast::OrderBySort::Using(_)) => return Err(not_supported("ORDER BY ... USING", span)),
        };
        Ok(ast::Expr::Value(ast::Value::Boolean(desc).with_empty_span()))
    };
    if name.starts_with("percentile") {
        return match (args, order_by) {
            ([fraction], [key]) => Ok(vec![key.expr.clone(), (*fraction).clone(), descending(key)?]),
            _ => Err(plan_err(
                format!("{name} takes one fraction and one ordering: {name}(fraction) WITHIN GROUP (ORDER BY value)"),
                span,
            )),
        };
    }
    let mut out: Vec<ast::Expr> = match args {
        [value] => {
            vec![(*value).clone(), ast::Expr::Value(ast::Value::SingleQuotedString(String::new()).with_empty_span())]
        }
        [value, delimiter] => vec![(*value).clone(), (*delimiter).clone()],
        _ => {
            return Err(plan_err(
                format!("{name} takes a value and an optional delimiter: {name}(value[, delimiter])"),
                span,
            ))
        }
    };
    for key in order_by {
        out.push(key.expr.clone());
        out.push(descending(key)?);
    }
    Ok(out)
}

/// `month` in `DATEDIFF(month, a, b)`: the date part as text, when `arg` is that unquoted word.
fn date_part_identifier(function: &str, index: usize, arg: &ast::Expr) -> Option<String> {
    if index != 0 || !DATE_PART_FUNCTIONS.contains(&function) {
        return None;
    }
    match arg {
        ast::Expr::Identifier(ident) if ident.quote_style.is_none() => {
            let part = ident.value.to_ascii_lowercase();
            DATE_PARTS.contains(&part.as_str()).then_some(part)
        }
        _ => None,
    }
}

/// A registry error about a call, pointed at the call when it carries no position of its own.
fn at(err: EngineError, span: Span) -> EngineError {
    match err {
        EngineError::Plan { message, position: None } => EngineError::Plan { message, position: position_of(span) },
        other => other,
    }
}
