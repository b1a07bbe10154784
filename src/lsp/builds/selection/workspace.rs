//! The workspace's build configuration, cached: bake files are read from
//! the open document when it is open (unsaved edits count), else from disk,
//! asynchronously, cached by path until a watched-file event says it
//! changed; the builds a Dockerfile is configured with come from them
//! (`build::config`). Findings, code actions and lenses read the cache only
//! (no disk access on the request path).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ls_types::Uri;
use tower_lsp_server::Client;

use crate::build::bake::{Bake, BakeSource};
use crate::build::config::{self, ConfiguredBuild};
use crate::build::files::{definition_file_paths, dotenv_path, is_definition_file};
use crate::lsp::document::Document;
use crate::lsp::session::{Session, Stale};
use crate::lsp::uri::uri_path;

/// Whether a document is a bake file or a Compose file (by its file name,
/// any languageId): both configure builds (`build::files`).
pub fn is_bake_uri(uri: &Uri) -> bool {
    uri_path(uri).is_some_and(|p| is_definition_file(&p))
}

/// The build configuration files of a folder (`build::files`), with its
/// `.env` only in a trusted workspace (Restricted Mode reads no `.env`).
pub(super) fn config_paths(session: &Session, folder: &Path) -> Vec<PathBuf> {
    let mut paths = definition_file_paths(folder);
    if session.trust.is_trusted() {
        paths.push(dotenv_path(folder));
    }
    paths
}

/// The workspace folder a file belongs to: the innermost workspace folder
/// that contains it, else its own folder.
pub fn workspace_folder(session: &Session, file: &Path) -> PathBuf {
    let state = session.state();
    state
        .builders
        .folders
        .iter()
        .filter(|f| file.starts_with(f))
        .max_by_key(|f| f.as_os_str().len())
        .cloned()
        .unwrap_or_else(|| file.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// The texts of open documents by local path.
pub(super) fn open_texts(session: &Session) -> HashMap<PathBuf, Arc<Document>> {
    session
        .state()
        .documents
        .iter()
        .filter_map(|(k, d)| {
            let uri: Uri = k.parse().ok()?;
            Some((uri_path(&uri)?, crate::lsp::document::private_copy(d)))
        })
        .collect()
}

/// Reads uncached files into the disk cache (missing files as `None`).
pub(super) async fn fill_cache(session: &Session, paths: &[PathBuf]) {
    for path in paths {
        if session.state().builders.disk.contains_key(path) {
            continue;
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => Some(Arc::<str>::from(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", path.display());
                None
            }
        };
        session.state().builders.disk.insert(path.clone(), text);
    }
}

/// Files changed on disk (watched-file events): forget them; if a bake
/// file is among them, re-validate every open document and refresh lenses.
pub fn files_changed(session: &Arc<Session>, client: &Client, uris: &[Uri]) {
    let paths: Vec<PathBuf> = uris.iter().filter_map(uri_path).collect();
    let bake = {
        let mut state = session.state();
        for p in &paths {
            state.builders.disk.remove(p);
        }
        let bake = paths
            .iter()
            .any(|p| is_definition_file(p) || p.file_name().is_some_and(|n| n == ".env"));
        if bake {
            state.settings_epoch += 1;
        }
        bake
    };
    if bake {
        tracing::info!("bake files changed");
        session.report_stale(Stale::All);
        if session.state().features.code_lens_refresh {
            super::refresh_lenses(client);
        }
    }
}

/// The text of a file: the open document, else the disk cache.
pub(super) fn text_of(
    session: &Session,
    open: &HashMap<PathBuf, Arc<Document>>,
    path: &Path,
) -> Option<Arc<str>> {
    if let Some(d) = open.get(path) {
        return Some(Arc::from(d.text()));
    }
    session.state().builders.disk.get(path).cloned().flatten()
}

/// The bake definition of a folder from cached texts (`None`: no bake
/// file, or one that does not parse; the error is logged and shown on the
/// open bake file by the findings).
pub(super) fn bake_of(
    session: &Session,
    open: &HashMap<PathBuf, Arc<Document>>,
    folder: &Path,
) -> Option<Bake> {
    match parse_bake(session, open, folder)? {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!("bake files of {}: {e}", folder.display());
            None
        }
    }
}

/// The folder's bake files parsed from cached texts; `None`: there are none.
pub(super) fn parse_bake(
    session: &Session,
    open: &HashMap<PathBuf, Arc<Document>>,
    folder: &Path,
) -> Option<Result<Bake, crate::build::Error>> {
    let sources: Vec<BakeSource> = config_paths(session, folder)
        .into_iter()
        .filter_map(|path| {
            let text = text_of(session, open, &path)?;
            Some(BakeSource {
                path,
                text: text.to_string(),
            })
        })
        .collect();
    if !sources.iter().any(|s| is_definition_file(&s.path)) {
        return None;
    }
    // Evaluated only in a trusted workspace (`lsp::trust`).
    Some(session.trust.parse_bake(&sources))
}

/// The builds configured for a Dockerfile, from cached texts only.
pub(super) fn builds_cached(
    session: &Session,
    open: &HashMap<PathBuf, Arc<Document>>,
    dockerfile: &Path,
    folder: &Path,
) -> Result<Vec<ConfiguredBuild>, crate::build::Error> {
    let bake = bake_of(session, open, folder);
    let (mut settings, load_override) = {
        let state = session.state();
        (state.settings().build, state.builders.load_override)
    };
    settings.load |= load_override;
    config::configured_builds(dockerfile, folder, bake.as_ref(), &settings)
}

/// The builds configured for the Dockerfile at `uri` (reads the folder's
/// bake files if not cached yet). For builds and the line-0 lens.
pub async fn configured_builds(
    session: &Session,
    uri: &Uri,
) -> Result<Vec<ConfiguredBuild>, crate::build::Error> {
    let Some(path) = uri_path(uri) else {
        return Ok(Vec::new());
    };
    let folder = workspace_folder(session, &path);
    fill_cache(session, &config_paths(session, &folder)).await;
    builds_cached(session, &open_texts(session), &path, &folder)
}

/// The bake definition of the folder of an open bake file, from cache.
pub fn bake_for(session: &Session, bake_file: &Path) -> Option<Bake> {
    let folder = bake_file.parent()?;
    bake_of(session, &open_texts(session), folder)
}
