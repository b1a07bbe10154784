//! `buildkit-lsp serve` (also what runs with no arguments): the language
//! server on stdio.

use std::process::ExitCode;

use clap::Args;

use crate::lsp::{serve_stdio, DiagnosticMode, ServeOptions};

/// Options of `serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// How diagnostics reach the client: `push` (publishDiagnostics), `pull`
    /// (textDocument/diagnostic) or `both`. A client's
    /// `initializationOptions.diagnosticMode` takes precedence.
    #[arg(long, default_value = "push", value_parser = ["push", "pull", "both"])]
    pub diagnostic_mode: String,
    /// Extra delay from the last edit to diagnostics, in ms, unless the
    /// client's `buildkit.diagnostics.debounceMs` says otherwise (default 0:
    /// none).
    #[arg(long)]
    pub debounce_ms: Option<u64>,
    /// Start in Restricted Mode (no builds, no builder management, bake
    /// files read statically) unless the client says the workspace is
    /// trusted (`initializationOptions.trusted`, `buildkit/setTrust`).
    #[arg(long)]
    pub restricted: bool,
    /// Accepted for compatibility with clients that always pass it; stdio is
    /// the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let options = ServeOptions {
        diagnostic_mode: DiagnosticMode::parse(&args.diagnostic_mode).unwrap_or_default(),
        debounce_ms: args.debounce_ms,
        restricted: args.restricted,
    };
    match serve_stdio(options) {
        Ok(true) => ExitCode::SUCCESS,
        // `exit` (or end of input) without `shutdown`, as LSP specifies.
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("buildkit-lsp: {e}");
            ExitCode::from(2)
        }
    }
}
