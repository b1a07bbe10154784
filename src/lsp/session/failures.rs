//! Failed builds as diagnostics: a `BuildFailed` diagnostic on the failing
//! instruction, kept per document and target until a successful build of that
//! target or an edit inside the instruction. The instruction's text at the
//! time of the failure is kept, so the diagnostic follows the instruction when
//! lines above it change, and disappears when the instruction itself changes
//! (the build insight's hints follow the same [`Anchor`]).

use ls_types::{Diagnostic, DiagnosticSeverity, NumberOrString, Position, Range};

use crate::buildkit::SolveFailure;
use crate::insight::Anchor;
use crate::lsp::position::Encoding;

/// Diagnostic code of a failed build.
pub const CODE: &str = "BuildFailed";
/// Diagnostic source of a failed build (BuildKit reported it, not a check).
pub const SOURCE: &str = "buildkit";
/// Log lines of the failing step shown in the diagnostic.
const TAIL_LINES: usize = 5;

/// One failed build's diagnostic.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The target whose build failed (`None`: the whole Dockerfile).
    pub target: Option<String>,
    /// The failing instruction's lines as they were when the build failed,
    /// and where they are in the current text.
    anchor: Anchor,
    message: String,
}

impl Failure {
    /// The diagnostic for `failure` of a build of `target`, on the lines
    /// BuildKit named in `text` (the document when the build ended). `None`
    /// when BuildKit named no lines or lines past the end of `text`.
    pub fn new(target: Option<String>, failure: &SolveFailure, text: &str) -> Option<Failure> {
        let source = failure.source.as_ref()?;
        let first = source.ranges.first()?;
        // BuildKit's lines are 1-based and inclusive.
        let start = (first.start as usize).checked_sub(1)?;
        let end = (first.end as usize).max(first.start as usize);
        Some(Failure {
            target,
            anchor: Anchor::of_lines(text, start, end - 1)?,
            message: message(failure),
        })
    }

    /// Finds the instruction in the document's new `text` (see
    /// [`Anchor::relocate`]). Returns false when the instruction is gone (it
    /// was edited).
    pub fn relocate(&mut self, text: &str) -> bool {
        self.anchor.relocate(text)
    }

    /// The diagnostic at the instruction's current place: from the start of
    /// its first line to the end of its last.
    pub fn diagnostic(&self, enc: Encoding) -> Diagnostic {
        let last = self
            .anchor
            .lines
            .last()
            .map(String::as_str)
            .unwrap_or_default();
        let width = match enc {
            Encoding::Utf16 => last.encode_utf16().count(),
            Encoding::Utf8 => last.len(),
        };
        let end_line = self.anchor.end_line();
        Diagnostic {
            range: Range::new(
                Position::new(self.anchor.start_line as u32, 0),
                Position::new(end_line as u32, width as u32),
            ),
            severity: Some(DiagnosticSeverity::ERROR),
            code: Some(NumberOrString::String(CODE.to_string())),
            source: Some(SOURCE.to_string()),
            message: self.message.clone(),
            ..Diagnostic::default()
        }
    }
}

/// The diagnostic's message: BuildKit's error, `exit code N`, and the last
/// lines the step printed.
pub fn message(failure: &SolveFailure) -> String {
    let mut out = failure.message.clone();
    if let Some(code) = failure.exit_code {
        out.push_str(&format!("\nexit code {code}"));
    }
    let tail = &failure.log_tail[failure.log_tail.len().saturating_sub(TAIL_LINES)..];
    if !tail.is_empty() {
        out.push_str("\nlast output:");
        for line in tail {
            out.push_str("\n  ");
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildkit::errors::{LineRange, SourceLocation};

    fn failure(start: u32, end: u32) -> SolveFailure {
        SolveFailure {
            message: "process \"/bin/sh -c echo out && exit 3\" did not complete successfully: exit code: 3".into(),
            vertex: None,
            vertex_name: Some("[2/2] RUN echo out && exit 3".into()),
            source: Some(SourceLocation {
                filename: "Dockerfile".into(),
                data: Vec::new(),
                ranges: vec![LineRange { start, end }],
            }),
            exit_code: Some(3),
            log_tail: (1..=7).map(|i| format!("line {i}")).collect(),
        }
    }

    const TEXT: &str = "FROM busybox:test\nRUN true\nRUN echo out && \\\n    exit 3 # é\nCMD x\n";

    #[test]
    fn diagnostic_covers_the_instruction_lines_with_exit_code_and_tail() {
        let f = Failure::new(None, &failure(3, 4), TEXT).unwrap();
        let d = f.diagnostic(Encoding::Utf16);
        // "    exit 3 # é" is 14 UTF-16 units, 15 bytes.
        assert_eq!(
            d.range,
            Range::new(Position::new(2, 0), Position::new(3, 14))
        );
        assert_eq!(f.diagnostic(Encoding::Utf8).range.end, Position::new(3, 15));
        assert_eq!(d.code, Some(NumberOrString::String("BuildFailed".into())));
        assert_eq!(d.source.as_deref(), Some("buildkit"));
        assert_eq!(
            d.message,
            "process \"/bin/sh -c echo out && exit 3\" did not complete successfully: exit code: 3\nexit code 3\nlast output:\n  line 3\n  line 4\n  line 5\n  line 6\n  line 7"
        );
    }

    #[test]
    fn no_diagnostic_without_lines_or_past_the_end() {
        let mut none = failure(1, 1);
        none.source = None;
        assert_eq!(Failure::new(None, &none, TEXT), None);
        assert_eq!(Failure::new(None, &failure(5, 6), TEXT), None);
    }

    #[test]
    fn follows_lines_inserted_above_and_drops_on_edit_inside() {
        let mut f = Failure::new(Some("app".into()), &failure(3, 4), TEXT).unwrap();
        assert!(f.relocate(TEXT));
        assert_eq!(f.diagnostic(Encoding::Utf16).range.start.line, 2);
        let shifted = format!("# new\n# lines\n{TEXT}");
        assert!(f.relocate(&shifted));
        assert_eq!(f.diagnostic(Encoding::Utf16).range.start.line, 4);
        // An edit below changes nothing.
        assert!(f.relocate(&format!("{shifted}RUN more\n")));
        assert_eq!(f.diagnostic(Encoding::Utf16).range.start.line, 4);
        let edited = shifted.replace("exit 3", "exit 0");
        assert!(!f.relocate(&edited));
    }

    #[test]
    fn the_nearest_copy_wins_when_the_instruction_repeats() {
        let text = "FROM a\nRUN x\nRUN y\nRUN x\n";
        let mut f = Failure::new(None, &failure(4, 4), text).unwrap();
        // The line at 3 changes; copies remain at 1 (distance 2) only.
        assert!(f.relocate("FROM a\nRUN x\nRUN y\nRUN z\nRUN w\n"));
        assert_eq!(f.diagnostic(Encoding::Utf16).range.start.line, 1);
    }
}
