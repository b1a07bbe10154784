//! `textDocument/inlayHint`: after a FROM image written with variables
//! (`FROM golang:${GO_VERSION}`), the image it names with the global ARGs'
//! defaults (`= golang:1.22`), as the checks expand it. Offline: nothing is
//! asked of a registry.

use ls_types::{InlayHint, InlayHintLabel, InlayHintParams, InlayHintTooltip};

use crate::dockerfile::checks::expanded_bases;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: InlayHintParams) -> Vec<InlayHint> {
    if let Some(hints) =
        crate::lsp::compose::api::inlay_hints(session, &params.text_document.uri, params.range)
    {
        return hints;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    let (from, to) = snap.doc.byte_range(params.range, enc);
    let df = &snap.df;
    snap.model
        .stages
        .iter()
        .zip(expanded_bases(df, &snap.model))
        .filter(|(s, _)| s.parent.is_none() && s.base.value.contains('$'))
        .filter(|(s, _)| s.base.span.end >= from && s.base.span.start <= to)
        .filter_map(|(s, expanded)| {
            let expanded = expanded.filter(|e| !e.is_empty() && *e != s.base.value)?;
            let at =
                range_to_lsp(df.range_in(crate::dockerfile::Span::empty(s.base.span.end), enc))
                    .start;
            Some(InlayHint {
                position: at,
                label: InlayHintLabel::String(format!("= {expanded}")),
                kind: None,
                text_edits: None,
                tooltip: Some(InlayHintTooltip::String(
                    "The image with the global ARGs' default values (a --build-arg may change it)"
                        .to_string(),
                )),
                padding_left: Some(true),
                padding_right: None,
                data: None,
            })
        })
        .collect()
}
