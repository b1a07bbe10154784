//! `textDocument/completion`: instructions (snippets when the client takes
//! them), flags per instruction, `RUN --mount` types and keys, stage names
//! after `--from=`/`from=` and in `FROM`, variables after `$`/`${`, parser
//! directives at the top of the file. Each item replaces the token being
//! typed, so clients that split words differently still insert cleanly.

use ls_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionTextEdit, InsertTextFormat,
    Range, TextEdit,
};
use serde::{Deserialize, Serialize};

use crate::dockerfile::{Dockerfile, InstructionKind};
use crate::lsp::analysis::{stages, visible_vars};
use crate::lsp::docs;
use crate::lsp::session::{Session, Snapshot};

pub fn handle(session: &Session, params: CompletionParams) -> Vec<CompletionItem> {
    if let Some(r) = crate::lsp::bake::dispatch::completion(session, &params) {
        return r;
    }
    let p = params.text_document_position;
    if let Some(items) =
        crate::lsp::compose::api::completion(session, &p.text_document.uri, p.position)
    {
        return items;
    }
    let Some(snap) = session.snapshot(&p.text_document.uri) else {
        return Vec::new();
    };
    let offset = snap.doc.offset(p.position, snap.features.encoding);
    complete(&snap, offset)
}

/// What an item's documentation is, carried in its `data` until
/// `completionItem/resolve` asks for the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "camelCase")]
pub enum DocRef {
    Instruction { keyword: String },
    Flag { instruction: String, name: String },
    Directive { name: String },
}

impl DocRef {
    /// The documentation as markdown.
    pub fn markdown(&self) -> Option<String> {
        match self {
            DocRef::Instruction { keyword } => {
                docs::instruction(keyword).map(docs::instruction_markdown)
            }
            DocRef::Flag { instruction, name } => {
                docs::flag(instruction, name).map(docs::flag_markdown)
            }
            DocRef::Directive { name } => docs::directive(name).map(|d| {
                format!(
                    "{}\n\n[Dockerfile reference]({})",
                    d.summary,
                    docs::url(d.anchor)
                )
            }),
        }
    }
}

struct Ctx<'a> {
    snap: &'a Snapshot,
    offset: usize,
}

impl Ctx<'_> {
    // One flat constructor keeps the many call sites readable.
    #[allow(clippy::too_many_arguments)]
    fn item(
        &self,
        label: &str,
        kind: CompletionItemKind,
        replace_from: usize,
        new_text: String,
        detail: Option<String>,
        doc: Option<DocRef>,
        snippet: bool,
    ) -> CompletionItem {
        let enc = self.snap.features.encoding;
        let range = Range::new(
            self.snap
                .doc
                .range(
                    crate::dockerfile::Span::new(replace_from, replace_from),
                    enc,
                )
                .start,
            self.snap
                .doc
                .range(crate::dockerfile::Span::new(self.offset, self.offset), enc)
                .start,
        );
        CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail,
            // Documentation arrives in `completionItem/resolve`.
            data: doc.and_then(|d| serde_json::to_value(d).ok()),
            insert_text_format: Some(if snippet {
                InsertTextFormat::SNIPPET
            } else {
                InsertTextFormat::PLAIN_TEXT
            }),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, new_text))),
            ..CompletionItem::default()
        }
    }
}

pub fn complete(snap: &Snapshot, offset: usize) -> Vec<CompletionItem> {
    let df: &Dockerfile = &snap.df;
    let text = snap.doc.text();
    let line_start = text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let prefix = &text[line_start..offset];
    let token_start = line_start + prefix.rfind([' ', '\t']).map_or(0, |i| i + 1);
    let token = &text[token_start..offset];
    let cx = Ctx { snap, offset };
    // Inside `ONBUILD`, the wrapped instruction (its flags, its values).
    let ins = df
        .innermost_instruction_at(offset)
        .filter(|i| i.keyword_span.start < offset);
    let continuing = ins.is_some_and(|i| i.keyword_span.start < line_start);

    // Parser directives: comment lines before the first instruction.
    let before_instructions = df
        .instructions
        .first()
        .is_none_or(|i| i.span.start >= offset);
    if prefix.trim_start().starts_with('#') && before_instructions {
        let typed = prefix.trim_start().trim_start_matches('#').trim_start();
        if typed.contains('=') || typed.contains(' ') {
            return Vec::new();
        }
        let from = offset - typed.len();
        return docs::DIRECTIVES
            .iter()
            .map(|d| {
                let (new, snippet) = if snap.features.snippets {
                    (d.snippet.to_string(), true)
                } else {
                    (format!("{}=", d.name), false)
                };
                cx.item(
                    d.name,
                    CompletionItemKind::KEYWORD,
                    from,
                    new,
                    Some("parser directive".into()),
                    Some(DocRef::Directive {
                        name: d.name.to_string(),
                    }),
                    snippet,
                )
            })
            .collect();
    }
    if prefix.trim_start().starts_with('#') {
        return Vec::new();
    }

    // Variables after `$` or `${` anywhere in an instruction.
    if let Some(dollar) = token.rfind('$') {
        let after = &token[dollar + 1..];
        let braced = after.starts_with('{');
        let name = after.trim_start_matches('{');
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let from = offset - name.len();
            let closes = braced && !text[offset..].starts_with('}');
            return variables(snap, offset)
                .into_iter()
                .map(|(n, detail)| {
                    let new = if closes { format!("{n}}}") } else { n.clone() };
                    cx.item(
                        &n,
                        CompletionItemKind::VARIABLE,
                        from,
                        new,
                        Some(detail),
                        None,
                        false,
                    )
                })
                .collect();
        }
    }

    // The first word of a line (not a continuation): an instruction keyword.
    let first_word = !continuing && !prefix.trim_start().contains([' ', '\t']);
    let after_onbuild = prefix
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("ONBUILD ")
        && !prefix.trim_start()[8..].trim_start().contains(' ');
    if first_word || after_onbuild {
        let from = if first_word {
            line_start + (prefix.len() - prefix.trim_start().len())
        } else {
            token_start
        };
        return docs::INSTRUCTIONS
            .iter()
            .filter(|d| !(after_onbuild && matches!(d.keyword, "ONBUILD" | "FROM" | "MAINTAINER")))
            .map(|d| {
                let (new, snippet) = if snap.features.snippets {
                    (format!("{} {}", d.keyword, d.snippet), true)
                } else {
                    (format!("{} ", d.keyword), false)
                };
                cx.item(
                    d.keyword,
                    CompletionItemKind::KEYWORD,
                    from,
                    new,
                    Some(d.summary.to_string()),
                    Some(DocRef::Instruction {
                        keyword: d.keyword.to_string(),
                    }),
                    snippet,
                )
            })
            .collect();
    }

    // Which instruction the cursor is in: the parsed one, or the line's first word.
    let keyword = match ins {
        Some(i) => i.keyword.to_string(),
        None => prefix.split_whitespace().next().unwrap_or("").to_string(),
    };
    let kind = InstructionKind::from_keyword(&keyword);
    let cur_start = ins.map_or(line_start, |i| i.span.start);
    // `FROM` may only name earlier stages; `COPY --from=` and `--mount=from=`
    // any stage but those that would close a cycle (see `copy_sources`).
    let sources = snap
        .model
        .stage_at(cur_start)
        .filter(|_| kind != InstructionKind::From)
        .map(|s| copy_sources(&snap.model, s.index));
    let stage_items = |from: usize, extra: &[&str]| -> Vec<CompletionItem> {
        let mut out: Vec<CompletionItem> = stages(&snap.model)
            .iter()
            .filter(|s| match &sources {
                Some(allowed) => allowed.get(s.index).copied().unwrap_or(false),
                None => df.instructions[s.from].span.start < cur_start,
            })
            .filter_map(|s| {
                let (n, _) = s.name.as_ref()?;
                let image = s
                    .image
                    .as_ref()
                    .map_or(String::new(), |(i, _)| format!("FROM {i}"));
                Some(cx.item(
                    n,
                    CompletionItemKind::MODULE,
                    from,
                    n.clone(),
                    Some(format!("stage #{} {image}", s.index)),
                    None,
                    false,
                ))
            })
            .collect();
        for e in extra {
            out.push(cx.item(
                e,
                CompletionItemKind::VALUE,
                from,
                e.to_string(),
                None,
                None,
                false,
            ));
        }
        out
    };

    if let Some(flag) = token.strip_prefix("--") {
        match flag.split_once('=') {
            None => {
                return docs::flags_of(&keyword)
                    .map(|f| {
                        let new = if f.value.is_empty() {
                            format!("--{}", f.name)
                        } else {
                            format!("--{}=", f.name)
                        };
                        cx.item(
                            &format!("--{}", f.name),
                            CompletionItemKind::PROPERTY,
                            token_start,
                            new,
                            Some(f.value.to_string()),
                            Some(DocRef::Flag {
                                instruction: f.instruction.to_string(),
                                name: f.name.to_string(),
                            }),
                            false,
                        )
                    })
                    .collect();
            }
            Some((name, value)) => {
                let value_start = token_start + 2 + name.len() + 1;
                return match (kind, name) {
                    (InstructionKind::Copy, "from") => stage_items(value_start, &[]),
                    (InstructionKind::Run, "mount") => {
                        mount_items(&cx, df, value, value_start, &stage_items)
                    }
                    (InstructionKind::Run, "network") => {
                        words(&cx, value_start, &["default", "none", "host"])
                    }
                    (InstructionKind::Run, "security") => {
                        words(&cx, value_start, &["sandbox", "insecure"])
                    }
                    (InstructionKind::From, "platform") => words(
                        &cx,
                        value_start,
                        &[
                            "$BUILDPLATFORM",
                            "$TARGETPLATFORM",
                            "linux/amd64",
                            "linux/arm64",
                            "linux/arm/v7",
                        ],
                    ),
                    _ => Vec::new(),
                };
            }
        }
    }

    if kind == InstructionKind::From {
        // FROM [--flags] <image> [AS name]: the image slot takes stages and scratch.
        let words_before: Vec<&str> = prefix
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let typing_new = prefix.ends_with([' ', '\t']);
        let slot = if typing_new {
            words_before.len()
        } else {
            words_before.len().saturating_sub(1)
        };
        return match slot {
            1 => stage_items(token_start, &["scratch"]),
            2 => words(&cx, token_start, &["AS"]),
            _ => Vec::new(),
        };
    }
    Vec::new()
}

fn words(cx: &Ctx<'_>, from: usize, list: &[&str]) -> Vec<CompletionItem> {
    list.iter()
        .map(|w| {
            cx.item(
                w,
                CompletionItemKind::VALUE,
                from,
                w.to_string(),
                None,
                None,
                false,
            )
        })
        .collect()
}

fn mount_items(
    cx: &Ctx<'_>,
    _df: &Dockerfile,
    value: &str,
    value_start: usize,
    stage_items: &dyn Fn(usize, &[&str]) -> Vec<CompletionItem>,
) -> Vec<CompletionItem> {
    let seg_start_rel = value.rfind(',').map_or(0, |i| i + 1);
    let segment = &value[seg_start_rel..];
    let seg_start = value_start + seg_start_rel;
    let kind = value
        .split(',')
        .find_map(|s| s.strip_prefix("type="))
        .unwrap_or("bind");
    match segment.split_once('=') {
        Some(("type", _)) => docs::MOUNTS
            .iter()
            .map(|m| {
                cx.item(
                    m.kind,
                    CompletionItemKind::ENUM_MEMBER,
                    seg_start + 5,
                    m.kind.to_string(),
                    Some(m.summary.to_string()),
                    None,
                    false,
                )
            })
            .collect(),
        Some(("from", _)) => stage_items(seg_start + 5, &[]),
        Some(("sharing", _)) => words(cx, seg_start + 8, &["shared", "private", "locked"]),
        Some(_) => Vec::new(),
        None => {
            let Some(mount) = docs::mount(kind) else {
                return Vec::new();
            };
            let used: Vec<&str> = value
                .split(',')
                .filter_map(|s| s.split_once('=').map(|(k, _)| k))
                .collect();
            let mut out: Vec<CompletionItem> = Vec::new();
            if !used.contains(&"type") {
                out.push(cx.item(
                    "type",
                    CompletionItemKind::PROPERTY,
                    seg_start,
                    "type=".into(),
                    Some("cache, bind, secret, ssh or tmpfs".into()),
                    None,
                    false,
                ));
            }
            for (k, what) in mount.keys {
                if !used.contains(k) {
                    out.push(cx.item(
                        k,
                        CompletionItemKind::PROPERTY,
                        seg_start,
                        format!("{k}="),
                        Some(what.to_string()),
                        None,
                        false,
                    ));
                }
            }
            out
        }
    }
}

/// Variables visible at `offset` (the model's definitions in scope, plus
/// BuildKit's predefined build arguments).
fn variables(snap: &Snapshot, offset: usize) -> Vec<(String, String)> {
    let stage = snap
        .model
        .stages
        .iter()
        .rev()
        .find(|s| s.span.start <= offset)
        .map(|s| s.index);
    visible_vars(&snap.model, stage, offset)
}

/// Which stages `COPY --from=` / `RUN --mount=from=` inside stage `current`
/// may name, indexed by stage. BuildKit resolves these names against all
/// stages, later ones included, and then refuses any dependency cycle
/// ("circular dependency detected on stage", dockerfile2llb): so the stage
/// itself and every stage that already depends on it (through `FROM` or its
/// own `--from=`) are left out.
fn copy_sources(model: &crate::dockerfile::Model, current: usize) -> Vec<bool> {
    let n = model.stages.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for s in &model.stages {
        if let Some(p) = s.parent {
            deps[s.index].push(p);
        }
    }
    for r in &model.stage_refs {
        if r.kind == crate::dockerfile::model::StageRefKind::FromBase {
            continue;
        }
        let Some(Some(owner)) = model.stage_of.get(r.instruction) else {
            continue;
        };
        let target = match r.value.parse::<usize>() {
            Ok(i) if i < n => Some(i),
            _ => model.stage_by_name(&r.value).map(|s| s.index),
        };
        if let (Some(t), Some(list)) = (target, deps.get_mut(*owner)) {
            list.push(t);
        }
    }
    (0..n)
        .map(|t| t != current && !reaches(&deps, t, current))
        .collect()
}

/// Whether stage `to` is reachable from `from` along `deps`.
fn reaches(deps: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; deps.len()];
    let mut stack = vec![from];
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        if std::mem::replace(&mut seen[s], true) {
            continue;
        }
        stack.extend(deps[s].iter().copied().filter(|&d| d < deps.len()));
    }
    false
}
