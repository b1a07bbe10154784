//! Semantic tokens of a bake file: block types and literals as keywords,
//! target/group/variable names as classes and variables (declarations
//! marked), attribute keys as properties, strings, comments, variables and
//! function calls in expressions. Tokens never span lines.

use ls_types::SemanticToken;

use super::BakeDoc;
use crate::build::bake_syntax::{lex, Block, RefKind, Syntax, Tok};
use crate::dockerfile::Span;
use crate::lsp::token_legend::{
    CLASS, COMMENT, DECLARATION, KEYWORD, MACRO, PROPERTY, STRING, VARIABLE,
};

pub fn tokens(doc: &BakeDoc) -> Vec<SemanticToken> {
    let text = doc.text();
    let mut raw: Vec<(Span, u32, u32)> = Vec::new();
    if doc.outline.syntax == Syntax::Hcl {
        for t in lex(text) {
            match t.kind {
                Tok::Comment => raw.push((t.span, COMMENT, 0)),
                Tok::Str | Tok::Heredoc => raw.push((t.span, STRING, 0)),
                Tok::Ident
                    if matches!(
                        &text[t.span.start..t.span.end],
                        "true" | "false" | "null" | "for" | "in" | "if"
                    ) =>
                {
                    raw.push((t.span, KEYWORD, 0))
                }
                _ => {}
            }
        }
    }
    fn block(b: &Block, raw: &mut Vec<(Span, u32, u32)>, json: bool) {
        if !json {
            raw.push((b.kind_span, KEYWORD, 0));
        }
        for (i, (_, s)) in b.labels.iter().enumerate() {
            let typ = if b.kind == "variable" {
                VARIABLE
            } else {
                CLASS
            };
            raw.push((*s, typ, if i == 0 { DECLARATION } else { 0 }));
        }
        for a in &b.attrs {
            raw.push((a.key_span, PROPERTY, 0));
        }
        for c in &b.blocks {
            block(c, raw, json);
        }
    }
    let json = doc.outline.syntax == Syntax::Json;
    for b in &doc.outline.blocks {
        block(b, &mut raw, json);
    }
    for a in &doc.outline.attrs {
        raw.push((a.key_span, VARIABLE, DECLARATION));
    }
    for r in &doc.outline.refs {
        let typ = match r.kind {
            RefKind::Var => VARIABLE,
            RefKind::Call => MACRO,
            RefKind::Target => CLASS,
        };
        raw.push((r.span, typ, 0));
    }
    // Names inside strings (labels, `${VAR}`) cut the string token.
    raw.sort_by_key(|(s, _, _)| (s.start, std::cmp::Reverse(s.end)));
    let mut flat: Vec<(Span, u32, u32)> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let (span, typ, mods) = raw[i];
        if typ == STRING || typ == COMMENT {
            let mut at = span.start;
            let mut j = i + 1;
            while j < raw.len() && raw[j].0.start < span.end {
                let inner = raw[j];
                if inner.0.start > at {
                    flat.push((Span::new(at, inner.0.start), typ, mods));
                }
                flat.push(inner);
                at = inner.0.end.max(at);
                j += 1;
            }
            if at < span.end {
                flat.push((Span::new(at, span.end), typ, mods));
            }
            i = j;
        } else {
            flat.push(raw[i]);
            i += 1;
        }
    }
    // One token per line.
    let mut lined = Vec::with_capacity(flat.len());
    for (span, typ, mods) in flat {
        let mut start = span.start;
        for piece in text[span.start..span.end].split_inclusive('\n') {
            let content = piece.trim_end_matches(['\n', '\r']);
            if !content.is_empty() {
                lined.push((Span::new(start, start + content.len()), typ, mods));
            }
            start += piece.len();
        }
    }
    let mut out = Vec::with_capacity(lined.len());
    let (mut prev_line, mut prev_char, mut covered) = (0u32, 0u32, 0usize);
    for (span, typ, mods) in lined {
        if span.start < covered {
            continue;
        }
        covered = span.end;
        let r = doc.range(span);
        let delta_line = r.start.line - prev_line;
        let delta_start = if delta_line == 0 {
            r.start.character - prev_char
        } else {
            r.start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: r.end.character.saturating_sub(r.start.character),
            token_type: typ,
            token_modifiers_bitset: mods,
        });
        prev_line = r.start.line;
        prev_char = r.start.character;
    }
    out
}
