//! `textDocument/didSave`: a saved `.dockerignore` changes the patterns of
//! the Dockerfiles beside it; a saved Dockerfile builds with
//! `buildkit.buildOnSave` (in a trusted workspace only).

use std::sync::Arc;

use ls_types::DidSaveTextDocumentParams;
use tower_lsp_server::Client;

use crate::lsp::builds::run;
use crate::lsp::ignore_files;
use crate::lsp::session::Session;

pub fn handle(session: &Arc<Session>, client: &Client, params: DidSaveTextDocumentParams) {
    let uri = params.text_document.uri;
    ignore_files::files_changed(session, std::slice::from_ref(&uri));
    // Build on save is off in a workspace that is not trusted (`lsp::trust`).
    if session.trust.is_trusted() {
        run::on_save(session, client, uri);
    }
}
