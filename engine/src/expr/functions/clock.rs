//! The statement clock: `GETDATE()`, `SYSDATE`, `NOW()`, `CURRENT_TIMESTAMP`, `CURRENT_DATE`.
//! Each is one value for the whole statement (Redshift and PostgreSQL return the start time of
//! the statement or transaction, not of each row), so the binder asks
//! [`ScalarFunction::statement_constant`] once per call with one clock reading per statement and
//! plans a literal; `invoke` only serves callers outside a statement. Times are UTC (Redshift's
//! default session time zone).

use std::sync::Arc;

use arrow::datatypes::DataType;

use crate::error::Result;
use crate::expr::functions::arguments::check_usage;
use crate::expr::functions::calendar::{day_of, MICROS_PER_SECOND};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::TIMESTAMP;
use crate::plan::ScalarValue;

/// Registers the clock functions.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Clock { name: "getdate", reading: Reading::Seconds }));
    for name in ["sysdate", "now", "current_timestamp", "localtimestamp"] {
        registry.register_scalar(Arc::new(Clock { name, reading: Reading::Micros }));
    }
    registry.register_scalar(Arc::new(Clock { name: "current_date", reading: Reading::Date }));
}

/// The current time as microseconds since 1970-01-01 UTC.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[derive(Clone, Copy)]
enum Reading {
    /// A TIMESTAMP without fractional seconds (Redshift's `GETDATE()`).
    Seconds,
    /// A TIMESTAMP with microseconds.
    Micros,
    /// The DATE.
    Date,
}

struct Clock {
    name: &'static str,
    reading: Reading,
}

impl ScalarFunction for Clock {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 0, 0, &format!("{}()", self.name))?;
        let return_type = if matches!(self.reading, Reading::Date) { DataType::Date32 } else { TIMESTAMP };
        Ok(Signature { arg_types: vec![], return_type })
    }

    fn statement_constant(&self, statement_start_micros: i64) -> Option<ScalarValue> {
        let m = statement_start_micros;
        Some(match self.reading {
            Reading::Seconds => ScalarValue::TimestampMicros(Some(m - m.rem_euclid(MICROS_PER_SECOND))),
            Reading::Micros => ScalarValue::TimestampMicros(Some(m)),
            Reading::Date => ScalarValue::Date32(Some(day_of(m) as i32)),
        })
    }

    fn invoke(&self, _args: &[ColumnarValue], _num_rows: usize) -> Result<ColumnarValue> {
        // Invariant: every `Clock` answers `statement_constant`.
        let value = self.statement_constant(now_micros()).expect("a clock reading");
        Ok(ColumnarValue::Scalar(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_share_one_instant() {
        let at = 1_557_000_000_123_456;
        let getdate = Clock { name: "getdate", reading: Reading::Seconds };
        let sysdate = Clock { name: "sysdate", reading: Reading::Micros };
        let today = Clock { name: "current_date", reading: Reading::Date };
        assert_eq!(getdate.statement_constant(at), Some(ScalarValue::TimestampMicros(Some(1_557_000_000_000_000))));
        assert_eq!(sysdate.statement_constant(at), Some(ScalarValue::TimestampMicros(Some(at))));
        assert_eq!(today.statement_constant(at), Some(ScalarValue::Date32(Some(18_020))));
        assert!(getdate.signature(&[DataType::Int32]).unwrap_err().to_string().contains("getdate()"));
    }
}
