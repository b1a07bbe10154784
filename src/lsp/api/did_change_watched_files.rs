//! `workspace/didChangeWatchedFiles`: the client reports created, changed
//! or deleted `.dockerignore` files and bake files (registered in
//! `initialized`).

use std::sync::Arc;

use ls_types::{DidChangeWatchedFilesParams, Uri};
use tower_lsp_server::Client;

use crate::lsp::builds::selection::findings;
use crate::lsp::ignore_files;
use crate::lsp::session::Session;

pub fn handle(session: &Arc<Session>, client: &Client, params: DidChangeWatchedFilesParams) {
    let uris: Vec<Uri> = params.changes.into_iter().map(|c| c.uri).collect();
    ignore_files::files_changed(session, &uris);
    findings::files_changed(session, client, &uris);
}
