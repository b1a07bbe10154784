//! The language features of bake files (`docker-bake.hcl`, `.json` and
//! their overrides), one file per feature. Each request handler in
//! `lsp::api` asks here first and answers with the result when the
//! document is a bake file (`lsp::kind`), so nothing Dockerfile-ish reaches
//! a bake file. The bake knowledge itself (outline, attribute tables,
//! formatter, checks) is pure and lives in `build::bake_*`; this module
//! turns it into LSP types and reads the files it needs (the folder's other
//! bake files, the Dockerfile a target builds) from open documents, the
//! workspace cache, or the disk.

pub mod checks;
pub mod completion;
pub mod dispatch;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod inlay_hints;
pub mod links;
pub mod navigation;
pub mod semantic_tokens;
pub mod symbols;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ls_types::{Position, Range, Uri};

use crate::build::bake::{bake_file_paths, Bake, BakeSource};
use crate::build::bake_check::DockerfileFacts;
use crate::build::bake_syntax::{inherited, Outline, Syntax};
use crate::dockerfile::model::DefKind;
use crate::dockerfile::{Dockerfile, Model, Span};
use crate::lsp::capabilities::ClientFeatures;
use crate::lsp::document::Document;
use crate::lsp::kind::{BakeSyntax, DocKind};
use crate::lsp::position::Encoding;
use crate::lsp::session::Session;
use crate::lsp::uri::uri_path;

/// An open bake file and what every feature needs about it.
pub struct BakeDoc {
    pub uri: Uri,
    pub doc: Arc<Document>,
    pub path: Option<PathBuf>,
    pub outline: Outline,
    pub features: ClientFeatures,
}

impl BakeDoc {
    /// The open document at `uri` if it is a bake file.
    pub fn open(session: &Session, uri: &Uri) -> Option<BakeDoc> {
        let (doc, features) = {
            let state = session.state();
            let doc = state.documents.get(uri.as_str())?.clone();
            (doc, state.features.clone())
        };
        let DocKind::Bake(syntax) = doc.kind() else {
            return None;
        };
        let syntax = match syntax {
            BakeSyntax::Hcl => Syntax::Hcl,
            BakeSyntax::Json => Syntax::Json,
        };
        let outline = if doc.skip_reason().is_some() {
            Outline::parse("", syntax)
        } else {
            Outline::parse(doc.text(), syntax)
        };
        Some(BakeDoc {
            uri: uri.clone(),
            path: uri_path(uri),
            doc,
            outline,
            features,
        })
    }

    pub fn enc(&self) -> Encoding {
        self.features.encoding
    }

    pub fn text(&self) -> &str {
        self.doc.text()
    }

    pub fn offset(&self, pos: Position) -> usize {
        self.doc.offset(pos, self.enc())
    }

    pub fn range(&self, span: Span) -> Range {
        self.doc.range(span, self.enc())
    }

    pub fn src(&self, span: Span) -> &str {
        self.text().get(span.start..span.end).unwrap_or("")
    }

    /// The folder's bake files in bake's reading order, this one included
    /// (as open), each with its text and outline. A bake file under another
    /// name is read alone.
    pub fn folder_files(&self, session: &Session) -> Vec<BakeFile> {
        let Some(path) = &self.path else {
            return vec![self.as_file()];
        };
        let Some(folder) = path.parent() else {
            return vec![self.as_file()];
        };
        let mut names = bake_file_paths(folder);
        if !names.contains(path) {
            names = vec![path.clone()];
        }
        names
            .into_iter()
            .filter_map(|p| {
                if &p == path {
                    return Some(self.as_file());
                }
                let text = file_text(session, &p)?;
                let syntax = if p.extension().is_some_and(|e| e == "json") {
                    Syntax::Json
                } else {
                    Syntax::Hcl
                };
                let outline = Outline::parse(&text, syntax);
                Some(BakeFile {
                    path: p,
                    text,
                    outline,
                })
            })
            .collect()
    }

    fn as_file(&self) -> BakeFile {
        BakeFile {
            path: self.path.clone().unwrap_or_default(),
            text: Arc::from(self.text()),
            outline: self.outline.clone(),
        }
    }

    /// Whether `f` is this document.
    pub fn is_self(&self, f: &BakeFile) -> bool {
        self.path.as_ref() == Some(&f.path)
            || (self.path.is_none() && f.path.as_os_str().is_empty())
    }
}

/// One bake file of a folder.
pub struct BakeFile {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub outline: Outline,
}

impl BakeFile {
    pub fn uri(&self, doc: &BakeDoc) -> Option<Uri> {
        if doc.is_self(self) {
            return Some(doc.uri.clone());
        }
        Uri::from_file_path(&self.path)
    }

    /// An LSP range of a span of this file.
    pub fn range(&self, span: Span, enc: Encoding) -> Range {
        let lines = crate::dockerfile::LineIndex::new(&self.text);
        crate::lsp::position::range_to_lsp(lines.range(span, enc))
    }
}

/// A file's text: the open document, else the workspace cache, else the
/// disk (bake files and Dockerfiles are small; a missing file is `None`).
pub fn file_text(session: &Session, path: &Path) -> Option<Arc<str>> {
    if let Some(uri) = Uri::from_file_path(path) {
        if let Some(doc) = session.document(&uri) {
            return Some(Arc::from(doc.text()));
        }
    }
    if let Some(cached) = session.state().builders.disk.get(path) {
        return cached.clone();
    }
    std::fs::read_to_string(path).ok().map(Arc::from)
}

/// The Dockerfile a target builds, as bake resolves it from the literal
/// `context` and `dockerfile` (inherited ones included), with its text,
/// parse and model. `None` for `dockerfile-inline`, remote contexts and
/// missing files.
pub struct TargetDockerfile {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub df: Dockerfile,
    pub model: Model,
}

pub fn target_dockerfile(
    session: &Session,
    doc: &BakeDoc,
    files: &[Outline],
    target: &str,
) -> Option<TargetDockerfile> {
    let path = target_dockerfile_path(doc, files, target)?;
    let text = file_text(session, &path)?;
    let df = crate::dockerfile::parse(&text);
    let model = Model::build(&df);
    Some(TargetDockerfile {
        path,
        text,
        df,
        model,
    })
}

/// The path of the Dockerfile a target builds.
pub fn target_dockerfile_path(doc: &BakeDoc, files: &[Outline], target: &str) -> Option<PathBuf> {
    let base = doc.path.as_ref()?.parent()?.to_path_buf();
    if inherited(files, target, "dockerfile-inline").is_some() {
        return None;
    }
    let literal =
        |key| inherited(files, target, key).map(|a| a.value.as_str().map(|(s, _)| s.to_string()));
    let context = match literal("context") {
        None => ".".to_string(),
        Some(Some(c)) if !c.contains("://") && !c.starts_with("git@") => c,
        Some(_) => return None,
    };
    let dockerfile = match literal("dockerfile") {
        None => "Dockerfile".to_string(),
        Some(Some(d)) => d,
        Some(None) => return None,
    };
    let context = base.join(context);
    Some(crate::build::bake::normalize(&context.join(dockerfile)))
}

impl TargetDockerfile {
    /// The facts the bake checks need.
    pub fn facts(&self, stage: Option<&str>) -> DockerfileFacts {
        let stages = self
            .model
            .stages
            .iter()
            .filter_map(|s| s.name.as_ref().map(|w| w.value.to_string()))
            .collect();
        let mut args: Vec<String> = self
            .model
            .definitions
            .iter()
            .filter(|d| matches!(d.kind, DefKind::Arg | DefKind::GlobalArg))
            .map(|d| d.name.to_string())
            .collect();
        args.dedup();
        DockerfileFacts {
            path: self.path.clone(),
            stages,
            args,
            arg_insert: self.arg_insert(stage),
        }
    }

    /// The stage a target builds: named by `target`, else the last.
    pub fn stage(&self, name: Option<&str>) -> Option<&crate::dockerfile::model::Stage> {
        match name {
            Some(n) => self.model.stage_by_name(n),
            None => self.model.stages.last(),
        }
    }

    /// The start of the line after the stage's FROM instruction.
    fn arg_insert(&self, stage: Option<&str>) -> Option<usize> {
        let st = self.stage(stage)?;
        let from = self.df.instructions.get(st.from_instruction)?;
        let end = from.span.end;
        Some(
            self.text[end..]
                .find('\n')
                .map_or(self.text.len(), |i| end + i + 1),
        )
    }

    /// The ARG definitions named `name` (global first).
    pub fn arg(&self, name: &str) -> Option<&crate::dockerfile::model::VarDef> {
        self.model
            .definitions
            .iter()
            .find(|d| matches!(d.kind, DefKind::Arg | DefKind::GlobalArg) && d.name == name)
    }

    pub fn range(&self, span: Span, enc: Encoding) -> Range {
        crate::lsp::position::range_to_lsp(self.df.range_in(span, enc))
    }
}

/// Markdown, or plain text for clients that do not render it.
pub fn markup(features: &ClientFeatures, markdown: String) -> ls_types::MarkupContent {
    if features.hover_markdown {
        ls_types::MarkupContent {
            kind: ls_types::MarkupKind::Markdown,
            value: markdown,
        }
    } else {
        ls_types::MarkupContent {
            kind: ls_types::MarkupKind::PlainText,
            value: markdown.replace("**", "").replace('`', ""),
        }
    }
}

/// The outlines of a folder's files (for the pure lookups).
pub fn outlines(files: &[BakeFile]) -> Vec<Outline> {
    files.iter().map(|f| f.outline.clone()).collect()
}

/// The folder's bake files evaluated as buildx would (statically in
/// Restricted Mode), from open documents, the cache or the disk; `None`
/// when there are none or they do not evaluate (their errors are the
/// diagnostics' business).
pub fn evaluated(session: &Session, bake_file: &Path) -> Option<Arc<Bake>> {
    use std::hash::{Hash, Hasher};
    let folder = bake_file.parent()?;
    let sources: Vec<BakeSource> = bake_file_paths(folder)
        .into_iter()
        .filter_map(|path| {
            let text = file_text(session, &path)?.to_string();
            Some(BakeSource { path, text })
        })
        .collect();
    if sources.is_empty() {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    session.trust.is_trusted().hash(&mut h);
    for s in &sources {
        s.path.hash(&mut h);
        s.text.hash(&mut h);
    }
    let key = h.finish();
    let cache = &session.bake_eval.0;
    if let Some((k, bake)) = cache.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if *k == key {
            return Some(Arc::clone(bake));
        }
    }
    let bake = Arc::new(session.trust.parse_bake(&sources).ok()?);
    *cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, Arc::clone(&bake)));
    Some(bake)
}
