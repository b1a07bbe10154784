//! Typing benchmark (run with `cargo bench --bench typing`): what a user
//! sees while typing, for this server and the Node server
//! (`docker-langserver --stdio`, npm `dockerfile-language-server-nodejs`)
//! in the same run, both at their default settings.
//!
//! For a 5,000-line and a 60-line Dockerfile (generated like the shared
//! harness's `lsp_bench.py`: multi-stage, heredocs, continuations, planted
//! check findings), each server gets 300 single-character incremental
//! `didChange`s at 10 per second, typed into an `ENV` value in the middle
//! of the file. Reported per server and file: median and p95 from the
//! keystroke to the first `publishDiagnostics` that reflects it (a publish
//! whose version is at least the keystroke's; a server that sends no
//! versions is matched with the first publish after the keystroke), how
//! many publishes came, and the server's CPU seconds over the typing
//! (`/proc/PID/stat`, the process and its children), also as a share of one
//! core. Then `textDocument/documentSymbol` on the 5,000-line file, 50
//! times.
//!
//! The Node server is found through `NODE_DOCKER_LANGSERVER` (the path of
//! `docker-langserver`); without it only this server is measured.
//! `BUILDKIT_LSP` overrides the path of our server (default: the binary
//! this bench was built with). `TYPING_KEYS` changes the 300 keystrokes.
//! Not a test: it prints a table and one JSON line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Keystrokes per second.
const RATE: f64 = 10.0;
/// How long to wait for one answer: the Node server falls far behind
/// while typing into 5,000 lines.
const WAIT: Duration = Duration::from_secs(180);

// ------------------------------------------------------------------ input

/// A repeatable block of stage `i`, like `lsp_bench.py`'s `_body_blocks`.
fn block(name: &str, k: usize) -> Vec<String> {
    match k % 7 {
        0 => vec![
            "RUN apt-get update \\".into(),
            " && apt-get install -y --no-install-recommends \\".into(),
            "      ca-certificates curl git make \\".into(),
            "      build-essential pkg-config \\".into(),
            " && rm -rf /var/lib/apt/lists/*".into(),
        ],
        1 => vec![
            "RUN <<EOF".into(),
            "set -eux".into(),
            format!("echo \"building {name} part {k}\""),
            format!("mkdir -p /out/{name}/{k}"),
            format!("touch /out/{name}/{k}/.keep"),
            "EOF".into(),
        ],
        2 => vec![
            "RUN --mount=type=cache,target=/root/.cache \\".into(),
            "    --mount=type=bind,source=.,target=/src,ro \\".into(),
            format!("    go build -trimpath -o /out/{name}/bin{k} ./cmd/tool{k}"),
        ],
        3 => vec![
            format!("# step {k} of {name}: copy sources"),
            format!("COPY --chown=app:app src/{name}/ /src/{name}/"),
        ],
        4 => vec![format!("ENV {}_OPT{k}=value{k}", name.to_uppercase())],
        5 => vec![
            "COPY <<EOF /etc/app.conf".into(),
            format!("stage = {name}"),
            format!("part = {k}"),
            "EOF".into(),
        ],
        _ => vec![
            format!("LABEL com.example.{name}.part{k}=\"{k}\" \\"),
            format!("      com.example.{name}.built=\"true\""),
        ],
    }
}

/// A multi-stage Dockerfile of exactly `n` lines (at least 30), and the
/// `(line, column)` where typing goes: the end of an `ENV` line in the
/// middle stage.
fn dockerfile(n: usize) -> (String, (u32, u32)) {
    let n = n.max(30);
    let mut out: Vec<String> = [
        "# syntax=docker/dockerfile:1.7",
        "ARG BASE_IMAGE=debian:bookworm-slim",
        "ARG GO_VERSION=1.22",
        "ARG APP_VERSION=0.0.0",
        "",
    ]
    .map(String::from)
    .to_vec();
    let stages = ((n - out.len()) / 100).max(2);
    let per = (n - out.len()) / stages;
    let bases = [
        "golang:${GO_VERSION}-bookworm",
        "${BASE_IMAGE}",
        "alpine:3.20",
    ];
    let mut edits = Vec::new();
    let mut prev: Option<String> = None;
    for i in 0..stages {
        let last = i == stages - 1;
        let start = out.len();
        let budget = if last { n - out.len() } else { per };
        let name = if last {
            "final".to_string()
        } else {
            format!("stage{i}")
        };
        out.push(format!("FROM {} AS {name}", bases[i % bases.len()]));
        out.push("ARG TARGETARCH".into());
        edits.push(out.len());
        out.push(format!("ENV STAGE{i}_REV="));
        out.push("ENV LANG=C.UTF-8 \\".into());
        out.push("    PATH=/opt/app/bin:$PATH".into());
        out.push(format!("WORKDIR /src/{name}"));
        if let Some(p) = &prev {
            out.push(format!("COPY --from={p} /out/ /opt/{p}/"));
        }
        // Planted findings: a deprecated MAINTAINER, a relative WORKDIR.
        out.push("MAINTAINER Jane Doe <jane@example.com>".into());
        out.push("WORKDIR relative/dir".into());
        let tail = usize::from(last);
        let mut k = 0;
        loop {
            let b = block(&name, k);
            if out.len() - start + b.len() + tail > budget {
                break;
            }
            out.extend(b);
            k += 1;
        }
        while out.len() - start + tail < budget {
            out.push(format!("# padding {}", out.len()));
        }
        if last {
            out.push("CMD [\"/opt/app/bin/app\", \"--serve\"]".into());
        }
        prev = Some(name);
    }
    out.truncate(n);
    let line = edits[edits.len() / 2];
    let col = out[line].len() as u32;
    (out.join("\n") + "\n", (line as u32, col))
}

// ------------------------------------------------------------------ client

#[derive(Default)]
struct Inbox {
    responses: HashMap<i64, (Instant, Value)>,
    /// Per URI: (received, version) of every publishDiagnostics.
    publishes: HashMap<String, Vec<(Instant, Option<i64>)>>,
    closed: bool,
}

/// A language server over stdio; a reader thread timestamps every message
/// as it arrives and answers the server's requests at once.
struct Server {
    child: Child,
    stdin: Arc<Mutex<ChildStdin>>,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    next_id: i64,
}

fn frame(msg: &Value) -> Vec<u8> {
    let body = msg.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// One message and when its last byte was read (before it is decoded, so
/// the client's own JSON decoding is not counted).
fn read_frame(r: &mut impl BufRead) -> Option<(Instant, Value)> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if len.is_some() {
                break;
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    let t = Instant::now();
    Some((t, serde_json::from_slice(&body).ok()?))
}

impl Server {
    fn spawn(cmd: &[String]) -> Server {
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmd[0]));
        let stdin = Arc::new(Mutex::new(child.stdin.take().expect("stdin")));
        let stdout = child.stdout.take().expect("stdout");
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        {
            let inbox = Arc::clone(&inbox);
            let stdin = Arc::clone(&stdin);
            thread::spawn(move || {
                let mut r = BufReader::new(stdout);
                while let Some((t, m)) = read_frame(&mut r) {
                    let method = m.get("method").and_then(Value::as_str);
                    if let (Some(method), Some(id)) = (method, m.get("id")) {
                        let result = match method {
                            "workspace/configuration" => {
                                let n = m["params"]["items"].as_array().map_or(0, Vec::len);
                                Value::Array(vec![Value::Null; n])
                            }
                            _ => Value::Null,
                        };
                        let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
                        let _ = stdin.lock().unwrap().write_all(&frame(&reply));
                        continue;
                    }
                    let (lock, cv) = &*inbox;
                    let mut inbox = lock.lock().unwrap();
                    match method {
                        Some("textDocument/publishDiagnostics") => {
                            let p = &m["params"];
                            let uri = p["uri"].as_str().unwrap_or_default().to_string();
                            inbox
                                .publishes
                                .entry(uri)
                                .or_default()
                                .push((t, p["version"].as_i64()));
                        }
                        Some(_) => {}
                        None => {
                            if let Some(id) = m["id"].as_i64() {
                                inbox.responses.insert(id, (t, m));
                            }
                        }
                    }
                    cv.notify_all();
                }
                let (lock, cv) = &*inbox;
                lock.lock().unwrap().closed = true;
                cv.notify_all();
            });
        }
        Server {
            child,
            stdin,
            inbox,
            next_id: 0,
        }
    }

    fn send(&self, msg: &Value) {
        let mut s = self.stdin.lock().unwrap();
        s.write_all(&frame(msg)).expect("write to the server");
        s.flush().expect("flush");
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn wait<T>(&self, mut pred: impl FnMut(&Inbox) -> Option<T>) -> Option<T> {
        let end = Instant::now() + WAIT;
        let (lock, cv) = &*self.inbox;
        let mut inbox = lock.lock().unwrap();
        loop {
            if let Some(v) = pred(&inbox) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= end || inbox.closed {
                return None;
            }
            inbox = cv.wait_timeout(inbox, end - now).unwrap().0;
        }
    }

    /// Sends a request; returns its round trip.
    fn request(&mut self, method: &str, params: Value) -> Duration {
        self.next_id += 1;
        let id = self.next_id;
        let t0 = Instant::now();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let (t, m) = self
            .wait(|i| i.responses.get(&id).cloned())
            .unwrap_or_else(|| panic!("no response to {method}"));
        assert!(m.get("error").is_none(), "{method} failed: {m}");
        t - t0
    }

    fn publishes(&self, uri: &str) -> Vec<(Instant, Option<i64>)> {
        let inbox = self.inbox.0.lock().unwrap();
        inbox.publishes.get(uri).cloned().unwrap_or_default()
    }

    /// Waits for a publish for `uri` after the first `skip` ones.
    fn wait_publish(&self, uri: &str, skip: usize) -> bool {
        self.wait(|i| (i.publishes.get(uri).map_or(0, Vec::len) > skip).then_some(()))
            .is_some()
    }

    /// User plus system CPU seconds of the server and its children.
    fn cpu_seconds(&self) -> f64 {
        let tick = 100.0; // USER_HZ on Linux
        let mut total = 0u64;
        let mut todo = vec![self.child.id()];
        while let Some(pid) = todo.pop() {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 2)..]
                .split_whitespace()
                .collect();
            total += fields
                .get(11)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            total += fields
                .get(12)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
                todo.extend(
                    kids.split_whitespace()
                        .filter_map(|k| k.parse::<u32>().ok()),
                );
            }
        }
        total as f64 / tick
    }

    fn close(mut self) {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ runs

struct Typing {
    lines: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    keys: usize,
    publishes: usize,
    unanswered: usize,
    cpu_s: f64,
    wall_s: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn start(cmd: &[String], root: &str) -> Server {
    let mut s = Server::spawn(cmd);
    s.request(
        "initialize",
        json!({"processId": std::process::id(), "rootUri": root,
               "workspaceFolders": [{"uri": root, "name": "bench"}],
               "capabilities": {
                   "general": {"positionEncodings": ["utf-16"]},
                   "workspace": {"configuration": true, "workspaceFolders": true},
                   "textDocument": {
                       "synchronization": {"didSave": true},
                       "publishDiagnostics": {"versionSupport": true},
                       "documentSymbol": {"hierarchicalDocumentSymbolSupport": true}}}}),
    );
    s.notify("initialized", json!({}));
    s
}

/// Opens `text` and types `keys` characters at `at`, one `didChange` each,
/// at [`RATE`] per second.
fn type_into(s: &Server, uri: &str, text: &str, at: (u32, u32), keys: usize) -> Typing {
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "dockerfile", "version": 1, "text": text}}),
    );
    assert!(s.wait_publish(uri, 0), "no diagnostics after didOpen");
    thread::sleep(Duration::from_millis(500));
    let skip = s.publishes(uri).len();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let period = Duration::from_secs_f64(1.0 / RATE);
    let mut sent = Vec::with_capacity(keys);
    let cpu0 = s.cpu_seconds();
    let t_start = Instant::now();
    for k in 0..keys {
        let due = t_start + period.mul_f64(k as f64);
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            thread::sleep(d);
        }
        let version = k as i64 + 2;
        let col = at.1 + k as u32;
        let ch = alphabet[k % alphabet.len()] as char;
        let t = Instant::now();
        s.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": {"start": {"line": at.0, "character": col},
                                                 "end": {"line": at.0, "character": col}},
                                       "text": ch.to_string()}]}),
        );
        sent.push((t, version));
    }
    // The last keystroke's publish, then a quiet second for stragglers.
    let last = keys as i64 + 1;
    s.wait(|i| {
        i.publishes
            .get(uri)
            .and_then(|p| {
                p.iter()
                    .skip(skip)
                    .find(|(_, v)| v.is_none_or(|v| v >= last))
            })
            .map(|_| ())
    });
    let wall_s = t_start.elapsed().as_secs_f64();
    let cpu_s = s.cpu_seconds() - cpu0;
    thread::sleep(Duration::from_secs(1));
    let pubs: Vec<_> = s.publishes(uri).into_iter().skip(skip).collect();
    let mut lat = Vec::new();
    for (t, v) in &sent {
        let hit = pubs.iter().find(|(tp, pv)| match pv {
            Some(pv) => pv >= v,
            None => tp > t,
        });
        if let Some((tp, _)) = hit {
            lat.push(tp.duration_since(*t).as_secs_f64() * 1000.0);
        }
    }
    let unanswered = keys - lat.len();
    lat.sort_by(f64::total_cmp);
    Typing {
        lines: text.lines().count(),
        median_ms: percentile(&lat, 0.5),
        p95_ms: percentile(&lat, 0.95),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
        keys,
        publishes: pubs.len(),
        unanswered,
        cpu_s,
        wall_s,
    }
}

/// `documentSymbol` round trips on an open document, 50 times.
fn symbols(s: &mut Server, uri: &str) -> (f64, f64) {
    let mut xs: Vec<f64> = (0..50)
        .map(|_| {
            let d = s.request(
                "textDocument/documentSymbol",
                json!({"textDocument": {"uri": uri}}),
            );
            d.as_secs_f64() * 1000.0
        })
        .collect();
    xs.sort_by(f64::total_cmp);
    (percentile(&xs, 0.5), percentile(&xs, 0.95))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let ours = std::env::var("BUILDKIT_LSP")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_buildkit-lsp").to_string());
    let mut servers = vec![("buildkit-lsp", vec![ours, "serve".to_string()])];
    match std::env::var("NODE_DOCKER_LANGSERVER") {
        Ok(node) if std::path::Path::new(&node).exists() => {
            servers.push(("docker-langserver", vec![node, "--stdio".to_string()]));
        }
        Ok(node) => eprintln!(
            "NODE_DOCKER_LANGSERVER={node} does not exist: the Node server is not measured"
        ),
        Err(_) => eprintln!(
            "NODE_DOCKER_LANGSERVER is not set: the Node server is not measured. Install it \
             outside the repository (npm i --prefix DIR dockerfile-language-server-nodejs@0.15.0) \
             and set NODE_DOCKER_LANGSERVER=DIR/node_modules/.bin/docker-langserver"
        ),
    }
    let keys: usize = std::env::var("TYPING_KEYS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(300);
    let root = format!("file:///tmp/typing-bench-{}", std::process::id());
    let load_before = load_average();
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for lines in [5000, 60] {
        let (text, at) = dockerfile(lines);
        for (name, cmd) in &servers {
            let mut s = start(cmd, &root);
            let uri = format!("{root}/l{lines}/Dockerfile");
            let t = type_into(&s, &uri, &text, at, keys);
            let sym = (lines == 5000).then(|| symbols(&mut s, &uri));
            s.close();
            let cpu_pct = 100.0 * t.cpu_s / t.wall_s;
            rows.push(format!(
                "{name:<18} {:>5} lines  keystroke→publish median {:6.2} ms  p95 {:6.2} ms  max {:7.2} ms  \
                 publishes {:>3}/{} (unanswered {})  CPU {:5.2} s = {:4.1} % of a core{}",
                t.lines,
                t.median_ms,
                t.p95_ms,
                t.max_ms,
                t.publishes,
                t.keys,
                t.unanswered,
                t.cpu_s,
                cpu_pct,
                sym.map_or(String::new(), |(m, p)| format!(
                    "  documentSymbol median {m:.2} ms p95 {p:.2} ms"
                )),
            ));
            json_rows.push(json!({
                "server": name, "lines": t.lines, "keys": t.keys,
                "median_ms": t.median_ms, "p95_ms": t.p95_ms, "max_ms": t.max_ms,
                "publishes": t.publishes, "unanswered": t.unanswered,
                "cpu_s": t.cpu_s, "cpu_pct": cpu_pct,
                "document_symbol_ms": sym.map(|(m, p)| json!({"median": m, "p95": p})),
            }));
        }
    }
    println!(
        "typing {keys} characters at {RATE}/s (load average before: {load_before}, after: {})",
        load_average()
    );
    for r in &rows {
        println!("  {r}");
    }
    println!(
        "{}",
        json!({"load_before": load_before, "load_after": load_average(), "runs": json_rows})
    );
}
