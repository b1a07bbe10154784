//! `textDocument/codeLens`: the build lenses (build the image, build a
//! stage, the selected builder, bake targets) from
//! `lsp::builds::selection::lenses`. Unopened documents have none.

use ls_types::{CodeLens, CodeLensParams};

use crate::lsp::builds::selection::lenses;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: CodeLensParams) -> Vec<CodeLens> {
    lenses::lenses(session, &params.text_document.uri)
}
