//! `workspace/executeCommand` for the `buildkit.*` commands.

use std::sync::Arc;

use ls_types::ExecuteCommandParams;
use serde_json::{json, Value};
use tower_lsp_server::Client;

use super::did_change_configuration;
use crate::lsp::builds::selection::commands as selection;
use crate::lsp::builds::{history, run};
use crate::lsp::commands;
use crate::lsp::diagnostics;
use crate::lsp::error::LspError;
use crate::lsp::session::Session;

pub async fn handle(
    session: &Arc<Session>,
    client: &Client,
    params: ExecuteCommandParams,
) -> Result<Option<Value>, LspError> {
    let args = params.arguments.as_slice();
    // One check for every command that executes (`lsp::trust`).
    session.trust.check_command(&params.command)?;
    match params.command.as_str() {
        commands::IGNORE_RULE_EVERYWHERE => {
            let rule = params
                .arguments
                .first()
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
                .ok_or_else(|| LspError::CommandArguments {
                    command: params.command.clone(),
                    reason: "expected one argument: the rule name, e.g. \"StageNameCasing\"".into(),
                })?
                .to_string();
            let skip = {
                let mut state = session.state();
                if !state.ignored_everywhere.contains(&rule) {
                    state.ignored_everywhere.push(rule.clone());
                    state.settings_epoch += 1;
                }
                state.settings().skip
            };
            tracing::info!("rule {rule} ignored everywhere");
            diagnostics::schedule_all(session, client);
            // The client persists this value in its settings (the server
            // cannot write editor settings itself).
            Ok(Some(
                json!({"setting": "buildkit.checks.skip", "value": skip}),
            ))
        }
        commands::RELOAD_SETTINGS => {
            did_change_configuration::pull(session, client).await;
            Ok(None)
        }
        commands::SERVER_INFO => {
            let state = session.state();
            let mut open: Vec<Value> = state
                .documents
                .iter()
                .map(|(uri, d)| json!({"uri": uri, "languageId": d.language_id(), "version": d.version(), "bytes": d.byte_len(), "packed": d.is_packed(), "lines": d.line_count()}))
                .collect();
            open.sort_by(|a, b| a["uri"].as_str().cmp(&b["uri"].as_str()));
            let s = state.settings();
            Ok(Some(json!({
                "name": "buildkit-lsp",
                "version": env!("CARGO_PKG_VERSION"),
                "openDocuments": open,
                "settings": {
                    "checks": {"skip": s.skip, "experimental": format!("{:?}", s.experimental)},
                    "diagnostics": {"debounceMs": s.debounce_ms},
                    "logLevel": format!("{:?}", s.log_level).to_lowercase(),
                },
                "positionEncoding": format!("{:?}", state.features.encoding).to_lowercase(),
                "workDoneProgress": state.features.work_done_progress,
                "diagnosticMode": format!("{:?}", state.features.diagnostic_mode).to_lowercase(),
                "trusted": session.trust.is_trusted(),
            })))
        }
        commands::LIST_BUILDERS => selection::list_builders(session).await,
        commands::SELECT_BUILDER => selection::select_builder(session, client).await,
        commands::USE_BUILDER => selection::use_builder(session, client, args).await,
        commands::USE_BUILDER_GLOBALLY => {
            selection::use_builder_globally(session, client, args).await
        }
        commands::CREATE_BUILDER => selection::create_builder(session, client, args).await,
        commands::BOOTSTRAP_BUILDER => selection::bootstrap_builder(session, client, args).await,
        commands::STOP_BUILDER => selection::stop_builder(session, client, args).await,
        commands::REMOVE_BUILDER => selection::remove_builder(session, client, args).await,
        commands::ENABLE_LOAD => selection::enable_load(session, client),
        commands::BUILD => run::build_command(session, client, &params.command, &params.arguments)
            .await
            .map(Some),
        commands::CANCEL_BUILD => {
            run::cancel_command(session, &params.command, &params.arguments).map(Some)
        }
        commands::BUILD_HISTORY => history::list_command(session).await.map(Some),
        commands::BUILD_REPORT => history::report_command(session, &params.command, args)
            .await
            .map(Some),
        other => Err(LspError::UnknownCommand(
            other.to_string(),
            commands::all().join(", "),
        )),
    }
}
