//! Where the REPL's input ends: a small lexer that finds `;` terminators outside quotes and
//! comments, so a statement may span lines and the prompt knows when to run it. It only decides
//! completeness; the engine's parser splits and parses what is then run.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// Inside `'...'`, `"..."` or `` `...` `` (Hive identifiers); the char is the closing quote.
    /// A doubled quote (`''`) reads as a close and a reopen, which is the same to this lexer.
    Quoted(char),
    LineComment,
    BlockComment,
}

/// What a scan of a text found.
struct Scan {
    /// Statements with code in them (a lone `;` or a comment is none).
    statements: usize,
    /// Whether the last statement ends with `;`.
    terminated: bool,
    end_state: State,
}

fn scan(text: &str) -> Scan {
    let mut statements = 0;
    let mut state = State::Code;
    // Whether the current statement has anything besides blanks and comments.
    let mut has_code = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match state {
            State::Code => match c {
                ';' => {
                    statements += usize::from(has_code);
                    has_code = false;
                }
                '-' if next == Some('-') => {
                    chars.next();
                    state = State::LineComment;
                }
                '/' if next == Some('*') => {
                    chars.next();
                    state = State::BlockComment;
                }
                c if c.is_whitespace() => {}
                c => {
                    if matches!(c, '\'' | '"' | '`') {
                        state = State::Quoted(c);
                    }
                    has_code = true;
                }
            },
            State::Quoted(close) if c == close => state = State::Code,
            State::Quoted(_) => {}
            State::LineComment if c == '\n' => state = State::Code,
            State::LineComment => {}
            State::BlockComment if c == '*' && next == Some('/') => {
                chars.next();
                state = State::Code;
            }
            State::BlockComment => {}
        }
    }
    Scan { statements: statements + usize::from(has_code), terminated: !has_code, end_state: state }
}

/// Whether a REPL buffer is ready to run: it has a statement, the last statement ends with `;`
/// outside quotes and comments, and no quote or block comment is left open.
pub fn is_complete(text: &str) -> bool {
    let scan = scan(text);
    scan.statements > 0 && scan.terminated && matches!(scan.end_state, State::Code | State::LineComment)
}

/// Whether the text holds nothing but blanks and closed comments: nothing to run, nothing open.
pub fn is_blank(text: &str) -> bool {
    let scan = scan(text);
    scan.statements == 0 && scan.end_state != State::BlockComment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_only_at_a_terminating_semicolon() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1;  "));
        assert!(is_complete("SELECT 1; -- trailing comment"));
        assert!(is_complete("SELECT 1; /* done */"));
        assert!(is_complete("SELECT\n  1\n;"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
        assert!(!is_complete(""));
        assert!(!is_complete("-- only a comment;"));
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_count() {
        assert!(!is_complete("SELECT 'a;"));
        assert!(!is_complete("SELECT 'a;' "));
        assert!(is_complete("SELECT 'a;';"));
        assert!(is_complete("SELECT 'it''s; fine';"));
        assert!(!is_complete("SELECT \"col;"));
        assert!(!is_complete("SELECT `col;` "));
        assert!(!is_complete("SELECT 1 -- not yet;"));
        assert!(!is_complete("SELECT 1 /* not yet; */"));
        assert!(!is_complete("SELECT 1; /* open"));
        assert!(is_complete("SELECT 1 /* a;\n b */;"));
        assert!(is_complete("SELECT 1 -- a;\n;"));
        assert!(is_complete("SELECT 4 - -3;"));
        assert!(is_complete("SELECT 4 / 2;"));
    }

    #[test]
    fn blank_means_only_comments_and_space() {
        assert!(is_blank("  -- hi\n /* there */ "));
        assert!(!is_blank("-- hi\nSELECT"));
        assert!(!is_blank("/* still open"));
    }
}
