//! Conversion between LSP positions and the `dockerfile` module's byte
//! offsets. The line index itself is the parser's [`LineIndex`] (one
//! implementation for the whole crate); this file only maps types.

use crate::dockerfile::text;
pub use crate::dockerfile::{LineIndex, PositionEncoding as Encoding};

pub fn to_lsp(p: text::Position) -> ls_types::Position {
    ls_types::Position::new(p.line, p.character)
}

pub fn from_lsp(p: ls_types::Position) -> text::Position {
    text::Position::new(p.line, p.character)
}

pub fn range_to_lsp(r: text::Range) -> ls_types::Range {
    ls_types::Range::new(to_lsp(r.start), to_lsp(r.end))
}
