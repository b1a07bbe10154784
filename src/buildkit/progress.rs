//! Progress of a solve: BuildKit's `StatusResponse` stream decoded into typed
//! events any front end can render (the terminal here, LSP work-done progress
//! in the editor), and the terminal renderers: buildx's `--progress=plain`,
//! `rawjson` (one JSON object per line) and `quiet`.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use serde::Serialize;

use super::errors::{LineRange, SourceLocation};

/// One thing that happened during a solve.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A vertex (build step) changed state.
    Vertex(VertexEvent),
    /// A sub-task of a vertex progressed (a transfer, a layer).
    Status {
        vertex: String,
        id: String,
        name: String,
        current: i64,
        total: i64,
        completed: bool,
    },
    /// Output of a vertex's process.
    Log {
        vertex: String,
        /// 1 stdout, 2 stderr.
        stream: i64,
        #[serde(serialize_with = "lossy")]
        data: Vec<u8>,
        #[serde(skip)]
        at: Option<SystemTime>,
    },
    /// A build-check warning, possibly with a source range.
    Warning {
        vertex: String,
        level: i64,
        message: String,
        detail: Vec<String>,
        url: String,
        filename: Option<String>,
        ranges: Vec<(u32, u32)>,
    },
}

fn lossy<S: serde::Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(data))
}

/// A vertex's state at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VertexEvent {
    pub digest: String,
    pub name: String,
    pub cached: bool,
    #[serde(serialize_with = "opt_time")]
    pub started: Option<SystemTime>,
    #[serde(serialize_with = "opt_time")]
    pub completed: Option<SystemTime>,
    pub error: Option<String>,
}

fn opt_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl VertexEvent {
    /// How long the vertex ran, once completed.
    pub fn duration(&self) -> Option<Duration> {
        self.completed?.duration_since(self.started?).ok()
    }
}

fn time(ts: &Option<Timestamp>) -> Option<SystemTime> {
    let ts = ts.as_ref()?;
    if ts.seconds < 0 || ts.nanos < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(ts.seconds as u64, ts.nanos as u32))
}

/// Decodes one `StatusResponse` into events, in BuildKit's order (vertexes,
/// statuses, logs, warnings).
pub fn decode(resp: &StatusResponse) -> Vec<ProgressEvent> {
    let mut out = Vec::new();
    for v in &resp.vertexes {
        out.push(ProgressEvent::Vertex(VertexEvent {
            digest: v.digest.clone(),
            name: v.name.clone(),
            cached: v.cached,
            started: time(&v.started),
            completed: time(&v.completed),
            error: (!v.error.is_empty()).then(|| v.error.clone()),
        }));
    }
    for s in &resp.statuses {
        out.push(ProgressEvent::Status {
            vertex: s.vertex.clone(),
            id: s.id.clone(),
            name: s.name.clone(),
            current: s.current,
            total: s.total,
            completed: s.completed.is_some(),
        });
    }
    for l in &resp.logs {
        out.push(ProgressEvent::Log {
            vertex: l.vertex.clone(),
            stream: l.stream,
            data: l.msg.clone(),
            at: time(&l.timestamp),
        });
    }
    for w in &resp.warnings {
        let loc = SourceLocation::from_proto(w.info.as_ref(), &w.ranges);
        out.push(ProgressEvent::Warning {
            vertex: w.vertex.clone(),
            level: w.level,
            message: String::from_utf8_lossy(&w.short).into_owned(),
            detail: w
                .detail
                .iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect(),
            url: w.url.clone(),
            filename: (!loc.filename.is_empty()).then_some(loc.filename),
            ranges: loc
                .ranges
                .iter()
                .map(|LineRange { start, end }| (*start, *end))
                .collect(),
        });
    }
    out
}

/// How to show progress in a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Plain,
    RawJson,
    Quiet,
}

impl std::str::FromStr for ProgressMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" | "auto" | "tty" => Ok(ProgressMode::Plain),
            "rawjson" => Ok(ProgressMode::RawJson),
            "quiet" => Ok(ProgressMode::Quiet),
            other => Err(format!(
                "unknown progress mode {other:?} (expected plain, rawjson or quiet)"
            )),
        }
    }
}

#[derive(Debug, Default)]
struct VertexState {
    index: usize,
    name: String,
    started: Option<SystemTime>,
    done: bool,
    /// A partial log line waiting for its newline.
    partial: Vec<u8>,
    /// Sub-task ids already reported done (BuildKit repeats them).
    statuses_done: std::collections::HashSet<String>,
}

/// buildx's plain renderer: `#N [stage 2/3] RUN …`, log lines prefixed with
/// the seconds since the step started, `#N DONE 0.3s`, `#N CACHED`,
/// `#N ERROR: …`.
#[derive(Debug, Default)]
pub struct PlainRenderer {
    vertices: HashMap<String, VertexState>,
    next: usize,
}

impl PlainRenderer {
    pub fn new() -> PlainRenderer {
        PlainRenderer::default()
    }

    fn state(&mut self, digest: &str) -> &mut VertexState {
        let next = &mut self.next;
        self.vertices.entry(digest.to_string()).or_insert_with(|| {
            *next += 1;
            VertexState {
                index: *next,
                ..VertexState::default()
            }
        })
    }

    /// Renders one event into text (possibly empty).
    pub fn render(&mut self, event: &ProgressEvent) -> String {
        let mut out = String::new();
        match event {
            ProgressEvent::Vertex(v) => {
                let st = self.state(&v.digest);
                if st.done {
                    return out;
                }
                let n = st.index;
                let announce = st.name.is_empty() || (st.started.is_none() && v.started.is_some());
                if st.name.is_empty() {
                    st.name = v.name.clone();
                }
                if v.cached {
                    out.push_str(&format!("#{n} {}\n#{n} CACHED\n\n", v.name));
                    st.done = true;
                    return out;
                }
                if announce && v.started.is_some() && st.started.is_none() {
                    out.push_str(&format!("#{n} {}\n", v.name));
                }
                if v.started.is_some() {
                    st.started = v.started;
                }
                if let Some(err) = &v.error {
                    let line = flush_partial(n, st);
                    out.push_str(&line);
                    out.push_str(&format!("#{n} ERROR: {err}\n\n"));
                    st.done = true;
                } else if v.completed.is_some() {
                    let line = flush_partial(n, st);
                    out.push_str(&line);
                    let secs = v.duration().map(|d| d.as_secs_f64()).unwrap_or(0.0);
                    out.push_str(&format!("#{n} DONE {secs:.1}s\n\n"));
                    st.done = true;
                }
            }
            ProgressEvent::Status {
                vertex,
                id,
                name,
                current,
                total,
                completed,
            } if *completed => {
                let st = self.state(vertex);
                if !st.statuses_done.insert(id.clone()) {
                    return out;
                }
                let n = st.index;
                let name = if name.is_empty() { id } else { name };
                let amount = if *total > 0 {
                    format!("{} / {}", bytes(*current), bytes(*total))
                } else if *current > 0 {
                    bytes(*current)
                } else {
                    String::new()
                };
                let sep = if amount.is_empty() { "" } else { " " };
                out.push_str(&format!("#{n} {name}{sep}{amount} done\n"));
            }
            ProgressEvent::Status { .. } => {}
            ProgressEvent::Log {
                vertex, data, at, ..
            } => {
                let st = self.state(vertex);
                let n = st.index;
                let offset = match (at, st.started) {
                    (Some(at), Some(s)) => at.duration_since(s).unwrap_or_default().as_secs_f64(),
                    _ => 0.0,
                };
                st.partial.extend_from_slice(data);
                while let Some(pos) = st.partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = st.partial.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    out.push_str(&format!("#{n} {offset:.3} {text}\n"));
                }
            }
            ProgressEvent::Warning {
                message,
                filename,
                ranges,
                ..
            } => {
                let at = match (filename, ranges.first()) {
                    (Some(f), Some((s, _))) => format!(" ({f}:{s})"),
                    _ => String::new(),
                };
                out.push_str(&format!("WARNING: {message}{at}\n"));
            }
        }
        out
    }

    /// Renders into a writer, ignoring write errors of a closed terminal.
    pub fn write(&mut self, event: &ProgressEvent, w: &mut impl Write) {
        let text = self.render(event);
        if !text.is_empty() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }
}

fn flush_partial(n: usize, st: &mut VertexState) -> String {
    if st.partial.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&st.partial).into_owned();
    st.partial.clear();
    format!("#{n} {text}\n")
}

fn bytes(n: i64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}kB", n / 1000.0)
    } else {
        format!("{:.2}MB", n / 1_000_000.0)
    }
}

/// One JSON object per line, for `--progress=rawjson`.
pub fn render_json(event: &ProgressEvent) -> String {
    let mut s = serde_json::to_string(event).unwrap_or_default();
    s.push('\n');
    s
}

/// Logs kept per vertex, so a failure can show the last lines of its step.
#[derive(Debug, Default)]
pub struct LogTail {
    logs: HashMap<String, Vec<u8>>,
    names: HashMap<String, String>,
}

impl LogTail {
    /// Maximum bytes kept per vertex.
    const KEEP: usize = 64 * 1024;

    pub fn observe(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Log { vertex, data, .. } => {
                let buf = self.logs.entry(vertex.clone()).or_default();
                buf.extend_from_slice(data);
                if buf.len() > Self::KEEP {
                    let cut = buf.len() - Self::KEEP;
                    buf.drain(..cut);
                }
            }
            ProgressEvent::Vertex(v) if !v.name.is_empty() => {
                self.names.insert(v.digest.clone(), v.name.clone());
            }
            _ => {}
        }
    }

    /// The name of a vertex.
    pub fn name(&self, vertex: &str) -> Option<&str> {
        self.names.get(vertex).map(String::as_str)
    }

    /// The last `n` lines a vertex printed.
    pub fn tail(&self, vertex: &str, n: usize) -> Vec<String> {
        let Some(buf) = self.logs.get(vertex) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(buf);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis))
    }

    fn vertex(started: Option<SystemTime>, completed: Option<SystemTime>) -> ProgressEvent {
        ProgressEvent::Vertex(VertexEvent {
            digest: "sha256:a".into(),
            name: "[2/2] RUN echo hi".into(),
            cached: false,
            started,
            completed,
            error: None,
        })
    }

    #[test]
    fn plain_renders_like_buildx() {
        let mut r = PlainRenderer::new();
        assert_eq!(r.render(&vertex(at(10, 0), None)), "#1 [2/2] RUN echo hi\n");
        let log = ProgressEvent::Log {
            vertex: "sha256:a".into(),
            stream: 1,
            data: b"hi\nthere".to_vec(),
            at: at(10, 215),
        };
        assert_eq!(r.render(&log), "#1 0.215 hi\n");
        assert_eq!(
            r.render(&vertex(at(10, 0), at(10, 340))),
            "#1 there\n#1 DONE 0.3s\n\n"
        );
        // A later duplicate update is not printed again.
        assert_eq!(r.render(&vertex(at(10, 0), at(10, 340))), "");
    }

    #[test]
    fn completed_statuses_print_once_with_their_id_as_fallback_name() {
        let mut r = PlainRenderer::new();
        let st = |name: &str| ProgressEvent::Status {
            vertex: "v".into(),
            id: "exporting layers".into(),
            name: name.into(),
            current: 0,
            total: 0,
            completed: true,
        };
        assert_eq!(r.render(&st("")), "#1 exporting layers done\n");
        assert_eq!(r.render(&st("")), "");
        let transfer = ProgressEvent::Status {
            vertex: "v".into(),
            id: "t".into(),
            name: "transferring context:".into(),
            current: 2048,
            total: 0,
            completed: true,
        };
        assert_eq!(
            r.render(&transfer),
            "#1 transferring context: 2.05kB done\n"
        );
    }

    #[test]
    fn cached_and_errored_vertices() {
        let mut r = PlainRenderer::new();
        let cached = ProgressEvent::Vertex(VertexEvent {
            digest: "d1".into(),
            name: "[1/2] FROM busybox:test".into(),
            cached: true,
            started: at(1, 0),
            completed: at(1, 0),
            error: None,
        });
        assert_eq!(
            r.render(&cached),
            "#1 [1/2] FROM busybox:test\n#1 CACHED\n\n"
        );
        let failed = ProgressEvent::Vertex(VertexEvent {
            digest: "d2".into(),
            name: "[2/2] RUN exit 3".into(),
            cached: false,
            started: at(2, 0),
            completed: at(2, 500),
            error: Some("exit code: 3".into()),
        });
        assert_eq!(
            r.render(&failed),
            "#2 [2/2] RUN exit 3\n#2 ERROR: exit code: 3\n\n"
        );
    }

    #[test]
    fn log_tail_keeps_last_lines() {
        let mut t = LogTail::default();
        for i in 0..5 {
            t.observe(&ProgressEvent::Log {
                vertex: "v".into(),
                stream: 1,
                data: format!("line {i}\n").into_bytes(),
                at: None,
            });
        }
        assert_eq!(t.tail("v", 2), vec!["line 3", "line 4"]);
        assert!(t.tail("other", 2).is_empty());
    }

    #[test]
    fn rawjson_is_one_object_per_line() {
        let ev = ProgressEvent::Log {
            vertex: "v".into(),
            stream: 2,
            data: b"oops".to_vec(),
            at: None,
        };
        assert_eq!(
            render_json(&ev),
            "{\"event\":\"log\",\"vertex\":\"v\",\"stream\":2,\"data\":\"oops\"}\n"
        );
    }
}
