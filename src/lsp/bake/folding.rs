//! Folding ranges of a bake file: every block, and every attribute value
//! that spans lines (lists, maps, heredocs).

use ls_types::{FoldingRange, FoldingRangeKind};

use super::BakeDoc;
use crate::build::bake_syntax::Block;
use crate::dockerfile::Span;

pub fn ranges(doc: &BakeDoc) -> Vec<FoldingRange> {
    let mut out = Vec::new();
    for b in &doc.outline.blocks {
        block(doc, b, &mut out);
    }
    for a in &doc.outline.attrs {
        push(doc, a.span, &mut out);
    }
    out
}

fn block(doc: &BakeDoc, b: &Block, out: &mut Vec<FoldingRange>) {
    push(doc, b.span, out);
    for a in &b.attrs {
        push(doc, a.span, out);
    }
    for c in &b.blocks {
        block(doc, c, out);
    }
}

fn push(doc: &BakeDoc, span: Span, out: &mut Vec<FoldingRange>) {
    let r = doc.range(span);
    if r.end.line > r.start.line {
        out.push(FoldingRange {
            start_line: r.start.line,
            start_character: None,
            // The closing line stays visible.
            end_line: r.end.line.saturating_sub(1).max(r.start.line),
            end_character: None,
            kind: Some(FoldingRangeKind::Region),
            collapsed_text: None,
        });
    }
}
