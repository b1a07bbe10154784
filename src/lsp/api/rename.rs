//! `textDocument/prepareRename` and `textDocument/rename` for stage names,
//! ARG/ENV variables and heredoc delimiters (`<<EOF` … `EOF`). New names are
//! validated the way BuildKit reads them: stage names `[a-z][a-z0-9-_.]*`
//! (any case), variable names `[A-Za-z_][A-Za-z0-9_]*`, heredoc delimiters
//! a plain word.

use std::collections::HashMap;

use ls_types::{
    PrepareRenameResponse, RenameParams, TextDocumentPositionParams, TextEdit, WorkspaceEdit,
};
use tower_lsp_server::jsonrpc;

use crate::lsp::analysis::{named_at, Named};
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn prepare(
    session: &Session,
    params: TextDocumentPositionParams,
) -> Option<PrepareRenameResponse> {
    if let Some(r) = crate::lsp::bake::dispatch::prepare_rename(session, &params) {
        return r;
    }
    let (uri, pos) = (&params.text_document.uri, params.position);
    if let Some(r) = crate::lsp::compose::api::prepare_rename_range(session, uri, pos) {
        return r.map(PrepareRenameResponse::Range);
    }
    let snap = session.snapshot(&params.text_document.uri)?;
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(params.position, enc);
    let named = named_at(&snap.df, &snap.model, offset)?;
    let at = named
        .occurrences()
        .iter()
        .find(|o| o.span.touches(offset))?;
    Some(PrepareRenameResponse::Range(range_to_lsp(
        snap.df.range_in(at.span, enc),
    )))
}

fn valid_stage_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn valid_heredoc_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn handle(session: &Session, params: RenameParams) -> jsonrpc::Result<Option<WorkspaceEdit>> {
    if let Some(r) = crate::lsp::bake::dispatch::rename(session, &params) {
        return r;
    }
    let p = params.text_document_position;
    let (uri, pos) = (&p.text_document.uri, p.position);
    if let Some(r) = crate::lsp::compose::api::rename(session, uri, pos, &params.new_name) {
        return r.map_err(jsonrpc::Error::invalid_params);
    }
    let Some(snap) = session.snapshot(&p.text_document.uri) else {
        return Ok(None);
    };
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(p.position, enc);
    let Some(named) = named_at(&snap.df, &snap.model, offset) else {
        return Ok(None);
    };
    let new = params.new_name.trim();
    let ok = match &named {
        Named::Stage { .. } => valid_stage_name(new),
        Named::Variable { .. } => valid_var_name(new),
        Named::Heredoc { .. } => valid_heredoc_name(new),
    };
    if let Named::Heredoc {
        body, strip_tabs, ..
    } = &named
    {
        // A body line equal to the new name would end the heredoc there.
        let clash = snap.df.text(*body).lines().any(|l| {
            let l = if *strip_tabs {
                l.trim_start_matches('\t')
            } else {
                l
            };
            l.trim_end_matches('\r') == new
        });
        if clash {
            return Err(jsonrpc::Error::invalid_params(format!(
                "cannot rename to {new:?}: a line of the heredoc's body is already {new:?}, so the heredoc would end there; pick another delimiter"
            )));
        }
    }
    if !ok {
        let what = match named {
            Named::Stage { .. } => "a stage name must start with a letter and contain only letters, digits, '-', '_' and '.'",
            Named::Variable { .. } => "a variable name must start with a letter or '_' and contain only letters, digits and '_'",
            Named::Heredoc { .. } => "a heredoc delimiter must be a word of letters, digits and '_'",
        };
        return Err(jsonrpc::Error::invalid_params(format!(
            "cannot rename to {new:?}: {what}"
        )));
    }
    let edits = named
        .occurrences()
        .iter()
        .map(|o| TextEdit::new(range_to_lsp(snap.df.range_in(o.span, enc)), new.to_string()))
        .collect();
    let mut changes = HashMap::new();
    changes.insert(p.text_document.uri, edits);
    Ok(Some(WorkspaceEdit::new(changes)))
}
