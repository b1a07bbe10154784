//! Compose language features: completion, hover, schema validation,
//! document symbols, definition / references / rename of services,
//! networks, volumes, configs and secrets, document links and inlay hints
//! of interpolated values. Driven by the Compose specification's JSON
//! schema (`schema`) and the span-keeping YAML tree of `build::compose`.
//! Each function reads one document's text and answers LSP types; the
//! handlers in `lsp::api` call them for documents of kind Compose.
//!
//! In a workspace that is not trusted nothing here reads the environment
//! or the `.env` file: inlay hints show values only when trusted (the
//! handler passes the environment or nothing).

pub mod api;
pub mod context;
pub mod format;
pub mod names;
pub mod schema;
pub mod validate;

use std::collections::BTreeMap;

use ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, Hover, HoverContents,
    InlayHint, InlayHintLabel, MarkupContent, MarkupKind, Range, TextEdit,
};

use crate::build::compose::{interpolate, parse_yaml, yaml};
use crate::dockerfile::Span;
use crate::lsp::document::Document;
use crate::lsp::position::Encoding;
use schema::Seg;

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    })
}

/// Completion at byte `offset`: keys of the mapping there (with their
/// descriptions), or the enum values (and booleans) of the key's value,
/// or the names a reference there may take (services in `depends_on`, …).
pub fn completion(doc: &Document, offset: usize, enc: Encoding) -> Vec<CompletionItem> {
    let text = doc.text();
    let ctx = context::at(text, offset);
    let replace = |start: usize| {
        let start = start.min(offset);
        doc.range(Span::new(start, offset), enc)
    };
    if let Some(value_start) = ctx.value_start {
        let Some(key) = &ctx.key else {
            return Vec::new();
        };
        let mut path = ctx.path.clone();
        path.push(Seg::Key(key.clone()));
        return value_items(&path, text, replace(value_start));
    }
    if ctx.in_item {
        return value_items(&ctx.path, text, replace(ctx.key_start));
    }
    let schemas = schema::at(&ctx.path);
    let range = replace(ctx.key_start);
    let mut out: Vec<CompletionItem> = schema::keys(&schemas)
        .into_iter()
        .map(|k| {
            let nested = k.types.iter().all(|t| t == "object" || t == "array");
            CompletionItem {
                label: k.name.clone(),
                kind: Some(CompletionItemKind::PROPERTY),
                detail: (!k.types.is_empty()).then(|| k.types.join(" | ")),
                documentation: k.description.clone().map(markdown),
                deprecated: k.deprecated.then_some(true),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                    range,
                    new_text: match nested {
                        true => format!("{}:", k.name),
                        false => format!("{}: ", k.name),
                    },
                })),
                ..CompletionItem::default()
            }
        })
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}

/// The values offered at a path: enum values, booleans, referable names.
fn value_items(path: &[Seg], text: &str, range: Range) -> Vec<CompletionItem> {
    let schemas = schema::at(path);
    let mut out: Vec<CompletionItem> = Vec::new();
    let mut push = |label: String, kind: CompletionItemKind, doc: Option<String>| {
        if out.iter().any(|i| i.label == label) {
            return;
        }
        out.push(CompletionItem {
            label: label.clone(),
            kind: Some(kind),
            documentation: doc.map(markdown),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range,
                new_text: label,
            })),
            ..CompletionItem::default()
        });
    };
    let description = schema::description(&schemas);
    for v in schema::enum_values(&schemas) {
        push(v, CompletionItemKind::ENUM_MEMBER, description.clone());
    }
    if schema::types(&schemas).iter().any(|t| t == "boolean") {
        push("true".into(), CompletionItemKind::VALUE, None);
        push("false".into(), CompletionItemKind::VALUE, None);
    }
    if let Some(kind) = names::reference_kind(path) {
        if let Ok(root) = parse_yaml(text) {
            for (name, _) in names::declarations(&root, kind) {
                push(name, CompletionItemKind::REFERENCE, None);
            }
        }
    }
    out
}

/// Hover on a key (or its value): the schema's description of the key.
pub fn hover(doc: &Document, offset: usize, enc: Encoding, markdown_ok: bool) -> Option<Hover> {
    let text = doc.text();
    let ctx = context::at(text, offset);
    let key = ctx.key.clone()?;
    if ctx.in_item {
        return None;
    }
    let mut path = ctx.path.clone();
    path.push(Seg::Key(key.clone()));
    let schemas = schema::at(&path);
    let description = schema::description(&schemas)?;
    let mut value = format!("**{key}**\n\n{description}");
    let values = schema::enum_values(&schemas);
    if !values.is_empty() {
        value.push_str(&format!("\n\nOne of: `{}`", values.join("`, `")));
    }
    let (kind, value) = match markdown_ok {
        true => (MarkupKind::Markdown, value),
        false => (MarkupKind::PlainText, value.replace(['*', '`'], "")),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind, value }),
        range: Some(doc.range(Span::new(ctx.key_start, ctx.key_end), enc)),
    })
}

/// Inlay hints after each interpolated value: ` = value` (the value it
/// takes in `env`: the environment and `.env` of a trusted workspace).
pub fn inlay_hints(
    doc: &Document,
    env: &BTreeMap<String, String>,
    enc: Encoding,
    within: Span,
) -> Vec<InlayHint> {
    let text = doc.text();
    let Ok(root) = parse_yaml(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut visit = |node: &yaml::Node| {
        let Some(raw) = node.as_str() else { return };
        if !interpolate::has_variables(raw)
            || node.span.end < within.start
            || node.span.start > within.end
        {
            return;
        }
        let Ok(i) = interpolate::interpolate(raw, &|k| env.get(k).cloned()) else {
            return;
        };
        let at = doc.range(Span::empty(node.span.end), enc).end;
        out.push(InlayHint {
            position: at,
            label: InlayHintLabel::String(format!("= {}", i.text)),
            kind: None,
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    };
    walk(&root, &mut visit);
    out
}

/// Visits every scalar value (not keys).
pub fn walk(node: &yaml::Node, f: &mut dyn FnMut(&yaml::Node)) {
    match &node.value {
        yaml::Value::Scalar { .. } => f(node),
        yaml::Value::Seq(items) => items.iter().for_each(|i| walk(i, f)),
        yaml::Value::Map(entries) => entries.iter().for_each(|e| walk(&e.value, f)),
    }
}
