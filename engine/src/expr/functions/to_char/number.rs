//! `TO_CHAR(number, fmt)` with the numeric template patterns of Redshift ("Numeric format
//! strings") and PostgreSQL ("Template Patterns for Numeric Formatting"): `9 0 . D , G FM S MI PL
//! SG L PR EEEE`, `"quoted text"` and `\x` escapes; any other non-letter is copied.
//!
//! The layout follows PostgreSQL's `NUM_processor` step for step, since analysts compare the
//! output character for character: without `FM` a leading position is kept for the sign, `9`
//! pads with blanks and `0` with zeros, a `,` before the first digit is a blank, the value is
//! rounded half away from zero to the pattern's fractional digits, and a value with more integer
//! digits than the pattern prints `#` for every digit. The locale is Redshift's en_US: `D` is `.`,
//! `G` is `,` and `L` is `$`. Letters that are no pattern (`YYYY` on a number, `RN`, `TH`, `V`)
//! are errors rather than copied text, because they are almost always a mistaken pattern.

use crate::error::{EngineError, Result};

/// Significant digits a DOUBLE PRECISION is printed with (C's `DBL_DIG`, as PostgreSQL does).
const DOUBLE_DIGITS: usize = 15;

const DECIMAL_POINT: &str = ".";
const GROUP_SEPARATOR: &str = ",";
const CURRENCY: &str = "$";

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Nine,
    Zero,
    Point,
    Comma,
    Group,
    Currency,
    Minus,
    Plus,
    PlusMinus,
    /// `FM`, `S`, `PR`, `EEEE`: flags only, no output of their own.
    Flag,
    Literal(String),
}

/// Where an `S` pattern puts the sign: before the first digit or after the last.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AnchoredSign {
    Before,
    After,
}

/// A compiled numeric template (PostgreSQL's `NUMDesc` plus the node list).
#[derive(Debug, Clone)]
pub(crate) struct NumberTemplate {
    nodes: Vec<Node>,
    /// Digit positions before and after the decimal point.
    pre: usize,
    post: usize,
    decimal: bool,
    fill_mode: bool,
    /// 1-based position of the first `0` among the digit positions, 0 when there is none.
    zero_start: usize,
    zero_end: usize,
    has_zero: bool,
    anchored: Option<AnchoredSign>,
    /// Digit positions before the `S` that anchors the sign in front.
    pre_before_sign: usize,
    brackets: bool,
    minus: bool,
    plus: bool,
    scientific: bool,
}

/// The patterns, longest first; matched case-insensitively.
const KEYWORDS: &[&str] =
    &["EEEE", "FM", "MI", "PL", "SG", "PR", "RN", "TH", "9", "0", ".", ",", "D", "G", "L", "S", "V"];

fn template_error(format: &str, why: impl std::fmt::Display) -> EngineError {
    EngineError::execution(format!(
        "function to_char: invalid numeric format '{format}': {why}; expected to_char(number, format) with the \
         patterns 9 0 . D , G FM S MI PL SG L PR EEEE and \"quoted text\""
    ))
}

impl NumberTemplate {
    /// Compiles `format`, checking the combinations PostgreSQL rejects.
    pub(crate) fn compile(format: &str) -> Result<NumberTemplate> {
        let mut t = NumberTemplate {
            nodes: Vec::new(),
            pre: 0,
            post: 0,
            decimal: false,
            fill_mode: false,
            zero_start: 0,
            zero_end: 0,
            has_zero: false,
            anchored: None,
            pre_before_sign: 0,
            brackets: false,
            minus: false,
            plus: false,
            scientific: false,
        };
        let chars: Vec<char> = format.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '"' {
                let end = chars[i + 1..].iter().position(|&q| q == '"').map(|p| i + 1 + p);
                let text: String = chars[i + 1..end.unwrap_or(chars.len())].iter().collect();
                t.nodes.push(Node::Literal(text));
                i = end.map_or(chars.len(), |e| e + 1);
                continue;
            }
            if c == '\\' {
                if let Some(&next) = chars.get(i + 1) {
                    t.nodes.push(Node::Literal(next.to_string()));
                }
                i += 2;
                continue;
            }
            let rest: String = chars[i..].iter().take(4).collect::<String>().to_ascii_uppercase();
            let Some(keyword) = KEYWORDS.iter().find(|k| rest.starts_with(*k)) else {
                if c.is_alphabetic() {
                    return Err(template_error(format, format_args!("'{c}' is not a numeric format pattern")));
                }
                t.nodes.push(Node::Literal(c.to_string()));
                i += 1;
                continue;
            };
            t.add(keyword, format)?;
            i += keyword.len();
        }
        if t.pre + t.post == 0 && !t.scientific {
            return Err(template_error(format, "it has no digit position (9 or 0)"));
        }
        Ok(t)
    }

    /// PostgreSQL's `NUMDesc_prepare` for one keyword.
    fn add(&mut self, keyword: &str, format: &str) -> Result<()> {
        let fail = |why: &str| Err(template_error(format, why));
        let node = match keyword {
            "9" | "0" => {
                if self.brackets {
                    return fail("\"9\" must be ahead of \"PR\"");
                }
                if keyword == "0" && !self.has_zero {
                    self.has_zero = true;
                    self.zero_start = self.pre + 1;
                }
                if self.decimal {
                    self.post += 1;
                } else {
                    self.pre += 1;
                }
                if keyword == "0" {
                    self.zero_end = self.pre + self.post;
                    Node::Zero
                } else {
                    Node::Nine
                }
            }
            "." | "D" => {
                if self.decimal {
                    return fail("multiple decimal points");
                }
                self.decimal = true;
                Node::Point
            }
            "," => Node::Comma,
            "G" => Node::Group,
            "L" => Node::Currency,
            "FM" => {
                self.fill_mode = true;
                Node::Flag
            }
            "S" => {
                if self.anchored.is_some() {
                    return fail("cannot use \"S\" twice");
                }
                if self.plus || self.minus || self.brackets {
                    return fail("cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together");
                }
                if self.decimal {
                    self.anchored = Some(AnchoredSign::After);
                } else {
                    self.anchored = Some(AnchoredSign::Before);
                    self.pre_before_sign = self.pre;
                }
                Node::Flag
            }
            "MI" | "PL" | "SG" => {
                if self.anchored.is_some() {
                    return fail("cannot use \"S\" and \"PL\"/\"MI\"/\"SG\" together");
                }
                match keyword {
                    "MI" => {
                        self.minus = true;
                        Node::Minus
                    }
                    "PL" => {
                        self.plus = true;
                        Node::Plus
                    }
                    _ => {
                        self.minus = true;
                        self.plus = true;
                        Node::PlusMinus
                    }
                }
            }
            "PR" => {
                if self.anchored.is_some() || self.plus || self.minus {
                    return fail("cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together");
                }
                self.brackets = true;
                Node::Flag
            }
            "EEEE" => {
                if self.scientific {
                    return fail("cannot use \"EEEE\" twice");
                }
                if self.fill_mode || self.anchored.is_some() || self.brackets || self.minus || self.plus {
                    return fail("\"EEEE\" may only be used together with digit and decimal point patterns");
                }
                self.scientific = true;
                Node::Flag
            }
            other => return fail(&format!("the pattern \"{other}\" is not supported")),
        };
        self.nodes.push(node);
        Ok(())
    }

    /// Formats an exact decimal `unscaled * 10^-scale`.
    pub(crate) fn format_decimal(&self, unscaled: i128, scale: i8, out: &mut String) {
        let negative = unscaled < 0;
        let digits = unscaled.unsigned_abs().to_string();
        self.format_digits(negative, &digits, scale.max(0) as usize, out);
    }

    /// Formats a double: its shortest exact decimal text, at most 15 significant digits, as
    /// PostgreSQL prints a DOUBLE PRECISION. NaN and infinities print as `#`s.
    pub(crate) fn format_double(&self, value: f64, out: &mut String) {
        if !value.is_finite() {
            self.overflow(if value.is_sign_negative() && !value.is_nan() { '-' } else { '+' }, out);
            return;
        }
        let text = format!("{:?}", value.abs());
        let (mantissa, exponent) = match text.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
            None => (text.clone(), 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
        // digits * 10^(exponent - fraction.len()) as an integer string and a scale.
        let mut digits = format!("{whole}{fraction}");
        let mut scale = fraction.len() as i32 - exponent;
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let integer_digits = digits.len().saturating_sub(scale as usize).max(1);
        let allowed_post = DOUBLE_DIGITS.saturating_sub(integer_digits);
        let negative = value.is_sign_negative() && value != 0.0;
        if self.scientific {
            self.format_digits(negative, digits, scale as usize, out);
        } else {
            let t = NumberTemplate { post: self.post.min(allowed_post), ..self.clone() };
            t.format_digits(negative, digits, scale as usize, out);
        }
    }

    /// Formats `digits` (no sign, no leading zeros unless zero) read with `scale` fractional digits.
    fn format_digits(&self, negative: bool, digits: &str, scale: usize, out: &mut String) {
        if self.scientific {
            out.push_str(&scientific(negative, digits, scale, self.post));
            return;
        }
        let (integer, fraction) = round_half_away(digits, scale, self.post);
        let is_zero = integer.bytes().chain(fraction.bytes()).all(|b| b == b'0');
        let sign = if negative && !is_zero { '-' } else { '+' };
        let integer = integer.trim_start_matches('0');
        let integer = if integer.is_empty() { "0" } else { integer };
        if integer.len() > self.pre {
            self.overflow(sign, out);
            return;
        }
        let number = if self.post > 0 { format!("{integer}.{fraction}") } else { integer.to_string() };
        Layout::new(self, number, self.pre - integer.len(), sign).write(out);
    }

    /// PostgreSQL's answer when the integer part does not fit: `#` in every digit position.
    fn overflow(&self, sign: char, out: &mut String) {
        if self.scientific {
            out.push_str(&"#".repeat(self.post + 6 + usize::from(self.post > 0)));
            return;
        }
        let mut number = "#".repeat(self.pre + self.post + 1);
        number.replace_range(self.pre..=self.pre, ".");
        Layout::new(self, number, 0, sign).write(out);
    }
}

/// `digits` (read with `scale` fractional digits) rounded half away from zero to `post`
/// fractional digits: the integer digits and exactly `post` fractional digits.
fn round_half_away(digits: &str, scale: usize, post: usize) -> (String, String) {
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_string()
    };
    let split = padded.len() - scale;
    let (integer, fraction) = padded.split_at(split);
    let mut kept: Vec<u8> = integer.bytes().chain(fraction.bytes().take(post)).collect();
    kept.extend(std::iter::repeat_n(b'0', post.saturating_sub(fraction.len())));
    if fraction.as_bytes().get(post).is_some_and(|&d| d >= b'5') {
        increment(&mut kept);
    }
    let integer_len = kept.len() - post;
    let text = String::from_utf8_lossy(&kept).into_owned();
    (text[..integer_len].to_string(), text[integer_len..].to_string())
}

/// Adds one unit in the last place of a digit string, growing it on a carry out of the top.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

/// `d.ddd` `e±XX` with `post` fractional digits, rounded half away from zero, and a blank in
/// place of the `+` sign (PostgreSQL's `EEEE`).
fn scientific(negative: bool, digits: &str, scale: usize, post: usize) -> String {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return format!(" 0{}{}e+00", if post > 0 { "." } else { "" }, "0".repeat(post));
    }
    let mut exponent = digits.len() as i64 - 1 - scale as i64;
    let (mut mantissa, mut fraction) = round_half_away(digits, digits.len() - 1, post);
    if mantissa.len() > 1 {
        // Rounding carried into a new digit (9.99 → 10.0): one more power of ten.
        mantissa = "1".to_string();
        fraction = "0".repeat(post);
        exponent += 1;
    }
    let sign = if negative { '-' } else { ' ' };
    let point = if post > 0 { "." } else { "" };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!("{sign}{mantissa}{point}{fraction}e{exponent_sign}{:02}", exponent.abs())
}

/// The state of PostgreSQL's `NUM_processor` while it walks the template.
struct Layout<'a> {
    t: &'a NumberTemplate,
    number: Vec<u8>,
    /// Index of the next character of `number` to print.
    next: usize,
    sign: char,
    sign_written: bool,
    anchored: Option<AnchoredSign>,
    brackets: bool,
    out_pre_spaces: usize,
    last_relevant: Option<usize>,
    num_count: usize,
    num_curr: usize,
    /// Whether digits have started (a `,` inside the number prints; before it is a blank).
    num_in: bool,
    zero_start: usize,
}

impl<'a> Layout<'a> {
    fn new(t: &'a NumberTemplate, number: String, out_pre_spaces: usize, sign: char) -> Layout<'a> {
        let number = number.into_bytes();
        let mut anchored = t.anchored;
        let mut brackets = t.brackets;
        let sign_written = if t.plus || t.minus {
            // MI/PL/SG print the sign themselves; PL alone still leaves the sign's blank.
            !t.plus || t.minus
        } else {
            if sign != '-' && t.fill_mode {
                brackets = false;
            }
            if anchored == Some(AnchoredSign::Before) && t.pre == t.pre_before_sign {
                anchored = Some(AnchoredSign::After);
            }
            sign == '+' && t.fill_mode && t.anchored.is_none()
        };
        let mut last_relevant = None;
        if t.fill_mode && t.decimal {
            if let Some(point) = number.iter().position(|&b| b == b'.') {
                let mut relevant = point;
                for (i, &b) in number.iter().enumerate().skip(point + 1) {
                    if b != b'0' {
                        relevant = i;
                    }
                }
                // `0` positions after the point are never stripped.
                if t.zero_end > out_pre_spaces {
                    let last_zero = (number.len() - 1).min(t.zero_end - out_pre_spaces);
                    relevant = relevant.max(last_zero);
                }
                last_relevant = Some(relevant);
            }
        }
        let mut num_count = (t.post + t.pre).saturating_sub(1);
        if !sign_written && out_pre_spaces == 0 {
            num_count += 1;
        }
        Layout {
            t,
            number,
            next: 0,
            sign,
            sign_written,
            anchored,
            brackets,
            out_pre_spaces,
            last_relevant,
            num_count,
            num_curr: 0,
            num_in: false,
            zero_start: t.zero_start.saturating_sub(1),
        }
    }

    fn write(mut self, out: &mut String) {
        let t = self.t;
        for node in &t.nodes {
            match node {
                Node::Nine | Node::Zero | Node::Point => self.number_part(node, out),
                Node::Comma | Node::Group => {
                    if self.num_in {
                        out.push_str(if *node == Node::Comma { "," } else { GROUP_SEPARATOR });
                    } else if !t.fill_mode {
                        out.push(' ');
                    }
                }
                Node::Currency => out.push_str(CURRENCY),
                Node::Minus => self.sign_slot(self.sign == '-', '-', out),
                Node::Plus => self.sign_slot(self.sign == '+', '+', out),
                Node::PlusMinus => out.push(self.sign),
                Node::Flag => {}
                Node::Literal(text) => out.push_str(text),
            }
        }
    }

    /// `MI`/`PL`: the sign when it applies, else a blank (nothing in fill mode).
    fn sign_slot(&self, applies: bool, symbol: char, out: &mut String) {
        if applies {
            out.push(symbol);
        } else if !self.t.fill_mode {
            out.push(' ');
        }
    }

    fn current(&self) -> u8 {
        self.number.get(self.next).copied().unwrap_or(0)
    }

    /// "0.1" with `9.9` prints " .1": the integer zero is a blank before the point.
    fn predecimal_space(&self) -> bool {
        !self.t.has_zero && self.next == 0 && self.number.first() == Some(&b'0') && self.t.post != 0
    }

    fn last_relevant_is_point(&self) -> bool {
        self.last_relevant.is_some_and(|i| self.number.get(i) == Some(&b'.'))
    }

    /// PostgreSQL's `NUM_numpart_to_char` for one `9`, `0` or decimal point.
    fn number_part(&mut self, node: &Node, out: &mut String) {
        let t = self.t;
        self.num_in = false;
        if !self.sign_written
            && (self.num_curr >= self.out_pre_spaces || (t.has_zero && self.zero_start == self.num_curr))
            && (!self.predecimal_space() || self.last_relevant_is_point())
        {
            if self.anchored.is_some() {
                if self.anchored == Some(AnchoredSign::Before) {
                    out.push(self.sign);
                    self.sign_written = true;
                }
            } else if self.brackets {
                out.push(if self.sign == '+' { ' ' } else { '<' });
                self.sign_written = true;
            } else if self.sign == '+' {
                if !t.fill_mode {
                    out.push(' ');
                }
                self.sign_written = true;
            } else {
                out.push('-');
                self.sign_written = true;
            }
        }
        if self.num_curr < self.out_pre_spaces && (self.zero_start > self.num_curr || !t.has_zero) {
            if !t.fill_mode {
                out.push(' ');
            }
        } else if t.has_zero && self.num_curr < self.out_pre_spaces && self.zero_start <= self.num_curr {
            out.push('0');
            self.num_in = true;
        } else {
            if self.current() == b'.' {
                if !self.last_relevant_is_point() || t.fill_mode {
                    out.push_str(DECIMAL_POINT);
                }
            } else if self.last_relevant.is_some_and(|r| self.next > r) && *node != Node::Zero {
                // Fill mode drops trailing fractional zeros.
            } else if self.predecimal_space() {
                if !t.fill_mode {
                    out.push(' ');
                } else if self.last_relevant_is_point() {
                    out.push('0');
                }
            } else if self.current() != 0 {
                out.push(self.current() as char);
                self.num_in = true;
            }
            if self.next < self.number.len() {
                self.next += 1;
            }
        }
        let mut end = self.num_count + usize::from(self.out_pre_spaces > 0) + usize::from(t.decimal);
        if self.last_relevant == Some(self.next) {
            end = self.num_curr;
        }
        if self.num_curr + 1 == end {
            if self.sign_written && self.brackets {
                out.push(if self.sign == '+' { ' ' } else { '>' });
            } else if self.anchored == Some(AnchoredSign::After) {
                out.push(self.sign);
            }
        }
        self.num_curr += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value` (decimal text) formatted by `format`.
    fn to_char(value: &str, format: &str) -> String {
        let negative = value.starts_with('-');
        let value = value.trim_start_matches('-');
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        let unscaled: i128 = format!("{whole}{fraction}").parse().unwrap();
        let mut out = String::new();
        NumberTemplate::compile(format).unwrap().format_decimal(
            if negative { -unscaled } else { unscaled },
            fraction.len() as i8,
            &mut out,
        );
        out
    }

    /// Answers of PostgreSQL 15's `to_char(numeric, text)` for the same calls, except `L`, which
    /// prints Redshift's (en_US) `$` where the C locale prints a blank.
    const POSTGRES: &[(&str, &str, &str)] = &[
        ("485", "999", " 485"),
        ("-485", "999", "-485"),
        ("485", "FM999", "485"),
        ("0", "999", "   0"),
        ("0", "FM999", "0"),
        ("-0.1", "99.99", "  -.10"),
        ("-0.1", "FM9.99", "-.1"),
        ("-0.1", "FM90.99", "-0.1"),
        ("0.1", "0.9", " 0.1"),
        ("12", "9990999.9", "    0012.0"),
        ("12", "FM9990999.9", "0012."),
        ("485", "9 9 9", " 4 8 5"),
        ("1485", "9,999", " 1,485"),
        ("1485", "9G999", " 1,485"),
        ("148.5", "999.999", " 148.500"),
        ("148.5", "FM999.999", "148.5"),
        ("148.5", "FM999.990", "148.500"),
        ("3148.5", "9G999D999", " 3,148.500"),
        ("-485", "999S", "485-"),
        ("-485", "999MI", "485-"),
        ("485", "999MI", "485 "),
        ("485", "FM999MI", "485"),
        ("485", "PL999", "+ 485"),
        ("-485", "PL999", " -485"),
        ("485", "SG999", "+485"),
        ("-485", "SG999", "-485"),
        ("-485", "9SG99", "4-85"),
        ("-485", "999PR", "<485>"),
        ("485", "999PR", " 485 "),
        ("485", "FM999PR", "485"),
        ("-485", "FM999PR", "<485>"),
        ("-485.5", "999.9PR", "<485.5>"),
        ("485", "\"Good number:\"999", "Good number: 485"),
        ("485.8", "\"Pre:\"999\" Post:\" .999", "Pre: 485 Post: .800"),
        ("1234", "99", " ##"),
        ("-1234.5", "99.9", "-##.#"),
        ("1234567.891", "9,999,999.99", " 1,234,567.89"),
        ("-1234567.891", "FM9,999,999.99", "-1,234,567.89"),
        ("0.5", "9", " 1"),
        ("2.5", "9", " 3"),
        ("-2.5", "9", "-3"),
        ("0.125", "9.99", "  .13"),
        ("-0.125", "9.99", " -.13"),
        ("5", "00000", " 00005"),
        ("-5", "00000", "-00005"),
        ("5", "S999", "  +5"),
        ("-5", "S999", "  -5"),
        ("5", "999S", "  5+"),
        ("-5", "FM999S", "5-"),
        ("12.345", "FM99.9999", "12.345"),
        ("0", "FM9.99", "0."),
        ("0", "9.99", "  .00"),
        ("0", "0.00", " 0.00"),
        ("100", "FM999.", "100"),
        ("1", "999,999", "       1"),
        ("1234", "999,999", "   1,234"),
        ("-1234", "999,999", "  -1,234"),
        ("0.0004859", "9.99EEEE", " 4.86e-04"),
        ("-123456.789", "9.999EEEE", "-1.235e+05"),
        ("0", "9.99EEEE", " 0.00e+00"),
        ("12345", "9EEEE", " 1e+04"),
        ("12", "$999.99", "$  12.00"),
        ("12", "L999", "$  12"),
        ("7", "MI99", "  7"),
        ("-7", "MI99", "- 7"),
        ("7", "99PL", "  7+"),
    ];

    #[test]
    fn matches_postgres() {
        let failures: Vec<String> = POSTGRES
            .iter()
            .filter_map(|(value, format, expected)| {
                let got = to_char(value, format);
                (got != *expected).then(|| format!("to_char({value}, '{format}') = '{got}', expected '{expected}'"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn doubles_and_integers() {
        let format = |v: f64, f: &str| {
            let mut out = String::new();
            NumberTemplate::compile(f).unwrap().format_double(v, &mut out);
            out
        };
        assert_eq!(format(2.675, "9.99"), " 2.68");
        assert_eq!(format(-1234.5, "FM9,999.9"), "-1,234.5");
        assert_eq!(format(1e20, "999"), " ###");
        assert_eq!(format(f64::NAN, "99.9"), " ##.#");
        assert_eq!(format(0.0004859, "9.99EEEE"), " 4.86e-04");
        assert_eq!(format(9.999, "9.99EEEE"), " 1.00e+01");
    }

    #[test]
    fn bad_patterns_name_the_function() {
        for (format, why) in [
            ("YYYY", "'Y' is not a numeric format pattern"),
            ("99.9.9", "multiple decimal points"),
            ("S999S", "cannot use \"S\" twice"),
            ("999MIS", "cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together"),
            ("FM9.99EEEE", "\"EEEE\" may only be used"),
            ("RN", "\"RN\" is not supported"),
            ("--", "no digit position"),
        ] {
            let err = NumberTemplate::compile(format).unwrap_err().to_string();
            assert!(err.contains("function to_char") && err.contains(why), "{format}: {err}");
        }
    }
}
