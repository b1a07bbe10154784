//! `textDocument/didSave`: a saved `.dockerignore` changes the patterns of
//! the Dockerfiles beside it. (Builds on save plug in here later.)

use std::sync::Arc;

use ls_types::DidSaveTextDocumentParams;
use tower_lsp_server::Client;

use crate::lsp::ignore_files;
use crate::lsp::session::Session;

pub fn handle(session: &Arc<Session>, client: &Client, params: DidSaveTextDocumentParams) {
    ignore_files::files_changed(session, client, &[params.text_document.uri]);
}
