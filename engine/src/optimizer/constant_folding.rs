//! Folds subexpressions whose inputs are all literals into one literal, evaluated by the same
//! physical expressions that run queries (so folding can never disagree with execution), and
//! simplifies boolean logic with constants (`x AND true`, `x OR false`, `WHERE true`).

use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::Result;
use crate::expr::functions::FunctionRegistry;
use crate::expr::{create_physical_expr, ColumnarValue};
use crate::optimizer::tree::{map_expressions, transform_up};
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, LogicalPlan, ScalarValue};

/// Functions whose value changes per call, which folding must leave alone.
pub(crate) const VOLATILE_FUNCTIONS: &[&str] = &["random", "rand", "uuid", "gen_random_uuid"];

/// Whether `e` gives the same value wherever and however often it is evaluated: no volatile
/// function, no subquery, no outer reference. Rules that copy or move an expression (OR hulls,
/// shared subplans) need this.
pub(crate) fn repeatable(e: &Expr) -> bool {
    match e {
        Expr::Function { name, .. } if VOLATILE_FUNCTIONS.contains(&name.as_str()) => false,
        Expr::Subquery(_) | Expr::OuterColumn { .. } => false,
        other => other.children().into_iter().all(repeatable),
    }
}

pub struct ConstantFolding;

impl Rule for ConstantFolding {
    fn name(&self) -> &str {
        "constant_folding"
    }

    fn rewrite(&self, plan: LogicalPlan, ctx: &OptimizerContext) -> Result<LogicalPlan> {
        let batch = one_empty_row();
        transform_up(plan, &mut |node| {
            let node = map_expressions(node, &mut |e| Ok(fold(e, &ctx.functions, &batch)))?;
            Ok(match node {
                LogicalPlan::Filter { input, predicate: Expr::Literal(ScalarValue::Boolean(Some(true))) } => *input,
                LogicalPlan::Join {
                    left,
                    right,
                    join_type,
                    on,
                    filter: Some(Expr::Literal(ScalarValue::Boolean(Some(true)))),
                    schema,
                } => LogicalPlan::Join { left, right, join_type, on, filter: None, schema },
                other => other,
            })
        })
    }
}

/// A batch of one row and no columns: what a literal-only expression evaluates over.
fn one_empty_row() -> RecordBatch {
    // Invariant: an empty schema with an explicit row count is always a valid batch.
    RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .expect("an empty batch with a row count is valid")
}

/// Folds `expr` bottom-up.
pub fn fold(expr: Expr, functions: &FunctionRegistry, batch: &RecordBatch) -> Expr {
    expr.transform(&mut |e| simplify(evaluate_constant(e, functions, batch)))
}

/// Evaluates `e` when all its children are literals; on any failure (a division by zero, a bad
/// cast) it stays as it is, so the error surfaces only if execution really reaches it.
fn evaluate_constant(e: Expr, functions: &FunctionRegistry, batch: &RecordBatch) -> Expr {
    let foldable = match &e {
        Expr::Column(_) | Expr::Literal(_) | Expr::OuterColumn { .. } | Expr::Subquery(_) => false,
        Expr::Function { name, .. } if VOLATILE_FUNCTIONS.contains(&name.as_str()) => false,
        other => other.children().iter().all(|c| matches!(c, Expr::Literal(_))),
    };
    if !foldable {
        return e;
    }
    let empty = Schema::empty();
    let expected = e.data_type(&empty);
    let value = create_physical_expr(&e, &empty, functions).and_then(|p| p.evaluate(batch)).and_then(|v| match v {
        ColumnarValue::Scalar(s) => Ok(s),
        ColumnarValue::Array(a) if a.len() == 1 => ScalarValue::try_from_array(a.as_ref(), 0),
        ColumnarValue::Array(_) => Err(crate::error::EngineError::Internal("constant evaluated to many rows".into())),
    });
    match value {
        Ok(v) if v.data_type() == expected => Expr::Literal(v),
        _ => e,
    }
}

/// Boolean identities with one constant side. `x AND false` is false and `x OR true` is true even
/// when `x` is NULL, so these hold under SQL's three-valued logic.
fn simplify(e: Expr) -> Expr {
    let truth = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Boolean(Some(b))) => Some(*b),
        _ => None,
    };
    match e {
        Expr::Binary { op: BinaryOp::And, left, right } => match (truth(&left), truth(&right)) {
            (Some(true), _) => *right,
            (_, Some(true)) => *left,
            (Some(false), _) | (_, Some(false)) => Expr::Literal(ScalarValue::Boolean(Some(false))),
            _ => Expr::Binary { op: BinaryOp::And, left, right },
        },
        Expr::Binary { op: BinaryOp::Or, left, right } => match (truth(&left), truth(&right)) {
            (Some(false), _) => *right,
            (_, Some(false)) => *left,
            (Some(true), _) | (_, Some(true)) => Expr::Literal(ScalarValue::Boolean(Some(true))),
            _ => Expr::Binary { op: BinaryOp::Or, left, right },
        },
        Expr::Not(inner) => match truth(&inner) {
            Some(b) => Expr::Literal(ScalarValue::Boolean(Some(!b))),
            None => Expr::Not(inner),
        },
        other => other,
    }
}
