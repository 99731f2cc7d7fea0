//! End-to-end tests of the `tarn` binary: what a script sees (stdout CSV, stderr, exit status), on
//! local files and on the loopback S3 server. Expected CSV literals were produced by DuckDB over the
//! same files, formatted by Tarn's CSV rules (see tests/tools/expected.py), never by Tarn.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::s3_server::{S3Server, BUCKET};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A Tarn home for one test, and the environment its processes run with.
struct Tarn {
    home: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Tarn {
    fn new() -> Tarn {
        Tarn { home: tempfile::tempdir().expect("create a Tarn home"), env: Vec::new() }
    }

    fn with_s3(server: &S3Server) -> Tarn {
        Tarn { env: server.env(), ..Tarn::new() }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
        cmd.arg("--home").arg(self.home.path()).env_remove("TARN_HOME").stdin(Stdio::null());
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// `tarn --home H --format csv -c SQL`.
    fn sql(&self, sql: &str) -> Output {
        self.command().args(["--format", "csv", "-c", sql]).output().expect("run tarn")
    }

    /// Runs SQL that must succeed; returns stdout.
    fn ok(&self, sql: &str) -> String {
        let out = self.sql(sql);
        assert!(out.status.success(), "tarn failed on {sql}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs SQL that must fail with exit status 1; returns stderr.
    fn fails(&self, sql: &str) -> String {
        let out = self.sql(sql);
        assert_eq!(
            out.status.code(),
            Some(1),
            "expected exit 1 for {sql}\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("stderr is UTF-8")
    }
}

/// CSV with either line ending, as LF (RFC 4180 says CRLF; both are accepted here).
fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

fn sql_path(path: &Path) -> String {
    path.to_string_lossy().replace('\'', "''")
}

/// DDL for the Parquet orders table and the CSV customers table under `root` (a folder or an S3 URL
/// ending in `/`).
fn tables_ddl(root: &str) -> String {
    format!(
        "CREATE DATABASE shop;
         CREATE EXTERNAL TABLE shop.orders (order_id int, customer_id bigint, quantity smallint, amount double,
           discount real, price decimal(12,2), status varchar, order_date date, created_at timestamp,
           is_paid boolean)
         STORED AS PARQUET LOCATION '{root}parquet/orders/';
         CREATE EXTERNAL TABLE shop.customers (id int, name varchar, city varchar, signup_date date,
           credit decimal(10,2), active boolean, last_seen timestamp)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
         STORED AS TEXTFILE LOCATION '{root}csv/customers/'
         TBLPROPERTIES ('skip.header.line.count'='1');"
    )
}

const ORDERS_QUERY: &str = "SELECT status, count(*) AS n, sum(price) AS total, min(created_at) AS first_at, \
     max(order_date) AS last_day FROM shop.orders GROUP BY status ORDER BY status NULLS FIRST";

// DuckDB 1.x/2.0 over tests/data/parquet/orders.
const ORDERS_CSV: &str = "status,n,total,first_at,last_day
,42,189540.44,2024-01-11 06:07:05,2024-06-28
cancelled,145,705063.96,2024-01-05 05:51:41,2024-06-28
pending,155,746114.11,2024-01-03 19:18:08,2024-06-27
returned,137,660175.95,2024-01-01 20:18:11,2024-06-23
shipped,121,555984.84,2024-01-02 17:06:18,2024-06-28
";

const CUSTOMERS_QUERY: &str =
    "SELECT id, name, city, credit, active, last_seen FROM shop.customers WHERE id <= 6 ORDER BY id";

// DuckDB over tests/data/csv/customers: quotes doubled, commas quoted, NULL as an empty field.
const CUSTOMERS_CSV: &str = "id,name,city,credit,active,last_seen
1,Zoë Ämter,Paris,,,2024-06-29 18:28:36
2,Alan Turing,Tokyo,97.41,true,2024-06-27 17:42:38
3,\"The \"\"Best\"\" Co\",Tokyo,979.47,false,2024-06-19 22:18:33
4,Barbara Liskov,Berlin,,true,2024-06-21 17:24:54
5,O'Brien,Paris,434.21,false,2024-06-22 04:09:55
6,Ada Lovelace,\"New York, NY\",645.94,true,2024-06-14 13:51:26
";

fn local_root() -> String {
    format!("{}/", sql_path(&data_dir()))
}

#[test]
fn parquet_and_csv_tables_print_as_csv() {
    let tarn = Tarn::new();
    tarn.ok(&tables_ddl(&local_root()));
    // A new process sees the catalog the first one wrote.
    assert_eq!(lf(&tarn.ok(ORDERS_QUERY)), ORDERS_CSV);
    assert_eq!(lf(&tarn.ok(CUSTOMERS_QUERY)), CUSTOMERS_CSV);
}

#[test]
fn parquet_and_csv_tables_on_s3_print_as_csv() {
    let server = S3Server::start(&data_dir());
    let tarn = Tarn::with_s3(&server);
    tarn.ok(&tables_ddl(&format!("s3://{BUCKET}/")));
    assert_eq!(lf(&tarn.ok(ORDERS_QUERY)), ORDERS_CSV);
    assert_eq!(lf(&tarn.ok(CUSTOMERS_QUERY)), CUSTOMERS_CSV);
}

#[test]
fn script_file_and_stdin_run_like_command() {
    let tarn = Tarn::new();
    tarn.ok(&tables_ddl(&local_root()));
    let script = tarn.home.path().join("report.sql");
    std::fs::write(&script, format!("-- the customers report\n{CUSTOMERS_QUERY}\n;\n")).expect("write the script");
    let out = tarn.command().args(["--format", "csv", "-f"]).arg(&script).output().expect("run tarn -f");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lf(&String::from_utf8_lossy(&out.stdout)), CUSTOMERS_CSV);

    let mut child = tarn
        .command()
        .args(["--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tarn reading stdin");
    child
        .stdin
        .take()
        .expect("stdin was piped")
        .write_all(format!("{ORDERS_QUERY};\n").as_bytes())
        .expect("write SQL to tarn's stdin");
    let out = child.wait_with_output().expect("wait for tarn");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lf(&String::from_utf8_lossy(&out.stdout)), ORDERS_CSV);
}

#[test]
fn syntax_error_exits_1_with_position_and_caret() {
    let tarn = Tarn::new();
    let stderr = tarn.fails("SELECT 1,\n  2 +* 3");
    assert!(stderr.contains("line 2, column 6"), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let sql_line =
        lines.iter().position(|l| l.ends_with("  2 +* 3")).unwrap_or_else(|| panic!("no SQL line: {stderr}"));
    let caret_line = lines.get(sql_line + 1).unwrap_or_else(|| panic!("no caret line: {stderr}"));
    let star = lines[sql_line].rfind('*').expect("the SQL line has the bad token");
    assert_eq!(caret_line.find('^'), Some(star), "caret not under the token:\n{stderr}");
}

#[test]
fn unknown_names_suggest_the_closest() {
    let tarn = Tarn::new();
    tarn.ok(&tables_ddl(&local_root()));
    let stderr = tarn.fails("SELECT count(*) FROM shop.order");
    assert!(stderr.to_lowercase().contains("did you mean") && stderr.contains("orders"), "stderr: {stderr}");
    let stderr = tarn.fails("SELECT stauts FROM shop.orders");
    assert!(stderr.to_lowercase().contains("did you mean") && stderr.contains("status"), "stderr: {stderr}");
}

#[test]
fn bad_csv_value_names_file_row_and_column() {
    let tarn = Tarn::new();
    let stderr = tarn.fails(&format!(
        "CREATE DATABASE bad;
         CREATE EXTERNAL TABLE bad.t (id int, name varchar, qty int)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE
         LOCATION '{}bad/bad_int/' TBLPROPERTIES ('skip.header.line.count'='1');
         SELECT sum(qty) FROM bad.t;",
        local_root()
    ));
    assert!(stderr.contains("bad_int.csv") && stderr.contains("row 5") && stderr.contains("qty"), "stderr: {stderr}");
}

#[test]
fn missing_s3_bucket_and_bad_s3_object_are_named() {
    let server = S3Server::start(&data_dir());
    let tarn = Tarn::with_s3(&server);
    let stderr = tarn.fails(
        "CREATE DATABASE s3;
         CREATE EXTERNAL TABLE s3.gone (id int) STORED AS PARQUET LOCATION 's3://no-such-bucket/data/';
         SELECT * FROM s3.gone;",
    );
    assert!(stderr.contains("no-such-bucket"), "stderr: {stderr}");
    let stderr = tarn.fails(&format!(
        "CREATE EXTERNAL TABLE s3.corrupt (id int, label varchar) STORED AS PARQUET
           LOCATION 's3://{BUCKET}/bad/corrupt_footer/';
         SELECT * FROM s3.corrupt;"
    ));
    assert!(stderr.contains("bad/corrupt_footer/corrupt.parquet"), "stderr: {stderr}");
}

#[test]
fn two_processes_create_tables_in_one_home_at_once() {
    let tarn = Tarn::new();
    tarn.ok("CREATE DATABASE conc");
    let root = local_root();
    let script = |prefix: &str| -> String {
        (0..20)
            .map(|i| {
                format!("CREATE EXTERNAL TABLE conc.{prefix}_{i} (k int, lv varchar) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE LOCATION '{root}join/left/' TBLPROPERTIES ('skip.header.line.count'='1');\n")
            })
            .collect()
    };
    let spawn = |sql: String| {
        tarn.command()
            .args(["--format", "csv", "-c", &sql])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tarn")
    };
    let (a, b) = (spawn(script("a")), spawn(script("b")));
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait for tarn");
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    let listing = tarn.ok("SHOW TABLES IN conc");
    let mut names: Vec<&str> = listing.lines().skip(1).map(|l| l.trim().rsplit(',').next().unwrap_or("")).collect();
    names.sort();
    let mut expected: Vec<String> = ["a", "b"].iter().flat_map(|p| (0..20).map(move |i| format!("{p}_{i}"))).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(lf(&tarn.ok("SELECT count(*) AS n FROM conc.b_19")), "n\n7\n");
}

/// The MAU result in the demo's CSV output: a `month,mau` header, then `YYYY-MM,<count>` rows.
fn assert_prints_mau(out: &Output) {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = lf(&String::from_utf8_lossy(&out.stdout));
    let mut lines = stdout.lines().skip_while(|l| *l != "month,mau");
    assert_eq!(lines.next(), Some("month,mau"), "no MAU result in:\n{stdout}");
    let first = lines.next().unwrap_or_default();
    let (month, mau) = first.split_once(',').unwrap_or_else(|| panic!("not a MAU row: {first:?}"));
    assert!(month.len() == 7 && month.as_bytes()[4] == b'-', "not a month: {month:?}");
    assert!(mau.parse::<u64>().is_ok_and(|n| n > 0), "not a user count: {mau:?}");
}

#[test]
fn demo_prints_monthly_active_users() {
    let tarn = Tarn::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
    cmd.env("TARN_HOME", tarn.home.path()).args(["demo", "--format", "csv"]).stdin(Stdio::null());
    assert_prints_mau(&cmd.output().expect("run tarn demo"));
}

/// `--home` and `--format` are global options: they work before a subcommand too.
#[test]
fn global_options_work_before_demo() {
    let tarn = Tarn::new();
    let out = tarn.command().args(["--format", "csv", "demo"]).output().expect("run tarn demo");
    assert_prints_mau(&out);
}
