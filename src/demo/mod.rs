//! `tarn demo`: a sample web-analytics lake on local disk, registered in the catalog and queried,
//! so a new user sees Tarn work without a cloud account. The SQL lives in `examples/demo/` where
//! users can copy it from.

mod data;
mod lake;

use std::io::{self, Write};
use std::path::Path;

use crate::runner::SqlRunner;

/// Registers the three tables; `${DEMO_LAKE}` stands for the lake's folder.
const REGISTER_TABLES: &str = include_str!("../../examples/demo/00_register_tables.sql");

/// The analytics queries, in the order they print. Each file's first line is a `-- ` comment
/// saying what the query shows; the demo prints it as the result's title.
const QUERIES: [&str; 5] = [
    include_str!("../../examples/demo/01_monthly_active_users.sql"),
    include_str!("../../examples/demo/02_revenue_by_channel.sql"),
    include_str!("../../examples/demo/03_sessions_by_channel_and_month.sql"),
    include_str!("../../examples/demo/04_refund_rate_by_channel.sql"),
    include_str!("../../examples/demo/05_top_users_by_net_revenue.sql"),
];

/// Writes the lake (unless a complete one is there), registers it and runs the queries.
pub fn run(home: &Path, runner: &mut SqlRunner, out: &mut dyn Write) -> anyhow::Result<()> {
    let lake = home.join("demo-lake");
    let people = runner.format.is_for_people();
    // Progress lines go where people look: stdout for table/markdown, stderr for csv/json.
    let say = |out: &mut dyn Write, line: &str| -> io::Result<()> {
        if people {
            writeln!(out, "{line}")
        } else {
            writeln!(io::stderr(), "{line}")
        }
    };
    if lake::is_complete(&lake) {
        say(out, &format!("Using the sample lake in {}", lake.display()))?;
    } else {
        say(out, &format!("Writing the sample lake to {} ...", lake.display()))?;
        lake::write(&lake, &data::generate())?;
    }
    runner.run_script(&register_sql(&lake), out)?;
    for query in QUERIES {
        say(out, "")?;
        say(out, title(query))?;
        runner.run_script(query, out)?;
    }
    Ok(())
}

/// The registration SQL for this lake: its folder as a SQL string literal body (quotes doubled).
fn register_sql(lake: &Path) -> String {
    REGISTER_TABLES.replace("${DEMO_LAKE}", &lake.display().to_string().replace('\'', "''"))
}

fn title(query: &str) -> &str {
    query.lines().next().and_then(|line| line.strip_prefix("-- ")).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_a_title() {
        for query in QUERIES {
            assert!(!title(query).is_empty(), "{query}");
        }
        assert_eq!(title(QUERIES[0]), "Monthly active users: distinct users with at least one session in the month.");
    }

    #[test]
    fn lake_folder_is_substituted_and_quoted() {
        let sql = register_sql(Path::new("/home/o'brien/.tarn/demo-lake"));
        assert!(!sql.contains("${DEMO_LAKE}"));
        assert!(sql.contains("LOCATION '/home/o''brien/.tarn/demo-lake/session_timestamp/'"));
        assert_eq!(sql.lines().filter(|line| line.ends_with(';')).count(), 5);
    }
}
