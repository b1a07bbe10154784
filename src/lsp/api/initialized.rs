//! `initialized`: pull the `buildkit` settings if the client can answer.

use std::sync::Arc;

use tower_lsp_server::Client;

use super::did_change_configuration;
use crate::lsp::session::Session;

pub async fn handle(session: &Arc<Session>, client: &Client) {
    tracing::info!("buildkit-lsp {} ready", env!("CARGO_PKG_VERSION"));
    let pulls = session.state().features.configuration;
    if pulls {
        did_change_configuration::pull(session, client).await;
    }
}
