//! The Compose branch of each request handler: `None` when the document is
//! not an open Compose file (the handler goes on with its own work), else
//! the answer. One small function per request, as `lsp::api`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use ls_types::{
    CompletionItem, Diagnostic, DiagnosticSeverity, DocumentLink, DocumentSymbol, Hover, InlayHint,
    Location, NumberOrString, Range, SymbolKind, TextEdit, Uri, WorkspaceEdit,
};

use crate::build::compose::{is_compose_file, parse_dotenv, parse_yaml, yaml};
use crate::build::files::dotenv_path;
use crate::dockerfile::Span;
use crate::lsp::document::Document;
use crate::lsp::kind::DocKind;
use crate::lsp::position::Encoding;
use crate::lsp::session::Session;
use crate::lsp::uri::uri_path;

use super::names::{self, Kind};
use super::validate;

/// The open Compose document at `uri` and the client's position encoding.
fn compose_doc(session: &Session, uri: &Uri) -> Option<(Arc<Document>, Encoding)> {
    let doc = session.document(uri)?;
    (doc.kind() == DocKind::Compose).then(|| (doc, session.state().features.encoding))
}

pub fn completion(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
) -> Option<Vec<CompletionItem>> {
    let (doc, enc) = compose_doc(session, uri)?;
    Some(super::completion(&doc, doc.offset(pos, enc), enc))
}

pub fn hover(session: &Session, uri: &Uri, pos: ls_types::Position) -> Option<Option<Hover>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let markdown = session.state().features.hover_markdown;
    Some(super::hover(&doc, doc.offset(pos, enc), enc, markdown))
}

/// The name under the cursor and all its occurrences.
fn occurrences_at(doc: &Document, offset: usize) -> Option<(Kind, String, Span, Vec<Span>)> {
    let root = parse_yaml(doc.text()).ok()?;
    let (kind, name, span) = names::name_at(&root, offset)?;
    let all = names::occurrences(&root, kind, &name);
    Some((kind, name, span, all))
}

pub fn definition(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
) -> Option<Option<Location>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let root = parse_yaml(doc.text()).ok();
    let found = root.and_then(|root| {
        let (kind, name, _) = names::name_at(&root, doc.offset(pos, enc))?;
        let (_, span) = names::declarations(&root, kind)
            .into_iter()
            .find(|(n, _)| *n == name)?;
        Some(Location::new(uri.clone(), doc.range(span, enc)))
    });
    Some(found)
}

pub fn references(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let Some((kind, name, _, all)) = occurrences_at(&doc, doc.offset(pos, enc)) else {
        return Some(Vec::new());
    };
    let declared = declared_spans(doc.text(), kind, &name)?;
    Some(
        all.into_iter()
            .filter(|s| include_declaration || !declared.contains(s))
            .map(|s| Location::new(uri.clone(), doc.range(s, enc)))
            .collect(),
    )
}

/// A name Compose accepts for services and the other sections
/// (`^[a-zA-Z0-9._-]+$`).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn rename(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
    new_name: &str,
) -> Option<Result<Option<WorkspaceEdit>, String>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let Some((_, _, _, all)) = occurrences_at(&doc, doc.offset(pos, enc)) else {
        return Some(Ok(None));
    };
    if !valid_name(new_name) {
        return Some(Err(format!(
            "\"{new_name}\" is not a valid Compose name: use letters, digits, '.', '_' and '-'"
        )));
    }
    let edits: Vec<TextEdit> = all
        .into_iter()
        .map(|s| TextEdit::new(doc.range(s, enc), new_name.to_string()))
        .collect();
    let mut changes = HashMap::new();
    changes.insert(uri.clone(), edits);
    Some(Ok(Some(WorkspaceEdit::new(changes))))
}

pub fn prepare_rename_range(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
) -> Option<Option<Range>> {
    let (doc, enc) = compose_doc(session, uri)?;
    Some(occurrences_at(&doc, doc.offset(pos, enc)).map(|(_, _, span, _)| doc.range(span, enc)))
}

/// The occurrences of the name under the cursor: its declaration as
/// `Write`, the references as `Read`.
pub fn highlights(
    session: &Session,
    uri: &Uri,
    pos: ls_types::Position,
) -> Option<Vec<ls_types::DocumentHighlight>> {
    use ls_types::{DocumentHighlight, DocumentHighlightKind};
    let (doc, enc) = compose_doc(session, uri)?;
    let Some((kind, name, _, all)) = occurrences_at(&doc, doc.offset(pos, enc)) else {
        return Some(Vec::new());
    };
    let declared = declared_spans(doc.text(), kind, &name)?;
    Some(
        all.into_iter()
            .map(|s| DocumentHighlight {
                range: doc.range(s, enc),
                kind: Some(match declared.contains(&s) {
                    true => DocumentHighlightKind::WRITE,
                    false => DocumentHighlightKind::READ,
                }),
            })
            .collect(),
    )
}

/// The whole document re-indented (`format`), as one edit.
pub fn formatting(session: &Session, uri: &Uri) -> Option<Vec<TextEdit>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let text = doc.text();
    Some(match super::format::format(text) {
        Some(new) => vec![TextEdit::new(doc.range(Span::new(0, text.len()), enc), new)],
        None => Vec::new(),
    })
}

/// Top-level sections, each with its entries (services, networks, …).
#[allow(deprecated)]
pub fn document_symbols(session: &Session, uri: &Uri) -> Option<Vec<DocumentSymbol>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let Ok(root) = parse_yaml(doc.text()) else {
        return Some(Vec::new());
    };
    let symbol = |name: String,
                  kind: SymbolKind,
                  entry: &yaml::Entry,
                  children: Option<Vec<DocumentSymbol>>| {
        DocumentSymbol {
            name,
            detail: None,
            kind,
            tags: None,
            deprecated: None,
            range: doc.range(entry.span(), enc),
            selection_range: doc.range(entry.key.span, enc),
            children,
        }
    };
    let mut out = Vec::new();
    for e in root.as_map().unwrap_or_default() {
        let Some(key) = e.key.as_str() else { continue };
        let child_kind = match key {
            "services" => Some(SymbolKind::CLASS),
            "networks" => Some(SymbolKind::INTERFACE),
            "volumes" => Some(SymbolKind::FILE),
            "configs" | "secrets" => Some(SymbolKind::KEY),
            _ => None,
        };
        let children = child_kind.map(|k| {
            e.value
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter_map(|c| Some(symbol(c.key.as_str()?.to_string(), k, c, None)))
                .collect()
        });
        out.push(symbol(key.to_string(), SymbolKind::NAMESPACE, e, children));
    }
    Some(out)
}

/// Links on `build.context` (a local folder), `build.dockerfile` (under
/// the context) and `env_file` paths.
pub fn document_links(session: &Session, uri: &Uri) -> Option<Vec<DocumentLink>> {
    let (doc, enc) = compose_doc(session, uri)?;
    let Some(dir) = uri_path(uri).and_then(|p| p.parent().map(Path::to_path_buf)) else {
        return Some(Vec::new());
    };
    let Ok(root) = parse_yaml(doc.text()) else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut images = Vec::new();
    let mut link = |node: &yaml::Node, path: std::path::PathBuf| {
        let Some(target) = Uri::from_file_path(crate::build::bake::normalize(&path)) else {
            return;
        };
        let quote = usize::from(!matches!(
            node.value,
            yaml::Value::Scalar { plain: true, .. }
        ));
        let span = Span::new(node.span.start + quote, node.span.end - quote);
        out.push(DocumentLink {
            range: doc.range(span, enc),
            target: Some(target),
            tooltip: None,
            data: None,
        });
    };
    let local = |s: &str| !s.contains("://") && !s.contains('$') && !s.starts_with("git@");
    // `include:` files (`- path` or `- path: p` / a list of paths).
    for item in root
        .get("include")
        .and_then(yaml::Node::as_seq)
        .unwrap_or_default()
    {
        let paths: Vec<&yaml::Node> = match item.get("path") {
            Some(p) => p.as_seq().map_or_else(|| vec![p], |s| s.iter().collect()),
            None => vec![item],
        };
        for p in paths {
            if let Some(f) = p.as_str().filter(|f| local(f)) {
                link(p, dir.join(f));
            }
        }
    }
    for svc in root
        .get("services")
        .and_then(yaml::Node::as_map)
        .unwrap_or_default()
    {
        let s = &svc.value;
        // `image:` links to the registry's page (made on resolve, as a
        // Dockerfile's FROM).
        if let Some(n) = s.get("image") {
            let text = n.as_str().unwrap_or("");
            let repo = &text[..crate::lsp::docs::repository_len(text)];
            if !repo.is_empty()
                && !repo.contains('$')
                && crate::lsp::docs::image_page(repo).is_some()
            {
                let quote =
                    usize::from(!matches!(n.value, yaml::Value::Scalar { plain: true, .. }));
                let start = n.span.start + quote;
                images.push(DocumentLink {
                    range: doc.range(Span::new(start, start + repo.len()), enc),
                    target: None,
                    tooltip: Some(format!("Open {repo} on its registry's web site")),
                    data: Some(serde_json::Value::String(repo.to_string())),
                });
            }
        }
        let mut context = dir.clone();
        if let Some(b) = s.get("build") {
            let ctx_node = b.get("context").or_else(|| b.as_str().map(|_| b));
            if let Some(n) = ctx_node {
                if let Some(c) = n.as_str().filter(|c| local(c)) {
                    context = dir.join(c);
                    link(n, context.clone());
                }
            }
            if let Some(n) = b.get("dockerfile") {
                if let Some(f) = n.as_str().filter(|f| local(f)) {
                    link(n, context.join(f));
                }
            }
        }
        if let Some(env) = s.get("env_file") {
            let mut each = |n: &yaml::Node| {
                let n = n.get("path").unwrap_or(n);
                if let Some(f) = n.as_str().filter(|f| local(f)) {
                    link(n, dir.join(f));
                }
            };
            match env.as_seq() {
                Some(items) => items.iter().for_each(&mut each),
                None => each(env),
            }
        }
    }
    out.extend(images);
    Some(out)
}

/// Inlay hints of interpolated values: only in a trusted workspace (the
/// environment and the cached `.env`; nothing is read here).
pub fn inlay_hints(session: &Session, uri: &Uri, range: Range) -> Option<Vec<InlayHint>> {
    let (doc, enc) = compose_doc(session, uri)?;
    if !session.trust.is_trusted() {
        return Some(Vec::new());
    }
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if let Some(dir) = uri_path(uri).and_then(|p| p.parent().map(Path::to_path_buf)) {
        let cached = session
            .state()
            .builders
            .disk
            .get(&dotenv_path(&dir))
            .cloned()
            .flatten();
        if let Some(text) = cached {
            for (k, v) in parse_dotenv(&text) {
                env.entry(k).or_insert(v);
            }
        }
    }
    let (from, to) = doc.byte_range(range, enc);
    Some(super::inlay_hints(&doc, &env, enc, Span::new(from, to)))
}

/// Schema errors (and, for a file under a name the build configuration
/// does not read, its YAML syntax error) of a Compose document.
pub fn diagnostics(uri: &Uri, doc: &Document, enc: Encoding) -> Vec<Diagnostic> {
    if doc.kind() != DocKind::Compose {
        return Vec::new();
    }
    let diagnostic = |span: Span, code: &str, message: String| Diagnostic {
        range: doc.range(span, enc),
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String(code.to_string())),
        source: Some("buildkit-lsp".to_string()),
        message,
        ..Diagnostic::default()
    };
    match parse_yaml(doc.text()) {
        Ok(root) => validate::validate(&root)
            .into_iter()
            .map(|e| diagnostic(e.span, "ComposeSchema", e.message))
            .collect(),
        // Files the build configuration reads get the syntax error from
        // there (`BakeSyntax`), once.
        Err(_) if uri_path(uri).is_some_and(|p| is_compose_file(&p)) => Vec::new(),
        Err(e) => vec![diagnostic(e.span, "ComposeSyntax", e.message)],
    }
}

/// Where `name` of `kind` is declared in `text` (a reference elsewhere is
/// not a declaration); `None` when the text does not parse.
fn declared_spans(text: &str, kind: names::Kind, name: &str) -> Option<Vec<Span>> {
    let root = parse_yaml(text).ok()?;
    Some(
        names::declarations(&root, kind)
            .into_iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .collect(),
    )
}
