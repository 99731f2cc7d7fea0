//! Backslash commands of the REPL (`\d`, `\timing`...), read from a line that starts with `\`.

use crate::output::OutputFormat;

/// One parsed meta-command.
#[derive(Debug, PartialEq, Eq)]
pub enum MetaCommand {
    Quit,
    /// `\d`: tables of the current database.
    ListTables,
    /// `\d NAME`: the columns of one table.
    Describe(String),
    /// `\timing [on|off]`: without an argument it toggles.
    Timing(Option<bool>),
    /// `\format NAME`; without a name it shows the current one.
    Format(Option<OutputFormat>),
    Help,
}

/// What `\?` prints.
pub const HELP: &str = "\
SQL statements end with ';' and may span lines. Meta-commands:
  \\d               list the tables of the current database
  \\d NAME          describe a table (columns, partition keys)
  \\timing [on|off] toggle printing how long each statement takes
  \\format [NAME]   show or set the output format: table, csv, json, markdown
  \\help, \\?        this help
  \\q               quit (or Ctrl-D)
Ctrl-C cancels the running query, or clears the line being typed.";

impl MetaCommand {
    /// Parses a line such as `\d raw_data.user_session_channel`; the error is the message to print.
    pub fn parse(line: &str) -> Result<MetaCommand, String> {
        let line = line.trim().trim_end_matches(';').trim_end();
        let (name, argument) = match line.split_once(char::is_whitespace) {
            Some((name, argument)) => (name, Some(argument.trim())),
            None => (line, None),
        };
        match (name, argument) {
            ("\\q" | "\\quit", None) => Ok(MetaCommand::Quit),
            ("\\d", None) => Ok(MetaCommand::ListTables),
            ("\\d", Some(table)) => Ok(MetaCommand::Describe(table.to_string())),
            ("\\timing", None) => Ok(MetaCommand::Timing(None)),
            ("\\timing", Some(switch)) => match switch.to_ascii_lowercase().as_str() {
                "on" => Ok(MetaCommand::Timing(Some(true))),
                "off" => Ok(MetaCommand::Timing(Some(false))),
                other => Err(format!("\\timing takes on or off, not '{other}'")),
            },
            ("\\format", None) => Ok(MetaCommand::Format(None)),
            ("\\format", Some(format)) => format.parse().map(|format| MetaCommand::Format(Some(format))),
            ("\\help" | "\\?", None) => Ok(MetaCommand::Help),
            _ => Err(format!("invalid command {line}; try \\? for help")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_command() {
        assert_eq!(MetaCommand::parse("\\q"), Ok(MetaCommand::Quit));
        assert_eq!(MetaCommand::parse("  \\d  "), Ok(MetaCommand::ListTables));
        assert_eq!(MetaCommand::parse("\\d raw_data.t;"), Ok(MetaCommand::Describe("raw_data.t".into())));
        assert_eq!(MetaCommand::parse("\\timing"), Ok(MetaCommand::Timing(None)));
        assert_eq!(MetaCommand::parse("\\timing OFF"), Ok(MetaCommand::Timing(Some(false))));
        assert_eq!(MetaCommand::parse("\\format csv"), Ok(MetaCommand::Format(Some(OutputFormat::Csv))));
        assert_eq!(MetaCommand::parse("\\format"), Ok(MetaCommand::Format(None)));
        assert_eq!(MetaCommand::parse("\\?"), Ok(MetaCommand::Help));
        assert_eq!(MetaCommand::parse("\\help"), Ok(MetaCommand::Help));
    }

    #[test]
    fn rejects_unknown_commands_and_arguments() {
        assert!(MetaCommand::parse("\\x").unwrap_err().contains("\\x"));
        assert!(MetaCommand::parse("\\format xml").unwrap_err().contains("xml"));
        assert!(MetaCommand::parse("\\timing maybe").is_err());
        assert!(MetaCommand::parse("\\q now").is_err());
    }
}
