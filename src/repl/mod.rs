//! The interactive shell: `tarn> ` prompts, statements ending at `;` across lines (`   -> `
//! continuation), history in `$TARN_HOME/history`, backslash meta-commands, Ctrl-C to cancel.

mod interrupt;
mod meta;

use std::io::{self, Write};
use std::path::Path;

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::error;
use crate::runner::SqlRunner;
use crate::statements;
use meta::MetaCommand;

const PROMPT: &str = "tarn> ";
const CONTINUATION: &str = "   -> ";

/// Runs until `\q` or Ctrl-D. Errors of statements are printed and never end the session.
pub fn run(home: &Path, runner: &mut SqlRunner) -> anyhow::Result<()> {
    let history = home.join("history");
    let config = Config::builder().auto_add_history(false).history_ignore_dups(true)?.max_history_size(2000)?.build();
    let mut editor = DefaultEditor::with_config(config)?;
    // A missing history file is the first run; an unreadable one should not stop the shell.
    let _ = editor.load_history(&history);
    interrupt::forward_to(runner.cancel_flag())?;
    println!("Tarn {} — statements end with ';'. \\? for help, \\q to quit.", env!("CARGO_PKG_VERSION"));

    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUATION };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(other) => return Err(other.into()),
        };
        if buffer.is_empty() && line.trim_start().starts_with('\\') {
            remember(&mut editor, &history, &line);
            match MetaCommand::parse(&line) {
                Ok(MetaCommand::Quit) => break,
                Ok(command) => run_meta(command, runner),
                Err(message) => eprintln!("{message}"),
            }
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if statements::is_complete(&buffer) {
            remember(&mut editor, &history, &buffer);
            run_sql(runner, &buffer);
            buffer.clear();
        } else if statements::is_blank(&buffer) {
            buffer.clear();
        }
    }
    Ok(())
}

/// History is appended after every entry, so two shells on one home both keep theirs. Entries are
/// stored with COPY credentials masked (`CREDENTIALS '***'`): the history file is plain text in the
/// home, and recalling a statement must not bring a secret back either.
fn remember(editor: &mut DefaultEditor, history: &Path, entry: &str) {
    let entry = tarn_engine::write::copy::redact::redact_credentials(entry);
    if editor.add_history_entry(entry).unwrap_or(false) {
        let _ = editor.append_history(history);
    }
}

fn run_sql(runner: &mut SqlRunner, sql: &str) {
    let mut stdout = io::stdout().lock();
    let result = runner.run_script(sql, &mut stdout);
    let _ = stdout.flush();
    match result {
        Ok(()) => {}
        Err(failure) if error::is_cancelled(&failure) => eprintln!("query cancelled"),
        Err(failure) => eprintln!("{}", error::report(&failure)),
    }
}

fn run_meta(command: MetaCommand, runner: &mut SqlRunner) {
    match command {
        MetaCommand::Quit => {}
        MetaCommand::ListTables => run_sql(runner, "SHOW TABLES;"),
        MetaCommand::Describe(table) => run_sql(runner, &format!("DESCRIBE {table};")),
        MetaCommand::Timing(switch) => {
            runner.timing = switch.unwrap_or(!runner.timing);
            println!("Timing is {}.", if runner.timing { "on" } else { "off" });
        }
        MetaCommand::Format(Some(format)) => {
            runner.format = format;
            println!("Output format is {}.", format_name(runner));
        }
        MetaCommand::Format(None) => println!("Output format is {}.", format_name(runner)),
        MetaCommand::Help => println!("{}", meta::HELP),
    }
}

fn format_name(runner: &SqlRunner) -> String {
    clap::ValueEnum::to_possible_value(&runner.format).map(|value| value.get_name().to_string()).unwrap_or_default()
}
