//! Round trips of the editing requests over stdio on a 5,000-line
//! Dockerfile (run with `cargo bench --bench lsp_requests`): signature help
//! (flags, arguments, exec form, ONBUILD), document links and one resolve,
//! range formatting, and documentSymbol both right after an edit (cold) and
//! repeated (kept per document version). Medians of 50 requests, measured
//! from the request's first byte written to the response's last byte read.
//! Prints one table; not a pass/fail test.

#[path = "../tests/lsp_support/mod.rs"]
mod lsp_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use lsp_support::{full_capabilities, Lsp};
use serde_json::{json, Value};

/// A multi-stage Dockerfile of `lines` lines: FROM images of every kind a
/// link is made for, flags, exec forms, heredocs and ONBUILD triggers.
fn dockerfile(lines: usize) -> String {
    let images = [
        "golang:1.22",
        "grafana/grafana:11.0.0",
        "ghcr.io/owner/tool:1",
        "quay.io/prometheus/node-exporter",
        "mcr.microsoft.com/dotnet/sdk:8.0",
        "${BASE_IMAGE}",
    ];
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE_IMAGE=alpine:3.20\n");
    let mut n = 2;
    let mut stage = 0;
    while n < lines {
        out.push_str(&format!(
            "FROM --platform=$BUILDPLATFORM {} AS stage{stage}\n",
            images[stage % images.len()]
        ));
        n += 1;
        for i in 0..40 {
            out.push_str(&format!(
                "COPY --chown=app:app --chmod=644 src/{i} /app/{i}/\nRUN --mount=type=cache,target=/root/.cache \\\n    make -j4 target{i}\nCMD [\"/app/bin\", \"--serve\", \"{i}\"]\nONBUILD COPY --chown=app . /src\nRUN <<EOF\necho {i}\nEOF\n"
            ));
            n += 8;
            if n >= lines {
                break;
            }
        }
        stage += 1;
    }
    out
}

/// documentSymbol round trips over a bare pipe: (median after an edit,
/// median repeated, response bytes).
fn raw_symbols(text: &str, edit_line: u32) -> (f64, f64, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn buildkit-lsp");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut send = |msg: Value| {
        let body = msg.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    };
    // Reads frames until the response to `id`; returns its body's length.
    let mut read_until = |id: i64| -> usize {
        loop {
            let mut len = 0;
            loop {
                let mut line = String::new();
                out.read_line(&mut line).unwrap();
                let line = line.trim();
                if line.is_empty() && len > 0 {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            out.read_exact(&mut body).unwrap();
            // A response to `id`, not a request from the server (those carry
            // a method; none of them needs an answer here).
            // The id comes first (the shortcut) or last (the library).
            let head = String::from_utf8_lossy(&body[..len.min(64)]).to_string();
            let tail = String::from_utf8_lossy(&body[len.saturating_sub(64)..]).to_string();
            let ours = head.contains(&format!("\"id\":{id},"))
                || tail.ends_with(&format!("\"id\":{id}}}"));
            if ours && !head.contains("\"method\"") && !tail.contains("\"method\"") {
                return len;
            }
        }
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"capabilities": full_capabilities()}}));
    read_until(1);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    let uri = "file:///bench/raw/Dockerfile";
    send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "dockerfile", "version": 1, "text": text}}}));
    let mut next_id = 10;
    let mut symbols = |send: &mut dyn FnMut(Value), read_until: &mut dyn FnMut(i64) -> usize| {
        next_id += 1;
        let t0 = Instant::now();
        send(
            json!({"jsonrpc": "2.0", "id": next_id, "method": "textDocument/documentSymbol",
                    "params": {"textDocument": {"uri": uri}}}),
        );
        let n = read_until(next_id);
        (t0.elapsed().as_secs_f64() * 1000.0, n)
    };
    let mut warm = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let (ms, n) = symbols(&mut send, &mut read_until);
        warm.push(ms);
        size = n;
    }
    let mut cold = Vec::new();
    for v in 2..52 {
        send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                    "params": {"textDocument": {"uri": uri, "version": v},
                               "contentChanges": [{"range": {"start": {"line": edit_line, "character": 0},
                                                             "end": {"line": edit_line, "character": 4}},
                                                   "text": "COPY"}]}}));
        // Let the edit and its diagnostics pass, as between keystrokes.
        std::thread::sleep(std::time::Duration::from_millis(80));
        cold.push(symbols(&mut send, &mut read_until).0);
    }
    let _ = child.kill();
    let _ = child.wait();
    (median(cold), median(warm), size)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let text = dockerfile(5000);
    let lines: Vec<&str> = text.lines().collect();
    let (mut lsp, _) = Lsp::start(
        full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 0}}}),
    );
    let uri = "file:///bench/Dockerfile";
    lsp.open(uri, &text);
    lsp.diagnostics(uri, 1);
    let doc = json!({"uri": uri});

    // Lines in the middle of the file.
    let find = |prefix: &str| {
        lines
            .iter()
            .enumerate()
            .skip(lines.len() / 2)
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(i, _)| i as u32)
            .expect("line present")
    };
    let copy = find("COPY ");
    let cmd = find("CMD ");
    let onbuild = find("ONBUILD ");
    let from = find("FROM ");

    let timed = |lsp: &mut Lsp, method: &str, params: Value| {
        let mut xs = Vec::new();
        for _ in 0..50 {
            let t0 = Instant::now();
            lsp.request(method, params.clone());
            xs.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        median(xs)
    };
    let at = |line: u32, character: u32| json!({"textDocument": doc, "position": {"line": line, "character": character}});
    let sig_flag = timed(&mut lsp, "textDocument/signatureHelp", at(copy, 10));
    let sig_arg = timed(&mut lsp, "textDocument/signatureHelp", at(copy, 40));
    let sig_exec = timed(&mut lsp, "textDocument/signatureHelp", at(cmd, 20));
    let sig_onbuild = timed(&mut lsp, "textDocument/signatureHelp", at(onbuild, 16));
    let sig_from = timed(&mut lsp, "textDocument/signatureHelp", at(from, 35));
    let links = timed(
        &mut lsp,
        "textDocument/documentLink",
        json!({"textDocument": doc}),
    );
    let one_link =
        lsp.request("textDocument/documentLink", json!({"textDocument": doc}))[0].clone();
    let n_links = lsp
        .request("textDocument/documentLink", json!({"textDocument": doc}))
        .as_array()
        .map_or(0, Vec::len);
    let resolve = timed(&mut lsp, "documentLink/resolve", one_link);
    let range_fmt = timed(
        &mut lsp,
        "textDocument/rangeFormatting",
        json!({"textDocument": doc, "range": {"start": {"line": copy, "character": 0}, "end": {"line": copy + 20, "character": 0}},
               "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    drop(lsp);
    // documentSymbol's response is large (every instruction, ~700 kB): the
    // test client above parses and clones every message, which would be
    // measured too. A raw client instead, timed like the shared harness: up
    // to the last byte of the response, before any parsing.
    let (symbols_cold, symbols_warm, size) = raw_symbols(&text, copy);

    println!(
        "buildkit-lsp editing requests over stdio ({} lines), median of 50 round trips",
        lines.len()
    );
    println!("  signatureHelp on a flag / source / exec-form string / in ONBUILD / FROM name");
    println!("                                  {sig_flag:.3} / {sig_arg:.3} / {sig_exec:.3} / {sig_onbuild:.3} / {sig_from:.3} ms");
    println!("  documentLink ({n_links} links)          {links:.3} ms");
    println!("  documentLink/resolve            {resolve:.3} ms");
    println!("  rangeFormatting (20 lines)      {range_fmt:.3} ms");
    println!(
        "  documentSymbol after an edit / repeated  {symbols_cold:.3} / {symbols_warm:.3} ms ({} kB response)",
        size / 1000
    );
}
