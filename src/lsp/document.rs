//! One open text document: its text, version and line starts, and how
//! incremental edits are applied to it (clamped, never a panic).

use std::sync::{Arc, OnceLock};

use ls_types::{Position, Range, TextDocumentContentChangeEvent};

use super::position::{from_lsp, range_to_lsp, Encoding, LineIndex};
use crate::dockerfile::{parse, Dockerfile, Model, Span};

/// Documents larger than this are kept (edits still apply) but not analysed:
/// a 20 MB paste must not stall the server.
pub const MAX_ANALYSED_BYTES: usize = 4 * 1024 * 1024;

/// An open document as the client last described it.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    version: i32,
    language_id: String,
    /// Built on first use: documents that are only opened and checked never
    /// need it, and 100 open documents must stay small.
    lines: OnceLock<LineIndex>,
    /// Bumped on every change; background diagnostics compare it to know
    /// whether their result is still current.
    generation: u64,
    /// The parse of `text`, made on first use and dropped on every edit.
    parsed: OnceLock<Arc<Dockerfile>>,
    /// The semantic model of `parsed`, made on first use.
    model: OnceLock<Arc<Model>>,
}

impl Document {
    pub fn new(text: String, version: i32, language_id: String, generation: u64) -> Self {
        Document {
            text,
            version,
            language_id,
            lines: OnceLock::new(),
            generation,
            parsed: OnceLock::new(),
            model: OnceLock::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn language_id(&self) -> &str {
        &self.language_id
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The syntax tree, or `None` for documents that are not analysed.
    pub fn parsed(&self) -> Option<&Arc<Dockerfile>> {
        if self.skip_reason().is_some() {
            return None;
        }
        Some(self.parsed.get_or_init(|| Arc::new(parse(&self.text))))
    }

    fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(&self.text))
    }

    /// The parse for a one-off use (diagnostics): the cached one if a request
    /// already made it, else a fresh one that is not kept, so documents that
    /// are only checked do not hold their syntax tree.
    pub fn parse_transient(&self) -> Option<Arc<Dockerfile>> {
        if self.skip_reason().is_some() {
            return None;
        }
        Some(match self.parsed.get() {
            Some(df) => Arc::clone(df),
            None => Arc::new(parse(&self.text)),
        })
    }

    /// The semantic model, or `None` for documents that are not analysed.
    pub fn model(&self) -> Option<&Arc<Model>> {
        let df = self.parsed()?;
        Some(self.model.get_or_init(|| Arc::new(Model::build(df))))
    }

    pub fn line_count(&self) -> usize {
        self.lines().line_count()
    }

    /// Why this document is not analysed, if it is not: too large, or binary.
    pub fn skip_reason(&self) -> Option<&'static str> {
        if self.text.len() > MAX_ANALYSED_BYTES {
            Some("larger than 4 MiB")
        } else if self.text.as_bytes().iter().take(8192).any(|b| *b == 0) {
            Some("binary content (NUL bytes)")
        } else {
            None
        }
    }

    /// Applies the changes of one `didChange`, in order. A change without a
    /// range replaces the whole text.
    pub fn apply_changes(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        enc: Encoding,
        generation: u64,
    ) {
        for change in changes {
            match change.range {
                None => self.text = change.text,
                Some(range) => {
                    let (start, end) = self.byte_range(range, enc);
                    self.text.replace_range(start..end, &change.text);
                }
            }
            self.lines = OnceLock::new();
        }
        self.version = version;
        self.generation = generation;
        self.parsed = OnceLock::new();
        self.model = OnceLock::new();
    }

    /// Byte offsets of an LSP range, clamped and ordered.
    pub fn byte_range(&self, range: Range, enc: Encoding) -> (usize, usize) {
        let a = self.offset(range.start, enc);
        let b = self.offset(range.end, enc);
        (a.min(b), a.max(b))
    }

    pub fn offset(&self, pos: Position, enc: Encoding) -> usize {
        self.lines().offset(from_lsp(pos), enc)
    }

    pub fn range(&self, span: Span, enc: Encoding) -> Range {
        range_to_lsp(self.lines().range(span, enc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(range: Option<Range>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range,
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn incremental_edits_apply_in_order() {
        let mut doc = Document::new("FROM a\nRUN b\n".into(), 1, "dockerfile".into(), 1);
        let r = |l1, c1, l2, c2| Some(Range::new(Position::new(l1, c1), Position::new(l2, c2)));
        doc.apply_changes(
            vec![
                change(r(1, 4, 1, 5), "make"),
                change(r(0, 5, 0, 6), "alpine"),
            ],
            2,
            Encoding::Utf16,
            2,
        );
        assert_eq!(doc.text(), "FROM alpine\nRUN make\n");
        assert_eq!(doc.version(), 2);
    }

    #[test]
    fn edits_beyond_the_end_are_clamped() {
        let mut doc = Document::new("FROM a".into(), 1, "dockerfile".into(), 1);
        let far = Some(Range::new(Position::new(40, 3), Position::new(90, 0)));
        doc.apply_changes(vec![change(far, "\nRUN x")], 2, Encoding::Utf16, 2);
        assert_eq!(doc.text(), "FROM a\nRUN x");
        // A reversed range is treated as its ordered counterpart.
        let rev = Some(Range::new(Position::new(1, 5), Position::new(1, 0)));
        doc.apply_changes(vec![change(rev, "")], 3, Encoding::Utf16, 3);
        assert_eq!(doc.text(), "FROM a\n");
    }
}
