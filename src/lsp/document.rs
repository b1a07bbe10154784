//! One open text document: its text, version and line starts, and how
//! incremental edits are applied to it (clamped, never a panic).
//!
//! Texts of documents nobody edits or asks about are kept LZ4-compressed
//! ("packed"): an editor with many Dockerfiles open would otherwise hold
//! every full text for nothing. A packed document unpacks on first use, and
//! [`pack_idle`] repacks all but the most recently opened or edited ones.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use ls_types::{Position, Range, TextDocumentContentChangeEvent};

use super::kind::DocKind;
use super::position::{from_lsp, range_to_lsp, Encoding, LineIndex};
use crate::dockerfile::{incremental, parse, Dockerfile, Model, Span};

/// Documents larger than this are kept (edits still apply) but not analysed:
/// a 20 MB paste must not stall the server.
pub const MAX_ANALYSED_BYTES: usize = 4 * 1024 * 1024;

/// Texts shorter than this stay plain: compressing them saves too little.
const PACK_MIN_BYTES: usize = 8 * 1024;

/// How many of the most recently opened or edited documents stay unpacked
/// (with their cached syntax trees) when the others are packed.
pub const HOT_DOCUMENTS: usize = 8;

/// A document's text, plain or LZ4-compressed.
#[derive(Debug, Clone)]
enum Text {
    Plain(String),
    Packed {
        /// LZ4 block of the UTF-8 text.
        bytes: Box<[u8]>,
        len: usize,
        /// The text, unpacked on first use by whoever holds this copy.
        unpacked: OnceLock<String>,
    },
}

impl Text {
    fn pack(text: &str) -> Text {
        Text::Packed {
            bytes: lz4_flex::block::compress(text.as_bytes()).into_boxed_slice(),
            len: text.len(),
            unpacked: OnceLock::new(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Packed {
                bytes,
                len,
                unpacked,
            } => unpacked.get_or_init(|| unpack(bytes, *len)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Text::Plain(s) => s.len(),
            Text::Packed { len, .. } => *len,
        }
    }

    /// Replaces `range` (byte offsets on char boundaries) with `with`; the
    /// text is plain afterwards.
    fn replace_range(&mut self, range: std::ops::Range<usize>, with: &str) {
        let mut text = match std::mem::replace(self, Text::Plain(String::new())) {
            Text::Plain(s) => s,
            Text::Packed {
                bytes,
                len,
                unpacked,
            } => unpacked.into_inner().unwrap_or_else(|| unpack(&bytes, len)),
        };
        text.replace_range(range, with);
        *self = Text::Plain(text);
    }
}

/// Decompresses a block this module compressed from valid UTF-8. Both steps
/// only fail on corrupted memory; an empty text is then the safe answer.
fn unpack(bytes: &[u8], len: usize) -> String {
    match lz4_flex::block::decompress(bytes, len).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        _ => {
            tracing::error!("a packed document text failed to unpack ({len} bytes)");
            String::new()
        }
    }
}

/// The syntax tree of an earlier text of the document, kept across edits
/// so the next parse re-parses only what the edits reached
/// ([`incremental::reparse`]). Taken by that parse.
#[derive(Debug, Default)]
struct Previous(std::sync::Mutex<Option<Arc<Dockerfile>>>);

impl Previous {
    fn take(&self) -> Option<Arc<Dockerfile>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Clone for Previous {
    fn clone(&self) -> Self {
        let tree = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Previous(std::sync::Mutex::new(tree))
    }
}

/// An open document as the client last described it.
#[derive(Debug, Clone)]
pub struct Document {
    text: Text,
    version: i32,
    language_id: String,
    /// Which language the text is in (`lsp::kind`); only Dockerfiles are
    /// parsed here.
    kind: DocKind,
    /// Built on first use: documents that are only opened and checked never
    /// need it, and 100 open documents must stay small.
    lines: OnceLock<LineIndex>,
    /// Bumped on every change; background diagnostics compare it to know
    /// whether their result is still current.
    generation: u64,
    /// The parse of `text`, made on first use; an edit moves it to
    /// `previous`.
    parsed: OnceLock<Arc<Dockerfile>>,
    /// The last parse before the latest edits, for the next parse.
    previous: Previous,
    /// Whether the client edited the document since it was opened (or
    /// packed): its parse is kept then, for the next edit to re-use.
    edited: bool,
    /// The semantic model of `parsed`, made on first use.
    model: OnceLock<Arc<Model>>,
}

impl Document {
    pub fn new(text: String, version: i32, language_id: String, generation: u64) -> Self {
        Document {
            text: Text::Plain(text),
            version,
            language_id,
            kind: DocKind::Dockerfile,
            lines: OnceLock::new(),
            generation,
            parsed: OnceLock::new(),
            previous: Previous::default(),
            edited: false,
            model: OnceLock::new(),
        }
    }

    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    /// The text's length in bytes (without unpacking it).
    pub fn byte_len(&self) -> usize {
        self.text.len()
    }

    /// Whether the text is held compressed (and not unpacked in this copy).
    pub fn is_packed(&self) -> bool {
        matches!(&self.text, Text::Packed { unpacked, .. } if unpacked.get().is_none())
    }

    /// This document with its text packed and its caches dropped, or `None`
    /// when it is already packed or too small to be worth it.
    fn packed(&self) -> Option<Document> {
        let text = match &self.text {
            Text::Plain(s) if s.len() >= PACK_MIN_BYTES => Text::pack(s),
            Text::Packed {
                bytes,
                len,
                unpacked,
            } if unpacked.get().is_some() => Text::Packed {
                bytes: bytes.clone(),
                len: *len,
                unpacked: OnceLock::new(),
            },
            _ => return None,
        };
        Some(Document {
            text,
            version: self.version,
            language_id: self.language_id.clone(),
            kind: self.kind,
            lines: OnceLock::new(),
            generation: self.generation,
            parsed: OnceLock::new(),
            previous: Previous::default(),
            edited: false,
            model: OnceLock::new(),
        })
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn language_id(&self) -> &str {
        &self.language_id
    }

    /// This document as a document of `kind` (decided at `didOpen`).
    pub fn with_kind(mut self, kind: DocKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> DocKind {
        self.kind
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The syntax tree, or `None` for documents that are not analysed.
    pub fn parsed(&self) -> Option<&Arc<Dockerfile>> {
        if !self.kind.is_dockerfile() || self.skip_reason().is_some() {
            return None;
        }
        Some(self.parsed.get_or_init(|| Arc::new(self.parse_now())))
    }

    /// A parse of the text: re-parsed from the previous tree when there is
    /// one (equal to a full parse, but only the edited pieces are parsed).
    fn parse_now(&self) -> Dockerfile {
        match self.previous.take() {
            Some(tree) => incremental::reparse(Arc::unwrap_or_clone(tree), self.text()),
            None => parse(self.text()),
        }
    }

    fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(self.text()))
    }

    /// The parse for a one-off use (diagnostics): the cached one if a request
    /// already made it; for an edited document, one that is kept (the next
    /// edit re-parses from it); else a fresh one that is not kept, so
    /// documents that are only opened and checked do not hold their syntax
    /// tree.
    pub fn parse_transient(&self) -> Option<Arc<Dockerfile>> {
        if self.edited {
            return self.parsed().cloned();
        }
        if !self.kind.is_dockerfile() || self.skip_reason().is_some() {
            return None;
        }
        Some(match self.parsed.get() {
            Some(df) => Arc::clone(df),
            None => Arc::new(parse(self.text())),
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
        if self.byte_len() > MAX_ANALYSED_BYTES {
            Some("larger than 4 MiB")
        } else if self.text().as_bytes().iter().take(8192).any(|b| *b == 0) {
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
                None => self.text = Text::Plain(change.text),
                Some(range) => {
                    let (start, end) = self.byte_range(range, enc);
                    self.text.replace_range(start..end, &change.text);
                }
            }
            self.lines = OnceLock::new();
        }
        self.version = version;
        self.generation = generation;
        // The tree of the text before these changes (or, when nothing parsed
        // that one, the older tree still kept) is what the next parse
        // re-uses.
        if let Some(tree) = self.parsed.take() {
            self.previous = Previous(std::sync::Mutex::new(Some(tree)));
        }
        self.edited = true;
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

/// A handle to read `doc` through that keeps an unpacked text to itself:
/// background work (diagnostics of every document after a settings or
/// builder change) must not leave every shared text unpacked.
pub fn private_copy(doc: &Arc<Document>) -> Arc<Document> {
    if doc.is_packed() {
        Arc::new(Document::clone(doc))
    } else {
        Arc::clone(doc)
    }
}

/// Packs every document except the [`HOT_DOCUMENTS`] most recently opened
/// or edited ones (by generation). Requests that touched a packed document
/// left an unpacked copy in it; that copy is dropped here too.
pub fn pack_idle(documents: &mut HashMap<String, Arc<Document>>) {
    if documents.len() <= HOT_DOCUMENTS {
        return;
    }
    let mut generations: Vec<u64> = documents.values().map(|d| d.generation).collect();
    generations.sort_unstable_by(|a, b| b.cmp(a));
    let hot_from = generations[HOT_DOCUMENTS - 1];
    for doc in documents.values_mut() {
        if doc.generation < hot_from {
            if let Some(packed) = doc.packed() {
                *doc = Arc::new(packed);
            }
        }
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

    #[test]
    fn an_edited_document_keeps_its_tree_and_reparses_from_it() {
        let mut doc = Document::new("FROM a\nRUN b\n".into(), 1, "dockerfile".into(), 1);
        // Only opened: checked without keeping the tree.
        doc.parse_transient().expect("analysed");
        assert!(doc.parsed.get().is_none());
        let r = |l1, c1, l2, c2| Some(Range::new(Position::new(l1, c1), Position::new(l2, c2)));
        doc.apply_changes(vec![change(r(1, 5, 1, 5), "c")], 2, Encoding::Utf16, 2);
        let first = doc.parse_transient().expect("analysed");
        assert!(
            doc.parsed.get().is_some(),
            "an edited document keeps its tree"
        );
        doc.apply_changes(vec![change(r(1, 6, 1, 6), "d")], 3, Encoding::Utf16, 3);
        assert!(doc.parsed.get().is_none());
        assert!(Arc::ptr_eq(
            doc.previous.0.lock().unwrap().as_ref().expect("kept"),
            &first
        ));
        drop(first);
        let df = doc.parse_transient().expect("analysed");
        assert_eq!(*df, parse("FROM a\nRUN bcd\n"));
        assert!(
            doc.previous.0.lock().unwrap().is_none(),
            "taken by the parse"
        );
    }

    fn big_text(tag: &str) -> String {
        let mut text = String::from("FROM busybox AS base\n");
        while text.len() < PACK_MIN_BYTES * 2 {
            text.push_str(&format!("RUN echo {tag} {}\n", text.len()));
        }
        text
    }

    #[test]
    fn idle_documents_are_packed_and_read_back_intact() {
        let mut docs = HashMap::new();
        let count = HOT_DOCUMENTS as u64 + 2;
        for g in 1..=count {
            let doc = Document::new(big_text(&g.to_string()), 1, "dockerfile".into(), g);
            docs.insert(format!("file:///{g}"), Arc::new(doc));
        }
        docs.insert(
            "file:///small".into(),
            Arc::new(Document::new("FROM a\n".into(), 1, "dockerfile".into(), 0)),
        );
        pack_idle(&mut docs);
        let packed: Vec<&str> = {
            let mut v: Vec<&str> = docs
                .iter()
                .filter(|(_, d)| d.is_packed())
                .map(|(u, _)| u.as_str())
                .collect();
            v.sort();
            v
        };
        // The two oldest large documents; the small one is not worth it.
        assert_eq!(packed, ["file:///1", "file:///2"]);
        // A private copy unpacks for itself only.
        let copy = private_copy(&docs["file:///2"]);
        assert_eq!(copy.text(), big_text("2"));
        assert!(docs["file:///2"].is_packed());
        for g in 1..=count {
            let doc = &docs[&format!("file:///{g}")];
            assert_eq!(doc.text(), big_text(&g.to_string()));
            assert_eq!(doc.byte_len(), doc.text().len());
        }
        // Reading left an unpacked copy; the next sweep drops it again.
        assert!(!docs["file:///1"].is_packed());
        pack_idle(&mut docs);
        assert!(docs["file:///1"].is_packed());
    }

    #[test]
    fn edits_apply_to_a_packed_document() {
        let text = big_text("x");
        let mut doc = Document::new(text.clone(), 1, "dockerfile".into(), 1)
            .packed()
            .expect("large enough to pack");
        assert!(doc.is_packed());
        let r = Some(Range::new(Position::new(0, 5), Position::new(0, 12)));
        doc.apply_changes(vec![change(r, "alpine")], 2, Encoding::Utf16, 2);
        assert!(!doc.is_packed());
        assert_eq!(doc.text(), text.replacen("busybox", "alpine", 1));
        assert_eq!(doc.version(), 2);
    }
}
