//! Inlay hints of a bake file: after an `args` key, the default of the
//! Dockerfile ARG it overrides; after an interpolated or computed
//! attribute value of a target, its evaluated value (in a trusted
//! workspace; Restricted Mode evaluates nothing).

use ls_types::{InlayHint, InlayHintLabel, InlayHintTooltip};

use super::{outlines, target_dockerfile, BakeDoc};
use crate::build::bake::BakeValue;
use crate::build::bake_syntax::Value;
use crate::dockerfile::Span;
use crate::lsp::session::Session;

fn hint(doc: &BakeDoc, at: usize, label: String, tooltip: &str) -> InlayHint {
    InlayHint {
        position: doc.range(Span::empty(at)).start,
        label: InlayHintLabel::String(label),
        kind: None,
        text_edits: None,
        tooltip: Some(InlayHintTooltip::String(tooltip.to_string())),
        padding_left: Some(true),
        padding_right: None,
        data: None,
    }
}

pub fn hints(session: &Session, doc: &BakeDoc, from: usize, to: usize) -> Vec<InlayHint> {
    let files = outlines(&doc.folder_files(session));
    let bake = if session.trust.is_trusted() {
        doc.path.as_ref().and_then(|p| super::evaluated(session, p))
    } else {
        None
    };
    let mut out = Vec::new();
    for b in doc.outline.blocks_of("target") {
        if b.span.end < from || b.span.start > to {
            continue;
        }
        let Some((name, _)) = b.name() else { continue };
        let resolved = bake.as_ref().and_then(|k| k.resolve(name).ok());
        let mut df = None;
        for a in &b.attrs {
            if a.key == "args" {
                if let Value::Object(entries) = &a.value {
                    let df =
                        df.get_or_insert_with(|| target_dockerfile(session, doc, &files, name));
                    let Some(df) = df.as_ref() else { continue };
                    for e in entries {
                        if let Some(default) = df.arg(&e.key).and_then(|d| d.value.as_deref()) {
                            out.push(hint(
                                doc,
                                e.key_span.end,
                                format!("(ARG default: {default})"),
                                "The default of this ARG in the Dockerfile, which this value overrides",
                            ));
                        }
                    }
                }
            }
            if !computed(&a.value) {
                continue;
            }
            let Some(v) = resolved.as_ref().and_then(|t| t.attr(&a.key)) else {
                continue;
            };
            if Some(&v.origin.file) != doc.path.as_ref() || v.origin.span.start != a.key_span.start
            {
                continue;
            }
            let shown = match &v.value {
                BakeValue::Str(s) => format!("{s:?}"),
                BakeValue::List(l) => format!("{l:?}"),
                BakeValue::Bool(b) => b.to_string(),
                BakeValue::Null => "null".to_string(),
                BakeValue::Map(m) => format!("{m:?}"),
            };
            out.push(hint(
                doc,
                a.value_span.end,
                format!("= {shown}"),
                "The evaluated value",
            ));
        }
    }
    out
}

/// Whether a value is computed (interpolations, variables, calls) anywhere.
fn computed(v: &Value) -> bool {
    match v {
        Value::Template { .. } | Value::Expr => true,
        Value::List(items) => items.iter().any(|(v, _)| computed(v)),
        Value::Object(entries) => entries.iter().any(|e| computed(&e.value)),
        _ => false,
    }
}

/// In a Dockerfile: after an ARG that a bake target building this file
/// passes a value to, that value and the target (`= 1.0 (bake app)`).
pub fn dockerfile_hints(
    session: &Session,
    uri: &ls_types::Uri,
    df: &crate::dockerfile::Dockerfile,
    model: &crate::dockerfile::Model,
    enc: crate::lsp::position::Encoding,
    (from, to): (usize, usize),
) -> Vec<InlayHint> {
    let Some(path) = crate::lsp::uri::uri_path(uri) else {
        return Vec::new();
    };
    let folder = crate::lsp::builds::selection::workspace::workspace_folder(session, &path);
    let Some(bake_file) = crate::build::bake::bake_file_paths(&folder)
        .into_iter()
        .find(|p| super::file_text(session, p).is_some())
    else {
        return Vec::new();
    };
    let Some(bake) = super::evaluated(session, &bake_file) else {
        return Vec::new();
    };
    let path = crate::build::bake::normalize(&path);
    let mut passed: Vec<(String, String, String)> = Vec::new();
    for name in bake.target_names() {
        let Ok(t) = bake.resolve(&name) else { continue };
        if t.dockerfile_path().ok().as_deref() != Some(path.as_path()) {
            continue;
        }
        for (k, v) in t.map("args").unwrap_or_default() {
            passed.push((k, v, name.clone()));
        }
    }
    let mut out = Vec::new();
    for d in &model.definitions {
        if !matches!(
            d.kind,
            crate::dockerfile::model::DefKind::Arg | crate::dockerfile::model::DefKind::GlobalArg
        ) || d.name_span.end < from
            || d.name_span.start > to
        {
            continue;
        }
        let targets: Vec<String> = passed
            .iter()
            .filter(|(k, _, _)| *k == d.name.as_str())
            .map(|(_, v, t)| format!("{v} (bake {t})"))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let end = d.value_span.map_or(d.name_span.end, |s| s.end);
        out.push(InlayHint {
            position: crate::lsp::position::range_to_lsp(df.range_in(Span::empty(end), enc)).start,
            label: InlayHintLabel::String(format!("= {}", targets.join(", "))),
            kind: None,
            text_edits: None,
            tooltip: Some(InlayHintTooltip::String(
                "The value the bake target passes to this ARG".to_string(),
            )),
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    }
    out
}
