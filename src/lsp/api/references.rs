//! `textDocument/references`: every occurrence of the stage, variable or
//! heredoc delimiter under the cursor (its definition only when `includeDeclaration`).

use ls_types::{Location, ReferenceParams};

use crate::lsp::analysis::named_at;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: ReferenceParams) -> Vec<Location> {
    if let Some(r) = crate::lsp::bake::dispatch::references(session, &params) {
        return r;
    }
    let p = params.text_document_position;
    let (uri, include) = (&p.text_document.uri, params.context.include_declaration);
    if let Some(found) = crate::lsp::compose::api::references(session, uri, p.position, include) {
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
        .filter(|o| params.context.include_declaration || !o.definition)
        .map(|o| {
            Location::new(
                p.text_document.uri.clone(),
                range_to_lsp(snap.df.range_in(o.span, enc)),
            )
        })
        .collect()
}
