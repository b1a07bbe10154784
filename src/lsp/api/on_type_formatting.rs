//! `textDocument/onTypeFormatting` for line continuations: a new line after
//! a line that ends with the escape character (`\`, or `` ` `` under
//! `# escape=`` ` ``), or an escape character typed at the end of a line
//! that has a next line, indents that continuation line as document
//! formatting would (`formatting::edits`: the edits on that line only).

use ls_types::{DocumentOnTypeFormattingParams, TextEdit};

use crate::dockerfile::Span;
use crate::lsp::api::formatting;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: DocumentOnTypeFormattingParams) -> Vec<TextEdit> {
    if let Some(r) = crate::lsp::bake::dispatch::no_partial_formatting(
        session,
        &params.text_document_position.text_document.uri,
    ) {
        return r;
    }
    let p = params.text_document_position;
    let Some(snap) = session.snapshot(&p.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    let df = &snap.df;
    let offset = snap.doc.offset(p.position, enc);
    let index = &df.line_index;
    let line = index.line_of(offset);
    let target = match params.ch.as_str() {
        "\n" => line,
        ch if ch.chars().eq([df.escape]) => {
            // Only an escape that ends its line starts a continuation.
            let rest = df.source.get(offset..).unwrap_or("");
            let rest = rest.split(['\n', '\r']).next().unwrap_or("");
            if !rest.trim().is_empty() {
                return Vec::new();
            }
            line + 1
        }
        _ => return Vec::new(),
    };
    // The target line must continue an instruction.
    let continued = df.instruction_at(offset).is_some_and(|ins| {
        index.line_of(ins.line_span.start) < target && target <= index.line_of(ins.line_span.end)
    });
    if !continued {
        return Vec::new();
    }
    // A line just opened by Enter is blank: formatting leaves blank lines
    // alone, but the user is about to type the continuation.
    let Some(line_span) = index.line_span(target) else {
        return Vec::new();
    };
    let line_start = line_span.start;
    let line_text = df.text(line_span);
    let line_text = line_text.split(['\n', '\r']).next().unwrap_or("");
    if params.ch == "\n" && line_text.trim().is_empty() {
        if line_text == formatting::INDENT {
            return Vec::new();
        }
        let span = Span::new(line_start, line_start + line_text.len());
        return formatting::to_lsp(df, vec![(span, formatting::INDENT.to_string())], enc);
    }
    formatting::to_lsp(
        df,
        formatting::edits(df)
            .into_iter()
            .filter(|(span, _)| index.line_of(span.start) == target)
            .collect(),
        enc,
    )
}
