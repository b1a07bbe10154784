//! Definition, references, document highlight and rename in a bake file.
//! Targets (and groups) and variables are found across the folder's bake
//! files (the override files included), so a rename changes them all.
//! Definition also leads out of the bake file: a `target` value to the
//! Dockerfile stage, `dockerfile` to the file, an `args` key to its ARG.

use std::collections::HashMap;

use ls_types::{
    DocumentHighlight, DocumentHighlightKind, Location, PrepareRenameResponse, Range, TextEdit,
    Uri, WorkspaceEdit,
};

use super::{outlines, target_dockerfile, BakeDoc, BakeFile};
use crate::build::bake_syntax::{target_refs, Outline, RefKind, Value};
use crate::dockerfile::Span;
use crate::lsp::session::Session;

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbol {
    /// A target or group name.
    Target(String),
    /// `target.<name>.<attr>`, the cursor on the attribute.
    TargetAttr {
        target: String,
        attr: String,
    },
    Variable(String),
    Function(String),
    /// The `target` attribute's value of the target named first.
    Stage {
        target: String,
        stage: String,
    },
    /// The `dockerfile` attribute of a target.
    Dockerfile(String),
    /// An `args` key of a target.
    Arg {
        target: String,
        name: String,
    },
}

fn touches(s: Span, offset: usize) -> bool {
    s.start <= offset && offset <= s.end
}

/// The symbol at `offset` and the span of its name there.
pub fn symbol_at(outline: &Outline, offset: usize) -> Option<(Symbol, Span)> {
    for r in &outline.refs {
        if let Some((attr, span)) = r.attr.as_ref().filter(|(_, s)| touches(*s, offset)) {
            let sym = Symbol::TargetAttr {
                target: r.name.clone(),
                attr: attr.clone(),
            };
            return Some((sym, *span));
        }
    }
    if let Some(r) = outline.ref_at(offset) {
        let sym = match r.kind {
            RefKind::Var => Symbol::Variable(r.name.clone()),
            RefKind::Target => Symbol::Target(r.name.clone()),
            RefKind::Call => Symbol::Function(r.name.clone()),
        };
        return Some((sym, r.span));
    }
    for a in &outline.attrs {
        if touches(a.key_span, offset) {
            return Some((Symbol::Variable(a.key.clone()), a.key_span));
        }
    }
    let block = outline.block_at(offset)?;
    if let Some((name, span)) = block.name() {
        if touches(span, offset) {
            let sym = match block.kind.as_str() {
                "target" | "group" => Symbol::Target(name.to_string()),
                "variable" => Symbol::Variable(name.to_string()),
                "function" => Symbol::Function(name.to_string()),
                _ => return None,
            };
            return Some((sym, span));
        }
    }
    for (name, span) in target_refs(block) {
        if touches(span, offset) {
            return Some((Symbol::Target(name.to_string()), span));
        }
    }
    if block.kind != "target" {
        return None;
    }
    let target = block.name()?.0.to_string();
    for a in &block.attrs {
        match (a.key.as_str(), &a.value) {
            ("target", v) => {
                if let Some((stage, span)) = v.as_str().filter(|(_, s)| touches(*s, offset)) {
                    return Some((
                        Symbol::Stage {
                            target,
                            stage: stage.to_string(),
                        },
                        span,
                    ));
                }
            }
            ("dockerfile", v) => {
                if let Some((_, span)) = v.as_str().filter(|(_, s)| touches(*s, offset)) {
                    return Some((Symbol::Dockerfile(target), span));
                }
            }
            ("args", Value::Object(entries)) => {
                if let Some(e) = entries.iter().find(|e| touches(e.key_span, offset)) {
                    return Some((
                        Symbol::Arg {
                            target,
                            name: e.key.clone(),
                        },
                        e.key_span,
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// Where each file mentions the symbol: (is declaration, span).
fn mentions(outline: &Outline, sym: &Symbol) -> Vec<(bool, Span)> {
    match sym {
        Symbol::Target(name) => {
            let decls: Vec<Span> = outline
                .blocks
                .iter()
                .filter(|b| b.kind == "target" || b.kind == "group")
                .filter_map(|b| b.name())
                .filter(|(n, _)| n == name)
                .map(|(_, s)| s)
                .collect();
            let mut out: Vec<(bool, Span)> = outline
                .target_mentions(name)
                .into_iter()
                .map(|s| (decls.contains(&s), s))
                .collect();
            for d in decls {
                if !out.iter().any(|(_, s)| *s == d) {
                    out.push((true, d));
                }
            }
            out.sort_by_key(|(_, s)| s.start);
            out
        }
        Symbol::Variable(name) => {
            let decls: Vec<Span> = outline
                .variable_names()
                .into_iter()
                .filter(|(n, _)| n == name)
                .map(|(_, s)| s)
                .collect();
            outline
                .variable_mentions(name)
                .into_iter()
                .map(|s| (decls.contains(&s), s))
                .collect()
        }
        Symbol::Function(name) => {
            let mut out: Vec<(bool, Span)> = outline
                .blocks_of("function")
                .filter_map(|b| b.name())
                .filter(|(n, _)| n == name)
                .map(|(_, s)| (true, s))
                .collect();
            out.extend(
                outline
                    .refs
                    .iter()
                    .filter(|r| r.kind == RefKind::Call && r.name == *name)
                    .map(|r| (false, r.span)),
            );
            out
        }
        _ => Vec::new(),
    }
}

pub fn definition(session: &Session, doc: &BakeDoc, offset: usize) -> Vec<Location> {
    let Some((sym, _)) = symbol_at(&doc.outline, offset) else {
        return Vec::new();
    };
    let enc = doc.enc();
    match &sym {
        Symbol::Target(_) | Symbol::Variable(_) | Symbol::Function(_) => {
            let files = doc.folder_files(session);
            let mut out = Vec::new();
            for f in &files {
                let Some(uri) = f.uri(doc) else { continue };
                for (decl, span) in mentions(&f.outline, &sym) {
                    if decl {
                        out.push(Location::new(uri.clone(), f.range(span, enc)));
                    }
                }
            }
            out
        }
        Symbol::TargetAttr { target, attr } => {
            // Where bake takes the value from: the target's own blocks, then
            // its parents.
            let files = doc.folder_files(session);
            let all = outlines(&files);
            let Some(found) = crate::build::bake_syntax::inherited(&all, target, attr) else {
                return Vec::new();
            };
            files
                .iter()
                .zip(&all)
                .find(|(_, o)| {
                    o.blocks_of("target")
                        .any(|b| b.attrs.iter().any(|a| std::ptr::eq(a, found)))
                })
                .and_then(|(f, _)| {
                    f.uri(doc)
                        .map(|uri| vec![Location::new(uri, f.range(found.key_span, enc))])
                })
                .unwrap_or_default()
        }
        Symbol::Stage { target, stage } => {
            let files = outlines(&doc.folder_files(session));
            let Some(df) = target_dockerfile(session, doc, &files, target) else {
                return Vec::new();
            };
            let Some(st) = df.model.stage_by_name(stage) else {
                return Vec::new();
            };
            let Some(uri) = Uri::from_file_path(&df.path) else {
                return Vec::new();
            };
            let span = st.name.as_ref().map_or(st.span, |w| w.span);
            vec![Location::new(uri, df.range(span, enc))]
        }
        Symbol::Dockerfile(target) => {
            let files = outlines(&doc.folder_files(session));
            super::target_dockerfile_path(doc, &files, target)
                .filter(|p| p.is_file() || super::file_text(session, p).is_some())
                .and_then(|p| Uri::from_file_path(&p))
                .map(|uri| vec![Location::new(uri, Range::default())])
                .unwrap_or_default()
        }
        Symbol::Arg { target, name } => {
            let files = outlines(&doc.folder_files(session));
            let Some(df) = target_dockerfile(session, doc, &files, target) else {
                return Vec::new();
            };
            let Some(uri) = Uri::from_file_path(&df.path) else {
                return Vec::new();
            };
            df.model
                .definitions
                .iter()
                .filter(|d| {
                    matches!(
                        d.kind,
                        crate::dockerfile::model::DefKind::Arg
                            | crate::dockerfile::model::DefKind::GlobalArg
                    ) && d.name == name.as_str()
                })
                .map(|d| Location::new(uri.clone(), df.range(d.name_span, enc)))
                .collect()
        }
    }
}

pub fn references(
    session: &Session,
    doc: &BakeDoc,
    offset: usize,
    declarations: bool,
) -> Vec<Location> {
    let Some((sym, _)) = symbol_at(&doc.outline, offset) else {
        return Vec::new();
    };
    let enc = doc.enc();
    let mut out = Vec::new();
    for f in &doc.folder_files(session) {
        let Some(uri) = f.uri(doc) else { continue };
        for (decl, span) in mentions(&f.outline, &sym) {
            if declarations || !decl {
                out.push(Location::new(uri.clone(), f.range(span, enc)));
            }
        }
    }
    out
}

pub fn highlight(doc: &BakeDoc, offset: usize) -> Vec<DocumentHighlight> {
    let Some((sym, _)) = symbol_at(&doc.outline, offset) else {
        return Vec::new();
    };
    mentions(&doc.outline, &sym)
        .into_iter()
        .map(|(decl, span)| DocumentHighlight {
            range: doc.range(span),
            kind: Some(if decl {
                DocumentHighlightKind::WRITE
            } else {
                DocumentHighlightKind::READ
            }),
        })
        .collect()
}

pub fn prepare_rename(doc: &BakeDoc, offset: usize) -> Option<PrepareRenameResponse> {
    match symbol_at(&doc.outline, offset)? {
        (Symbol::Target(_) | Symbol::Variable(_), span) => {
            Some(PrepareRenameResponse::Range(doc.range(span)))
        }
        _ => None,
    }
}

/// Why a new name cannot be used, if it cannot.
fn invalid_name(sym: &Symbol, new: &str) -> Option<&'static str> {
    let mut chars = new.chars();
    let first = chars.next()?;
    match sym {
        // buildx: target names match `^[a-zA-Z0-9_-]+$`.
        Symbol::Target(_) => (!new
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then_some("a target name may only contain letters, digits, '_' and '-'"),
        Symbol::Variable(_) => (!(first.is_ascii_alphabetic() || first == '_')
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then_some("a variable name must start with a letter or '_' and contain only letters, digits, '_' and '-'"),
        _ => Some("only targets, groups and variables can be renamed"),
    }
}

pub fn rename(
    session: &Session,
    doc: &BakeDoc,
    offset: usize,
    new: &str,
) -> Result<Option<WorkspaceEdit>, String> {
    let Some((sym, _)) = symbol_at(&doc.outline, offset) else {
        return Ok(None);
    };
    let new = new.trim();
    if new.is_empty() {
        return Err("cannot rename to an empty name".to_string());
    }
    if let Some(why) = invalid_name(&sym, new) {
        return Err(format!("cannot rename to {new:?}: {why}"));
    }
    let enc = doc.enc();
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    let files: Vec<BakeFile> = doc.folder_files(session);
    for f in &files {
        let Some(uri) = f.uri(doc) else { continue };
        let edits: Vec<TextEdit> = mentions(&f.outline, &sym)
            .into_iter()
            .map(|(_, span)| TextEdit::new(f.range(span, enc), new.to_string()))
            .collect();
        if !edits.is_empty() {
            changes.insert(uri, edits);
        }
    }
    Ok(Some(WorkspaceEdit::new(changes)))
}
