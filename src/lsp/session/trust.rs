//! The workspace's trust state, as the session keeps it. `lsp::trust`
//! changes it (`buildkit/setTrust`) and says what Restricted Mode means.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::build::bake::{Bake, BakeSource};
use crate::lsp::commands;
use crate::lsp::error::LspError;

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
    pub fn parse_bake(&self, sources: &[BakeSource]) -> Result<Bake, crate::build::Error> {
        if self.is_trusted() {
            // The environment overrides variable defaults, as for buildx.
            crate::build::files::parse(sources, Some(&std::env::vars().collect()))
        } else {
            crate::build::files::parse(sources, None)
        }
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
}
