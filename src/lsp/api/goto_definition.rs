//! `textDocument/definition`: from a stage use to its `AS name`, from a
//! variable reference to the ARG/ENV it resolves to (the model's scope rules),
//! from a heredoc's terminator to its `<<NAME`.

use ls_types::{GotoDefinitionParams, GotoDefinitionResponse, Location};

use crate::lsp::analysis::definition_at;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    if let Some(r) = crate::lsp::bake::dispatch::definition(session, &params) {
        return r;
    }
    let p = params.text_document_position_params;
    if let Some(l) = crate::lsp::compose::api::definition(session, &p.text_document.uri, p.position)
    {
        return l.map(GotoDefinitionResponse::Scalar);
    }
    let snap = session.snapshot(&p.text_document.uri)?;
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(p.position, enc);
    let span = definition_at(&snap.df, &snap.model, offset)?;
    Some(GotoDefinitionResponse::Scalar(Location::new(
        p.text_document.uri,
        range_to_lsp(snap.df.range_in(span, enc)),
    )))
}
