//! JSON Lines: one object per row, keys in column order, values typed.

use std::collections::HashMap;
use std::io::{self, Write};

use super::value::ValueKind;
use super::RowsText;

/// Integers and finite floats are JSON numbers, booleans are booleans, NULL is `null`. Decimals
/// are strings (`"12.50"`) because JSON readers parse numbers into doubles and would lose digits;
/// `nan`/`inf` are strings because JSON has no such numbers. Everything else is its text.
pub fn write(out: &mut dyn Write, rows: &RowsText) -> io::Result<()> {
    let keys: Vec<String> = unique_keys(&rows.names).iter().map(|key| quoted(key)).collect();
    for row in &rows.rows {
        let mut line = String::from("{");
        for (index, cell) in row.iter().enumerate() {
            if index > 0 {
                line.push(',');
            }
            line.push_str(&keys[index]);
            line.push(':');
            push_value(&mut line, rows.kinds[index], cell.as_deref());
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn push_value(line: &mut String, kind: ValueKind, cell: Option<&str>) {
    match (kind, cell) {
        (_, None) => line.push_str("null"),
        (ValueKind::Integer | ValueKind::Boolean, Some(text)) => line.push_str(text),
        (ValueKind::Float, Some(text)) if !matches!(text, "nan" | "inf" | "-inf") => line.push_str(text),
        (_, Some(text)) => line.push_str(&quoted(text)),
    }
}

fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// `SELECT a, a` would give an object with one key twice, which most readers silently collapse:
/// repeated names get `_2`, `_3`... in order.
fn unique_keys(names: &[String]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    names
        .iter()
        .map(|name| {
            let count = seen.entry(name.as_str()).or_insert(0);
            *count += 1;
            if *count == 1 {
                name.clone()
            } else {
                format!("{name}_{count}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::render;
    use crate::output::OutputFormat;

    #[test]
    fn one_typed_object_per_row() {
        let text = render(OutputFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], r#"{"id":1,"name":"plain","amount":"12.50","refunded":true,"ts":"2019-05-01 00:13:11"}"#);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["name"], "a, \"quoted\" | line\nbreak");
        assert_eq!(second["amount"], serde_json::Value::Null);
        assert_eq!(second["ts"], "2019-05-01 00:13:11.783000");
        let third: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(third["id"], serde_json::Value::Null);
        assert_eq!(third["name"], "서울 ☕");
    }

    #[test]
    fn non_finite_floats_become_strings() {
        let mut line = String::new();
        push_value(&mut line, ValueKind::Float, Some("nan"));
        push_value(&mut line, ValueKind::Float, Some("0.5"));
        assert_eq!(line, "\"nan\"0.5");
    }

    #[test]
    fn repeated_names_get_suffixes() {
        let names = vec!["a".to_string(), "b".to_string(), "a".to_string()];
        assert_eq!(unique_keys(&names), vec!["a", "b", "a_2"]);
    }
}
