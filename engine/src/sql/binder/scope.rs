//! The columns visible at one point of a query: which relation (table, alias, derived table)
//! each came from, its name, position and type. Resolving a name here is where "unknown" and
//! "ambiguous" are told apart and where a misspelling gets its "did you mean".

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sqlparser::ast::Ident;

use crate::error::Result;
use crate::sql::binder::plan_err;

/// The name a relation in `FROM` is known by: its alias, or the table's name (with its database,
/// so `db.t.c` resolves too).
#[derive(Debug, Clone, PartialEq)]
pub struct RelationName {
    pub database: Option<String>,
    pub name: String,
}

impl RelationName {
    pub fn new(name: impl Into<String>) -> RelationName {
        RelationName { database: None, name: name.into() }
    }

    fn matches(&self, qualifier: &[Ident]) -> bool {
        match qualifier {
            [rel] => eq_ignore_case(&self.name, &rel.value),
            [db, rel] => {
                eq_ignore_case(&self.name, &rel.value)
                    && self.database.as_deref().is_some_and(|d| eq_ignore_case(d, &db.value))
            }
            _ => false,
        }
    }
}

/// One visible column; its position in the scope is its position in the input plan's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    pub relation: Option<RelationName>,
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The right-hand copy of a `JOIN ... USING` column: reachable only when qualified and left out
    /// of `*`, so `USING (k)` shows one `k` as the SQL standard says.
    pub using_duplicate: bool,
}

/// The ordered columns of a plan as names resolve against them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// The columns of `schema`, all qualified by `relation`.
    pub fn from_schema(relation: Option<RelationName>, schema: &Schema) -> Scope {
        let columns = schema
            .fields()
            .iter()
            .map(|f| ScopeColumn {
                relation: relation.clone(),
                name: f.name().clone(),
                data_type: f.data_type().clone(),
                nullable: f.is_nullable(),
                using_duplicate: false,
            })
            .collect();
        Scope { columns }
    }

    /// The scope of a join's output: left columns then right columns.
    pub fn join(left: Scope, right: Scope) -> Scope {
        let mut columns = left.columns;
        columns.extend(right.columns);
        Scope { columns }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The Arrow schema of the plan this scope describes (unqualified names).
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name.clone(), c.data_type.clone(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// Resolves `[db.][relation.]column` to a position. Errors distinguish an unknown column (with a
    /// suggestion), an unknown qualifier and an ambiguous name.
    pub fn resolve(&self, parts: &[Ident]) -> Result<usize> {
        // Invariant: callers pass at least one identifier (sqlparser never yields empty names).
        let (column, qualifier) = parts.split_last().expect("a column name has at least one part");
        let full_name = parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".");
        let span = parts[0].span.union(&column.span);
        let candidates: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| eq_ignore_case(&c.name, &column.value))
            .filter(|(_, c)| match qualifier {
                [] => !c.using_duplicate,
                q => c.relation.as_ref().is_some_and(|r| r.matches(q)),
            })
            .map(|(i, _)| i)
            .collect();
        match candidates.as_slice() {
            [one] => Ok(*one),
            [] => {
                if !qualifier.is_empty()
                    && !self.columns.iter().any(|c| c.relation.as_ref().is_some_and(|r| r.matches(qualifier)))
                {
                    let rel = qualifier.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".");
                    let relations = self.relation_names();
                    let hint = closest_match(&rel, relations.iter().map(String::as_str))
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default();
                    return Err(plan_err(
                        format!("column '{full_name}' does not exist: no table or alias '{rel}' in FROM{hint}"),
                        span,
                    ));
                }
                let names: Vec<String> = self
                    .columns
                    .iter()
                    .filter(|c| match qualifier {
                        [] => !c.using_duplicate,
                        q => c.relation.as_ref().is_some_and(|r| r.matches(q)),
                    })
                    .map(|c| c.name.clone())
                    .collect();
                let hint = closest_match(&column.value, names.iter().map(String::as_str))
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                Err(plan_err(format!("column '{full_name}' does not exist{hint}"), span))
            }
            many => {
                let sources: Vec<String> = many
                    .iter()
                    .map(|&i| {
                        let c = &self.columns[i];
                        match &c.relation {
                            Some(r) => format!("{}.{}", r.name, c.name),
                            None => c.name.clone(),
                        }
                    })
                    .collect();
                Err(plan_err(
                    format!("column reference '{full_name}' is ambiguous: it could be {}", sources.join(" or ")),
                    span,
                ))
            }
        }
    }

    /// Whether some column answers to `[db.][relation.]column` (one or, ambiguously, several).
    pub fn has_column(&self, parts: &[Ident]) -> bool {
        let Some((column, qualifier)) = parts.split_last() else { return false };
        self.columns.iter().any(|c| {
            eq_ignore_case(&c.name, &column.value)
                && match qualifier {
                    [] => !c.using_duplicate,
                    q => c.relation.as_ref().is_some_and(|r| r.matches(q)),
                }
        })
    }

    /// Positions `*` expands to: every column except `USING` duplicates.
    pub fn wildcard(&self) -> Vec<usize> {
        (0..self.columns.len()).filter(|&i| !self.columns[i].using_duplicate).collect()
    }

    /// Positions `rel.*` expands to; `None` when no relation has that name.
    pub fn qualified_wildcard(&self, qualifier: &[Ident]) -> Option<Vec<usize>> {
        let out: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].relation.as_ref().is_some_and(|r| r.matches(qualifier)))
            .collect();
        (!out.is_empty()).then_some(out)
    }

    /// Distinct relation names in scope, in order, for suggestions.
    pub fn relation_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.columns {
            if let Some(r) = &c.relation {
                if !out.contains(&r.name) {
                    out.push(r.name.clone());
                }
            }
        }
        out
    }
}

/// SQL names are case-insensitive in every dialect Tarn speaks (the catalog stores them lower-case).
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a plausible typo
/// (at most a third of the name's length, and at least 1, edits away).
pub(crate) fn closest_match<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting an adjacent transposition as one edit (optimal string alignment), so
/// the commonest typo, two swapped letters (`salse` for `sales`), is one edit away.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_use_edit_distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("salse", "sales"), 1);
        assert_eq!(closest_match("salse", ["sales", "raw_data"].into_iter()), Some("sales"));
        assert_eq!(closest_match("amout", ["amount", "id", "name"].into_iter()), Some("amount"));
        assert_eq!(closest_match("zzz", ["amount", "id"].into_iter()), None);
    }
}
