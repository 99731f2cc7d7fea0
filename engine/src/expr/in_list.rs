//! `expr [NOT] IN (list)` with SQL NULL semantics: `x IN (1, NULL)` is NULL when `x` is not
//! found, and a NULL `x` gives NULL.
//!
//! A list of constants becomes a hash set of Arrow row-format keys, probed once per row; a list
//! with expressions is a three-valued `OR` of equalities.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::kernels::{boolean, cmp};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashSet;

use crate::error::Result;
use crate::expr::cast::cast_scalar;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::{Expr, ScalarValue};

/// The constants of an `IN` list, in row format for hashing.
struct LiteralSet {
    converter: RowConverter,
    keys: HashSet<Box<[u8]>>,
    has_null: bool,
}

/// `expr [NOT] IN (list)`.
pub struct InListExpr {
    expr: PhysicalExprRef,
    list: Vec<PhysicalExprRef>,
    set: Option<LiteralSet>,
    negated: bool,
}

impl fmt::Debug for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InListExpr")
            .field("expr", &self.expr)
            .field("list", &self.list)
            .field("hashed", &self.set.is_some())
            .field("negated", &self.negated)
            .finish()
    }
}

impl InListExpr {
    /// `items` pairs each logical list element with its physical form; when all are literals the
    /// list is hashed.
    pub fn try_new(expr: PhysicalExprRef, items: Vec<(&Expr, PhysicalExprRef)>, negated: bool) -> Result<InListExpr> {
        let literals: Option<Vec<&ScalarValue>> = items
            .iter()
            .map(|(e, _)| match e {
                Expr::Literal(v) => Some(v),
                _ => None,
            })
            .collect();
        let set = match literals {
            Some(values) if expr.data_type() != &DataType::Null => {
                Some(LiteralSet::try_new(expr.data_type(), &values)?)
            }
            _ => None,
        };
        Ok(InListExpr { expr, list: items.into_iter().map(|(_, p)| p).collect(), set, negated })
    }
}

impl LiteralSet {
    fn try_new(data_type: &DataType, values: &[&ScalarValue]) -> Result<LiteralSet> {
        let converter = RowConverter::new(vec![SortField::new(data_type.clone())])?;
        let mut has_null = false;
        let mut typed = Vec::with_capacity(values.len());
        for v in values {
            if v.is_null() {
                has_null = true;
            } else {
                typed.push(cast_scalar(v, data_type, false)?.to_array(1));
            }
        }
        let mut keys = HashSet::with_capacity(typed.len());
        for array in typed {
            let rows = converter.convert_columns(&[array])?;
            keys.insert(Box::<[u8]>::from(rows.row(0).as_ref()));
        }
        Ok(LiteralSet { converter, keys, has_null })
    }

    fn probe(&self, values: &ArrayRef) -> Result<BooleanArray> {
        let rows = self.converter.convert_columns(std::slice::from_ref(values))?;
        Ok((0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    None
                } else if self.keys.contains(rows.row(i).as_ref()) {
                    Some(true)
                } else if self.has_null {
                    None
                } else {
                    Some(false)
                }
            })
            .collect())
    }
}

impl fmt::Display for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.list.iter().map(|e| e.to_string()).collect();
        write!(f, "{} {}IN ({})", self.expr, if self.negated { "NOT " } else { "" }, items.join(", "))
    }
}

impl PhysicalExpr for InListExpr {
    fn data_type(&self) -> &DataType {
        &DataType::Boolean
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let num_rows = batch.num_rows();
        let values = self.expr.evaluate_to_array(batch)?;
        let found = match &self.set {
            Some(set) => set.probe(&values)?,
            None => {
                let mut found = BooleanArray::from(vec![false; num_rows]);
                for item in &self.list {
                    let item = item.evaluate_to_array(batch)?;
                    let eq = if values.data_type() == &DataType::Null || item.data_type() == &DataType::Null {
                        BooleanArray::new_null(num_rows)
                    } else {
                        cmp::eq(&values, &item)?
                    };
                    found = boolean::or_kleene(&found, &eq)?;
                }
                found
            }
        };
        let out = if self.negated { boolean::not(&found)? } else { found };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
