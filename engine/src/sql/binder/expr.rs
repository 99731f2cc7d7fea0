//! Scalar expressions: names to column positions, literals to typed values, operators with the
//! casts coercion requires. Function calls (and the SQL syntax that is really a call, such as
//! `EXTRACT`) live in `function.rs`.

use std::cell::RefCell;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::Result;
use crate::plan::types::{arithmetic_operand_type, comparison_type, is_numeric, sql_type_name};
use crate::plan::{AggregateExpr, BinaryOp, Expr, ScalarValue};
use crate::sql::binder::coerce::{cast_to, supertype};
use crate::sql::binder::interval;
use crate::sql::binder::query::CteScope;
use crate::sql::binder::scope::Scope;
use crate::sql::binder::similar;
use crate::sql::binder::window::WindowCollector;
use crate::sql::binder::{literal, not_supported, plan_err, Binder};

/// Where aggregate calls go while a grouped query's expressions are bound: each distinct call
/// becomes the column `scope.len() + index` of an extended input, which `aggregate.rs` later maps
/// onto the `Aggregate` node's output.
#[derive(Debug, Default)]
pub(crate) struct AggregateCollector {
    pub calls: Vec<AggregateExpr>,
    /// The first token that referenced each input column, for "must appear in GROUP BY" errors.
    pub column_spans: Vec<(usize, Span)>,
}

/// Binds expressions over one scope. Aggregate calls are allowed only with a collector; without
/// one, `clause` names where the expression stands for the error message.
pub(crate) struct ExprBinder<'b, 'a> {
    pub binder: &'b Binder<'a>,
    pub scope: &'b Scope,
    pub aggregates: Option<&'b RefCell<AggregateCollector>>,
    /// Where window calls go; `None` where windows are not allowed (`WHERE`, `GROUP BY`, ...).
    pub windows: Option<&'b RefCell<WindowCollector>>,
    pub clause: &'static str,
    /// The CTEs a subquery in the expression may read (none: only catalog tables).
    pub ctes: Option<&'b CteScope<'b>>,
}

impl<'b, 'a> ExprBinder<'b, 'a> {
    pub fn new(binder: &'b Binder<'a>, scope: &'b Scope, clause: &'static str) -> ExprBinder<'b, 'a> {
        ExprBinder { binder, scope, aggregates: None, windows: None, clause, ctes: None }
    }

    pub fn with_windows(mut self, collector: &'b RefCell<WindowCollector>) -> ExprBinder<'b, 'a> {
        self.windows = Some(collector);
        self
    }

    pub fn with_ctes(mut self, ctes: &'b CteScope<'b>) -> ExprBinder<'b, 'a> {
        self.ctes = Some(ctes);
        self
    }

    pub fn with_aggregates(mut self, collector: &'b RefCell<AggregateCollector>) -> ExprBinder<'b, 'a> {
        self.aggregates = Some(collector);
        self
    }

    /// The input schema expressions are typed against: the scope, then collected aggregates.
    pub fn schema(&self) -> Schema {
        let mut fields: Vec<Field> = self.scope.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        if let Some(collector) = self.aggregates {
            for (i, call) in collector.borrow().calls.iter().enumerate() {
                fields.push(Field::new(format!("__agg{i}"), call.return_type.clone(), true));
            }
        }
        Schema::new(fields)
    }

    pub fn type_of(&self, expr: &Expr) -> DataType {
        expr.data_type(&self.schema())
    }

    pub fn bind(&self, expr: &ast::Expr) -> Result<Expr> {
        self.bind_typed(expr).map(|(e, _)| e)
    }

    /// Binds a condition (`WHERE`, `ON`, `HAVING`, `FILTER`, `CASE WHEN`): it must be boolean.
    pub fn bind_predicate(&self, expr: &ast::Expr) -> Result<Expr> {
        let (bound, ty) = self.bind_typed(expr)?;
        match ty {
            DataType::Boolean => Ok(bound),
            DataType::Null => Ok(cast_to(bound, &ty, &DataType::Boolean)),
            other => Err(plan_err(format!("argument of {} must be boolean, not {other}", self.clause), expr.span())),
        }
    }

    pub fn bind_typed(&self, expr: &ast::Expr) -> Result<(Expr, DataType)> {
        let bound = self.bind_inner(expr)?;
        let ty = self.type_of(&bound);
        Ok((bound, ty))
    }

    fn bind_inner(&self, expr: &ast::Expr) -> Result<Expr> {
        use ast::Expr as A;
        let span = expr.span();
        match expr {
            A::Identifier(ident) => self.column(std::slice::from_ref(ident)).or_else(|e| {
                // Redshift's `SYSDATE` is a call written without parentheses; a column so named wins.
                if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("sysdate") {
                    self.call("sysdate", Vec::new(), span)
                } else {
                    Err(e)
                }
            }),
            A::CompoundIdentifier(parts) => self.column(parts),
            A::Nested(inner) => self.bind_inner(inner),
            A::Value(v) => value(&v.value, false, v.span).map(Expr::Literal),
            A::TypedString(ts) => {
                let ty = literal::data_type(&ts.data_type, span)?;
                let text = ts
                    .value
                    .value
                    .clone()
                    .into_string()
                    .ok_or_else(|| plan_err("a typed literal needs a quoted string", span))?;
                literal::typed_string(&ty, &text, span).map(Expr::Literal)
            }
            A::BinaryOp { left, op, right } => self.binary(left, op, right, span),
            A::UnaryOp { op, expr: inner } => self.unary(op, inner, span),
            A::IsNull(e) => Ok(Expr::IsNull { expr: Box::new(self.bind(e)?), negated: false }),
            A::IsNotNull(e) => Ok(Expr::IsNull { expr: Box::new(self.bind(e)?), negated: true }),
            A::IsTrue(e) => self.is_bool(e, true, false),
            A::IsNotTrue(e) => self.is_bool(e, true, true),
            A::IsFalse(e) => self.is_bool(e, false, false),
            A::IsNotFalse(e) => self.is_bool(e, false, true),
            A::Between { expr: e, negated, low, high } => {
                let ge = self.comparison(e, BinaryOp::GtEq, low, span)?;
                let le = self.comparison(e, BinaryOp::LtEq, high, span)?;
                let both = ge.and(le);
                Ok(if *negated { Expr::Not(Box::new(both)) } else { both })
            }
            A::In { expr: e, target, negated, .. } => match target {
                ast::InTarget::List(list) => self.in_list(e, list, *negated, span),
                ast::InTarget::Subquery(query) => self.in_subquery(e, query, *negated, span),
                _ => Err(not_supported("IN with UNNEST or a table", span)),
            },
            A::Like { negated, any, expr: e, pattern, escape_char } => {
                self.like(e, pattern, *negated, false, *any || escape_char.is_some(), span)
            }
            A::ILike { negated, any, expr: e, pattern, escape_char } => {
                self.like(e, pattern, *negated, true, *any || escape_char.is_some(), span)
            }
            A::SimilarTo { negated, expr: e, pattern, escape_char } => {
                self.similar_to(e, pattern, *negated, escape_char.as_deref(), span)
            }
            A::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref())
            }
            A::Cast { kind, expr: e, data_type, format } => {
                if format.is_some() {
                    return Err(not_supported("CAST ... FORMAT", span));
                }
                let to = literal::data_type(data_type, span)?;
                let (inner, from) = self.bind_typed(e)?;
                let try_cast = matches!(kind, ast::CastKind::TryCast | ast::CastKind::SafeCast);
                if let (Expr::Literal(ScalarValue::Utf8(Some(text))), DataType::Date32 | DataType::Timestamp(..)) =
                    (&inner, &to)
                {
                    if let Ok(v) = literal::typed_string(&to, text, span) {
                        return Ok(Expr::Literal(v));
                    }
                }
                if let (Expr::Literal(ScalarValue::Utf8(Some(text))), DataType::Interval(_)) = (&inner, &to) {
                    return interval::text_literal(text, span);
                }
                if from == to {
                    return Ok(inner);
                }
                Ok(Expr::Cast { expr: Box::new(inner), to, try_cast })
            }
            A::IsDistinctFrom(l, r) => self.distinct_from(l, r, true, span),
            A::IsNotDistinctFrom(l, r) => self.distinct_from(l, r, false, span),
            A::Function(f) => self.function(f),
            A::Extract { field, expr: e, .. } => {
                let part = Expr::Literal(ScalarValue::Utf8(Some(field.to_string().to_ascii_lowercase())));
                self.call("date_part", vec![part, self.bind(e)?], span)
            }
            A::Substring { expr: e, substring_from, substring_for, .. } => {
                let mut args = vec![self.bind(e)?];
                args.push(match substring_from {
                    Some(from) => self.bind(from)?,
                    None => Expr::Literal(ScalarValue::Int32(Some(1))),
                });
                if let Some(len) = substring_for {
                    args.push(self.bind(len)?);
                }
                self.call("substring", args, span)
            }
            A::Position { expr: needle, r#in: haystack } => {
                self.call("strpos", vec![self.bind(haystack)?, self.bind(needle)?], span)
            }
            A::Trim { trim_where, trim_what, expr: e, trim_characters } => {
                if trim_characters.is_some() {
                    return Err(not_supported("TRIM with a character list", span));
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    Some(ast::TrimWhereField::Both) | None => "btrim",
                };
                let mut args = vec![self.bind(e)?];
                if let Some(what) = trim_what {
                    args.push(self.bind(what)?);
                }
                self.call(name, args, span)
            }
            A::Ceil { expr: e, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) } => {
                self.call("ceil", vec![self.bind(e)?], span)
            }
            A::Floor { expr: e, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) } => {
                self.call("floor", vec![self.bind(e)?], span)
            }
            A::Subquery(query) => self.scalar_subquery(query, span),
            A::Exists { subquery, negated } => self.exists(subquery, *negated),
            A::GroupingSets(_) | A::Cube(_) | A::Rollup(_) => Err(not_supported("GROUPING SETS/ROLLUP/CUBE", span)),
            A::Interval(_) => interval::literal(expr),
            A::Wildcard(_) | A::QualifiedWildcard(..) => {
                Err(plan_err("'*' is allowed only in a SELECT list or COUNT(*)", span))
            }
            other => Err(plan_err(format!("expression '{other}' is not supported yet"), span)),
        }
    }

    fn column(&self, parts: &[ast::Ident]) -> Result<Expr> {
        if !self.scope.has_column(parts) {
            if let Some(outer) = self.outer_column(parts) {
                return outer;
            }
        }
        let index = self.scope.resolve(parts)?;
        if let Some(collector) = self.aggregates {
            let span = parts[0].span.union(&parts[parts.len() - 1].span);
            let mut collector = collector.borrow_mut();
            if !collector.column_spans.iter().any(|(i, _)| *i == index) {
                collector.column_spans.push((index, span));
            }
        }
        Ok(Expr::Column(index))
    }

    fn unary(&self, op: &ast::UnaryOperator, inner: &ast::Expr, span: Span) -> Result<Expr> {
        match op {
            ast::UnaryOperator::Minus => {
                if let ast::Expr::Value(v) = inner {
                    if let ast::Value::Number(text, _) = &v.value {
                        return literal::number(text, true, span).map(Expr::Literal);
                    }
                }
                let (e, ty) = self.bind_typed(inner)?;
                if matches!(ty, DataType::Interval(_)) {
                    return Ok(interval::negate(e));
                }
                if !is_numeric(&ty) {
                    return Err(plan_err(format!("cannot negate a value of type {}", sql_type_name(&ty)), span));
                }
                Ok(Expr::Negative(Box::new(e)))
            }
            ast::UnaryOperator::Plus => self.bind(inner),
            ast::UnaryOperator::Not => {
                let saved = ExprBinder { clause: "NOT", ..self.reborrow() };
                Ok(Expr::Not(Box::new(saved.bind_predicate(inner)?)))
            }
            other => Err(plan_err(format!("operator '{other}' is not supported yet"), span)),
        }
    }

    fn reborrow(&self) -> ExprBinder<'b, 'a> {
        ExprBinder {
            binder: self.binder,
            scope: self.scope,
            aggregates: self.aggregates,
            windows: self.windows,
            clause: self.clause,
            ctes: self.ctes,
        }
    }

    fn binary(&self, left: &ast::Expr, op: &ast::BinaryOperator, right: &ast::Expr, span: Span) -> Result<Expr> {
        use ast::BinaryOperator as B;
        let op = match op {
            B::Plus => BinaryOp::Plus,
            B::Minus => BinaryOp::Minus,
            B::Multiply => BinaryOp::Multiply,
            B::Divide => BinaryOp::Divide,
            B::Modulo => BinaryOp::Modulo,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::And => BinaryOp::And,
            B::Or => BinaryOp::Or,
            B::StringConcat => BinaryOp::StringConcat,
            other => return Err(plan_err(format!("operator '{other}' is not supported yet"), span)),
        };
        if op.is_comparison() {
            return self.comparison(left, op, right, span);
        }
        if let Some(shifted) = self.interval_arithmetic(left, op, right, span) {
            return shifted;
        }
        let (l, lt) = self.bind_typed(left)?;
        let (r, rt) = self.bind_typed(right)?;
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (ty, side) in [(&lt, left), (&rt, right)] {
                    if !matches!(ty, DataType::Boolean | DataType::Null) {
                        return Err(plan_err(
                            format!("argument of {} must be boolean, not {ty}", op.symbol()),
                            side.span(),
                        ));
                    }
                }
                Ok(Expr::binary(cast_to(l, &lt, &DataType::Boolean), op, cast_to(r, &rt, &DataType::Boolean)))
            }
            BinaryOp::StringConcat => {
                Ok(Expr::binary(cast_to(l, &lt, &DataType::Utf8), op, cast_to(r, &rt, &DataType::Utf8)))
            }
            _ => {
                let (lc, rc) = arithmetic_operand_type(op, &lt, &rt).ok_or_else(|| {
                    let (l, r) = (sql_type_name(&lt), sql_type_name(&rt));
                    plan_err(format!("operator {} cannot be applied to {l} and {r}", op.symbol()), span)
                })?;
                Ok(Expr::binary(cast_to(l, &lt, &lc), op, cast_to(r, &rt, &rc)))
            }
        }
    }

    /// `left op right` with both sides cast to their comparison type.
    pub fn comparison(&self, left: &ast::Expr, op: BinaryOp, right: &ast::Expr, span: Span) -> Result<Expr> {
        let (l, lt) = self.bind_typed(left)?;
        let (r, rt) = self.bind_typed(right)?;
        let (l, r) = coerce_comparison(l, &lt, r, &rt, op, span)?;
        Ok(Expr::binary(l, op, r))
    }

    /// `x IS [NOT] TRUE|FALSE`: never NULL, unlike `x = true`.
    fn is_bool(&self, e: &ast::Expr, truth: bool, negated: bool) -> Result<Expr> {
        let inner = ExprBinder { clause: "IS TRUE/FALSE", ..self.reborrow() }.bind_predicate(e)?;
        let test = if truth { inner } else { Expr::Not(Box::new(inner)) };
        let yes = Expr::Literal(ScalarValue::Boolean(Some(!negated)));
        let no = Expr::Literal(ScalarValue::Boolean(Some(negated)));
        Ok(Expr::Case { operand: None, branches: vec![(test, yes)], else_expr: Some(Box::new(no)) })
    }

    /// `a IS [NOT] DISTINCT FROM b`: equality where NULL equals NULL, never NULL itself.
    fn distinct_from(&self, l: &ast::Expr, r: &ast::Expr, distinct: bool, span: Span) -> Result<Expr> {
        let (l, lt) = self.bind_typed(l)?;
        let (r, rt) = self.bind_typed(r)?;
        let (left, right) = coerce_comparison(l, &lt, r, &rt, BinaryOp::Eq, span)?;
        let null = |e: &Expr| Expr::IsNull { expr: Box::new(e.clone()), negated: false };
        let lit = |b: bool| Expr::Literal(ScalarValue::Boolean(Some(b)));
        let both_null = null(&left).and(null(&right));
        let one_null = Expr::binary(null(&left), BinaryOp::Or, null(&right));
        let eq = Expr::binary(left, BinaryOp::Eq, right);
        let differs = Expr::Not(Box::new(eq.clone()));
        Ok(Expr::Case {
            operand: None,
            branches: vec![(both_null, lit(!distinct)), (one_null, lit(distinct))],
            else_expr: Some(Box::new(if distinct { differs } else { eq })),
        })
    }

    fn in_list(&self, e: &ast::Expr, list: &[ast::Expr], negated: bool, span: Span) -> Result<Expr> {
        let (value, vt) = self.bind_typed(e)?;
        let items = list.iter().map(|i| self.bind_typed(i)).collect::<Result<Vec<_>>>()?;
        let mut ty = vt.clone();
        for (_, it) in &items {
            ty = comparison_type(&ty, it)
                .ok_or_else(|| plan_err(format!("IN list values of type {it} cannot be compared with {vt}"), span))?;
        }
        Ok(Expr::InList {
            expr: Box::new(cast_to(value, &vt, &ty)),
            list: items.into_iter().map(|(i, it)| cast_to(i, &it, &ty)).collect(),
            negated,
        })
    }

    fn like(
        &self,
        e: &ast::Expr,
        pattern: &ast::Expr,
        negated: bool,
        ci: bool,
        unsupported: bool,
        span: Span,
    ) -> Result<Expr> {
        if unsupported {
            return Err(not_supported("LIKE ANY or LIKE ... ESCAPE", span));
        }
        let (value, vt) = self.bind_typed(e)?;
        let (pattern, pt) = self.bind_typed(pattern)?;
        Ok(Expr::Like {
            expr: Box::new(cast_to(value, &vt, &DataType::Utf8)),
            pattern: Box::new(cast_to(pattern, &pt, &DataType::Utf8)),
            negated,
            case_insensitive: ci,
        })
    }

    /// `e [NOT] SIMILAR TO pattern [ESCAPE c]` as `regexp_like(e, <regex>)`; the pattern (and the
    /// escape) must be constant, since the translation happens once, here.
    fn similar_to(
        &self,
        e: &ast::Expr,
        pattern: &ast::Expr,
        negated: bool,
        escape: Option<&ast::Expr>,
        span: Span,
    ) -> Result<Expr> {
        let constant_text = |expr: &ast::Expr, what: &str| -> Result<Option<String>> {
            match self.bind(expr)? {
                Expr::Literal(ScalarValue::Utf8(text)) => Ok(text),
                Expr::Literal(ScalarValue::Null) => Ok(None),
                _ => Err(plan_err(format!("SIMILAR TO needs a constant text {what}"), span)),
            }
        };
        let Some(pattern) = constant_text(pattern, "pattern")? else {
            return Ok(Expr::Literal(ScalarValue::Boolean(None)));
        };
        let escape = match escape {
            None => Some('\\'),
            Some(escape) => {
                let text = constant_text(escape, "ESCAPE character")?.unwrap_or_default();
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (None, _) => None,
                    (Some(c), None) => Some(c),
                    _ => return Err(plan_err(format!("ESCAPE must be one character, not '{text}'"), span)),
                }
            }
        };
        let regex = similar::similar_to_regex(&pattern, escape).map_err(|message| plan_err(message, span))?;
        let (value, vt) = self.bind_typed(e)?;
        let value = cast_to(value, &vt, &DataType::Utf8);
        let matched = self.call("regexp_like", vec![value, Expr::Literal(ScalarValue::Utf8(Some(regex)))], span)?;
        Ok(if negated { Expr::Not(Box::new(matched)) } else { matched })
    }

    fn case(
        &self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr> {
        let when_binder = ExprBinder { clause: "CASE WHEN", ..self.reborrow() };
        let mut whens = Vec::with_capacity(conditions.len());
        let operand = match operand {
            Some(op) => {
                let (o, ot) = self.bind_typed(op)?;
                let mut ty = ot.clone();
                let values = conditions.iter().map(|c| self.bind_typed(&c.condition)).collect::<Result<Vec<_>>>()?;
                for ((_, vt), c) in values.iter().zip(conditions) {
                    ty = comparison_type(&ty, vt).ok_or_else(|| {
                        plan_err(format!("CASE operand of type {ot} cannot be compared with {vt}"), c.condition.span())
                    })?;
                }
                whens.extend(values.into_iter().map(|(v, vt)| cast_to(v, &vt, &ty)));
                Some(Box::new(cast_to(o, &ot, &ty)))
            }
            None => {
                for c in conditions {
                    whens.push(when_binder.bind_predicate(&c.condition)?);
                }
                None
            }
        };
        let mut results = conditions.iter().map(|c| self.bind_typed(&c.result)).collect::<Result<Vec<_>>>()?;
        if let Some(e) = else_result {
            results.push(self.bind_typed(e)?);
        }
        let mut ty = DataType::Null;
        for ((_, rt), span) in
            results.iter().zip(conditions.iter().map(|c| c.result.span()).chain(else_result.map(|e| e.span())))
        {
            ty = supertype(&ty, rt)
                .ok_or_else(|| plan_err(format!("CASE results of types {ty} and {rt} cannot be matched"), span))?;
        }
        let mut results: Vec<Expr> = results.into_iter().map(|(r, rt)| cast_to(r, &rt, &ty)).collect();
        let else_expr = if else_result.is_some() { results.pop().map(Box::new) } else { None };
        Ok(Expr::Case { operand, branches: whens.into_iter().zip(results).collect(), else_expr })
    }
}

/// Casts both sides of a comparison to their comparison type.
pub(crate) fn coerce_comparison(
    l: Expr,
    lt: &DataType,
    r: Expr,
    rt: &DataType,
    op: BinaryOp,
    span: Span,
) -> Result<(Expr, Expr)> {
    let (l, lt) = interval::midnight_as_date(l, lt.clone(), rt);
    let (r, rt) = interval::midnight_as_date(r, rt.clone(), &lt);
    let (lt, rt) = (&lt, &rt);
    let ty = comparison_type(lt, rt)
        .ok_or_else(|| plan_err(format!("operator {} cannot compare {lt} with {rt}", op.symbol()), span))?;
    // A number literal that fits the other side's type exactly takes that type, so the column
    // side stays uncast (`amount > 10` compares decimals of the column's own type).
    if literal_fits(&r, lt) && ty != *rt {
        return Ok((l, cast_to(r, rt, lt)));
    }
    if literal_fits(&l, rt) && ty != *lt {
        return Ok((cast_to(l, lt, rt), r));
    }
    Ok((cast_literal_or(l, lt, &ty), cast_literal_or(r, rt, &ty)))
}

/// Whether `e` is a numeric literal whose value `to` (a numeric type) holds exactly.
fn literal_fits(e: &Expr, to: &DataType) -> bool {
    let Expr::Literal(v) = e else { return false };
    let (unscaled, scale): (i128, i8) = match v {
        ScalarValue::Int8(Some(x)) => (*x as i128, 0),
        ScalarValue::Int16(Some(x)) => (*x as i128, 0),
        ScalarValue::Int32(Some(x)) => (*x as i128, 0),
        ScalarValue::Int64(Some(x)) => (*x as i128, 0),
        ScalarValue::Decimal128(Some(x), _, s) => (*x, *s),
        _ => return false,
    };
    let integer_part = unscaled / 10i128.pow(scale.max(0) as u32);
    match to {
        DataType::Int8 => scale == 0 && i8::try_from(unscaled).is_ok(),
        DataType::Int16 => scale == 0 && i16::try_from(unscaled).is_ok(),
        DataType::Int32 => scale == 0 && i32::try_from(unscaled).is_ok(),
        DataType::Int64 => scale == 0 && i64::try_from(unscaled).is_ok(),
        DataType::Decimal128(p, s) => {
            scale <= *s && integer_part.unsigned_abs().to_string().len() as i32 <= (*p as i32 - *s as i32).max(1)
        }
        _ => false,
    }
}

/// Like `cast_to`, but a text literal compared with a date or timestamp becomes a literal of that
/// type right away (so `d >= '2024-01-01'` reaches the scan as a date constant).
fn cast_literal_or(e: Expr, from: &DataType, to: &DataType) -> Expr {
    if let Expr::Literal(ScalarValue::Utf8(Some(text))) = &e {
        let parsed = match to {
            DataType::Date32 => literal::parse_date(text).map(|d| ScalarValue::Date32(Some(d))),
            DataType::Timestamp(..) => literal::parse_timestamp(text).map(|t| ScalarValue::TimestampMicros(Some(t))),
            _ => None,
        };
        if let Some(v) = parsed {
            return Expr::Literal(v);
        }
    }
    cast_to(e, from, to)
}

/// A literal value; `negative` applies a leading minus to a number.
pub(crate) fn value(v: &ast::Value, negative: bool, span: Span) -> Result<ScalarValue> {
    match v {
        ast::Value::Number(text, _) => literal::number(text, negative, span),
        ast::Value::Boolean(b) => Ok(ScalarValue::Boolean(Some(*b))),
        ast::Value::Null => Ok(ScalarValue::Null),
        ast::Value::Placeholder(p) => Err(plan_err(format!("parameter '{p}' has no value"), span)),
        other => match other.clone().into_string() {
            Some(s) => Ok(ScalarValue::Utf8(Some(s))),
            None => Err(plan_err(format!("literal {other} is not supported yet"), span)),
        },
    }
}

/// The schema of `exprs` bound over `input`, named `names`.
pub(crate) fn project_schema(exprs: &[Expr], names: &[String], input: &Schema) -> Arc<Schema> {
    Arc::new(Schema::new(
        exprs
            .iter()
            .zip(names)
            .map(|(e, n)| Field::new(n.clone(), e.data_type(input), nullable(e, input)))
            .collect::<Vec<_>>(),
    ))
}

/// Whether `e` may be NULL: a column keeps its nullability, a non-NULL literal never is, anything
/// else may be.
fn nullable(e: &Expr, input: &Schema) -> bool {
    match e {
        Expr::Column(i) => input.field(*i).is_nullable(),
        Expr::Literal(v) => v.is_null(),
        _ => true,
    }
}
