//! The builder a workspace builds with: selection commands, status watch,
//! capability diagnostics against its driver, and the build code lenses.
//!
//! The workspace's choice (`buildkit.useBuilder`, `initializationOptions.builder`)
//! is kept here, never written to the buildx store; without one, the builder
//! is the one buildx would pick (`builder::select`). Everything a keystroke
//! path needs (the selected builder, its driver's features, the last known
//! status of each builder) is cached in the session's
//! [`BuilderState`](crate::lsp::session::builders::BuilderState): hover, completion
//! and diagnostics read the cache and never wait on a builder. Store reads
//! run on the blocking pool; builder I/O runs in spawned tasks with timeouts.

pub mod commands;
pub mod findings;
pub mod fixes;
pub mod lenses;
pub mod watch;
pub mod workspace;

use std::time::Duration;

use crate::builder::status;
use crate::builder::{self, BuilderError, Env, NodeGroup};
use crate::driver::Features;
use crate::lsp::error::LspError;
pub use crate::lsp::session::builders::{CurrentBuilder, KnownBuilder, KnownStatus};
use crate::lsp::session::Session;
use tower_lsp_server::Client;

/// Resolves the builder for a workspace choice (blocking: reads the store
/// under its lock). An unknown `chosen` name falls back to buildx's choice,
/// as the remembered choice of a removed builder must not break the editor.
pub fn resolve(env: &Env, chosen: Option<&str>) -> Result<CurrentBuilder, BuilderError> {
    let store = builder::open_store(env)?;
    let mut txn = store.txn()?;
    if let Some(name) = chosen {
        match builder::selection::node_group(&txn, env, name) {
            Ok(group) => return Ok(CurrentBuilder::from_group(group)),
            Err(BuilderError::NotFound(_)) => {
                tracing::warn!("builder {name:?} no longer exists; using buildx's choice");
            }
            Err(e) => return Err(e),
        }
    }
    let selected = builder::select(&mut txn, env, None)?;
    Ok(CurrentBuilder::from_group(selected.group))
}

/// Runs a blocking store operation on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BuilderError> + Send + 'static,
) -> Result<T, LspError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(r) => r.map_err(LspError::from),
        Err(e) => Err(LspError::Builder(BuilderError::Invalid(format!(
            "the builder store task failed: {e}"
        )))),
    }
}

/// The builder this workspace builds with: the cached one, else resolved
/// from the store now (and cached). For builds and commands; language
/// features use [`cached`].
pub async fn current(session: &Session) -> Result<CurrentBuilder, LspError> {
    let chosen = {
        let state = session.state();
        if let Some(c) = &state.builders.current {
            return Ok(c.clone());
        }
        state.builders.chosen.clone()
    };
    let env = Env::from_process();
    let resolved = blocking(move || resolve(&env, chosen.as_deref())).await?;
    let mut state = session.state();
    // A selection made meanwhile wins over this first resolution.
    Ok(state
        .builders
        .current
        .get_or_insert_with(|| resolved.clone())
        .clone())
}

/// The cached builder, if resolved yet. Never does I/O.
pub fn cached(session: &Session) -> Option<CurrentBuilder> {
    session.state().builders.current.clone()
}

/// How long one status probe of a builder may take before it counts as not
/// answering (the driver's own status query gives up after 10 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(12);

/// Asks a builder's drivers for their status, and the features the first
/// node's driver reports (the docker engine's containerd image store, the
/// `default-load` option). `None` features: no driver could be built; keep
/// the table's column for the driver kind.
pub async fn probe(group: &NodeGroup) -> (KnownStatus, Option<Features>) {
    let work = async {
        let (nodes, features) = status::status_and_features(group).await;
        (KnownStatus::from_nodes(group, &nodes), features)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => (
            KnownStatus {
                status: "error",
                platforms: Vec::new(),
                error: Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
            },
            None,
        ),
    }
}

/// The store's builders (as `buildx ls` lists them) and the name of the one
/// the store marks current (blocking).
pub fn read_store(env: &Env) -> Result<(Vec<NodeGroup>, String), BuilderError> {
    let store = builder::open_store(env)?;
    let mut txn = store.txn()?;
    let groups = builder::selection::all_builders(&mut txn, env)?;
    let global = builder::selection::current_builder(&mut txn, env)?.name;
    Ok((groups, global))
}

/// The local paths of the workspace folders (`initialize`'s
/// `workspaceFolders`; clients without them get the Dockerfile's folder).
pub fn folders(folders: &Option<Vec<ls_types::WorkspaceFolder>>) -> Vec<std::path::PathBuf> {
    folders
        .iter()
        .flatten()
        .filter_map(|f| crate::lsp::uri::uri_path(&f.uri))
        .collect()
}

/// Names compare as buildx compares them: case-insensitively.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `workspace/codeLens/refresh`, in the background (the client answers when
/// it has re-requested its lenses). Only call it if the client supports it.
pub fn refresh_lenses(client: &Client) {
    let client = client.clone();
    tokio::spawn(async move {
        if let Err(e) = client.code_lens_refresh().await {
            tracing::debug!("workspace/codeLens/refresh failed: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bake_files_are_known_by_name() {
        let uri = |s: &str| s.parse::<ls_types::Uri>().unwrap();
        assert!(findings::is_bake_uri(&uri("file:///w/docker-bake.hcl")));
        assert!(findings::is_bake_uri(&uri(
            "file:///w/docker-bake.override.json"
        )));
        assert!(!findings::is_bake_uri(&uri("file:///w/Dockerfile")));
        assert!(!findings::is_bake_uri(&uri("file:///w/bake.hcl")));
    }
}
