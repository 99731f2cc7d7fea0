//! Numeric functions: `ABS`, `ROUND`, `TRUNC`, `CEIL`/`CEILING`, `FLOOR`, `MOD`. Rounding is half
//! away from zero for decimals and floats (Redshift and PostgreSQL round numerics that way).
//! Floating-point functions (`SQRT`, `LN`, ...) live in `math_float`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int8Array, PrimitiveArray, Scalar};
use arrow::compute::kernels::{cmp, numeric, zip::zip};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
};

use crate::error::{EngineError, Result};
use crate::expr::arithmetic::{evaluate_arithmetic, map_arith_error};
use crate::expr::functions::arguments::{check_arity, check_usage, int_values, integer_arg, wrong_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{arithmetic_operand_type, binary_result_type, is_numeric, MAX_DECIMAL_PRECISION};
use crate::plan::{BinaryOp, ScalarValue};

/// Registers the math family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Abs));
    registry.register_scalar(Arc::new(Round { name: "round", mode: Mode::Round }));
    registry.register_scalar(Arc::new(Round { name: "trunc", mode: Mode::Trunc }));
    registry.register_scalar(Arc::new(Mod));
    let ceil = Arc::new(RoundTo { name: "ceil", mode: Mode::Ceil });
    registry.register_scalar(ceil.clone());
    registry.register_scalar_alias("ceiling", ceil);
    registry.register_scalar(Arc::new(RoundTo { name: "floor", mode: Mode::Floor }));
}

/// A numeric argument; the untyped NULL is taken as DOUBLE PRECISION.
pub(crate) fn numeric_arg(name: &str, index: usize, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Null => Ok(DataType::Float64),
        t if is_numeric(t) => Ok(t.clone()),
        t => Err(wrong_arg(name, index, "a number", t)),
    }
}

/// `ABS(x)`, in `x`'s type; the smallest integer overflows (an error, not a wrap).
struct Abs;

impl ScalarFunction for Abs {
    fn name(&self) -> &str {
        "abs"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, 1)?;
        let t = numeric_arg(self.name(), 0, &args[0])?;
        Ok(Signature { arg_types: vec![t.clone()], return_type: t })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let x = args[0].clone().into_array(num_rows);
        let operation = format!("abs({})", x.data_type());
        let negated = numeric::neg(&x).map_err(|e| map_arith_error(e, &operation))?;
        // Keep x where x >= 0, else -x; compared with a zero of x's own type.
        let zero = arrow::compute::cast(&Int8Array::from(vec![0]), x.data_type())?;
        let is_negative = cmp::lt(&x, &Scalar::new(zero))?;
        Ok(ColumnarValue::Array(zip(&is_negative, &negated, &x)?))
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Round,
    Trunc,
    Ceil,
    Floor,
}

/// `ROUND(x[, n])` and `TRUNC(x[, n])`: `x` rounded half away from zero (or truncated toward
/// zero) to `n` decimal places, negative `n` working left of the point. Integers and floats keep
/// their type; a DECIMAL(p,s) gets scale `n` clamped to 0..=s when `n` is a constant (Redshift:
/// `ROUND(28.05, 1)` is `28.1`, `ROUND(28.05)` is `28`), and one more integer digit for the
/// carry. `TRUNC(timestamp)` is Redshift's DATE of the timestamp.
struct Round {
    name: &'static str,
    mode: Mode,
}

impl Round {
    fn decimal_result(p: u8, s: i8, places: i64) -> DataType {
        let scale = places.clamp(0, s.max(0) as i64) as i16;
        let precision = (p as i16 - s as i16 + 1 + scale).clamp(1, MAX_DECIMAL_PRECISION as i16);
        DataType::Decimal128(precision as u8, scale.min(precision) as i8)
    }
}

impl ScalarFunction for Round {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 1, 2, &format!("{}(number[, integer])", self.name))?;
        if matches!(self.mode, Mode::Trunc) && matches!(args[0], DataType::Timestamp(..) | DataType::Date32) {
            check_usage(self.name, args, 1, 1, "trunc(timestamp)")?;
            return Ok(Signature { arg_types: vec![DataType::Date32], return_type: DataType::Date32 });
        }
        let t = numeric_arg(self.name, 0, &args[0])?;
        let mut arg_types = vec![t.clone()];
        let return_type = match (&t, args.get(1)) {
            (DataType::Decimal128(p, s), None) => Round::decimal_result(*p, *s, 0),
            _ => t,
        };
        if let Some(n) = args.get(1) {
            arg_types.push(integer_arg(self.name, 1, n)?);
        }
        Ok(Signature { arg_types, return_type })
    }

    fn signature_for_constants(&self, args: &[DataType], constants: &[Option<ScalarValue>]) -> Result<Signature> {
        let mut signature = self.signature(args)?;
        if let (DataType::Decimal128(p, s), Some(Some(n))) = (&signature.arg_types[0], constants.get(1)) {
            let places = match n {
                ScalarValue::Int8(Some(v)) => Some(*v as i64),
                ScalarValue::Int16(Some(v)) => Some(*v as i64),
                ScalarValue::Int32(Some(v)) => Some(*v as i64),
                ScalarValue::Int64(Some(v)) => Some(*v),
                _ => None,
            };
            if let Some(places) = places {
                signature.return_type = Round::decimal_result(*p, *s, places);
            }
        }
        Ok(signature)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let x = args[0].clone().into_array(num_rows);
        if x.data_type() == &DataType::Date32 {
            return Ok(ColumnarValue::Array(x));
        }
        let places = match args.get(1) {
            Some(n) => int_values(n, num_rows)?,
            None => vec![Some(0); num_rows],
        };
        // Decimals are rounded at their own scale with one more digit for a carry (99.95 to
        // 100.00); the expression then casts to the planned precision and scale.
        let to = match x.data_type() {
            DataType::Decimal128(p, s) => DataType::Decimal128((*p + 1).min(MAX_DECIMAL_PRECISION), *s),
            other => other.clone(),
        };
        Ok(ColumnarValue::Array(round_array(&x, &places, self.mode, &to)?))
    }
}

/// `MOD(a, b)`: the remainder of `a / b` with the sign of `a`, typed as the `%` operator is
/// (Redshift's decimal rules); a zero divisor is an error.
struct Mod;

impl ScalarFunction for Mod {
    fn name(&self) -> &str {
        "mod"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 2, 2, "mod(number, number)")?;
        let a = numeric_arg(self.name(), 0, &args[0])?;
        let b = numeric_arg(self.name(), 1, &args[1])?;
        let (a, b) = arithmetic_operand_type(BinaryOp::Modulo, &a, &b)
            .ok_or_else(|| wrong_arg(self.name(), 1, "a number compatible with the first", &args[1]))?;
        let return_type = binary_result_type(BinaryOp::Modulo, &a, &b);
        Ok(Signature { arg_types: vec![a, b], return_type })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        evaluate_arithmetic(BinaryOp::Modulo, &args[0], &args[1], num_rows)
    }
}

/// `CEIL(x)` / `FLOOR(x)`: integers and floats keep their type; a DECIMAL(p,s) becomes
/// DECIMAL(p-s+1, 0) (PostgreSQL gives scale 0; one more digit for the carry).
struct RoundTo {
    name: &'static str,
    mode: Mode,
}

impl ScalarFunction for RoundTo {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 1)?;
        let t = numeric_arg(self.name, 0, &args[0])?;
        let return_type = match t {
            DataType::Decimal128(p, s) => {
                DataType::Decimal128(((p as i16 - s.max(0) as i16 + 1).clamp(1, MAX_DECIMAL_PRECISION as i16)) as u8, 0)
            }
            ref other => other.clone(),
        };
        Ok(Signature { arg_types: vec![t], return_type })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let x = args[0].clone().into_array(num_rows);
        let to = self.signature(&[x.data_type().clone()])?.return_type;
        Ok(ColumnarValue::Array(round_array(&x, &vec![Some(0); num_rows], self.mode, &to)?))
    }
}

/// Rounds every value of `x` to `places[i]` decimal places with `mode`, producing type `to`.
fn round_array(x: &ArrayRef, places: &[Option<i64>], mode: Mode, to: &DataType) -> Result<ArrayRef> {
    let out: ArrayRef = match x.data_type() {
        DataType::Float64 => Arc::new(map_with_places::<Float64Type>(x, places, |v, n| round_float(v, n, mode))),
        DataType::Float32 => {
            Arc::new(map_with_places::<Float32Type>(x, places, |v, n| round_float(v as f64, n, mode) as f32))
        }
        DataType::Decimal128(_, s) => {
            let s = *s as i64;
            let rounded = map_with_places::<Decimal128Type>(x, places, |v, n| round_decimal(v, s, n, mode));
            let (DataType::Decimal128(p, _), DataType::Decimal128(_, ts)) = (x.data_type(), to) else {
                return Err(EngineError::execution("round: decimal input without decimal result"));
            };
            // Values are rounded at their own scale; re-express them at the result's scale.
            let rounded = rounded.with_precision_and_scale(*p, s as i8)?;
            let out = arrow::compute::cast(&rounded, &DataType::Decimal128(MAX_DECIMAL_PRECISION, *ts))?;
            arrow::compute::cast(&out, to)?
        }
        DataType::Int8 => Arc::new(map_with_places::<Int8Type>(x, places, |v, n| {
            round_int(v as i128, n, mode).clamp(i8::MIN as i128, i8::MAX as i128) as i8
        })),
        DataType::Int16 => Arc::new(map_with_places::<Int16Type>(x, places, |v, n| {
            round_int(v as i128, n, mode).clamp(i16::MIN as i128, i16::MAX as i128) as i16
        })),
        DataType::Int32 => Arc::new(map_with_places::<Int32Type>(x, places, |v, n| {
            round_int(v as i128, n, mode).clamp(i32::MIN as i128, i32::MAX as i128) as i32
        })),
        DataType::Int64 => Arc::new(map_with_places::<Int64Type>(x, places, |v, n| {
            round_int(v as i128, n, mode).clamp(i64::MIN as i128, i64::MAX as i128) as i64
        })),
        other => return Err(EngineError::execution(format!("cannot round {other}"))),
    };
    Ok(out)
}

fn map_with_places<T: ArrowPrimitiveType>(
    x: &ArrayRef,
    places: &[Option<i64>],
    f: impl Fn(T::Native, i64) -> T::Native,
) -> PrimitiveArray<T> {
    let x = x.as_primitive::<T>();
    x.iter()
        .zip(places)
        .map(|(v, n)| Some(f(v?, (*n)?)))
        .collect::<PrimitiveArray<T>>()
        .with_data_type(x.data_type().clone())
}

fn round_float(v: f64, places: i64, mode: Mode) -> f64 {
    let factor = 10f64.powi(places.clamp(-300, 300) as i32);
    let scaled = v * factor;
    let r = match mode {
        Mode::Round => scaled.round(),
        Mode::Trunc => scaled.trunc(),
        Mode::Ceil => scaled.ceil(),
        Mode::Floor => scaled.floor(),
    };
    r / factor
}

/// An integer rounded to `places` (only negative places change it); the caller saturates it
/// to the integer type's range.
fn round_int(v: i128, places: i64, mode: Mode) -> i128 {
    if places >= 0 {
        return v;
    }
    round_decimal(v, 0, places, mode)
}

/// An unscaled decimal `v` at scale `s` rounded to `places` digits after the point, still at
/// scale `s`.
fn round_decimal(v: i128, s: i64, places: i64, mode: Mode) -> i128 {
    let drop = s - places;
    if drop <= 0 {
        return v;
    }
    let Some(factor) = 10i128.checked_pow(drop.min(38) as u32) else { return 0 };
    let (q, r) = (v / factor, v % factor);
    let q = match mode {
        Mode::Round if r.abs() * 2 >= factor => q + r.signum(),
        Mode::Ceil if r > 0 => q + 1,
        Mode::Floor if r < 0 => q - 1,
        _ => q,
    };
    q.saturating_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Float64Array, Int32Array};

    fn decimal(values: Vec<Option<i128>>, p: u8, s: i8) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Decimal128Array::from(values).with_precision_and_scale(p, s).unwrap()))
    }

    const ROUND: Round = Round { name: "round", mode: Mode::Round };
    const TRUNC: Round = Round { name: "trunc", mode: Mode::Trunc };

    #[test]
    fn round_half_away_from_zero() {
        let out = ROUND.invoke(&[decimal(vec![Some(12345), Some(-12355), None], 10, 3)], 3).unwrap().into_array(3);
        let d = out.as_primitive::<Decimal128Type>();
        // One more digit for the carry; the planned type comes from the signature.
        assert_eq!(d.data_type(), &DataType::Decimal128(11, 3));
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![Some(12000), Some(-12000), None]);
        let two = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
        let out = ROUND.invoke(&[decimal(vec![Some(12345)], 10, 3), two], 1).unwrap().into_array(1);
        assert_eq!(out.as_primitive::<Decimal128Type>().value(0), 12350);
        let f = ColumnarValue::Array(Arc::new(Float64Array::from(vec![2.5, -2.5, 1.25])));
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let out = ROUND.invoke(&[f, one], 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Float64Type>().values().to_vec(), vec![2.5, -2.5, 1.3]);
        let i = ColumnarValue::Array(Arc::new(Int32Array::from(vec![1234, -1250])));
        let minus2 = ColumnarValue::Scalar(ScalarValue::Int64(Some(-2)));
        let out = ROUND.invoke(&[i, minus2], 2).unwrap().into_array(2);
        assert_eq!(out.as_primitive::<Int32Type>().values().to_vec(), vec![1200, -1300]);
    }

    #[test]
    fn round_and_trunc_decimal_scale_follows_places() {
        let d = DataType::Decimal128(8, 2);
        let one = [None, Some(ScalarValue::Int32(Some(1)))];
        let sig = ROUND.signature_for_constants(&[d.clone(), DataType::Int32], &one).unwrap();
        assert_eq!(sig.return_type, DataType::Decimal128(8, 1));
        let sig =
            ROUND.signature_for_constants(&[d.clone(), DataType::Int32], &[None, Some(ScalarValue::Int32(Some(-1)))]);
        assert_eq!(sig.unwrap().return_type, DataType::Decimal128(7, 0));
        assert_eq!(ROUND.signature(std::slice::from_ref(&d)).unwrap().return_type, DataType::Decimal128(7, 0));
        assert_eq!(ROUND.signature(&[d.clone(), DataType::Int32]).unwrap().return_type, d);
        let x = decimal(vec![Some(2805), Some(-2899)], 8, 2);
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let out = TRUNC.invoke(&[x, one], 2).unwrap().into_array(2);
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![2800, -2890]);
        let f = ColumnarValue::Array(Arc::new(Float64Array::from(vec![2.79, -2.79])));
        let out = TRUNC.invoke(&[f], 2).unwrap().into_array(2);
        assert_eq!(out.as_primitive::<Float64Type>().values().to_vec(), vec![2.0, -2.0]);
        let ts = crate::plan::types::TIMESTAMP;
        assert_eq!(TRUNC.signature(&[ts]).unwrap().return_type, DataType::Date32);
    }

    #[test]
    fn mod_follows_the_dividend_and_rejects_zero() {
        let sig = Mod.signature(&[DataType::Int32, DataType::Int64]).unwrap();
        assert_eq!(sig.return_type, DataType::Int64);
        let a = ColumnarValue::Array(Arc::new(arrow::array::Int64Array::from(vec![Some(-7), Some(7), None])));
        let b = ColumnarValue::Scalar(ScalarValue::Int64(Some(3)));
        let out = Mod.invoke(&[a.clone(), b], 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), vec![Some(-1), Some(1), None]);
        let zero = ColumnarValue::Scalar(ScalarValue::Int64(Some(0)));
        assert!(Mod.invoke(&[a, zero], 3).is_err());
    }

    #[test]
    fn ceil_floor_abs() {
        let ceil = RoundTo { name: "ceil", mode: Mode::Ceil };
        let floor = RoundTo { name: "floor", mode: Mode::Floor };
        assert_eq!(ceil.signature(&[DataType::Decimal128(10, 2)]).unwrap().return_type, DataType::Decimal128(9, 0));
        let x = decimal(vec![Some(-150), Some(150), Some(100)], 10, 2);
        let out = ceil.invoke(std::slice::from_ref(&x), 3).unwrap().into_array(3);
        assert_eq!(out.data_type(), &DataType::Decimal128(9, 0));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![-1, 2, 1]);
        let out = floor.invoke(&[x], 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![-2, 1, 1]);
        let i = ColumnarValue::Array(Arc::new(Int32Array::from(vec![Some(-3), Some(4), None])));
        let out = Abs.invoke(&[i], 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![Some(3), Some(4), None]);
        let min = ColumnarValue::Array(Arc::new(Int32Array::from(vec![i32::MIN])));
        assert!(Abs.invoke(&[min], 1).is_err());
    }
}
