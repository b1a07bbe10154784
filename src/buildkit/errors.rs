//! Errors of the BuildKit layer, and the failed-solve error that carries what
//! BuildKit attaches to it: the Dockerfile source ranges of the failing
//! instruction (`errdefs.Source` in the gRPC status details), the failing
//! vertex (`errdefs.Vertex`), the exit code of the failing process, and the
//! last lines of that vertex's log (collected from the `Status` stream).

use std::fmt;

use bollard_buildkit_proto::google::protobuf::Any;
use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::pb;
use prost::Message;

use crate::driver::DriverError;

/// BuildKit's `errdefs.Source` (solver/errdefs/errdefs.proto): field 1 the
/// source file (`pb.SourceInfo`), field 2 the ranges.
#[derive(Clone, PartialEq, Message)]
pub struct ErrdefsSource {
    #[prost(message, optional, tag = "1")]
    pub info: Option<pb::SourceInfo>,
    #[prost(message, repeated, tag = "2")]
    pub ranges: Vec<pb::Range>,
}

/// BuildKit's `errdefs.Vertex`: field 1 the vertex digest.
#[derive(Clone, PartialEq, Message)]
pub struct ErrdefsVertex {
    #[prost(string, tag = "1")]
    pub digest: String,
}

/// A 1-based, inclusive line range in a source file, as BuildKit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub start: u32,
    pub end: u32,
}

/// The source of a failure: the file and the failing lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub filename: String,
    /// The file's content as BuildKit saw it (for the snippet).
    pub data: Vec<u8>,
    pub ranges: Vec<LineRange>,
}

impl SourceLocation {
    /// Converts BuildKit's ranges (1-based lines; 0 means unset).
    pub fn from_proto(info: Option<&pb::SourceInfo>, ranges: &[pb::Range]) -> SourceLocation {
        let ranges = ranges
            .iter()
            .filter_map(|r| {
                let start = r.start.map(|p| p.line).unwrap_or(0);
                let end = r.end.map(|p| p.line).unwrap_or(start);
                (start > 0).then(|| LineRange {
                    start: start as u32,
                    end: end.max(start) as u32,
                })
            })
            .collect();
        SourceLocation {
            filename: info.map(|i| i.filename.clone()).unwrap_or_default(),
            data: info.map(|i| i.data.clone()).unwrap_or_default(),
            ranges,
        }
    }
}

/// A solve that BuildKit ran and that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveFailure {
    /// BuildKit's message (`process "/bin/sh -c …" did not complete…`).
    pub message: String,
    /// The failing vertex's digest and name, when known.
    pub vertex: Option<String>,
    pub vertex_name: Option<String>,
    pub source: Option<SourceLocation>,
    pub exit_code: Option<i32>,
    /// The last lines the failing step printed.
    pub log_tail: Vec<String>,
}

impl fmt::Display for SolveFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to solve: {}", self.message)
    }
}

/// Errors of the BuildKit layer, the one error type of `crate::buildkit`
/// (file sync, file send and the walk included).
#[derive(Debug, thiserror::Error)]
pub enum BuildkitError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("cannot reach BuildKit at {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },
    #[error("BuildKit at {endpoint} failed {call}: {status_message} ({code:?}). {hint}")]
    Rpc {
        endpoint: String,
        call: &'static str,
        code: tonic::Code,
        status_message: String,
        hint: &'static str,
    },
    #[error("{0}")]
    Solve(Box<SolveFailure>),
    #[error("the build was cancelled")]
    Cancelled,
    #[error("the session with BuildKit failed: {0}")]
    Session(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    /// An OCI layout's `index.json` (local cache, layout export or context).
    #[error(transparent)]
    Layout(#[from] super::ocilayout::LayoutError),
    /// A `.dockerignore` pattern Docker refuses too (file sync).
    #[error("{file}: {error} (fix or remove the pattern; Docker refuses it too)")]
    Ignore {
        file: std::path::PathBuf,
        error: crate::dockerignore::PatternError,
    },
    #[error("build context {0} is not a directory")]
    NotADirectory(std::path::PathBuf),
    /// The file sync's receiver no longer wants entries (the stream was
    /// closed): the walk stops, which is not a failure of the build.
    #[error("file sync stopped by the receiver")]
    SyncStopped,
    /// Loading an exported tarball into the engine (`--load`).
    #[error("loading the image into the docker engine failed: {0}")]
    Load(String),
    #[error("the docker engine loaded nothing from the exported tarball")]
    LoadedNothing,
    /// An `--ssh` agent that cannot be served (buildx's `sshprovider` words).
    #[error("{0}")]
    Ssh(String),
}

impl BuildkitError {
    /// A file that cannot be read (`cannot read PATH: …`).
    pub fn unreadable(path: &std::path::Path, source: std::io::Error) -> BuildkitError {
        BuildkitError::Io {
            what: "cannot read",
            path: path.display().to_string(),
            source,
        }
    }
}

impl BuildkitError {
    /// Wraps a failed call, with a hint for the connection-level codes.
    pub fn rpc(endpoint: &str, call: &'static str, status: &tonic::Status) -> BuildkitError {
        let hint = match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown
                if is_connection_loss(status.message()) =>
            {
                "The connection to the daemon was lost: is it still running? Check the daemon's logs, then build again."
            }
            tonic::Code::Unavailable => "The daemon is not reachable: check that it is running.",
            tonic::Code::DeadlineExceeded => "The daemon did not answer in time.",
            tonic::Code::Unimplemented => "The daemon's BuildKit is too old for this call.",
            _ => "",
        };
        BuildkitError::Rpc {
            endpoint: endpoint.to_string(),
            call,
            code: status.code(),
            status_message: status.message().to_string(),
            hint,
        }
    }

    /// The failed solve, when this is one.
    pub fn failure(&self) -> Option<&SolveFailure> {
        match self {
            BuildkitError::Solve(f) => Some(f),
            _ => None,
        }
    }
}

fn is_connection_loss(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "broken pipe",
        "connection reset",
        "transport",
        "closed",
        "eof",
        "h2 protocol",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Decodes the failure BuildKit returned for a `Solve` (message, source,
/// vertex, exit code); the caller adds the vertex name and log tail.
pub fn decode_solve_status(status: &tonic::Status) -> SolveFailure {
    let mut failure = SolveFailure {
        message: status.message().to_string(),
        vertex: None,
        vertex_name: None,
        source: None,
        exit_code: exit_code_of(status.message()),
        log_tail: Vec::new(),
    };
    if let Ok(rpc) = RpcStatus::decode(status.details()) {
        for any in &rpc.details {
            apply_detail(&mut failure, any);
        }
    }
    failure
}

fn apply_detail(failure: &mut SolveFailure, any: &Any) {
    // Type URLs differ by BuildKit version ("errdefs.Source",
    // "type.googleapis.com/errdefs.Source", "…/errdefs.Source+json"), so
    // match the message name.
    let name = any
        .type_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches("+json");
    match name {
        "errdefs.Source" | "moby.buildkit.v1.errdefs.Source" => {
            if let Ok(src) = ErrdefsSource::decode(any.value.as_slice()) {
                // Several Source details nest (the frontend's and the
                // solver's); keep the first one that has ranges.
                let loc = SourceLocation::from_proto(src.info.as_ref(), &src.ranges);
                if failure.source.is_none() && !loc.ranges.is_empty() {
                    failure.source = Some(loc);
                }
            }
        }
        "errdefs.Vertex" | "moby.buildkit.v1.errdefs.Vertex" => {
            if let Ok(v) = ErrdefsVertex::decode(any.value.as_slice()) {
                if failure.vertex.is_none() && !v.digest.is_empty() {
                    failure.vertex = Some(v.digest);
                }
            }
        }
        _ => {}
    }
}

/// BuildKit's messages end with `exit code: N` for a failed process (both
/// `executor failed running [...]: exit code: 3` on older daemons and
/// `process "..." did not complete successfully: exit code: 3`).
pub fn exit_code_of(message: &str) -> Option<i32> {
    let idx = message.rfind("exit code: ")?;
    let rest = &message[idx + "exit code: ".len()..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// Finds the Dockerfile lines of a step from its vertex name, for daemons
/// that send no `errdefs.Source` (Docker Engine 20.10's BuildKit does not):
/// the name is `[stage i/n] INSTRUCTION args`, and the instruction's logical
/// line (continuations joined) matches it up to whitespace. The first match
/// wins; `None` when nothing matches.
pub fn locate_step(vertex_name: &str, filename: &str, text: &str) -> Option<SourceLocation> {
    let instruction = vertex_name
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .map(|(_, ins)| ins)?;
    let want = normalize(instruction);
    if want.is_empty() {
        return None;
    }
    let escape = escape_char(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut logical = String::new();
        loop {
            let line = lines[i];
            i += 1;
            // Comment lines inside a continuation are dropped, as the
            // Dockerfile parser does, and do not end it.
            if i - 1 > start && line.trim_start().starts_with('#') {
                if i >= lines.len() {
                    break;
                }
                continue;
            }
            let trimmed = line.trim_end();
            let continued = trimmed.ends_with(escape);
            logical.push_str(if continued {
                &trimmed[..trimmed.len() - escape.len_utf8()]
            } else {
                line
            });
            if !continued || i >= lines.len() {
                break;
            }
        }
        if normalize(&logical) == want {
            return Some(SourceLocation {
                filename: filename.to_string(),
                data: text.as_bytes().to_vec(),
                ranges: vec![LineRange {
                    start: start as u32 + 1,
                    end: i as u32,
                }],
            });
        }
    }
    None
}

fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        if let Some((k, v)) = directive.split_once('=') {
            if k.trim().eq_ignore_ascii_case("escape") && v.trim() == "`" {
                return '`';
            }
        }
    }
    '\\'
}

fn normalize(s: &str) -> String {
    let mut words = s.split_whitespace();
    let Some(first) = words.next() else {
        return String::new();
    };
    let mut out = first.to_ascii_uppercase();
    for w in words {
        out.push(' ');
        out.push_str(w);
    }
    out
}

/// Renders a failure as buildx prints it: the message, the failing step with
/// its log tail, and the Dockerfile snippet with the failing lines marked
/// `>>>`.
pub fn render_failure(failure: &SolveFailure) -> String {
    let mut out = format!("ERROR: {failure}\n");
    if let Some(name) = &failure.vertex_name {
        out.push_str("------\n");
        out.push_str(&format!(" > {name}:\n"));
        for line in &failure.log_tail {
            out.push_str(&format!("{line}\n"));
        }
        out.push_str("------\n");
    }
    if let Some(src) = &failure.source {
        out.push_str(&render_snippet(src));
    }
    out
}

/// The snippet: up to 4 lines of context around the ranges, numbered, the
/// failing lines marked.
pub fn render_snippet(src: &SourceLocation) -> String {
    let text = String::from_utf8_lossy(&src.data);
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = src.ranges.iter().map(|r| r.start).min() else {
        return String::new();
    };
    let last = src.ranges.iter().map(|r| r.end).max().unwrap_or(first);
    let name = if src.filename.is_empty() {
        "Dockerfile"
    } else {
        src.filename.as_str()
    };
    let mut out = if first == last {
        format!("{name}:{first}\n")
    } else {
        format!("{name}:{first}-{last}\n")
    };
    out.push_str("--------------------\n");
    let from = first.saturating_sub(4).max(1);
    let to = (last + 2).min(lines.len() as u32);
    for n in from..=to {
        let Some(line) = lines.get(n as usize - 1) else {
            break;
        };
        let marked = src.ranges.iter().any(|r| r.start <= n && n <= r.end);
        let mark = if marked { ">>>" } else { "   " };
        out.push_str(&format!(" {n:>3} | {mark} {line}\n"));
    }
    out.push_str("--------------------\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: i32) -> Option<pb::Position> {
        Some(pb::Position { line, character: 0 })
    }

    #[test]
    fn exit_codes_of_old_and_new_messages() {
        assert_eq!(
            exit_code_of("executor failed running [/bin/sh -c exit 3]: exit code: 3"),
            Some(3)
        );
        assert_eq!(
            exit_code_of(
                "process \"/bin/sh -c false\" did not complete successfully: exit code: 1"
            ),
            Some(1)
        );
        assert_eq!(exit_code_of("failed to compute cache key"), None);
    }

    #[test]
    fn status_details_give_source_and_vertex() {
        let src = ErrdefsSource {
            info: Some(pb::SourceInfo {
                filename: "Dockerfile".into(),
                data: b"FROM busybox:test\nRUN true\nRUN exit 7\n".to_vec(),
                definition: None,
                language: String::new(),
            }),
            ranges: vec![pb::Range {
                start: pos(3),
                end: pos(3),
            }],
        };
        let vertex = ErrdefsVertex {
            digest: "sha256:abc".into(),
        };
        let rpc = RpcStatus {
            code: 2,
            message: "boom".into(),
            details: vec![
                Any {
                    type_url: "errdefs.Vertex".into(),
                    value: vertex.encode_to_vec(),
                },
                Any {
                    type_url: "type.googleapis.com/errdefs.Source".into(),
                    value: src.encode_to_vec(),
                },
            ],
        };
        let status = tonic::Status::with_details(
            tonic::Code::Unknown,
            "executor failed running [/bin/sh -c exit 7]: exit code: 7",
            rpc.encode_to_vec().into(),
        );
        let f = decode_solve_status(&status);
        assert_eq!(f.exit_code, Some(7));
        assert_eq!(f.vertex.as_deref(), Some("sha256:abc"));
        let s = f.source.unwrap();
        assert_eq!(s.filename, "Dockerfile");
        assert_eq!(s.ranges, vec![LineRange { start: 3, end: 3 }]);
    }

    #[test]
    fn steps_are_located_by_their_vertex_name() {
        let text = "FROM busybox:test AS base\nRUN true\nrun echo x && \\\n  # note\n  exit 3\nRUN echo never\n";
        let loc = locate_step("[base 3/4] RUN echo x &&   exit 3", "Dockerfile", text).unwrap();
        assert_eq!(loc.ranges, vec![LineRange { start: 3, end: 5 }]);
        let loc = locate_step("[2/4] RUN true", "Dockerfile", text).unwrap();
        assert_eq!(loc.ranges, vec![LineRange { start: 2, end: 2 }]);
        assert_eq!(locate_step("[2/4] RUN false", "Dockerfile", text), None);
        assert_eq!(locate_step("exporting to image", "Dockerfile", text), None);
        let tick = "# escape=`\nFROM a\nRUN a `\n  b\n";
        let loc = locate_step("[2/2] RUN a   b", "Dockerfile", tick).unwrap();
        assert_eq!(loc.ranges, vec![LineRange { start: 3, end: 4 }]);
    }

    #[test]
    fn snippet_marks_the_failing_lines() {
        let src = SourceLocation {
            filename: "Dockerfile".into(),
            data: b"FROM a\nRUN one \\\n  two\nCMD x\n".to_vec(),
            ranges: vec![LineRange { start: 2, end: 3 }],
        };
        assert_eq!(
            render_snippet(&src),
            "Dockerfile:2-3\n--------------------\n   1 |     FROM a\n   2 | >>> RUN one \\\n   3 | >>>   two\n   4 |     CMD x\n--------------------\n"
        );
    }
}
