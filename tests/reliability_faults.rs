//! Storage faults (issue 8 item 3): the `tarn` binary against the loopback S3 server through the
//! fault-injecting proxy (`common::fault_proxy`). Reads ride out `503 SlowDown`, connection resets,
//! cut-off responses and latency through object_store's retries and return the right answer; a
//! persistently failing endpoint fails within bounded time with an error naming the key; a write
//! whose uploads fail mid-way leaves no table, no object under its location and no staging folder.
//! Expected answers over `tests/data/parquet/orders` come from DuckDB (as in `tests/cli.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault_proxy::{FaultProxy, Faults, Requests};
use common::s3_server::{S3Server, BUCKET};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

/// DuckDB over tests/data/parquet/orders: `SELECT count(*), sum(price)`.
const ORDERS_ANSWER: &str = "n,total\n600,2856879.30\n";
const ORDERS_QUERY: &str = "SELECT count(*) AS n, sum(price) AS total FROM shop.orders";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The S3 server, the proxy in front of it, and a Tarn home whose processes talk to the proxy.
struct Lake {
    server: S3Server,
    proxy: FaultProxy,
    home: tempfile::TempDir,
}

impl Lake {
    fn start() -> Lake {
        let server = S3Server::start(&data_dir());
        let upstream = server.env().into_iter().find(|(k, _)| *k == "AWS_ENDPOINT_URL").expect("endpoint").1;
        let proxy = FaultProxy::start(&upstream);
        let lake = Lake { server, proxy, home: tempfile::tempdir().expect("create a Tarn home") };
        lake.ok(&format!(
            "CREATE DATABASE shop;
             CREATE EXTERNAL TABLE shop.orders (order_id int, customer_id bigint, quantity smallint, amount double,
               discount real, price decimal(12,2), status varchar, order_date date, created_at timestamp,
               is_paid boolean)
             STORED AS PARQUET LOCATION 's3://{BUCKET}/parquet/orders/';"
        ));
        lake
    }

    fn sql(&self, sql: &str) -> Output {
        self.command(sql).output().expect("run tarn")
    }

    fn command(&self, sql: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
        cmd.arg("--home").arg(self.home.path()).env_remove("TARN_HOME").stdin(Stdio::null());
        for (key, value) in self.server.env() {
            cmd.env(key, value);
        }
        cmd.env("AWS_ENDPOINT_URL", self.proxy.endpoint());
        cmd.args(["--format", "csv", "-c", sql]).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    fn ok(&self, sql: &str) -> String {
        let out = self.sql(sql);
        assert!(out.status.success(), "tarn failed on {sql}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("stdout is UTF-8").replace("\r\n", "\n")
    }

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

    /// Every key under `prefix`, listed straight from the server (not through the proxy).
    fn keys(&self, prefix: &str) -> Vec<String> {
        let env = self.server.env();
        let get = |name: &str| env.iter().find(|(k, _)| *k == name).expect("S3 env").1.clone();
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(get("AWS_ENDPOINT_URL"))
                .with_allow_http(true)
                .with_bucket_name(BUCKET)
                .with_region(get("AWS_REGION"))
                .with_access_key_id(get("AWS_ACCESS_KEY_ID"))
                .with_secret_access_key(get("AWS_SECRET_ACCESS_KEY"))
                .build()
                .expect("configure the listing client"),
        );
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            // Walk the folders (a delimiter listing is a future, not a stream).
            let mut keys = Vec::new();
            let mut folders = vec![ObjectPath::from(prefix)];
            while let Some(folder) = folders.pop() {
                let listing = store.list_with_delimiter(Some(&folder)).await.expect("list the test bucket");
                keys.extend(listing.objects.into_iter().map(|m| m.location.to_string()));
                folders.extend(listing.common_prefixes);
            }
            keys.sort();
            keys
        })
    }
}

#[test]
fn reads_ride_out_503s_resets_cut_responses_and_latency() {
    let lake = Lake::start();
    let cases = [
        ("503 SlowDown", Faults { unavailable: 3, ..Faults::none() }),
        ("connection reset", Faults { resets: 3, ..Faults::none() }),
        ("response cut after 100 bytes", Faults { cut_responses: 2, cut_after_bytes: 100, ..Faults::none() }),
        ("300 ms latency", Faults { latency: Duration::from_millis(300), ..Faults::none() }),
        // Four faults at most: they may all hit one request, which gets four retries.
        ("mixed", Faults { unavailable: 2, resets: 1, cut_responses: 1, cut_after_bytes: 100, ..Faults::none() }),
    ];
    let repeats = if std::env::var("TARN_LONG_TESTS").is_ok_and(|v| v == "1") { 40 } else { 1 };
    for _ in 0..repeats {
        for (name, faults) in cases {
            lake.proxy.set(faults);
            let started = Instant::now();
            assert_eq!(lake.ok(ORDERS_QUERY), ORDERS_ANSWER, "{name}");
            assert!(started.elapsed() < Duration::from_secs(30), "{name} took {:?}", started.elapsed());
        }
    }
    let counts = lake.proxy.counts();
    let injected = counts.unavailable.load(Ordering::SeqCst) + counts.resets.load(Ordering::SeqCst);
    assert_eq!(injected, 9 * repeats, "every planned 503 and reset was injected");
    assert_eq!(counts.cut.load(Ordering::SeqCst), 3 * repeats, "every planned cut was injected");
    eprintln!(
        "{} queries, {} requests through the proxy: {injected} 503s and resets, {} cut responses, all answered",
        5 * repeats,
        counts.requests.load(Ordering::SeqCst),
        3 * repeats
    );
}

#[test]
fn persistent_503s_fail_naming_the_key_in_bounded_time() {
    let lake = Lake::start();
    lake.proxy.set(Faults { unavailable: usize::MAX, ..Faults::none() });
    let started = Instant::now();
    let err = lake.fails(ORDERS_QUERY);
    let elapsed = started.elapsed();
    assert!(err.contains("parquet/orders"), "the error names the key: {err}");
    assert!(err.contains("503") || err.contains("SlowDown"), "the error says what S3 answered: {err}");
    // Four retries with backoff from 100 ms, capped at 5 s each: well under half a minute.
    assert!(elapsed < Duration::from_secs(30), "failing took {elapsed:?}");
    let answered = lake.proxy.counts().unavailable.load(Ordering::SeqCst);
    assert!(answered >= 5, "the request was retried");
    eprintln!("persistent 503s on the listing ({answered} sent) failed the query in {elapsed:?}");

    // The listing passes, every object read fails: the error names the object's key.
    lake.proxy.set(Faults { unavailable: usize::MAX, pass_first: 1, ..Faults::none() });
    let started = Instant::now();
    let err = lake.fails(ORDERS_QUERY);
    let elapsed = started.elapsed();
    assert!(err.contains("parquet/orders/part-"), "the error names the object: {err}");
    assert!(err.contains("503"), "the error says what S3 answered: {err}");
    assert!(elapsed < Duration::from_secs(30), "failing took {elapsed:?}");
    eprintln!("persistent 503s on object reads failed the query in {elapsed:?}: {}", err.trim());
}

/// 100,000 rows of varied text: several files at a 1 MB target, so an upload fails mid-write.
const NUMBERS: &str = "SELECT a.x * 10000 + b.x * 1000 + c.x * 100 + d.x * 10 + e.x AS n, \
     CAST(a.x * 7919 + b.x * 104729 + c.x * 31 + d.x * 17 + e.x AS varchar) || '-row-' || \
     CAST(e.x * 65537 + d.x * 257 + c.x AS varchar) AS label \
     FROM digits a, digits b, digits c, digits d, digits e";

#[test]
fn writes_failing_mid_way_leave_nothing_visible() {
    let lake = Lake::start();
    lake.ok("CREATE TABLE digits AS SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v(x)");

    // Athena CTAS: the first upload passes, every later one gets 503 until the retries give up.
    lake.proxy.set(Faults { unavailable: usize::MAX, requests: Requests::Uploads, pass_first: 1, ..Faults::none() });
    let err = lake.fails(&format!(
        "CREATE TABLE shop.ctas WITH (external_location = 's3://{BUCKET}/out/ctas/', target_file_size_mb = 1) \
         AS {NUMBERS}"
    ));
    assert!(err.contains("out/ctas"), "the error names the location: {err}");
    let failed_uploads = lake.proxy.counts().unavailable.load(Ordering::SeqCst);
    assert!(failed_uploads >= 5, "uploads were retried before the write gave up: {failed_uploads}");
    lake.proxy.set(Faults::none());
    assert!(lake.fails("SELECT count(*) FROM shop.ctas").contains("ctas"));
    assert_eq!(lake.keys("out/ctas"), Vec::<String>::new(), "no object is left under the location");

    // The same CTAS without faults succeeds; then an INSERT into it fails mid-way.
    lake.ok(&format!(
        "CREATE TABLE shop.ctas WITH (external_location = 's3://{BUCKET}/out/ctas/', target_file_size_mb = 1) \
         AS {NUMBERS}"
    ));
    let committed = lake.keys("out/ctas");
    assert!(committed.len() >= 2, "the CTAS wrote several files: {committed:?}");
    lake.proxy.set(Faults { unavailable: usize::MAX, requests: Requests::Uploads, pass_first: 1, ..Faults::none() });
    lake.fails(&format!("INSERT INTO shop.ctas {NUMBERS}"));
    lake.proxy.set(Faults::none());
    assert_eq!(lake.ok("SELECT count(*) AS n FROM shop.ctas"), "n\n100000\n");
    assert_eq!(lake.keys("out/"), committed, "no new object and no staging folder is left behind");

    // A reset on every upload fails the same way, also leaving nothing.
    lake.proxy.set(Faults { resets: usize::MAX, requests: Requests::Uploads, pass_first: 1, ..Faults::none() });
    lake.fails(&format!("INSERT INTO shop.ctas {NUMBERS}"));
    lake.proxy.set(Faults::none());
    assert_eq!(lake.ok("SELECT count(*) AS n FROM shop.ctas"), "n\n100000\n");
    assert_eq!(lake.keys("out/"), committed, "no new object and no staging folder is left behind");
}

/// `kill -9` of an INSERT into an external S3 table while it moves its staged files into place
/// (slowed by latency on every request): readers list the folder, so the write must be whole or
/// absent afterwards. The files are moved one by one before the catalog commit, so the write is
/// recorded as pending in the catalog first and scans skip its files until the commit ends it.
#[test]
fn insert_killed_while_publishing_is_whole_or_absent() {
    let lake = Lake::start();
    lake.ok("CREATE TABLE digits AS SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v(x)");
    lake.ok(&format!(
        "CREATE TABLE shop.ext WITH (external_location = 's3://{BUCKET}/out/ext/', target_file_size_mb = 1) \
         AS {NUMBERS}"
    ));
    lake.proxy.set(Faults { latency: Duration::from_millis(300), ..Faults::none() });
    let mut child = lake.command("INSERT INTO shop.ext SELECT * FROM shop.ext").spawn().expect("start tarn");
    let started = Instant::now();
    while lake.proxy.counts().copies.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let _ = child.kill();
    let _ = child.wait();
    lake.proxy.set(Faults::none());
    let count = lake.ok("SELECT count(*) AS n FROM shop.ext");
    let keys = lake.keys("out/ext");
    eprintln!(
        "after the kill: {} copies seen, {count:?}, keys {keys:?}",
        lake.proxy.counts().copies.load(Ordering::SeqCst)
    );
    assert!(count == "n\n100000\n" || count == "n\n200000\n", "a half-published INSERT is visible: {count}");
}
