//! The build history commands: `buildkit.buildHistory` lists the recent
//! builds of the workspace's builder (its BuildKit's build records, so
//! builds started elsewhere too), `buildkit.buildReport [{ref}]` answers one
//! build's read-only markdown report for the editor to open (VS Code: a
//! quick pick and a preview, Neovim: a buffer). BuildKit before 0.11 keeps
//! no records: the answer is an error that says so.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::lsp::error::LspError;
use crate::lsp::session::Session;

#[derive(Debug, Deserialize)]
struct ReportArgs {
    r#ref: String,
}

/// `buildkit.buildHistory`: `{builder, builds: [{ref, label, ok, target, …}]}`.
pub async fn list_command(session: &Arc<Session>) -> Result<Value, LspError> {
    let current = crate::lsp::builds::selection::current(session).await?;
    let builds = crate::builder::history::list(&current.group).await?;
    let list: Vec<Value> = builds
        .iter()
        .map(|b| {
            let mut v = serde_json::to_value(b).unwrap_or_default();
            v["label"] = Value::String(b.label());
            v
        })
        .collect();
    Ok(json!({"builder": current.name, "builds": list}))
}

/// `buildkit.buildReport [{ref}]`: `{ref, builder, markdown}`.
pub async fn report_command(
    session: &Arc<Session>,
    command: &str,
    args: &[Value],
) -> Result<Value, LspError> {
    let bad = |reason: String| LspError::CommandArguments {
        command: command.to_string(),
        reason,
    };
    let args: ReportArgs = match args {
        [arg] => serde_json::from_value(arg.clone())
            .map_err(|e| bad(format!("{e}; expected [{{\"ref\": \"<build ref>\"}}]")))?,
        _ => return Err(bad("expected [{\"ref\": \"<build ref>\"}]".into())),
    };
    let current = crate::lsp::builds::selection::current(session).await?;
    let markdown = crate::builder::history::report(&current.group, &args.r#ref).await?;
    Ok(json!({"ref": args.r#ref, "builder": current.name, "markdown": markdown}))
}
