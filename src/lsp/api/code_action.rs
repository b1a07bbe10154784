//! `textDocument/codeAction`: the checks' mechanical fixes as quick fixes,
//! "ignore this rule in this file" (adds or extends `# check=skip=`),
//! "ignore everywhere" (the `buildkit.ignoreRuleEverywhere` command), and the
//! builder capability fixes (`lsp::builds::selection::fixes`).

use std::collections::HashMap;

use ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Command, Diagnostic,
    TextEdit, Uri, WorkspaceEdit,
};

use crate::dockerfile::{Dockerfile, PieceKind, Span};
use crate::lsp::builds::selection::{findings, fixes};
use crate::lsp::commands;
use crate::lsp::diagnostic_conv::{findings, to_diagnostic};
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: CodeActionParams) -> Vec<CodeActionOrCommand> {
    let uri = params.text_document.uri.clone();
    let enc = session.state().features.encoding;
    // Capability fixes first: switching builders fixes the most at once.
    let mut out = fixes::actions(session, &uri, params.range, enc);
    if let Some(fixes) = crate::lsp::bake::dispatch::code_actions(session, &params) {
        out.extend(fixes);
        return out; // not a Dockerfile: no check fixes
    }
    if findings::is_bake_uri(&uri) {
        return out; // not a Dockerfile: no check fixes
    }
    let Some(snap) = session.snapshot(&uri) else {
        return out;
    };
    let df = &snap.df;
    let wanted = snap.doc.byte_range(params.range, enc);
    let mut ignored_rules: Vec<&str> = Vec::new();
    // Cache only: a code action must not wait on the disk.
    let all = findings(
        df,
        &snap.model,
        &snap.settings,
        session.ignores.cached_for(&uri),
    );
    for f in all.iter().filter(|f| overlaps(f.span, wanted)) {
        let diagnostic = to_diagnostic(df, f, enc);
        if let Some(fix) = &f.fix {
            let edits = fix
                .edits
                .iter()
                .map(|e| TextEdit::new(range_to_lsp(df.range_in(e.span, enc)), e.new_text.clone()))
                .collect();
            out.push(action(
                fix.title.clone(),
                &uri,
                edits,
                Some(diagnostic.clone()),
                true,
            ));
        }
        let Some(rule) = f.code() else { continue };
        if ignored_rules.contains(&rule) {
            continue;
        }
        ignored_rules.push(rule);
        if let Some(edit) = skip_edit(df, rule) {
            let te = TextEdit::new(range_to_lsp(df.range_in(edit.0, enc)), edit.1);
            out.push(action(
                format!("Ignore {rule} in this file"),
                &uri,
                vec![te],
                Some(diagnostic.clone()),
                false,
            ));
        }
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("Ignore {rule} everywhere"),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diagnostic]),
            command: Some(Command::new(
                format!("Ignore {rule} everywhere"),
                commands::IGNORE_RULE_EVERYWHERE.to_string(),
                Some(vec![serde_json::Value::String(rule.to_string())]),
            )),
            ..CodeAction::default()
        }));
    }
    out
}

fn overlaps(a: Span, b: (usize, usize)) -> bool {
    a.start <= b.1 && b.0 <= a.end
}

fn action(
    title: String,
    uri: &Uri,
    edits: Vec<TextEdit>,
    diagnostic: Option<Diagnostic>,
    preferred: bool,
) -> CodeActionOrCommand {
    let mut changes = HashMap::new();
    changes.insert(uri.clone(), edits);
    CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: diagnostic.map(|d| vec![d]),
        edit: Some(WorkspaceEdit::new(changes)),
        is_preferred: preferred.then_some(true),
        ..CodeAction::default()
    })
}

/// The edit that makes the file's `# check=` directive skip `rule`: extend
/// `skip=` if present, add `skip=` to an existing directive, or add a new
/// directive after the existing ones (directives must precede everything
/// else). `None` when the file already skips the rule or everything.
pub fn skip_edit(df: &Dockerfile, rule: &str) -> Option<(Span, String)> {
    if let Some(d) = df.directive("check") {
        let value = &d.value;
        let mut pos = 0;
        for part in value.split(';') {
            let trimmed = part.trim_start();
            if let Some(list) = trimmed.strip_prefix("skip=") {
                let items: Vec<&str> = list.trim().split(',').map(str::trim).collect();
                if items
                    .iter()
                    .any(|i| i.eq_ignore_ascii_case("all") || *i == rule)
                {
                    return None;
                }
                let end = d.value_span.start + pos + part.trim_end().len();
                let sep = if list.trim().is_empty() { "" } else { "," };
                return Some((Span::empty(end), format!("{sep}{rule}")));
            }
            pos += part.len() + 1;
        }
        let end = d.value_span.start + value.trim_end().len();
        let sep = if value.trim().is_empty() { "" } else { ";" };
        return Some((Span::empty(end), format!("{sep}skip={rule}")));
    }
    // After the BOM and any other directives.
    let at = df
        .pieces
        .iter()
        .take_while(|p| matches!(p.kind, PieceKind::Bom | PieceKind::Directive(_)))
        .last()
        .map_or(0, |p| match p.kind {
            PieceKind::Bom => p.span.end,
            _ => line_end_after(&df.source, p.span.end),
        });
    Some((Span::empty(at), format!("# check=skip={rule}\n")))
}

/// The offset after the line break that ends the line containing `offset`.
fn line_end_after(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    match rest.find('\n') {
        Some(i) => offset + i + 1,
        None => text.len(),
    }
}
