//! Workspace trust: whether the server may run what the workspace asks for.
//!
//! A language server runs in every repository a user opens, including ones
//! they have not read. In a *restricted* (untrusted) workspace the server
//! keeps every analysis feature (parsing, checks, hover, completion,
//! navigation, formatting, capability diagnostics) and refuses everything
//! that executes or reads more than the workspace's own files:
//! - the commands listed by [`commands::executes`] (builds, builder create,
//!   bootstrap, stop, remove) answer the JSON-RPC error
//!   [`RESTRICTED_CODE`](crate::lsp::error::RESTRICTED_CODE);
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
//! Everything here is policy; the rest of the server asks the session's
//! [`Trust`](crate::lsp::session::trust::Trust).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::Client;

use super::session::{Session, Stale};

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
    // Every document's diagnostics, through the session like any feature's.
    session.report_stale(Stale::All);
    if refresh_lenses {
        crate::lsp::builds::selection::refresh_lenses(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
