//! What the session keeps of the build insight (`lsp::builds::insight`):
//! the last builds of each Dockerfile, and the LSP values made from them
//! (inlay hints, the hover section, the summary lens). A state type of the
//! session, so it imports no feature.
//!
//! Hints follow edits as the `BuildFailed` diagnostic does (the same
//! [`Anchor`]): lines inserted above move them, an edit inside an
//! instruction drops that instruction's hint for good.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ls_types::{
    CodeLens, Command, InlayHint, InlayHintLabel, InlayHintTooltip, Position, Range, Uri,
};

use crate::builder::insight::{BuildInsight, Entry, Key};
use crate::insight::{seconds, Anchor, Explained};
use crate::lsp::position::Encoding;

/// Builds shown in the hover, newest first.
const HOVER_BUILDS: usize = 3;

/// One document's last builds.
#[derive(Debug, Clone)]
struct DocInsight {
    key: Key,
    /// Oldest first; the last one's anchors follow the document.
    builds: Vec<Explained>,
    /// The last build's summary, as it was (hints of edited lines go).
    summary: String,
    /// Loaded from the store, not built in this session: a build in this
    /// session replaces it, the store never replaces a session's build.
    remembered: bool,
}

impl DocInsight {
    fn new(key: Key, builds: Vec<Explained>, remembered: bool) -> DocInsight {
        let summary = builds.last().map(Explained::summary).unwrap_or_default();
        DocInsight {
            key,
            builds,
            summary,
            remembered,
        }
    }
}

/// The insight of every Dockerfile built in this session (or remembered on
/// disk from an earlier one).
#[derive(Debug, Default)]
pub struct Insights {
    docs: Mutex<HashMap<String, DocInsight>>,
}

impl Insights {
    fn docs(&self) -> MutexGuard<'_, HashMap<String, DocInsight>> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a finished build's insight for the Dockerfile at `uri`.
    pub fn record(&self, uri: &Uri, insight: BuildInsight) {
        if insight.builds.is_empty() {
            return;
        }
        self.docs().insert(
            uri.as_str().to_string(),
            DocInsight::new(insight.key, insight.builds, false),
        );
    }

    /// Takes what the store remembered (least recently built first), for
    /// documents this session has not built yet.
    pub fn remember(&self, entries: Vec<Entry>) {
        let mut docs = self.docs();
        for e in entries {
            let Some(uri) = Uri::from_file_path(&e.key.dockerfile) else {
                continue;
            };
            if e.builds.is_empty() {
                continue;
            }
            // Later entries are newer and win among themselves.
            let uri = uri.as_str().to_string();
            if docs.get(&uri).is_none_or(|d| d.remembered) {
                docs.insert(uri, DocInsight::new(e.key, e.builds, true));
            }
        }
    }

    /// The last build of `uri`, its steps moved to where their lines are in
    /// `text` (steps whose instruction was edited are dropped).
    fn current(&self, uri: &str, text: &str) -> Option<DocInsight> {
        let mut docs = self.docs();
        let doc = docs.get_mut(uri)?;
        let last = doc.builds.last_mut()?;
        last.steps.retain_mut(|s| s.anchor.relocate(text));
        Some(doc.clone())
    }

    /// Inlay hints at the end of each instruction of the last build whose
    /// lines fall in `lines`.
    pub fn hints(
        &self,
        uri: &str,
        text: &str,
        enc: Encoding,
        lines: std::ops::RangeInclusive<u32>,
    ) -> Vec<InlayHint> {
        let Some(doc) = self.current(uri, text) else {
            return Vec::new();
        };
        let Some(last) = doc.builds.last() else {
            return Vec::new();
        };
        last.steps
            .iter()
            .filter(|s| lines.contains(&(s.anchor.end_line() as u32)))
            .map(|s| {
                let mut tooltip = format!("Last build ({}): {}", doc.key.builder, s.name);
                if let Some(c) = &s.cause {
                    tooltip.push_str(&format!("\nwhy it ran: {}", c.long()));
                }
                if s.bytes > 0 {
                    tooltip.push_str(&format!("\ncontext sent: {} bytes", s.bytes));
                }
                InlayHint {
                    position: end_of(&s.anchor, enc),
                    label: InlayHintLabel::String(s.label()),
                    kind: None,
                    text_edits: None,
                    tooltip: Some(InlayHintTooltip::String(tooltip)),
                    padding_left: Some(true),
                    padding_right: None,
                    data: None,
                }
            })
            .collect()
    }

    /// The hover section of the instruction on `line`: its result in the
    /// last few builds (markdown).
    pub fn hover(&self, uri: &str, text: &str, line: u32) -> Option<String> {
        let doc = self.current(uri, text)?;
        let last = doc.builds.last()?;
        let step = last
            .steps
            .iter()
            .find(|s| (s.anchor.start_line as u32..=s.anchor.end_line() as u32).contains(&line))?;
        let instruction = step.instruction();
        let mut out = format!(
            "**Last builds** on `{}`{}\n",
            doc.key.builder,
            doc.key
                .target
                .as_deref()
                .map(|t| format!(", target `{t}`"))
                .unwrap_or_default()
        );
        for build in doc.builds.iter().rev().take(HOVER_BUILDS) {
            let result = build
                .steps
                .iter()
                .find(|s| s.instruction() == instruction)
                .map(|s| {
                    let mut r = s.label();
                    if let Some(c) = s.cause.as_ref().filter(|c| c.long() != c.short()) {
                        r = format!("{r} ({})", c.long());
                    }
                    if s.bytes > 0 {
                        r.push_str(&format!(", {} bytes of context", s.bytes));
                    }
                    r
                })
                .unwrap_or_else(|| "not in this build".to_string());
            out.push_str(&format!(
                "- {} ({}): {}\n",
                clock(build.ended),
                seconds(build.duration_ms),
                result
            ));
        }
        Some(out)
    }

    /// The code lens on the first line: the last build's summary.
    pub fn lens(&self, uri: &str) -> Option<CodeLens> {
        let docs = self.docs();
        let doc = docs.get(uri).filter(|d| !d.summary.is_empty())?;
        Some(CodeLens {
            range: Range::new(Position::new(0, 0), Position::new(0, 0)),
            command: Some(Command {
                title: doc.summary.clone(),
                // A label: clicking it does nothing.
                command: String::new(),
                arguments: None,
            }),
            data: None,
        })
    }
}

/// The end of the anchor's last line, in the client's encoding.
fn end_of(anchor: &Anchor, enc: Encoding) -> Position {
    let last = anchor.lines.last().map(String::as_str).unwrap_or_default();
    let width = match enc {
        Encoding::Utf16 => last.encode_utf16().count(),
        Encoding::Utf8 => last.len(),
    };
    Position::new(anchor.end_line() as u32, width as u32)
}

/// `HH:MM:SS UTC` of a Unix time.
fn clock(secs: u64) -> String {
    let s = secs % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::{explain, Observation, VertexRecord};

    const TEXT: &str = "FROM a\nRUN x\nRUN y\n";

    fn insight() -> BuildInsight {
        let obs = Observation {
            dockerfile: TEXT.into(),
            vertices: [
                "[1/3] FROM docker.io/library/a",
                "[2/3] RUN x",
                "[3/3] RUN y",
            ]
            .iter()
            .map(|n| VertexRecord {
                name: n.to_string(),
                cached: !n.ends_with('y'),
                duration: Some(std::time::Duration::from_millis(1500)),
                error: None,
            })
            .collect(),
            ok: true,
            ..Observation::default()
        };
        BuildInsight {
            key: Key {
                builder: "default".into(),
                dockerfile: "/w/Dockerfile".into(),
                target: None,
            },
            builds: vec![explain(&obs, None, 3600).0],
        }
    }

    #[test]
    fn hints_sit_at_line_ends_follow_edits_and_leave_edited_lines() {
        let i = Insights::default();
        let uri: Uri = "file:///w/Dockerfile".parse().unwrap();
        i.record(&uri, insight());
        let h = i.hints(uri.as_str(), TEXT, Encoding::Utf16, 0..=10);
        let at: Vec<(u32, u32, String)> = h
            .iter()
            .map(|h| match &h.label {
                InlayHintLabel::String(s) => (h.position.line, h.position.character, s.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            at,
            vec![
                (0, 6, "cached".to_string()),
                (1, 5, "cached".to_string()),
                (
                    2,
                    5,
                    "ran 1.5 s: unknown: the daemon did not keep a cache record".to_string()
                )
            ]
        );
        let moved = format!("# x\n{}", TEXT.replace("RUN x", "RUN z"));
        let h = i.hints(uri.as_str(), &moved, Encoding::Utf16, 0..=10);
        assert_eq!(
            h.iter().map(|h| h.position.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(i
            .hover(uri.as_str(), &moved, 3)
            .unwrap()
            .contains("01:00:00 UTC (0.00 s): ran 1.5 s"));
        assert_eq!(
            i.lens(uri.as_str()).unwrap().command.unwrap().title,
            "last build: 3 steps, 2 cached, 0.00 s"
        );
    }
}
