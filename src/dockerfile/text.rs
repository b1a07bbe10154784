//! Positions in a Dockerfile: byte [`Span`]s (what the parser records) and
//! LSP-style [`Position`]/[`Range`] (0-based line, column in UTF-16 or UTF-8
//! code units), converted by a [`LineIndex`].
//!
//! Line breaks follow the LSP specification (`\n`, `\r\n` and a lone `\r`), so
//! positions agree with what editors show. Every conversion clamps: an offset
//! past the end, inside a multi-byte character or a position past the end of a
//! line never panics, it snaps to the nearest valid place before it.

use serde::{Deserialize, Serialize};

/// A half-open byte range `start..end` into the Dockerfile source.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// An empty span at `offset`.
    pub const fn empty(offset: usize) -> Self {
        Span {
            start: offset,
            end: offset,
        }
    }

    pub const fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `offset` lies inside the span (the end counts, so a cursor just
    /// after a word still "touches" it, as editors expect).
    pub const fn touches(&self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }

    pub const fn contains_span(&self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// This span cut to fit inside `outer`.
    pub fn clamp_to(self, outer: Span) -> Span {
        let start = self.start.clamp(outer.start, outer.end);
        Span::new(start, self.end.clamp(start, outer.end))
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The text of the span, or `""` when it does not fit `text` or does not
    /// fall on character boundaries.
    pub fn slice<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// A 0-based line and column, as in LSP. The column unit depends on the
/// [`PositionEncoding`] used to compute it (UTF-16 by default).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub const fn new(line: u32, character: u32) -> Self {
        Position { line, character }
    }
}

/// A half-open range of [`Position`]s, as in LSP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

impl Range {
    pub const fn new(start: Position, end: Position) -> Self {
        Range { start, end }
    }
}

/// The unit of [`Position::character`]. LSP's default is UTF-16; clients may
/// negotiate UTF-8 (`general.positionEncodings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PositionEncoding {
    #[default]
    Utf16,
    Utf8,
}

/// A non-ASCII character on a line: where it starts (bytes from the line
/// start) and how long it is in UTF-8 and UTF-16 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WideChar {
    col: u32,
    len8: u8,
    len16: u8,
}

/// Converts byte offsets to positions and back in O(log lines + wide chars
/// on the line). Built once per text in linear time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineIndex {
    /// Byte offset where each line starts; always begins with 0.
    line_starts: Vec<usize>,
    /// Byte offset where each line's content ends (before its line break).
    line_ends: Vec<usize>,
    /// For lines holding non-ASCII characters: (line, its wide characters).
    /// Sorted by line; most Dockerfiles have none, so this stays tiny.
    wide: Vec<(u32, Vec<WideChar>)>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        // Dockerfiles average ~30 bytes a line.
        let mut line_starts = Vec::with_capacity(bytes.len() / 24 + 1);
        line_starts.push(0);
        let mut line_ends = Vec::with_capacity(bytes.len() / 24 + 1);
        let mut wide: Vec<(u32, Vec<WideChar>)> = Vec::new();
        let mut line_start = 0usize;
        let mut i = 0usize;
        // Most texts are ASCII: jump from line break to line break.
        let ascii = bytes.is_ascii();
        while i < bytes.len() {
            if ascii {
                match memchr::memchr2(b'\n', b'\r', &bytes[i..]) {
                    Some(k) => i += k,
                    None => break,
                }
            }
            let b = bytes[i];
            if b == b'\n' || b == b'\r' {
                line_ends.push(i);
                let next = if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                line_starts.push(next);
                line_start = next;
                i = next;
                continue;
            }
            if b >= 0x80 {
                // Leading bytes only: `text` is valid UTF-8 so `i` is a char start.
                let ch = text[i..].chars().next().unwrap_or('\u{FFFD}');
                let line = (line_starts.len() - 1) as u32;
                let wc = WideChar {
                    col: (i - line_start) as u32,
                    len8: ch.len_utf8() as u8,
                    len16: ch.len_utf16() as u8,
                };
                match wide.last_mut() {
                    Some((l, chars)) if *l == line => chars.push(wc),
                    _ => wide.push((line, vec![wc])),
                }
                i += ch.len_utf8();
                continue;
            }
            i += 1;
        }
        line_ends.push(bytes.len());
        line_starts.shrink_to_fit();
        line_ends.shrink_to_fit();
        LineIndex {
            line_starts,
            line_ends,
            wide,
            len: bytes.len(),
        }
    }

    /// Number of lines (a text ending in a line break has an empty last line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Length of the indexed text in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte span of a line's content, without its line break; `None` past
    /// the last line.
    pub fn line_span(&self, line: u32) -> Option<Span> {
        let l = line as usize;
        Some(Span::new(
            *self.line_starts.get(l)?,
            *self.line_ends.get(l)?,
        ))
    }

    /// The line holding `offset` (clamped to the text).
    pub fn line_of(&self, offset: usize) -> u32 {
        let offset = offset.min(self.len);
        match self.line_starts.binary_search(&offset) {
            Ok(l) => l as u32,
            Err(l) => (l - 1) as u32,
        }
    }

    fn wide_chars(&self, line: u32) -> &[WideChar] {
        match self.wide.binary_search_by_key(&line, |(l, _)| *l) {
            Ok(i) => &self.wide[i].1,
            Err(_) => &[],
        }
    }

    /// The position of a byte offset. Offsets past the end clamp to the end,
    /// offsets inside a character or a `\r\n` snap back to its start.
    pub fn position(&self, offset: usize, encoding: PositionEncoding) -> Position {
        let offset = offset.min(self.len);
        let line = self.line_of(offset);
        let start = self.line_starts[line as usize];
        let end = self.line_ends[line as usize];
        let mut col = (offset.min(end) - start) as u32;
        let wide = self.wide_chars(line);
        // Inside a multi-byte character: snap to its start.
        if let Some(wc) = wide
            .iter()
            .find(|wc| wc.col < col && col < wc.col + wc.len8 as u32)
        {
            col = wc.col;
        }
        let units = match encoding {
            PositionEncoding::Utf8 => col,
            PositionEncoding::Utf16 => wide
                .iter()
                .take_while(|wc| wc.col < col)
                .fold(col, |u, wc| u - wc.len8 as u32 + wc.len16 as u32),
        };
        Position::new(line, units)
    }

    /// The byte offset of a position. A line past the end clamps to the end
    /// of the text; a column past the end of its line clamps to the line end;
    /// a column inside a surrogate pair snaps to the character start.
    pub fn offset(&self, position: Position, encoding: PositionEncoding) -> usize {
        let line = position.line as usize;
        if line >= self.line_starts.len() {
            return self.len;
        }
        let start = self.line_starts[line];
        let end = self.line_ends[line];
        let target = position.character;
        match encoding {
            PositionEncoding::Utf8 => {
                let mut col = (target as usize).min(end - start) as u32;
                for wc in self.wide_chars(position.line) {
                    if wc.col < col && col < wc.col + wc.len8 as u32 {
                        col = wc.col;
                        break;
                    }
                }
                start + col as usize
            }
            PositionEncoding::Utf16 => {
                // Walk the wide chars, translating UTF-16 units to bytes.
                let mut units = 0u32;
                let mut bytes = 0u32;
                for wc in self.wide_chars(position.line) {
                    let ascii_run = wc.col - bytes;
                    if units + ascii_run >= target {
                        bytes += target - units;
                        return (start + bytes as usize).min(end);
                    }
                    units += ascii_run;
                    bytes = wc.col;
                    if units + wc.len16 as u32 > target {
                        return start + bytes as usize;
                    }
                    units += wc.len16 as u32;
                    bytes += wc.len8 as u32;
                }
                (start + bytes as usize + (target - units) as usize).min(end)
            }
        }
    }

    pub fn range(&self, span: Span, encoding: PositionEncoding) -> Range {
        Range::new(
            self.position(span.start, encoding),
            self.position(span.end, encoding),
        )
    }

    pub fn span(&self, range: Range, encoding: PositionEncoding) -> Span {
        let start = self.offset(range.start, encoding);
        let end = self.offset(range.end, encoding);
        Span::new(start.min(end), start.max(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PositionEncoding::{Utf16, Utf8};

    #[test]
    fn ascii_positions_round_trip() {
        let idx = LineIndex::new("FROM a\nRUN b\n");
        assert_eq!(idx.line_count(), 3);
        assert_eq!(idx.position(0, Utf16), Position::new(0, 0));
        assert_eq!(idx.position(7, Utf16), Position::new(1, 0));
        assert_eq!(idx.position(12, Utf16), Position::new(1, 5));
        assert_eq!(idx.position(13, Utf16), Position::new(2, 0));
        assert_eq!(idx.offset(Position::new(1, 4), Utf16), 11);
    }

    #[test]
    fn crlf_and_lone_cr_break_lines() {
        let idx = LineIndex::new("a\r\nb\rc");
        assert_eq!(idx.position(3, Utf16), Position::new(1, 0));
        assert_eq!(idx.position(5, Utf16), Position::new(2, 0));
        // The `\n` of a CRLF belongs to the line end of line 0.
        assert_eq!(idx.position(2, Utf16), Position::new(0, 1));
        assert_eq!(idx.line_span(0), Some(Span::new(0, 1)));
        assert_eq!(idx.offset(Position::new(0, 9), Utf16), 1);
    }

    #[test]
    fn utf16_and_utf8_columns_differ_after_wide_chars() {
        // "é" is 2 bytes / 1 UTF-16 unit; "😀" is 4 bytes / 2 units.
        let text = "LABEL a=é😀x\n";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(x, 14);
        assert_eq!(idx.position(x, Utf16), Position::new(0, 11));
        assert_eq!(idx.position(x, Utf8), Position::new(0, 14));
        assert_eq!(idx.offset(Position::new(0, 11), Utf16), 14);
        assert_eq!(idx.offset(Position::new(0, 14), Utf8), 14);
        // Inside the surrogate pair: snap to the emoji's start (byte 10).
        assert_eq!(idx.offset(Position::new(0, 10), Utf16), 10);
        // Inside the emoji's bytes: snap back too.
        assert_eq!(idx.position(11, Utf16), Position::new(0, 9));
        assert_eq!(idx.position(11, Utf8), Position::new(0, 10));
        assert_eq!(idx.offset(Position::new(0, 12), Utf8), 10);
    }

    #[test]
    fn clamps_out_of_range() {
        let idx = LineIndex::new("ab\ncd");
        assert_eq!(idx.position(99, Utf16), Position::new(1, 2));
        assert_eq!(idx.offset(Position::new(7, 0), Utf16), 5);
        assert_eq!(idx.offset(Position::new(0, 40), Utf8), 2);
        let empty = LineIndex::new("");
        assert_eq!(empty.position(3, Utf16), Position::new(0, 0));
        assert_eq!(empty.offset(Position::new(0, 3), Utf16), 0);
    }

    #[test]
    fn span_and_range_convert_both_ways() {
        let idx = LineIndex::new("FROM ä AS b\n");
        let r = idx.range(Span::new(5, 7), Utf16);
        assert_eq!(r, Range::new(Position::new(0, 5), Position::new(0, 6)));
        assert_eq!(idx.span(r, Utf16), Span::new(5, 7));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"start":{"line":0,"character":5},"end":{"line":0,"character":6}}"#
        );
    }
}
