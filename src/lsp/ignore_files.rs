//! `.dockerignore` patterns for the CopyIgnoredFile check. The build context
//! is the Dockerfile's folder until build settings say otherwise; like
//! BuildKit, `<Dockerfile>.dockerignore` beside the Dockerfile wins over the
//! context's `.dockerignore`. Files are read asynchronously (never on the
//! keystroke path) and cached per path (the session's
//! [`IgnoreCache`](super::session::ignores::IgnoreCache)) until the client reports a change, handled here.

use std::path::PathBuf;
use std::sync::Arc;

use ls_types::Uri;

pub use super::session::ignores::{candidates, is_ignore_file};
use super::session::Session;
use super::uri::uri_path;
use crate::lsp::session::Stale;

/// Ignore files changed on disk (watched-file events, didSave, didOpen):
/// forget them and re-publish the diagnostics of the open Dockerfiles they
/// apply to. Paths that are not ignore files are skipped.
pub fn files_changed(session: &Arc<Session>, uris: &[Uri]) {
    let paths: Vec<PathBuf> = uris
        .iter()
        .filter_map(uri_path)
        .filter(|p| is_ignore_file(p))
        .collect();
    if paths.is_empty() {
        return;
    }
    for p in &paths {
        session.ignores.invalidate(p);
        tracing::info!("{} changed", p.display());
    }
    let affected: Vec<Uri> = {
        let mut state = session.state();
        // Results computed with the old patterns are stale now.
        state.settings_epoch += 1;
        state
            .documents
            .keys()
            .filter_map(|k| k.parse::<Uri>().ok())
            .filter(|u| {
                uri_path(u).is_some_and(|d| candidates(&d).iter().any(|c| paths.contains(c)))
            })
            .collect()
    };
    for uri in affected {
        session.report_stale(Stale::Invalidated(uri));
    }
}
