//! Hover in a bake file: a block type's or attribute's documentation; a
//! variable's value and where it came from (its default, the environment,
//! an override file); a target's attributes as bake resolves them (after
//! `inherits` and the override files); a function's signature; an `args`
//! key's Dockerfile ARG and its default. Values come from the workspace's
//! bake evaluation, which in Restricted Mode is the static reading (no
//! variables, no environment).

use ls_types::{Hover, HoverContents};

use super::{markup, outlines, target_dockerfile, BakeDoc};
use crate::build::bake::BakeValue;
use crate::build::bake_schema;
use crate::build::bake_syntax::{target_refs, RefKind, Value};
use crate::dockerfile::Span;
use crate::lsp::session::Session;

pub fn hover(session: &Session, doc: &BakeDoc, offset: usize) -> Option<Hover> {
    let (md, span) = hover_at(session, doc, offset)?;
    Some(Hover {
        contents: HoverContents::Markup(markup(&doc.features, md)),
        range: Some(doc.range(span)),
    })
}

fn touches(s: Span, offset: usize) -> bool {
    s.start <= offset && offset <= s.end
}

pub fn hover_at(session: &Session, doc: &BakeDoc, offset: usize) -> Option<(String, Span)> {
    let outline = &doc.outline;
    // A name an expression uses.
    if let Some(r) = outline.ref_at(offset) {
        return match r.kind {
            RefKind::Var => Some((variable(session, doc, &r.name), r.span)),
            RefKind::Target => Some((target(session, doc, &r.name), r.span)),
            RefKind::Call => {
                let md = match bake_schema::function(&r.name) {
                    Some(f) => format!(
                        "**{}** — {}\n\nA built-in function of bake.",
                        f.signature, f.summary
                    ),
                    None if outline.block("function", &r.name).is_some() => {
                        format!("**{}** — a function of this file", r.name)
                    }
                    None => format!("**{}** — not a function bake knows", r.name),
                };
                Some((md, r.span))
            }
        };
    }
    for a in &outline.attrs {
        if touches(a.key_span, offset) {
            return Some((variable(session, doc, &a.key), a.key_span));
        }
    }
    let block = outline.block_at(offset)?;
    if touches(block.kind_span, offset) {
        let b = bake_schema::block(&block.kind)?;
        return Some((
            format!("**{}** block — {}", b.name, b.summary),
            block.kind_span,
        ));
    }
    if let Some((name, span)) = block.name() {
        if touches(span, offset) {
            return Some(match block.kind.as_str() {
                "target" => (target(session, doc, name), span),
                "variable" => (variable(session, doc, name), span),
                "group" => (group(session, doc, name), span),
                _ => return None,
            });
        }
    }
    for (name, span) in target_refs(block) {
        if touches(span, offset) {
            return Some((target(session, doc, name), span));
        }
    }
    for a in &block.attrs {
        if touches(a.key_span, offset) {
            let d = bake_schema::attr(&block.kind, &a.key)?;
            return Some((
                format!("**{}** ({}) — {}", d.name, d.kind.describe(), d.summary),
                a.key_span,
            ));
        }
        if a.key == "args" && block.kind == "target" {
            if let Value::Object(entries) = &a.value {
                if let Some(e) = entries.iter().find(|e| touches(e.key_span, offset)) {
                    return Some((arg(session, doc, block.name()?.0, &e.key), e.key_span));
                }
            }
        }
    }
    None
}

/// A variable's value and where it came from.
fn variable(session: &Session, doc: &BakeDoc, name: &str) -> String {
    let mut md = format!("**variable {name}**");
    let declared = doc.outline.block("variable", name);
    let default = declared
        .and_then(|b| b.attr("default"))
        .map(|a| doc.src(a.value_span).to_string());
    let value = doc
        .path
        .as_ref()
        .and_then(|p| super::evaluated(session, p))
        .and_then(|b| b.variables.get(name).cloned());
    let trusted = session.trust.is_trusted();
    match (&value, trusted) {
        (Some(v), true) => {
            let from = if std::env::var_os(name).is_some() {
                "from the environment variable of the same name"
            } else if default.is_some() {
                "its default"
            } else {
                "an override file or another bake file"
            };
            md.push_str(&format!(" = `{v}`\n\nValue: {from}."));
        }
        _ => {
            if let Some(d) = &default {
                md.push_str(&format!("\n\nDefault: `{d}`"));
            }
            if !trusted {
                md.push_str("\n\nNot evaluated: the workspace is in Restricted Mode.");
            }
        }
    }
    if let Some(desc) = declared
        .and_then(|b| b.attr("description"))
        .and_then(|a| a.value.as_str())
    {
        md.push_str(&format!("\n\n{}", desc.0));
    }
    md
}

/// A target's attributes as bake resolves them.
fn target(session: &Session, doc: &BakeDoc, name: &str) -> String {
    let mut md = format!("**target {name}**");
    let Some(bake) = doc.path.as_ref().and_then(|p| super::evaluated(session, p)) else {
        return md;
    };
    match bake.resolve(name) {
        Ok(t) => {
            md.push_str("\n\nResolved (after `inherits` and override files):\n```hcl\n");
            for (k, a) in &t.attrs {
                md.push_str(&format!("{k} = {}\n", show(&a.value)));
            }
            md.push_str("```");
        }
        Err(crate::build::Error::Bake { message, .. }) => md.push_str(&format!("\n\n{message}")),
        Err(e) => md.push_str(&format!("\n\n{e}")),
    }
    md
}

fn group(session: &Session, doc: &BakeDoc, name: &str) -> String {
    let mut md = format!("**group {name}**");
    if let Some(bake) = doc.path.as_ref().and_then(|p| super::evaluated(session, p)) {
        if let Ok(targets) = bake.expand(name) {
            md.push_str(&format!("\n\nBuilds: {}", targets.join(", ")));
        }
    }
    md
}

fn show(v: &BakeValue) -> String {
    match v {
        BakeValue::Str(s) => format!("{s:?}"),
        BakeValue::Null => "null".to_string(),
        BakeValue::Bool(b) => b.to_string(),
        BakeValue::List(l) => format!("{l:?}"),
        BakeValue::Map(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

/// The Dockerfile ARG an `args` key feeds.
fn arg(session: &Session, doc: &BakeDoc, target: &str, key: &str) -> String {
    let files = outlines(&doc.folder_files(session));
    let Some(df) = target_dockerfile(session, doc, &files, target) else {
        return format!("**{key}** — a build argument (the Dockerfile could not be read)");
    };
    match df.arg(key) {
        Some(d) => {
            let line = df.df.line_index.line_of(d.name_span.start) + 1;
            format!(
                "**ARG {key}** of `{}` line {line}\n\nDefault: {}",
                df.path.display(),
                d.value
                    .as_deref()
                    .map_or("none".to_string(), |v| format!("`{v}`"))
            )
        }
        None => format!(
            "**{key}** — not declared by any ARG in `{}`",
            df.path.display()
        ),
    }
}
