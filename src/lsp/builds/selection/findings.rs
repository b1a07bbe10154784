//! Capability diagnostics: the builds a Dockerfile is configured with (bake
//! files of its workspace folder, else `buildkit.build.*`, else defaults;
//! `build::config`) checked against the selected builder's driver features
//! and platforms (`build::capability`), published with the document's other
//! diagnostics; on open bake files the same findings at the attribute, each
//! side linking the other through `relatedInformation`.
//!
//! What the workspace configures (bake files, settings) is read through
//! the cache in `workspace`; this module only turns it into findings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ls_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Range,
    Uri,
};
use serde_json::json;
use tower_lsp_server::Client;

use crate::build::bake::{Bake, BakeErrorKind};
use crate::build::capability::{self, CapabilityFinding, Severity};
use crate::build::config::{ConfigSource, ConfiguredBuild};
use crate::build::files::is_definition_file as is_bake_file;
use crate::dockerfile::{Dockerfile, Model, Span};
use crate::lsp::document::Document;
use crate::lsp::position::{range_to_lsp, Encoding};
use crate::lsp::session::Session;
use crate::lsp::session::Stale;
use crate::lsp::uri::uri_path;

pub use super::workspace::{
    bake_for, configured_builds, files_changed, is_bake_uri, workspace_folder,
};
use super::workspace::{
    bake_of, builds_cached, config_paths, fill_cache, open_texts, parse_bake, text_of,
};

/// The errors of the folder's bake files that lie in `bake_file`, as
/// diagnostics: a syntax error (no target builds), or an expression that
/// cannot be evaluated (the targets using it do not build).
fn bake_error_diagnostics(
    session: &Session,
    open: &HashMap<PathBuf, Arc<Document>>,
    bake_file: &Path,
) -> Vec<Diagnostic> {
    let Some(folder) = bake_file.parent() else {
        return Vec::new();
    };
    let errors = match parse_bake(session, open, folder) {
        None => return Vec::new(),
        Some(Ok(bake)) => bake.errors,
        Some(Err(e)) => vec![e],
    };
    let enc = session.state().features.encoding;
    errors
        .into_iter()
        .filter_map(|e| match e {
            crate::build::Error::Bake {
                kind,
                origin,
                message,
            } if origin.file == bake_file => Some(Diagnostic {
                range: range_to_lsp(origin.range_in(enc)),
                // Not an error in the file: Restricted Mode did not evaluate it.
                severity: Some(match kind {
                    BakeErrorKind::NotEvaluated => DiagnosticSeverity::INFORMATION,
                    _ => DiagnosticSeverity::ERROR,
                }),
                code: Some(NumberOrString::String(format!("Bake{kind:?}"))),
                source: Some("buildkit-lsp".to_string()),
                message,
                ..Diagnostic::default()
            }),
            _ => None,
        })
        .collect()
}

/// A finding with the build it is about.
pub struct Found {
    pub build: ConfiguredBuild,
    pub finding: CapabilityFinding,
}

/// The capability findings of a parsed Dockerfile, from cached state.
/// `folder` is where the bake files are.
/// `model` is `df`'s when the caller has it (built here otherwise, and only
/// if a builder is known).
pub fn dockerfile_findings(
    session: &Session,
    path: &Path,
    folder: &Path,
    df: &Dockerfile,
    model: Option<&Model>,
) -> Vec<Found> {
    let Some((features, platforms)) = builder_features(session) else {
        return Vec::new();
    };
    let builds = match builds_cached(session, &open_texts(session), path, folder) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!("no build configuration for {}: {e}", path.display());
            return Vec::new();
        }
    };
    let built;
    let model = match model {
        Some(m) => m,
        None => {
            built = Model::build(df);
            &built
        }
    };
    let mut out = Vec::new();
    for build in builds {
        for finding in capability::findings(&build, model, &features, &platforms) {
            out.push(Found {
                build: build.clone(),
                finding,
            });
        }
    }
    out
}

/// The selected builder's features and platforms, if known.
pub(crate) fn builder_features(
    session: &Session,
) -> Option<(crate::driver::Features, Vec<String>)> {
    let state = session.state();
    let current = state.builders.current.as_ref()?;
    let features = current.features?;
    let platforms = state
        .builders
        .statuses
        .get(&current.name)
        .map(|s| s.platforms.clone())
        .unwrap_or_default();
    Some((features, platforms))
}

/// After an edit of an open document (push mode): a changed bake file
/// re-validates the open Dockerfiles, a changed Dockerfile the open bake
/// files (they point into its stages and ARGs).
pub fn note_edit(session: &Arc<Session>, client: &Client, uri: &Uri, doc: &Document) {
    let seen = session
        .state()
        .builders
        .seen_generations
        .insert(uri.as_str().to_string(), doc.generation());
    if seen.is_none_or(|g| g == doc.generation()) {
        return;
    }
    if is_bake_uri(uri) {
        bake_changed(session, client);
    } else {
        reschedule(session, true);
    }
}

/// Re-schedules the open bake files (`bake`) or the other documents.
fn reschedule(session: &Arc<Session>, bake: bool) {
    let uris: Vec<Uri> = session
        .state()
        .documents
        .keys()
        .filter_map(|k| k.parse::<Uri>().ok())
        .filter(|u| is_bake_uri(u) == bake)
        .collect();
    // An edit's consequence (this runs per keystroke in push mode): pushed
    // only, no `workspace/diagnostic/refresh` making pull clients re-pull
    // every document.
    for u in uris {
        session.report_stale(Stale::Document {
            uri: u,
            immediate: true,
        });
    }
}

/// Schedules diagnostics of the open documents that have capability
/// findings now (from cached texts).
pub fn schedule_with_findings(session: &Arc<Session>) {
    let (docs, enc) = {
        let state = session.state();
        let docs: Vec<(Uri, Arc<Document>)> = state
            .documents
            .iter()
            .filter_map(|(k, d)| Some((k.parse::<Uri>().ok()?, Arc::clone(d))))
            .collect();
        (docs, state.features.encoding)
    };
    for (uri, doc) in docs {
        let Some(path) = uri_path(&uri) else {
            continue;
        };
        let has = if is_bake_file(&path) {
            !bake_found(session, &path, enc).is_empty()
        } else {
            let folder = workspace_folder(session, &path);
            doc.parse_transient().is_some_and(|df| {
                !dockerfile_findings(session, &path, &folder, &df, None).is_empty()
            })
        };
        if has {
            session.report_stale(Stale::Invalidated(uri));
        }
    }
}

/// Bake files changed: everything configured from them reads again.
pub fn bake_changed(session: &Arc<Session>, client: &Client) {
    // No epoch bump: this runs inside the bake file's own diagnostics task,
    // whose result must stay current; the Dockerfiles are re-scheduled.
    reschedule(session, false);
    if session.state().features.code_lens_refresh {
        super::refresh_lenses(client);
    }
}

/// The capability diagnostics of an open document: a bake file's at its
/// attributes, or a Dockerfile's from its parse and model (`None`: not
/// analysed). Reads what is not cached yet.
pub async fn diagnostics(
    session: &Session,
    uri: &Uri,
    analysis: Option<(&Dockerfile, &Model)>,
    enc: Encoding,
) -> Vec<Diagnostic> {
    let Some(path) = uri_path(uri) else {
        return Vec::new();
    };
    if is_bake_file(&path) {
        return bake_diagnostics(session, &path, enc).await;
    }
    let Some((df, model)) = analysis else {
        return Vec::new();
    };
    let folder = workspace_folder(session, &path);
    fill_cache(session, &config_paths(session, &folder)).await;
    dockerfile_findings(session, &path, &folder, df, Some(model))
        .iter()
        .map(|f| dockerfile_diagnostic(f, df, enc))
        .collect()
}

/// Where a finding shows in the Dockerfile: its span, or all of line 0 for
/// the empty span at the start (a build without a target stage).
fn dockerfile_range(df: &Dockerfile, span: Span, enc: Encoding) -> Range {
    if span.start == 0 && span.end == 0 {
        let end = df.source.find('\n').unwrap_or(df.source.len());
        let end = df.source[..end].trim_end_matches('\r').len();
        return range_to_lsp(df.range_in(Span::new(0, end), enc));
    }
    range_to_lsp(df.range_in(span, enc))
}

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
    }
}

/// The message, naming the bake target when several builds share a file.
fn message(f: &Found) -> String {
    match (&f.build.source, &f.build.bake_target) {
        (ConfigSource::Bake, Some(t))
            if f.build
                .block
                .as_ref()
                .is_some_and(|o| crate::build::compose::is_compose_file(&o.file)) =>
        {
            format!("{} (Compose service \"{t}\")", f.finding.message)
        }
        (ConfigSource::Bake, Some(t)) => format!("{} (bake target \"{t}\")", f.finding.message),
        _ => f.finding.message.clone(),
    }
}

fn base_diagnostic(f: &Found, range: Range) -> Diagnostic {
    Diagnostic {
        range,
        severity: Some(severity(f.finding.severity)),
        code: Some(NumberOrString::String(f.finding.code.as_str().to_string())),
        source: Some("buildkit-lsp".to_string()),
        message: message(f),
        data: Some(json!({"builder": true})),
        ..Diagnostic::default()
    }
}

/// A finding on the Dockerfile, linking the bake attribute that asks for it.
pub fn dockerfile_diagnostic(f: &Found, df: &Dockerfile, enc: Encoding) -> Diagnostic {
    let mut d = base_diagnostic(f, dockerfile_range(df, f.finding.dockerfile_range, enc));
    if let Some(origin) = &f.finding.bake_origin {
        if let Some(uri) = Uri::from_file_path(&origin.file) {
            d.related_information = Some(vec![DiagnosticRelatedInformation {
                location: Location::new(uri, range_to_lsp(origin.range_in(enc))),
                message: format!(
                    "set in {}",
                    origin
                        .file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            }]);
        }
    }
    d
}

/// The findings of an open bake file: every buildable target's build
/// checked, shown at the attribute (or target block) in this file.
async fn bake_diagnostics(session: &Session, bake_file: &Path, enc: Encoding) -> Vec<Diagnostic> {
    let Some(folder) = bake_file.parent() else {
        return Vec::new();
    };
    fill_cache(session, &config_paths(session, folder)).await;
    let open = open_texts(session);
    if let Some(bake) = bake_of(session, &open, folder) {
        fill_cache(session, &target_dockerfiles(&bake)).await;
    }
    let mut out = bake_error_diagnostics(session, &open, bake_file);
    out.extend(
        bake_found(session, bake_file, enc)
            .into_iter()
            .map(|(_, d)| d),
    );
    out
}

/// The Dockerfiles the targets of a bake definition build.
fn target_dockerfiles(bake: &Bake) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for name in bake.target_names() {
        if let Ok(path) = bake.resolve(&name).and_then(|t| t.dockerfile_path()) {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// The findings shown on an open bake file, with their diagnostics, from
/// cached texts only (for code actions too).
pub fn bake_found(session: &Session, bake_file: &Path, enc: Encoding) -> Vec<(Found, Diagnostic)> {
    let Some(folder) = bake_file.parent() else {
        return Vec::new();
    };
    let open = open_texts(session);
    let Some(bake) = bake_of(session, &open, folder) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in target_dockerfiles(&bake) {
        let Some(text) = text_of(session, &open, &path) else {
            continue;
        };
        let df = crate::dockerfile::parse(&text);
        for f in dockerfile_findings(session, &path, folder, &df, None) {
            if let Some(d) = bake_diagnostic(&f, bake_file, &path, &df, enc) {
                out.push((f, d));
            }
        }
    }
    out
}

/// A finding at its bake attribute in `bake_file`, linking the Dockerfile.
pub fn bake_diagnostic(
    f: &Found,
    bake_file: &Path,
    dockerfile: &Path,
    df: &Dockerfile,
    enc: Encoding,
) -> Option<Diagnostic> {
    let origin = f
        .finding
        .bake_origin
        .as_ref()
        .or(f.build.block.as_ref())
        .filter(|o| o.file == bake_file)?;
    let mut d = base_diagnostic(f, range_to_lsp(origin.range_in(enc)));
    let uri = Uri::from_file_path(dockerfile)?;
    d.related_information = Some(vec![DiagnosticRelatedInformation {
        location: Location::new(uri, dockerfile_range(df, f.finding.dockerfile_range, enc)),
        message: "the Dockerfile this target builds".to_string(),
    }]);
    Some(d)
}

/// The tags the line-0 build of a Dockerfile gives its image (cache only):
/// those of the build without a target stage, else the first build's.
pub fn tags_for(session: &Session, uri: &Uri) -> Vec<String> {
    let Some(path) = uri_path(uri) else {
        return Vec::new();
    };
    let folder = workspace_folder(session, &path);
    let builds = builds_cached(session, &open_texts(session), &path, &folder).unwrap_or_default();
    builds
        .iter()
        .find(|b| b.spec.target.is_none())
        .or(builds.first())
        .map(|b| b.spec.tags.clone())
        .unwrap_or_default()
}
