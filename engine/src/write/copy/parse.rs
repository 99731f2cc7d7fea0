//! Parsing Redshift `COPY t [(cols)] FROM '...' [options]`. sqlparser's COPY knows only some of
//! Redshift's options (it stops at `MAXERROR`, `FILLRECORD`, ...), so Tarn reads the whole
//! statement itself, with sqlparser's tokens so errors keep their line and column.

use sqlparser::ast::Ident;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use crate::write::copy::{CopyCompression, CopyFormat, CopyStatement, TimeFormat};

/// Whether the statement at the parser's position is a `COPY` (consumes nothing).
pub fn is_copy(parser: &Parser) -> bool {
    matches!(&parser.peek_token_ref().token, Token::Word(w) if w.keyword == Keyword::COPY && w.quote_style.is_none())
}

/// Parses `COPY ...` (the parser is at `COPY`).
pub fn parse_copy(parser: &mut Parser) -> Result<CopyStatement, ParserError> {
    parser.expect_keyword(Keyword::COPY)?;
    let table = parser.parse_object_name(false)?;
    let mut columns: Vec<Ident> = Vec::new();
    if parser.consume_token(&Token::LParen) {
        columns = parser.parse_comma_separated(|p| p.parse_identifier())?;
        parser.expect_token(&Token::RParen)?;
    }
    parser.expect_keyword(Keyword::FROM)?;
    let source = parser.parse_literal_string()?;
    let mut copy = CopyStatement::new(table, columns, source);
    loop {
        let token = parser.peek_token();
        let word = match &token.token {
            Token::Word(w) => w.value.to_ascii_uppercase(),
            Token::EOF | Token::SemiColon => break,
            _ => return parser.expected("a COPY option", token),
        };
        parser.next_token();
        match word.as_str() {
            "CREDENTIALS"
            | "IAM_ROLE"
            | "ACCESS_KEY_ID"
            | "SECRET_ACCESS_KEY"
            | "SESSION_TOKEN"
            | "MASTER_SYMMETRIC_KEY" => {
                optional_as(parser);
                // `IAM_ROLE default` names the cluster's role; credentials come from the AWS chain.
                if !parser.parse_keyword(Keyword::DEFAULT) {
                    parser.parse_literal_string()?;
                }
            }
            "REGION" => {
                optional_as(parser);
                copy.region = Some(parser.parse_literal_string()?);
            }
            "FORMAT" => {
                optional_as(parser);
                let format = parser.next_token();
                match &format.token {
                    Token::Word(w) if w.value.eq_ignore_ascii_case("CSV") => parse_csv(parser, &mut copy)?,
                    Token::Word(w) if w.value.eq_ignore_ascii_case("PARQUET") => copy.format = CopyFormat::Parquet,
                    _ => return parser.expected("CSV or PARQUET after FORMAT AS", format),
                }
            }
            "CSV" => parse_csv(parser, &mut copy)?,
            "PARQUET" => copy.format = CopyFormat::Parquet,
            "DELIMITER" => {
                optional_as(parser);
                copy.delimiter = Some(parser.parse_literal_string()?);
            }
            "IGNOREHEADER" => {
                optional_as(parser);
                copy.ignore_header = parser.parse_literal_uint()?;
            }
            "MAXERROR" => {
                optional_as(parser);
                copy.max_error = parser.parse_literal_uint()?;
            }
            "DATEFORMAT" => {
                optional_as(parser);
                copy.date_format = Some(parser.parse_literal_string()?);
            }
            "TIMEFORMAT" => {
                optional_as(parser);
                copy.time_format = TimeFormat::parse(&parser.parse_literal_string()?);
            }
            "NULL" => {
                optional_as(parser);
                copy.null_as = Some(parser.parse_literal_string()?);
            }
            "ACCEPTINVCHARS" => {
                copy.accept_inv_chars = Some('?');
                if parser.parse_keyword(Keyword::AS)
                    || matches!(parser.peek_token_ref().token, Token::SingleQuotedString(_))
                {
                    copy.accept_inv_chars = parser.parse_literal_string()?.chars().next();
                }
            }
            "REMOVEQUOTES" => copy.remove_quotes = true,
            "BLANKSASNULL" => copy.blanks_as_null = true,
            "EMPTYASNULL" => copy.empty_as_null = true,
            "FILLRECORD" => copy.fill_record = true,
            "TRUNCATECOLUMNS" => copy.truncate_columns = true,
            "IGNOREBLANKLINES" => {}
            "TRIMBLANKS" => copy.trim_blanks = true,
            "ESCAPE" => copy.escape = true,
            "GZIP" => copy.compression = CopyCompression::Gzip,
            "ZSTD" => copy.compression = CopyCompression::Zstd,
            "BZIP2" | "LZOP" => copy.compression = CopyCompression::Unsupported(word.clone()),
            "COMPUPDATE" | "STATUPDATE" => {
                // Redshift's encoding and statistics switches; nothing to do in Tarn.
                let _ = parser.parse_one_of_keywords(&[Keyword::ON, Keyword::OFF, Keyword::TRUE, Keyword::FALSE]);
            }
            _ => return parser.expected("a COPY option (DELIMITER, IGNOREHEADER, CSV, MAXERROR, ...)", token),
        }
    }
    Ok(copy)
}

/// `CSV [QUOTE [AS] 'q']`.
fn parse_csv(parser: &mut Parser, copy: &mut CopyStatement) -> Result<(), ParserError> {
    copy.format = CopyFormat::Csv;
    if matches!(&parser.peek_token_ref().token, Token::Word(w) if w.value.eq_ignore_ascii_case("QUOTE")) {
        parser.next_token();
        optional_as(parser);
        let quote = parser.parse_literal_string()?;
        copy.quote = quote.bytes().next();
    }
    Ok(())
}

fn optional_as(parser: &mut Parser) {
    let _ = parser.parse_keyword(Keyword::AS);
}
