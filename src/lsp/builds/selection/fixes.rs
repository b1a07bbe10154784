//! Quick fixes for capability findings: switch to a builder that has the
//! feature (by name, from the cached store listing, with its driver's
//! column of the capability table), create a docker-container builder, add
//! `load` (a bake attribute edit, or `buildkit.enableLoad` for settings),
//! and `cache-to` → `inline` (a bake attribute edit). Cached state only.

use std::collections::HashMap;

use ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Command, Diagnostic, Range, TextEdit, Uri,
    WorkspaceEdit,
};
use serde_json::{json, Value};

use super::findings::{self, Found};
use crate::build::bake::BakeEdit;
use crate::build::capability::CapabilityFix;
use crate::build::compose::is_compose_file;
use crate::driver::{DriverKind, Features, Support};
use crate::lsp::commands;
use crate::lsp::position::{range_to_lsp, Encoding};
use crate::lsp::session::Session;
use crate::lsp::uri::uri_path;

/// The quick fixes for the capability findings whose diagnostics touch
/// `range` in the document at `uri`.
pub fn actions(
    session: &Session,
    uri: &Uri,
    range: Range,
    enc: Encoding,
) -> Vec<CodeActionOrCommand> {
    let Some(path) = uri_path(uri) else {
        return Vec::new();
    };
    let found: Vec<(Found, Diagnostic)> = if findings::is_bake_uri(uri) {
        findings::bake_found(session, &path, enc)
    } else {
        let Some(doc) = session.document(uri) else {
            return Vec::new();
        };
        let Some(df) = doc.parse_transient() else {
            return Vec::new();
        };
        let folder = findings::workspace_folder(session, &path);
        findings::dockerfile_findings(session, &path, &folder, &df, None)
            .into_iter()
            .map(|f| {
                let d = findings::dockerfile_diagnostic(&f, &df, enc);
                (f, d)
            })
            .collect()
    };
    let mut out = Vec::new();
    for (f, d) in found.iter().filter(|(_, d)| touches(d.range, range)) {
        let mut fixes = f.finding.fixes.clone();
        // Every table-backed finding can be fixed by a builder that has the
        // feature (e.g. the docker driver's automatic load).
        if let Some(feature) = f.finding.code.feature() {
            if !fixes
                .iter()
                .any(|x| matches!(x, CapabilityFix::SwitchBuilder { .. }))
            {
                fixes.insert(0, CapabilityFix::SwitchBuilder { feature });
            }
        }
        for fix in &fixes {
            fix_actions(session, f, fix, d, enc, &mut out);
        }
    }
    out
}

fn touches(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn fix_actions(
    session: &Session,
    f: &Found,
    fix: &CapabilityFix,
    d: &Diagnostic,
    enc: Encoding,
    out: &mut Vec<CodeActionOrCommand>,
) {
    match fix {
        CapabilityFix::SwitchBuilder { feature } => {
            for (name, driver) in other_builders(session) {
                let has = DriverKind::from_name(&driver)
                    .is_some_and(|k| Features::of(k).support(*feature) == Support::Yes);
                if has {
                    out.push(command_action(
                        format!("Switch to builder {name} ({driver})"),
                        commands::USE_BUILDER,
                        vec![json!(name)],
                        d,
                    ));
                }
            }
        }
        CapabilityFix::SwitchBuilderWithPlatform { platform } => {
            let statuses = session.state().builders.statuses.clone();
            for (name, driver) in other_builders(session) {
                if statuses
                    .get(&name)
                    .is_some_and(|s| s.platforms.contains(platform))
                {
                    out.push(command_action(
                        format!("Switch to builder {name} ({driver}), which offers {platform}"),
                        commands::USE_BUILDER,
                        vec![json!(name)],
                        d,
                    ));
                }
            }
        }
        CapabilityFix::CreateDockerContainerBuilder => out.push(command_action(
            "Create a docker-container builder and use it".to_string(),
            commands::CREATE_BUILDER,
            vec![json!({"use": true})],
            d,
        )),
        CapabilityFix::AddLoad { edit: Some(edit) } => out.extend(edit_action(
            match is_compose_file(&edit.origin.file) {
                true => format!(
                    "Load the image into Docker: add x-bake output type=docker to Compose service \"{}\"",
                    f.build.label
                ),
                false => format!(
                    "Load the image into Docker: add output type=docker to bake target \"{}\"",
                    f.build.label
                ),
            },
            edit,
            d,
            enc,
        )),
        CapabilityFix::AddLoad { edit: None } => out.push(command_action(
            "Load the image into Docker (set buildkit.build.load)".to_string(),
            commands::ENABLE_LOAD,
            Vec::new(),
            d,
        )),
        CapabilityFix::CacheToInline { edit: Some(edit) } => out.extend(edit_action(
            match is_compose_file(&edit.origin.file) {
                true => "Export the cache inline (cache_to: [\"type=inline\"])".to_string(),
                false => "Export the cache inline (cache-to = [\"type=inline\"])".to_string(),
            },
            edit,
            d,
            enc,
        )),
        // For settings: the user edits `buildkit.build.cacheTo` themselves.
        CapabilityFix::CacheToInline { edit: None } => {}
    }
}

/// The store's builders other than the selected one: (name, driver).
fn other_builders(session: &Session) -> Vec<(String, String)> {
    let state = session.state();
    let current = state.builders.current.as_ref().map(|c| c.name.clone());
    state
        .builders
        .known
        .iter()
        .filter(|k| current.as_deref() != Some(k.name.as_str()))
        .map(|k| (k.name.clone(), k.driver.clone()))
        .collect()
}

fn command_action(
    title: String,
    command: &str,
    args: Vec<Value>,
    d: &Diagnostic,
) -> CodeActionOrCommand {
    CodeActionOrCommand::CodeAction(CodeAction {
        title: title.clone(),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![d.clone()]),
        command: Some(Command::new(title, command.to_string(), Some(args))),
        ..CodeAction::default()
    })
}

fn edit_action(
    title: String,
    edit: &BakeEdit,
    d: &Diagnostic,
    enc: Encoding,
) -> Option<CodeActionOrCommand> {
    let uri = Uri::from_file_path(&edit.origin.file)?;
    let mut changes = HashMap::new();
    changes.insert(
        uri,
        vec![TextEdit::new(
            range_to_lsp(edit.origin.range_in(enc)),
            edit.new_text.clone(),
        )],
    );
    Some(CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![d.clone()]),
        edit: Some(WorkspaceEdit::new(changes)),
        is_preferred: Some(true),
        ..CodeAction::default()
    }))
}
