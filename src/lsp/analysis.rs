//! The bridge from a document to the `dockerfile` module's pure analysis:
//! parse, stages, variables, checks. Results are converted to LSP types in
//! the request handlers; this file answers "what is at this offset" and
//! "where is this name defined or used".

use ls_types::Diagnostic;

use super::document::Document;
use super::position::Encoding;
use super::settings::Settings;
use crate::dockerfile::{Dockerfile, Instruction, InstructionKind, Span};

/// The diagnostics of a document under the given settings. Documents the
/// server does not analyse (too large, binary) have none.
pub fn diagnostics(doc: &Document, settings: &Settings, enc: Encoding) -> Vec<Diagnostic> {
    let Some(df) = doc.parsed() else {
        return Vec::new();
    };
    super::diagnostic_conv::diagnostics(df, settings, enc)
}

/// A build stage: its FROM and the instructions up to the next FROM.
#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// Index of the FROM in `Dockerfile::instructions`.
    pub from: usize,
    /// Index one past the stage's last instruction.
    pub end: usize,
    pub name: Option<(String, Span)>,
    pub image: Option<(String, Span)>,
}

pub fn stages(df: &Dockerfile) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for (i, ins) in df.instructions.iter().enumerate() {
        if ins.kind != InstructionKind::From {
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.end = i;
        }
        let clause = ins.from.as_ref();
        out.push(Stage {
            index: out.len(),
            from: i,
            end: df.instructions.len(),
            name: clause
                .and_then(|c| c.stage_name.as_ref())
                .map(|w| (w.value.clone(), w.span)),
            image: clause.map(|c| (c.image.value.clone(), c.image.span)),
        });
    }
    out
}

/// The stage a name or index refers to (`COPY --from=build`, `--from=0`),
/// as BuildKit resolves it: names case-insensitively, only earlier stages.
pub fn stage_named<'a>(stages: &'a [Stage], name: &str, before: usize) -> Option<&'a Stage> {
    let mut earlier = stages.iter().filter(|s| s.from < before);
    if let Ok(n) = name.parse::<usize>() {
        return earlier.clone().find(|s| s.index == n);
    }
    earlier.rfind(|s| {
        s.name
            .as_ref()
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
    })
}

/// A place that names a stage: its definition (`AS name`) or a use
/// (`FROM name`, `COPY --from=name`, `RUN --mount=from=name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    /// Index of the stage referred to.
    pub stage: usize,
    pub span: Span,
    pub definition: bool,
}

/// Every definition and use of every named stage, in text order.
pub fn stage_refs(df: &Dockerfile, stages: &[Stage]) -> Vec<StageRef> {
    let mut out = Vec::new();
    for s in stages {
        if let Some((_, span)) = &s.name {
            out.push(StageRef {
                stage: s.index,
                span: *span,
                definition: true,
            });
        }
    }
    for (i, ins) in df.instructions.iter().enumerate() {
        for (name, span) in stage_uses(ins) {
            if let Some(target) = stage_named(stages, &name, i) {
                if target.name.is_some() {
                    out.push(StageRef {
                        stage: target.index,
                        span,
                        definition: false,
                    });
                }
            }
        }
    }
    out.sort_by_key(|r| r.span.start);
    out
}

/// Names in an instruction that may refer to a stage, with their spans.
pub fn stage_uses(ins: &Instruction) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    match ins.kind {
        InstructionKind::From => {
            if let Some(c) = &ins.from {
                out.push((c.image.value.clone(), c.image.span));
            }
        }
        InstructionKind::Copy => {
            for f in ins.flags_named("from") {
                if let (Some(v), Some(span)) = (&f.value, f.value_span) {
                    out.push((v.clone(), span));
                }
            }
        }
        InstructionKind::Run => {
            for f in ins.flags_named("mount") {
                for o in f.options() {
                    if o.key == "from" {
                        if let (Some(v), Some(span)) = (o.value, o.value_span) {
                            out.push((v, span));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// A variable definition (ARG or ENV key) or use (`$NAME`, `${NAME}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarSite {
    pub name: String,
    pub span: Span,
    pub definition: bool,
    /// Index of the instruction it is in.
    pub instruction: usize,
    /// The scope: `None` before the first FROM (global ARGs), else the stage.
    pub stage: Option<usize>,
    /// For definitions: the value given, if any.
    pub value: Option<String>,
    pub kind: InstructionKind,
}

/// All ARG/ENV definitions and variable uses, in text order.
pub fn var_sites(df: &Dockerfile, stages: &[Stage]) -> Vec<VarSite> {
    let mut out = Vec::new();
    for (i, ins) in df.instructions.iter().enumerate() {
        let stage = stages.iter().rev().find(|s| s.from <= i).map(|s| s.index);
        if matches!(ins.kind, InstructionKind::Arg | InstructionKind::Env) {
            for kv in &ins.key_values {
                out.push(VarSite {
                    name: kv.key.clone(),
                    span: kv.key_span,
                    definition: true,
                    instruction: i,
                    stage,
                    value: kv.unquoted_value(df.escape),
                    kind: ins.kind,
                });
            }
        }
        for v in &ins.variables {
            out.push(VarSite {
                name: v.name.clone(),
                span: v.name_span,
                definition: false,
                instruction: i,
                stage,
                value: None,
                kind: ins.kind,
            });
        }
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// The definition a use resolves to: the latest ARG/ENV of the same name
/// before it in its stage; else a global ARG, which a stage sees only after
/// re-declaring it (`ARG NAME`) — or, in a FROM line, directly.
pub fn resolve_var<'a>(sites: &'a [VarSite], use_site: &VarSite) -> Option<&'a VarSite> {
    let before = |d: &&VarSite| {
        d.definition && d.name == use_site.name && d.span.start < use_site.span.start
    };
    let in_stage = sites
        .iter()
        .filter(before)
        .rfind(|d| d.stage == use_site.stage && d.instruction < use_site.instruction);
    if let Some(d) = in_stage {
        // `ARG NAME` without a value inside a stage takes the global default.
        if d.kind == InstructionKind::Arg && d.value.is_none() {
            if let Some(g) = sites.iter().filter(before).rfind(|g| g.stage.is_none()) {
                return Some(g);
            }
        }
        return Some(d);
    }
    let imports_global = use_site.definition && use_site.kind == InstructionKind::Arg;
    if use_site.kind == InstructionKind::From || use_site.stage.is_none() || imports_global {
        return sites.iter().filter(before).rfind(|d| d.stage.is_none());
    }
    None
}

/// The group of sites that rename together with the site at `offset`: the
/// definition and every use resolving to it (including re-declarations of a
/// global ARG in stages).
pub fn var_group(sites: &[VarSite], offset: usize) -> Vec<&VarSite> {
    let Some(at) = sites.iter().find(|s| s.span.touches(offset)) else {
        return Vec::new();
    };
    // Every site maps to the definition it stands for; `resolve_var`
    // already maps a value-less stage ARG to the global ARG it imports.
    let root = |s: &VarSite| -> Option<Span> {
        if s.definition && !(s.kind == InstructionKind::Arg && s.value.is_none()) {
            return Some(s.span);
        }
        match resolve_var(sites, s) {
            Some(d) => Some(d.span),
            None if s.definition => Some(s.span),
            None => None,
        }
    };
    let Some(key) = root(at) else {
        return vec![at];
    };
    sites
        .iter()
        .filter(|s| s.name == at.name && root(s) == Some(key))
        .collect()
}

/// One occurrence of a stage name or variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub span: Span,
    pub definition: bool,
}

/// What a name at `offset` is, and all its occurrences in text order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Stage {
        name: String,
        occurrences: Vec<Occurrence>,
    },
    Variable {
        name: String,
        occurrences: Vec<Occurrence>,
    },
}

impl Named {
    pub fn occurrences(&self) -> &[Occurrence] {
        match self {
            Named::Stage { occurrences, .. } | Named::Variable { occurrences, .. } => occurrences,
        }
    }
}

/// The stage name or variable at `offset`, if any.
pub fn named_at(df: &Dockerfile, offset: usize) -> Option<Named> {
    let stages = stages(df);
    let refs = stage_refs(df, &stages);
    if let Some(r) = refs.iter().find(|r| r.span.touches(offset)) {
        let name = stages[r.stage]
            .name
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        return Some(Named::Stage {
            name,
            occurrences: refs
                .iter()
                .filter(|o| o.stage == r.stage)
                .map(|o| Occurrence {
                    span: o.span,
                    definition: o.definition,
                })
                .collect(),
        });
    }
    let sites = var_sites(df, &stages);
    let group = var_group(&sites, offset);
    let first = group.first()?;
    Some(Named::Variable {
        name: first.name.clone(),
        occurrences: group
            .iter()
            .map(|s| Occurrence {
                span: s.span,
                definition: s.definition,
            })
            .collect(),
    })
}
