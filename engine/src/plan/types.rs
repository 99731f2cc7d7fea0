//! Type rules shared by the binder (which inserts casts) and the physical expressions (which must
//! produce exactly the type the plan promises).

use arrow::datatypes::DataType;

use crate::plan::expr::BinaryOp;

/// The result type of `left op right`, assuming the binder has already coerced the operands
/// (see [`arithmetic_operand_type`]).
pub fn binary_result_type(op: BinaryOp, left: &DataType, right: &DataType) -> DataType {
    if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
        return DataType::Boolean;
    }
    if op == BinaryOp::StringConcat {
        return DataType::Utf8;
    }
    match (left, right) {
        (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) => decimal_result(op, *p1, *s1, *p2, *s2),
        _ => left.clone(),
    }
}

/// Precision and scale of decimal arithmetic, following Redshift's documented rules
/// ("Computations with numeric values"), capped at 38 digits.
fn decimal_result(op: BinaryOp, p1: u8, s1: i8, p2: u8, s2: i8) -> DataType {
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    let (p, s) = match op {
        BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Modulo => {
            let s = s1.max(s2);
            (((p1 - s1).max(p2 - s2) + s + 1), s)
        }
        BinaryOp::Multiply => (p1 + p2 + 1, s1 + s2),
        // Redshift: scale = max(4, s1 + p2 - s2 + 1), precision = p1 - s1 + s2 + scale.
        _ => {
            let s = 4.max(s1 + p2 - s2 + 1);
            (p1 - s1 + s2 + s, s)
        }
    };
    let p = p.clamp(1, 38);
    let s = s.clamp(0, p);
    DataType::Decimal128(p as u8, s as i8)
}
