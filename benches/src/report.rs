//! The side-by-side report: one Markdown table row per query with each engine's best time, Tarn's
//! ratio to each peer and each engine's peak memory, then geometric means, failures and result
//! differences. Markdown so it can go into `RESULTS.md` as printed.

use std::fmt::Write;

use crate::engine::Engine;
use crate::worker_report::WorkerReport;

/// What the report says about the run as a whole.
pub struct RunHeader {
    pub title: String,
    pub machine: String,
    pub load_at_end: String,
    pub versions: String,
    pub runs: usize,
    pub notes: Vec<String>,
}

/// Every engine's report for one query and the verdict of comparing their answers.
pub struct QueryOutcome {
    pub name: String,
    pub reports: Vec<(Engine, WorkerReport)>,
    pub check: String,
    pub differences: Vec<String>,
}

impl QueryOutcome {
    fn report(&self, engine: Engine) -> Option<&WorkerReport> {
        self.reports.iter().find(|(e, _)| *e == engine).map(|(_, r)| r)
    }

    fn best_ms(&self, engine: Engine) -> Option<f64> {
        self.report(engine).and_then(WorkerReport::best_ms)
    }
}

pub fn render(header: &RunHeader, engines: &[Engine], outcomes: &[QueryOutcome]) -> String {
    let peers: Vec<Engine> = if engines.contains(&Engine::Tarn) {
        engines.iter().copied().filter(|e| *e != Engine::Tarn).collect()
    } else {
        Vec::new()
    };
    let mut out = String::new();
    let _ = writeln!(out, "### {} — best of {} runs, wall time\n", header.title, header.runs);
    let _ = writeln!(out, "- machine: {} (load average at the end: {})", header.machine, header.load_at_end);
    let _ = writeln!(out, "- versions: {}", header.versions);
    for note in &header.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    out.push('\n');

    let mut columns = vec!["query".to_string()];
    columns.extend(engines.iter().map(|e| format!("{} ms", e.label())));
    columns.extend(peers.iter().map(|p| format!("Tarn/{}", p.label())));
    columns.extend(engines.iter().map(|e| format!("{} MiB", e.label())));
    columns.push("result".into());
    table_row(&mut out, &columns);
    let mut align = vec!["---".to_string()];
    align.extend(std::iter::repeat_n("---:".to_string(), columns.len() - 2));
    align.push("---".into());
    table_row(&mut out, &align);

    for outcome in outcomes {
        let mut cells = vec![outcome.name.clone()];
        cells.extend(engines.iter().map(|e| match outcome.report(*e) {
            Some(r) if r.error.is_some() => "fail".into(),
            Some(r) => r.best_ms().map(format_ms).unwrap_or_else(|| "—".into()),
            None => "—".into(),
        }));
        cells.extend(peers.iter().map(|p| match (outcome.best_ms(Engine::Tarn), outcome.best_ms(*p)) {
            (Some(t), Some(p)) if p > 0.0 => format!("{:.2}", t / p),
            _ => "—".into(),
        }));
        cells.extend(engines.iter().map(|e| {
            outcome.report(*e).and_then(|r| r.peak_rss_kb).map(|kb| format!("{}", kb / 1024)).unwrap_or("—".into())
        }));
        cells.push(outcome.check.clone());
        table_row(&mut out, &cells);
    }

    let mut cells = vec!["geomean".to_string()];
    let all_ran: Vec<&QueryOutcome> =
        outcomes.iter().filter(|o| engines.iter().all(|e| o.best_ms(*e).is_some())).collect();
    cells.extend(engines.iter().map(|e| match geomean(all_ran.iter().filter_map(|o| o.best_ms(*e))) {
        Some(g) => format!("{} (n={})", format_ms(g), all_ran.len()),
        None => "—".into(),
    }));
    cells.extend(peers.iter().map(|p| {
        let ratios: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| Some(o.best_ms(Engine::Tarn)? / o.best_ms(*p)?))
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        match geomean(ratios.iter().copied()) {
            Some(g) => format!("{g:.2} (n={})", ratios.len()),
            None => "—".into(),
        }
    }));
    cells.extend(engines.iter().map(|e| {
        // Over the queries the engine answered: a failed query's figure is in the failure list.
        let answered = outcomes.iter().filter_map(|o| o.report(*e)).filter(|r| r.error.is_none());
        let peak = answered.filter_map(|r| r.peak_rss_kb).max();
        peak.map(|kb| format!("max {}", kb / 1024)).unwrap_or("—".into())
    }));
    cells.push(String::new());
    table_row(&mut out, &cells);

    let failures: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            o.reports.iter().filter_map(move |(engine, report)| {
                let error = report.error.as_ref()?;
                Some(format!(
                    "- {} ({}): {}",
                    o.name,
                    engine.label(),
                    one_line(error.lines().next().unwrap_or_default())
                ))
            })
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailures:\n{}", failures.join("\n"));
    }
    let differences: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.differences.iter().map(move |d| format!("- {}: {}", o.name, one_line(d))))
        .collect();
    if !differences.is_empty() {
        let _ = writeln!(out, "\nResult differences:\n{}", differences.join("\n"));
    }
    out
}

fn table_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn format_ms(ms: f64) -> String {
    match ms {
        ms if ms < 10.0 => format!("{ms:.2}"),
        ms if ms < 1000.0 => format!("{ms:.1}"),
        ms => format!("{ms:.0}"),
    }
}

fn geomean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.filter(|v| *v > 0.0).fold((0.0, 0), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

/// An error message on one table-safe line, cut to a readable length.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|");
    match joined.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomean_of_ratios() {
        assert_eq!(geomean([2.0, 8.0].into_iter()), Some(4.0));
        assert_eq!(geomean(std::iter::empty()), None);
    }
}
