//! Ranking window functions: positions of rows within their partition, by row (`row_number`),
//! by peer group (`rank`, `dense_rank`), as fractions (`percent_rank`, `cume_dist`) and as
//! buckets (`ntile`). They ignore the frame, as the SQL standard says.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Int64Type};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_arity, integer_arg};
use crate::expr::functions::window::{WindowFunction, WindowInput};
use crate::expr::functions::Signature;

/// The ranking functions.
pub(super) fn functions() -> Vec<Arc<dyn WindowFunction>> {
    vec![
        Arc::new(Ranking { name: "row_number", kind: RankKind::RowNumber }),
        Arc::new(Ranking { name: "rank", kind: RankKind::Rank }),
        Arc::new(Ranking { name: "dense_rank", kind: RankKind::DenseRank }),
        Arc::new(Ranking { name: "percent_rank", kind: RankKind::PercentRank }),
        Arc::new(Ranking { name: "cume_dist", kind: RankKind::CumeDist }),
        Arc::new(Ntile),
    ]
}

#[derive(Clone, Copy)]
enum RankKind {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
}

/// The argument-less ranking functions.
struct Ranking {
    name: &'static str,
    kind: RankKind,
}

impl WindowFunction for Ranking {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 0, 0)?;
        let return_type = match self.kind {
            RankKind::PercentRank | RankKind::CumeDist => DataType::Float64,
            _ => DataType::Int64,
        };
        Ok(Signature { arg_types: vec![], return_type })
    }

    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        let n = input.num_rows();
        match self.kind {
            RankKind::RowNumber => {
                let mut out = Vec::with_capacity(n);
                for p in input.partitions {
                    out.extend(p.clone().map(|i| (i - p.start + 1) as i64));
                }
                Ok(Arc::new(Int64Array::from(out)))
            }
            RankKind::Rank => {
                let mut out = Vec::with_capacity(n);
                for p in input.partitions {
                    out.extend(p.clone().map(|i| (input.peer_start[i] - p.start + 1) as i64));
                }
                Ok(Arc::new(Int64Array::from(out)))
            }
            RankKind::DenseRank => {
                let mut out = Vec::with_capacity(n);
                for p in input.partitions {
                    let mut rank = 0i64;
                    for i in p.clone() {
                        if input.peer_start[i] == i {
                            rank += 1;
                        }
                        out.push(rank);
                    }
                }
                Ok(Arc::new(Int64Array::from(out)))
            }
            RankKind::PercentRank => {
                let mut out = Vec::with_capacity(n);
                for p in input.partitions {
                    let rows = p.len();
                    out.extend(p.clone().map(|i| {
                        if rows <= 1 {
                            0.0
                        } else {
                            (input.peer_start[i] - p.start) as f64 / (rows - 1) as f64
                        }
                    }));
                }
                Ok(Arc::new(Float64Array::from(out)))
            }
            RankKind::CumeDist => {
                let mut out = Vec::with_capacity(n);
                for p in input.partitions {
                    let rows = p.len() as f64;
                    out.extend(p.clone().map(|i| (input.peer_end[i] - p.start) as f64 / rows));
                }
                Ok(Arc::new(Float64Array::from(out)))
            }
        }
    }
}

/// `NTILE(buckets)`: splits the partition into `buckets` groups as equal as possible, the first
/// `rows % buckets` of them one row larger (PostgreSQL's rule).
struct Ntile;

impl WindowFunction for Ntile {
    fn name(&self) -> &str {
        "ntile"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, 1)?;
        Ok(Signature { arg_types: vec![integer_arg(self.name(), 0, &args[0])?], return_type: DataType::Int64 })
    }

    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        let buckets = input.args[0].as_primitive::<Int64Type>();
        let mut out = Vec::with_capacity(input.num_rows());
        for p in input.partitions {
            let rows = p.len() as i64;
            for i in p.clone() {
                if buckets.is_null(i) {
                    out.push(None);
                    continue;
                }
                let k = buckets.value(i);
                if k <= 0 {
                    return Err(EngineError::execution(format!(
                        "argument of ntile must be greater than zero, got {k}"
                    )));
                }
                out.push(Some(ntile_bucket((i - p.start) as i64, rows, k)));
            }
        }
        Ok(Arc::new(Int64Array::from(out)))
    }
}

/// The 1-based bucket of the row at `position` of `rows` split into `buckets`.
fn ntile_bucket(position: i64, rows: i64, buckets: i64) -> i64 {
    let size = rows / buckets;
    let larger = rows % buckets;
    let in_larger = larger * (size + 1);
    if position < in_larger {
        position / (size + 1) + 1
    } else {
        (position - in_larger) / size + larger + 1
    }
}

#[cfg(test)]
mod tests {
    use super::ntile_bucket;

    #[test]
    fn ntile_gives_the_first_buckets_the_extra_rows() {
        let buckets: Vec<i64> = (0..10).map(|p| ntile_bucket(p, 10, 4)).collect();
        assert_eq!(buckets, [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
        let more_buckets_than_rows: Vec<i64> = (0..3).map(|p| ntile_bucket(p, 3, 5)).collect();
        assert_eq!(more_buckets_than_rows, [1, 2, 3]);
    }
}
