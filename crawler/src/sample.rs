//! Reading a sample of a text file: its head, and for large uncompressed files a few more
//! pieces spread evenly through it (ranged reads in one batch), so a column that turns from
//! integers to decimals halfway through is seen. Compressed streams can only be read from the
//! start, so they are sampled from the head alone.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::compression::{decompress_prefix, Compression};
use crate::object_error::read_failure;

/// Bytes read from the start of every file; a file this small is read whole.
pub const HEAD_BYTES: u64 = 256 * 1024;
/// Bytes of each piece read from the middle of a large file.
const PIECE_BYTES: u64 = 64 * 1024;
/// Pieces read from the middle of a large file, besides its head and tail.
const PIECES: u64 = 6;
/// Compressed bytes read from a compressed file, and the most text decoded from them.
const COMPRESSED_BYTES: u64 = 1024 * 1024;
const DECOMPRESSED_LIMIT: usize = 16 * 1024 * 1024;

/// The text sampled from one file.
#[derive(Debug, Clone)]
pub struct TextSample {
    /// Text from the start of the file (decompressed), cut after its last complete line unless
    /// `whole` is set.
    pub head: Vec<u8>,
    /// Pieces from further on; each starts and ends mid-line, which the parser trims.
    pub pieces: Vec<Bytes>,
    /// The head is the whole file's text.
    pub whole: bool,
    pub compression: Compression,
    /// Text bytes per stored byte (1 for uncompressed), to estimate row counts.
    pub expansion: f64,
}

/// Samples the text of the file whose first bytes, `first`, have already been read.
pub async fn sample_text(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    size: u64,
    first: Bytes,
) -> Result<TextSample, String> {
    let compression = Compression::detect(&first);
    let read_error = |e: object_store::Error| read_failure(path.as_ref(), &e);
    if compression != Compression::None {
        let data = if size > first.len() as u64 {
            store.get_range(path, 0..size.min(COMPRESSED_BYTES)).await.map_err(read_error)?
        } else {
            first
        };
        let text = decompress_prefix(compression, &data, DECOMPRESSED_LIMIT)?;
        let whole = data.len() as u64 == size && text.len() < DECOMPRESSED_LIMIT;
        let expansion = text.len() as f64 / data.len().max(1) as f64;
        let head = if whole { text } else { complete_lines(text) };
        return Ok(TextSample { head, pieces: Vec::new(), whole, compression, expansion });
    }
    let whole = size <= first.len() as u64;
    let head = if whole { first.to_vec() } else { complete_lines(first.to_vec()) };
    let mut pieces = Vec::new();
    if !whole {
        let span = size - HEAD_BYTES;
        let ranges: Vec<_> = (1..=PIECES)
            .map(|i| {
                let end = HEAD_BYTES + span * i / PIECES;
                end.saturating_sub(PIECE_BYTES).max(HEAD_BYTES)..end
            })
            .filter(|r| r.end > r.start)
            .collect();
        pieces = store.get_ranges(path, &ranges).await.map_err(read_error)?;
    }
    Ok(TextSample { head, pieces, whole, compression, expansion: 1.0 })
}

/// `text` up to and including its last newline (the rest is a line cut by the read).
fn complete_lines(mut text: Vec<u8>) -> Vec<u8> {
    match text.iter().rposition(|&b| b == b'\n') {
        Some(last) => text.truncate(last + 1),
        None => text.clear(),
    }
    text
}

/// The whole lines inside a piece read from the middle of a file.
pub fn inner_lines(piece: &[u8]) -> &[u8] {
    let Some(first) = piece.iter().position(|&b| b == b'\n') else {
        return &[];
    };
    let rest = &piece[first + 1..];
    match rest.iter().rposition(|&b| b == b'\n') {
        Some(last) => &rest[..=last],
        None => &[],
    }
}

/// Why `text` is not text: NUL bytes or many control characters mean a binary file, whatever
/// its name says. Invalid UTF-8 alone is accepted (Latin-1 CSV exists).
pub fn binary_reason(text: &[u8]) -> Option<String> {
    let probe = &text[..text.len().min(64 * 1024)];
    if probe.contains(&0) {
        return Some("binary content (NUL bytes), not text".into());
    }
    let controls = probe.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)).count();
    if controls * 100 > probe.len() {
        return Some(format!("binary content ({controls} control bytes in the first {} bytes), not text", probe.len()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_pieces_to_whole_lines() {
        assert_eq!(inner_lines(b"tail of line\n1,2\n3,4\npartial"), b"1,2\n3,4\n");
        assert_eq!(inner_lines(b"no newline at all"), b"");
        assert_eq!(complete_lines(b"a\nb\nc".to_vec()), b"a\nb\n");
    }

    #[test]
    fn tells_binary_from_text() {
        assert!(binary_reason(b"id,name\n1,caf\xe9\n").is_none());
        assert!(binary_reason(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").is_some());
        assert!(binary_reason(&[1u8, 2, 3, 4, 5, 6, 7, 8, b'a']).is_some());
    }
}
