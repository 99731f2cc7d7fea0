//! Crash safety (issue 8 item 4): `kill -9` a `tarn` process at a seeded random moment while it runs
//! a local CTAS, an INSERT, a COPY, an Athena CTAS to a local external location or a `tarn crawl`
//! apply; then a new process opens the catalog, every table answers `SELECT count(*)`, and each
//! write is either fully visible or not at all. Row counts are known from how the data was made
//! (100,000 generated rows; the COPY file the test writes; 600 orders, per DuckDB).
//!
//! CI runs 10 kills; `TARN_LONG_TESTS=1` runs 300. `TARN_CRASH_SEED` replays a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 100,000 rows from the cross join of five `digits` tables.
const NUMBERS: &str = "SELECT a.x * 10000 + b.x * 1000 + c.x * 100 + d.x * 10 + e.x AS n, \
     'row ' || CAST(a.x * 7919 + b.x * 104729 + c.x * 31 + d.x * 17 + e.x AS varchar) AS label \
     FROM w.digits a, w.digits b, w.digits c, w.digits d, w.digits e";
const NUMBERS_ROWS: u64 = 100_000;
const COPY_ROWS: u64 = 200_000;
/// Rows of `tests/data/parquet/orders` (DuckDB: `SELECT count(*)`).
const ORDERS_ROWS: u64 = 600;

/// splitmix64: a seeded sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn long_run() -> bool {
    std::env::var("TARN_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// A Tarn home, a lake folder to crawl and write external tables into, and the COPY source.
struct Fixture {
    home: tempfile::TempDir,
    files: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture =
            Fixture { home: tempfile::tempdir().expect("Tarn home"), files: tempfile::tempdir().expect("lake folder") };
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parquet/orders");
        for table in ["orders", "orders_copy"] {
            let dir = fixture.crawl_root().join(table);
            std::fs::create_dir_all(&dir).expect("crawl table folder");
            for entry in std::fs::read_dir(&data).expect("orders data") {
                let path = entry.expect("orders file").path();
                std::fs::copy(&path, dir.join(path.file_name().expect("file name"))).expect("copy orders");
            }
        }
        let mut csv = String::from("n,label\n");
        for n in 0..COPY_ROWS {
            csv.push_str(&format!("{n},copied row {n}\n"));
        }
        std::fs::write(fixture.copy_file(), csv).expect("write the COPY source");
        std::fs::create_dir_all(fixture.external_root()).expect("external folder");
        fixture.ok("CREATE DATABASE w;
             CREATE TABLE w.digits AS SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v(x);
             CREATE TABLE w.ins (n bigint, label varchar);
             CREATE TABLE w.copied (n bigint, label varchar);");
        fixture
    }

    fn crawl_root(&self) -> PathBuf {
        self.files.path().join("crawl")
    }

    fn copy_file(&self) -> PathBuf {
        self.files.path().join("copy.csv")
    }

    fn external_root(&self) -> PathBuf {
        self.files.path().join("external")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
        cmd.arg("--home").arg(self.home.path()).env_remove("TARN_HOME").stdin(Stdio::null());
        cmd.args(["--format", "csv"]).args(args);
        cmd
    }

    fn ok(&self, sql: &str) -> String {
        let out: Output = self.command(&["-c", sql]).output().expect("run tarn");
        assert!(out.status.success(), "tarn failed on {sql}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("stdout is UTF-8").replace("\r\n", "\n")
    }

    /// Every table of the home and its row count, read by a fresh process.
    fn counts(&self) -> BTreeMap<String, u64> {
        let databases = self.ok("SHOW DATABASES");
        let mut tables = Vec::new();
        for db in databases.lines().skip(1).map(str::trim).filter(|d| !d.is_empty()) {
            if db == "sys" || db == "information_schema" {
                continue;
            }
            let listing = self.ok(&format!("SHOW TABLES IN {db}"));
            tables.extend(listing.lines().skip(1).filter_map(|l| l.rsplit(',').next()).map(|t| format!("{db}.{t}")));
        }
        if tables.is_empty() {
            return BTreeMap::new();
        }
        let sql = tables
            .iter()
            .map(|t| format!("SELECT '{t}' AS t, count(*) AS n FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        self.ok(&sql)
            .lines()
            .skip(1)
            .map(|l| {
                let (t, n) = l.rsplit_once(',').expect("t,n row");
                (t.to_string(), n.parse().expect("a count"))
            })
            .collect()
    }
}

/// One write a process is killed during.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Write {
    LocalCtas,
    Insert,
    Copy,
    ExternalCtas,
    CrawlApply,
}

const WRITES: [Write; 5] = [Write::LocalCtas, Write::Insert, Write::Copy, Write::ExternalCtas, Write::CrawlApply];

impl Write {
    fn command(self, fixture: &Fixture, run: usize) -> Command {
        let sql = match self {
            Write::LocalCtas => format!("CREATE TABLE w.ctas_{run} AS {NUMBERS}"),
            Write::Insert => format!("INSERT INTO w.ins {NUMBERS}"),
            Write::Copy => format!("COPY w.copied FROM '{}' CSV IGNOREHEADER 1", fixture.copy_file().display()),
            Write::ExternalCtas => format!(
                "CREATE TABLE w.ext_{run} WITH (external_location = '{}/ext_{run}/', format = 'PARQUET') AS {NUMBERS}",
                fixture.external_root().display()
            ),
            Write::CrawlApply => {
                let root = fixture.crawl_root().display().to_string();
                return fixture.command(&["crawl", &root, "--database", &format!("crawled_{run}")]);
            }
        };
        fixture.command(&["-c", &sql])
    }
}

#[test]
fn kill_9_during_writes_leaves_each_write_whole_or_absent() {
    let seed = std::env::var("TARN_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7a21_u64);
    let kills = if long_run() { 300 } else { 10 };
    let mut rng = Rng(seed);
    let fixture = Fixture::new();

    // One undisturbed run of each write: how long it takes bounds the kill moment.
    let mut duration = BTreeMap::new();
    for (run, write) in WRITES.iter().enumerate() {
        let started = Instant::now();
        let out = write.command(&fixture, 1000 + run).output().expect("run tarn");
        assert!(out.status.success(), "{write:?}: {}", String::from_utf8_lossy(&out.stderr));
        duration.insert(*write, started.elapsed());
    }
    let mut expected_ins = NUMBERS_ROWS;
    let mut expected_copied = COPY_ROWS;
    let (mut killed_mid_write, mut finished_first, mut visible_after_kill) = (0, 0, 0);
    for run in 0..kills {
        let write = WRITES[rng.below(WRITES.len() as u64) as usize];
        let window = duration[&write].as_micros() as u64;
        let delay = Duration::from_micros(rng.below(window + window / 5));
        let mut child =
            write.command(&fixture, run).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("poll tarn").is_some();
        let _ = child.kill();
        let status = child.wait().expect("reap tarn");
        if finished {
            finished_first += 1;
            assert!(status.success(), "{write:?} run {run} failed undisturbed");
        } else {
            killed_mid_write += 1;
        }

        let counts = fixture.counts();
        let context = format!("seed {seed}, run {run}, {write:?} killed after {delay:?}: {counts:?}");
        // Every table answered count(*); each write is whole or absent.
        for (table, &n) in &counts {
            let whole = match table.as_str() {
                "w.digits" => n == 10,
                "w.ins" => n == expected_ins || n == expected_ins + NUMBERS_ROWS,
                "w.copied" => n == expected_copied || n == expected_copied + COPY_ROWS,
                t if t.starts_with("w.ctas_") || t.starts_with("w.ext_") => n == NUMBERS_ROWS,
                t if t.starts_with("crawled_") => n == ORDERS_ROWS,
                other => panic!("unexpected table {other}; {context}"),
            };
            assert!(whole, "{table} holds {n} rows; {context}");
        }
        let landed = match write {
            Write::LocalCtas => counts.contains_key(&format!("w.ctas_{run}")),
            Write::ExternalCtas => counts.contains_key(&format!("w.ext_{run}")),
            Write::Insert => counts["w.ins"] > expected_ins,
            Write::Copy => counts["w.copied"] > expected_copied,
            Write::CrawlApply => {
                let crawled = [format!("crawled_{run}.orders"), format!("crawled_{run}.orders_copy")];
                let present = crawled.iter().filter(|t| counts.contains_key(*t)).count();
                assert!(present == 0 || present == 2, "a crawl applied half its plan; {context}");
                present == 2
            }
        };
        if finished {
            assert!(landed, "a finished write is visible; {context}");
        } else if landed {
            visible_after_kill += 1;
        }
        expected_ins = counts["w.ins"];
        expected_copied = counts["w.copied"];
    }
    // Staged files of killed writes are invisible: the counts above never include them, and each
    // start after a kill (the `counts` above) removed them: nothing is left.
    let catalog = tarn_catalog::Catalog::open(fixture.home.path()).expect("open the catalog");
    let leftover_external = std::fs::read_dir(fixture.external_root())
        .expect("external folder")
        .flatten()
        .filter(|dir| {
            let name = dir.file_name().to_string_lossy().to_string();
            let files = files_below(&dir.path());
            let orphaned = catalog.get_table("w", &name).is_err() && !files.is_empty();
            if orphaned {
                eprintln!("left after the kills: {files:?}");
            }
            orphaned
        })
        .count();
    // Files of killed INSERTs into w.ins: write ids in the folder beyond the committed ones.
    let ins_ids: std::collections::BTreeSet<String> = std::fs::read_dir(fixture.home.path().join("warehouse/w/ins"))
        .expect("warehouse folder of w.ins")
        .flatten()
        .filter_map(|e| Some(e.file_name().to_string_lossy().strip_prefix("part-")?.rsplit_once('-')?.0.to_string()))
        .collect();
    let committed_inserts = (expected_ins / NUMBERS_ROWS) as usize;
    eprintln!(
        "seed {seed}: {kills} kills ({killed_mid_write} mid-write, {visible_after_kill} of them committed before the \
         kill, {finished_first} finished first); {leftover_external} external CTAS folders left with files and no \
         table; {} killed INSERTs left unlisted files in the warehouse",
        ins_ids.len().saturating_sub(committed_inserts)
    );
    assert_eq!(leftover_external, 0, "external CTAS folders with files and no table; seed {seed}");
    assert_eq!(ins_ids.len(), committed_inserts, "write ids in w.ins beyond the committed INSERTs; seed {seed}");
    assert_eq!(leftovers(&fixture), Leftovers::default(), "seed {seed}");
}

/// 10,000,000 rows: a write that runs for seconds in a debug build, so a second process can start
/// while it is still writing.
const LIVE_ROWS: u64 = 10_000_000;
const LIVE_WRITE: &str =
    "SELECT a.x * 1000000 + b.x * 100000 + c.x * 10000 + d.x * 1000 + e.x * 100 + f.x * 10 + g.x AS n, \
     'r' || CAST(a.x AS varchar) AS label \
     FROM w.digits a, w.digits b, w.digits c, w.digits d, w.digits e, w.digits f, w.digits g";

/// A write for the sweep tests: its SQL and the folder its files appear in.
struct SweepCase {
    name: &'static str,
    sql: String,
    folder: PathBuf,
}

fn sweep_cases(fixture: &Fixture, rows: &str) -> Vec<SweepCase> {
    let home = fixture.home.path().join("warehouse/w");
    let external = fixture.external_root();
    let ext = |name: &str| format!("{}/{name}/", external.display());
    vec![
        SweepCase {
            name: "local CTAS",
            sql: format!("CREATE TABLE w.swept_ctas AS {rows}"),
            folder: home.join("swept_ctas"),
        },
        SweepCase { name: "INSERT", sql: format!("INSERT INTO w.ins {rows}"), folder: home.join("ins") },
        SweepCase {
            name: "COPY",
            sql: format!("COPY w.copied FROM '{}' CSV IGNOREHEADER 1", fixture.copy_file().display()),
            folder: home.join("copied"),
        },
        SweepCase {
            name: "external CTAS",
            sql: format!(
                "CREATE TABLE w.swept_ext WITH (external_location = '{}', format = 'PARQUET') AS {rows}",
                ext("swept_ext")
            ),
            folder: external.join("swept_ext"),
        },
        SweepCase {
            name: "external INSERT",
            sql: format!("INSERT INTO w.ext_ins {rows}"),
            folder: external.join("ext_ins"),
        },
        SweepCase {
            name: "UNLOAD",
            sql: format!("UNLOAD ('{}') TO '{}' FORMAT PARQUET", rows.replace('\'', "''"), ext("unloaded")),
            folder: external.join("unloaded"),
        },
    ]
}

/// Every file below `dir` (recursively), hidden ones included.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for path in std::fs::read_dir(&current).into_iter().flatten().flatten().map(|e| e.path()) {
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Spawns `sql` and waits until one of its data files exists under `folder` (beyond `before`), or
/// until it exits. Returns the running child.
fn spawn_until_files(fixture: &Fixture, sql: &str, folder: &Path, before: usize) -> std::process::Child {
    let mut child = fixture.command(&["-c", sql]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && child.try_wait().expect("poll tarn").is_none() {
        let files = files_below(folder).iter().filter(|f| f.to_string_lossy().contains("part-")).count();
        if files > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

/// What killed writes can leave: files no committed table lists (staged, half-uploaded, in a
/// folder without a table, unlisted in the warehouse) and pending-write records.
#[derive(Debug, Default, PartialEq, Eq)]
struct Leftovers {
    files: Vec<String>,
    pending_records: usize,
}

fn leftovers(fixture: &Fixture) -> Leftovers {
    let catalog = tarn_catalog::Catalog::open(fixture.home.path()).expect("open the catalog");
    let pending_records = catalog.all_pending_writes().expect("pending writes").len();
    let mut files = Vec::new();
    for table_dir in std::fs::read_dir(fixture.home.path().join("warehouse/w")).expect("warehouse").flatten() {
        let table = table_dir.file_name().to_string_lossy().to_string();
        let listed: Vec<String> =
            catalog.list_table_files("w", &table).map(|f| f.into_iter().map(|f| f.path).collect()).unwrap_or_default();
        for file in files_below(&table_dir.path()) {
            let path = file.display().to_string();
            if !listed.iter().any(|l| l.ends_with(&path)) {
                files.push(path);
            }
        }
    }
    for folder in std::fs::read_dir(fixture.external_root()).expect("external folder").flatten() {
        let name = folder.file_name().to_string_lossy().to_string();
        let has_table = catalog.get_table("w", &name).is_ok();
        for file in files_below(&folder.path()) {
            let path = file.display().to_string();
            let unfinished = path.contains("/.tarn-staging-") || path.contains('#');
            // UNLOAD has no table; its committed files are its result.
            if unfinished || (!has_table && name != "unloaded") {
                files.push(path);
            }
        }
    }
    Leftovers { files, pending_records }
}

/// Each kind of write is killed once its first file is on disk; the next start removes all it
/// left (files and pending records), and every table still holds whole writes only.
#[test]
fn the_next_start_removes_what_killed_writes_left() {
    let fixture = Fixture::new();
    fixture.ok(&format!(
        "CREATE TABLE w.ext_ins WITH (external_location = '{}/ext_ins/', format = 'PARQUET') AS {NUMBERS}",
        fixture.external_root().display()
    ));
    let mut killed = 0;
    for case in sweep_cases(&fixture, NUMBERS) {
        let before = files_below(&case.folder).len();
        let mut child = spawn_until_files(&fixture, &case.sql, &case.folder, before);
        if child.try_wait().expect("poll tarn").is_none() {
            killed += 1;
        }
        let _ = child.kill();
        child.wait().expect("reap tarn");
        eprintln!("{}: killed with {} files in its folder", case.name, files_below(&case.folder).len());
    }
    let left = leftovers(&fixture);
    assert!(killed >= 4, "most writes were killed mid-way ({killed} of 6)");
    assert!(!left.files.is_empty() || left.pending_records > 0, "the kills left something to sweep");
    eprintln!("before the next start: {} files, {} pending records", left.files.len(), left.pending_records);

    // The next start sweeps.
    fixture.ok("SELECT 1");
    assert_eq!(leftovers(&fixture), Leftovers::default(), "a start after the kills left nothing behind");
    let counts = fixture.counts();
    for (table, n) in &counts {
        let whole = match table.as_str() {
            "w.digits" => *n == 10,
            "w.ins" | "w.swept_ctas" | "w.swept_ext" => *n == 0 || *n == NUMBERS_ROWS,
            "w.ext_ins" => *n == NUMBERS_ROWS || *n == 2 * NUMBERS_ROWS,
            "w.copied" => *n == 0 || *n == COPY_ROWS,
            other => panic!("unexpected table {other}"),
        };
        assert!(whole, "{table} holds {n} rows after the sweep: {counts:?}");
    }
}

/// A start while another process is writing must not touch that writer's files: the writer
/// finishes and its table holds every row.
#[test]
fn a_start_never_removes_the_files_of_a_live_writer() {
    let fixture = Fixture::new();
    fixture.ok(&format!(
        "CREATE TABLE w.ext_ins WITH (external_location = '{}/ext_ins/', format = 'PARQUET') AS {NUMBERS}",
        fixture.external_root().display()
    ));
    let cases = sweep_cases(&fixture, LIVE_WRITE);
    for case in cases.iter().filter(|c| ["local CTAS", "INSERT", "external CTAS"].contains(&c.name)) {
        let before = files_below(&case.folder).len();
        let mut child = spawn_until_files(&fixture, &case.sql, &case.folder, before);
        // Starts (each one sweeps) while the writer runs; counted when the writer outlived it.
        let mut overlapped = 0;
        for _ in 0..3 {
            if child.try_wait().expect("poll tarn").is_some() {
                break;
            }
            fixture.ok("SELECT 1");
            if child.try_wait().expect("poll tarn").is_none() {
                overlapped += 1;
            }
        }
        let out = child.wait_with_output().expect("wait for the writer");
        assert!(
            out.status.success(),
            "{}: the live writer failed: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(overlapped > 0, "{}: a start ran while the writer was writing", case.name);
    }
    let counts = fixture.counts();
    assert_eq!(counts["w.swept_ctas"], LIVE_ROWS, "{counts:?}");
    assert_eq!(counts["w.ins"], LIVE_ROWS, "{counts:?}");
    assert_eq!(counts["w.swept_ext"], LIVE_ROWS, "{counts:?}");
    assert_eq!(leftovers(&fixture), Leftovers::default());
}
