//! Characters as numbers and text as digests: `ASCII(s)` (code point of the first character,
//! 0 for the empty string), `CHR(n)` (the character of a code point) and `MD5(s)` (32 lower-case
//! hex digits). MD5 is implemented here from RFC 1321: it is small, and no dependency is needed
//! for one function.

use std::sync::Arc;

use arrow::array::{Int32Array, StringArray, StringBuilder};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_usage, int_values, integer_arg, string_arg, text_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;

/// Registers the code functions.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Ascii));
    registry.register_scalar(Arc::new(Chr));
    registry.register_scalar(Arc::new(Md5));
}

/// `ASCII(s)`: INTEGER code point of the first character.
struct Ascii;

impl ScalarFunction for Ascii {
    fn name(&self) -> &str {
        "ascii"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "ascii(text)")?;
        Ok(Signature { arg_types: vec![text_arg(self.name(), 0, &args[0])?], return_type: DataType::Int32 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let text = string_arg(&args[0], num_rows)?;
        let out: Int32Array = text.iter().map(|s| s.map(|s| s.chars().next().map_or(0, |c| c as i32))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `CHR(n)`: the character with code point `n`; 0 and invalid code points are errors
/// (PostgreSQL: "null character not permitted", "requested character too large").
struct Chr;

impl ScalarFunction for Chr {
    fn name(&self) -> &str {
        "chr"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "chr(integer)")?;
        Ok(Signature { arg_types: vec![integer_arg(self.name(), 0, &args[0])?], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let codes = int_values(&args[0], num_rows)?;
        let out = codes
            .into_iter()
            .map(|code| {
                code.map(|n| {
                    u32::try_from(n).ok().filter(|&n| n != 0).and_then(char::from_u32).map(String::from).ok_or_else(
                        || EngineError::execution(format!("function chr: {n} is not a valid character code")),
                    )
                })
                .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

/// `MD5(s)`: the MD5 digest of the UTF-8 bytes of `s` as 32 lower-case hex digits.
struct Md5;

impl ScalarFunction for Md5 {
    fn name(&self) -> &str {
        "md5"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "md5(text)")?;
        Ok(Signature { arg_types: vec![text_arg(self.name(), 0, &args[0])?], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let text = string_arg(&args[0], num_rows)?;
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 32);
        let mut hex = String::with_capacity(32);
        for value in text.iter() {
            match value {
                Some(s) => {
                    hex.clear();
                    for byte in md5(s.as_bytes()) {
                        hex.push_str(&format!("{byte:02x}"));
                    }
                    out.append_value(&hex);
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Per-round shift amounts (RFC 1321 §3.4).
const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

/// The MD5 digest of `data` (RFC 1321).
fn md5(data: &[u8]) -> [u8; 16] {
    // K[i] = floor(|sin(i + 1)| * 2^32), exact in f64 for these magnitudes.
    let k: [u32; 64] = std::array::from_fn(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32);
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in message.chunks_exact(64) {
        let m: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]])
        });
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(k[i]).wrapping_add(m[g]).rotate_left(SHIFTS[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut digest = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        digest[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    fn hex(data: &str) -> String {
        md5(data.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_rfc1321_vectors() {
        assert_eq!(hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
        let long = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(hex(long), "57edf4a22be3c955ac49da2e2107b67a");
    }

    #[test]
    fn ascii_and_chr() {
        let text = ColumnarValue::Array(Arc::new(StringArray::from(vec![Some("Abc"), Some(""), None])));
        let out = Ascii.invoke(&[text], 3).unwrap().into_array(3);
        let out = out.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some(65), Some(0), None]);
        let codes = ColumnarValue::Array(Arc::new(arrow::array::Int64Array::from(vec![Some(233), None])));
        let out = Chr.invoke(&[codes], 2).unwrap().into_array(2);
        assert_eq!(out.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("é"), None]);
        let zero = ColumnarValue::Array(Arc::new(arrow::array::Int64Array::from(vec![0])));
        assert!(Chr.invoke(&[zero], 1).is_err());
    }
}
