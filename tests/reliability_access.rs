//! Access (issue 8 item 7): credentials never appear in what Tarn prints or stores, and a location
//! the credentials cannot reach fails with the S3 error code and the key.
//!
//! Secrets come in four ways: inline in `COPY ... CREDENTIALS '...'` / `ACCESS_KEY_ID '...'
//! SECRET_ACCESS_KEY '...' SESSION_TOKEN '...'` / `IAM_ROLE '...'`, from the environment
//! (`AWS_SECRET_ACCESS_KEY`), and as userinfo in the endpoint URL. Each statement runs in a `tarn`
//! process against the loopback S3 server, on its success and failure paths; then every secret is
//! looked for in the process's stdout and stderr, in `SHOW CREATE TABLE`, in the bytes of the
//! catalog file and its WAL, and in the REPL history file after the same COPY was typed at a prompt.
//!
//! Denied locations use the loopback server's restricted credentials (`S3Server::restricted_env`),
//! whose policy denies reads under a prefix and every request on a second bucket.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::s3_server::{S3Server, BUCKET, PRIVATE_BUCKET, RESTRICTED_PREFIX};

/// Inline secrets of the COPY statements (none of them is a credential the server accepts: the
/// access goes through the environment, as Tarn documents).
const INLINE_KEY_ID: &str = "AKIAINLINEKEYID77Q1";
const INLINE_SECRET: &str = "inlineSecret/Zq9+Wv3xK";
const INLINE_TOKEN: &str = "inlineSessionTokenFwoGZXIvYXdzE";
const ROLE_ARN: &str = "arn:aws:iam::987654321098:role/secret-loader";
/// A wrong secret in the environment, and the password of an endpoint URL.
const ENV_WRONG_SECRET: &str = "envWrongSecret/Kk29Bq";
const ENDPOINT_PASSWORD: &str = "endpointPassw0rd";

fn secrets(server_secret: &str) -> Vec<String> {
    [INLINE_KEY_ID, INLINE_SECRET, INLINE_TOKEN, ROLE_ARN, "987654321098", ENV_WRONG_SECRET, ENDPOINT_PASSWORD]
        .iter()
        .map(|s| s.to_string())
        .chain([server_secret.to_string()])
        .collect()
}

fn tarn(home: &Path, env: &[(&'static str, String)], sql: &str) -> Output {
    common::tarn_cli::run(home, env, &["--format", "csv", "-c", sql])
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Fails naming the secret and where it was found.
fn assert_no_secret(secrets: &[String], haystack: &[u8], place: &str) {
    for secret in secrets {
        let found = haystack.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "secret {secret:?} found in {place}: {}", String::from_utf8_lossy(haystack));
    }
}

fn with(env: &[(&'static str, String)], key: &'static str, value: String) -> Vec<(&'static str, String)> {
    env.iter().filter(|(k, _)| *k != key).cloned().chain([(key, value)]).collect()
}

#[test]
fn credentials_never_reach_output_catalog_or_history() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let server = S3Server::start(&data);
    let env = server.env();
    let server_secret = env.iter().find(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY").expect("secret").1.clone();
    let secrets = secrets(&server_secret);
    let home = tempfile::tempdir().expect("home");
    let credentials = format!("CREDENTIALS 'aws_access_key_id={INLINE_KEY_ID};aws_secret_access_key={INLINE_SECRET}'");
    let keys =
        format!("ACCESS_KEY_ID '{INLINE_KEY_ID}' SECRET_ACCESS_KEY '{INLINE_SECRET}' SESSION_TOKEN '{INLINE_TOKEN}'");
    let role = format!("IAM_ROLE '{ROLE_ARN}'");
    let options = "delimiter ',' dateformat 'auto' timeformat 'auto' IGNOREHEADER 1 removequotes";
    let events = format!("s3://{BUCKET}/writes/events/");
    let mut outputs = Vec::new();

    let setup = tarn(
        home.path(),
        &env,
        "CREATE DATABASE w; CREATE TABLE w.events (event_id int, user_id int, event_type varchar(20), \
         event_date date, event_ts timestamp, amount decimal(10,2));",
    );
    assert!(setup.status.success(), "{}", text(&setup));

    // Success paths: each way of passing credentials loads the 4 rows.
    for auth in [&credentials, &keys, &role] {
        let out = tarn(home.path(), &env, &format!("COPY w.events FROM '{events}' {auth} {options}"));
        assert!(out.status.success(), "COPY with {auth}: {}", text(&out));
        outputs.push(out);
    }
    let counted = tarn(home.path(), &env, "SELECT count(*) FROM w.events");
    assert_eq!(String::from_utf8_lossy(&counted.stdout).lines().nth(1), Some("12"));

    // Failure paths: a bucket that does not exist, a syntax error on the credentials' line, a
    // wrong secret in the environment, an endpoint URL with a password.
    let missing =
        tarn(home.path(), &env, &format!("COPY w.events FROM 's3://no-such-bucket/in/' {credentials} {options}"));
    assert!(!missing.status.success());
    let err = text(&missing);
    assert!(err.contains("S3 error NoSuchBucket on s3://no-such-bucket/in/"), "code and key: {err}");
    assert!(!err.contains("<Error>") && !err.contains("RequestId"), "no raw XML: {err}");
    outputs.push(missing);

    let syntax =
        tarn(home.path(), &env, &format!("COPY w.events FROM '{events}' {credentials} {keys} {role} NOSUCHOPTION"));
    assert!(!syntax.status.success());
    assert!(text(&syntax).contains("LINE 1: COPY w.events"), "the line is shown: {}", text(&syntax));
    outputs.push(syntax);

    let wrong_env = with(&env, "AWS_SECRET_ACCESS_KEY", ENV_WRONG_SECRET.to_string());
    let denied = tarn(home.path(), &wrong_env, &format!("COPY w.events FROM '{events}' {role} {options}"));
    assert!(!denied.status.success());
    let err = text(&denied);
    assert!(err.contains("S3 error SignatureDoesNotMatch on s3://tarn-test/writes/events/"), "code and key: {err}");
    outputs.push(denied);

    let endpoint = env.iter().find(|(k, _)| *k == "AWS_ENDPOINT_URL").expect("endpoint").1.clone();
    let with_userinfo = endpoint.replacen("http://", &format!("http://loader:{ENDPOINT_PASSWORD}@"), 1);
    let userinfo_env = with(&env, "AWS_ENDPOINT_URL", with_userinfo);
    let out = tarn(home.path(), &userinfo_env, &format!("COPY w.events FROM '{events}' {credentials} {options}"));
    outputs.push(out);

    // A table whose location the credentials cannot reach: the S3 code and the key.
    let out = tarn(
        home.path(),
        &env,
        "CREATE EXTERNAL TABLE w.elsewhere (id int) STORED AS PARQUET LOCATION 's3://no-such-bucket/tables/elsewhere/'; \
         SELECT count(*) FROM w.elsewhere",
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("S3 error NoSuchBucket on s3://no-such-bucket/tables/elsewhere/"), "code and key: {err}");
    outputs.push(out);

    // External tables and CTAS to S3, then SHOW CREATE TABLE of each.
    let out = tarn(
        home.path(),
        &env,
        &format!(
            "CREATE TABLE w.events_lake WITH (external_location = 's3://{BUCKET}/access_out/events/') AS \
             SELECT * FROM w.events; SHOW CREATE TABLE w.events_lake; SHOW CREATE TABLE w.events; \
             SHOW CREATE TABLE w.elsewhere"
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("access_out/events"), "{}", text(&out));
    outputs.push(out);

    for (i, out) in outputs.iter().enumerate() {
        assert_no_secret(&secrets, &out.stdout, &format!("stdout of statement {i}"));
        assert_no_secret(&secrets, &out.stderr, &format!("stderr of statement {i}"));
    }

    // The REPL, through a pseudo-terminal (`script`), typing the COPY with its credentials.
    let repl_sql = format!("COPY w.events FROM '{events}' {credentials} {options};\n\\q\n");
    // (The terminal echoes what was typed, so the screen shows the secret as typed; what Tarn keeps is
    // the history file.)
    if let Some(out) = run_repl(home.path(), &env, &repl_sql) {
        assert!(String::from_utf8_lossy(&out.stdout).contains("4 record(s) loaded"), "the REPL ran the COPY");
        let history = std::fs::read(home.path().join("history")).expect("the REPL wrote its history");
        assert!(
            String::from_utf8_lossy(&history).contains("CREDENTIALS '***'"),
            "{}",
            String::from_utf8_lossy(&history)
        );
        assert_no_secret(&secrets, &history, "the REPL history file");
    } else {
        eprintln!("no `script` command: the REPL history is checked by src/repl's unit test only");
    }

    // The catalog file and its WAL, byte for byte.
    for name in ["catalog.db", "catalog.db-wal"] {
        if let Ok(bytes) = std::fs::read(home.path().join(name)) {
            assert_no_secret(&secrets, &bytes, name);
        }
    }
}

/// The customers CSV table (header line skipped) at `location`.
fn customers_ddl(name: &str, location: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE {name} (id int, name varchar, city varchar, signup_date date, \
         credit decimal(10,2), active boolean, last_seen timestamp) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' \
         STORED AS TEXTFILE LOCATION '{location}' TBLPROPERTIES ('skip.header.line.count'='1');"
    )
}

/// Data lines (not headers) of the CSV files under `dir`.
fn csv_rows(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("list the customers folder")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("read a customers file"))
        .map(|text| text.lines().skip(1).filter(|line| !line.is_empty()).count())
        .sum()
}

/// Credentials whose policy denies a prefix and a bucket: a query of a table there fails with exit
/// status 1 and `S3 error AccessDenied on s3://bucket/key`, while the same credentials read the rest
/// of the bucket and the main credentials read the denied locations (so it is the policy that fails
/// the query, not the data); a crawl with them reports the denied objects and crawls the rest.
#[test]
fn a_location_the_credentials_may_not_read_fails_with_access_denied_and_the_key() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let customers = data.join("csv/customers");
    let server = S3Server::start(&data);
    server.upload_to(BUCKET, &format!("{RESTRICTED_PREFIX}customers/"), &customers);
    server.upload_to(BUCKET, "lake/customers/", &customers);
    server.upload_to(PRIVATE_BUCKET, "customers/", &customers);
    let (full, restricted) = (server.env(), server.restricted_env());
    let restricted_secret =
        restricted.iter().find(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY").expect("restricted secret").1.clone();
    let home = tempfile::tempdir().expect("home");
    let denied_prefix = format!("s3://{BUCKET}/{RESTRICTED_PREFIX}customers/");
    let denied_bucket = format!("s3://{PRIVATE_BUCKET}/customers/");
    let setup = tarn(
        home.path(),
        &full,
        &format!(
            "CREATE DATABASE a; {} {} {}",
            customers_ddl("a.allowed", &format!("s3://{BUCKET}/csv/customers/")),
            customers_ddl("a.denied_prefix", &denied_prefix),
            customers_ddl("a.denied_bucket", &denied_bucket),
        ),
    );
    assert!(setup.status.success(), "{}", text(&setup));

    let rows = csv_rows(&customers);
    let count = |env: &[(&'static str, String)], table: &str| {
        let out = tarn(home.path(), env, &format!("SELECT count(*) FROM {table}"));
        assert!(out.status.success(), "count {table}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().nth(1).map(str::to_string)
    };
    let expected = Some(rows.to_string());
    assert_eq!(count(&restricted, "a.allowed"), expected, "the restricted credentials read the bucket");
    assert_eq!(count(&full, "a.denied_prefix"), expected, "the main credentials read the denied prefix");
    assert_eq!(count(&full, "a.denied_bucket"), expected, "the main credentials read the denied bucket");

    // Under the denied prefix the listing is allowed and the first object read is denied: the error
    // names that object's key. In the denied bucket the listing itself is denied: it names the prefix.
    let first_object = format!("{denied_prefix}customers-");
    for (table, key) in [("a.denied_prefix", first_object.as_str()), ("a.denied_bucket", denied_bucket.as_str())] {
        let out = tarn(home.path(), &restricted, &format!("SELECT count(*) FROM {table}"));
        let err = text(&out);
        assert_eq!(out.status.code(), Some(1), "{table}: {err}");
        assert!(err.contains(&format!("S3 error AccessDenied on {key}")), "{table}: code and key: {err}");
        assert!(err.contains("HTTP 403"), "{table}: the status: {err}");
        assert!(!err.contains("<Error>") && !err.contains("RequestId"), "{table}: no raw XML: {err}");
        assert_no_secret(std::slice::from_ref(&restricted_secret), &out.stdout, &format!("stdout of {table}"));
        assert_no_secret(std::slice::from_ref(&restricted_secret), &out.stderr, &format!("stderr of {table}"));
    }

    // A crawl of `lake/` with the restricted credentials: the readable table is created, each object
    // under the denied prefix is reported unreadable with AccessDenied and its key.
    let out = common::tarn_cli::ok(
        home.path(),
        &restricted,
        &["--format", "json", "crawl", &format!("s3://{BUCKET}/lake/"), "--database", "lake"],
    );
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("crawl JSON: {e}: {out}"));
    let unclassified = plan["plan"]["unclassified"].as_array().cloned().unwrap_or_default();
    let under_lake = RESTRICTED_PREFIX.trim_start_matches("lake/");
    for file in std::fs::read_dir(&customers).expect("list customers") {
        let path = format!("{under_lake}customers/{}", file.expect("entry").file_name().to_string_lossy());
        let entry = unclassified.iter().find(|u| u["path"] == path.as_str());
        let reason = entry.and_then(|u| u["reason"].as_str()).unwrap_or_default();
        for part in [path.as_str(), "AccessDenied", "403"] {
            assert!(reason.contains(part), "unreadable {path} lacks {part:?}: {}", plan["plan"]);
        }
    }
    let tables = plan["plan"]["tables"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = tables.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["customers"], "only the readable table: {}", plan["plan"]);
    assert_eq!(plan["applied"]["tables_created"], 1, "{}", plan["applied"]);
    assert_eq!(count(&restricted, "lake.customers"), expected, "the crawled table answers");
}

/// Runs the REPL on a pseudo-terminal with `input` typed; `None` when `script` is not installed.
fn run_repl(home: &Path, env: &[(&'static str, String)], input: &str) -> Option<Output> {
    use std::io::Write;
    let command = format!("{} --home {}", env!("CARGO_BIN_EXE_tarn"), home.display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("TARN_HOME")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    child.wait_with_output().ok()
}
