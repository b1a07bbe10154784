//! `textDocument/inlayHint`: after a FROM image written with variables
//! (`FROM golang:${GO_VERSION}`), the image it names with the global ARGs'
//! defaults (`= golang:1.22`), as the checks expand it. Offline: nothing is
//! asked of a registry. After an ARG a bake target passes a value to, that
//! value (`lsp::bake::inlay_hints`). Then the last build's result at the end
//! of each instruction (`buildkit.insight.inlayHints`).

use ls_types::{InlayHint, InlayHintLabel, InlayHintParams, InlayHintTooltip};

use crate::dockerfile::checks::expanded_bases;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: InlayHintParams) -> Vec<InlayHint> {
    if let Some(r) = crate::lsp::bake::dispatch::inlay_hint(session, &params) {
        return r;
    }
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
    let bake = crate::lsp::bake::inlay_hints::dockerfile_hints(
        session,
        &params.text_document.uri,
        df,
        &snap.model,
        enc,
        (from, to),
    );
    let mut hints: Vec<InlayHint> = snap
        .model
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
        .chain(bake)
        .collect();
    // The last build's result per instruction (`lsp::builds::insight`).
    if snap.settings.insight_hints {
        let lines = params.range.start.line..=params.range.end.line;
        hints.extend(session.builds.insight.hints(
            params.text_document.uri.as_str(),
            snap.doc.text(),
            enc,
            lines,
        ));
    }
    hints
}
