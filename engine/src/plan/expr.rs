//! Logical expressions. Columns are bound by position in the input's output schema (the binder
//! resolves names once, so later stages never re-resolve or hit ambiguity). Every expression is
//! fully typed: the binder inserts the casts its coercion rules require.

use std::fmt;

use arrow::datatypes::{DataType, Schema};

use crate::plan::scalar::ScalarValue;
use crate::plan::subquery::{Subquery, SubqueryKind};

/// A typed, bound scalar expression over one input row.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The input column at this position.
    Column(usize),
    Literal(ScalarValue),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Not(Box<Expr>),
    Negative(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `CAST(expr AS to)`; `try_cast` yields NULL instead of an error on a bad value.
    Cast {
        expr: Box<Expr>,
        to: DataType,
        try_cast: bool,
    },
    /// Searched `CASE` (operand `None`) or simple `CASE operand WHEN v THEN ...`.
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        else_expr: Option<Box<Expr>>,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    /// A scalar function from the registry, by its registry name, with its resolved return type.
    Function {
        name: String,
        args: Vec<Expr>,
        return_type: DataType,
    },
    /// A column of the enclosing query's input, read from inside a correlated subquery's plan.
    OuterColumn {
        index: usize,
        data_type: DataType,
    },
    /// A subquery; replaced by a join in the `decorrelation` rule before any other rule runs.
    Subquery(Box<Subquery>),
}

/// Binary operators after binding (`BETWEEN` becomes two comparisons, `||` is `StringConcat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    StringConcat,
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq)
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::StringConcat => "||",
        }
    }
}

/// An aggregate call in an `Aggregate` node: `name(DISTINCT args) FILTER (WHERE filter)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// Registry name of the aggregate function (`count`, `sum`, ...). `COUNT(*)` is `count` with
    /// no arguments.
    pub name: String,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Box<Expr>>,
    pub return_type: DataType,
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortExpr {
    pub expr: Expr,
    pub ascending: bool,
    /// Resolved default: NULLs sort as larger than any value (PostgreSQL/Redshift/DuckDB), so
    /// `ASC` puts them last and `DESC` first unless `NULLS FIRST|LAST` says otherwise.
    pub nulls_first: bool,
}

impl Expr {
    pub fn column(index: usize) -> Expr {
        Expr::Column(index)
    }

    pub fn lit(value: ScalarValue) -> Expr {
        Expr::Literal(value)
    }

    pub fn binary(left: Expr, op: BinaryOp, right: Expr) -> Expr {
        Expr::Binary { op, left: Box::new(left), right: Box::new(right) }
    }

    pub fn and(self, other: Expr) -> Expr {
        Expr::binary(self, BinaryOp::And, other)
    }

    /// The expression's type over `input`.
    pub fn data_type(&self, input: &Schema) -> DataType {
        match self {
            Expr::Column(i) => input.field(*i).data_type().clone(),
            Expr::Literal(v) => v.data_type(),
            Expr::Binary { op, left, right } => {
                crate::plan::types::binary_result_type(*op, &left.data_type(input), &right.data_type(input))
            }
            Expr::Not(_) | Expr::IsNull { .. } | Expr::InList { .. } | Expr::Like { .. } => DataType::Boolean,
            Expr::Negative(e) => e.data_type(input),
            Expr::Cast { to, .. } => to.clone(),
            Expr::Case { branches, else_expr, .. } => branches
                .first()
                .map(|(_, then)| then.data_type(input))
                .or_else(|| else_expr.as_ref().map(|e| e.data_type(input)))
                .unwrap_or(DataType::Null),
            Expr::Function { return_type, .. } => return_type.clone(),
            Expr::OuterColumn { data_type, .. } => data_type.clone(),
            Expr::Subquery(sub) => match sub.kind {
                SubqueryKind::Scalar => sub.plan.schema().field(0).data_type().clone(),
                SubqueryKind::Exists { .. } | SubqueryKind::In { .. } => DataType::Boolean,
            },
        }
    }

    /// Direct children, in evaluation order.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_) | Expr::Literal(_) | Expr::OuterColumn { .. } => vec![],
            Expr::Subquery(sub) => match &sub.kind {
                SubqueryKind::In { expr, .. } => vec![expr],
                SubqueryKind::Scalar | SubqueryKind::Exists { .. } => vec![],
            },
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::Not(e) | Expr::Negative(e) | Expr::IsNull { expr: e, .. } | Expr::Cast { expr: e, .. } => vec![e],
            Expr::Case { operand, branches, else_expr } => {
                let mut out: Vec<&Expr> = operand.iter().map(|b| b.as_ref()).collect();
                for (w, t) in branches {
                    out.push(w);
                    out.push(t);
                }
                out.extend(else_expr.iter().map(|b| b.as_ref()));
                out
            }
            Expr::InList { expr, list, .. } => std::iter::once(expr.as_ref()).chain(list.iter()).collect(),
            Expr::Like { expr, pattern, .. } => vec![expr, pattern],
            Expr::Function { args, .. } => args.iter().collect(),
        }
    }

    /// Rebuilds the expression bottom-up with `f` applied to every node (children first).
    pub fn transform(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        let rebuilt = match self {
            Expr::Column(_) | Expr::Literal(_) | Expr::OuterColumn { .. } => self,
            Expr::Subquery(mut sub) => {
                if let SubqueryKind::In { expr, negated } = sub.kind {
                    sub.kind = SubqueryKind::In { expr: Box::new(expr.transform(f)), negated };
                }
                Expr::Subquery(sub)
            }
            Expr::Binary { op, left, right } => {
                Expr::Binary { op, left: Box::new(left.transform(f)), right: Box::new(right.transform(f)) }
            }
            Expr::Not(e) => Expr::Not(Box::new(e.transform(f))),
            Expr::Negative(e) => Expr::Negative(Box::new(e.transform(f))),
            Expr::IsNull { expr, negated } => Expr::IsNull { expr: Box::new(expr.transform(f)), negated },
            Expr::Cast { expr, to, try_cast } => Expr::Cast { expr: Box::new(expr.transform(f)), to, try_cast },
            Expr::Case { operand, branches, else_expr } => Expr::Case {
                operand: operand.map(|e| Box::new(e.transform(f))),
                branches: branches.into_iter().map(|(w, t)| (w.transform(f), t.transform(f))).collect(),
                else_expr: else_expr.map(|e| Box::new(e.transform(f))),
            },
            Expr::InList { expr, list, negated } => Expr::InList {
                expr: Box::new(expr.transform(f)),
                list: list.into_iter().map(|e| e.transform(f)).collect(),
                negated,
            },
            Expr::Like { expr, pattern, negated, case_insensitive } => Expr::Like {
                expr: Box::new(expr.transform(f)),
                pattern: Box::new(pattern.transform(f)),
                negated,
                case_insensitive,
            },
            Expr::Function { name, args, return_type } => {
                Expr::Function { name, args: args.into_iter().map(|e| e.transform(f)).collect(), return_type }
            }
        };
        f(rebuilt)
    }

    /// Adds every referenced input column to `out`.
    pub fn collect_columns(&self, out: &mut Vec<usize>) {
        if let Expr::Column(i) = self {
            if !out.contains(i) {
                out.push(*i);
            }
        }
        for child in self.children() {
            child.collect_columns(out);
        }
    }

    /// Renumbers column references through `map` (old index → new index).
    pub fn remap_columns(self, map: &dyn Fn(usize) -> usize) -> Expr {
        self.transform(&mut |e| match e {
            Expr::Column(i) => Expr::Column(map(i)),
            other => other,
        })
    }

    /// Splits a predicate into its `AND`ed conjuncts.
    pub fn split_conjunction(self) -> Vec<Expr> {
        match self {
            Expr::Binary { op: BinaryOp::And, left, right } => {
                let mut out = left.split_conjunction();
                out.extend(right.split_conjunction());
                out
            }
            other => vec![other],
        }
    }

    /// Joins conjuncts with `AND`; `None` when there are none.
    pub fn conjunction(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs.into_iter().reduce(Expr::and)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(i) => write!(f, "#{i}"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Negative(e) => write!(f, "-{e}"),
            Expr::IsNull { expr, negated } => write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" }),
            Expr::Cast { expr, to, try_cast } => {
                write!(f, "{}({expr} AS {to})", if *try_cast { "TRY_CAST" } else { "CAST" })
            }
            Expr::Case { operand, branches, else_expr } => {
                write!(f, "CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in branches {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_expr {
                    write!(f, " ELSE {e}")?;
                }
                write!(f, " END")
            }
            Expr::InList { expr, list, negated } => {
                let items: Vec<String> = list.iter().map(|e| e.to_string()).collect();
                write!(f, "{expr} {}IN ({})", if *negated { "NOT " } else { "" }, items.join(", "))
            }
            Expr::Like { expr, pattern, negated, case_insensitive } => write!(
                f,
                "{expr} {}{} {pattern}",
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" }
            ),
            Expr::Function { name, args, .. } => {
                let items: Vec<String> = args.iter().map(|e| e.to_string()).collect();
                write!(f, "{name}({})", items.join(", "))
            }
            Expr::OuterColumn { index, .. } => write!(f, "outer#{index}"),
            Expr::Subquery(sub) => write!(f, "{sub}"),
        }
    }
}

impl fmt::Display for AggregateExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.args.iter().map(|e| e.to_string()).collect();
        let args = if items.is_empty() && self.name == "count" { "*".to_string() } else { items.join(", ") };
        write!(f, "{}({}{args})", self.name, if self.distinct { "DISTINCT " } else { "" })?;
        if let Some(filter) = &self.filter {
            write!(f, " FILTER (WHERE {filter})")?;
        }
        Ok(())
    }
}
