//! Every gap between sqlparser's `GenericDialect` and the Hive/Athena DDL Tarn accepts, in one
//! place (design §4). Tarn recognises these statements by their leading tokens before sqlparser
//! sees them, and parses them with sqlparser's own primitives so errors keep its line:column form:
//!
//! - `SHOW PARTITIONS db.t`: `GenericDialect` parses it as `SHOW <variable>` and loses the dot.
//! - `CREATE DATABASE|SCHEMA ... COMMENT '..' LOCATION '..' WITH DBPROPERTIES (..)`: rejected.
//! - `CREATE EXTERNAL TABLE ... (cols) COMMENT '..' PARTITIONED BY ...`: sqlparser accepts the
//!   table comment only in `HiveDialect`, and its external-table path never. Spectrum CETAS
//!   (`CREATE EXTERNAL TABLE t [(cols)] [PARTITIONED BY (names)] STORED AS .. LOCATION '..' AS
//!   query`) is not parsed at all: its column list is optional, its partition columns are untyped
//!   names, and it ends with a query.
//! - `ALTER TABLE t ADD PARTITION (..) LOCATION '..' PARTITION (..) LOCATION '..'`: sqlparser keeps
//!   one location for the whole statement and fails on the second one.
//! - `SHOW TABLE HISTORY [db.]t` (Tarn's, after Glue's table versions) and `DESCRIBE HISTORY
//!   [db.]t` (Delta Lake's spelling): sqlparser has neither; `DESCRIBE HISTORY t` would describe a
//!   table named `history`. `DESCRIBE history` alone still does.
//! - Redshift `COPY`: sqlparser stops at `MAXERROR`, `FILLRECORD` and other options; parsed in
//!   `crate::write::copy::parse`.
//!
//! - Redshift `APPROXIMATE COUNT(DISTINCT x)`: no dialect parses it; [`rewrite_tokens`] turns it
//!   into `approx_distinct(x)`, its meaning, before sqlparser sees the tokens.
//!
//! Everything else goes to sqlparser unchanged.

use sqlparser::ast::{Expr, ObjectName, Spanned, SqlOption, Value};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::error::SqlPosition;
use crate::sql::statement::{
    AddPartitions, ColumnSpec, CreateDatabase, CreateExternalTable, DropPartitions, PartitionSpec, PartitionValue,
    TarnStatement,
};

/// Parses the statement at the parser's position if it is one of the gaps above; `Ok(None)`,
/// having consumed nothing, when sqlparser should parse it.
pub fn parse_tarn_statement(parser: &mut Parser) -> Result<Option<TarnStatement>, ParserError> {
    let statement = if peek_keywords(parser, &[Keyword::SHOW, Keyword::PARTITIONS]) {
        parser.expect_keywords(&[Keyword::SHOW, Keyword::PARTITIONS])?;
        TarnStatement::ShowPartitions { table: parser.parse_object_name(false)? }
    } else if peek_table_history(parser) {
        // `SHOW TABLE HISTORY` is three tokens, `DESCRIBE HISTORY` two.
        let leading = if is_keyword(&parser.peek_token_ref().token, Keyword::SHOW) { 3 } else { 2 };
        for _ in 0..leading {
            parser.next_token();
        }
        TarnStatement::ShowTableHistory { table: parser.parse_object_name(false)? }
    } else if peek_keywords(parser, &[Keyword::CREATE, Keyword::DATABASE])
        || peek_keywords(parser, &[Keyword::CREATE, Keyword::SCHEMA])
    {
        TarnStatement::CreateDatabase(parse_create_database(parser)?)
    } else if peek_keywords(parser, &[Keyword::CREATE, Keyword::EXTERNAL, Keyword::TABLE]) {
        TarnStatement::CreateExternalTable(Box::new(parse_create_external_table(parser)?))
    } else if let Some(add) = peek_alter_partition(parser) {
        parser.expect_keywords(&[Keyword::ALTER, Keyword::TABLE])?;
        let table = parser.parse_object_name(false)?;
        if add {
            TarnStatement::AddPartitions(parse_add_partitions(parser, table)?)
        } else {
            TarnStatement::DropPartitions(parse_drop_partitions(parser, table)?)
        }
    } else if crate::write::copy::is_copy(parser) {
        TarnStatement::Copy(Box::new(crate::write::copy::parse_copy(parser)?))
    } else {
        return Ok(None);
    };
    Ok(Some(statement))
}

/// Token rewrites for constructs sqlparser cannot parse in any form, applied to one statement's
/// tokens before parsing. Spans are kept, so errors still point into the user's text.
pub fn rewrite_tokens(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    rewrite_approximate_count(tokens)
}

/// `APPROXIMATE COUNT ( DISTINCT` → `approx_distinct (`: Redshift's spelling of a HyperLogLog
/// distinct count, which Tarn's `approx_distinct` computes. Other uses of the word are untouched.
fn rewrite_approximate_count(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is_word = |t: &TokenWithSpan, word: &str| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
    let significant: Vec<usize> =
        (0..tokens.len()).filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_))).collect();
    let mut dropped = vec![false; tokens.len()];
    let mut renamed = Vec::new();
    for w in significant.windows(4) {
        let [approximate, count, paren, distinct] = [w[0], w[1], w[2], w[3]];
        if is_word(&tokens[approximate], "APPROXIMATE")
            && is_word(&tokens[count], "COUNT")
            && tokens[paren].token == Token::LParen
            && is_word(&tokens[distinct], "DISTINCT")
        {
            dropped[approximate..count].iter_mut().for_each(|d| *d = true);
            dropped[distinct] = true;
            renamed.push(count);
        }
    }
    let mut tokens = tokens;
    for i in renamed {
        tokens[i].token = Token::make_word("approx_distinct", None);
    }
    tokens.into_iter().zip(dropped).filter(|(_, dropped)| !dropped).map(|(t, _)| t).collect()
}

/// Whether the next tokens are exactly these keywords (consumes nothing).
fn peek_keywords(parser: &Parser, keywords: &[Keyword]) -> bool {
    keywords.iter().enumerate().all(|(i, k)| is_keyword(&parser.peek_nth_token_ref(i).token, *k))
}

/// `SHOW TABLE HISTORY name` or `DESC[RIBE] HISTORY name` (consumes nothing).
fn peek_table_history(parser: &Parser) -> bool {
    let show = peek_keywords(parser, &[Keyword::SHOW, Keyword::TABLE]) && is_word(parser, 2, "HISTORY");
    let describe = [Keyword::DESCRIBE, Keyword::DESC].iter().any(|k| is_keyword(&parser.peek_token_ref().token, *k))
        && is_word(parser, 1, "HISTORY")
        && matches!(parser.peek_nth_token_ref(2).token, Token::Word(_));
    show || describe
}

/// Whether the `n`th next token is the word `word` (for words sqlparser has no keyword for).
fn is_word(parser: &Parser, n: usize, word: &str) -> bool {
    matches!(&parser.peek_nth_token_ref(n).token, Token::Word(w) if w.value.eq_ignore_ascii_case(word))
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// `ALTER TABLE name ADD|DROP [IF [NOT] EXISTS] PARTITION`: `Some(true)` for ADD, `Some(false)`
/// for DROP, `None` for any other statement (consumes nothing).
fn peek_alter_partition(parser: &Parser) -> Option<bool> {
    if !peek_keywords(parser, &[Keyword::ALTER, Keyword::TABLE]) {
        return None;
    }
    let mut i = 2;
    // The table name: words separated by dots.
    loop {
        if !matches!(parser.peek_nth_token_ref(i).token, Token::Word(_)) {
            return None;
        }
        i += 1;
        if parser.peek_nth_token_ref(i).token != Token::Period {
            break;
        }
        i += 1;
    }
    let add = match &parser.peek_nth_token_ref(i).token {
        t if is_keyword(t, Keyword::ADD) => true,
        t if is_keyword(t, Keyword::DROP) => false,
        _ => return None,
    };
    i += 1;
    while [Keyword::IF, Keyword::NOT, Keyword::EXISTS]
        .iter()
        .any(|k| is_keyword(&parser.peek_nth_token_ref(i).token, *k))
    {
        i += 1;
    }
    is_keyword(&parser.peek_nth_token_ref(i).token, Keyword::PARTITION).then_some(add)
}

/// The 1-based position of a token start (sqlparser's `Location` is ours with other names).
pub(crate) fn position(location: Location) -> SqlPosition {
    SqlPosition { line: location.line, column: location.column }
}

fn parse_create_database(parser: &mut Parser) -> Result<CreateDatabase, ParserError> {
    parser.expect_keyword_is(Keyword::CREATE)?;
    if parser.parse_one_of_keywords(&[Keyword::DATABASE, Keyword::SCHEMA]).is_none() {
        return parser.expected("DATABASE or SCHEMA", parser.peek_token());
    }
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_identifier()?;
    let mut database = CreateDatabase { name, if_not_exists, comment: None, location: None, properties: Vec::new() };
    loop {
        if parser.parse_keyword(Keyword::COMMENT) {
            database.comment = Some(parser.parse_literal_string()?);
        } else if parser.parse_keyword(Keyword::LOCATION) {
            database.location = Some(parser.parse_literal_string()?);
        } else if is_keyword(&parser.peek_token_ref().token, Keyword::WITH) && is_word(parser, 1, "DBPROPERTIES") {
            parser.next_token();
            parser.next_token();
            parser.expect_token(&Token::LParen)?;
            let options = parser.parse_comma_separated(Parser::parse_sql_option)?;
            parser.expect_token(&Token::RParen)?;
            database.properties = option_pairs(options)?;
        } else {
            return Ok(database);
        }
    }
}

fn parse_create_external_table(parser: &mut Parser) -> Result<CreateExternalTable, ParserError> {
    let start = position(parser.peek_token_ref().span.start);
    parser.expect_keywords(&[Keyword::CREATE, Keyword::EXTERNAL, Keyword::TABLE])?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    // Only CETAS may leave the columns out; the check is at the end, once `AS` is known.
    let columns_at = parser.peek_token();
    let columns = if parser.peek_token_ref().token == Token::LParen { parse_column_specs(parser)? } else { Vec::new() };
    let comment = if parser.parse_keyword(Keyword::COMMENT) { Some(parser.parse_literal_string()?) } else { None };
    let partitions_at = parser.peek_token();
    let (partitioned_by, partition_names) = if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
        if peek_untyped_names(parser) {
            parser.expect_token(&Token::LParen)?;
            let names = parser.parse_comma_separated(|p| p.parse_identifier())?;
            parser.expect_token(&Token::RParen)?;
            (Vec::new(), names)
        } else {
            (parse_column_specs(parser)?, Vec::new())
        }
    } else {
        (Vec::new(), Vec::new())
    };
    let mut formats = parser.parse_hive_formats()?.unwrap_or_default();
    let serde_properties = option_pairs(formats.serde_properties.take().unwrap_or_default())?;
    let table_properties = option_pairs(parser.parse_options(Keyword::TBLPROPERTIES)?)?;
    let query = if parser.parse_keyword(Keyword::AS) { Some(parser.parse_query()?) } else { None };
    if query.is_none() {
        if columns.is_empty() {
            return parser.expected("a column list (name type, ...), or AS SELECT after LOCATION", columns_at);
        }
        if !partition_names.is_empty() {
            return parser.expected("typed partition columns (name type, ...) without AS SELECT", partitions_at);
        }
    }
    Ok(CreateExternalTable {
        name,
        if_not_exists,
        columns,
        comment,
        partitioned_by,
        formats,
        serde_properties,
        table_properties,
        position: start,
        partition_names,
        query,
    })
}

/// `(name, ...)` or `(name)` with no type after a name (consumes nothing).
fn peek_untyped_names(parser: &Parser) -> bool {
    parser.peek_token_ref().token == Token::LParen
        && matches!(parser.peek_nth_token_ref(1).token, Token::Word(_))
        && matches!(parser.peek_nth_token_ref(2).token, Token::Comma | Token::RParen)
}

/// `(name type [COMMENT '..'], ...)`.
fn parse_column_specs(parser: &mut Parser) -> Result<Vec<ColumnSpec>, ParserError> {
    parser.expect_token(&Token::LParen)?;
    let columns = parser.parse_comma_separated(|p| {
        let name = p.parse_identifier()?;
        let type_position = position(p.peek_token_ref().span.start);
        let data_type = p.parse_data_type()?.to_string();
        let comment = if p.parse_keyword(Keyword::COMMENT) { Some(p.parse_literal_string()?) } else { None };
        Ok(ColumnSpec { name, data_type, type_position, comment })
    })?;
    parser.expect_token(&Token::RParen)?;
    Ok(columns)
}

/// `('key' = 'value', ...)` options as text pairs; values must be literals.
fn option_pairs(options: Vec<SqlOption>) -> Result<Vec<(String, String)>, ParserError> {
    options
        .into_iter()
        .map(|option| match option {
            SqlOption::KeyValue { key, value } => {
                let key = key.0.iter().filter_map(|part| part.as_ident()).map(|i| i.value.as_str()).collect::<Vec<_>>();
                let key = key.join(".");
                match literal_text(&value) {
                    Some(text) => Ok((key, text)),
                    None => Err(ParserError::ParserError(format!(
                        "Expected: a literal value for property '{key}', found: {value}{}",
                        value.span().start
                    ))),
                }
            }
            other => Err(ParserError::ParserError(format!(
                "Expected: 'key' = 'value', found: {other}{}",
                other.span().start
            ))),
        })
        .collect()
}

/// The text of a string, number or boolean literal.
fn literal_text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn parse_add_partitions(parser: &mut Parser, table: ObjectName) -> Result<AddPartitions, ParserError> {
    parser.expect_keyword_is(Keyword::ADD)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let mut partitions = Vec::new();
    while parser.parse_keyword(Keyword::PARTITION) {
        let values = parse_partition_values(parser)?;
        let location =
            if parser.parse_keyword(Keyword::LOCATION) { Some(parser.parse_literal_string()?) } else { None };
        partitions.push(PartitionSpec { values, location });
    }
    if partitions.is_empty() {
        return parser.expected("PARTITION", parser.peek_token());
    }
    Ok(AddPartitions { table, if_not_exists, partitions })
}

fn parse_drop_partitions(parser: &mut Parser, table: ObjectName) -> Result<DropPartitions, ParserError> {
    parser.expect_keyword_is(Keyword::DROP)?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let mut partitions = Vec::new();
    loop {
        parser.expect_keyword_is(Keyword::PARTITION)?;
        partitions.push(parse_partition_values(parser)?);
        // Hive separates the partitions with commas; Athena also accepts them without.
        let more =
            parser.consume_token(&Token::Comma) || is_keyword(&parser.peek_token_ref().token, Keyword::PARTITION);
        if !more {
            return Ok(DropPartitions { table, if_exists, partitions });
        }
    }
}

/// `(key = literal, ...)`.
fn parse_partition_values(parser: &mut Parser) -> Result<Vec<PartitionValue>, ParserError> {
    parser.expect_token(&Token::LParen)?;
    let values = parser.parse_comma_separated(|p| {
        let key = p.parse_identifier()?;
        p.expect_token(&Token::Eq)?;
        let token = p.next_token();
        let value = match &token.token {
            Token::SingleQuotedString(s) => s.clone(),
            Token::Number(n, _) => n.clone(),
            Token::Minus => match p.next_token() {
                TokenWithSpan { token: Token::Number(n, _), .. } => format!("-{n}"),
                other => return p.expected("a number", other),
            },
            Token::Word(w) if w.quote_style.is_none() && matches!(w.keyword, Keyword::TRUE | Keyword::FALSE) => {
                w.value.to_ascii_lowercase()
            }
            _ => return p.expected("a partition value (a string or number literal)", token),
        };
        Ok(PartitionValue { key, value, position: position(token.span.start) })
    })?;
    parser.expect_token(&Token::RParen)?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::Tokenizer;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location().expect("tokenizes");
        rewrite_tokens(tokens).iter().map(|t| t.token.to_string()).collect()
    }

    #[test]
    fn approximate_count_distinct_becomes_approx_distinct() {
        assert_eq!(rewritten("SELECT APPROXIMATE  COUNT ( DISTINCT x) FROM t"), "SELECT approx_distinct (  x) FROM t");
        assert_eq!(rewritten("select approximate /* c */ count(distinct a + 1)"), "select approx_distinct( a + 1)");
    }

    #[test]
    fn other_uses_of_approximate_are_untouched() {
        for sql in [
            "SELECT approximate FROM t",
            "SELECT APPROXIMATE COUNT(x) FROM t",
            "SELECT \"APPROXIMATE\" COUNT(DISTINCT x)",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }

    #[test]
    fn cetas_parses_untyped_partitions_and_a_query() {
        let sql = "CREATE EXTERNAL TABLE db.t PARTITIONED BY (region) STORED AS PARQUET LOCATION 's3://b/t/' AS \
                   SELECT a, region FROM src";
        let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location().expect("tokenizes");
        let mut parser = Parser::new(&GenericDialect {}).with_tokens_with_locations(tokens);
        let Some(TarnStatement::CreateExternalTable(create)) = parse_tarn_statement(&mut parser).expect("parses")
        else {
            panic!("not a CREATE EXTERNAL TABLE");
        };
        assert!(create.columns.is_empty());
        assert_eq!(create.partition_names, vec![sqlparser::ast::Ident::new("region")]);
        assert_eq!(create.formats.location.as_deref(), Some("s3://b/t/"));
        assert_eq!(create.query.expect("a query").to_string(), "SELECT a, region FROM src");
    }
}
