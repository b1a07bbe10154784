//! The entry points the request handlers in `lsp::api` call first: each
//! returns `Some(answer)` when the document is a bake file (the handler
//! returns it as is) and `None` for any other document.

use ls_types::{
    CodeActionOrCommand, CodeActionParams, CompletionItem, CompletionParams,
    DocumentFormattingParams, DocumentHighlight, DocumentHighlightParams, DocumentLink,
    DocumentLinkParams, DocumentSymbolParams, DocumentSymbolResponse, FoldingRange,
    FoldingRangeParams, GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverParams,
    InlayHint, InlayHintParams, Location, PrepareRenameResponse, ReferenceParams, RenameParams,
    SemanticTokens, SemanticTokensParams, TextDocumentPositionParams, TextEdit, Uri, WorkspaceEdit,
};
use tower_lsp_server::jsonrpc;

use super::BakeDoc;
use crate::lsp::session::Session;

fn open(session: &Session, uri: &Uri) -> Option<BakeDoc> {
    BakeDoc::open(session, uri)
}

pub fn document_symbol(
    session: &Session,
    p: &DocumentSymbolParams,
) -> Option<Option<DocumentSymbolResponse>> {
    let d = open(session, &p.text_document.uri)?;
    Some(Some(super::symbols::symbols(&d)))
}

pub fn folding_range(session: &Session, p: &FoldingRangeParams) -> Option<Vec<FoldingRange>> {
    let d = open(session, &p.text_document.uri)?;
    Some(super::folding::ranges(&d))
}

pub fn formatting(session: &Session, p: &DocumentFormattingParams) -> Option<Vec<TextEdit>> {
    let d = open(session, &p.text_document.uri)?;
    Some(super::formatting::edits(&d))
}

/// Range and on-type formatting: bake files are formatted whole only.
pub fn no_partial_formatting(session: &Session, uri: &Uri) -> Option<Vec<TextEdit>> {
    open(session, uri).map(|_| Vec::new())
}

pub fn completion(session: &Session, p: &CompletionParams) -> Option<Vec<CompletionItem>> {
    let tp = &p.text_document_position;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    Some(super::completion::complete(session, &d, offset))
}

pub fn hover(session: &Session, p: &HoverParams) -> Option<Option<Hover>> {
    let tp = &p.text_document_position_params;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    Some(super::hover::hover(session, &d, offset))
}

pub fn definition(
    session: &Session,
    p: &GotoDefinitionParams,
) -> Option<Option<GotoDefinitionResponse>> {
    let tp = &p.text_document_position_params;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    let locs = super::navigation::definition(session, &d, offset);
    Some((!locs.is_empty()).then_some(GotoDefinitionResponse::Array(locs)))
}

pub fn references(session: &Session, p: &ReferenceParams) -> Option<Vec<Location>> {
    let tp = &p.text_document_position;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    Some(super::navigation::references(
        session,
        &d,
        offset,
        p.context.include_declaration,
    ))
}

pub fn document_highlight(
    session: &Session,
    p: &DocumentHighlightParams,
) -> Option<Vec<DocumentHighlight>> {
    let tp = &p.text_document_position_params;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    Some(super::navigation::highlight(&d, offset))
}

pub fn prepare_rename(
    session: &Session,
    p: &TextDocumentPositionParams,
) -> Option<Option<PrepareRenameResponse>> {
    let d = open(session, &p.text_document.uri)?;
    let offset = d.offset(p.position);
    Some(super::navigation::prepare_rename(&d, offset))
}

pub fn rename(
    session: &Session,
    p: &RenameParams,
) -> Option<jsonrpc::Result<Option<WorkspaceEdit>>> {
    let tp = &p.text_document_position;
    let d = open(session, &tp.text_document.uri)?;
    let offset = d.offset(tp.position);
    Some(
        super::navigation::rename(session, &d, offset, &p.new_name)
            .map_err(jsonrpc::Error::invalid_params),
    )
}

pub fn document_link(session: &Session, p: &DocumentLinkParams) -> Option<Vec<DocumentLink>> {
    let d = open(session, &p.text_document.uri)?;
    Some(super::links::links(session, &d))
}

pub fn semantic_tokens(session: &Session, p: &SemanticTokensParams) -> Option<SemanticTokens> {
    let d = open(session, &p.text_document.uri)?;
    Some(SemanticTokens {
        result_id: None,
        data: super::semantic_tokens::tokens(&d),
    })
}

pub fn inlay_hint(session: &Session, p: &InlayHintParams) -> Option<Vec<InlayHint>> {
    let d = open(session, &p.text_document.uri)?;
    let (from, to) = d.doc.byte_range(p.range, d.enc());
    Some(super::inlay_hints::hints(session, &d, from, to))
}

/// The bake quick fixes for the range (the capability fixes come from the
/// handler itself).
pub fn code_actions(session: &Session, p: &CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
    let d = open(session, &p.text_document.uri)?;
    Some(super::checks::actions(session, &d, p.range))
}

/// The bake checks' diagnostics of an open bake file.
pub fn diagnostics(session: &Session, uri: &Uri) -> Vec<ls_types::Diagnostic> {
    match open(session, uri) {
        Some(d) => super::checks::diagnostics(session, &d),
        None => Vec::new(),
    }
}
