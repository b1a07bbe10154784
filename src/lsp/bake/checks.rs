//! Diagnostics and quick fixes of a bake file from `build::bake_check`,
//! with the Dockerfile facts of each target read here. They join the
//! document's other diagnostics (syntax, evaluation and capability
//! findings, `lsp::builds::selection::findings`).

use std::collections::HashMap;

use ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Diagnostic, DiagnosticSeverity,
    NumberOrString, Range, TextEdit, Uri, WorkspaceEdit,
};

use super::{outlines, target_dockerfile, BakeDoc};
use crate::build::bake_check::{check, Check, Severity};
use crate::build::bake_syntax::inherited;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

fn run(session: &Session, doc: &BakeDoc) -> Vec<Check> {
    let files = doc.folder_files(session);
    let index = files.iter().position(|f| doc.is_self(f)).unwrap_or(0);
    let all = outlines(&files);
    check(&all, index, &|target| {
        let df = target_dockerfile(session, doc, &all, target)?;
        let stage = inherited(&all, target, "target")
            .and_then(|a| a.value.as_str().map(|(s, _)| s.to_string()));
        Some(df.facts(stage.as_deref()))
    })
}

fn diagnostic(doc: &BakeDoc, c: &Check) -> Diagnostic {
    Diagnostic {
        range: doc.range(c.span),
        severity: Some(match c.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Hint => DiagnosticSeverity::HINT,
        }),
        code: Some(NumberOrString::String(c.code.to_string())),
        source: Some("buildkit-lsp".to_string()),
        message: c.message.clone(),
        ..Default::default()
    }
}

pub fn diagnostics(session: &Session, doc: &BakeDoc) -> Vec<Diagnostic> {
    run(session, doc)
        .iter()
        .map(|c| diagnostic(doc, c))
        .collect()
}

pub fn actions(session: &Session, doc: &BakeDoc, range: Range) -> Vec<CodeActionOrCommand> {
    let (from, to) = doc.doc.byte_range(range, doc.enc());
    let enc = doc.enc();
    let mut out = Vec::new();
    for c in run(session, doc) {
        if c.span.end < from || c.span.start > to {
            continue;
        }
        let Some(fix) = &c.fix else { continue };
        let (uri, edits): (Uri, Vec<TextEdit>) = match &fix.file {
            None => (
                doc.uri.clone(),
                fix.edits
                    .iter()
                    .map(|(s, t)| TextEdit::new(doc.range(*s), t.clone()))
                    .collect(),
            ),
            Some(path) => {
                let Some(text) = super::file_text(session, path) else {
                    continue;
                };
                let Some(uri) = Uri::from_file_path(path) else {
                    continue;
                };
                let lines = crate::dockerfile::LineIndex::new(&text);
                (
                    uri,
                    fix.edits
                        .iter()
                        .map(|(s, t)| TextEdit::new(range_to_lsp(lines.range(*s, enc)), t.clone()))
                        .collect(),
                )
            }
        };
        let mut changes = HashMap::new();
        changes.insert(uri, edits);
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: fix.title.clone(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diagnostic(doc, &c)]),
            edit: Some(WorkspaceEdit::new(changes)),
            is_preferred: Some(true),
            ..Default::default()
        }));
    }
    out
}
