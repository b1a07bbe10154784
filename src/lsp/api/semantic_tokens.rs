//! `textDocument/semanticTokens/full`: keywords, comments, directives,
//! flags, stage names, and variables (declarations marked). Tokens never
//! span lines; lengths are in the negotiated position encoding.

use ls_types::{SemanticToken, SemanticTokens, SemanticTokensParams};

use crate::dockerfile::Model;
use crate::dockerfile::{Dockerfile, InstructionKind, PieceKind, Span};
use crate::lsp::analysis::stage_refs;
use crate::lsp::position::Encoding;
use crate::lsp::session::Session;

use crate::lsp::token_legend::{
    CLASS, COMMENT, DECLARATION, DEPRECATED, KEYWORD, MACRO, PROPERTY, STRING, VARIABLE,
};

pub fn handle(session: &Session, params: SemanticTokensParams) -> SemanticTokens {
    if let Some(r) = crate::lsp::bake::dispatch::semantic_tokens(session, &params) {
        return r;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return SemanticTokens {
            result_id: None,
            data: Vec::new(),
        };
    };
    SemanticTokens {
        result_id: None,
        data: tokens(&snap.df, &snap.model, snap.features.encoding),
    }
}

pub fn tokens(df: &Dockerfile, model: &Model, enc: Encoding) -> Vec<SemanticToken> {
    let mut raw: Vec<(Span, u32, u32)> = Vec::new();
    for p in &df.pieces {
        match p.kind {
            PieceKind::Comment => raw.push((p.span, COMMENT, 0)),
            PieceKind::Directive(i) => {
                if let Some(d) = df.directives.get(i) {
                    raw.push((d.name_span, MACRO, 0));
                    raw.push((d.value_span, STRING, 0));
                }
            }
            _ => {}
        }
    }
    for ins in &df.instructions {
        let deprecated = if ins.kind == InstructionKind::Maintainer {
            DEPRECATED
        } else {
            0
        };
        raw.push((ins.keyword_span, KEYWORD, deprecated));
        if let Some(inner) = &ins.onbuild {
            raw.push((inner.keyword_span, KEYWORD, 0));
        }
        for f in &ins.flags {
            raw.push((Span::new(f.span.start, f.name_span.end), PROPERTY, 0));
        }
        if let Some(a) = ins.from.as_ref().and_then(|c| c.as_keyword.as_ref()) {
            raw.push((a.span, KEYWORD, 0));
        }
        for c in &ins.comment_lines {
            raw.push((*c, COMMENT, 0));
        }
        if matches!(ins.kind, InstructionKind::Arg | InstructionKind::Env) {
            for kv in &ins.key_values {
                raw.push((kv.key_span, VARIABLE, DECLARATION));
            }
        }
        for v in &ins.variables {
            raw.push((v.span, VARIABLE, 0));
        }
    }
    for r in stage_refs(model) {
        raw.push((r.span, CLASS, if r.definition { DECLARATION } else { 0 }));
    }
    raw.sort_by_key(|(s, _, _)| (s.start, std::cmp::Reverse(s.end)));
    let mut out = Vec::with_capacity(raw.len());
    let (mut prev_line, mut prev_char, mut covered_to) = (0u32, 0u32, 0usize);
    for (span, typ, mods) in raw {
        // Comment pieces include their line break; a token must not.
        let text = df.text(span);
        let span = Span::new(
            span.start,
            span.start + text.trim_end_matches(['\n', '\r']).len(),
        );
        if span.is_empty() || span.start < covered_to {
            continue; // overlapping tokens are not allowed
        }
        let r = df.range_in(span, enc);
        if r.start.line != r.end.line {
            continue;
        }
        covered_to = span.end;
        let delta_line = r.start.line - prev_line;
        let delta_start = if delta_line == 0 {
            r.start.character - prev_char
        } else {
            r.start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: r.end.character - r.start.character,
            token_type: typ,
            token_modifiers_bitset: mods,
        });
        prev_line = r.start.line;
        prev_char = r.start.character;
    }
    out
}
