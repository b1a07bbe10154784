//! Completion in a bake file: block types at the top level; a block's
//! attributes (documented, with their value kind) in its body; and by
//! attribute, its values: target names in `inherits`, group `targets` and
//! `contexts` `target:`; the Dockerfile's stages in `target` and its ARGs
//! as `args` keys; exporter and cache types in `output`, `cache-to` and
//! `cache-from`, those the selected builder's driver cannot serve marked;
//! the builder's platforms in `platforms`; files and folders in `context`
//! and `dockerfile`; variables and built-in functions in expressions. The
//! builder's state comes from the cache (never waits on a builder).

use ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat,
    TextEdit,
};

use super::{markup, outlines, target_dockerfile, BakeDoc};
use crate::build::bake_schema::{self, Kind, CACHE_TYPES, FUNCTIONS, OUTPUT_TYPES};
use crate::build::bake_syntax::{lex, str_inner, Attr, Block, Syntax, Tok, Value};
use crate::dockerfile::Span;
use crate::driver::{Feature, Support};
use crate::lsp::session::Session;

pub fn complete(session: &Session, doc: &BakeDoc, offset: usize) -> Vec<CompletionItem> {
    let text = doc.text();
    let offset = offset.min(text.len());
    let string = string_at(doc, offset);
    let Some(block) = doc
        .outline
        .block_at(offset)
        .filter(|b| offset > b.kind_span.end)
    else {
        if string.is_some() && doc.outline.syntax == Syntax::Hcl {
            return Vec::new();
        }
        let mut out = block_types(doc, offset, string);
        if doc.outline.syntax == Syntax::Hcl && string.is_none() {
            out.extend(stage_targets(session, doc, offset));
        }
        return out;
    };
    // Inside the braces?
    if offset <= block.body.start && doc.outline.syntax == Syntax::Hcl {
        return Vec::new();
    }
    match attr_at(doc, block, offset) {
        Some(attr) => values(session, doc, block, attr, offset, string),
        None => attributes(doc, block, offset, string),
    }
}

/// The string literal (its inner span) holding `offset`.
fn string_at(doc: &BakeDoc, offset: usize) -> Option<Span> {
    let text = doc.text();
    match doc.outline.syntax {
        Syntax::Hcl => lex(text)
            .into_iter()
            .find(|t| t.kind == Tok::Str && t.span.start < offset && offset <= t.span.end)
            .map(|t| str_inner(text, t.span))
            .filter(|inner| offset >= inner.start && offset <= inner.end),
        Syntax::Json => {
            // Inside quotes: an odd number of unescaped quotes before the
            // offset on its line.
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            let mut open = None;
            let bytes = text.as_bytes();
            let mut i = line_start;
            while i < offset {
                match bytes[i] {
                    b'\\' => i += 1,
                    b'"' => open = if open.is_some() { None } else { Some(i + 1) },
                    _ => {}
                }
                i += 1;
            }
            let start = open?;
            let end = text[offset..]
                .find(['"', '\n'])
                .map_or(text.len(), |j| offset + j);
            Some(Span::new(start, end))
        }
    }
}

/// The attribute whose value holds `offset` (after its `=` or `:`).
fn attr_at<'a>(doc: &BakeDoc, block: &'a Block, offset: usize) -> Option<&'a Attr> {
    let text = doc.text();
    block.attrs.iter().find(|a| {
        if offset <= a.key_span.end + usize::from(doc.outline.syntax == Syntax::Json) {
            return false;
        }
        let end = match a.value {
            // A value not typed yet: the rest of the key's line.
            Value::Missing => text[a.key_span.end..]
                .find('\n')
                .map_or(text.len(), |i| a.key_span.end + i),
            _ => a.value_span.end,
        };
        offset <= end && text[a.key_span.end..offset].contains(['=', ':'])
    })
}

/// The span of the word being typed before `offset` (letters, digits,
/// `_`, `-`).
fn word_before(text: &str, offset: usize) -> Span {
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '-')
        .last()
        .map_or(offset, |(i, _)| i);
    Span::new(start, offset)
}

fn item(
    doc: &BakeDoc,
    label: &str,
    kind: CompletionItemKind,
    replace: Span,
    new_text: String,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            doc.range(replace),
            new_text,
        ))),
        ..Default::default()
    }
}

fn documented(mut it: CompletionItem, doc: &BakeDoc, detail: String, md: String) -> CompletionItem {
    it.detail = Some(detail);
    it.documentation = Some(Documentation::MarkupContent(markup(&doc.features, md)));
    it
}

fn block_types(doc: &BakeDoc, offset: usize, string: Option<Span>) -> Vec<CompletionItem> {
    let text = doc.text();
    let snippets = doc.features.snippets;
    bake_schema::BLOCKS
        .iter()
        .map(|b| {
            let (replace, new_text, snippet) = match doc.outline.syntax {
                Syntax::Hcl => {
                    let w = word_before(text, offset);
                    if snippets {
                        (w, format!("{} \"${{1:name}}\" {{\n  $0\n}}", b.name), true)
                    } else {
                        (w, format!("{} \"\" {{\n}}", b.name), false)
                    }
                }
                Syntax::Json => match string {
                    Some(s) => (Span::new(s.start, offset), b.name.to_string(), false),
                    None => {
                        let w = word_before(text, offset);
                        (w, format!("\"{}\": {{}}", b.name), false)
                    }
                },
            };
            let mut it = item(doc, b.name, CompletionItemKind::KEYWORD, replace, new_text);
            if snippet {
                it.insert_text_format = Some(InsertTextFormat::SNIPPET);
            }
            documented(it, doc, format!("{} block", b.name), b.summary.to_string())
        })
        .collect()
}

/// At the top level, a whole `target` block for each stage of the folder's
/// `Dockerfile` that no target builds yet (what Docker's language server
/// offers as inline completion, which this server's LSP library lacks).
fn stage_targets(session: &Session, doc: &BakeDoc, offset: usize) -> Vec<CompletionItem> {
    let Some(folder) = doc.path.as_ref().and_then(|p| p.parent()) else {
        return Vec::new();
    };
    let Some(text) = super::file_text(session, &folder.join("Dockerfile")) else {
        return Vec::new();
    };
    let df = crate::dockerfile::parse(&text);
    let model = crate::dockerfile::Model::build(&df);
    let built: Vec<&str> = doc
        .outline
        .blocks_of("target")
        .filter_map(|b| {
            b.attr("target")
                .and_then(|a| a.value.as_str())
                .map(|(s, _)| s)
        })
        .collect();
    let w = word_before(doc.text(), offset);
    model
        .stages
        .iter()
        .filter_map(|s| s.name.as_ref().map(|n| n.value.to_string()))
        .filter(|n| !built.contains(&n.as_str()))
        .map(|n| {
            let label = format!("target \"{n}\"");
            let body = format!("target \"{n}\" {{\n  target = \"{n}\"\n}}");
            let mut it = item(doc, &label, CompletionItemKind::SNIPPET, w, body);
            it.detail = Some(format!("a target building the Dockerfile's stage {n}"));
            it.filter_text = Some(format!("target {n}"));
            it
        })
        .collect()
}

fn attributes(
    doc: &BakeDoc,
    block: &Block,
    offset: usize,
    string: Option<Span>,
) -> Vec<CompletionItem> {
    let Some(schema) = bake_schema::block(&block.kind) else {
        return Vec::new();
    };
    let text = doc.text();
    // Only where a key can start: nothing but the word on the line so far.
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let w = word_before(text, offset);
    let before = text[line_start..w.start].trim();
    let key_position = match doc.outline.syntax {
        Syntax::Hcl => before.is_empty(),
        Syntax::Json => before.is_empty() || before.ends_with(['{', ',', '"']),
    };
    if !key_position {
        return Vec::new();
    }
    schema
        .attrs
        .iter()
        .filter(|a| {
            !block
                .attrs
                .iter()
                .any(|x| x.key == a.name && !x.key_span.contains_or_touches(offset))
        })
        .map(|a| {
            let (replace, new_text) = match (doc.outline.syntax, string) {
                (Syntax::Hcl, _) => (w, format!("{} = {}", a.name, empty_value(a.kind))),
                (Syntax::Json, Some(s)) => (Span::new(s.start, offset), a.name.to_string()),
                (Syntax::Json, None) => (w, format!("\"{}\": {}", a.name, json_empty(a.kind))),
            };
            let it = item(doc, a.name, CompletionItemKind::PROPERTY, replace, new_text);
            documented(
                it,
                doc,
                format!("{} ({})", a.name, a.kind.describe()),
                a.summary.to_string(),
            )
        })
        .collect()
}

trait Touches {
    fn contains_or_touches(&self, offset: usize) -> bool;
}

impl Touches for Span {
    fn contains_or_touches(&self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }
}

fn empty_value(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "\"\"",
        Kind::List | Kind::ListOrObjects => "[]",
        Kind::Map => "{}",
        Kind::Bool => "false",
        Kind::Any => "",
    }
}

fn json_empty(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Any => "\"\"",
        Kind::List | Kind::ListOrObjects => "[]",
        Kind::Map => "{}",
        Kind::Bool => "false",
    }
}

fn values(
    session: &Session,
    doc: &BakeDoc,
    block: &Block,
    attr: &Attr,
    offset: usize,
    string: Option<Span>,
) -> Vec<CompletionItem> {
    let text = doc.text();
    let key = attr.key.as_str();
    let target_name = block.name().map(|(n, _)| n).unwrap_or("");
    // Inside `${…}` of a string: an expression.
    if let Some(s) = string {
        let inside = &text[s.start..offset];
        if let Some(open) = inside.rfind("${") {
            if !inside[open..].contains('}') {
                return expressions(doc, word_before(text, offset));
            }
        }
    }
    match (block.kind.as_str(), key) {
        ("target", "inherits") | ("group", "targets") => {
            let files = doc.folder_files(session);
            let mut names: Vec<String> =
                files
                    .iter()
                    .flat_map(|f| {
                        f.outline.blocks_of("target").chain(
                            f.outline
                                .blocks_of(if key == "targets" { "group" } else { "target" }),
                        )
                    })
                    .filter_map(|b| b.name().map(|(n, _)| n.to_string()))
                    .filter(|n| n != target_name || block.kind == "group")
                    .collect();
            names.sort();
            names.dedup();
            names_in(
                doc,
                offset,
                string,
                names,
                CompletionItemKind::CLASS,
                "target",
            )
        }
        ("target", "contexts") => {
            let Some(s) = string else { return Vec::new() };
            let typed = &text[s.start..offset];
            if let Some(rest_at) = typed.strip_prefix("target:").map(|_| s.start + 7) {
                let files = doc.folder_files(session);
                let mut names: Vec<String> = files
                    .iter()
                    .flat_map(|f| f.outline.blocks_of("target"))
                    .filter_map(|b| b.name().map(|(n, _)| n.to_string()))
                    .filter(|n| n != target_name)
                    .collect();
                names.sort();
                names.dedup();
                return names
                    .into_iter()
                    .map(|n| {
                        item(
                            doc,
                            &n,
                            CompletionItemKind::CLASS,
                            Span::new(rest_at, offset),
                            n.clone(),
                        )
                    })
                    .collect();
            }
            let mut out = if typed.contains(':') {
                Vec::new()
            } else {
                paths(
                    doc,
                    &files_base(doc, session, target_name, "context"),
                    s,
                    offset,
                )
            };
            out.extend(
                ["target:", "docker-image://", "oci-layout://", "https://"]
                    .iter()
                    .map(|p| {
                        item(
                            doc,
                            p,
                            CompletionItemKind::KEYWORD,
                            Span::new(s.start, offset),
                            p.to_string(),
                        )
                    }),
            );
            out
        }
        ("target", "target") => {
            let files = outlines(&doc.folder_files(session));
            let Some(df) = target_dockerfile(session, doc, &files, target_name) else {
                return Vec::new();
            };
            let names: Vec<String> = df
                .model
                .stages
                .iter()
                .filter_map(|s| s.name.as_ref().map(|w| w.value.to_string()))
                .collect();
            names_in(
                doc,
                offset,
                string,
                names,
                CompletionItemKind::CLASS,
                "stage",
            )
        }
        ("target", "args") if string.is_none() => {
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            let w = word_before(text, offset);
            let before = text[line_start..w.start].trim();
            if !(before.is_empty() || before.ends_with(['{', ','])) {
                return expressions(doc, w);
            }
            let files = outlines(&doc.folder_files(session));
            let Some(df) = target_dockerfile(session, doc, &files, target_name) else {
                return Vec::new();
            };
            let present: Vec<&str> = match &attr.value {
                Value::Object(e) => e.iter().map(|e| e.key.as_str()).collect(),
                _ => Vec::new(),
            };
            let mut seen = Vec::new();
            df.model
                .definitions
                .iter()
                .filter(|d| {
                    matches!(
                        d.kind,
                        crate::dockerfile::model::DefKind::Arg
                            | crate::dockerfile::model::DefKind::GlobalArg
                    )
                })
                .filter(|d| !present.contains(&d.name.as_str()))
                .filter(|d| {
                    let new = !seen.contains(&d.name);
                    seen.push(d.name.clone());
                    new
                })
                .map(|d| {
                    let value = d.value.as_deref().unwrap_or("");
                    let new_text = match doc.outline.syntax {
                        Syntax::Hcl => format!("{} = \"{}\"", d.name, value.trim_matches('"')),
                        Syntax::Json => format!("\"{}\": \"{}\"", d.name, value.trim_matches('"')),
                    };
                    let it = item(doc, &d.name, CompletionItemKind::VARIABLE, w, new_text);
                    documented(
                        it,
                        doc,
                        format!("ARG {}", d.name),
                        format!(
                            "`ARG {}` of {} — default {}",
                            d.name,
                            df.path.display(),
                            d.value
                                .as_deref()
                                .map_or("none".to_string(), |v| format!("`{v}`"))
                        ),
                    )
                })
                .collect()
        }
        ("target", "output" | "cache-to" | "cache-from") => {
            let Some(s) = string else {
                return if text[attr.key_span.end..offset].contains('[') {
                    Vec::new()
                } else {
                    expressions(doc, word_before(text, offset))
                };
            };
            let seg_start = text[s.start..offset]
                .rfind(',')
                .map_or(s.start, |i| s.start + i + 1);
            if seg_start != s.start {
                return Vec::new();
            }
            let table = if key == "output" {
                OUTPUT_TYPES
            } else {
                CACHE_TYPES
            };
            let builder = builder_features(session);
            table
                .iter()
                .filter(|(t, _)| key != "cache-from" || *t != "inline")
                .map(|(t, what)| {
                    let label = format!("type={t}");
                    let mut it = item(
                        doc,
                        &label,
                        CompletionItemKind::ENUM_MEMBER,
                        Span::new(seg_start, offset),
                        label.clone(),
                    );
                    let refused = builder.as_ref().and_then(|(f, _)| refusal(f, key, t));
                    let detail = match &refused {
                        Some(r) => format!("not served by the {} driver", r),
                        None => (*what).to_string(),
                    };
                    if refused.is_some() {
                        it.sort_text = Some(format!("z{t}"));
                    }
                    documented(it, doc, detail, format!("`{label}` — {what}"))
                })
                .collect()
        }
        ("target", "platforms") => {
            let Some(s) = string else { return Vec::new() };
            let mut platforms: Vec<String> = builder_features(session)
                .map(|(_, p)| p)
                .unwrap_or_default();
            let from_builder = platforms.len();
            for p in [
                "linux/amd64",
                "linux/arm64",
                "linux/arm/v7",
                "linux/386",
                "linux/ppc64le",
                "linux/s390x",
                "linux/riscv64",
            ] {
                if !platforms.iter().any(|x| x == p) {
                    platforms.push(p.to_string());
                }
            }
            platforms
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut it = item(
                        doc,
                        &p,
                        CompletionItemKind::ENUM_MEMBER,
                        Span::new(s.start, offset),
                        p.clone(),
                    );
                    it.detail = Some(if i < from_builder {
                        "a platform of the selected builder's nodes".to_string()
                    } else {
                        "not a platform of the selected builder (emulation may be needed)"
                            .to_string()
                    });
                    it.sort_text = Some(format!("{}{i:03}", u8::from(i >= from_builder)));
                    it
                })
                .collect()
        }
        ("target", "network") => fixed(doc, offset, string, &["default", "none", "host"]),
        ("target", "call") => fixed(
            doc,
            offset,
            string,
            &["build", "check", "outline", "targets"],
        ),
        ("target", "entitlements") => {
            fixed(doc, offset, string, &["network.host", "security.insecure"])
        }
        ("target", "context" | "dockerfile") => match string {
            Some(s) => paths(doc, &files_base(doc, session, target_name, key), s, offset),
            None => expressions(doc, word_before(text, offset)),
        },
        _ => {
            if string.is_some() {
                return Vec::new();
            }
            let w = word_before(text, offset);
            let mut out = expressions(doc, w);
            if bake_schema::attr(&block.kind, key).is_some_and(|a| a.kind == Kind::Bool) {
                for b in ["true", "false"] {
                    out.insert(0, item(doc, b, CompletionItemKind::VALUE, w, b.to_string()));
                }
            }
            out
        }
    }
}

/// The selected builder's driver features and node platforms, from the
/// cache.
fn builder_features(session: &Session) -> Option<(crate::driver::Features, Vec<String>)> {
    crate::lsp::builds::selection::findings::builder_features(session)
}

/// The driver that cannot serve `type=<t>` in `key`, if so.
fn refusal(f: &crate::driver::Features, key: &str, t: &str) -> Option<String> {
    let refused = match key {
        "output" if matches!(t, "docker" | "oci") => {
            f.support(Feature::TarballOutput) == Support::No
        }
        "cache-to" if t != "inline" => matches!(
            f.support(Feature::CacheExport),
            Support::No | Support::InlineOnly
        ),
        _ => false,
    };
    refused.then(|| f.kind.name().to_string())
}

fn fixed(
    doc: &BakeDoc,
    offset: usize,
    string: Option<Span>,
    values: &[&str],
) -> Vec<CompletionItem> {
    let names = values.iter().map(|s| s.to_string()).collect();
    names_in(
        doc,
        offset,
        string,
        names,
        CompletionItemKind::ENUM_MEMBER,
        "value",
    )
}

/// Names as string items: inside a string the text, outside it quoted.
fn names_in(
    doc: &BakeDoc,
    offset: usize,
    string: Option<Span>,
    names: Vec<String>,
    kind: CompletionItemKind,
    what: &str,
) -> Vec<CompletionItem> {
    let text = doc.text();
    names
        .into_iter()
        .map(|n| {
            let (replace, new_text) = match string {
                Some(s) => (Span::new(s.start, offset), n.clone()),
                None => (word_before(text, offset), format!("\"{n}\"")),
            };
            let mut it = item(doc, &n, kind, replace, new_text);
            it.detail = Some(what.to_string());
            it
        })
        .collect()
}

/// Variables and built-in functions (with signatures).
fn expressions(doc: &BakeDoc, replace: Span) -> Vec<CompletionItem> {
    let mut out: Vec<CompletionItem> = doc
        .outline
        .variable_names()
        .into_iter()
        .map(|(n, _)| {
            let mut it = item(doc, n, CompletionItemKind::VARIABLE, replace, n.to_string());
            it.detail = Some("variable".to_string());
            it
        })
        .collect();
    for f in doc.outline.blocks_of("function") {
        if let Some((n, _)) = f.name() {
            let mut it = item(
                doc,
                n,
                CompletionItemKind::FUNCTION,
                replace,
                format!("{n}("),
            );
            it.detail = Some("function (this file)".to_string());
            out.push(it);
        }
    }
    out.extend(FUNCTIONS.iter().map(|f| {
        let it = item(
            doc,
            f.name,
            CompletionItemKind::FUNCTION,
            replace,
            format!("{}(", f.name),
        );
        documented(
            it,
            doc,
            f.signature.to_string(),
            format!("`{}` — {}", f.signature, f.summary),
        )
    }));
    out
}

/// The folder file paths are relative to: the bake file's folder for
/// `context`, the target's context for `dockerfile`.
fn files_base(doc: &BakeDoc, session: &Session, target: &str, key: &str) -> std::path::PathBuf {
    let base = doc
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if key == "context" {
        return base;
    }
    let files = outlines(&doc.folder_files(session));
    match crate::build::bake_syntax::inherited(&files, target, "context")
        .and_then(|a| a.value.as_str())
    {
        Some((c, _)) => base.join(c),
        None => base,
    }
}

/// Files and folders under what the string names so far.
fn paths(doc: &BakeDoc, base: &std::path::Path, s: Span, offset: usize) -> Vec<CompletionItem> {
    let typed = &doc.text()[s.start..offset];
    let (dir, start) = match typed.rfind('/') {
        Some(i) => (base.join(&typed[..=i]), s.start + i + 1),
        None => (base.to_path_buf(), s.start),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<CompletionItem> = entries
        .flatten()
        .take(500)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let is_dir = e.file_type().ok()?.is_dir();
            let kind = if is_dir {
                CompletionItemKind::FOLDER
            } else {
                CompletionItemKind::FILE
            };
            Some(item(
                doc,
                &name,
                kind,
                Span::new(start, offset),
                name.clone(),
            ))
        })
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}
