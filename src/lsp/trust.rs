//! Workspace trust: whether the server may run what the workspace asks for.
//!
//! A language server runs in every repository a user opens, including ones
//! they have not read. In a *restricted* (untrusted) workspace the server
//! keeps every analysis feature (parsing, checks, hover, completion,
//! navigation, formatting, capability diagnostics) and refuses everything
//! that executes or reads more than the workspace's own files:
//! - the commands listed by [`commands::executes`] (builds, builder create,
//!   bootstrap, stop, remove) answer the JSON-RPC error [`RESTRICTED_CODE`];
//! - build on save does nothing;
//! - bake files are read statically (`Bake::parse_static`): literal values
//!   only, no variables, no environment, no expressions; Compose files the
//!   same way (a value using a variable is left out), and their `.env` file
//!   is not read;
//! - the build lenses say they are off.
//!
//! The client tells the server the state: `initializationOptions.trusted`
//! (a boolean) at start, the notification `buildkit/setTrust
//! {"trusted": bool}` when it changes (VS Code: the user trusts the
//! workspace). A client that says nothing gets the command line's choice
//! (`serve --restricted`), else a trusted workspace: clients written before
//! this existed keep working, and a client that knows about trust says so.
//! The state is never read from the `buildkit` settings, which a workspace
//! can write (`.vscode/settings.json`).
//!
//! Everything here is policy; the rest of the server asks [`Trust`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tower_lsp_server::Client;

use super::commands;
use super::error::LspError;
use super::session::Session;
use crate::build::bake::{Bake, BakeError, BakeSource};
use crate::build::files;

/// JSON-RPC error code of a command refused in a restricted workspace
/// (implementation-defined server error range of JSON-RPC 2.0; not one of
/// the codes LSP itself uses there). The error's `data` is
/// `{"restricted": true, "command": "<name>"}`.
pub const RESTRICTED_CODE: i64 = -32010;

/// The trust state of the session's workspace.
#[derive(Debug)]
pub struct Trust {
    trusted: AtomicBool,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            trusted: AtomicBool::new(true),
        }
    }
}

impl Trust {
    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    /// Sets the state; returns whether it changed.
    pub fn set(&self, trusted: bool) -> bool {
        self.trusted.swap(trusted, Ordering::SeqCst) != trusted
    }

    /// `Err(Restricted)` for a command that executes, when not trusted.
    pub fn check_command(&self, command: &str) -> Result<(), LspError> {
        if self.is_trusted() || !commands::executes(command) {
            return Ok(());
        }
        tracing::info!("{command} refused: the workspace is not trusted (Restricted Mode)");
        Err(LspError::Restricted {
            command: command.to_string(),
        })
    }

    /// Parses bake and Compose files as far as the trust state allows:
    /// evaluated with the environment when trusted, literal values only
    /// when not (Compose variables and `.env` included).
    pub fn parse_bake(&self, sources: &[BakeSource]) -> Result<Bake, BakeError> {
        if self.is_trusted() {
            // The environment overrides variable defaults, as for buildx.
            files::parse(sources, Some(&std::env::vars().collect()))
        } else {
            files::parse(sources, None)
        }
    }
}

/// The trust choice in `initializationOptions` (`"trusted": bool`), if any.
pub fn from_initialization_options(options: &Value) -> Option<bool> {
    options.get("trusted").and_then(Value::as_bool)
}

/// Params of `buildkit/setTrust`.
#[derive(Debug, Clone, Deserialize)]
pub struct SetTrustParams {
    pub trusted: bool,
}

/// The `buildkit/setTrust` method name.
pub const SET_TRUST: &str = "buildkit/setTrust";

/// The JSON-RPC `data` of a refusal.
pub fn refusal_data(command: &str) -> Value {
    json!({"restricted": true, "command": command})
}

/// `buildkit/setTrust`: applies a new state. Becoming trusted re-reads the
/// bake files with evaluation and enables builds; becoming restricted
/// cancels running builds. Diagnostics and lenses are refreshed either way.
pub fn set(session: &Arc<Session>, client: &Client, trusted: bool) {
    if !session.trust.set(trusted) {
        return;
    }
    tracing::info!(
        "workspace {}",
        if trusted {
            "trusted: builds enabled"
        } else {
            "not trusted: Restricted Mode"
        }
    );
    if !trusted {
        crate::lsp::builds::run::cancel_all(session);
    }
    let refresh_lenses = {
        let mut state = session.state();
        // Bake findings change with the evaluation mode.
        state.settings_epoch += 1;
        state.features.code_lens_refresh
    };
    crate::lsp::diagnostics::schedule_all(session, client);
    if refresh_lenses {
        crate::lsp::builds::selection::watch::refresh_lenses(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executing_commands_are_refused_only_when_restricted() {
        let trust = Trust::default();
        assert!(trust.check_command(commands::BUILD).is_ok());
        assert!(trust.set(false));
        assert!(!trust.set(false));
        for c in [
            commands::BUILD,
            commands::CREATE_BUILDER,
            commands::BOOTSTRAP_BUILDER,
            commands::STOP_BUILDER,
            commands::REMOVE_BUILDER,
        ] {
            let e = trust.check_command(c).unwrap_err();
            assert!(matches!(e, LspError::Restricted { .. }), "{c}: {e}");
        }
        for c in [
            commands::SERVER_INFO,
            commands::LIST_BUILDERS,
            commands::CANCEL_BUILD,
        ] {
            assert!(trust.check_command(c).is_ok(), "{c}");
        }
    }

    #[test]
    fn only_a_boolean_trusted_option_counts() {
        assert_eq!(
            from_initialization_options(&json!({"trusted": false})),
            Some(false)
        );
        assert_eq!(from_initialization_options(&json!({"trusted": "no"})), None);
        // A workspace-writable settings tree cannot set it.
        assert_eq!(
            from_initialization_options(&json!({"buildkit": {"trusted": true}})),
            None
        );
    }
}
