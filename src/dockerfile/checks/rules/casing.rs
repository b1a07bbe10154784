//! Casing and naming: StageNameCasing, FromAsCasing,
//! ConsistentInstructionCasing, DuplicateStageName, ReservedStageName.

use std::collections::HashSet;

use super::Model;
use crate::dockerfile::checks::{
    Cx, Edit, Fix, CONSISTENT_INSTRUCTION_CASING, DUPLICATE_STAGE_NAME, FROM_AS_CASING,
    RESERVED_STAGE_NAME, STAGE_NAME_CASING,
};

pub(super) fn check(cx: &mut Cx, model: &Model) {
    for st in &model.stages {
        let Some(from) = &st.from.from else { continue };
        let at = Some(st.from_idx);
        if let Some(name) = &from.stage_name {
            // BuildKit checks the name only in the `FROM img AS name` shape.
            if name.value != name.value.to_lowercase() {
                let lower = name.value.to_lowercase();
                cx.report(
                    &STAGE_NAME_CASING,
                    at,
                    name.span,
                    format!("Stage name '{}' should be lowercase", name.value),
                    Some(Fix {
                        title: format!("Rename stage to '{lower}'"),
                        edits: vec![Edit {
                            span: name.span,
                            new_text: lower,
                        }],
                    }),
                );
            }
        }
        if let (Some(as_kw), Some(_)) = (&from.as_keyword, &from.stage_name) {
            let kw = &st.from.keyword;
            let lower = *kw == kw.to_lowercase();
            let upper = *kw == kw.to_uppercase();
            // A mixed-case FROM is ConsistentInstructionCasing's business.
            let wanted = if lower {
                Some(as_kw.value.to_lowercase())
            } else if upper {
                Some(as_kw.value.to_uppercase())
            } else {
                None
            };
            if let Some(wanted) = wanted.filter(|w| *w != as_kw.value) {
                cx.report(
                    &FROM_AS_CASING,
                    at,
                    as_kw.span,
                    format!(
                        "'{}' and '{}' keywords' casing do not match",
                        as_kw.value, kw
                    ),
                    Some(Fix {
                        title: format!("Change '{}' to '{wanted}'", as_kw.value),
                        edits: vec![Edit {
                            span: as_kw.span,
                            new_text: wanted,
                        }],
                    }),
                );
            }
        }
    }

    // Stage names: file-wide in BuildKit (no per-instruction comments).
    let mut names: HashSet<&str> = HashSet::new();
    for st in &model.stages {
        let (Some(name), Some(word)) = (
            st.name.as_deref(),
            st.from.from.as_ref().and_then(|f| f.stage_name.as_ref()),
        ) else {
            continue;
        };
        if name == "context" || name == "scratch" {
            cx.report(
                &RESERVED_STAGE_NAME,
                None,
                word.span,
                format!("Stage name should not use the same name as reserved stage {name:?}"),
                None,
            );
        }
        if !names.insert(name) {
            cx.report(
                &DUPLICATE_STAGE_NAME,
                None,
                word.span,
                format!("Duplicate stage name {name:?}, stage names should be unique"),
                None,
            );
        }
    }

    // Instruction casing: the majority over FROMs and stage commands
    // (global ARGs and ONBUILD's inner instruction do not count).
    let df = cx.df;
    let mut keywords: Vec<usize> = Vec::new();
    for st in &model.stages {
        keywords.push(st.from_idx);
        keywords.extend(st.commands.iter().copied());
    }
    let (mut lower, mut upper) = (0usize, 0usize);
    for &i in &keywords {
        let kw = &df.instructions[i].keyword;
        if *kw == kw.to_lowercase() {
            lower += 1;
        } else if *kw == kw.to_uppercase() {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for &i in &keywords {
        let ins = &df.instructions[i];
        let kw = &ins.keyword;
        let (wanted, casing) = if majority_lower {
            (kw.to_lowercase(), "lowercase")
        } else {
            (kw.to_uppercase(), "uppercase")
        };
        if *kw != wanted {
            cx.report(
                &CONSISTENT_INSTRUCTION_CASING,
                None,
                ins.keyword_span,
                format!("Command '{kw}' should match the case of the command majority ({casing})"),
                Some(Fix {
                    title: format!("Change '{kw}' to '{wanted}'"),
                    edits: vec![Edit {
                        span: ins.keyword_span,
                        new_text: wanted,
                    }],
                }),
            );
        }
    }
}
