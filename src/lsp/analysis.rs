//! The bridge from a document to the `dockerfile` module's pure analysis:
//! the semantic [`Model`] (stages, ARG/ENV scopes, resolved references) and
//! the checks. This file answers "what is at this offset" and "where is this
//! name defined or used" in the shapes the request handlers need (the
//! diagnostics are assembled in `diagnostics::collect`); the scope
//! rules themselves live in `dockerfile::model`.

use crate::dockerfile::model::{
    DefKind, Model, Resolution, VarDef, AUTOMATIC_PLATFORM_ARGS, BUILTIN_ARGS,
};
use crate::dockerfile::{Dockerfile, Span};

/// A build stage as the handlers use it.
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

pub fn stages(model: &Model) -> Vec<Stage> {
    model
        .stages
        .iter()
        .map(|s| Stage {
            index: s.index,
            from: s.from_instruction,
            end: s.instructions.last().map_or(s.from_instruction, |i| i + 1),
            name: s.name.as_ref().map(|w| (w.value.to_string(), w.span)),
            image: Some((s.base.value.to_string(), s.base.span)),
        })
        .collect()
}

/// A place that names a stage: its definition (`AS name`) or a use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    pub stage: usize,
    pub span: Span,
    pub definition: bool,
}

/// Every definition and resolved use of every named stage, in text order.
pub fn stage_refs(model: &Model) -> Vec<StageRef> {
    let mut out: Vec<StageRef> = model
        .stages
        .iter()
        .filter_map(|s| {
            s.name.as_ref().map(|w| StageRef {
                stage: s.index,
                span: w.span,
                definition: true,
            })
        })
        .collect();
    for r in &model.stage_refs {
        if let Some(t) = r.target {
            if model.stages.get(t).is_some_and(|s| s.name.is_some()) {
                out.push(StageRef {
                    stage: t,
                    span: r.span,
                    definition: false,
                });
            }
        }
    }
    out.sort_by_key(|r| r.span.start);
    out
}

/// The stage referred to at `offset` (`COPY --from=x`, `FROM x`, `from=x`),
/// by name or index, and the span of the reference.
pub fn stage_ref_at(model: &Model, offset: usize) -> Option<(usize, Span)> {
    model
        .stage_refs
        .iter()
        .find(|r| r.span.touches(offset))
        .and_then(|r| r.target.map(|t| (t, r.span)))
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
        occurrences: Vec<Occurrence>,
    },
    Variable {
        occurrences: Vec<Occurrence>,
    },
    /// A heredoc delimiter: the name after `<<` (the definition) and on the
    /// terminator line.
    Heredoc {
        occurrences: Vec<Occurrence>,
        /// The body as written, to refuse a new name that a body line
        /// already equals (it would end the heredoc early).
        body: Span,
        strip_tabs: bool,
    },
}

impl Named {
    pub fn occurrences(&self) -> &[Occurrence] {
        match self {
            Named::Stage { occurrences }
            | Named::Variable { occurrences }
            | Named::Heredoc { occurrences, .. } => occurrences,
        }
    }
}

/// The heredoc whose delimiter (opening or terminator) is at `offset`.
pub fn heredoc_at(df: &Dockerfile, offset: usize) -> Option<Named> {
    let ins = df.instruction_at(offset)?;
    ins.heredocs.iter().find_map(|h| {
        let open = h.name_span(&df.source);
        let close = h.terminator_name_span(&df.source);
        if !open.touches(offset) && !close.is_some_and(|c| c.touches(offset)) {
            return None;
        }
        let mut occurrences = vec![Occurrence {
            span: open,
            definition: true,
        }];
        occurrences.extend(close.map(|span| Occurrence {
            span,
            definition: false,
        }));
        Some(Named::Heredoc {
            occurrences,
            body: h.body_span,
            strip_tabs: h.strip_tabs,
        })
    })
}

/// The definition a variable site at `offset` stands for, following a stage
/// `ARG NAME` to the global ARG it redeclares (they rename together).
fn var_root(model: &Model, offset: usize) -> Option<usize> {
    let root = |d: usize| model.definitions.get(d).and_then(|v| v.global).unwrap_or(d);
    if let Some((d, _)) = model.definition_at(offset) {
        return Some(root(d));
    }
    match model.reference_at(offset)?.resolution {
        Resolution::Defined(d) => Some(root(d)),
        _ => None,
    }
}

/// The stage name, variable or heredoc delimiter at `offset`, if any.
pub fn named_at(df: &Dockerfile, model: &Model, offset: usize) -> Option<Named> {
    if let Some(h) = heredoc_at(df, offset) {
        return Some(h);
    }
    let refs = stage_refs(model);
    if let Some(r) = refs.iter().find(|r| r.span.touches(offset)) {
        return Some(Named::Stage {
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
    let root = var_root(model, offset)?;
    let in_group =
        |d: usize| d == root || model.definitions.get(d).and_then(|v| v.global) == Some(root);
    let mut occurrences: Vec<Occurrence> = model
        .definitions
        .iter()
        .enumerate()
        .filter(|(d, _)| in_group(*d))
        .map(|(_, v)| Occurrence {
            span: v.name_span,
            definition: true,
        })
        .collect();
    occurrences.extend(model.references.iter().filter_map(|r| match r.resolution {
        Resolution::Defined(d) if in_group(d) => Some(Occurrence {
            span: r.name_span,
            definition: false,
        }),
        _ => None,
    }));
    occurrences.sort_by_key(|o| o.span.start);
    Some(Named::Variable { occurrences })
}

/// Where the name at `offset` is defined: a stage's `AS name`, the ARG/ENV
/// a variable reference resolves to, or a heredoc's opening delimiter (a
/// definition answers itself).
pub fn definition_at(df: &Dockerfile, model: &Model, offset: usize) -> Option<Span> {
    if let Some(h) = heredoc_at(df, offset) {
        return h.occurrences().first().map(|o| o.span);
    }
    if let Some((stage, _)) = stage_ref_at(model, offset) {
        return model.stages.get(stage)?.name.as_ref().map(|w| w.span);
    }
    if let Some((_, d)) = model.definition_at(offset) {
        return Some(d.name_span);
    }
    match model.reference_at(offset)?.resolution {
        Resolution::Defined(d) => model.definitions.get(d).map(|v| v.name_span),
        _ => None,
    }
}

/// What hover says about the variable at `offset`.
pub enum VarInfo<'a> {
    /// Its definition, and where the value comes from when the definition
    /// (a stage `ARG NAME`) only redeclares a global ARG.
    Defined {
        def: &'a VarDef,
        value_from: &'a VarDef,
    },
    Automatic(String),
    Builtin(String),
    Undefined(String),
}

pub fn var_info(model: &Model, offset: usize) -> Option<(Span, VarInfo<'_>)> {
    let with_value = |d: &VarDef| -> Option<usize> { d.global.filter(|_| d.value.is_none()) };
    if let Some((_, d)) = model.definition_at(offset) {
        let from = with_value(d)
            .and_then(|g| model.definitions.get(g))
            .unwrap_or(d);
        return Some((
            d.name_span,
            VarInfo::Defined {
                def: d,
                value_from: from,
            },
        ));
    }
    let r = model.reference_at(offset)?;
    let info = match r.resolution {
        Resolution::Defined(i) => {
            let d = model.definitions.get(i)?;
            let from = with_value(d)
                .and_then(|g| model.definitions.get(g))
                .unwrap_or(d);
            VarInfo::Defined {
                def: d,
                value_from: from,
            }
        }
        Resolution::Automatic => VarInfo::Automatic(r.name.to_string()),
        Resolution::Builtin => VarInfo::Builtin(r.name.to_string()),
        Resolution::Undefined => VarInfo::Undefined(r.name.to_string()),
    };
    Some((r.name_span, info))
}

/// Variables that can be referenced at `offset` (name, detail): ARG/ENV
/// defined earlier in the current stage, global ARGs, and BuildKit's
/// predefined build arguments.
pub fn visible_vars(model: &Model, stage: Option<usize>, offset: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for d in model
        .definitions
        .iter()
        .filter(|d| d.name_span.end <= offset)
    {
        let visible = match d.kind {
            DefKind::GlobalArg => true,
            DefKind::Arg | DefKind::Env => d.stage == stage,
        };
        if !visible {
            continue;
        }
        let kw = if d.kind == DefKind::Env { "ENV" } else { "ARG" };
        let detail = match &d.value {
            Some(v) => format!("{kw} {}={v}", d.name),
            None => format!("{kw} {}", d.name),
        };
        out.retain(|(n, _)| n != d.name.as_str());
        out.push((d.name.to_string(), detail));
    }
    for a in AUTOMATIC_PLATFORM_ARGS.iter().chain(BUILTIN_ARGS.iter()) {
        if a.chars().any(|c| c.is_ascii_lowercase()) || out.iter().any(|(n, _)| n == a) {
            continue;
        }
        out.push((a.to_string(), "predefined build argument".to_string()));
    }
    out
}
