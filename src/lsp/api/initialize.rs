//! `initialize`: negotiate capabilities, read `initializationOptions`.

use ls_types::{InitializeParams, InitializeResult, ServerInfo};

use crate::lsp::capabilities::{ClientFeatures, DiagnosticMode};
use crate::lsp::logging;
use crate::lsp::session::Session;
use crate::lsp::settings::Settings;
use crate::lsp::trust;

/// `initializationOptions` may carry `diagnosticMode` (`push|pull|both`),
/// `trusted` (`false`: Restricted Mode, `lsp::trust`) and the settings tree
/// (`{"buildkit": {...}}`), for clients that cannot answer
/// `workspace/configuration`.
pub fn handle(
    session: &Session,
    params: InitializeParams,
    cli_mode: DiagnosticMode,
) -> InitializeResult {
    let options = params.initialization_options.unwrap_or_default();
    let mode = options
        .get("diagnosticMode")
        .and_then(|m| m.as_str())
        .and_then(DiagnosticMode::parse)
        .unwrap_or(cli_mode);
    if let Some(trusted) = trust::from_initialization_options(&options) {
        session.trust.set(trusted);
    }
    let features = ClientFeatures::from_client(&params.capabilities, mode);
    let capabilities = features.server_capabilities();
    let mut state = session.state();
    if let Some((settings, ignored)) = Settings::from_tree(&options, &state.defaults) {
        for line in ignored {
            tracing::warn!("initializationOptions: {line}");
        }
        logging::set_level(settings.log_level);
        state.client_settings = settings;
    }
    tracing::info!(
        "client {}: encoding {:?}, diagnostics {:?}, workspace {}",
        params
            .client_info
            .as_ref()
            .map_or("unknown", |c| c.name.as_str()),
        features.encoding,
        features.diagnostic_mode,
        if session.trust.is_trusted() {
            "trusted"
        } else {
            "not trusted (Restricted Mode)"
        }
    );
    state.features = features;
    // The workspace's remembered builder (issue 7); unknown names fall back later.
    state.builders.chosen = options
        .get("builder")
        .and_then(|b| b.as_str())
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    state.builders.folders = crate::lsp::builds::selection::folders(&params.workspace_folders);
    InitializeResult {
        capabilities,
        server_info: Some(ServerInfo {
            name: "buildkit-lsp".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        offset_encoding: None,
    }
}
