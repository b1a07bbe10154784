//! The build insight in the editor: the last build of each Dockerfile as
//! inlay hints at the end of each instruction (`cached`, `ran 2.3 s: a.txt
//! changed`), a hover section with the last few builds' figures for the
//! instruction, and a code lens summary on the first line. The explanation
//! itself is `insight::explain`, run by `builder::run`; this module keeps
//! what it said per document and turns it into LSP values.
//!
//! What is kept per document, and the LSP values made from it, is the
//! session's state (`lsp::session::insight`); this module loads the store
//! and asks the client to refresh.

use std::sync::Arc;

use tower_lsp_server::Client;

use crate::lsp::session::Session;

/// Loads what the store remembers, off the runtime's threads, then asks the
/// client to show it.
pub fn load_remembered(session: &Arc<Session>, client: &Client) {
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        let Some(dir) = crate::builder::insight::state_dir() else {
            return;
        };
        let Ok(entries) =
            tokio::task::spawn_blocking(move || crate::builder::insight::load(&dir)).await
        else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        session.builds.insight.remember(entries);
        refresh(&session, &client);
    });
}

/// Asks the client to re-request inlay hints and code lenses, where it can.
pub fn refresh(session: &Session, client: &Client) {
    let (hints, lenses) = {
        let state = session.state();
        (
            state.features.inlay_hint_refresh,
            state.features.code_lens_refresh,
        )
    };
    let client = client.clone();
    tokio::spawn(async move {
        if hints {
            if let Err(e) = client.inlay_hint_refresh().await {
                tracing::debug!("workspace/inlayHint/refresh failed: {e}");
            }
        }
        if lenses {
            if let Err(e) = client.code_lens_refresh().await {
                tracing::debug!("workspace/codeLens/refresh failed: {e}");
            }
        }
    });
}
