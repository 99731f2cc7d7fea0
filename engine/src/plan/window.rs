//! Window calls of a `Window` node: `function(args) OVER (PARTITION BY ... ORDER BY ... frame)`.
//! Expressions are bound to the `Window` node's input, like every other expression of a plan.

use std::fmt;

use arrow::datatypes::DataType;

use crate::plan::expr::{Expr, SortExpr};

/// One window call. `name` is a window function of the registry (`row_number`, `lag`, ...) or an
/// aggregate (`sum`, `count`, ...) evaluated over the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowExpr {
    pub name: String,
    pub args: Vec<Expr>,
    /// `COUNT(DISTINCT x) OVER (...)`: only aggregates take it.
    pub distinct: bool,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortExpr>,
    pub frame: WindowFrame,
    pub return_type: DataType,
}

/// `ROWS` counts rows from the current one; `RANGE` compares values of the single `ORDER BY` key
/// (and `CURRENT ROW` means the current row's peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    Rows,
    Range,
}

/// One end of a frame. Offsets are non-negative: `Preceding(2)` is two rows (or two key units)
/// before the current row.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(FrameOffset),
    CurrentRow,
    Following(FrameOffset),
    UnboundedFollowing,
}

/// A frame offset: a row count for `ROWS`, a distance in the order key's units for `RANGE`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameOffset {
    Rows(u64),
    Value(f64),
}

/// The rows of the partition a window call sees from each row.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFrame {
    pub units: FrameUnits,
    pub start: FrameBound,
    pub end: FrameBound,
}

impl WindowFrame {
    /// The SQL default: with `ORDER BY`, from the partition start to the current row's last peer
    /// (`RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`); without, the whole partition (every
    /// row is a peer of every other, so the same `RANGE` frame covers it).
    pub fn default_frame() -> WindowFrame {
        WindowFrame { units: FrameUnits::Range, start: FrameBound::UnboundedPreceding, end: FrameBound::CurrentRow }
    }

    /// `ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING`: every row of the partition.
    pub fn whole_partition() -> WindowFrame {
        WindowFrame {
            units: FrameUnits::Rows,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::UnboundedFollowing,
        }
    }
}

impl fmt::Display for FrameOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameOffset::Rows(n) => write!(f, "{n}"),
            FrameOffset::Value(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for FrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => write!(f, "UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => write!(f, "CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => write!(f, "UNBOUNDED FOLLOWING"),
        }
    }
}

impl fmt::Display for WindowFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = match self.units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
        };
        write!(f, "{units} BETWEEN {} AND {}", self.start, self.end)
    }
}

impl fmt::Display for WindowExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(|e| e.to_string()).collect();
        let args = if args.is_empty() && self.name == "count" { "*".to_string() } else { args.join(", ") };
        write!(f, "{}({}{args}) OVER (", self.name, if self.distinct { "DISTINCT " } else { "" })?;
        let mut parts = Vec::new();
        if !self.partition_by.is_empty() {
            let keys: Vec<String> = self.partition_by.iter().map(|e| e.to_string()).collect();
            parts.push(format!("PARTITION BY {}", keys.join(", ")));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|k| {
                    format!(
                        "{} {} NULLS {}",
                        k.expr,
                        if k.ascending { "ASC" } else { "DESC" },
                        if k.nulls_first { "FIRST" } else { "LAST" }
                    )
                })
                .collect();
            parts.push(format!("ORDER BY {}", keys.join(", ")));
        }
        parts.push(self.frame.to_string());
        write!(f, "{})", parts.join(" "))
    }
}

impl WindowExpr {
    /// Every expression the call reads: arguments, partition keys, order keys.
    pub fn expressions(&self) -> Vec<&Expr> {
        self.args.iter().chain(&self.partition_by).chain(self.order_by.iter().map(|k| &k.expr)).collect()
    }

    /// Rebuilds the call with `f` applied to every expression it holds.
    pub fn map_expressions(self, f: &mut dyn FnMut(Expr) -> Expr) -> WindowExpr {
        // Invariant: the wrapped closure never fails.
        self.try_map_expressions(&mut |e| Ok(f(e))).expect("an infallible rewrite")
    }

    /// `map_expressions` with a rewrite that may fail.
    pub fn try_map_expressions(
        mut self,
        f: &mut dyn FnMut(Expr) -> crate::error::Result<Expr>,
    ) -> crate::error::Result<WindowExpr> {
        self.args = self.args.into_iter().map(&mut *f).collect::<crate::error::Result<_>>()?;
        self.partition_by = self.partition_by.into_iter().map(&mut *f).collect::<crate::error::Result<_>>()?;
        for key in &mut self.order_by {
            key.expr = f(std::mem::replace(&mut key.expr, Expr::Column(0)))?;
        }
        Ok(self)
    }
}
