//! `INTERSECT` and `EXCEPT`, with and without `ALL`. Rows compare as `IS NOT DISTINCT FROM` (two
//! NULLs are the same row), which is what grouping does, so both are one aggregation over the two
//! inputs tagged by side: a row is in `A INTERSECT B` when its group has rows from both sides, in
//! `A EXCEPT B` when only from `A`. For `ALL`, each input first numbers the copies of each row
//! (`ROW_NUMBER() OVER (PARTITION BY every column)`), so copy *n* of a row survives `INTERSECT ALL`
//! when both sides have at least *n* copies (min(m, n) in all) and `EXCEPT ALL` when only the left
//! has (max(m − n, 0)), as the SQL standard counts them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use crate::error::Result;
use crate::plan::window::{WindowExpr, WindowFrame};
use crate::plan::{AggregateExpr, BinaryOp, Expr, LogicalPlan, ScalarValue};

/// Which set operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOperation {
    Intersect,
    Except,
}

/// `left op [ALL] right`, where `union` is the `UNION ALL` of the two inputs with their column
/// types already matched (its inputs are cast to the union's schema).
pub(crate) fn set_operation_plan(union: LogicalPlan, op: SetOperation, all: bool) -> Result<LogicalPlan> {
    let LogicalPlan::Union { inputs, schema } = union else {
        return Err(crate::error::EngineError::Internal("a set operation's inputs are not a union".into()));
    };
    let width = schema.fields().len();
    // Each input: its columns, [the copy number,] the side (0 = left, 1 = right).
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    if all {
        fields.push(Field::new("__copy", DataType::Int64, true));
    }
    fields.push(Field::new("__side", DataType::Int32, false));
    let tagged_schema = Arc::new(Schema::new(fields));
    let tagged: Vec<LogicalPlan> = inputs
        .into_iter()
        .enumerate()
        .map(|(side, input)| {
            let input = if all { numbered_copies(input, width) } else { input };
            let mut exprs: Vec<Expr> = (0..width + usize::from(all)).map(Expr::Column).collect();
            exprs.push(Expr::Literal(ScalarValue::Int32(Some(side as i32))));
            LogicalPlan::Project { input: Box::new(input), exprs, schema: tagged_schema.clone() }
        })
        .collect();
    let side_column = tagged_schema.fields().len() - 1;
    let keys: Vec<Expr> = (0..side_column).map(Expr::Column).collect();
    let rows_from = |side: i32| AggregateExpr {
        name: "count".to_string(),
        args: vec![],
        distinct: false,
        filter: Some(Box::new(Expr::binary(
            Expr::Column(side_column),
            BinaryOp::Eq,
            Expr::Literal(ScalarValue::Int32(Some(side))),
        ))),
        return_type: DataType::Int64,
    };
    let mut aggregate_fields: Vec<Field> =
        tagged_schema.fields()[..side_column].iter().map(|f| f.as_ref().clone()).collect();
    aggregate_fields.push(Field::new("__left_rows", DataType::Int64, true));
    aggregate_fields.push(Field::new("__right_rows", DataType::Int64, true));
    let aggregate = LogicalPlan::Aggregate {
        input: Box::new(LogicalPlan::Union { inputs: tagged, schema: tagged_schema }),
        group_by: keys,
        aggregates: vec![rows_from(0), rows_from(1)],
        schema: Arc::new(Schema::new(aggregate_fields)),
    };
    let count = |column: usize, op: BinaryOp| {
        Expr::binary(Expr::Column(column), op, Expr::Literal(ScalarValue::Int64(Some(0))))
    };
    let (left_rows, right_rows) = (side_column, side_column + 1);
    let right_test = match op {
        SetOperation::Intersect => count(right_rows, BinaryOp::Gt),
        SetOperation::Except => count(right_rows, BinaryOp::Eq),
    };
    let filter =
        LogicalPlan::Filter { input: Box::new(aggregate), predicate: count(left_rows, BinaryOp::Gt).and(right_test) };
    Ok(LogicalPlan::Project { input: Box::new(filter), exprs: (0..width).map(Expr::Column).collect(), schema })
}

/// `input` plus the number of each row among its equal rows (1, 2, ... per distinct row).
fn numbered_copies(input: LogicalPlan, width: usize) -> LogicalPlan {
    let copy = WindowExpr {
        name: "row_number".to_string(),
        args: vec![],
        distinct: false,
        partition_by: (0..width).map(Expr::Column).collect(),
        order_by: vec![],
        frame: WindowFrame::default_frame(),
        return_type: DataType::Int64,
    };
    crate::sql::binder::window::window_plan(input, vec![copy])
}
