//! The build code lenses. Dockerfiles: on line 0 `▶ Build` (with the
//! resolved tags) and `⚒ <builder> (<driver>)`, and `▶ Build stage <name>`
//! on each named stage's `FROM` (BuildKit only accepts stage names as
//! targets, so unnamed stages get none; the last stage is the line-0
//! lens). Bake files: `▶ Bake target <name>` on each target block.
//! Lenses read cached state only.

use ls_types::{CodeLens, Command, Position, Range, Uri};
use serde_json::{json, Value};

use super::workspace::bake_for;
use crate::lsp::analysis;
use crate::lsp::commands;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;
use crate::lsp::uri::uri_path;

/// The build command (`lsp::builds::run`).
pub const BUILD: &str = "buildkit.build";

/// The lenses of an open document (none for unopened or unanalysed ones).
pub fn lenses(session: &Session, uri: &Uri) -> Vec<CodeLens> {
    if super::findings::is_bake_uri(uri) {
        return bake_lenses(session, uri);
    }
    let Some(snap) = session.snapshot(uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    let top = Range::new(Position::new(0, 0), Position::new(0, 0));
    let tags = super::findings::tags_for(session, uri);
    let build_title = if tags.is_empty() {
        "▶ Build".to_string()
    } else {
        format!("▶ Build ({})", tags.join(", "))
    };
    let builder_title = match super::cached(session) {
        Some(c) => format!("⚒ {} ({})", c.name, c.driver),
        None => "⚒ Select builder".to_string(),
    };
    let mut out = vec![
        lens(top, build_title, BUILD, json!([{"uri": uri.as_str()}])),
        lens(top, builder_title, commands::SELECT_BUILDER, json!([])),
    ];
    for stage in analysis::stages(&snap.model) {
        let Some((name, _)) = stage.name else {
            continue;
        };
        let Some(from) = snap.df.instructions.get(stage.from) else {
            continue;
        };
        let range = range_to_lsp(snap.df.range_in(from.line_span, enc));
        out.push(lens(
            range,
            format!("▶ Build stage {name}"),
            BUILD,
            json!([{"uri": uri.as_str(), "target": name}]),
        ));
    }
    out
}

/// `▶ Bake target <name>` on each target block of an open bake file,
/// `▶ Build service <name>` on each built service of a Compose file.
pub fn bake_lenses(session: &Session, uri: &Uri) -> Vec<CodeLens> {
    let Some(path) = uri_path(uri) else {
        return Vec::new();
    };
    let Some(bake) = bake_for(session, &path) else {
        return Vec::new();
    };
    let enc = session.state().features.encoding;
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for block in bake.target_blocks_in(&path) {
        // A target written twice in one file gets one lens, on the first.
        if seen.contains(&block.name.as_str()) {
            continue;
        }
        seen.push(&block.name);
        let title = match crate::build::compose::is_compose_file(&path) {
            true => format!("▶ Build service {}", block.name),
            false => format!("▶ Bake target {}", block.name),
        };
        out.push(lens(
            range_to_lsp(block.name_origin.range_in(enc)),
            title,
            BUILD,
            json!([{"uri": uri.as_str(), "bakeTarget": block.name}]),
        ));
    }
    out
}

/// One lens that runs `command` with `arguments` (a JSON array).
pub fn lens(range: Range, title: String, command: &str, arguments: Value) -> CodeLens {
    let arguments = match arguments {
        Value::Array(a) => a,
        other => vec![other],
    };
    CodeLens {
        range,
        command: Some(Command::new(title, command.to_string(), Some(arguments))),
        data: None,
    }
}
