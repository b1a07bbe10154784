//! `textDocument/formatting` of a bake file: `build::bake_fmt` (HCL in the
//! `terraform fmt` style, JSON with its order kept) as one edit of the
//! whole text, or none when the text is already formatted. JSON that does
//! not parse, or holds comments, is left alone (logged).

use ls_types::TextEdit;

use super::BakeDoc;
use crate::build::bake_fmt::{format_hcl, format_json};
use crate::build::bake_syntax::Syntax;
use crate::dockerfile::Span;

pub fn edits(doc: &BakeDoc) -> Vec<TextEdit> {
    if doc.doc.skip_reason().is_some() {
        return Vec::new();
    }
    let text = doc.text();
    let formatted = match doc.outline.syntax {
        Syntax::Hcl => format_hcl(text),
        Syntax::Json => match format_json(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::info!("{}: not formatted: {e}", doc.uri.as_str());
                return Vec::new();
            }
        },
    };
    if formatted == text {
        return Vec::new();
    }
    vec![TextEdit::new(
        doc.range(Span::new(0, text.len())),
        formatted,
    )]
}
