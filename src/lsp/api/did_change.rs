//! `textDocument/didChange`: apply incremental edits in version order.
//!
//! Notifications may be handled concurrently, so a change whose version is
//! not newer than the document's is dropped (logged) rather than applied
//! out of order. The edit is applied before the first `.await`.

use std::sync::Arc;

use ls_types::DidChangeTextDocumentParams;
use tower_lsp_server::Client;

use crate::lsp::diagnostics;
use crate::lsp::document;
use crate::lsp::session::Session;

pub fn handle(session: &Arc<Session>, client: &Client, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri;
    let version = params.text_document.version;
    {
        let generation = session.next_generation();
        let mut state = session.state();
        let enc = state.features.encoding;
        let Some(doc) = state.documents.get_mut(uri.as_str()) else {
            tracing::warn!("didChange for {}, which is not open: ignored", uri.as_str());
            return;
        };
        if version <= doc.version() {
            tracing::warn!(
                "didChange for {} version {version} after version {}: ignored",
                uri.as_str(),
                doc.version()
            );
            return;
        }
        Arc::make_mut(doc).apply_changes(params.content_changes, version, enc, generation);
        document::pack_idle(&mut state.documents);
    }
    diagnostics::schedule(session, client, uri, false);
}
