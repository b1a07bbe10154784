//! `textDocument/documentHighlight`: occurrences of the name under the
//! cursor; definitions as `Write`, uses as `Read`.

use ls_types::{DocumentHighlight, DocumentHighlightKind, DocumentHighlightParams};

use crate::lsp::analysis::named_at;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: DocumentHighlightParams) -> Vec<DocumentHighlight> {
    if let Some(r) = crate::lsp::bake::dispatch::document_highlight(session, &params) {
        return r;
    }
    let p = params.text_document_position_params;
    if let Some(found) =
        crate::lsp::compose::api::highlights(session, &p.text_document.uri, p.position)
    {
        return found;
    }
    let Some(snap) = session.snapshot(&p.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(p.position, enc);
    let Some(named) = named_at(&snap.df, &snap.model, offset) else {
        return Vec::new();
    };
    named
        .occurrences()
        .iter()
        .map(|o| DocumentHighlight {
            range: range_to_lsp(snap.df.range_in(o.span, enc)),
            kind: Some(if o.definition {
                DocumentHighlightKind::WRITE
            } else {
                DocumentHighlightKind::READ
            }),
        })
        .collect()
}
