//! `textDocument/hover`: instruction and flag documentation, `RUN --mount`
//! types and keys, parser directives, a variable's value and where it is
//! defined, a stage summary on a stage reference, and on a FROM image what
//! it names (expanded with the global ARGs' defaults) and its registry
//! page. Markdown only if the client accepts it.

use ls_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use crate::dockerfile::checks::expanded_bases;
use crate::dockerfile::model::{DefKind, Model};
use crate::dockerfile::{Dockerfile, InstructionKind, Span};
use crate::lsp::analysis::{stage_ref_at, stages, var_info, Stage, VarInfo};
use crate::lsp::docs;
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: HoverParams) -> Option<Hover> {
    if let Some(r) = crate::lsp::bake::dispatch::hover(session, &params) {
        return r;
    }
    let p = params.text_document_position_params;
    if let Some(h) = crate::lsp::compose::api::hover(session, &p.text_document.uri, p.position) {
        return h;
    }
    let snap = session.snapshot(&p.text_document.uri)?;
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(p.position, enc);
    // The instruction's figures in the last builds (`lsp::builds::insight`).
    let insight = session.builds.insight.hover(
        p.text_document.uri.as_str(),
        snap.doc.text(),
        p.position.line,
    );
    let (markdown, span) = match (hover_at(&snap.df, &snap.model, offset), insight) {
        (Some((md, span)), Some(more)) => (format!("{md}\n\n---\n\n{more}"), span),
        (Some(found), None) => found,
        (None, Some(more)) => {
            let span = snap.df.instruction_at(offset).map(|i| i.span)?;
            (more, span)
        }
        (None, None) => return None,
    };
    let (kind, value) = if snap.features.hover_markdown {
        (MarkupKind::Markdown, markdown)
    } else {
        (MarkupKind::PlainText, plain(&markdown))
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind, value }),
        range: Some(range_to_lsp(snap.df.range_in(span, enc))),
    })
}

/// The hover text (markdown) at `offset` and the span it describes.
pub fn hover_at(df: &Dockerfile, model: &Model, offset: usize) -> Option<(String, Span)> {
    for d in &df.directives {
        if d.name_span.touches(offset) {
            let doc = docs::directive(&d.name)?;
            return Some((
                format!(
                    "**# {}** — {}\n\n[Dockerfile reference]({})",
                    doc.name,
                    doc.summary,
                    docs::url(doc.anchor)
                ),
                d.name_span,
            ));
        }
    }
    // Inside `ONBUILD`, the wrapped instruction answers.
    let ins = df.innermost_instruction_at(offset)?;
    if ins.keyword_span.touches(offset) {
        let doc = docs::instruction(&ins.keyword)?;
        return Some((docs::instruction_markdown(doc), ins.keyword_span));
    }
    let stages = stages(model);
    if let Some((target, span)) = stage_ref_at(model, offset) {
        if let Some(st) = stages.get(target) {
            return Some((stage_summary(df, st), span));
        }
    }
    for f in &ins.flags {
        if f.name_span.touches(offset) {
            let doc = docs::flag(&ins.keyword, &f.name)?;
            return Some((docs::flag_markdown(doc), f.name_span));
        }
        if f.name == "mount" && ins.kind == InstructionKind::Run && f.span.touches(offset) {
            let options = f.options();
            let kind = options
                .iter()
                .find(|o| o.key == "type")
                .and_then(|o| o.value.as_deref().map(str::to_string))
                .unwrap_or_else(|| "bind".to_string());
            let mount = docs::mount(&kind)?;
            for o in &options {
                if o.key == "type" && o.span.touches(offset) {
                    return Some((
                        format!(
                            "**--mount=type={}** — {}\n\nKeys: {}\n\n[Dockerfile reference]({})",
                            mount.kind,
                            mount.summary,
                            mount
                                .keys
                                .iter()
                                .map(|(k, _)| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            docs::url("run---mount")
                        ),
                        o.span,
                    ));
                }
                if o.key_span.touches(offset) {
                    let (_, what) = mount.keys.iter().find(|(k, _)| *k == o.key)?;
                    return Some((
                        format!("`{}` ({} mount) — {what}", o.key, mount.kind),
                        o.key_span,
                    ));
                }
            }
        }
    }
    let Some((span, info)) = var_info(model, offset) else {
        return image_hover(df, model, offset);
    };
    let text = match info {
        VarInfo::Defined { def, value_from } => {
            let line = df.line_index.line_of(def.name_span.start) + 1;
            let scope = match def.stage {
                None => "global build argument".to_string(),
                Some(s) => format!("in stage {}", stages.get(s).map_or(String::new(), stage_label)),
            };
            let kw = if def.kind == DefKind::Env { "ENV" } else { "ARG" };
            let value = value_from.value.as_deref().map_or("no default value".to_string(), |v| format!("`{v}`"));
            let mut text = format!("**{kw} {}** = {value}\n\nDefined on line {line} ({scope}).", def.name);
            if !std::ptr::eq(def, value_from) {
                let gl = df.line_index.line_of(value_from.name_span.start) + 1;
                text.push_str(&format!(" Default from the global ARG on line {gl}."));
            }
            text
        }
        VarInfo::Automatic(name) => format!("**${name}** — set by BuildKit for every build (platform of the build or the target)."),
        VarInfo::Builtin(name) => format!("**${name}** — a build argument BuildKit predefines."),
        VarInfo::Undefined(name) => format!("**${name}** — not defined by any ARG or ENV in scope (it may come from the base image)."),
    };
    Some((text, span))
}

/// The image a FROM names: as written, with the global ARGs' defaults when
/// it uses variables, and its registry page when it has one.
fn image_hover(df: &Dockerfile, model: &Model, offset: usize) -> Option<(String, Span)> {
    let (i, stage) = model
        .stages
        .iter()
        .enumerate()
        .find(|(_, s)| s.parent.is_none() && s.base.span.touches(offset))?;
    let written = stage.base.value.as_str();
    if written.eq_ignore_ascii_case("scratch") {
        return Some((
            "**scratch** — an empty base: the stage starts with no files.".to_string(),
            stage.base.span,
        ));
    }
    let mut text = format!("**Image** `{written}`");
    let mut image = written.to_string();
    if written.contains('$') {
        match expanded_bases(df, model).get(i).cloned().flatten() {
            Some(e) => {
                text.push_str(&format!(
                    "\n\n= `{e}` with the global ARGs' defaults (a `--build-arg` may change it)."
                ));
                image = e;
            }
            None => text.push_str("\n\nIts value is only known at build time."),
        }
    }
    let repo = &image[..docs::repository_len(&image)];
    if let Some(page) = docs::image_page(repo) {
        text.push_str(&format!("\n\n[{repo} on its registry]({page})"));
    }
    Some((text, stage.base.span))
}

fn stage_label(st: &Stage) -> String {
    match &st.name {
        Some((n, _)) => format!("`{n}`"),
        None => format!("#{}", st.index),
    }
}

fn stage_summary(df: &Dockerfile, st: &Stage) -> String {
    let line = df.line_index.line_of(df.instructions[st.from].span.start) + 1;
    let image = st.image.as_ref().map_or("?", |(i, _)| i.as_str());
    let count = st.end - st.from;
    let mut kinds: Vec<&str> = df.instructions[st.from + 1..st.end]
        .iter()
        .map(|i| i.kind.as_str())
        .filter(|k| !k.is_empty())
        .collect();
    kinds.dedup();
    format!(
        "**Stage {}** (#{}, line {line})\n\n`FROM {image}` — {count} instruction{}{}",
        stage_label(st),
        st.index,
        if count == 1 { "" } else { "s" },
        if kinds.is_empty() {
            String::new()
        } else {
            format!(": {}", kinds.join(", "))
        }
    )
}

/// Markdown reduced to plain text for clients that do not render it.
fn plain(md: &str) -> String {
    let mut out = String::new();
    for line in md.lines() {
        if line.starts_with("```") {
            continue;
        }
        let mut l = line.replace("**", "").replace('`', "");
        // [text](url) -> text: url
        while let (Some(a), Some(b)) = (l.find("]("), l.find(')')) {
            let Some(open) = l[..a].rfind('[') else { break };
            if b < a {
                break;
            }
            let text = l[open + 1..a].to_string();
            let url = l[a + 2..b].to_string();
            l.replace_range(open..=b, &format!("{text}: {url}"));
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.trim_end().to_string()
}
