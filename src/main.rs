//! `tarn`: the command line. Parses arguments, opens the session on the Tarn home, and hands off
//! to the REPL, a script, or the demo. The only place `anyhow` meets the user.

mod crawl;
mod demo;
mod error;
mod output;
mod repl;
mod runner;
mod statements;

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use tarn_engine::Session;

use output::OutputFormat;

/// mimalloc instead of the system allocator: query execution allocates and frees many
/// short-lived multi-megabyte Arrow buffers, which glibc's malloc serves with fresh `mmap`s that
/// fault in page by page (up to a fifth of a join-heavy query's CPU went to page faults);
/// mimalloc keeps such memory in per-thread segments and reuses it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use runner::SqlRunner;

/// Tarn: SQL over Parquet and CSV files in S3 buckets or local folders.
#[derive(Debug, Parser)]
#[command(name = "tarn", version)]
struct Cli {
    /// Folder holding the catalog and local tables [default: ~/.tarn]
    #[arg(long, env = "TARN_HOME", value_name = "DIR", global = true)]
    home: Option<PathBuf>,
    /// Run SQL (one or more statements) and exit; repeatable, run in order with -f
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,
    /// Run the SQL script in FILE (`-` for stdin) and exit; repeatable
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// How results are printed
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    format: OutputFormat,
    /// Print how long each statement took
    #[arg(long, global = true)]
    timing: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a sample web-analytics lake into $TARN_HOME/demo-lake, register it and run the
    /// example queries (no cloud account needed)
    Demo,
    /// Crawl a bucket or folder into catalog tables, explaining every decision
    Crawl(crawl::CrawlArgs),
}

impl Cli {
    /// `tarn demo` runs its own SQL; `-c`/`-f` with it are a mistake worth saying so.
    fn validated(self) -> Result<Cli, clap::Error> {
        if self.command.is_some() && !(self.commands.is_empty() && self.files.is_empty()) {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "-c/--command and -f/--file cannot be used with a subcommand",
            ));
        }
        Ok(self)
    }
}

/// A script to run, in command-line order.
enum Input {
    Sql(String),
    File(PathBuf),
}

fn main() -> ExitCode {
    if let Some(message) = tarn_engine::process::missing_cpu_features() {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    tarn_engine::process::disable_transparent_huge_pages();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches).and_then(Cli::validated) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error::is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error::report(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    let home = home_dir(cli.home.as_deref())?;
    std::fs::create_dir_all(&home).with_context(|| format!("creating the Tarn home {}", home.display()))?;
    let session = Session::open(&home).with_context(|| format!("opening the Tarn home {}", home.display()))?;
    let mut runner = SqlRunner::new(session, cli.format, cli.timing);
    let inputs = ordered_inputs(&cli, matches);
    let mut stdout = io::stdout().lock();
    match &cli.command {
        Some(Command::Demo) => return demo::run(&home, &mut runner, &mut stdout),
        Some(Command::Crawl(args)) => return crawl::run(args, runner.session(), cli.format, &mut stdout),
        None => {}
    }
    if inputs.is_empty() {
        if io::stdin().is_terminal() {
            drop(stdout);
            return repl::run(&home, &mut runner);
        }
        let script = read_stdin()?;
        return runner.run_script(&script, &mut stdout);
    }
    for input in inputs {
        let script = match input {
            Input::Sql(sql) => sql,
            Input::File(path) if path.as_os_str() == "-" => read_stdin()?,
            Input::File(path) => {
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?
            }
        };
        runner.run_script(&script, &mut stdout)?;
    }
    stdout.flush()?;
    Ok(())
}

/// `--home`, else `$TARN_HOME` (clap reads both), else `~/.tarn`.
fn home_dir(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let home = match explicit {
        Some(path) => path.to_path_buf(),
        None => std::env::home_dir()
            .context("no home folder to put ~/.tarn in; set TARN_HOME or pass --home")?
            .join(".tarn"),
    };
    std::path::absolute(&home).with_context(|| format!("resolving {}", home.display()))
}

/// `-c` and `-f` run in the order they were given, as psql runs them.
fn ordered_inputs(cli: &Cli, matches: &ArgMatches) -> Vec<Input> {
    let mut inputs: Vec<(usize, Input)> = Vec::new();
    if let Some(indices) = matches.indices_of("commands") {
        inputs.extend(indices.zip(&cli.commands).map(|(index, sql)| (index, Input::Sql(sql.clone()))));
    }
    if let Some(indices) = matches.indices_of("files") {
        inputs.extend(indices.zip(&cli.files).map(|(index, path)| (index, Input::File(path.clone()))));
    }
    inputs.sort_by_key(|(index, _)| *index);
    inputs.into_iter().map(|(_, input)| input).collect()
}

fn read_stdin() -> anyhow::Result<String> {
    let mut script = String::new();
    io::stdin().read_to_string(&mut script).context("reading SQL from stdin")?;
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (Cli, ArgMatches) {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        (Cli::from_arg_matches(&matches).unwrap(), matches)
    }

    #[test]
    fn commands_and_files_keep_their_order() {
        let (cli, matches) = parse(&["tarn", "-f", "a.sql", "-c", "SELECT 1", "-f", "b.sql", "-c", "SELECT 2"]);
        let order: Vec<String> = ordered_inputs(&cli, &matches)
            .into_iter()
            .map(|input| match input {
                Input::Sql(sql) => sql,
                Input::File(path) => path.display().to_string(),
            })
            .collect();
        assert_eq!(order, vec!["a.sql", "SELECT 1", "b.sql", "SELECT 2"]);
    }

    #[test]
    fn global_flags_reach_the_demo() {
        let (cli, _) = parse(&["tarn", "demo", "--home", "/tmp/h", "--format", "markdown"]);
        assert!(matches!(cli.command, Some(Command::Demo)));
        assert_eq!(cli.home, Some(PathBuf::from("/tmp/h")));
        assert_eq!(cli.format, OutputFormat::Markdown);
    }

    #[test]
    fn demo_does_not_take_sql() {
        let (cli, _) = parse(&["tarn", "-c", "SELECT 1", "demo"]);
        assert!(cli.validated().is_err());
        let (cli, _) = parse(&["tarn", "--home", "/tmp/h", "demo"]);
        assert!(cli.validated().is_ok());
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
