//! `textDocument/formatting`: upper-case instruction keywords (and `AS`),
//! no indentation before an instruction, and four spaces before each
//! continuation line. Heredoc bodies, JSON-form arguments, comments and
//! whitespace inside quotes are never changed, so formatting is safe and
//! idempotent.

use ls_types::{DocumentFormattingParams, TextEdit};

use crate::dockerfile::{Dockerfile, Instruction, InstructionKind, Span};
use crate::lsp::position::{range_to_lsp, Encoding};
use crate::lsp::session::Session;

/// The indentation of continuation lines.
pub const INDENT: &str = "    ";

pub fn handle(session: &Session, params: DocumentFormattingParams) -> Vec<TextEdit> {
    if let Some(r) = crate::lsp::bake::dispatch::formatting(session, &params) {
        return r;
    }
    if let Some(edits) = crate::lsp::compose::api::formatting(session, &params.text_document.uri) {
        return edits;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    to_lsp(&snap.df, edits(&snap.df), snap.features.encoding)
}

/// Byte-span edits as LSP text edits.
pub fn to_lsp(df: &Dockerfile, edits: Vec<(Span, String)>, enc: Encoding) -> Vec<TextEdit> {
    edits
        .into_iter()
        .map(|(span, text)| TextEdit::new(range_to_lsp(df.range_in(span, enc)), text))
        .collect()
}

/// The formatting edits as byte spans, in text order, non-overlapping.
pub fn edits(df: &Dockerfile) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for ins in &df.instructions {
        instruction_edits(df, ins, &mut out);
    }
    out
}

fn upper(df: &Dockerfile, span: Span, out: &mut Vec<(Span, String)>) {
    let text = df.text(span);
    let up = text.to_ascii_uppercase();
    if up != text {
        out.push((span, up));
    }
}

fn instruction_edits(df: &Dockerfile, ins: &Instruction, out: &mut Vec<(Span, String)>) {
    let src = df.source.as_str();
    // Indentation before the keyword on its line.
    let line_start = src[..ins.keyword_span.start]
        .rfind(['\n', '\r'])
        .map_or(0, |i| i + 1);
    let lead = &src[line_start..ins.keyword_span.start];
    if !lead.is_empty() && lead.chars().all(|c| c == ' ' || c == '\t') {
        out.push((Span::new(line_start, ins.keyword_span.start), String::new()));
    }
    if ins.kind != InstructionKind::Unknown {
        upper(df, ins.keyword_span, out);
    }
    if let Some(inner) = &ins.onbuild {
        if inner.kind != InstructionKind::Unknown {
            upper(df, inner.keyword_span, out);
        }
    }
    if let Some(a) = ins.from.as_ref().and_then(|c| c.as_keyword.as_ref()) {
        upper(df, a.span, out);
    }
    if !ins.heredocs.is_empty() || ins.is_json() {
        return;
    }
    continuation_indents(df, ins, out);
}

/// Re-indents continuation lines whose line break is outside quotes.
fn continuation_indents(df: &Dockerfile, ins: &Instruction, out: &mut Vec<(Span, String)>) {
    let src = df.source.as_str();
    let text = &src[ins.span.start..ins.span.end];
    let escape = df.escape;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == escape {
            // An escaped character (or line break) never opens or closes quotes.
            if let Some(&(_, n)) = chars.peek() {
                chars.next();
                if n == '\r' {
                    if let Some(&(_, '\n')) = chars.peek() {
                        chars.next();
                    }
                }
                if (n == '\n' || n == '\r') && quote.is_none() {
                    let line_start = ins.span.start + chars.peek().map_or(text.len(), |&(j, _)| j);
                    indent_line(src, ins, line_start, out);
                }
            }
            continue;
        }
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        let _ = i;
    }
}

fn indent_line(src: &str, ins: &Instruction, line_start: usize, out: &mut Vec<(Span, String)>) {
    let rest = &src[line_start..ins.span.end.max(line_start)];
    let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let after = &rest[ws..];
    // Comment lines and empty continuation lines are left alone.
    if after.starts_with('#') || after.starts_with(['\n', '\r']) || after.is_empty() {
        return;
    }
    if &rest[..ws] != INDENT {
        out.push((Span::new(line_start, line_start + ws), INDENT.to_string()));
    }
}
