//! SQL text → statements. The whole text is tokenized once, so every token (and every span in the
//! AST the binder reports errors with) carries its line and column in the text the user gave,
//! even for the fifth statement of a script; then it is split at `;` tokens, which the tokenizer
//! never produces inside strings, quoted names or comments.

use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer};

use crate::error::{EngineError, Result};
use crate::sql::dialect::{parse_tarn_statement, position, rewrite_tokens};
use crate::sql::statement::TarnStatement;

/// Parses every statement of `sql`, each with its own text. Empty input, lone `;` and comments
/// give no statements.
pub fn parse_statements(sql: &str) -> Result<Vec<(TarnStatement, String)>> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| EngineError::Syntax { message: readable_message(&e.message), position: position(e.location) })?;
    let lines = LineIndex::new(sql);
    split_at_semicolons(tokens)
        .into_iter()
        .map(|tokens| {
            let (first, last) = significant_bounds(&tokens);
            let text = sql[lines.offset(first.start)..lines.offset(last.end)].to_string();
            Ok((parse_one(&dialect, tokens, Span::new(first.start, last.end))?, text))
        })
        .collect()
}

/// The token runs between `;`s that contain more than whitespace and comments.
fn split_at_semicolons(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            statements.push(std::mem::take(&mut current));
        } else {
            current.push(token);
        }
    }
    statements.push(current);
    statements.retain(|tokens| tokens.iter().any(is_significant));
    statements
}

fn is_significant(token: &TokenWithSpan) -> bool {
    !matches!(token.token, Token::Whitespace(_) | Token::EOF)
}

/// The spans of the first and last significant tokens; callers pass only runs that have one.
fn significant_bounds(tokens: &[TokenWithSpan]) -> (Span, Span) {
    let mut significant = tokens.iter().filter(|t| is_significant(t)).map(|t| t.span);
    // `split_at_semicolons` keeps only runs with a significant token.
    let first = significant.next().unwrap_or_else(Span::empty);
    let last = significant.next_back().unwrap_or(first);
    (first, last)
}

/// Parses one statement's tokens: Tarn's dialect gaps first, then sqlparser.
fn parse_one(dialect: &GenericDialect, tokens: Vec<TokenWithSpan>, bounds: Span) -> Result<TarnStatement> {
    check_operator_chains(&tokens)?;
    let tokens = rewrite_tokens(tokens);
    let misplaced = misplaced_logical_operator(&tokens);
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens);
    let parsed = match parse_tarn_statement(&mut parser) {
        Ok(Some(statement)) => Ok(statement),
        Ok(None) => parser.parse_statement().map(|s| TarnStatement::Sql(Box::new(s))),
        Err(e) => Err(e),
    };
    let statement = match parsed {
        Ok(statement) => statement,
        Err(e) => return Err(misplaced.unwrap_or_else(|| syntax_error(e, &parser, bounds))),
    };
    let next = parser.peek_token();
    if next.token != Token::EOF {
        if let Some(err) = misplaced {
            return Err(err);
        }
        let err = parser.expected::<()>("end of statement", next).err();
        // `expected` always returns `Err`.
        return Err(err.map_or_else(|| EngineError::plan("unexpected input"), |e| syntax_error(e, &parser, bounds)));
    }
    Ok(statement)
}

/// The most operators one expression may chain. sqlparser bounds recursive nesting (parentheses,
/// subqueries) with its recursion limit, but builds infix chains (`1+1+...`, `a OR b OR ...`,
/// `x::int::int`, `UNION ALL`, `JOIN`) in a loop into a tree as deep as the chain is long, which the
/// binder, optimizer and executor then recurse over and which a 100k-term chain would overflow
/// the stack with (an abort, not an error). DuckDB's `max_expression_depth` default is the same.
pub const MAX_OPERATOR_CHAIN: usize = 1000;

/// Rejects a statement whose operator chains could nest deeper than [`MAX_OPERATOR_CHAIN`], before
/// sqlparser builds the tree. A conservative count over the tokens: operators between
/// parentheses add to those of the enclosing ones; a `,` or a `CASE` branch keyword starts a new
/// list item (list items are siblings, not nested).
fn check_operator_chains(tokens: &[TokenWithSpan]) -> Result<()> {
    use sqlparser::keywords::Keyword;
    let mut scopes: Vec<usize> = vec![0];
    let mut total = 0usize;
    for token in tokens {
        match &token.token {
            Token::LParen | Token::LBracket | Token::LBrace => scopes.push(0),
            Token::RParen | Token::RBracket | Token::RBrace if scopes.len() > 1 => {
                total -= scopes.pop().unwrap_or(0);
            }
            Token::Comma => total -= reset_innermost(&mut scopes),
            Token::Word(word) if word.quote_style.is_none() => match word.keyword {
                Keyword::WHEN | Keyword::THEN | Keyword::ELSE => total -= reset_innermost(&mut scopes),
                Keyword::AND
                | Keyword::OR
                | Keyword::XOR
                | Keyword::IS
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::IN
                | Keyword::BETWEEN
                | Keyword::COLLATE
                | Keyword::AT
                | Keyword::UNION
                | Keyword::INTERSECT
                | Keyword::EXCEPT
                | Keyword::JOIN
                | Keyword::SIMILAR
                | Keyword::REGEXP
                | Keyword::RLIKE
                | Keyword::DIV => total += bump(&mut scopes),
                _ => {}
            },
            other if is_operator_symbol(other) => total += bump(&mut scopes),
            _ => {}
        }
        if total > MAX_OPERATOR_CHAIN {
            return Err(EngineError::Syntax {
                message: format!(
                    "the statement nests too deeply (more than {MAX_OPERATOR_CHAIN} chained operators in one expression)"
                ),
                position: position(token.span.start),
            });
        }
    }
    Ok(())
}

/// Starts a new list item in the innermost scope; returns the operators it had counted.
fn reset_innermost(scopes: &mut [usize]) -> usize {
    scopes.last_mut().map_or(0, std::mem::take)
}

/// Counts one operator in the innermost scope; returns 1 for the running total.
fn bump(scopes: &mut [usize]) -> usize {
    if let Some(top) = scopes.last_mut() {
        *top += 1;
    }
    1
}

/// Operator tokens (`+`, `::`, `||`, `->>`, `<=>` and sqlparser's many others) print as ASCII
/// punctuation only; literals print with their quotes, brackets and separators are handled above.
fn is_operator_symbol(token: &Token) -> bool {
    if matches!(token, Token::Period | Token::SemiColon | Token::Comma | Token::EOF | Token::Whitespace(_)) {
        return false;
    }
    let text = token.to_string();
    !text.is_empty() && !text.starts_with(['\'', '"', '$', '`']) && text.chars().all(|c| c.is_ascii_punctuation())
}

/// sqlparser's generic dialect reads an `AND`/`OR` that starts an expression (`WHERE AND x = 1`)
/// as a column named `and`, so its error lands on a later token. When a statement fails to
/// parse, an `AND`/`OR` right after a clause keyword, `(` or `,` is the real mistake and the error
/// points at it, as psql does.
fn misplaced_logical_operator(tokens: &[TokenWithSpan]) -> Option<EngineError> {
    use sqlparser::keywords::Keyword;
    let significant: Vec<&TokenWithSpan> = tokens.iter().filter(|t| is_significant(t)).collect();
    significant.windows(2).find_map(|pair| {
        let Token::Word(word) = &pair[1].token else { return None };
        if word.quote_style.is_some() || !matches!(word.keyword, Keyword::AND | Keyword::OR) {
            return None;
        }
        let starts_expression = match &pair[0].token {
            Token::LParen | Token::Comma => true,
            Token::Word(prev) => {
                prev.quote_style.is_none()
                    && matches!(
                        prev.keyword,
                        Keyword::WHERE
                            | Keyword::AND
                            | Keyword::OR
                            | Keyword::NOT
                            | Keyword::ON
                            | Keyword::HAVING
                            | Keyword::SELECT
                            | Keyword::WHEN
                            | Keyword::THEN
                            | Keyword::ELSE
                    )
            }
            _ => false,
        };
        starts_expression.then(|| EngineError::Syntax {
            message: format!("unexpected keyword {}", word.value.to_ascii_uppercase()),
            position: position(pair[1].span.start),
        })
    })
}

/// A sqlparser error as Tarn's `Syntax` error: the position sqlparser appends to its message
/// ("at Line: L, Column: C") moves into `position`, the rest becomes one lower-case sentence.
/// Errors at the end of input come without a location: they point just past the statement.
fn syntax_error(err: ParserError, parser: &Parser, statement: Span) -> EngineError {
    let raw = match err {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => "the statement nests too deeply".to_string(),
    };
    let (message, location) = match split_location(&raw) {
        Some((message, location)) => (message, location),
        None => {
            let at = parser.peek_token_ref().span.start;
            (raw.as_str(), if at.line > 0 { at } else { statement.end })
        }
    };
    EngineError::Syntax { message: readable_message(message), position: position(location) }
}

/// Splits "… at Line: L, Column: C" into the message and the location.
fn split_location(message: &str) -> Option<(&str, Location)> {
    let at = message.rfind(" at Line: ")?;
    let (line, column) = message[at + " at Line: ".len()..].split_once(", Column: ")?;
    let line = line.trim().parse().ok()?;
    let column = column.trim().parse().ok()?;
    Some((&message[..at], Location { line, column }))
}

/// "Expected: an expression, found: FROM" → "expected an expression, found FROM".
fn readable_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("Expected: ") {
        if let Some((expected, found)) = rest.split_once(", found: ") {
            let found = if found == "EOF" { "end of input" } else { found };
            return format!("expected {expected}, found {found}");
        }
        return format!("expected {rest}");
    }
    let mut chars = message.chars();
    match (chars.next(), chars.next()) {
        // Lower-case a leading capital of an ordinary word ("Unterminated"), not of "SQL".
        (Some(first), Some(second)) if first.is_ascii_uppercase() && second.is_ascii_lowercase() => {
            format!("{}{}", first.to_ascii_lowercase(), &message[1..])
        }
        _ => message.to_string(),
    }
}

/// Maps sqlparser locations (1-based line, 1-based column in characters) to byte offsets.
struct LineIndex<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(sql: &'a str) -> LineIndex<'a> {
        let line_starts = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { sql, line_starts }
    }

    fn offset(&self, location: Location) -> usize {
        let Some(&line_start) = self.line_starts.get(location.line.saturating_sub(1) as usize) else {
            return self.sql.len();
        };
        let rest = &self.sql[line_start..];
        rest.char_indices()
            .nth(location.column.saturating_sub(1) as usize)
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlPosition;
    use crate::sql::statement::{CreateExternalTable, PartitionValue};
    use sqlparser::ast::{HiveDelimiter, HiveIOFormat, HiveRowFormat, Statement};

    fn parse_one_statement(sql: &str) -> TarnStatement {
        let mut statements = parse_statements(sql).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        statements.remove(0).0
    }

    fn syntax_error_of(sql: &str) -> (String, SqlPosition) {
        match parse_statements(sql) {
            Err(EngineError::Syntax { message, position }) => (message, position),
            other => panic!("expected a syntax error for {sql:?}, got {other:?}"),
        }
    }

    fn values(values: &[PartitionValue]) -> Vec<(String, String)> {
        values.iter().map(|v| (v.key.value.clone(), v.value.clone())).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn splits_at_semicolons_outside_strings_and_comments() {
        let sql = "SELECT 'a;b' AS x; -- one; two\nSELECT \"c;d\" FROM t /* ; */;\n\n  SHOW DATABASES";
        let statements = parse_statements(sql).unwrap();
        let texts: Vec<&str> = statements.iter().map(|(_, text)| text.as_str()).collect();
        assert_eq!(texts, ["SELECT 'a;b' AS x", "SELECT \"c;d\" FROM t", "SHOW DATABASES"]);
    }

    #[test]
    fn empty_input_and_comments_give_no_statements() {
        for sql in ["", "   \n", ";;", "-- nothing here\n", "/* a */ ; -- b"] {
            assert!(parse_statements(sql).unwrap().is_empty(), "{sql:?}");
        }
    }

    #[test]
    fn syntax_error_points_at_token_in_whole_script() {
        let sql = "SELECT 1;\nSELECT (a +\n  1 FROM t";
        let (message, position) = syntax_error_of(sql);
        assert_eq!(message, "expected ), found FROM");
        assert_eq!(position, SqlPosition { line: 3, column: 5 });
        let err = parse_statements(sql).unwrap_err();
        assert_eq!(err.to_string(), "syntax error at line 3, column 5: expected ), found FROM");
    }

    #[test]
    fn error_at_end_of_input_points_past_the_statement() {
        let (message, position) = syntax_error_of("SELECT 1;\nSELECT * FROM t WHERE  ;");
        assert_eq!(message, "expected an expression, found end of input");
        assert_eq!(position, SqlPosition { line: 2, column: 22 });
    }

    #[test]
    fn misplaced_and_is_the_error_not_the_token_after_it() {
        let (message, position) = syntax_error_of("SELECT a\nFROM t\nWHERE AND b = 1");
        assert_eq!(message, "unexpected keyword AND");
        assert_eq!(position, SqlPosition { line: 3, column: 7 });
        // A valid AND after an expression is untouched.
        assert!(parse_statements("SELECT a FROM t WHERE b BETWEEN 1 AND 2 AND c = 3").is_ok());
    }

    #[test]
    fn tokenizer_error_has_position() {
        let (message, position) = syntax_error_of("SELECT 1;\nSELECT 'abc");
        assert!(message.starts_with("unterminated string"), "{message}");
        assert_eq!(position.line, 2);
    }

    #[test]
    fn trailing_tokens_are_an_error() {
        let (message, position) = syntax_error_of("SHOW PARTITIONS t extra");
        assert_eq!(message, "expected end of statement, found extra");
        assert_eq!(position, SqlPosition { line: 1, column: 19 });
    }

    #[test]
    fn show_partitions_keeps_qualified_name() {
        match parse_one_statement("SHOW PARTITIONS sales.orders") {
            TarnStatement::ShowPartitions { table } => assert_eq!(table.to_string(), "sales.orders"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_database_with_hive_clauses() {
        let sql = "CREATE SCHEMA IF NOT EXISTS lake COMMENT 'raw data' LOCATION 's3://b/lake/' \
                   WITH DBPROPERTIES ('owner' = 'ops')";
        match parse_one_statement(sql) {
            TarnStatement::CreateDatabase(db) => {
                assert_eq!(db.name.value, "lake");
                assert!(db.if_not_exists);
                assert_eq!(db.comment.as_deref(), Some("raw data"));
                assert_eq!(db.location.as_deref(), Some("s3://b/lake/"));
                assert_eq!(db.properties, pairs(&[("owner", "ops")]));
            }
            other => panic!("{other:?}"),
        }
    }

    fn external_table(sql: &str) -> CreateExternalTable {
        match parse_one_statement(sql) {
            TarnStatement::CreateExternalTable(t) => *t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_external_table_athena_form() {
        let t = external_table(
            "CREATE EXTERNAL TABLE IF NOT EXISTS db.events (\n  id bigint COMMENT 'key',\n  name varchar(32),\n  \
             amount decimal(10,2))\nCOMMENT 'events'\nPARTITIONED BY (year int, month string)\n\
             ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'\n\
             STORED AS TEXTFILE\nLOCATION 's3://bucket/events/'\n\
             TBLPROPERTIES ('skip.header.line.count'='1', 'compressionType'='gzip')",
        );
        assert_eq!(t.name.to_string(), "db.events");
        assert!(t.if_not_exists);
        let cols: Vec<(String, String)> =
            t.columns.iter().map(|c| (c.name.value.clone(), c.data_type.clone())).collect();
        assert_eq!(cols, pairs(&[("id", "BIGINT"), ("name", "VARCHAR(32)"), ("amount", "DECIMAL(10,2)")]));
        assert_eq!(t.columns[0].comment.as_deref(), Some("key"));
        assert_eq!(t.columns[1].type_position, SqlPosition { line: 3, column: 8 });
        assert_eq!(t.comment.as_deref(), Some("events"));
        assert_eq!(t.partitioned_by.len(), 2);
        assert_eq!(t.partitioned_by[1].data_type, "STRING");
        match &t.formats.row_format {
            Some(HiveRowFormat::DELIMITED { delimiters }) => {
                assert_eq!(delimiters[0].delimiter, HiveDelimiter::FieldsTerminatedBy);
                assert_eq!(delimiters[0].char.value, ",");
                assert_eq!(delimiters[1].delimiter, HiveDelimiter::FieldsEscapedBy);
                assert_eq!(delimiters[2].delimiter, HiveDelimiter::LinesTerminatedBy);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(t.formats.storage, Some(HiveIOFormat::FileFormat { .. })));
        assert_eq!(t.formats.location.as_deref(), Some("s3://bucket/events/"));
        assert_eq!(t.table_properties, pairs(&[("skip.header.line.count", "1"), ("compressionType", "gzip")]));
    }

    #[test]
    fn create_external_table_open_csv_serde() {
        let t = external_table(
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' \
             WITH SERDEPROPERTIES ('separatorChar' = ';', 'quoteChar' = '\"') STORED AS TEXTFILE LOCATION '/data/t'",
        );
        assert!(
            matches!(t.formats.row_format, Some(HiveRowFormat::SERDE { ref class }) if class.ends_with("OpenCSVSerde"))
        );
        assert_eq!(t.serde_properties, pairs(&[("separatorChar", ";"), ("quoteChar", "\"")]));
    }

    #[test]
    fn alter_table_add_partitions_keeps_each_location() {
        let sql =
            "ALTER TABLE db.t ADD IF NOT EXISTS PARTITION (year = 2024, month = '05') LOCATION 's3://b/t/2024/05/' \
                   PARTITION (year = 2024, month = '06')";
        match parse_one_statement(sql) {
            TarnStatement::AddPartitions(add) => {
                assert_eq!(add.table.to_string(), "db.t");
                assert!(add.if_not_exists);
                assert_eq!(add.partitions.len(), 2);
                assert_eq!(values(&add.partitions[0].values), pairs(&[("year", "2024"), ("month", "05")]));
                assert_eq!(add.partitions[0].location.as_deref(), Some("s3://b/t/2024/05/"));
                assert_eq!(add.partitions[1].location, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn alter_table_drop_partitions() {
        match parse_one_statement("ALTER TABLE t DROP IF EXISTS PARTITION (k = -1), PARTITION (k = 2)") {
            TarnStatement::DropPartitions(drop) => {
                assert!(drop.if_exists);
                assert_eq!(values(&drop.partitions[0]), pairs(&[("k", "-1")]));
                assert_eq!(values(&drop.partitions[1]), pairs(&[("k", "2")]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_statements_go_to_sqlparser() {
        assert!(matches!(
            parse_one_statement("ALTER TABLE t RENAME TO u"),
            TarnStatement::Sql(s) if matches!(*s, Statement::AlterTable { .. })
        ));
        assert!(matches!(parse_one_statement("SHOW TABLES IN db"), TarnStatement::Sql(_)));
        assert!(matches!(parse_one_statement("MSCK REPAIR TABLE db.t"), TarnStatement::Sql(_)));
        assert!(matches!(parse_one_statement("DESCRIBE db.t"), TarnStatement::Sql(_)));
    }

    #[test]
    fn partition_value_must_be_literal() {
        let (message, position) = syntax_error_of("ALTER TABLE t ADD PARTITION (k = now())");
        assert_eq!(message, "expected a partition value (a string or number literal), found now");
        assert_eq!(position, SqlPosition { line: 1, column: 34 });
    }

    #[test]
    fn statement_kind_names_unsupported_statements() {
        assert_eq!(parse_one_statement("INSERT INTO t VALUES (1)").kind(), "INSERT INTO");
        assert_eq!(parse_one_statement("ALTER TABLE t ADD PARTITION (k = 1)").kind(), "ALTER TABLE ADD PARTITION");
    }
}
