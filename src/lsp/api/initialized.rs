//! `initialized`: pull the `buildkit` settings if the client can answer, and
//! ask to be told about `.dockerignore` changes if it can watch files.

use std::sync::Arc;

use ls_types::{
    DidChangeWatchedFilesRegistrationOptions, FileSystemWatcher, GlobPattern, Registration,
};
use tower_lsp_server::Client;

use super::did_change_configuration;
use crate::lsp::session::Session;

/// Registration id of the `.dockerignore` watcher.
const WATCH_ID: &str = "buildkit-lsp.dockerignore";

pub async fn handle(session: &Arc<Session>, client: &Client) {
    tracing::info!("buildkit-lsp {} ready", env!("CARGO_PKG_VERSION"));
    let (pulls, watches) = {
        let state = session.state();
        (state.features.configuration, state.features.watch_files)
    };
    if watches {
        register_watchers(client).await;
    }
    if pulls {
        did_change_configuration::pull(session, client).await;
    }
    crate::lsp::builds::insight::load_remembered(session, client);
}

async fn register_watchers(client: &Client) {
    let options = DidChangeWatchedFilesRegistrationOptions {
        // Bake files too: they decide what a Dockerfile builds (issue 7).
        watchers: [
            "**/.dockerignore",
            "**/*.dockerignore",
            "**/docker-bake*.{hcl,json}",
        ]
        .into_iter()
        .map(|g| FileSystemWatcher {
            glob_pattern: GlobPattern::String(g.to_string()),
            kind: None,
        })
        .collect(),
    };
    let register_options = match serde_json::to_value(options) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!("cannot encode the file watcher registration: {e}");
            return;
        }
    };
    let registration = Registration {
        id: WATCH_ID.to_string(),
        method: "workspace/didChangeWatchedFiles".to_string(),
        register_options,
    };
    if let Err(e) = client.register_capability(vec![registration]).await {
        // Without it, didSave/didOpen of the file still re-read it.
        tracing::warn!("client refused the .dockerignore watcher: {e}");
    }
}
