//! `textDocument/rangeFormatting`: the document formatting's edits
//! (`formatting::edits`, one home for the rules) that fall on the lines of
//! the range.

use ls_types::{DocumentRangeFormattingParams, TextEdit};

use crate::lsp::api::formatting;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: DocumentRangeFormattingParams) -> Vec<TextEdit> {
    if let Some(r) =
        crate::lsp::bake::dispatch::no_partial_formatting(session, &params.text_document.uri)
    {
        return r;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    let (start, end) = snap.doc.byte_range(params.range, enc);
    let index = &snap.df.line_index;
    // Whole lines: a selection that starts mid-line still formats its line.
    let first = index.line_of(start);
    let last = index.line_of(end);
    formatting::to_lsp(
        &snap.df,
        formatting::edits(&snap.df)
            .into_iter()
            .filter(|(span, _)| {
                let line = index.line_of(span.start);
                first <= line && line <= last
            })
            .collect(),
        enc,
    )
}
