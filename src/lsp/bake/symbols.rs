//! Document symbols of a bake file: its groups, targets, variables and
//! functions, each with its attributes as children (a map's keys below it).

use ls_types::{DocumentSymbol, DocumentSymbolResponse, SymbolKind};

use super::BakeDoc;
use crate::build::bake_syntax::{Attr, Block, Value};

pub fn symbols(doc: &BakeDoc) -> DocumentSymbolResponse {
    let mut out: Vec<DocumentSymbol> = doc.outline.blocks.iter().map(|b| block(doc, b)).collect();
    out.extend(
        doc.outline
            .attrs
            .iter()
            .map(|a| attr(doc, a, SymbolKind::VARIABLE)),
    );
    out.sort_by_key(|s| (s.range.start.line, s.range.start.character));
    DocumentSymbolResponse::Nested(out)
}

fn block(doc: &BakeDoc, b: &Block) -> DocumentSymbol {
    let kind = match b.kind.as_str() {
        "target" => SymbolKind::CLASS,
        "group" => SymbolKind::PACKAGE,
        "variable" => SymbolKind::VARIABLE,
        "function" => SymbolKind::FUNCTION,
        _ => SymbolKind::OBJECT,
    };
    let (name, sel) = b
        .name()
        .map_or((b.kind.as_str(), b.kind_span), |(n, s)| (n, s));
    let mut children: Vec<DocumentSymbol> = b
        .attrs
        .iter()
        .map(|a| attr(doc, a, SymbolKind::PROPERTY))
        .collect();
    children.extend(b.blocks.iter().map(|c| block(doc, c)));
    #[allow(deprecated)]
    DocumentSymbol {
        name: if name.is_empty() {
            " ".to_string()
        } else {
            name.to_string()
        },
        detail: Some(b.kind.clone()),
        kind,
        tags: None,
        deprecated: None,
        range: doc.range(b.span),
        selection_range: doc.range(sel),
        children: Some(children),
    }
}

fn attr(doc: &BakeDoc, a: &Attr, kind: SymbolKind) -> DocumentSymbol {
    let children = match &a.value {
        Value::Object(entries) => Some(
            entries
                .iter()
                .map(|e| {
                    #[allow(deprecated)]
                    DocumentSymbol {
                        name: if e.key.is_empty() {
                            " ".to_string()
                        } else {
                            e.key.clone()
                        },
                        detail: None,
                        kind: SymbolKind::KEY,
                        tags: None,
                        deprecated: None,
                        range: doc.range(e.key_span.cover(e.value_span)),
                        selection_range: doc.range(e.key_span),
                        children: None,
                    }
                })
                .collect(),
        ),
        _ => None,
    };
    #[allow(deprecated)]
    DocumentSymbol {
        name: a.key.clone(),
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: doc.range(a.span),
        selection_range: doc.range(a.key_span),
        children,
    }
}
