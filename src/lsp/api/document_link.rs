//! `textDocument/documentLink` and `documentLink/resolve`: each FROM image
//! links to its page on the registry's web site. The list only carries the
//! image's repository (`data`); the address is made on resolve, for the
//! links the user actually hovers or follows.
//!
//! Which registries have a page per repository is `docs::image_page`'s
//! table; any other registry gets no link. No link either for `scratch`,
//! stage names, or a repository written with variables (`${BASE_IMAGE}`:
//! its value is only known at build time).

use ls_types::{DocumentLink, DocumentLinkParams, Uri};
use serde_json::Value;

use crate::dockerfile::model::Model;
use crate::dockerfile::{Dockerfile, Span};
use crate::lsp::docs;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: DocumentLinkParams) -> Vec<DocumentLink> {
    if let Some(r) = crate::lsp::bake::dispatch::document_link(session, &params) {
        return r;
    }
    if let Some(links) =
        crate::lsp::compose::api::document_links(session, &params.text_document.uri)
    {
        return links;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    links(&snap.df, &snap.model)
        .into_iter()
        .map(|(span, repo)| DocumentLink {
            range: range_to_lsp(snap.df.range_in(span, enc)),
            target: None,
            tooltip: Some(format!("Open {repo} on its registry's web site")),
            data: Some(Value::String(repo)),
        })
        .collect()
}

/// Fills in the target of a link made by [`handle`].
pub fn resolve(mut link: DocumentLink) -> DocumentLink {
    if link.target.is_none() {
        link.target = link
            .data
            .as_ref()
            .and_then(Value::as_str)
            .and_then(docs::image_page)
            .and_then(|url| url.parse::<Uri>().ok());
    }
    link
}

/// The span of the repository part of each FROM image that has a web page,
/// and that repository (`registry/path`, or the Hub path).
pub fn links(df: &Dockerfile, model: &Model) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for stage in &model.stages {
        // A FROM naming an earlier stage is not an image.
        if stage.parent.is_some() {
            continue;
        }
        let image = &stage.base;
        let text = df.text(image.span);
        // The written word: the logical value only differs across a line
        // continuation, which no image reference worth linking has.
        if text != image.value.as_str() {
            continue;
        }
        let repo_len = docs::repository_len(text);
        let repo = &text[..repo_len];
        if repo.is_empty() || repo.contains('$') || repo.eq_ignore_ascii_case("scratch") {
            continue;
        }
        if docs::image_page(repo).is_some() {
            out.push((
                Span::new(image.span.start, image.span.start + repo_len),
                repo.to_string(),
            ));
        }
    }
    out
}
