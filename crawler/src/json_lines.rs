//! Newline-delimited JSON: one object per line; columns are the objects' top-level keys in
//! order of first appearance, typed by the same ladder as CSV (JSON strings can only become
//! dates, timestamps or text; nested objects and arrays are kept as JSON text).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::infer::{format_count, ColumnInference};
use crate::sample::TextSample;
use crate::schema::FileColumn;

/// What sampling learned about one JSON-lines file.
#[derive(Debug, Clone)]
pub struct JsonFile {
    pub columns: Vec<FileColumn>,
    pub rows: u64,
    pub rows_exact: bool,
    pub notes: Vec<String>,
}

/// Whether the text starts with a line holding one JSON object.
pub fn looks_like_json_lines(text: &[u8]) -> bool {
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    if text.get(start) != Some(&b'{') {
        return false;
    }
    let line = text[start..].split(|&b| b == b'\n').next().unwrap_or_default();
    matches!(serde_json::from_slice::<Value>(line), Ok(Value::Object(_)))
}

/// Analyses a sampled JSON-lines file; `Err` is the reason it is not usable.
pub fn analyse(sample: &TextSample, sample_rows: usize, size: u64) -> Result<JsonFile, String> {
    let mut names: Vec<String> = Vec::new();
    let mut inference: Vec<ColumnInference> = Vec::new();
    let mut rows = 0usize;
    for (index, line) in sample.head.split(|&b| b == b'\n').enumerate() {
        if rows >= sample_rows {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let object = match serde_json::from_slice::<OrderedObject>(line) {
            Ok(object) => object.0,
            Err(e) => return Err(format!("JSON lines: line {} is not a JSON object: {e}", index + 1)),
        };
        rows += 1;
        for (key, value) in object {
            let at = match names.iter().position(|n| *n == key) {
                Some(at) => at,
                None => {
                    names.push(key);
                    let mut column = ColumnInference::default();
                    // Rows before this one lacked the key: they are nulls of it.
                    for _ in 1..rows {
                        column.observe("");
                    }
                    inference.push(column);
                    inference.len() - 1
                }
            };
            match &value {
                Value::Null => inference[at].observe(""),
                Value::Bool(b) => inference[at].observe(if *b { "true" } else { "false" }),
                Value::Number(n) => inference[at].observe(&n.to_string()),
                Value::String(s) => inference[at].observe_text(s),
                nested => inference[at].observe_text(&nested.to_string()),
            }
        }
    }
    if rows == 0 {
        return Err("JSON lines: no objects".into());
    }
    let columns = names
        .into_iter()
        .zip(&inference)
        .map(|(name, column)| {
            let inferred = column.conclude();
            FileColumn { name, data_type: inferred.data_type, reason: inferred.reason, format: inferred.format }
        })
        .collect();
    let (total, exact) = if sample.whole && rows < sample_rows {
        (rows as u64, true)
    } else {
        let row_bytes = sample.head.len() as f64 / rows as f64;
        ((size as f64 * sample.expansion / row_bytes).round() as u64, false)
    };
    Ok(JsonFile {
        columns,
        rows: total,
        rows_exact: exact,
        notes: vec![format!("JSON lines: {} objects sampled", format_count(rows as u64))],
    })
}

/// A JSON object with its keys in file order (serde_json's `Map` sorts them), so columns come
/// out in the order the data has them.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = OrderedObject;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(OrderedObject(entries))
    }
}
