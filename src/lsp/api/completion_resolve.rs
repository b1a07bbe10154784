//! `completionItem/resolve`: the documentation of an item from
//! `textDocument/completion`, which only carries what the documentation is
//! (`completion::DocRef` in `data`), so lists stay small and fast.

use ls_types::{CompletionItem, Documentation, MarkupContent, MarkupKind};

use crate::lsp::api::completion::DocRef;
use crate::lsp::session::Session;

pub fn handle(session: &Session, mut item: CompletionItem) -> CompletionItem {
    if item.documentation.is_some() {
        return item;
    }
    let Some(doc) = item
        .data
        .clone()
        .and_then(|d| serde_json::from_value::<DocRef>(d).ok())
        .and_then(|d| d.markdown())
    else {
        return item;
    };
    let markdown = session.state().features.completion_markdown;
    item.documentation = Some(if markdown {
        Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: doc,
        })
    } else {
        Documentation::String(doc)
    });
    item
}
