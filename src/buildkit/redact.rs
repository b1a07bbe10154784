//! Secret values never leave the build through its progress. BuildKit
//! masks nothing: a `RUN --mount=type=secret` step that prints its secret
//! (by mistake, or in a failing command's error output) sends the value in
//! the step's log like any other output. Every progress event of a build
//! passes through a [`Redactor`] before anyone sees it — the terminal
//! renderers (`plain`, `rawjson`), the editor's build log and
//! `window/logMessage`, the server's own log, and the log tail of a failure
//! diagnostic — and every known secret value in it is replaced by
//! [`MASK`].
//!
//! The known values are those of the build's `--secret`s (read when the
//! build starts, and again each time BuildKit fetches one, so what was sent
//! is what is masked) and the registry passwords the session hands out.
//! Besides the whole value (without its trailing whitespace, so the line
//! break printed after it stays), each line of a multi-line value that is at least [`MIN_LINE`] bytes long is
//! masked on its own, since a program often prints one line of a key file.
//! Step output arrives in chunks that may cut a value in two, so the end of
//! a chunk that could be the start of a value is held back until the next
//! chunk (or the end of the step) shows whether it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use memchr::memmem;

use super::progress::{ProgressEvent, VertexEvent};

/// What a secret value is replaced with.
pub const MASK: &str = "****";

/// Lines of a multi-line secret shorter than this are not masked on their
/// own (`-----END…` is longer; a line of `}` would mask every brace).
pub const MIN_LINE: usize = 6;

/// The secret values of one build, shared between the session services
/// that hand them out and the redactor.
#[derive(Debug, Clone, Default)]
pub struct SecretValues(Arc<Mutex<Vec<Vec<u8>>>>);

impl SecretValues {
    /// Adds a value (and its lines) to mask; empty values are ignored.
    pub fn add(&self, value: &[u8]) {
        let mut needles = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Without its trailing newline: the newline printed after it stays.
        let trimmed = match trim_end(value) {
            [] => value,
            t => t,
        };
        let mut new: Vec<&[u8]> = vec![trimmed];
        if trimmed.contains(&b'\n') {
            new.extend(
                trimmed
                    .split(|b| *b == b'\n')
                    .map(trim_end)
                    .filter(|l| l.len() >= MIN_LINE),
            );
        }
        for n in new {
            if !n.is_empty() && !needles.iter().any(|x| x == n) {
                needles.push(n.to_vec());
            }
        }
        // Longest first: a value that contains another is masked whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    fn needles(&self) -> Vec<Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `text` with every known value masked.
    pub fn mask_str(&self, text: &str) -> String {
        let needles = self.needles();
        if needles.is_empty() {
            return text.to_string();
        }
        String::from_utf8_lossy(&mask(text.as_bytes(), &needles)).into_owned()
    }
}

fn trim_end(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &v[..end]
}

/// Replaces every occurrence of each needle (longest first) with [`MASK`].
fn mask(data: &[u8], needles: &[Vec<u8>]) -> Vec<u8> {
    let mut out = data.to_vec();
    for n in needles {
        if memmem::find(&out, n).is_none() {
            continue;
        }
        let mut next = Vec::with_capacity(out.len());
        let mut at = 0;
        for i in memmem::find_iter(&out, n) {
            if i < at {
                continue;
            }
            next.extend_from_slice(&out[at..i]);
            next.extend_from_slice(MASK.as_bytes());
            at = i + n.len();
        }
        next.extend_from_slice(&out[at..]);
        out = next;
    }
    out
}

/// The length of the longest end of `data` that is the start (but not the
/// whole) of some needle: the bytes to hold back.
fn held_back(data: &[u8], needles: &[Vec<u8>]) -> usize {
    let mut keep = 0;
    for n in needles {
        let max = (n.len() - 1).min(data.len());
        for len in (keep + 1..=max).rev() {
            if data[data.len() - len..] == n[..len] {
                keep = len;
                break;
            }
        }
    }
    keep
}

/// Masks the progress events of one build (see the module docs).
#[derive(Debug, Default)]
pub struct Redactor {
    values: SecretValues,
    /// Log bytes held back per (vertex, stream).
    pending: HashMap<(String, i64), Vec<u8>>,
}

impl Redactor {
    pub fn new(values: SecretValues) -> Redactor {
        Redactor {
            values,
            pending: HashMap::new(),
        }
    }

    /// The events to pass on for `ev`: none (all held back), or the event
    /// masked, preceded by the held-back log of a vertex that just ended.
    pub fn redact(&mut self, ev: ProgressEvent) -> Vec<ProgressEvent> {
        let needles = self.values.needles();
        if needles.is_empty() && self.pending.is_empty() {
            return vec![ev];
        }
        let text = |s: &str| String::from_utf8_lossy(&mask(s.as_bytes(), &needles)).into_owned();
        match ev {
            ProgressEvent::Log {
                vertex,
                stream,
                data,
                at,
            } => {
                let key = (vertex, stream);
                let mut buf = self.pending.remove(&key).unwrap_or_default();
                buf.extend_from_slice(&data);
                let mut masked = mask(&buf, &needles);
                let keep = held_back(&masked, &needles);
                let rest = masked.split_off(masked.len() - keep);
                if !rest.is_empty() {
                    self.pending.insert(key.clone(), rest);
                }
                if masked.is_empty() {
                    return Vec::new();
                }
                vec![ProgressEvent::Log {
                    vertex: key.0,
                    stream: key.1,
                    data: masked,
                    at,
                }]
            }
            ProgressEvent::Vertex(v) => {
                let mut out = Vec::new();
                if v.completed.is_some() || v.error.is_some() {
                    out.extend(self.flush_vertex(&v.digest));
                }
                out.push(ProgressEvent::Vertex(VertexEvent {
                    name: text(&v.name),
                    error: v.error.as_deref().map(text),
                    ..v
                }));
                out
            }
            ProgressEvent::Status {
                vertex,
                id,
                name,
                current,
                total,
                completed,
            } => vec![ProgressEvent::Status {
                vertex,
                id: text(&id),
                name: text(&name),
                current,
                total,
                completed,
            }],
            ProgressEvent::Warning {
                vertex,
                level,
                message,
                detail,
                url,
                filename,
                ranges,
            } => vec![ProgressEvent::Warning {
                vertex,
                level,
                message: text(&message),
                detail: detail.iter().map(|d| text(d)).collect(),
                url,
                filename,
                ranges,
            }],
        }
    }

    /// The held-back log of one vertex (it ended: what is held back was not
    /// a secret after all).
    fn flush_vertex(&mut self, vertex: &str) -> Vec<ProgressEvent> {
        let keys: Vec<(String, i64)> = self
            .pending
            .keys()
            .filter(|(v, _)| v == vertex)
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let data = self.pending.remove(&k)?;
                Some(ProgressEvent::Log {
                    vertex: k.0,
                    stream: k.1,
                    data,
                    at: None,
                })
            })
            .collect()
    }

    /// Everything still held back (the build ended).
    pub fn flush(&mut self) -> Vec<ProgressEvent> {
        let keys: Vec<String> = self.pending.keys().map(|(v, _)| v.clone()).collect();
        keys.iter().flat_map(|v| self.flush_vertex(v)).collect()
    }

    /// Masks a text that is not an event (a failure's message).
    pub fn mask_str(&self, text: &str) -> String {
        self.values.mask_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(data: &str) -> ProgressEvent {
        ProgressEvent::Log {
            vertex: "v".into(),
            stream: 1,
            data: data.as_bytes().to_vec(),
            at: None,
        }
    }

    fn text(events: &[ProgressEvent]) -> String {
        events
            .iter()
            .map(|e| match e {
                ProgressEvent::Log { data, .. } => String::from_utf8_lossy(data).into_owned(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn a_value_split_across_chunks_is_masked() {
        let values = SecretValues::default();
        values.add(b"s3cr3t-value\n");
        let mut r = Redactor::new(values);
        let mut out = Vec::new();
        for chunk in [
            "the key is s3c",
            "r3t-va",
            "lue; s3cr3t",
            "-valu",
            "E done\n",
        ] {
            out.extend(r.redact(log(chunk)));
        }
        out.extend(r.flush());
        assert_eq!(text(&out), "the key is ****; s3cr3t-valuE done\n");
        // The newline after a value stays.
        assert_eq!(text(&r.redact(log("s3cr3t-value\nnext\n"))), "****\nnext\n");
    }

    #[test]
    fn held_back_text_comes_out_when_the_step_ends() {
        let values = SecretValues::default();
        values.add(b"abcdef");
        let mut r = Redactor::new(values);
        let mut out = r.redact(log("x abc"));
        assert_eq!(text(&out), "x ");
        out = r.redact(ProgressEvent::Vertex(VertexEvent {
            digest: "v".into(),
            name: "RUN echo abcdef".into(),
            cached: false,
            started: None,
            completed: Some(std::time::SystemTime::now()),
            error: Some("exit code: 1 abcdef".into()),
        }));
        assert_eq!(text(&out), "abc");
        match &out[1] {
            ProgressEvent::Vertex(v) => {
                assert_eq!(v.name, "RUN echo ****");
                assert_eq!(v.error.as_deref(), Some("exit code: 1 ****"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lines_of_a_multi_line_value_are_masked_on_their_own() {
        let values = SecretValues::default();
        values.add(b"-----BEGIN KEY-----\nMIIEabcdefgh\nxy\n-----END KEY-----\n");
        assert_eq!(
            values.mask_str("line MIIEabcdefgh and xy"),
            "line **** and xy"
        );
        // Without secrets, events pass untouched.
        let mut r = Redactor::default();
        assert_eq!(r.redact(log("abc")), vec![log("abc")]);
    }
}
