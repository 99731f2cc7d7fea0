//! `tarn crawl` on the loopback S3 server where things go wrong the way they do on real buckets:
//! a key the credentials may not read, a prefix they may not list, a corrupt object. Each is
//! reported in the plan with the S3 error code and key, and the rest of the crawl proceeds. Also
//! the incremental re-crawl: a new partition object is the only change the second crawl makes.
//! Expected query answers come from DuckDB (`read_parquet(..., hive_partitioning=1)`).

use std::net::TcpListener as StdTcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::path::S3Path;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Result};
use serde_json::Value;

const BUCKET: &str = "lake";
const ACCESS_KEY: &str = "crawl-test-access-key";
const SECRET_KEY: &str = "crawl-test-secret-key";
/// GETs of keys under this prefix are denied, as a bucket policy denying `s3:GetObject` would.
const UNREADABLE_PREFIX: &str = "restricted/";
/// Listings of this prefix are denied, as a policy with an `s3:prefix` condition would.
const UNLISTABLE_PREFIX: &str = "private/";

/// Signed requests pass, except reads under [`UNREADABLE_PREFIX`] and listings of
/// [`UNLISTABLE_PREFIX`]. Object reads are counted, so tests can prove a re-crawl opens nothing.
struct Policy {
    reads: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        let op = cx.s3_op().name();
        if op == "GetObject" || op == "HeadObject" {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        if let S3Path::Object { key, .. } = cx.s3_path() {
            if op == "GetObject" && key.starts_with(UNREADABLE_PREFIX) {
                return Err(s3_error!(AccessDenied, "Access Denied"));
            }
        }
        let query = cx.uri().query().unwrap_or_default();
        let prefix = UNLISTABLE_PREFIX.trim_end_matches('/');
        if op.starts_with("ListObjects") && query.split('&').any(|q| q.starts_with(&format!("prefix={prefix}"))) {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        Ok(())
    }
}

/// A loopback S3 server with [`Policy`], and a client with full credentials to set it up.
struct Server {
    endpoint: String,
    runtime: tokio::runtime::Runtime,
    client: Arc<dyn ObjectStore>,
    /// GET and HEAD requests of objects served so far.
    reads: Arc<AtomicUsize>,
    _root: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let root = tempfile::tempdir().expect("server storage");
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket folder");
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let mut builder = S3ServiceBuilder::new(s3s_fs::FileSystem::new(root.path()).expect("s3s-fs"));
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let reads = Arc::new(AtomicUsize::new(0));
        builder.set_access(Policy { reads: reads.clone() });
        let service = builder.build();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        let client = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&endpoint)
                .with_allow_http(true)
                .with_bucket_name(BUCKET)
                .with_region("us-east-1")
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()
                .expect("client"),
        );
        Server { endpoint, runtime, client, reads, _root: root }
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        let key = ObjectPath::from(key);
        self.runtime
            .block_on(self.client.put(&key, PutPayload::from(bytes)))
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    /// Uploads `tests/data/<from>` under `to`.
    fn upload(&self, from: &str, to: &str) {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(from);
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&base).expect("under base").to_string_lossy().replace('\\', "/");
                    self.put(&format!("{to}{relative}"), std::fs::read(&path).expect("read file"));
                }
            }
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent/tarn-test-aws-config".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/tarn-test-aws-credentials".into()),
        ]
    }
}

fn tarn(home: &Path, env: &[(&'static str, String)], args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
    cmd.arg("--home").arg(home).env_remove("TARN_HOME").stdin(Stdio::null()).args(args);
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let out: Output = cmd.output().expect("run tarn");
    assert!(out.status.success(), "tarn {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").replace("\r\n", "\n")
}

fn crawl_json(home: &Path, env: &[(&'static str, String)]) -> Value {
    let out = tarn(home, env, &["--format", "json", "crawl", &format!("s3://{BUCKET}/"), "--database", "lake"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("crawl --format json: {e}: {out}"))
}

fn table<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["plan"]["tables"]
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no table {name} in {plan}"))
}

fn finding<'a>(plan: &'a Value, list: &str, path: &str) -> &'a Value {
    plan["plan"][list]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["path"] == path))
        .unwrap_or_else(|| panic!("no {list} entry {path} in {}", plan["plan"][list]))
}

const EVENTS_QUERY: &str =
    "SELECT year, month, count(*) AS n, sum(amount) AS total FROM lake.events GROUP BY 1, 2 ORDER BY 1, 2";
const EVENTS_CSV: &str = "year,month,n,total\n2024,5,40,1744.50\n2024,6,30,1294.73\n2025,1,35,1710.77\n";

#[test]
fn unreadable_unlistable_and_corrupt_objects_are_reported_and_the_rest_is_crawled() {
    let server = Server::start();
    server.upload("parquet/events/", "events/");
    server.upload("csv/customers/", "customers/");
    server.put("restricted/secret.csv", b"id,name\n1,a\n".to_vec());
    server.upload("csv/customers/", UNLISTABLE_PREFIX);
    let mut corrupt = b"PAR1".to_vec();
    corrupt.extend_from_slice(&[7; 64]);
    server.put("broken/bad.parquet", corrupt);
    let home = tempfile::tempdir().expect("home");
    let env = server.env();

    let plan = crawl_json(home.path(), &env);
    let denied = finding(&plan, "unclassified", "restricted/secret.csv")["reason"].as_str().unwrap_or_default();
    for part in ["restricted/secret.csv", "AccessDenied", "403"] {
        assert!(denied.contains(part), "unreadable key reason lacks {part:?}: {denied}");
    }
    let broken = finding(&plan, "unclassified", "broken/bad.parquet")["reason"].as_str().unwrap_or_default();
    assert!(broken.contains("corrupt Parquet"), "{broken}");
    let unlisted = finding(&plan, "skipped", UNLISTABLE_PREFIX);
    assert_eq!(unlisted["code"], "unlisted");
    let why = unlisted["reason"].as_str().unwrap_or_default();
    assert!(why.contains("AccessDenied") && why.contains(UNLISTABLE_PREFIX), "{why}");
    assert_eq!(table(&plan, "events")["action"], "create");
    assert_eq!(table(&plan, "customers")["action"], "create");
    assert_eq!(plan["applied"]["tables_created"], 2, "{}", plan["applied"]);
    assert_eq!(tarn(home.path(), &env, &["--format", "csv", "-c", EVENTS_QUERY]), EVENTS_CSV);

    // Still unreadable on a re-crawl: nothing changes, and nothing is taken for vanished.
    let again = crawl_json(home.path(), &env);
    assert_eq!(again["plan"]["changes"], false, "{}", again["plan"]);
    assert_eq!(again["plan"]["vanished_tables"], Value::Array(Vec::new()));
}

#[test]
fn recrawl_adds_only_the_new_partition() {
    let server = Server::start();
    server.upload("parquet/events/", "events/");
    server.upload("csv/customers/", "customers/");
    let home = tempfile::tempdir().expect("home");
    let env = server.env();
    let before = server.reads.load(Ordering::SeqCst);
    let first = crawl_json(home.path(), &env);
    assert_eq!(table(&first, "events")["partitions_added"].as_array().map(Vec::len), Some(3));
    let objects = first["plan"]["objects_read"].as_u64().expect("objects_read");
    assert!(server.reads.load(Ordering::SeqCst) - before >= objects as usize, "every object was read once");

    // The same files as 2025/1, so the new partition's answer is 2025/1's (from DuckDB).
    server.upload("parquet/events/year=2025/month=1/", "events/year=2025/month=2/");
    let before = server.reads.load(Ordering::SeqCst);
    let second = crawl_json(home.path(), &env);
    let new_objects = server.reads.load(Ordering::SeqCst) - before;
    assert_eq!(second["plan"]["objects_reused"].as_u64(), Some(objects), "{}", second["plan"]);
    assert_eq!(second["plan"]["objects_read"], 2);
    // Two new Parquet objects: their heads and footers, nothing of the unchanged ones.
    assert!((2..=6).contains(&new_objects), "{new_objects} object reads for two new objects");
    let events = table(&second, "events");
    assert_eq!(events["action"], "update", "{events}");
    let added = events["partitions_added"].as_array().expect("partitions_added");
    assert_eq!(added.len(), 1, "{events}");
    assert_eq!(added[0]["values"], serde_json::json!(["2025", "2"]));
    assert!(added[0]["location"].as_str().unwrap_or_default().ends_with("events/year=2025/month=2/"), "{added:?}");
    assert_eq!(events["partitions_updated"], Value::Array(Vec::new()), "{events}");
    assert_eq!(events["schema_change"], Value::Null);
    assert_eq!(table(&second, "customers")["action"], "unchanged");
    assert_eq!(second["applied"]["partitions_added"], 1);
    assert_eq!(second["applied"]["schema_versions"], 0);
    assert_eq!(
        tarn(home.path(), &env, &["--format", "csv", "-c", EVENTS_QUERY]),
        format!("{EVENTS_CSV}2025,2,35,1710.77\n")
    );

    let before = server.reads.load(Ordering::SeqCst);
    let third = crawl_json(home.path(), &env);
    assert_eq!(third["plan"]["changes"], false, "an unchanged bucket changes nothing: {}", third["plan"]);
    assert_eq!(server.reads.load(Ordering::SeqCst), before, "an unchanged re-crawl opens no object");
    assert_eq!(third["plan"]["objects_read"], 0);

    // A rewritten object (same key, new schema) is read again and its schema change versioned.
    let events_file = "events/year=2025/month=2/part-0.parquet";
    let mut drifted = Vec::new();
    let batch = arrow::record_batch::RecordBatch::try_from_iter([
        ("id", Arc::new(arrow::array::Int64Array::from(vec![1_i64])) as arrow::array::ArrayRef),
        ("note", Arc::new(arrow::array::StringArray::from(vec!["drift"])) as arrow::array::ArrayRef),
    ])
    .expect("batch");
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut drifted, batch.schema(), None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    server.put(events_file, drifted);
    let fourth = crawl_json(home.path(), &env);
    assert_eq!(fourth["plan"]["objects_read"], 1, "{}", fourth["plan"]);
    let change = table(&fourth, "events")["schema_change"].as_str().unwrap_or_default().to_string();
    assert!(change.contains("note"), "{change}");
    assert_eq!(fourth["applied"]["schema_versions"], 1);
}
