//! `workspace/didChangeConfiguration`: take the pushed `buildkit` settings,
//! or pull them when the notification carries none (the pull model).

use std::sync::Arc;

use ls_types::{ConfigurationItem, DidChangeConfigurationParams};
use tower_lsp_server::Client;

use crate::lsp::diagnostics;
use crate::lsp::logging;
use crate::lsp::session::Session;
use crate::lsp::settings::Settings;

pub async fn handle(session: &Arc<Session>, client: &Client, params: DidChangeConfigurationParams) {
    let defaults = session.state().defaults.clone();
    match Settings::from_tree(&params.settings, &defaults) {
        Some((settings, ignored)) => apply(session, client, settings, ignored),
        None => {
            if session.state().features.configuration {
                pull(session, client).await;
            }
        }
    }
}

/// Asks the client for the `buildkit` section and applies it.
pub async fn pull(session: &Arc<Session>, client: &Client) {
    let item = ConfigurationItem {
        scope_uri: None,
        section: Some("buildkit".to_string()),
    };
    match client.configuration(vec![item]).await {
        Ok(values) => match values.into_iter().next() {
            // `null`: nothing configured, keep what initializationOptions gave.
            Some(v) if !v.is_null() => {
                let defaults = session.state().defaults.clone();
                let (settings, ignored) = Settings::from_section_over(&v, defaults);
                apply(session, client, settings, ignored);
            }
            _ => tracing::debug!("workspace/configuration: no buildkit settings"),
        },
        Err(e) => tracing::warn!("workspace/configuration failed: {e}"),
    }
}

fn apply(session: &Arc<Session>, client: &Client, settings: Settings, ignored: Vec<String>) {
    for line in ignored {
        tracing::warn!("settings: {line}");
    }
    logging::set_level(settings.log_level);
    let refresh_lenses = {
        let mut state = session.state();
        if state.client_settings == settings {
            return;
        }
        tracing::info!("settings changed: {settings:?}");
        state.client_settings = settings;
        state.settings_epoch += 1;
        state.features.code_lens_refresh
    };
    diagnostics::schedule_all(session, client);
    if refresh_lenses {
        // Lenses depend on settings (build targets); only if the client can refresh.
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.code_lens_refresh().await {
                tracing::debug!("workspace/codeLens/refresh failed: {e}");
            }
        });
    }
}
