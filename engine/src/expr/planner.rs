//! Compiles a bound logical `Expr` into a physical expression over one input schema.

use std::sync::Arc;

use arrow::datatypes::Schema;

use crate::error::{EngineError, Result};
use crate::expr::binary::BinaryExpr;
use crate::expr::case::CaseExpr;
use crate::expr::cast::CastExpr;
use crate::expr::column::ColumnExpr;
use crate::expr::function::ScalarFunctionExpr;
use crate::expr::functions::FunctionRegistry;
use crate::expr::in_list::InListExpr;
use crate::expr::like::LikeExpr;
use crate::expr::literal::LiteralExpr;
use crate::expr::unary::{IsNullExpr, NegativeExpr, NotExpr};
use crate::expr::PhysicalExprRef;
use crate::plan::Expr;

/// The physical form of `expr` over rows of `input`. Fails on a column index outside `input` or
/// a function missing from `functions` (both binder bugs, reported rather than panicking).
pub fn create_physical_expr(expr: &Expr, input: &Schema, functions: &FunctionRegistry) -> Result<PhysicalExprRef> {
    let plan = |e: &Expr| create_physical_expr(e, input, functions);
    Ok(match expr {
        Expr::Column(i) => {
            let field = input.fields().get(*i).ok_or_else(|| {
                EngineError::plan(format!(
                    "column #{i} is out of range: the input has {} columns",
                    input.fields().len()
                ))
            })?;
            Arc::new(ColumnExpr::new(*i, field.name(), field.data_type().clone()))
        }
        Expr::Literal(v) => Arc::new(LiteralExpr::new(v.clone())),
        Expr::Binary { op, left, right } => Arc::new(BinaryExpr::new(plan(left)?, *op, plan(right)?)),
        Expr::Not(e) => Arc::new(NotExpr::new(plan(e)?)),
        Expr::Negative(e) => Arc::new(NegativeExpr::new(plan(e)?)),
        Expr::IsNull { expr, negated } => Arc::new(IsNullExpr::new(plan(expr)?, *negated)),
        Expr::Cast { expr, to, try_cast } => Arc::new(CastExpr::new(plan(expr)?, to.clone(), *try_cast)),
        Expr::Case { operand, branches, else_expr } => {
            let operand = operand.as_deref().map(plan).transpose()?;
            let branches = branches.iter().map(|(w, t)| Ok((plan(w)?, plan(t)?))).collect::<Result<Vec<_>>>()?;
            let else_expr = else_expr.as_deref().map(plan).transpose()?;
            Arc::new(CaseExpr::try_new(operand, branches, else_expr, expr.data_type(input))?)
        }
        Expr::InList { expr, list, negated } => {
            let items = list.iter().map(|e| Ok((e, plan(e)?))).collect::<Result<Vec<_>>>()?;
            Arc::new(InListExpr::try_new(plan(expr)?, items, *negated)?)
        }
        Expr::Like { expr, pattern, negated, case_insensitive } => {
            Arc::new(LikeExpr::new(plan(expr)?, plan(pattern)?, *negated, *case_insensitive))
        }
        Expr::Function { name, args, return_type } => {
            let function = functions
                .scalar(name)
                .ok_or_else(|| EngineError::plan(format!("function {name} does not exist")))?
                .clone();
            let args = args.iter().map(plan).collect::<Result<Vec<_>>>()?;
            Arc::new(ScalarFunctionExpr::new(function, args, return_type.clone()))
        }
        Expr::OuterColumn { .. } | Expr::Subquery(_) => {
            return Err(EngineError::plan(format!(
                "the subquery in `{expr}` was not decorrelated into a join (is the decorrelation rule disabled?)"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int32Array, StringArray};
    use arrow::datatypes::{DataType, Decimal128Type, Field, Int32Type};
    use arrow::record_batch::RecordBatch;

    use crate::expr::ColumnarValue;
    use crate::plan::{BinaryOp, ScalarValue};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
        let schema = Arc::new(Schema::new(fields));
        RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).unwrap()
    }

    fn eval(expr: &Expr, batch: &RecordBatch) -> Result<ArrayRef> {
        let physical = create_physical_expr(expr, &batch.schema(), &FunctionRegistry::with_builtins())?;
        assert_eq!(physical.data_type(), &expr.data_type(&batch.schema()), "{expr}");
        Ok(physical.evaluate(batch)?.into_array(batch.num_rows()))
    }

    fn ints(v: &[Option<i32>]) -> ArrayRef {
        Arc::new(Int32Array::from(v.to_vec()))
    }

    fn int(v: i32) -> Expr {
        Expr::lit(ScalarValue::Int32(Some(v)))
    }

    fn bools(a: &ArrayRef) -> Vec<Option<bool>> {
        a.as_boolean().iter().collect()
    }

    fn int_values(a: &ArrayRef) -> Vec<Option<i32>> {
        a.as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn comparisons_and_three_valued_logic() {
        let b = batch(vec![("x", ints(&[Some(1), Some(5), None]))]);
        let gt = Expr::binary(Expr::column(0), BinaryOp::Gt, int(2));
        assert_eq!(bools(&eval(&gt, &b).unwrap()), vec![Some(false), Some(true), None]);
        let null_bool = Expr::lit(ScalarValue::Boolean(None));
        let and = Expr::binary(gt.clone(), BinaryOp::And, null_bool.clone());
        assert_eq!(bools(&eval(&and, &b).unwrap()), vec![Some(false), None, None]);
        let or = Expr::binary(gt.clone(), BinaryOp::Or, null_bool);
        assert_eq!(bools(&eval(&or, &b).unwrap()), vec![None, Some(true), None]);
        let not = Expr::Not(Box::new(gt));
        assert_eq!(bools(&eval(&not, &b).unwrap()), vec![Some(true), Some(false), None]);
        let is_null = Expr::IsNull { expr: Box::new(Expr::column(0)), negated: false };
        assert_eq!(bools(&eval(&is_null, &b).unwrap()), vec![Some(false), Some(false), Some(true)]);
    }

    #[test]
    fn arithmetic_is_checked() {
        let b = batch(vec![("x", ints(&[Some(i32::MAX), Some(4), None])), ("y", ints(&[Some(0), Some(0), Some(0)]))]);
        let plus = Expr::binary(Expr::column(0), BinaryOp::Plus, int(1));
        let err = eval(&plus, &b).unwrap_err();
        assert_eq!(err.to_string(), "numeric overflow in Int32 + Int32");
        let div = Expr::binary(Expr::column(0), BinaryOp::Divide, Expr::column(1));
        assert_eq!(eval(&div, &b).unwrap_err().to_string(), "division by zero");
        let b2 = batch(vec![("x", ints(&[Some(7), Some(-7), None]))]);
        let div = Expr::binary(Expr::column(0), BinaryOp::Divide, int(2));
        assert_eq!(int_values(&eval(&div, &b2).unwrap()), vec![Some(3), Some(-3), None]);
        let rem = Expr::binary(Expr::column(0), BinaryOp::Modulo, int(2));
        assert_eq!(int_values(&eval(&rem, &b2).unwrap()), vec![Some(1), Some(-1), None]);
        let neg = Expr::Negative(Box::new(Expr::column(0)));
        assert_eq!(int_values(&eval(&neg, &b2).unwrap()), vec![Some(-7), Some(7), None]);
        let min = batch(vec![("x", ints(&[Some(i32::MIN)]))]);
        assert_eq!(eval(&neg, &min).unwrap_err().to_string(), "numeric overflow in -Int32");
    }

    #[test]
    fn decimal_arithmetic_uses_planned_precision() {
        let d: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(1000), Some(250)]).with_precision_and_scale(10, 2).unwrap());
        let b = batch(vec![("d", d)]);
        let three = Expr::lit(ScalarValue::Decimal128(Some(3), 1, 0));
        let div = Expr::binary(Expr::column(0), BinaryOp::Divide, three.clone());
        let out = eval(&div, &b).unwrap();
        // Redshift: DECIMAL(10,2) / DECIMAL(1,0) → scale max(4, 2+1-0+1) = 4, precision 12.
        assert_eq!(out.data_type(), &DataType::Decimal128(12, 4));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![33333, 8333]);
        let mul = Expr::binary(Expr::column(0), BinaryOp::Multiply, three.clone());
        let out = eval(&mul, &b).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(12, 2));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![3000, 750]);
        let plus = Expr::binary(Expr::column(0), BinaryOp::Plus, three);
        let out = eval(&plus, &b).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(11, 2));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![1300, 550]);
        let zero = Expr::lit(ScalarValue::Decimal128(Some(0), 1, 0));
        assert!(matches!(
            eval(&Expr::binary(Expr::column(0), BinaryOp::Divide, zero), &b),
            Err(crate::error::EngineError::DivisionByZero)
        ));
    }

    #[test]
    fn date_arithmetic_counts_days() {
        let dates: ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![Some(10), None]));
        let b = batch(vec![("d", dates)]);
        let plus = Expr::binary(Expr::column(0), BinaryOp::Plus, int(5));
        let out = eval(&plus, &b).unwrap();
        assert_eq!(out.data_type(), &DataType::Date32);
        assert_eq!(out.as_primitive::<arrow::datatypes::Date32Type>().iter().collect::<Vec<_>>(), vec![Some(15), None]);
        let diff = Expr::binary(Expr::column(0), BinaryOp::Minus, Expr::lit(ScalarValue::Date32(Some(3))));
        assert_eq!(int_values(&eval(&diff, &b).unwrap()), vec![Some(7), None]);
    }

    #[test]
    fn case_evaluates_branches_only_on_their_rows() {
        let b = batch(vec![("x", ints(&[Some(0), Some(2), None, Some(5)]))]);
        let when = Expr::binary(Expr::column(0), BinaryOp::NotEq, int(0));
        let then = Expr::binary(int(10), BinaryOp::Divide, Expr::column(0));
        let case = Expr::Case { operand: None, branches: vec![(when.clone(), then.clone())], else_expr: None };
        assert_eq!(int_values(&eval(&case, &b).unwrap()), vec![None, Some(5), None, Some(2)]);
        let with_else = Expr::Case { operand: None, branches: vec![(when, then)], else_expr: Some(Box::new(int(-1))) };
        assert_eq!(int_values(&eval(&with_else, &b).unwrap()), vec![Some(-1), Some(5), Some(-1), Some(2)]);
        let simple = Expr::Case {
            operand: Some(Box::new(Expr::column(0))),
            branches: vec![(int(2), int(20)), (int(5), int(50)), (int(2), int(99))],
            else_expr: Some(Box::new(int(0))),
        };
        assert_eq!(int_values(&eval(&simple, &b).unwrap()), vec![Some(0), Some(20), Some(0), Some(50)]);
    }

    #[test]
    fn in_list_null_semantics() {
        let b = batch(vec![("x", ints(&[Some(1), Some(3), None]))]);
        let list = |items: Vec<Expr>, negated| Expr::InList { expr: Box::new(Expr::column(0)), list: items, negated };
        let with_null = list(vec![int(1), Expr::lit(ScalarValue::Int32(None))], false);
        assert_eq!(bools(&eval(&with_null, &b).unwrap()), vec![Some(true), None, None]);
        let plain = list(vec![int(1), int(2)], true);
        assert_eq!(bools(&eval(&plain, &b).unwrap()), vec![Some(false), Some(true), None]);
        // A non-constant list goes through three-valued OR.
        let dynamic = list(vec![Expr::binary(Expr::column(0), BinaryOp::Plus, int(0)), int(7)], false);
        assert_eq!(bools(&eval(&dynamic, &b).unwrap()), vec![Some(true), Some(true), None]);
    }

    #[test]
    fn like_patterns() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("apple"), Some("Apricot"), Some("50%"), None]));
        let b = batch(vec![("s", text)]);
        let like = |p: &str, ci: bool, negated: bool| Expr::Like {
            expr: Box::new(Expr::column(0)),
            pattern: Box::new(Expr::lit(ScalarValue::Utf8(Some(p.into())))),
            negated,
            case_insensitive: ci,
        };
        assert_eq!(
            bools(&eval(&like("a%", false, false), &b).unwrap()),
            vec![Some(true), Some(false), Some(false), None]
        );
        assert_eq!(
            bools(&eval(&like("a%", true, false), &b).unwrap()),
            vec![Some(true), Some(true), Some(false), None]
        );
        assert_eq!(
            bools(&eval(&like("_pple", false, true), &b).unwrap()),
            vec![Some(false), Some(true), Some(true), None]
        );
        assert_eq!(
            bools(&eval(&like("%\\%", false, false), &b).unwrap()),
            vec![Some(false), Some(false), Some(true), None]
        );
    }

    #[test]
    fn concat_and_cast_to_text() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let b = batch(vec![("s", text)]);
        let concat =
            Expr::binary(Expr::column(0), BinaryOp::StringConcat, Expr::lit(ScalarValue::Utf8(Some("b".into()))));
        let out = eval(&concat, &b).unwrap();
        assert_eq!(out.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("ab"), None]);
        let ts = Expr::lit(ScalarValue::TimestampMicros(Some(1_556_706_600_000_000)));
        let left = Expr::Function {
            name: "left".into(),
            args: vec![
                Expr::Cast { expr: Box::new(ts), to: DataType::Utf8, try_cast: false },
                Expr::lit(ScalarValue::Int64(Some(7))),
            ],
            return_type: DataType::Utf8,
        };
        let physical = create_physical_expr(&left, &b.schema(), &FunctionRegistry::with_builtins()).unwrap();
        match physical.evaluate(&b).unwrap() {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => assert_eq!(s, "2019-05"),
            other => panic!("expected a constant, got {other:?}"),
        }
    }

    #[test]
    fn bad_column_and_unknown_function_are_errors() {
        let b = batch(vec![("x", ints(&[Some(1)]))]);
        assert!(eval(&Expr::column(3), &b).is_err());
        let f = Expr::Function { name: "nope".into(), args: vec![], return_type: DataType::Int32 };
        assert!(eval(&f, &b).is_err());
    }
}
