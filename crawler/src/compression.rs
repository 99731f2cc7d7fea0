//! Compressed text recognised by its magic bytes, not its name: `.gz` files named `.csv` and
//! unmarked gzip files are common in lakes, and the engine's scans also decide by magic.

use std::io::Read;

/// The compression of a text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
}

impl Compression {
    /// From the first bytes of a file.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }

    /// The `compressionType` value Glue and Athena write.
    pub fn as_str(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// Whether Tarn's scans can read text compressed this way.
    pub fn is_readable(&self) -> bool {
        !matches!(self, Compression::Bzip2)
    }
}

/// Decompresses the start of a stream whose first `data.len()` compressed bytes are given,
/// stopping after `limit` bytes of output. A stream cut short by the sample's end is expected;
/// the text decoded up to that point is returned. `Err` when nothing at all decodes.
pub fn decompress_prefix(compression: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let result = match compression {
        Compression::None => {
            out.extend_from_slice(&data[..data.len().min(limit)]);
            Ok(0)
        }
        Compression::Gzip => flate2::read::MultiGzDecoder::new(data).take(limit as u64).read_to_end(&mut out),
        Compression::Zstd => match zstd::stream::read::Decoder::new(data) {
            Ok(decoder) => decoder.take(limit as u64).read_to_end(&mut out),
            Err(e) => Err(e),
        },
        Compression::Bzip2 => return Err("bzip2-compressed; Tarn's scans read gzip and zstd text only".into()),
    };
    match result {
        Err(e) if out.is_empty() => Err(format!("corrupt {} data: {e}", compression.as_str())),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn detects_by_magic_and_decodes_truncated_streams() {
        let text = "id,name\n".to_string() + &"1,alpha\n".repeat(5000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(Compression::detect(&gz), Compression::Gzip);
        let out = decompress_prefix(Compression::Gzip, &gz[..gz.len() / 2], 1 << 20).unwrap();
        assert!(out.starts_with(b"id,name\n1,alpha\n") && out.len() < text.len());

        let zst = zstd::stream::encode_all(text.as_bytes(), 3).unwrap();
        assert_eq!(Compression::detect(&zst), Compression::Zstd);
        assert_eq!(decompress_prefix(Compression::Zstd, &zst, 100).unwrap(), &text.as_bytes()[..100]);

        assert_eq!(Compression::detect(b"BZh91AY&SY"), Compression::Bzip2);
        assert!(decompress_prefix(Compression::Bzip2, b"BZh9", 10).is_err());
        assert_eq!(Compression::detect(b"id,name"), Compression::None);
        assert!(decompress_prefix(Compression::Gzip, &[0x1f, 0x8b, 0, 0, 0], 10).is_err());
    }
}
