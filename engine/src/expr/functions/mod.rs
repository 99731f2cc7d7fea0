//! The registry of scalar and aggregate functions. Dialect spellings (`DATEDIFF` vs `date_diff`,
//! `NVL` vs `COALESCE`) are entries with their own semantics, not `if` chains in the binder.

pub mod aggregate;
pub mod arguments;
pub mod calendar;
pub mod clock;
pub mod conditional;
pub mod date_format;
pub mod datetime;
pub mod datetime_add;
pub mod datetime_diff;
pub mod decode;
pub mod greatest;
pub mod math;
pub mod math_float;
pub mod regex;
pub mod string;
pub mod string_codes;
pub mod string_search;
pub mod string_shape;
pub mod to_char;
pub mod window;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;

use crate::error::Result;
use crate::expr::ColumnarValue;
use crate::plan::ScalarValue;

/// A function's answer to "can you take these argument types?": the types the binder must cast
/// the arguments to, and the result type.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub arg_types: Vec<DataType>,
    pub return_type: DataType,
}

/// A vectorized scalar function.
pub trait ScalarFunction: Send + Sync {
    fn name(&self) -> &str;
    /// Checks and coerces argument types; the error says which argument is wrong and why.
    fn signature(&self, args: &[DataType]) -> Result<Signature>;
    /// `signature` when the binder knows which arguments are constants (`constants[i]` is
    /// `Some` for a literal): a return type may depend on one, as `date_part('epoch', ts)` is
    /// DOUBLE PRECISION while other parts are BIGINT.
    fn signature_for_constants(&self, args: &[DataType], _constants: &[Option<ScalarValue>]) -> Result<Signature> {
        self.signature(args)
    }
    /// For functions fixed for a whole statement (`GETDATE()`, `CURRENT_DATE`): the value at the
    /// statement's start, `statement_start_micros` (UTC microseconds since 1970). The binder
    /// reads one clock per statement and plans this value as a literal, so every call in a
    /// query agrees; other functions answer `None`.
    fn statement_constant(&self, _statement_start_micros: i64) -> Option<ScalarValue> {
        None
    }
    /// Evaluates over a batch of `num_rows` rows; arguments already have `signature`'s types.
    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue>;
}

/// An aggregate function (`count`, `sum`, ...), producing accumulators for grouped aggregation.
pub trait AggregateFunction: Send + Sync {
    fn name(&self) -> &str;
    fn signature(&self, args: &[DataType]) -> Result<Signature>;
    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>>;
}

/// Vectorized per-group aggregate state (one slot per group index), updated a batch at a time.
/// Workers aggregate partially into their own accumulators; the final phase merges their
/// `state` into one accumulator with `merge_state`.
///
/// Contract:
/// - `update` receives the aggregate's evaluated arguments (already of the types `signature`
///   chose; no arguments for `COUNT(*)`); a `FILTER (WHERE ...)` is applied by the caller,
///   which passes only the rows that pass it.
/// - Groups are numbered densely from 0; `total_groups` only grows between calls, and
///   `evaluate`/`state` return exactly as many rows as the largest `total_groups` seen. A group
///   that received no rows evaluates to 0 for `count` and NULL for every other aggregate.
/// - `state` and `evaluate` take the accumulated values out: the accumulator is empty
///   afterwards (call one of them once per accumulator).
/// - `state` rows merge with `merge_state` in any order and grouping (partial aggregation is
///   associative): `sum`/`min`/`max` state is one column of the result type; `count` one
///   BIGINT column; `avg` two columns, sum and count; a `DISTINCT` aggregate one `List`
///   column holding each group's distinct non-NULL values.
pub trait GroupsAccumulator: Send {
    /// Adds the rows of `args`: row `i` belongs to group `group_indices[i]`; `total_groups` is
    /// the number of groups known so far (slots must grow to it).
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()>;
    /// Intermediate state, one row per group (as many arrays as the function needs).
    fn state(&mut self) -> Result<Vec<ArrayRef>>;
    /// Merges other accumulators' `state` rows into groups `group_indices`.
    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()>;
    /// Final values, one per group.
    fn evaluate(&mut self) -> Result<ArrayRef>;
}

/// Name → function. Names are lower-case.
#[derive(Default)]
pub struct FunctionRegistry {
    scalars: HashMap<String, Arc<dyn ScalarFunction>>,
    aggregates: HashMap<String, Arc<dyn AggregateFunction>>,
    windows: HashMap<String, Arc<dyn window::WindowFunction>>,
}

impl fmt::Debug for FunctionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionRegistry")
            .field("scalars", &self.scalars.len())
            .field("aggregates", &self.aggregates.len())
            .finish()
    }
}

impl FunctionRegistry {
    /// Every built-in function of the Redshift and Athena dialects.
    pub fn with_builtins() -> FunctionRegistry {
        let mut registry = FunctionRegistry::default();
        string::register(&mut registry);
        string_search::register(&mut registry);
        string_shape::register(&mut registry);
        string_codes::register(&mut registry);
        regex::register(&mut registry);
        conditional::register(&mut registry);
        decode::register(&mut registry);
        greatest::register(&mut registry);
        math::register(&mut registry);
        math_float::register(&mut registry);
        datetime::register(&mut registry);
        datetime_diff::register(&mut registry);
        datetime_add::register(&mut registry);
        to_char::register(&mut registry);
        date_format::register(&mut registry);
        clock::register(&mut registry);
        aggregate::register(&mut registry);
        window::register(&mut registry);
        registry
    }

    pub fn register_scalar(&mut self, f: Arc<dyn ScalarFunction>) {
        self.scalars.insert(f.name().to_ascii_lowercase(), f);
    }

    /// Registers `f` under an extra name (a dialect spelling with identical semantics).
    pub fn register_scalar_alias(&mut self, alias: &str, f: Arc<dyn ScalarFunction>) {
        self.scalars.insert(alias.to_ascii_lowercase(), f);
    }

    pub fn register_aggregate(&mut self, f: Arc<dyn AggregateFunction>) {
        self.aggregates.insert(f.name().to_ascii_lowercase(), f);
    }

    pub fn register_aggregate_alias(&mut self, alias: &str, f: Arc<dyn AggregateFunction>) {
        self.aggregates.insert(alias.to_ascii_lowercase(), f);
    }

    pub fn register_window(&mut self, f: Arc<dyn window::WindowFunction>) {
        self.windows.insert(f.name().to_ascii_lowercase(), f);
    }

    /// A ranking or value window function (aggregates over windows are looked up as aggregates).
    pub fn window(&self, name: &str) -> Option<&Arc<dyn window::WindowFunction>> {
        self.windows.get(&name.to_ascii_lowercase())
    }

    pub fn scalar(&self, name: &str) -> Option<&Arc<dyn ScalarFunction>> {
        self.scalars.get(&name.to_ascii_lowercase())
    }

    pub fn aggregate(&self, name: &str) -> Option<&Arc<dyn AggregateFunction>> {
        self.aggregates.get(&name.to_ascii_lowercase())
    }

    /// All registered names (scalar and aggregate), for "did you mean" suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.scalars.keys().chain(self.aggregates.keys()).chain(self.windows.keys()).map(String::as_str)
    }
}
