//! Casing and naming: StageNameCasing, FromAsCasing,
//! ConsistentInstructionCasing, DuplicateStageName, ReservedStageName.

use foldhash::{HashSet, HashSetExt};

use super::Model;
use crate::dockerfile::checks::{
    Cx, Edit, Fix, CONSISTENT_INSTRUCTION_CASING, DUPLICATE_STAGE_NAME, FROM_AS_CASING,
    RESERVED_STAGE_NAME, STAGE_NAME_CASING,
};

pub(super) fn check(cx: &mut Cx, model: &Model) {
    for st in &model.stages {
        let Some(from) = &st.from.from else { continue };
        let at = Some(st.from_idx);
        // BuildKit only reads `FROM img AS name`: with another word in the
        // AS slot the line is a syntax error (whose fix writes `AS`), and
        // a casing fix of that word would resolve nothing.
        let as_written = from
            .as_keyword
            .as_ref()
            .filter(|w| w.value.eq_ignore_ascii_case("as"));
        if let (Some(name), Some(_)) = (&from.stage_name, as_written) {
            if !is_lowercase(&name.value) {
                let lower = name.value.as_str().to_lowercase();
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
        if let (Some(as_kw), Some(_)) = (as_written, &from.stage_name) {
            let kw = &st.from.keyword;
            // A mixed-case FROM is ConsistentInstructionCasing's business.
            // The case tests come first so a matching AS builds no string.
            let wanted = if is_lowercase(kw) {
                (!is_lowercase(&as_kw.value)).then(|| as_kw.value.as_str().to_lowercase())
            } else if is_uppercase(kw) {
                (!is_uppercase(&as_kw.value)).then(|| as_kw.value.as_str().to_uppercase())
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
    // (instruction, its keyword's case), each keyword classified once.
    let mut keywords: Vec<(usize, Case)> = Vec::new();
    for st in &model.stages {
        for i in std::iter::once(st.from_idx).chain(st.commands.iter().copied()) {
            keywords.push((i, Case::of(&df.instructions[i].keyword)));
        }
    }
    let count = |case: Case| keywords.iter().filter(|(_, c)| *c == case).count();
    let majority = if count(Case::Lower) > count(Case::Upper) {
        Case::Lower
    } else {
        Case::Upper
    };
    let majority_lower = majority == Case::Lower;
    for &(i, case) in &keywords {
        if case == majority {
            continue;
        }
        let ins = &df.instructions[i];
        let kw = &ins.keyword;
        let (wanted, casing) = if majority_lower {
            (kw.as_str().to_lowercase(), "lowercase")
        } else {
            (kw.as_str().to_uppercase(), "uppercase")
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

/// How a keyword is written. A word without letters is both lower and
/// upper case; it counts as lower, as BuildKit's first test is lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Lower,
    Upper,
    Mixed,
}

impl Case {
    fn of(s: &str) -> Case {
        if is_lowercase(s) {
            Case::Lower
        } else if is_uppercase(s) {
            Case::Upper
        } else {
            Case::Mixed
        }
    }
}

/// `s == s.to_lowercase()` without building the lower-cased copy for ASCII
/// text (keywords and stage names almost always are).
pub(super) fn is_lowercase(s: &str) -> bool {
    if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        s == s.to_lowercase()
    }
}

/// `s == s.to_uppercase()`, allocation-free for ASCII text.
pub(super) fn is_uppercase(s: &str) -> bool {
    if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_lowercase())
    } else {
        s == s.to_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::{is_lowercase, is_uppercase};

    #[test]
    fn case_tests_agree_with_std_conversions() {
        for s in [
            "from", "FROM", "From", "", "run1", "RUN-2", "ÄRG", "ärg", "Σ", "ς",
        ] {
            assert_eq!(is_lowercase(s), s == s.to_lowercase(), "{s}");
            assert_eq!(is_uppercase(s), s == s.to_uppercase(), "{s}");
        }
        assert!(is_lowercase("from") && !is_lowercase("From"));
        assert!(is_uppercase("FROM") && !is_uppercase("FROm"));
    }
}
