//! `textDocument/didOpen`: start tracking the document, publish diagnostics.

use std::sync::Arc;

use ls_types::DidOpenTextDocumentParams;
use tower_lsp_server::Client;

use crate::lsp::diagnostics;
use crate::lsp::document::{self, Document};
use crate::lsp::ignore_files;
use crate::lsp::kind::DocKind;
use crate::lsp::session::Session;

pub fn handle(session: &Arc<Session>, client: &Client, params: DidOpenTextDocumentParams) {
    let td = params.text_document;
    let is_ignore =
        crate::lsp::uri::uri_path(&td.uri).is_some_and(|p| ignore_files::is_ignore_file(&p));
    if is_ignore {
        // Not a Dockerfile: re-read its patterns rather than analyse it.
        ignore_files::files_changed(session, &[td.uri]);
        return;
    }
    let kind = DocKind::classify(&td.uri, &td.language_id);
    let doc = Document::new(
        td.text,
        td.version,
        td.language_id,
        session.next_generation(),
    )
    .with_kind(kind);
    if let Some(why) = doc.skip_reason() {
        tracing::warn!("{} is not analysed: {why}", td.uri.as_str());
    }
    {
        let mut state = session.state();
        state
            .documents
            .insert(td.uri.as_str().to_string(), Arc::new(doc));
        document::pack_idle(&mut state.documents);
    }
    diagnostics::schedule(session, client, td.uri, true);
}
