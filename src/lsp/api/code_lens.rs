//! `textDocument/codeLens`: the build lenses (build the image, build a
//! stage, the selected builder, bake targets) from
//! `lsp::builds::selection::lenses`. Unopened documents have none. In a
//! workspace that is not trusted the build lenses stay where they are but
//! say they are off; running one answers the refusal that says how to
//! trust the workspace (`lsp::trust`).

use ls_types::{CodeLens, CodeLensParams};

use crate::lsp::builds::selection::lenses;
use crate::lsp::commands;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: CodeLensParams) -> Vec<CodeLens> {
    let mut out = lenses::lenses(session, &params.text_document.uri);
    // The last build's summary on the first line.
    out.extend(
        session
            .builds
            .insight
            .lens(params.text_document.uri.as_str()),
    );
    if !session.trust.is_trusted() {
        for lens in &mut out {
            if let Some(c) = lens
                .command
                .as_mut()
                .filter(|c| commands::executes(&c.command))
            {
                let title = c.title.trim_start_matches('▶').trim_start();
                c.title = format!("🔒 {title} (Restricted Mode)");
            }
        }
    }
    out
}
