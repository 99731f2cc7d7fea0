//! `APPROX_DISTINCT(x)` (Athena) / Redshift's `APPROXIMATE COUNT(DISTINCT x)`: HyperLogLog
//! (Flajolet et al., 2007) with 2^12 registers — a standard error of 1.04/√4096 ≈ 1.6% — and
//! 64-bit hashes, so no large-range correction is needed. A group starts sparse: the exact set
//! of its hashes, counted exactly, until it holds more hashes than the registers take bytes;
//! then it switches to registers (linear counting while many registers are still empty, as
//! Heule et al. describe for HyperLogLog++). So small groups are exact and every group's memory
//! is bounded.
//!
//! State: one BINARY value per group — tag 0 and the sparse hashes (8 bytes each, little
//! endian) or tag 1 and the 4096 registers. Registers merge by maximum, sparse hashes by
//! insertion, so partial states from any number of workers merge to the same answer.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashSet;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::check_usage;
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};

/// Registers `approx_distinct`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_aggregate(Arc::new(ApproxDistinct));
}

/// `APPROX_DISTINCT(x)`: BIGINT, 0 for an empty group (Presto). `DISTINCT` changes nothing.
struct ApproxDistinct;

impl AggregateFunction for ApproxDistinct {
    fn name(&self) -> &str {
        "approx_distinct"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "approx_distinct(value)")?;
        Ok(Signature { arg_types: vec![super::typed(&args[0], DataType::Int32)], return_type: DataType::Int64 })
    }

    fn accumulator(&self, arg_types: &[DataType], _distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        check_usage(self.name(), arg_types, 1, 1, "approx_distinct(value)")?;
        Ok(Box::new(ApproxDistinctAccumulator::try_new(&arg_types[0])?))
    }
}

const PRECISION: u32 = 12;
const REGISTERS: usize = 1 << PRECISION;
/// A sparse group switches to registers beyond this many hashes (as many bytes as registers).
const SPARSE_LIMIT: usize = REGISTERS / 8;

enum Sketch {
    Sparse(HashSet<u64>),
    Dense(Box<[u8; REGISTERS]>),
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::Sparse(HashSet::new())
    }
}

impl Sketch {
    fn insert(&mut self, hash: u64) {
        match self {
            Sketch::Sparse(set) => {
                set.insert(hash);
                if set.len() > SPARSE_LIMIT {
                    let mut registers = Box::new([0u8; REGISTERS]);
                    for &h in set.iter() {
                        add_to_registers(&mut registers, h);
                    }
                    *self = Sketch::Dense(registers);
                }
            }
            Sketch::Dense(registers) => add_to_registers(registers, hash),
        }
    }

    fn merge_registers(&mut self, other: &[u8]) {
        if let Sketch::Sparse(set) = self {
            let mut registers = Box::new([0u8; REGISTERS]);
            for &h in set.iter() {
                add_to_registers(&mut registers, h);
            }
            *self = Sketch::Dense(registers);
        }
        if let Sketch::Dense(registers) = self {
            for (r, &o) in registers.iter_mut().zip(other) {
                *r = (*r).max(o);
            }
        }
    }

    fn estimate(&self) -> i64 {
        let registers = match self {
            Sketch::Sparse(set) => return set.len() as i64,
            Sketch::Dense(registers) => registers,
        };
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = registers.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
        let raw = alpha * m * m / sum;
        let zeros = registers.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        estimate.round() as i64
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Sketch::Sparse(set) => {
                out.push(0);
                for h in set {
                    out.extend_from_slice(&h.to_le_bytes());
                }
            }
            Sketch::Dense(registers) => {
                out.push(1);
                out.extend_from_slice(&registers[..]);
            }
        }
    }
}

/// The register of `hash` takes the position of its first 1-bit after the index bits.
fn add_to_registers(registers: &mut [u8; REGISTERS], hash: u64) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rank = ((hash << PRECISION) | (1 << (PRECISION - 1))).leading_zeros() as u8 + 1;
    registers[index] = registers[index].max(rank);
}

/// A 64-bit hash of a value's row-format bytes, identical in every worker: 8-byte words mixed
/// with multiply-xorshift steps and finished with MurmurHash3's `fmix64`, which spreads every
/// input bit over the output as HyperLogLog needs.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        // Invariant: `chunks_exact(8)` yields 8-byte slices.
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h ^ word.wrapping_mul(K)).rotate_left(27).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h ^= u64::from_le_bytes(tail).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

pub struct ApproxDistinctAccumulator {
    converter: RowConverter,
    sketches: Vec<Sketch>,
}

impl ApproxDistinctAccumulator {
    pub fn try_new(value_type: &DataType) -> Result<Self> {
        Ok(ApproxDistinctAccumulator {
            converter: RowConverter::new(vec![SortField::new(value_type.clone())])?,
            sketches: Vec::new(),
        })
    }

    fn grow(&mut self, total_groups: usize) {
        self.sketches.resize_with(total_groups.max(self.sketches.len()), Sketch::default);
    }
}

impl GroupsAccumulator for ApproxDistinctAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let values = &args[0];
        let rows = self.converter.convert_columns(std::slice::from_ref(values))?;
        for (i, &g) in group_indices.iter().enumerate() {
            if values.is_valid(i) {
                self.sketches[g].insert(hash_bytes(rows.row(i).as_ref()));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let mut buffer = Vec::new();
        let encoded: Vec<Vec<u8>> = std::mem::take(&mut self.sketches)
            .iter()
            .map(|s| {
                buffer.clear();
                s.encode(&mut buffer);
                buffer.clone()
            })
            .collect();
        Ok(vec![Arc::new(BinaryArray::from_iter_values(encoded))])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let states = states[0].as_binary::<i32>();
        for (i, &g) in group_indices.iter().enumerate() {
            if states.is_null(i) {
                continue;
            }
            let bytes = states.value(i);
            match bytes.split_first() {
                Some((0, hashes)) => {
                    for chunk in hashes.chunks_exact(8) {
                        // Invariant: `chunks_exact(8)` yields 8-byte slices.
                        self.sketches[g].insert(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
                    }
                }
                Some((1, registers)) if registers.len() == REGISTERS => self.sketches[g].merge_registers(registers),
                _ => return Err(EngineError::Internal("approx_distinct: malformed partial state".into())),
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let out: Int64Array = std::mem::take(&mut self.sketches).iter().map(|s| Some(s.estimate())).collect();
        Ok(Arc::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::Int64Type;

    fn count(acc: &mut ApproxDistinctAccumulator) -> i64 {
        acc.evaluate().unwrap().as_primitive::<Int64Type>().value(0)
    }

    #[test]
    fn small_groups_are_exact_and_large_ones_close() {
        let mut acc = ApproxDistinctAccumulator::try_new(&DataType::Int64).unwrap();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(2), None, Some(3)]));
        acc.update(&[values], &[0, 0, 0, 0, 0], 2).unwrap();
        let out = acc.evaluate().unwrap();
        assert_eq!(out.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), vec![Some(3), Some(0)]);

        let n = 200_000i64;
        let mut acc = ApproxDistinctAccumulator::try_new(&DataType::Int64).unwrap();
        let values: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|v| v % 100_000)));
        acc.update(&[values], &vec![0; n as usize], 1).unwrap();
        let estimate = count(&mut acc);
        assert!((estimate - 100_000).abs() < 5_000, "{estimate}");
    }

    #[test]
    fn partial_states_merge_like_one_pass() {
        let make = |range: std::ops::Range<i64>| {
            let mut acc = ApproxDistinctAccumulator::try_new(&DataType::Int64).unwrap();
            let values: ArrayRef = Arc::new(Int64Array::from_iter_values(range.clone()));
            acc.update(&[values], &vec![0; range.count()], 1).unwrap();
            acc
        };
        // Overlapping ranges: 0..30000 distinct in total; one small sparse part.
        let mut parts = [make(0..20_000), make(10_000..30_000), make(5..50)];
        let mut total = ApproxDistinctAccumulator::try_new(&DataType::Int64).unwrap();
        for part in &mut parts {
            total.merge_state(&part.state().unwrap(), &[0], 1).unwrap();
        }
        let mut one_pass = make(0..30_000);
        let merged = count(&mut total);
        assert_eq!(merged, count(&mut one_pass));
        assert!((merged - 30_000).abs() < 1_500, "{merged}");
    }
}
