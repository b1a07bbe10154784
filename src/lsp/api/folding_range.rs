//! `textDocument/foldingRange`: stages, multi-line instructions, heredoc
//! bodies and blocks of two or more comment lines. Line-based, so clients
//! with `lineFoldingOnly` get the same ranges.

use ls_types::{FoldingRange, FoldingRangeKind, FoldingRangeParams};

use crate::dockerfile::{PieceKind, Span};
use crate::lsp::analysis::stages;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: FoldingRangeParams) -> Vec<FoldingRange> {
    if let Some(r) = crate::lsp::bake::dispatch::folding_range(session, &params) {
        return r;
    }
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    let df = &snap.df;
    let line = |offset: usize| df.line_index.line_of(offset);
    // A span's last line: its end, unless it ends right after a line break.
    let last_line = |span: Span| line(span.end.saturating_sub(1).max(span.start));
    let mut out = Vec::new();
    let mut push = |start: u32, end: u32, kind: Option<FoldingRangeKind>| {
        if end > start {
            out.push(FoldingRange {
                start_line: start,
                start_character: None,
                end_line: end,
                end_character: None,
                kind,
                collapsed_text: None,
            });
        }
    };
    for st in stages(&snap.model) {
        let from = &df.instructions[st.from];
        let last = &df.instructions[st.end.saturating_sub(1).max(st.from)];
        push(
            line(from.span.start),
            last_line(last.span),
            Some(FoldingRangeKind::Region),
        );
    }
    for ins in &df.instructions {
        push(
            line(ins.span.start),
            last_line(ins.span),
            Some(FoldingRangeKind::Region),
        );
        for h in &ins.heredocs {
            // From the line with `<<EOF` to the terminator line.
            let end = h.terminator_span.unwrap_or(h.body_span);
            push(
                line(h.span.start),
                last_line(end),
                Some(FoldingRangeKind::Region),
            );
        }
    }
    let mut block: Option<(u32, u32)> = None;
    for p in &df.pieces {
        match p.kind {
            PieceKind::Comment => {
                let (l1, l2) = (line(p.span.start), last_line(p.span));
                block = match block {
                    Some((s, e)) if l1 == e + 1 => Some((s, l2)),
                    Some((s, e)) => {
                        push(s, e, Some(FoldingRangeKind::Comment));
                        Some((l1, l2))
                    }
                    None => Some((l1, l2)),
                };
            }
            _ => {
                if let Some((s, e)) = block.take() {
                    push(s, e, Some(FoldingRangeKind::Comment));
                }
            }
        }
    }
    if let Some((s, e)) = block {
        push(s, e, Some(FoldingRangeKind::Comment));
    }
    out.sort_by_key(|r| (r.start_line, std::cmp::Reverse(r.end_line)));
    out.dedup_by_key(|r| (r.start_line, r.end_line));
    out
}
