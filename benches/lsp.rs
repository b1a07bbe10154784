//! Language-server benchmark over stdio (run with `cargo bench --bench lsp`):
//! initialize time after spawn, didChange → publishDiagnostics on a
//! 5,000-line Dockerfile with the debounce set to 0 (so the figure is the
//! server's own work plus one pipe round trip), and RSS with 100 documents.
//! Prints one table; not a pass/fail test.

#[path = "../tests/lsp_support/mod.rs"]
mod lsp_support;

use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, Lsp};
use serde_json::json;

/// A multi-stage Dockerfile of about `lines` lines with a few planted check
/// findings per stage.
fn dockerfile(lines: usize) -> String {
    let mut out = String::from(
        "# syntax=docker/dockerfile:1\nARG GO_VERSION=1.22\nARG BASE_IMAGE=alpine:3.20\n",
    );
    let mut stage = 0;
    let mut n = 3;
    while n < lines {
        let from = if stage == 0 {
            "golang:${GO_VERSION}".to_string()
        } else {
            format!("stage{}", stage - 1)
        };
        out.push_str(&format!("FROM {from} AS stage{stage}\n"));
        out.push_str("ARG BASE_IMAGE\nENV APP_HOME=/app PORT=8080\nWORKDIR /app\n");
        out.push_str("MAINTAINER Jane Doe <jane@example.com>\n");
        n += 5;
        for i in 0..90 {
            out.push_str(&format!(
                "RUN --mount=type=cache,target=/root/.cache echo step{stage}_{i} $APP_HOME && \\\n    true\n"
            ));
            n += 2;
            if n >= lines {
                break;
            }
        }
        out.push_str(&format!(
            "COPY --from=stage{stage} /app /app\nCMD ['run', '{stage}']\n"
        ));
        n += 2;
        stage += 1;
    }
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // Initialize, from spawn to the response, 10 times.
    let mut init = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        let mut lsp = Lsp::spawn(&["serve", "--debounce-ms", "0"]);
        lsp.request("initialize", json!({"capabilities": full_capabilities()}));
        init.push(t0.elapsed().as_secs_f64() * 1000.0);
    }

    let text = dockerfile(5000);
    let lines: Vec<&str> = text.lines().collect();
    let (mut lsp, _) = Lsp::start(
        full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 0}}}),
    );
    let uri = "file:///bench/Dockerfile";
    let t0 = Instant::now();
    lsp.open(uri, &text);
    let open_diags = lsp.diagnostics(uri, 1).len();
    let open_ms = t0.elapsed().as_secs_f64() * 1000.0;

    // Edit one line in the middle, 50 times.
    let mid = lines
        .iter()
        .enumerate()
        .skip(lines.len() / 2)
        .find(|(_, l)| l.starts_with("RUN "))
        .map_or(0, |(i, _)| i) as u32;
    let mut change = Vec::new();
    for v in 2..52 {
        let old_len = if v == 2 {
            lines[mid as usize].len()
        } else {
            format!("RUN echo edit{}", v - 1).len()
        };
        let t0 = Instant::now();
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": v},
                   "contentChanges": [{"range": {"start": {"line": mid, "character": 0}, "end": {"line": mid, "character": old_len}},
                                       "text": format!("RUN echo edit{v}")}]}),
        );
        lsp.diagnostics(uri, v);
        change.push(t0.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(5));
    }

    // Requests on the big document.
    let mut timed = |method: &str, params: serde_json::Value| {
        let mut xs = Vec::new();
        for _ in 0..20 {
            let t0 = Instant::now();
            lsp.request(method, params.clone());
            xs.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        median(xs)
    };
    let doc = json!({"uri": uri});
    let hover = timed(
        "textDocument/hover",
        json!({"textDocument": doc, "position": {"line": mid, "character": 1}}),
    );
    let symbols = timed("textDocument/documentSymbol", json!({"textDocument": doc}));
    let tokens = timed(
        "textDocument/semanticTokens/full",
        json!({"textDocument": doc}),
    );

    let pid = lsp.pid();
    let rss_one = rss_kb(pid);
    for i in 0..100 {
        lsp.open(&format!("file:///bench/{i}/Dockerfile"), &text);
    }
    lsp.diagnostics("file:///bench/99/Dockerfile", 1);
    let rss_hundred = rss_kb(pid);

    println!(
        "buildkit-lsp over stdio ({} lines, {open_diags} diagnostics)",
        lines.len()
    );
    println!(
        "  initialize after spawn, median of 10   {:8.2} ms",
        median(init)
    );
    println!("  didOpen -> publishDiagnostics          {open_ms:8.2} ms");
    println!(
        "  didChange -> publishDiagnostics median {:8.2} ms (debounce 0)",
        median(change)
    );
    println!(
        "  hover / documentSymbol / semanticTokens {hover:.2} / {symbols:.2} / {tokens:.2} ms"
    );
    println!(
        "  RSS with 1 document                    {:8.1} MB",
        rss_one as f64 / 1024.0
    );
    println!(
        "  RSS with 101 documents                 {:8.1} MB",
        rss_hundred as f64 / 1024.0
    );
}
