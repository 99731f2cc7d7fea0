//! Schemas found in files and how they merge: by column name (case-insensitive), keeping the
//! first file's order and adding new columns at the end, widening types so every file's values
//! fit (int → bigint → decimal/double → text; date → timestamp).

use tarn_catalog::SqlType;

/// One column of one file, with the reason for its type.
#[derive(Debug, Clone, PartialEq)]
pub struct FileColumn {
    pub name: String,
    pub data_type: SqlType,
    pub reason: String,
    /// For text dates and timestamps: the Hive pattern the values match.
    pub format: Option<String>,
}

/// A column of a merged schema: its type, where it came from, and every change it went through.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedColumn {
    pub name: String,
    pub data_type: SqlType,
    pub format: Option<String>,
    /// The reason of the file that set the type, then one line per widening.
    pub reasons: Vec<String>,
    /// Files that have the column.
    pub files: usize,
    /// The first file (relative key) that had it.
    pub first_seen: String,
}

/// The merged schema of a group of files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergedSchema {
    pub columns: Vec<MergedColumn>,
    pub files: usize,
}

impl MergedSchema {
    /// Adds one file's columns; `file` names it in reasons.
    pub fn merge_file(&mut self, file: &str, columns: &[FileColumn]) {
        self.files += 1;
        for column in columns {
            let key = column.name.to_lowercase();
            match self.columns.iter_mut().find(|c| c.name.to_lowercase() == key) {
                Some(existing) => {
                    existing.files += 1;
                    let widened = widen(&existing.data_type, &column.data_type);
                    if widened != existing.data_type {
                        existing.reasons.push(format!(
                            "widened {} → {widened}: {file} has {} ({})",
                            existing.data_type, column.data_type, column.reason
                        ));
                        existing.data_type = widened;
                    }
                    if existing.format != column.format {
                        existing.format = merge_formats(existing.format.take(), column.format.clone());
                    }
                }
                None => self.columns.push(MergedColumn {
                    name: column.name.clone(),
                    data_type: column.data_type.clone(),
                    format: column.format.clone(),
                    reasons: vec![column.reason.clone()],
                    files: 1,
                    first_seen: file.to_string(),
                }),
            }
        }
    }

    /// Merges another merged schema (a folder's) into this one.
    pub fn merge_schema(&mut self, other: &MergedSchema) {
        for column in &other.columns {
            let key = column.name.to_lowercase();
            match self.columns.iter_mut().find(|c| c.name.to_lowercase() == key) {
                Some(existing) => {
                    existing.files += column.files;
                    let widened = widen(&existing.data_type, &column.data_type);
                    if widened != existing.data_type {
                        existing.reasons.push(format!(
                            "widened {} → {widened}: {} has {}",
                            existing.data_type, column.first_seen, column.data_type
                        ));
                        existing.data_type = widened;
                    }
                    if existing.format != column.format {
                        existing.format = merge_formats(existing.format.take(), column.format.clone());
                    }
                }
                None => self.columns.push(column.clone()),
            }
        }
        self.files += other.files;
    }

    /// Names shared with `other` (case-insensitive).
    pub fn shared_names(&self, other: &MergedSchema) -> usize {
        self.columns.iter().filter(|c| other.columns.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name))).count()
    }

    /// Whether `other` describes the same kind of data: at least half of the smaller schema's
    /// columns appear in both (Glue's crawler uses a similar overlap test before it splits a
    /// folder into tables).
    pub fn is_compatible(&self, other: &MergedSchema) -> bool {
        let smaller = self.columns.len().min(other.columns.len());
        smaller == 0 || self.shared_names(other) * 2 >= smaller
    }
}

/// Both formats when two files spell one column's dates differently (scans try each).
fn merge_formats(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if a.split(',').any(|f| f == b) => Some(a),
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (a, b) => a.or(b),
    }
}

/// The narrowest type both `a` and `b` values fit in.
pub fn widen(a: &SqlType, b: &SqlType) -> SqlType {
    use SqlType::*;
    if a == b {
        return a.clone();
    }
    let int_width = |t: &SqlType| match t {
        TinyInt => Some(1),
        SmallInt => Some(2),
        Int => Some(3),
        BigInt => Some(4),
        _ => None,
    };
    let int_digits = |t: &SqlType| match t {
        TinyInt => 3,
        SmallInt => 5,
        Int => 10,
        _ => 19,
    };
    match (a, b) {
        (x, y) if int_width(x).is_some() && int_width(y).is_some() => {
            if int_width(x) >= int_width(y) {
                x.clone()
            } else {
                y.clone()
            }
        }
        (Real, Double) | (Double, Real) => Double,
        (Real | Double, y) | (y, Real | Double) if int_width(y).is_some() || matches!(y, Decimal(..)) => Double,
        (Decimal(p1, s1), Decimal(p2, s2)) => {
            let scale = (*s1).max(*s2);
            let integer = (*p1 as i16 - *s1 as i16).max(*p2 as i16 - *s2 as i16);
            let precision = integer + scale as i16;
            if precision > 38 {
                Double
            } else {
                Decimal(precision as u8, scale)
            }
        }
        (Decimal(p, s), y) | (y, Decimal(p, s)) if int_width(y).is_some() => {
            let integer = (*p as i16 - *s as i16).max(int_digits(y));
            if integer + *s as i16 > 38 {
                Double
            } else {
                Decimal((integer + *s as i16) as u8, *s)
            }
        }
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: SqlType) -> FileColumn {
        FileColumn { name: name.into(), data_type, reason: "sampled".into(), format: None }
    }

    #[test]
    fn widens_along_the_ladder() {
        use SqlType::*;
        assert_eq!(widen(&Int, &BigInt), BigInt);
        assert_eq!(widen(&BigInt, &Double), Double);
        assert_eq!(widen(&Int, &Decimal(10, 2)), Decimal(12, 2));
        assert_eq!(widen(&Decimal(5, 2), &Decimal(10, 0)), Decimal(12, 2));
        assert_eq!(widen(&Date, &Timestamp), Timestamp);
        assert_eq!(widen(&Int, &String), String);
        assert_eq!(widen(&Boolean, &Int), String);
        assert_eq!(widen(&Date, &Int), String);
    }

    #[test]
    fn merges_by_name_and_appends_new_columns() {
        let mut schema = MergedSchema::default();
        schema.merge_file("a.parquet", &[column("id", SqlType::Int), column("Name", SqlType::String)]);
        schema.merge_file(
            "b.parquet",
            &[column("name", SqlType::String), column("ID", SqlType::BigInt), column("note", SqlType::String)],
        );
        let names: Vec<_> = schema.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone(), c.files)).collect();
        assert_eq!(names, [("id", SqlType::BigInt, 2), ("Name", SqlType::String, 2), ("note", SqlType::String, 1)]);
        assert!(schema.columns[0].reasons[1].contains("widened int → bigint: b.parquet has bigint"));
        assert_eq!(schema.columns[2].first_seen, "b.parquet");
        let mut other = MergedSchema::default();
        other.merge_file(
            "c.parquet",
            &[column("x", SqlType::Int), column("y", SqlType::Int), column("z", SqlType::Int)],
        );
        assert!(!schema.is_compatible(&other));
    }
}
