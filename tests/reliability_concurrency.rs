//! Concurrency (issue 8 item 5): separate `tarn` processes on one home at once. A crawl, a CTAS and
//! queries run side by side; two writers INSERT into one local table (both append, or one fails
//! cleanly: never a lost or duplicated file list); two processes CTAS to one name (one wins). Row
//! counts are known from how the data was made (1,000 generated rows per write; 600 orders, per
//! DuckDB over `tests/data/parquet/orders`).
//!
//! CI runs a few rounds of each; `TARN_LONG_TESTS=1` runs many.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// 1,000 rows from the cross join of three `digits` tables.
const THOUSAND: &str = "SELECT a.x * 100 + b.x * 10 + c.x AS n FROM w.digits a, w.digits b, w.digits c";
/// Rows of `tests/data/parquet/orders` (DuckDB: `SELECT count(*)`).
const ORDERS_ROWS: &str = "600";

fn rounds(ci: usize, long: usize) -> usize {
    if std::env::var("TARN_LONG_TESTS").is_ok_and(|v| v == "1") {
        long
    } else {
        ci
    }
}

struct Home {
    home: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let home = Home { home: tempfile::tempdir().expect("Tarn home") };
        home.ok(
            "CREATE DATABASE w;
             CREATE TABLE w.digits AS SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v(x);",
        );
        home
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
        cmd.arg("--home").arg(self.home.path()).env_remove("TARN_HOME").stdin(Stdio::null());
        cmd.args(["--format", "csv"]).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("start tarn")
    }

    fn ok(&self, sql: &str) -> String {
        let out = self.command(&["-c", sql]).output().expect("run tarn");
        assert!(out.status.success(), "tarn failed on {sql}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("stdout is UTF-8").replace("\r\n", "\n")
    }
}

/// The distinct write ids in the file names under a local table's warehouse folder
/// (`part-<write id>-<n>.parquet`): one per committed write when failed writes cleaned up.
fn write_ids(home: &Home, table: &str) -> std::collections::BTreeSet<String> {
    let dir = home.home.path().join("warehouse/w").join(table);
    let Ok(entries) = std::fs::read_dir(dir) else { return Default::default() };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let id = name.strip_prefix("part-")?.rsplit_once('-')?.0.to_string();
            Some(id)
        })
        .collect()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("wait for tarn")
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A failure that is clean: exit status 1 and a one-paragraph message, no panic.
fn assert_clean_failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    stderr
}

#[test]
fn crawl_ctas_and_queries_run_at_once() {
    let home = Home::new();
    let lake = tempfile::tempdir().expect("lake folder");
    let orders = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parquet/orders");
    let table_dir = lake.path().join("orders");
    std::fs::create_dir_all(&table_dir).expect("lake table folder");
    for entry in std::fs::read_dir(&orders).expect("orders data") {
        let path = entry.expect("orders file").path();
        std::fs::copy(&path, table_dir.join(path.file_name().expect("file name"))).expect("copy orders");
    }
    home.ok(&format!(
        "CREATE EXTERNAL TABLE w.orders (order_id int, price decimal(12,2)) STORED AS PARQUET LOCATION '{}/'",
        table_dir.display()
    ));
    let queries = "SELECT count(*) AS n FROM w.orders; SELECT count(*) AS n FROM w.digits; ".repeat(5);
    let lake_root = lake.path().display().to_string();
    for round in 0..rounds(3, 30) {
        let database = format!("crawled_{round}");
        let ctas = format!("CREATE TABLE w.ctas_{round} AS {THOUSAND}");
        let children = [
            ("crawl", home.spawn(&["crawl", &lake_root, "--database", &database])),
            ("ctas", home.spawn(&["-c", &ctas])),
            ("queries", home.spawn(&["-c", &queries])),
            ("queries", home.spawn(&["-c", &queries])),
        ];
        for (what, child) in children {
            let out = finish(child);
            assert_ok(&format!("round {round} {what}"), &out);
            if what == "queries" {
                let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
                assert_eq!(text, "n\n600\nn\n10\n".repeat(5), "round {round}");
            }
        }
        let counts = home
            .ok(&format!("SELECT count(*) AS n FROM {database}.orders UNION ALL SELECT count(*) FROM w.ctas_{round}"));
        assert_eq!(counts, format!("n\n{ORDERS_ROWS}\n1000\n"), "round {round}");
    }
}

#[test]
fn two_writers_insert_into_one_table() {
    let home = Home::new();
    home.ok("CREATE TABLE w.target (n bigint, tag int)");
    let mut expected = Vec::new();
    let mut failures = 0;
    for round in 0..rounds(5, 100) {
        let tags = [round * 2, round * 2 + 1];
        let children = tags
            .map(|tag| home.spawn(&["-c", &format!("INSERT INTO w.target SELECT n, {tag} FROM ({THOUSAND}) AS t")]));
        for (tag, child) in tags.into_iter().zip(children) {
            let out = finish(child);
            if out.status.success() {
                expected.push(format!("{tag},1000"));
            } else {
                assert_clean_failure(&format!("round {round} writer {tag}"), &out);
                failures += 1;
            }
        }
        // Every successful INSERT is there once, with all its rows; a failed one is absent.
        let got = home.ok("SELECT tag, count(*) AS n FROM w.target GROUP BY tag ORDER BY tag");
        let mut sorted = expected.clone();
        sorted.sort_by_key(|row| row.split(',').next().and_then(|t| t.parse::<usize>().ok()));
        assert_eq!(
            got,
            format!("tag,n\n{}", sorted.iter().map(|r| format!("{r}\n")).collect::<String>()),
            "round {round}"
        );
        assert_eq!(write_ids(&home, "target").len(), expected.len(), "round {round}: files of failed writes remain");
    }
    eprintln!("{} concurrent INSERTs committed, {failures} failed cleanly", expected.len());
}

#[test]
fn two_ctas_to_one_name_one_wins() {
    let home = Home::new();
    for round in 0..rounds(5, 100) {
        let children = [1, 2].map(|who| {
            home.spawn(&[
                "-c",
                &format!("CREATE TABLE w.race_{round} AS SELECT n, {who} AS who FROM ({THOUSAND}) AS t"),
            ])
        });
        let outs = children.map(finish);
        let winners: Vec<usize> = (0..2).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one CTAS wins");
        let loser = &outs[1 - winners[0]];
        let stderr = assert_clean_failure(&format!("round {round} loser"), loser);
        assert!(stderr.contains("already exists"), "round {round}: {stderr}");
        let got = home.ok(&format!("SELECT who, count(*) AS n FROM w.race_{round} GROUP BY who"));
        assert_eq!(got, format!("who,n\n{},1000\n", winners[0] + 1), "round {round}");
        assert_eq!(write_ids(&home, &format!("race_{round}")).len(), 1, "round {round}: the loser's files remain");
    }
}
