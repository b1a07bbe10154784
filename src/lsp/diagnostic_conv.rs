//! Findings of the `dockerfile` module (syntax errors, build checks) as LSP
//! diagnostics: rule name as `code`, the rule's docs as `codeDescription`,
//! `source: "buildkit-lsp"`, severities mapped one to one.

use ls_types::{
    CodeDescription, Diagnostic, DiagnosticSeverity, DiagnosticTag, NumberOrString, Uri,
};

use std::sync::Arc;

use super::position::{range_to_lsp, Encoding};
use super::settings::Settings;
use crate::dockerfile::checks::{self, Finding, Severity};
use crate::dockerfile::{Dockerfile, Model};
use crate::dockerignore::DockerIgnore;

pub const SOURCE: &str = "buildkit-lsp";

/// All findings under the user's settings (the file's `# check=` applies
/// too); `model` is `df`'s; `dockerignore` feeds CopyIgnoredFile.
pub fn findings(
    df: &Dockerfile,
    model: &Model,
    settings: &Settings,
    dockerignore: Option<Arc<DockerIgnore>>,
) -> Vec<Finding> {
    let mut options = settings.check_options();
    options.dockerignore = dockerignore;
    checks::run_with_model(df, model, &options)
}

pub fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Information => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

pub fn to_diagnostic(df: &Dockerfile, f: &Finding, enc: Encoding) -> Diagnostic {
    let href = f.url.and_then(|u| u.parse::<Uri>().ok());
    let deprecated = f.code() == Some("MaintainerDeprecated");
    Diagnostic {
        range: range_to_lsp(df.range_in(f.span, enc)),
        severity: Some(severity(f.severity)),
        code: f.code().map(|c| NumberOrString::String(c.to_string())),
        code_description: href.map(|href| CodeDescription { href }),
        source: Some(SOURCE.to_string()),
        message: f.message.clone(),
        tags: deprecated.then(|| vec![DiagnosticTag::DEPRECATED]),
        ..Diagnostic::default()
    }
}

pub fn diagnostics(
    df: &Dockerfile,
    model: &Model,
    settings: &Settings,
    dockerignore: Option<Arc<DockerIgnore>>,
    enc: Encoding,
) -> Vec<Diagnostic> {
    findings(df, model, settings, dockerignore)
        .iter()
        .map(|f| to_diagnostic(df, f, enc))
        .collect()
}
