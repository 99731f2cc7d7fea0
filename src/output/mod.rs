//! Printing results: one module per `--format`, all sharing the cell text of [`value`].

mod csv;
mod json;
mod markdown;
mod table;
pub mod value;

use std::io::Write;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;

use value::{ColumnCells, ValueKind};

/// The `--format` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people, numbers right-aligned, with a `(N rows)` footer.
    Table,
    /// RFC 4180 CSV with one header row: what scripts and tests read.
    Csv,
    /// JSON Lines: one object per row, numbers and booleans typed.
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

impl OutputFormat {
    /// Status messages of DDL (`Table created.`) and timing lines are for people: the machine
    /// formats keep stdout to rows only, so a script can pipe it straight into a parser.
    pub fn is_for_people(self) -> bool {
        matches!(self, OutputFormat::Table | OutputFormat::Markdown)
    }

    /// Writes one statement's rows.
    pub fn write_rows(self, out: &mut dyn Write, schema: &Schema, batches: &[RecordBatch]) -> anyhow::Result<()> {
        let rows = RowsText::new(schema, batches)?;
        match self {
            OutputFormat::Table => table::write(out, &rows)?,
            OutputFormat::Csv => csv::write(out, &rows)?,
            OutputFormat::Json => json::write(out, &rows)?,
            OutputFormat::Markdown => markdown::write(out, &rows)?,
        }
        Ok(())
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    /// The REPL's `\format NAME` uses the same names as `--format`.
    fn from_str(name: &str) -> Result<Self, String> {
        <OutputFormat as clap::ValueEnum>::from_str(name, true)
            .map_err(|_| format!("unknown format '{name}' (choose table, csv, json or markdown)"))
    }
}

/// A result as text: column names, how each column's values behave, and every cell (`None` for
/// NULL). Results are already in memory as batches, and the table format needs all widths anyway.
pub struct RowsText {
    pub names: Vec<String>,
    pub kinds: Vec<ValueKind>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl RowsText {
    pub fn new(schema: &Schema, batches: &[RecordBatch]) -> anyhow::Result<RowsText> {
        let names = schema.fields().iter().map(|field| field.name().clone()).collect();
        let kinds = schema.fields().iter().map(|field| ValueKind::of(field.data_type())).collect();
        let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for batch in batches {
            let columns = batch.columns().iter().map(ColumnCells::new).collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(columns.iter().map(|column| column.text(row)).collect::<Result<Vec<_>, _>>()?);
            }
        }
        Ok(RowsText { names, kinds, rows })
    }
}

#[cfg(test)]
pub(crate) mod test_rows {
    //! A small result with the awkward values every format must handle.

    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use arrow::record_batch::RecordBatch;

    pub fn sample() -> (Arc<Schema>, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("amount", DataType::Decimal128(10, 2), true),
            Field::new("refunded", DataType::Boolean, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(22), None])),
            Arc::new(StringArray::from(vec![Some("plain"), Some("a, \"quoted\" | line\nbreak"), Some("서울 ☕")])),
            Arc::new(Decimal128Array::from(vec![Some(1250), None, Some(-5)]).with_precision_and_scale(10, 2).unwrap()),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_556_669_591_000_000),
                Some(1_556_669_591_783_000),
                None,
            ])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        (schema, vec![batch])
    }

    pub fn render(format: super::OutputFormat) -> String {
        let (schema, batches) = sample();
        let mut out = Vec::new();
        format.write_rows(&mut out, &schema, &batches).unwrap();
        String::from_utf8(out).unwrap()
    }
}
