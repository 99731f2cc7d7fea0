//! The plan and the summary for people (text) and for scripts (JSON). Every decision is printed
//! with its reason: the point of the crawler is that nothing it does is a mystery.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::apply::ApplySummary;
use crate::infer::format_count;
use crate::plan::{ColumnChange, CrawlPlan, TableAction, TablePlan};

/// Most items listed per section in text; JSON always has them all.
const TEXT_LIMIT: usize = 20;

/// The plan as text, as `tarn crawl` prints it.
pub fn plan_text(plan: &CrawlPlan) -> String {
    let mut out = String::new();
    let mode = if plan.dry_run { " (dry run: nothing will be changed)" } else { "" };
    let _ = writeln!(out, "Crawl of {} into database {}{mode}", plan.source, plan.database);
    let _ = writeln!(
        out,
        "  {} objects listed, {} skipped, {} unclassified, {} not placed in a table",
        format_count(plan.objects_listed),
        plan.skipped.len(),
        plan.unclassified.len(),
        plan.unplaced.len()
    );
    if plan.objects_reused > 0 {
        let _ = writeln!(
            out,
            "  {} objects read, {} unchanged since the last crawl (not read again)",
            format_count(plan.objects_read),
            format_count(plan.objects_reused)
        );
    }
    if plan.create_database {
        let _ = writeln!(out, "  database {} will be created", plan.database);
    }
    for table in &plan.tables {
        out.push('\n');
        table_text(&mut out, &plan.database, table);
    }
    for vanished in &plan.vanished_tables {
        let what = match plan.delete_behavior {
            crate::options::DeleteBehavior::Delete => "will be dropped",
            crate::options::DeleteBehavior::Log => "kept (--delete-behavior delete drops it)",
        };
        let _ = writeln!(
            out,
            "\nVANISHED {}.{}: nothing left at {}; {what}",
            plan.database, vanished.name, vanished.location
        );
    }
    section(&mut out, "Skipped", plan.skipped.iter().map(|s| (s.relative.as_str(), s.reason.to_string())));
    section(&mut out, "Unclassified", plan.unclassified.iter().map(|u| (u.relative.as_str(), u.reason.clone())));
    section(&mut out, "Not placed in a table", plan.unplaced.iter().map(|u| (u.relative.as_str(), u.reason.clone())));
    if plan.is_empty() {
        let _ = writeln!(out, "\nNo changes: the catalog already matches the data.");
    }
    out
}

fn table_text(out: &mut String, database: &str, table: &TablePlan) {
    let verb = match &table.action {
        TableAction::Create => "CREATE",
        TableAction::Update => "UPDATE",
        TableAction::Unchanged => "UNCHANGED",
        TableAction::Conflict(_) => "CONFLICT",
    };
    let rows = if table.stats.rows_exact {
        format_count(table.stats.rows)
    } else {
        format!("~{}", format_count(table.stats.rows))
    };
    let _ = writeln!(
        out,
        "{verb} {database}.{}  {}  [{}, {} files, {} bytes, {rows} rows]",
        table.name,
        table.location,
        table.table.parameters.get("classification").map(String::as_str).unwrap_or("?"),
        format_count(table.stats.files),
        format_count(table.stats.bytes)
    );
    if let TableAction::Conflict(why) = &table.action {
        let _ = writeln!(out, "  conflict: {why}");
    }
    for reason in &table.reasons {
        let _ = writeln!(out, "  because {reason}");
    }
    for note in &table.file_notes {
        let _ = writeln!(out, "  read {note}");
    }
    let width = table
        .columns
        .iter()
        .map(|c| c.name.len())
        .chain(table.partition_keys.iter().map(|k| k.name.len()))
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "  columns:");
    for column in &table.columns {
        let marker = match &column.change {
            ColumnChange::New | ColumnChange::Unchanged => "  ".to_string(),
            ColumnChange::Added => "+ ".to_string(),
            ColumnChange::Widened { .. } => "~ ".to_string(),
            ColumnChange::Kept => "= ".to_string(),
        };
        let from = match &column.change {
            ColumnChange::Widened { from } => format!(" (was {from})"),
            _ => String::new(),
        };
        let type_text = format!("{}{from}", column.data_type);
        let _ = writeln!(out, "  {marker}{:width$}  {type_text:14}  {}", column.name, column.reasons.join("; "));
    }
    if !table.partition_keys.is_empty() {
        let _ = writeln!(out, "  partition keys:");
        for key in &table.partition_keys {
            let _ = writeln!(out, "    {:width$}  {:14}  {}", key.name, key.data_type.to_string(), key.reason);
        }
    }
    let changes = [
        ("+", "added", table.add_partitions.iter().map(|p| p.values.join("/")).collect::<Vec<_>>()),
        ("~", "statistics updated", table.update_partitions.iter().map(|p| p.values.join("/")).collect()),
        ("-", "vanished from storage", table.vanished_partitions.iter().map(|p| p.values.join("/")).collect()),
    ];
    for (sign, what, values) in changes {
        if values.is_empty() {
            continue;
        }
        let shown: Vec<&str> = values.iter().take(8).map(String::as_str).collect();
        let more = if values.len() > shown.len() {
            format!(", … {} more", values.len() - shown.len())
        } else {
            String::new()
        };
        let _ = writeln!(out, "  partitions {sign}{} {what}: {}{more}", values.len(), shown.join(", "));
    }
    if let Some(change) = &table.schema_change {
        if table.base_version.is_some() {
            let _ = writeln!(out, "  new schema version: {change}");
        }
    }
    for warning in &table.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
}

fn section<'a>(out: &mut String, title: &str, items: impl Iterator<Item = (&'a str, String)>) {
    let items: Vec<_> = items.collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}):", items.len());
    for (path, reason) in items.iter().take(TEXT_LIMIT) {
        let _ = writeln!(out, "  {path}: {reason}");
    }
    if items.len() > TEXT_LIMIT {
        let _ = writeln!(out, "  … {} more (--format json lists all)", items.len() - TEXT_LIMIT);
    }
}

/// The summary printed after a plan was applied.
pub fn summary_text(summary: &ApplySummary) -> String {
    let mut parts = Vec::new();
    if summary.database_created {
        parts.push("database created".to_string());
    }
    parts.push(format!("{} tables created", summary.tables_created));
    parts.push(format!("{} updated", summary.tables_updated));
    if summary.tables_dropped > 0 {
        parts.push(format!("{} dropped", summary.tables_dropped));
    }
    parts.push(format!("{} partitions added", summary.partitions_added));
    if summary.partitions_updated > 0 {
        parts.push(format!("{} partitions' statistics updated", summary.partitions_updated));
    }
    parts.push(format!("{} partitions removed", summary.partitions_dropped));
    parts.push(format!("{} schema versions recorded", summary.schema_versions));
    format!("Applied in one catalog transaction: {}.\n", parts.join(", "))
}

/// The plan as JSON: every table, column, partition change and finding with its reason.
pub fn plan_json(plan: &CrawlPlan) -> Value {
    json!({
        "source": plan.source,
        "database": plan.database,
        "dry_run": plan.dry_run,
        "delete_behavior": plan.delete_behavior.as_str(),
        "create_database": plan.create_database,
        "changes": !plan.is_empty(),
        "objects_listed": plan.objects_listed,
        "objects_read": plan.objects_read,
        "objects_reused": plan.objects_reused,
        "tables": plan.tables.iter().map(table_json).collect::<Vec<_>>(),
        "vanished_tables": plan.vanished_tables.iter().map(|t| json!({"name": t.name, "location": t.location})).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(|s| json!({"path": s.relative, "code": s.reason.code(), "reason": s.reason.to_string()})).collect::<Vec<_>>(),
        "unclassified": plan.unclassified.iter().map(|u| json!({"path": u.relative, "size": u.size, "reason": u.reason})).collect::<Vec<_>>(),
        "unplaced": plan.unplaced.iter().map(|u| json!({"path": u.relative, "reason": u.reason})).collect::<Vec<_>>(),
    })
}

fn table_json(table: &TablePlan) -> Value {
    let partition =
        |p: &tarn_catalog::Partition| json!({"values": p.values, "location": p.location, "parameters": p.parameters});
    json!({
        "name": table.name,
        "location": table.location,
        "action": table.action.as_str(),
        "conflict": match &table.action { TableAction::Conflict(why) => Value::from(why.clone()), _ => Value::Null },
        "format": table.table.storage.format.as_str(),
        "columns": table.columns.iter().map(|c| json!({
            "name": c.name,
            "type": c.data_type.to_string(),
            "change": match &c.change {
                ColumnChange::New => "new",
                ColumnChange::Added => "added",
                ColumnChange::Widened { .. } => "widened",
                ColumnChange::Unchanged => "unchanged",
                ColumnChange::Kept => "kept",
            },
            "widened_from": match &c.change { ColumnChange::Widened { from } => Value::from(from.to_string()), _ => Value::Null },
            "reasons": c.reasons,
        })).collect::<Vec<_>>(),
        "partition_keys": table.partition_keys.iter().map(|k| json!({"name": k.name, "type": k.data_type.to_string(), "reason": k.reason})).collect::<Vec<_>>(),
        "serde_parameters": table.table.storage.serde_parameters,
        "parameters": table.table.parameters,
        "partitions_added": table.add_partitions.iter().map(partition).collect::<Vec<_>>(),
        "partitions_updated": table.update_partitions.iter().map(partition).collect::<Vec<_>>(),
        "partitions_vanished": table.vanished_partitions.iter().map(|p| json!({"values": p.values, "location": p.location})).collect::<Vec<_>>(),
        "schema_change": table.schema_change,
        "reasons": table.reasons,
        "file_notes": table.file_notes,
        "warnings": table.warnings,
        "files": table.stats.files,
        "bytes": table.stats.bytes,
        "rows": table.stats.rows,
        "rows_exact": table.stats.rows_exact,
    })
}

/// The summary as JSON.
pub fn summary_json(summary: &ApplySummary) -> Value {
    json!({
        "database_created": summary.database_created,
        "tables_created": summary.tables_created,
        "tables_updated": summary.tables_updated,
        "tables_dropped": summary.tables_dropped,
        "partitions_added": summary.partitions_added,
        "partitions_updated": summary.partitions_updated,
        "partitions_dropped": summary.partitions_dropped,
        "schema_versions": summary.schema_versions,
    })
}
