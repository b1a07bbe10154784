//! `textDocument/didClose`: forget the document and clear its diagnostics.

use std::sync::Arc;

use ls_types::DidCloseTextDocumentParams;
use tower_lsp_server::Client;

use crate::lsp::session::Session;

pub async fn handle(session: &Arc<Session>, client: &Client, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    let (removed, pushes) = {
        let mut state = session.state();
        (
            state.documents.remove(uri.as_str()).is_some(),
            state.features.diagnostic_mode.pushes(),
        )
    };
    if removed && pushes {
        // Under the publish lock, so a diagnostics task that already passed
        // its staleness check finishes first and is then cleared.
        let _guard = session.publish.lock().await;
        client.publish_diagnostics(uri, Vec::new(), None).await;
    }
}
