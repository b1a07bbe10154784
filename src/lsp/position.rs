//! Conversion between LSP positions (line + character in the negotiated
//! encoding) and byte offsets into a document's text. Out-of-range positions
//! are clamped: an editor may send a stale range, and that must never panic.
//!
//! This is the single place that knows about line starts, so switching to the
//! parser's `LineIndex` touches only this file.

use ls_types::Position;

/// How the client counts `Position::character`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-16 code units: the LSP default.
    #[default]
    Utf16,
    /// Bytes, when the client offers `utf-8`.
    Utf8,
}

/// Byte offsets where each line starts. Lines end at `\n`; a `\r` before it
/// belongs to the line terminator, not the content.
#[derive(Debug, Clone, Default)]
pub struct LineStarts(Vec<usize>);

impl LineStarts {
    pub fn new(text: &str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr_newlines(text.as_bytes()).map(|i| i + 1));
        LineStarts(starts)
    }

    pub fn line_count(&self) -> usize {
        self.0.len()
    }

    /// Byte range of line `line`'s content (without its terminator), if it exists.
    fn line_bounds(&self, text: &str, line: usize) -> Option<(usize, usize)> {
        let start = *self.0.get(line)?;
        let mut end = self.0.get(line + 1).map_or(text.len(), |next| next - 1);
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        Some((start, end))
    }

    /// The byte offset of `pos`, clamped: a line past the end maps to the end
    /// of the text, a character past the line's end to the line's end, and a
    /// character inside a surrogate pair to the start of that character.
    pub fn offset(&self, text: &str, pos: Position, enc: Encoding) -> usize {
        let Some((start, end)) = self.line_bounds(text, pos.line as usize) else {
            return text.len();
        };
        let line = &text[start..end];
        let want = pos.character as usize;
        match enc {
            Encoding::Utf8 => {
                let mut at = want.min(line.len());
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                start + at
            }
            Encoding::Utf16 => {
                let mut units = 0usize;
                for (i, c) in line.char_indices() {
                    let next = units + c.len_utf16();
                    if next > want {
                        return start + i;
                    }
                    units = next;
                }
                end
            }
        }
    }

    /// The LSP position of byte `offset` (clamped to the text, and to a char boundary).
    pub fn position(&self, text: &str, offset: usize, enc: Encoding) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.0.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.0.get(line).copied().unwrap_or(0);
        let character = match enc {
            Encoding::Utf8 => offset - start,
            Encoding::Utf16 => text[start..offset].encode_utf16().count(),
        };
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(character).unwrap_or(u32::MAX),
        )
    }
}

fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter_map(|(i, b)| (*b == b'\n').then_some(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_counts_surrogate_pairs_as_two_units() {
        let text = "FROM a\nRUN echo 😀x\n";
        let idx = LineStarts::new(text);
        // "RUN echo " is 9 units, the emoji 2, so `x` is at character 11.
        let x = text.find('x').unwrap();
        assert_eq!(idx.position(text, x, Encoding::Utf16), Position::new(1, 11));
        assert_eq!(idx.offset(text, Position::new(1, 11), Encoding::Utf16), x);
        // In UTF-8 the emoji is 4 bytes.
        assert_eq!(idx.position(text, x, Encoding::Utf8), Position::new(1, 13));
        // Inside the surrogate pair snaps back to the emoji's start.
        assert_eq!(idx.offset(text, Position::new(1, 10), Encoding::Utf16), 16);
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let text = "FROM a\r\nRUN b";
        let idx = LineStarts::new(text);
        assert_eq!(idx.offset(text, Position::new(0, 99), Encoding::Utf16), 6);
        assert_eq!(idx.offset(text, Position::new(7, 0), Encoding::Utf16), 13);
        assert_eq!(idx.offset(text, Position::new(1, 99), Encoding::Utf8), 13);
        assert_eq!(
            idx.position(text, 999, Encoding::Utf16),
            Position::new(1, 5)
        );
    }
}
