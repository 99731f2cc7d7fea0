//! DOUBLE PRECISION functions: `POWER`/`POW`, `SQRT`, `CBRT`, `EXP`, `LN`, `LOG` (base 10 with one
//! argument, as in Redshift and PostgreSQL; `LOG(b, x)` is base `b`), `LOG10`, `DEGREES`,
//! `RADIANS`, `PI`, `RANDOM`, and `SIGN`. Arguments out of a function's domain are errors naming
//! the value (PostgreSQL: "cannot take square root of a negative number"), never NaN.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, Float64Array};
use arrow::compute::kernels::arity::binary;
use arrow::datatypes::{DataType, Float64Type};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage};
use crate::expr::functions::math::numeric_arg;
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::is_integer;
use crate::plan::ScalarValue;

/// Registers the floating-point family.
pub fn register(registry: &mut FunctionRegistry) {
    let unary: [Unary; 10] = [
        Unary {
            name: "sqrt",
            f: f64::sqrt,
            domain: Domain::NonNegative("cannot take the square root of a negative number"),
        },
        Unary { name: "cbrt", f: f64::cbrt, domain: Domain::All },
        Unary { name: "exp", f: f64::exp, domain: Domain::All },
        Unary { name: "ln", f: f64::ln, domain: Domain::Positive },
        Unary { name: "log10", f: f64::log10, domain: Domain::Positive },
        Unary { name: "degrees", f: f64::to_degrees, domain: Domain::All },
        Unary { name: "radians", f: f64::to_radians, domain: Domain::All },
        // Redshift's DOUBLE PRECISION spellings.
        Unary { name: "dexp", f: f64::exp, domain: Domain::All },
        Unary { name: "dlog1", f: f64::ln, domain: Domain::Positive },
        Unary { name: "dlog10", f: f64::log10, domain: Domain::Positive },
    ];
    for f in unary {
        registry.register_scalar(Arc::new(f));
    }
    let power = Arc::new(Power);
    registry.register_scalar(power.clone());
    registry.register_scalar_alias("pow", power);
    registry.register_scalar(Arc::new(Log));
    registry.register_scalar(Arc::new(Sign));
    registry.register_scalar(Arc::new(Pi));
    registry.register_scalar(Arc::new(Random));
}

/// Where a one-argument function is defined.
#[derive(Clone, Copy)]
enum Domain {
    All,
    NonNegative(&'static str),
    /// Logarithms: zero and negative numbers are errors.
    Positive,
}

impl Domain {
    fn check(self, name: &str, v: f64) -> Result<()> {
        let why = match self {
            Domain::NonNegative(why) if v < 0.0 => why,
            Domain::Positive if v == 0.0 => "cannot take the logarithm of zero",
            Domain::Positive if v < 0.0 => "cannot take the logarithm of a negative number",
            _ => return Ok(()),
        };
        Err(EngineError::execution(format!("function {name}: {why} ({v})")))
    }
}

fn double_signature(name: &str, args: &[DataType], count: usize, usage: &str) -> Result<Signature> {
    check_usage(name, args, count, count, usage)?;
    for (i, t) in args.iter().enumerate() {
        numeric_arg(name, i, t)?;
    }
    Ok(Signature { arg_types: vec![DataType::Float64; count], return_type: DataType::Float64 })
}

fn doubles(arg: &ColumnarValue, num_rows: usize) -> Result<Float64Array> {
    Ok(arg_array(arg, &DataType::Float64, num_rows)?.as_primitive::<Float64Type>().clone())
}

/// Checks the valid values of `x` against `domain` (one pass over the buffer).
fn check_domain(name: &str, x: &Float64Array, domain: Domain) -> Result<()> {
    if matches!(domain, Domain::All) {
        return Ok(());
    }
    for (i, &v) in x.values().iter().enumerate() {
        if x.is_valid(i) {
            domain.check(name, v)?;
        }
    }
    Ok(())
}

/// A one-argument DOUBLE PRECISION function.
struct Unary {
    name: &'static str,
    f: fn(f64) -> f64,
    domain: Domain,
}

impl ScalarFunction for Unary {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        double_signature(self.name, args, 1, &format!("{}(double precision)", self.name))
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let x = doubles(&args[0], num_rows)?;
        check_domain(self.name, &x, self.domain)?;
        let out: Float64Array = x.unary(self.f);
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `POWER(x, y)` / `POW`: `x` raised to `y`; zero to a negative power and a negative number to
/// a fractional power are errors (PostgreSQL).
struct Power;

impl ScalarFunction for Power {
    fn name(&self) -> &str {
        "power"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        double_signature(self.name(), args, 2, "power(double precision, double precision)")
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let (x, y) = (doubles(&args[0], num_rows)?, doubles(&args[1], num_rows)?);
        for i in 0..num_rows {
            if x.is_null(i) || y.is_null(i) {
                continue;
            }
            let (b, e) = (x.value(i), y.value(i));
            if b == 0.0 && e < 0.0 {
                return Err(EngineError::execution(format!("function power: zero raised to a negative power ({e})")));
            }
            if b < 0.0 && e.fract() != 0.0 {
                return Err(EngineError::execution(format!(
                    "function power: a negative number raised to a non-integer power ({b} ^ {e}) is not real"
                )));
            }
        }
        let out: Float64Array = binary(&x, &y, f64::powf)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `LOG(x)` (base 10, Redshift/PostgreSQL) and `LOG(b, x)` (base `b`, PostgreSQL).
struct Log;

impl ScalarFunction for Log {
    fn name(&self) -> &str {
        "log"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = "log(double precision) or log(base, double precision)";
        check_usage(self.name(), args, 1, 2, usage)?;
        double_signature(self.name(), args, args.len(), usage)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let x = doubles(&args[args.len() - 1], num_rows)?;
        check_domain(self.name(), &x, Domain::Positive)?;
        if args.len() == 1 {
            return Ok(ColumnarValue::Array(Arc::new(x.unary::<_, Float64Type>(f64::log10))));
        }
        let base = doubles(&args[0], num_rows)?;
        check_domain(self.name(), &base, Domain::Positive)?;
        if base.iter().any(|b| b == Some(1.0)) {
            return Err(EngineError::DivisionByZero);
        }
        let out: Float64Array = binary(&base, &x, |b, v| v.ln() / b.ln())?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `SIGN(x)`: -1, 0 or 1 in `x`'s type for integers and floats, DECIMAL(1,0) for decimals
/// (Redshift).
struct Sign;

impl ScalarFunction for Sign {
    fn name(&self) -> &str {
        "sign"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "sign(number)")?;
        let t = numeric_arg(self.name(), 0, &args[0])?;
        let return_type = match &t {
            DataType::Decimal128(_, _) => DataType::Decimal128(1, 0),
            t if is_integer(t) => t.clone(),
            _ => DataType::Float64,
        };
        Ok(Signature { arg_types: vec![t], return_type })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let to = self.signature(&[args[0].data_type()])?.return_type;
        let x = doubles(&args[0], num_rows)?;
        let signs: Float64Array = x.unary(|v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        });
        Ok(ColumnarValue::Array(arrow::compute::cast(&signs, &to)?))
    }
}

/// `PI()`.
struct Pi;

impl ScalarFunction for Pi {
    fn name(&self) -> &str {
        "pi"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 0, 0, "pi()")?;
        Ok(Signature { arg_types: vec![], return_type: DataType::Float64 })
    }

    fn invoke(&self, _args: &[ColumnarValue], _num_rows: usize) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Float64(Some(std::f64::consts::PI))))
    }
}

/// `RANDOM()`: a DOUBLE PRECISION in [0, 1), a fresh value per row (the optimizer never folds
/// it). SplitMix64 over a process-wide counter seeded from the clock: statistical quality is
/// what sampling needs; it is not for cryptography.
struct Random;

static RANDOM_COUNTER: AtomicU64 = AtomicU64::new(0);
static RANDOM_SEED: OnceLock<u64> = OnceLock::new();

fn next_random() -> f64 {
    let seed = *RANDOM_SEED.get_or_init(|| crate::expr::functions::clock::now_micros() as u64);
    let mut z = seed.wrapping_add(RANDOM_COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl ScalarFunction for Random {
    fn name(&self) -> &str {
        "random"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 0, 0, "random()")?;
        Ok(Signature { arg_types: vec![], return_type: DataType::Float64 })
    }

    fn invoke(&self, _args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let out: Float64Array = (0..num_rows).map(|_| Some(next_random())).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[Option<f64>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Float64Array::from(v.to_vec())))
    }

    fn values(v: ColumnarValue, n: usize) -> Vec<Option<f64>> {
        v.into_array(n).as_primitive::<Float64Type>().iter().collect()
    }

    #[test]
    fn unary_functions_and_domains() {
        let sqrt = Unary { name: "sqrt", f: f64::sqrt, domain: Domain::NonNegative("negative") };
        assert_eq!(values(sqrt.invoke(&[f(&[Some(9.0), None])], 2).unwrap(), 2), vec![Some(3.0), None]);
        assert!(sqrt.invoke(&[f(&[Some(-1.0)])], 1).unwrap_err().to_string().contains("-1"));
        let ln = Unary { name: "ln", f: f64::ln, domain: Domain::Positive };
        assert!(ln.invoke(&[f(&[Some(0.0)])], 1).is_err());
        let out = Log.invoke(&[f(&[Some(1000.0)])], 1).unwrap();
        assert!((values(out, 1)[0].unwrap() - 3.0).abs() < 1e-12);
        let out = Log.invoke(&[f(&[Some(2.0)]), f(&[Some(8.0)])], 1).unwrap();
        assert!((values(out, 1)[0].unwrap() - 3.0).abs() < 1e-12);
        assert!(Log.invoke(&[f(&[Some(1.0)]), f(&[Some(8.0)])], 1).is_err());
    }

    #[test]
    fn power_sign_pi_random() {
        assert_eq!(values(Power.invoke(&[f(&[Some(2.0)]), f(&[Some(10.0)])], 1).unwrap(), 1), vec![Some(1024.0)]);
        assert!(Power.invoke(&[f(&[Some(-8.0)]), f(&[Some(0.5)])], 1).is_err());
        assert!(Power.invoke(&[f(&[Some(0.0)]), f(&[Some(-1.0)])], 1).is_err());
        let ints = ColumnarValue::Array(Arc::new(arrow::array::Int32Array::from(vec![-5, 0, 7])));
        let out = Sign.invoke(&[ints], 3).unwrap().into_array(3);
        let out = out.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(out.values().to_vec(), vec![-1, 0, 1]);
        let out = Random.invoke(&[], 1000).unwrap().into_array(1000);
        let out = out.as_primitive::<Float64Type>();
        assert!(out.values().iter().all(|v| (0.0..1.0).contains(v)));
        assert!(out.values().iter().any(|v| *v != out.value(0)));
        assert!(Pi.signature(&[DataType::Int32]).is_err());
    }
}
