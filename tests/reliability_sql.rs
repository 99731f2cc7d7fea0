//! Hostile SQL never crashes Tarn (issue 8, item 2): random token soups, mutations of the
//! statements in `tests/slt/*.slt` and random expression trees run through the parser, binder,
//! optimizer and executor of one session that has the slt tables declared (over a temporary copy
//! of `tests/data`, so mutated writes touch nothing of the repository). Every statement must
//! return rows or an error: a panic fails the test (and proptest shrinks the input), and so does
//! a statement that neither finishes nor honours the cancel flag within [`HANG_TIMEOUT`].
//! Statements nested or chained past the limits fail with "nests too deeply", not a stack
//! overflow.
//!
//! `TARN_LONG_TESTS=1` runs 20,000 cases per generator instead of the short CI run.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use common::tarn_cli::copy_dir;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use tarn_engine::Session;

/// How long a statement may run before the harness cancels it; a statement that then does not
/// stop within the same time again is a hang.
const HANG_TIMEOUT: Duration = Duration::from_secs(30);

fn cases_per_generator() -> u32 {
    if std::env::var_os("TARN_LONG_TESTS").is_some_and(|v| v != "0") {
        20_000
    } else {
        150
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one statement did.
#[derive(Debug)]
enum Reply {
    Done,
    Failed(String),
    Panicked(String),
}

/// A session on its own thread, fed statements one at a time, so the harness can time each one.
struct Harness {
    statements: mpsc::Sender<String>,
    replies: mpsc::Receiver<Reply>,
    cancel: Arc<AtomicBool>,
    _home: tempfile::TempDir,
}

/// The slt statements, with `__DATA__` still in them.
fn slt_statements() -> Vec<String> {
    let mut statements = Vec::new();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(repo().join("tests/slt")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if !(line.starts_with("statement ") || line.starts_with("query ")) {
                continue;
            }
            let sql: Vec<&str> = lines.by_ref().take_while(|l| !l.trim().is_empty() && *l != "----").collect();
            if !sql.is_empty() {
                statements.push(sql.join("\n"));
            }
        }
    }
    statements
}

impl Harness {
    fn start() -> Harness {
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        copy_dir(&repo().join("tests/data"), &data);
        let mut session = Session::open(&home.path().join("home")).unwrap();
        // Every placeholder the slt runner knows must be replaced here too: a leftover `__TMP__`
        // would make CTAS statements write into the working directory.
        let scratch = home.path().join("tmp");
        let substitute = move |sql: &str| {
            sql.replace("__DATA__", &data.display().to_string()).replace("__TMP__", &scratch.display().to_string())
        };
        // Declare what the slt files declare (some fail on purpose; that is fine).
        for sql in slt_statements().iter().filter(|s| s.trim_start().to_ascii_uppercase().starts_with("CREATE")) {
            let _ = session.execute(&substitute(sql));
        }
        let cancel = session.cancel_flag();
        let (statements, inbox) = mpsc::channel::<String>();
        let (outbox, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for sql in inbox {
                let sql = substitute(&sql);
                let reply = match catch_unwind(AssertUnwindSafe(|| session.execute(&sql))) {
                    Ok(Ok(_)) => Reply::Done,
                    Ok(Err(e)) => Reply::Failed(e.to_string()),
                    Err(panic) => Reply::Panicked(
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default(),
                    ),
                };
                if outbox.send(reply).is_err() {
                    return;
                }
            }
        });
        Harness { statements, replies, cancel, _home: home }
    }

    /// Runs `sql`; an error is the statement's error, `Err` a panic or a hang.
    fn run(&self, sql: &str) -> Result<Reply, String> {
        self.statements.send(sql.to_string()).map_err(|_| "the session thread is gone".to_string())?;
        let reply = match self.replies.recv_timeout(HANG_TIMEOUT) {
            Ok(reply) => reply,
            Err(_) => {
                // Slow is allowed (a mutated statement may cross join); ignoring cancel is not.
                self.cancel.store(true, Ordering::Relaxed);
                self.replies
                    .recv_timeout(HANG_TIMEOUT)
                    .map_err(|_| format!("hang: no answer {:?} after cancelling", HANG_TIMEOUT * 2))?
            }
        };
        match reply {
            Reply::Panicked(message) => Err(format!("panic: {message}")),
            other => Ok(other),
        }
    }
}

fn harness() -> std::sync::MutexGuard<'static, Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| Mutex::new(Harness::start())).lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "CROSS JOIN",
    "FULL JOIN",
    "ON",
    "USING",
    "UNION",
    "UNION ALL",
    "INTERSECT",
    "EXCEPT",
    "WITH",
    "AS",
    "DISTINCT",
    "ALL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "::",
    "IN",
    "NOT",
    "EXISTS",
    "BETWEEN",
    "AND",
    "OR",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "OVER",
    "PARTITION BY",
    "ROWS",
    "UNBOUNDED PRECEDING",
    "CURRENT ROW",
    "GROUPING SETS",
    "ROLLUP",
    "CUBE",
    "(",
    ")",
    ",",
    ".",
    "*",
    "+",
    "-",
    "/",
    "%",
    "||",
    "=",
    "<>",
    "<",
    ">=",
    "[",
    "]",
    ";",
    "1",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "2147483648",
    "1e308",
    "0.1",
    "1.5e-7",
    "'x'",
    "''",
    "'2024-02-30'",
    "DATE '2024-01-01'",
    "TIMESTAMP '2024-01-01 00:00:00'",
    "INTERVAL '1' DAY",
    "TRUE",
    "FALSE",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "count(DISTINCT",
    "row_number()",
    "rank()",
    "lag",
    "coalesce",
    "nullif",
    "substr",
    "left",
    "right",
    "upper",
    "length",
    "date_trunc",
    "datediff",
    "date_diff",
    "to_char",
    "extract",
    "year",
    "round",
    "abs",
    "sqrt",
    "approx_distinct",
    "sales.orders",
    "crm.customers",
    "crm.items",
    "raw_data.session_timestamp",
    "order_id",
    "customer_id",
    "amount",
    "price",
    "status",
    "order_date",
    "created_at",
    "is_paid",
    "quantity",
    "t",
    "x",
    "\"a b\"",
    "int",
    "bigint",
    "varchar",
    "decimal(38,10)",
    "date",
    "timestamp",
    "double",
    "boolean",
    "CREATE TABLE",
    "INSERT INTO",
    "VALUES",
    "DROP TABLE",
    "SHOW TABLES",
    "DESCRIBE",
    "EXPLAIN",
    "EXPLAIN ANALYZE",
    "SET",
    "USE",
    "MSCK REPAIR TABLE",
    "SHOW PARTITIONS",
    "/*",
    "*/",
    "--",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 1..40).prop_map(|tokens| tokens.join(" "))
}

/// One edit of a statement's whitespace-separated words.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Insert(usize, &'static str),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), proptest::sample::select(TOKENS)).prop_map(|(a, t)| Mutation::Insert(a, t)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(sql: &str, mutations: &[Mutation]) -> String {
    let mut words: Vec<String> = sql.split_whitespace().map(str::to_string).collect();
    for m in mutations {
        if words.is_empty() {
            break;
        }
        let n = words.len();
        match *m {
            Mutation::Delete(i) => {
                words.remove(i % n);
            }
            Mutation::Duplicate(i) => words.insert(i % n, words[i % n].clone()),
            Mutation::Swap(a, b) => words.swap(a % n, b % n),
            Mutation::Insert(i, token) => words.insert(i % (n + 1), token.to_string()),
            Mutation::Truncate(i) => words.truncate(i % n + 1),
        }
    }
    words.join(" ")
}

fn slt_mutation() -> impl Strategy<Value = String> {
    let corpus = slt_statements();
    assert!(corpus.len() > 200, "the slt corpus went missing");
    (proptest::sample::select(corpus), proptest::collection::vec(mutation(), 1..4))
        .prop_map(|(sql, mutations)| mutate(&sql, &mutations))
}

const NUMERIC_COLUMNS: &[&str] = &["order_id", "customer_id", "quantity", "amount", "discount", "price"];
const NUMERIC_LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2147483647",
    "-2147483648",
    "9223372036854775807",
    "0.0",
    "1e308",
    "-0.5",
    "NULL",
    "99999999999999999999.99",
    "CAST(NULL AS int)",
];
const TEXT_LEAVES: &[&str] = &["status", "''", "'abc'", "NULL", "'2024-01-31'", "'%a_'"];
const ARITHMETIC: &[&str] = &["+", "-", "*", "/", "%"];
const COMPARISONS: &[&str] = &["=", "<>", "<", ">="];
const NUMERIC_TYPES: &[&str] = &["int", "bigint", "smallint", "double", "real", "decimal(10,2)", "decimal(38,0)"];

/// Typed-enough numeric expressions over `sales.orders`, so most statements bind and reach the
/// executor: arithmetic, casts, functions and CASE over columns and edge literals.
fn numeric() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![proptest::sample::select(NUMERIC_COLUMNS), proptest::sample::select(NUMERIC_LITERALS)]
        .prop_map(str::to_string);
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), proptest::sample::select(ARITHMETIC), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), proptest::sample::select(NUMERIC_TYPES)).prop_map(|(e, t)| format!("CAST({e} AS {t})")),
            (proptest::sample::select(&["abs", "round", "sqrt", "floor", "ceil"][..]), inner.clone())
                .prop_map(|(f, a)| format!("{f}({a})")),
            (
                proptest::sample::select(&["coalesce", "nullif", "greatest", "least", "round", "mod"][..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("CASE WHEN {c} > 0 THEN {a} ELSE {b} END")),
            (text(), inner).prop_map(|(t, n)| format!("length(substr({t}, {n}))")),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(TEXT_LEAVES).prop_map(str::to_string);
    leaf.prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.clone().prop_map(|a| format!("upper({a})")),
            (inner.clone(), proptest::sample::select(NUMERIC_LITERALS)).prop_map(|(a, n)| format!("left({a}, {n})")),
            (inner.clone(), proptest::sample::select(NUMERIC_LITERALS), proptest::sample::select(NUMERIC_LITERALS))
                .prop_map(|(a, n, m)| format!("substr({a}, {n}, {m})")),
            proptest::sample::select(&["YYYY-MM", "HH24:MI:SS", "", "DDD", "Month"][..])
                .prop_map(|f| format!("to_char(created_at, '{f}')")),
            proptest::sample::select(&["year", "month", "day", "week", "quarter", "bogus"][..])
                .prop_map(|p| format!("CAST(date_trunc('{p}', created_at) AS varchar)")),
        ]
    })
}

fn predicate() -> impl Strategy<Value = String> {
    prop_oneof![
        (numeric(), proptest::sample::select(COMPARISONS), numeric()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (text(), text()).prop_map(|(a, b)| format!("{a} LIKE {b}")),
        numeric().prop_map(|a| format!("{a} IS NULL")),
        (numeric(), numeric(), numeric()).prop_map(|(a, b, c)| format!("{a} BETWEEN {b} AND {c}")),
        (numeric(), numeric()).prop_map(|(a, b)| format!("{a} IN ({b}, 1, NULL)")),
        (proptest::sample::select(&["month", "day", "year", "week"][..]), numeric())
            .prop_map(|(p, n)| format!("datediff({p}, order_date, created_at) > {n}")),
    ]
}

fn expression_query() -> impl Strategy<Value = String> {
    (numeric(), text(), predicate(), 0..5usize).prop_map(|(n, t, p, shape)| match shape {
        0 => format!("SELECT {n}, {t} FROM sales.orders"),
        1 => format!("SELECT {t}, count(*), sum({n}), avg({n}) FROM sales.orders GROUP BY 1 ORDER BY 1"),
        2 => format!("SELECT order_id FROM sales.orders WHERE {p} ORDER BY {n} LIMIT 5"),
        3 => format!("SELECT sum({n}) OVER (PARTITION BY status ORDER BY order_id) FROM sales.orders"),
        _ => format!(
            "SELECT count(DISTINCT {t}) FROM sales.orders a JOIN sales.orders b ON a.order_id = b.order_id AND {p}"
        ),
    })
}

/// Runs `cases_per_generator()` inputs of `strategy` (shrinking a failure to a small input) and
/// prints how many statements succeeded and how many failed cleanly.
fn fuzz(label: &str, strategy: impl Strategy<Value = String>) {
    let config =
        ProptestConfig { cases: cases_per_generator(), failure_persistence: None, ..ProptestConfig::default() };
    let (done, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let result = TestRunner::new(config).run(&strategy, |sql| {
        match harness().run(&sql).map_err(|e| TestCaseError::fail(format!("{e}\nSQL: {sql}")))? {
            Reply::Done => done.fetch_add(1, Ordering::Relaxed),
            _ => failed.fetch_add(1, Ordering::Relaxed),
        };
        Ok(())
    });
    eprintln!("{label}: {} statements ran, {} clean errors", done.into_inner(), failed.into_inner());
    if let Err(e) = result {
        panic!("{label}: {e}");
    }
}

#[test]
fn token_soups_never_panic() {
    fuzz("token soups", token_soup());
}

#[test]
fn mutated_slt_statements_never_panic() {
    fuzz("slt mutations", slt_mutation());
}

#[test]
fn random_expressions_never_panic() {
    fuzz("random expressions", expression_query());
}

/// Runs `sql` and returns its error text (`None` when it succeeded).
fn error_of(sql: &str) -> Option<String> {
    match harness().run(sql) {
        Ok(Reply::Done) => None,
        Ok(Reply::Failed(e)) => Some(e),
        Ok(Reply::Panicked(p)) | Err(p) => panic!("{p}"),
    }
}

fn assert_too_deep(what: &str, sql: &str) {
    let error = error_of(sql).unwrap_or_else(|| panic!("{what}: expected an error"));
    assert!(error.contains("nests too deeply"), "{what}: {error}");
}

#[test]
fn deep_nesting_is_a_clear_error() {
    let n = 100_000;
    assert_too_deep("parentheses", &format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)));
    assert_too_deep("plus chain", &format!("SELECT 1{}", " + 1".repeat(n)));
    assert_too_deep(
        "OR chain",
        &format!("SELECT count(*) FROM sales.orders WHERE order_id = 0{}", " OR order_id = 1".repeat(n)),
    );
    assert_too_deep("cast chain", &format!("SELECT 1{}", "::int".repeat(n)));
    assert_too_deep("concatenation", &format!("SELECT 'a'{}", " || 'a'".repeat(n)));
    assert_too_deep("UNION ALL chain", &format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(n)));
    assert_too_deep(
        "JOIN chain",
        &format!("SELECT 1 FROM sales.orders{}", " JOIN sales.orders USING (order_id)".repeat(n)),
    );
    // sqlparser stops a `NOT` chain at its recursion limit with a syntax error of its own.
    assert!(error_of(&format!("SELECT {}TRUE", "NOT ".repeat(n))).is_some(), "NOT chain");
    assert_too_deep("unary minus chain", &format!("SELECT {}1", "- ".repeat(n)));
    let nested = 10_000;
    assert_too_deep(
        "nested subqueries",
        &format!("SELECT * FROM {} (SELECT 1 AS a) t {}", "(SELECT * FROM".repeat(nested), ") t".repeat(nested)),
    );
    assert_too_deep(
        "nested scalar subqueries",
        &format!("SELECT {}1{}", "(SELECT ".repeat(nested), ")".repeat(nested)),
    );
    assert_too_deep("nested function calls", &format!("SELECT {}1{}", "abs(".repeat(nested), ")".repeat(nested)));
}

/// The limit leaves room for the long chains generated SQL has: 1,000 terms bind, optimize and
/// run over a table (the expression evaluates on the executor's workers).
#[test]
fn long_chains_within_the_limit_run() {
    assert_eq!(error_of(&format!("SELECT sum(order_id{}) FROM sales.orders", " + quantity".repeat(1000))), None);
    assert_eq!(
        error_of(&format!("SELECT count(*) FROM sales.orders WHERE order_id = 0{}", " OR order_id = 1".repeat(400))),
        None
    );
    assert_eq!(error_of(&format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(300))), None);
    let wide_case: String = (0..3000).map(|i| format!(" WHEN order_id = {i} THEN {i}")).collect();
    assert_eq!(error_of(&format!("SELECT CASE{wide_case} END FROM sales.orders")), None);
    let long_in: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    assert_eq!(
        error_of(&format!("SELECT count(*) FROM sales.orders WHERE order_id IN ({})", long_in.join(", "))),
        None
    );
}
