//! `textDocument/codeLens`. The build lenses (build a stage, build the image,
//! the selected builder) are added by the build feature; until then there
//! are none, and unopened documents have none either.

use ls_types::{CodeLens, CodeLensParams};

use crate::lsp::session::Session;

pub fn handle(session: &Session, params: CodeLensParams) -> Vec<CodeLens> {
    let _doc = session.document(&params.text_document.uri);
    Vec::new()
}
