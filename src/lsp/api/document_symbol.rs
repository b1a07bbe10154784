//! `textDocument/documentSymbol`: parser directives (`# syntax=`, `# escape=`,
//! `# check=`) first, then stages with their instructions as children;
//! instructions before the first FROM (global ARGs) at top level. What
//! BuildKit deprecates (MAINTAINER, the legacy `ENV key value` form) is
//! tagged deprecated. Clients without hierarchical support get the same,
//! flattened.

use ls_types::{
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, Location, SymbolInformation,
    SymbolKind, SymbolTag,
};

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::dockerfile::{Instruction, InstructionKind};
use crate::lsp::analysis::stages;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::{Session, Snapshot};

pub fn handle(session: &Session, params: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    if let Some(r) = crate::lsp::bake::dispatch::document_symbol(session, &params) {
        return r;
    }
    let uri = params.text_document.uri;
    if let Some(symbols) = crate::lsp::compose::api::document_symbols(session, &uri) {
        return Some(DocumentSymbolResponse::Nested(symbols));
    }
    let snap = session.snapshot(&uri)?;
    Some(response(&snap, &uri))
}

fn response(snap: &Snapshot, uri: &ls_types::Uri) -> DocumentSymbolResponse {
    let symbols = symbols(snap);
    if snap.features.hierarchical_symbols {
        return DocumentSymbolResponse::Nested(symbols);
    }
    let mut flat = Vec::new();
    flatten(&symbols, None, uri, &mut flat);
    DocumentSymbolResponse::Flat(flat)
}

/// Answers `textDocument/documentSymbol` in the transport, before the
/// protocol library: the library turns every result into a
/// `serde_json::Value` tree first, which for the outline of a large file
/// (thousands of nested objects) costs ten times the work itself. Here the
/// symbols are serialized straight to bytes, and the bytes are kept for the
/// document's current version. Only while every didOpen/didChange/didClose
/// the transport passed on has been applied (`Session::text_in_sync`):
/// otherwise the request takes the library's path, in order behind them.
pub struct Shortcut {
    session: Arc<Session>,
    cache: Option<(CacheKey, Arc<[u8]>)>,
}

/// What a serialized outline depends on: the document (uri, generation) and
/// the client's shape (hierarchical, UTF-8 positions).
#[derive(PartialEq, Eq)]
struct CacheKey {
    uri: String,
    generation: u64,
    hierarchical: bool,
    utf8: bool,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    id: Option<Value>,
}

#[derive(Deserialize)]
struct Request {
    params: DocumentSymbolParams,
}

impl Shortcut {
    pub fn new(session: Arc<Session>) -> Self {
        Shortcut {
            session,
            cache: None,
        }
    }

    /// The response body when this message is a documentSymbol request the
    /// shortcut can answer; counts text synchronisation notifications.
    pub fn answer(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        let probe: Probe = serde_json::from_slice(body).ok()?;
        let method = probe.method?;
        match method.as_str() {
            "textDocument/didOpen" | "textDocument/didChange" | "textDocument/didClose" => {
                self.session
                    .text_sync_forwarded
                    .fetch_add(1, Ordering::SeqCst);
                return None;
            }
            "textDocument/documentSymbol" => {}
            _ => return None,
        }
        let id = probe.id?;
        if !self.session.text_in_sync() {
            return None;
        }
        let request: Request = serde_json::from_slice(body).ok()?;
        let uri = request.params.text_document.uri;
        let doc = self.session.document(&uri)?;
        let features = self.session.state().features.clone();
        let key = CacheKey {
            uri: uri.as_str().to_string(),
            generation: doc.generation(),
            hierarchical: features.hierarchical_symbols,
            utf8: features.encoding == crate::lsp::position::Encoding::Utf8,
        };
        let result = match &self.cache {
            Some((k, bytes)) if *k == key => bytes.clone(),
            _ => {
                let snap = self.session.snapshot(&uri)?;
                let bytes: Arc<[u8]> = serde_json::to_vec(&response(&snap, &uri)).ok()?.into();
                self.cache = Some((key, bytes.clone()));
                bytes
            }
        };
        let mut out = Vec::with_capacity(result.len() + 64);
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        serde_json::to_writer(&mut out, &id).ok()?;
        out.extend_from_slice(b",\"result\":");
        out.extend_from_slice(&result);
        out.push(b'}');
        Some(out)
    }
}

#[allow(deprecated)] // `deprecated` is a required field of the LSP type
fn symbol(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    range: ls_types::Range,
    selection: ls_types::Range,
    children: Option<Vec<DocumentSymbol>>,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range: selection,
        children,
    }
}

fn instruction_symbol(snap: &Snapshot, ins: &Instruction) -> DocumentSymbol {
    let enc = snap.features.encoding;
    let kind = match ins.kind {
        InstructionKind::Arg | InstructionKind::Env => SymbolKind::VARIABLE,
        InstructionKind::Label => SymbolKind::PROPERTY,
        InstructionKind::Expose => SymbolKind::NUMBER,
        _ => SymbolKind::FUNCTION,
    };
    // The arguments' first source line, without its continuation escape.
    let first_line = snap.df.text(ins.rest_span).lines().next().unwrap_or("");
    let first_line = first_line.trim_end();
    let first_line = first_line
        .strip_suffix(snap.df.escape)
        .unwrap_or(first_line)
        .trim();
    let detail = (!first_line.is_empty()).then(|| truncate(first_line, 60));
    let mut sym = symbol(
        ins.keyword.as_str().to_ascii_uppercase(),
        detail,
        kind,
        range_to_lsp(snap.df.range_in(ins.span, enc)),
        range_to_lsp(snap.df.range_in(ins.keyword_span, enc)),
        None,
    );
    if deprecated(ins) {
        sym.tags = Some(vec![SymbolTag::DEPRECATED]);
    }
    sym
}

/// What BuildKit's checks call deprecated: MAINTAINER (MaintainerDeprecated)
/// and `ENV`/`LABEL key value` (LegacyKeyValueFormat), also inside ONBUILD.
fn deprecated(ins: &Instruction) -> bool {
    ins.kind == InstructionKind::Maintainer
        || ins.legacy_key_value
        || ins.onbuild.as_deref().is_some_and(deprecated)
}

fn directive_symbols(snap: &Snapshot) -> impl Iterator<Item = DocumentSymbol> + '_ {
    let df = &snap.df;
    let enc = snap.features.encoding;
    df.directives.iter().map(move |d| {
        symbol(
            format!("# {}", d.name),
            Some(truncate(&d.value, 60)),
            SymbolKind::KEY,
            range_to_lsp(df.range_in(d.span, enc)),
            range_to_lsp(df.range_in(d.name_span, enc)),
            None,
        )
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

pub fn symbols(snap: &Snapshot) -> Vec<DocumentSymbol> {
    let df = &snap.df;
    let enc = snap.features.encoding;
    let stages = stages(&snap.model);
    let first_from = stages.first().map_or(df.instructions.len(), |s| s.from);
    let mut out: Vec<DocumentSymbol> = directive_symbols(snap).collect();
    out.extend(
        df.instructions[..first_from]
            .iter()
            .map(|i| instruction_symbol(snap, i)),
    );
    for st in &stages {
        let from = &df.instructions[st.from];
        let last = &df.instructions[st.end.saturating_sub(1).max(st.from)];
        let span = from.span.cover(last.span);
        let (name, selection) = match (&st.name, &st.image) {
            (Some((n, s)), _) => (n.clone(), *s),
            (None, Some((img, s))) => (format!("stage {} ({img})", st.index), *s),
            (None, None) => (format!("stage {}", st.index), from.keyword_span),
        };
        let children = df.instructions[st.from..st.end]
            .iter()
            .map(|i| instruction_symbol(snap, i))
            .collect();
        out.push(symbol(
            name,
            st.image.as_ref().map(|(img, _)| format!("FROM {img}")),
            SymbolKind::CLASS,
            range_to_lsp(df.range_in(span, enc)),
            range_to_lsp(df.range_in(selection, enc)),
            Some(children),
        ));
    }
    out
}

#[allow(deprecated)]
fn flatten(
    symbols: &[DocumentSymbol],
    container: Option<&str>,
    uri: &ls_types::Uri,
    out: &mut Vec<SymbolInformation>,
) {
    for s in symbols {
        out.push(SymbolInformation {
            name: s.name.clone(),
            kind: s.kind,
            tags: s.tags.clone(),
            deprecated: None,
            location: Location::new(uri.clone(), s.range),
            container_name: container.map(str::to_string),
        });
        if let Some(children) = &s.children {
            flatten(children, Some(&s.name), uri, out);
        }
    }
}
