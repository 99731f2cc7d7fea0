//! Implicit coercion as the binder applies it. Which type to cast to is decided by the shared
//! rules of `plan::types`; the cast itself is an explicit `Expr::Cast` so the physical layer never
//! guesses.

use arrow::datatypes::DataType;

use crate::plan::types::common_supertype;
use crate::plan::{Expr, ScalarValue};

/// `expr` (of type `from`) as type `to`: unchanged when the types agree, a typed NULL for the
/// untyped `NULL` literal, else a cast.
pub(crate) fn cast_to(expr: Expr, from: &DataType, to: &DataType) -> Expr {
    if from == to {
        return expr;
    }
    if let Expr::Literal(ScalarValue::Null) = expr {
        if let Ok(null) = ScalarValue::null_of(to) {
            return Expr::Literal(null);
        }
    }
    Expr::Cast { expr: Box::new(expr), to: to.clone(), try_cast: false }
}

/// The common supertype of two types (`plan::types::common_supertype` of the pair).
pub(crate) fn supertype(a: &DataType, b: &DataType) -> Option<DataType> {
    common_supertype([a, b])
}
