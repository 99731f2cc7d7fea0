//! Small result tables of metadata statements (`SHOW`, `DESCRIBE`, `EXPLAIN`) as Arrow batches.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::session::QueryOutput;

/// One column of a metadata result.
pub(super) enum ResultColumn {
    Text(&'static str, Vec<Option<String>>),
    Boolean(&'static str, Vec<bool>),
}

/// A one-batch result from columns of equal length.
pub(super) fn rows(columns: Vec<ResultColumn>) -> Result<QueryOutput> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for column in columns {
        match column {
            ResultColumn::Text(name, values) => {
                fields.push(Field::new(name, DataType::Utf8, values.iter().any(Option::is_none)));
                arrays.push(Arc::new(StringArray::from(values)));
            }
            ResultColumn::Boolean(name, values) => {
                fields.push(Field::new(name, DataType::Boolean, false));
                arrays.push(Arc::new(BooleanArray::from(values)));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    Ok(QueryOutput::Rows { schema, batches: vec![batch] })
}

/// A result of one text column.
pub(super) fn text_column(name: &'static str, values: impl IntoIterator<Item = String>) -> Result<QueryOutput> {
    rows(vec![ResultColumn::Text(name, values.into_iter().map(Some).collect())])
}
