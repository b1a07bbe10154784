//! The language server's error type: what can go wrong while starting or
//! serving, as opposed to per-request failures (those are JSON-RPC errors).

use serde_json::{json, Value};
use thiserror::Error;

/// JSON-RPC error code of a command refused in a restricted workspace
/// (implementation-defined server error range of JSON-RPC 2.0; not one of
/// the codes LSP itself uses there). The error's `data` is
/// `{"restricted": true, "command": "<name>"}`.
pub const RESTRICTED_CODE: i64 = -32010;

/// The JSON-RPC `data` of a refusal.
pub fn refusal_data(command: &str) -> Value {
    json!({"restricted": true, "command": command})
}

/// Failures of the language server layer.
#[derive(Debug, Error)]
pub enum LspError {
    /// The async runtime could not be built (threads or I/O driver unavailable).
    #[error("cannot start the language server runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A `workspace/executeCommand` named a command this server does not offer.
    #[error("unknown command `{0}`: the server offers {1}")]
    UnknownCommand(String, String),
    /// A command was called with arguments it cannot use.
    #[error("command `{command}`: {reason}")]
    CommandArguments { command: String, reason: String },
    /// A command that executes, in a workspace that is not trusted
    /// (`lsp::trust`).
    #[error("{command} is off in Restricted Mode: the workspace is not trusted, and it would run code or tools on the workspace's behalf. Trust the workspace to enable it (VS Code: Manage Workspace Trust; other clients: send buildkit/setTrust {{\"trusted\": true}})")]
    Restricted { command: String },
    /// The builder store or a builder's driver failed (selection commands).
    #[error(transparent)]
    Builder(#[from] crate::builder::BuilderError),
}

impl From<LspError> for tower_lsp_server::jsonrpc::Error {
    fn from(err: LspError) -> Self {
        let mut e = tower_lsp_server::jsonrpc::Error::invalid_params(err.to_string());
        if let LspError::Restricted { command } = &err {
            e.code = tower_lsp_server::jsonrpc::ErrorCode::ServerError(RESTRICTED_CODE);
            e.data = Some(refusal_data(command));
        }
        if matches!(err, LspError::Runtime(_) | LspError::Builder(_)) {
            e.code = tower_lsp_server::jsonrpc::ErrorCode::InternalError;
        }
        e
    }
}
