//! A small JSON-RPC client for protocol tests: spawns the real
//! `buildkit-lsp` binary, frames messages with `Content-Length`, answers the
//! server's own requests (`workspace/configuration` with a settable value,
//! everything else with `null`), and collects notifications.

#![allow(dead_code)]

mod wait;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Inbox {
    responses: Vec<Value>,
    notifications: Vec<Value>,
    /// Requests the server sent us, in order (method, params).
    server_requests: Vec<(String, Value)>,
    closed: bool,
}

pub struct Lsp {
    child: Child,
    stdin: Arc<Mutex<ChildStdin>>,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    next_id: i64,
    /// What `workspace/configuration` returns for the `buildkit` section.
    pub configuration: Arc<Mutex<Value>>,
    /// When false, `workspace/configuration` requests are recorded but never
    /// answered (to keep a server request pending).
    pub answer_configuration: Arc<AtomicBool>,
    /// What `window/showMessageRequest` returns: a title to pick among the
    /// offered actions (`Value::String`), or `null` (dismissed).
    pub message_action: Arc<Mutex<Value>>,
}

/// Frames one message.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Lsp {
    /// Spawns `buildkit-lsp` with `args` (none: the default serve mode).
    pub fn spawn(args: &[&str]) -> Lsp {
        Lsp::spawn_env(args, &[])
    }

    /// Spawns with extra environment variables (e.g. a temporary
    /// `DOCKER_CONFIG`/`BUILDX_CONFIG` builder store).
    pub fn spawn_env(args: &[&str], envs: &[(&str, String)]) -> Lsp {
        Lsp::spawn_with(args, envs, "debug", Stdio::null())
    }

    /// Spawns with the server's own log at `level` going to `stderr`.
    pub fn spawn_with(args: &[&str], envs: &[(&str, String)], level: &str, stderr: Stdio) -> Lsp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("BUILDKIT_LSP_LOG", level)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn buildkit-lsp");
        let stdin = Arc::new(Mutex::new(child.stdin.take().expect("stdin")));
        let stdout = child.stdout.take().expect("stdout");
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        let configuration = Arc::new(Mutex::new(Value::Null));
        let answer_configuration = Arc::new(AtomicBool::new(true));
        let message_action = Arc::new(Mutex::new(Value::Null));
        {
            let message_action = Arc::clone(&message_action);
            let answer = Arc::clone(&answer_configuration);
            let inbox = Arc::clone(&inbox);
            let stdin = Arc::clone(&stdin);
            let configuration = Arc::clone(&configuration);
            thread::spawn(move || {
                let mut r = BufReader::new(stdout);
                while let Some(msg) = read_message(&mut r) {
                    let (lock, cv) = &*inbox;
                    let method = msg
                        .get("method")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    match (method, msg.get("id")) {
                        (Some(m), Some(_))
                            if m == "workspace/configuration" && !answer.load(Ordering::SeqCst) =>
                        {
                            lock.lock()
                                .unwrap()
                                .server_requests
                                .push((m, msg["params"].clone()));
                        }
                        (Some(m), Some(id)) => {
                            let result = if m == "workspace/configuration" {
                                let n = msg["params"]["items"].as_array().map_or(1, Vec::len);
                                Value::Array(vec![configuration.lock().unwrap().clone(); n])
                            } else if m == "window/showMessageRequest" {
                                match message_action.lock().unwrap().clone() {
                                    Value::String(t) => json!({"title": t}),
                                    _ => Value::Null,
                                }
                            } else {
                                Value::Null
                            };
                            let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
                            let _ = stdin
                                .lock()
                                .unwrap()
                                .write_all(&frame(reply.to_string().as_bytes()));
                            lock.lock()
                                .unwrap()
                                .server_requests
                                .push((m, msg["params"].clone()));
                        }
                        (Some(_), None) => lock.lock().unwrap().notifications.push(msg),
                        (None, _) => lock.lock().unwrap().responses.push(msg),
                    }
                    cv.notify_all();
                }
                inbox.0.lock().unwrap().closed = true;
                inbox.1.notify_all();
            });
        }
        Lsp {
            child,
            stdin,
            inbox,
            next_id: 0,
            configuration,
            answer_configuration,
            message_action,
        }
    }

    /// Spawns and initializes with the given client capabilities and options.
    pub fn start(capabilities: Value, init_options: Value) -> (Lsp, Value) {
        let mut lsp = Lsp::spawn(&[]);
        let result = lsp.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": capabilities,
                   "initializationOptions": init_options}),
        );
        lsp.notify("initialized", json!({}));
        (lsp, result)
    }

    /// A client like VS Code: UTF-16, markdown, snippets, progress, configuration.
    pub fn start_default() -> Lsp {
        Lsp::start(
            full_capabilities(),
            json!({"buildkit": {"diagnostics": {"debounceMs": 0}}}),
        )
        .0
    }

    pub fn write_raw(&self, bytes: &[u8]) {
        let mut s = self.stdin.lock().unwrap();
        s.write_all(bytes).expect("write to server");
        s.flush().expect("flush");
    }

    pub fn send(&self, msg: &Value) {
        self.write_raw(&frame(msg.to_string().as_bytes()));
    }

    pub fn notify(&self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id without waiting.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The whole response message (with `result` or `error`) for `id`.
    pub fn response(&self, id: Value) -> Value {
        self.wait(|inbox| inbox.responses.iter().find(|r| r["id"] == id).cloned())
            .unwrap_or_else(|| panic!("no response for id {id}"))
    }

    /// Sends a request and returns its `result`; panics on an error response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        let r = self.response(json!(id));
        assert!(r.get("error").is_none(), "{method} failed: {r}");
        r["result"].clone()
    }

    /// Sends a request and returns its `error` object; panics on success.
    pub fn request_error(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        let r = self.response(json!(id));
        r.get("error")
            .cloned()
            .unwrap_or_else(|| panic!("{method} succeeded: {r}"))
    }

    fn wait<T>(&self, pred: impl FnMut(&Inbox) -> Option<T>) -> Option<T> {
        self.wait_within(TIMEOUT, pred)
    }

    /// Everything the server sent so far (responses, notifications, its
    /// requests' params), as JSON text.
    pub fn transcript(&self) -> String {
        let inbox = self.inbox.0.lock().unwrap();
        let mut out = String::new();
        for m in inbox.responses.iter().chain(&inbox.notifications) {
            out.push_str(&m.to_string());
            out.push('\n');
        }
        for (m, p) in &inbox.server_requests {
            out.push_str(&format!("{m} {p}\n"));
        }
        out
    }

    /// Number of notifications of `method` received so far.
    pub fn count(&self, method: &str) -> usize {
        self.inbox
            .0
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|n| n["method"] == method)
            .count()
    }

    /// Waits for the first notification of `method` after the first `skip` ones
    /// that satisfies `pred`.
    pub fn notification_where(
        &self,
        method: &str,
        skip: usize,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait(|inbox| {
            inbox
                .notifications
                .iter()
                .filter(|n| n["method"] == method)
                .skip(skip)
                .find(|n| pred(&n["params"]))
                .map(|n| n["params"].clone())
        })
        .unwrap_or_else(|| panic!("no {method} notification"))
    }

    /// All notifications of `method` received so far (params).
    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.inbox
            .0
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|n| n["method"] == method)
            .map(|n| n["params"].clone())
            .collect()
    }

    /// Waits for the first request of `method` the server sent (params).
    pub fn wait_server_request(&self, method: &str) -> Value {
        self.wait(|inbox| {
            inbox
                .server_requests
                .iter()
                .find(|(m, _)| m == method)
                .map(|(_, p)| p.clone())
        })
        .unwrap_or_else(|| panic!("no {method} request from the server"))
    }

    pub fn server_requests(&self, method: &str) -> Vec<Value> {
        self.inbox
            .0
            .lock()
            .unwrap()
            .server_requests
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The diagnostics published for `uri` at `version` (waits for them).
    pub fn diagnostics(&self, uri: &str, version: i64) -> Vec<Value> {
        let p = self.notification_where("textDocument/publishDiagnostics", 0, |p| {
            p["uri"] == uri && p["version"] == version
        });
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    pub fn open(&self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "dockerfile", "version": 1, "text": text}}),
        );
    }

    /// Sends `shutdown` + `exit` and returns the exit status code.
    pub fn shutdown(mut self) -> Option<i32> {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r, Value::Null);
        self.notify("exit", Value::Null);
        let end = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("server did not exit after `exit`");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status code, once the process has ended.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client capabilities of a full-featured client (VS Code-like).
pub fn full_capabilities() -> Value {
    json!({
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": true},
        "workspace": {"configuration": true, "codeLens": {"refreshSupport": true},
                      "didChangeConfiguration": {"dynamicRegistration": false},
                      "didChangeWatchedFiles": {"dynamicRegistration": true}},
        "textDocument": {
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "completion": {"completionItem": {"snippetSupport": true, "documentationFormat": ["markdown"]}},
            "documentSymbol": {"hierarchicalDocumentSymbolSupport": true},
            "publishDiagnostics": {"versionSupport": true},
            "diagnostic": {}
        }
    })
}

pub fn pos(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

pub fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Value {
    json!({"start": pos(l1, c1), "end": pos(l2, c2)})
}
